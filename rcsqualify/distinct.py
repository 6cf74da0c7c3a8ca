"""What a run learns per distinct number, and how operator answers are written into it.

Below both the pipeline (``pipeline.py``: read, normalize, the run) and its stages
(``stages.py``, ``sample_auto.py``: attribute and check, streamed or sampled), so that
neither imports the other's caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rcsqualify.operators.interface import OperatorSource
from rcsqualify.verdict import SOURCE

#: the progress callback every stage reports to: (stage, done, total or None)
Progress = Callable[[str, int, int | None], None]


@dataclass
class Distinct:
    """Per distinct valid number: what was learned about it."""

    key: np.ndarray  # int64 E.164 digits, sorted
    block: np.ndarray  # int32
    kind: np.ndarray  # uint8
    operator: np.ndarray  # object: ARCEP code ("" for non-mobiles)
    source: np.ndarray  # uint8 SOURCES code
    rcs: np.ndarray  # uint8 RCS_* code
    reason: np.ndarray  # uint8 final reason
    first_row: np.ndarray  # int64: the first input row carrying the number
    #: the plan's range holder of each block (``NumberingPlan.block_operator``)
    block_operator: np.ndarray = field(default_factory=lambda: np.zeros(0, object))


def apply_sources(distinct: Distinct, sources: Sequence[OperatorSource],
                  pending: np.ndarray) -> np.ndarray:
    """Ask ``sources`` in order about the ``pending`` numbers (first answer wins);
    returns what is still pending."""
    for src in sources:
        if not pending.any():
            break
        idx = np.flatnonzero(pending)
        answers = src.lookup(distinct.key[idx])
        hit = answers != ""
        distinct.operator[idx[hit]] = answers[hit]
        distinct.source[idx[hit]] = SOURCE[src.label]
        pending[idx[hit]] = False
    return pending


def settle_operator(d: Distinct, i: int, code: str, label: str) -> None:
    """Number ``i``'s operator from a per-number source's answer: the code, or "" (the
    service does not know the number) for the range holder."""
    if code == "":
        d.operator[i] = d.block_operator[d.block[i]]
        d.source[i] = SOURCE["range"]
    else:
        d.operator[i] = code
        d.source[i] = SOURCE[label]
