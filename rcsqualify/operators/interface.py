"""Operator sources: who serves a number today (CONTRACT §4).

A source answers for a batch of numbers at once (``lookup``), keyed by the integer
E.164 digits the normalizer produces; an unanswered number is data (""), not an
exception. The pipeline asks the sources in order and the first answer wins; the range
holder from the numbering plan answers last, for every valid number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import numpy as np

from rcsqualify.remote.stats import ProviderStats


@dataclass
class SourceStats:
    """What a source did, for the report."""

    asked: int = 0
    answered: int = 0
    unmapped: int = 0  # answers naming no known operator
    unmapped_examples: list[str] = field(default_factory=list)
    conflicts: int = 0
    errors: int = 0  # look-ups that failed after retries
    extra: dict[str, object] = field(default_factory=dict)


class OperatorSource(ABC):
    """One way of learning the serving operator of numbers."""

    #: the ``operator_source`` label written for numbers this source answered
    label: str = ""

    def __init__(self) -> None:
        self.stats = SourceStats()
        #: HTTP counts for the report's api block, for sources that call an API
        self.api: ProviderStats | None = None

    @abstractmethod
    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """ARCEP operator code per key (object array), "" where this source has no answer.

        ``keys`` are distinct int64 E.164 digits of valid mobile numbers.
        """

    #: a source that asks a service per number can answer numbers as they come, so
    #: that their capability checks leave at once (issue #14); it then offers these two
    streams: bool = False

    def session(self) -> AbstractAsyncContextManager[object]:
        """The open connection ``resolve`` runs in (streaming sources)."""
        raise NotImplementedError

    def cached(self, e164: Sequence[str]) -> list[str | None]:
        """Fresh cached answers without asking: a code, "" (unknown: the range holder)
        or None (not cached). What ``--sample auto`` counts as exact. Streaming sources."""
        raise NotImplementedError

    async def resolve(self, e164: str) -> str:
        """One number's operator: a code, "" (unknown: the range holder answers) or
        ``verdict.OPERATOR_ERROR`` (the look-up failed). Streaming sources."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files or connections."""
