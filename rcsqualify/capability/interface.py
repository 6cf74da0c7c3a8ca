"""Capability providers: is a target-operator mobile RCS-reachable (CONTRACT §5)?

Shaped like pip-audit's services: a provider answers a whole batch (``check_all``),
because pacing, batching and concurrency belong inside the provider, not in the CLI.
A number the provider could not resolve is data (``RCS_ERROR``), never an exception;
only a configuration problem (bad credentials, unknown agent) stops the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rcsqualify.remote.cache import LookupCache
from rcsqualify.verdict import RCS_NO, RCS_YES


@dataclass
class ProviderStats:
    """Counts for the report's ``api`` block."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    throttled: int = 0  # HTTP 429 answers
    errors: int = 0  # numbers left unresolved after retries
    error_kinds: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"requests": self.requests, "cache_hits": self.cache_hits,
                "retries": self.retries, "throttled": self.throttled, "errors": self.errors,
                "error_kinds": dict(self.error_kinds)}


Progress = Callable[[int], None]


class CapabilityProvider(ABC):
    """One capability API."""

    name: str = ""

    def __init__(self) -> None:
        self.stats = ProviderStats()
        #: why some checks could not be done (e.g. the bulk window is closed): reported
        self.notes: list[str] = []
        #: (reachable, total) of a provider's own random sample (batchGet), if it has one
        self.sample_reach: tuple[int, int] | None = None

    def answers_from_cache(self, cache: LookupCache, namespace: str, e164: list[str],
                           out: np.ndarray) -> list[int]:
        """Fill ``out`` with fresh cached answers; the indices still to ask."""
        todo = []
        for i, cached in enumerate(cache.get_many("cap", namespace, e164)):
            if cached == "yes" or cached == "no":
                out[i] = RCS_YES if cached == "yes" else RCS_NO
                self.stats.cache_hits += 1
            else:
                todo.append(i)
        return todo

    @abstractmethod
    def check_all(self, e164: list[str], progress: Progress | None = None) -> np.ndarray:
        """RCS code (verdict.RCS_*) per number, in order. Never raises per number."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
