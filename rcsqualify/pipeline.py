"""The one-way flow: read → normalize → attribute operator → check capability → summarize.

Pass 1 reads only the phone column, batch by batch, and keeps a few bytes per row
(codes and the integer E.164 key). Everything after that works on *distinct* numbers:
a number is attributed and checked once, whatever the number of rows that carry it,
and every row of one number gets the same verdict (CONTRACT §2, Counting). Writing the
annotated output is pass 2 (``report.writers``), which re-reads the file and joins
these arrays back on, so memory never holds the whole file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from rcsqualify.contacts import ContactSource
from rcsqualify.numbering.buffers import int_array
from rcsqualify.numbering.normalize import Normalized, format_e164, normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource, SourceStats
from rcsqualify.verdict import (
    KIND,
    OPERATOR_ERROR,
    RCS_NO,
    RCS_NO_FEATURE,
    RCS_NOT_LISTED,
    RCS_NOT_SAMPLED,
    RCS_UNKNOWN,
    RCS_YES,
    REASONS,
    REPAIRS,
    SOURCE,
    classify,
)

if TYPE_CHECKING:  # the HTTP stack (httpx, tenacity, diskcache) only for remote checks
    from rcsqualify.capability.interface import CapabilityProvider


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
    range_operator: np.ndarray  # object: the plan's range holder
    first_row: np.ndarray  # int64: the first input row carrying the number


@dataclass
class RowResult:
    """Per input row, in file order."""

    reason: np.ndarray  # uint8 final reason
    repaired: np.ndarray  # uint8
    key: np.ndarray  # int64 (0 when invalid)
    block: np.ndarray  # int32 (-1 when invalid)
    distinct_index: np.ndarray  # int64 index into Distinct arrays, -1 when invalid


@dataclass
class CheckResult:
    rows: RowResult
    distinct: Distinct
    target_operator: str
    capability: str
    sampled: bool = False
    estimate: dict[str, object] | None = None
    examples: dict[str, list[str]] = field(default_factory=dict)  # raw cells: mask them
    timings: dict[str, float] = field(default_factory=dict)
    source_stats: dict[str, SourceStats] = field(default_factory=dict)
    provider_stats: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: why the cache stopped working mid-run (CONTRACT §10: exit 3 at best)
    storage_degraded: str | None = None


Progress = Callable[[str, int, int | None], None]


EXAMPLES_PER_REASON = 3


def _collect_examples(column: object, norm: Normalized, examples: dict[str, list[str]]
                      ) -> None:
    """A few raw cells per invalid reason and per repair, for the people's report."""
    import pyarrow as pa

    assert isinstance(column, pa.Array | pa.ChunkedArray)
    for codes, vocab in ((norm.reason, REASONS), (norm.repaired, REPAIRS)):
        present = np.flatnonzero(np.bincount(codes, minlength=len(vocab)))
        for code in present[present != 0]:
            name = vocab[int(code)]
            have = examples.setdefault(name, [])
            if len(have) < EXAMPLES_PER_REASON:
                idx = np.flatnonzero(codes == code)[: EXAMPLES_PER_REASON - len(have)]
                have.extend("" if v is None else str(v)
                            for v in column.take(int_array(idx)).to_pylist())


def read_and_normalize(source: ContactSource, plan: NumberingPlan,
                       progress: Progress | None = None,
                       examples: dict[str, list[str]] | None = None) -> Normalized:
    """Pass 1: the phone column of every batch, normalized, concatenated."""
    parts: list[Normalized] = []
    done = 0
    for column in source.phone_batches():
        parts.append(normalize_numbers(column, plan))
        if examples is not None:
            _collect_examples(column, parts[-1], examples)
        done += len(column)
        if progress:
            estimate = source.estimated_rows
            progress("read", done, max(estimate, done) if estimate else None)
    source.info.rows = done
    if not parts:
        empty = np.zeros(0, dtype=np.uint8)
        return Normalized(reason=empty, repaired=empty, key=np.zeros(0, np.int64),
                          block=np.zeros(0, np.int32), kind=empty)
    return Normalized(
        reason=np.concatenate([p.reason for p in parts]),
        repaired=np.concatenate([p.repaired for p in parts]),
        key=np.concatenate([p.key for p in parts]),
        block=np.concatenate([p.block for p in parts]),
        kind=np.concatenate([p.kind for p in parts]),
    )


def attribute_operators(distinct: Distinct, sources: Sequence[OperatorSource]) -> None:
    """First answer wins, in the order of ``sources``; the range holder answers last."""
    mobile = distinct.kind == KIND["mobile"]
    pending = mobile.copy()
    for src in sources:
        if not pending.any():
            break
        idx = np.flatnonzero(pending)
        answers = src.lookup(distinct.key[idx])
        hit = answers != ""
        distinct.operator[idx[hit]] = answers[hit]
        distinct.source[idx[hit]] = SOURCE[src.label]
        pending[idx[hit]] = False
    distinct.operator[pending] = distinct.range_operator[pending]
    distinct.source[pending] = SOURCE["range"]


def run_check(
    source: ContactSource,
    plan: NumberingPlan,
    *,
    target_operator: str = "FRTE",
    operator_sources: Sequence[OperatorSource] = (),
    provider: CapabilityProvider | None = None,
    sample: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> CheckResult:
    """Classify every row of ``source``.

    With ``sample``, only a seeded random sample of the target-operator mobiles is sent
    to the provider; the others are ``not_sampled`` and the result carries the sample's
    counts, from which the summary extrapolates an interval (CONTRACT §2 Ratio).
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    examples: dict[str, list[str]] = {}
    norm = read_and_normalize(source, plan, progress, examples)
    timings["read_normalize_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    valid = norm.key != 0
    keys, first, inverse = np.unique(norm.key[valid], return_index=True, return_inverse=True)
    valid_rows = np.flatnonzero(valid)
    block = norm.block[valid_rows[first]]  # np.unique's first index: the first occurrence
    kind = norm.kind[valid_rows[first]]
    n = len(keys)
    range_operator = plan.block_operator[block] if n else np.zeros(0, object)
    distinct = Distinct(
        key=keys, block=block, kind=kind,
        operator=np.full(n, "", dtype=object), source=np.zeros(n, np.uint8),
        rcs=np.full(n, RCS_UNKNOWN, np.uint8), reason=np.zeros(n, np.uint8),
        range_operator=range_operator, first_row=valid_rows[first],
    )
    attribute_operators(distinct, operator_sources)
    timings["attribute_s"] = time.perf_counter() - t1

    is_target = distinct.operator == target_operator
    result = CheckResult(rows=RowResult(reason=norm.reason, repaired=norm.repaired,
                                        key=norm.key, block=norm.block,
                                        distinct_index=np.full(len(norm.key), -1, np.int64)),
                         distinct=distinct, target_operator=target_operator,
                         capability=provider.name if provider else "none")
    if provider is not None:
        t2 = time.perf_counter()
        need = np.flatnonzero(is_target & (kind == KIND["mobile"]))
        if sample is not None and sample < len(need):
            rng = np.random.default_rng(seed)
            chosen = np.sort(rng.choice(need, size=sample, replace=False))
            distinct.rcs[np.setdiff1d(need, chosen)] = RCS_NOT_SAMPLED
            result.sampled = True
            need = chosen
        e164 = format_e164(keys[need]).to_pylist()

        def tick(k: int) -> None:
            if progress:
                progress("capability", k, len(need))

        distinct.rcs[need] = provider.check_all(e164, tick)
        result.provider_stats[provider.name] = provider.stats.as_dict()
        result.notes.extend(provider.notes)
        answers = distinct.rcs[need]
        negative = (answers == RCS_NO) | (answers == RCS_NO_FEATURE)
        if result.sampled:
            result.estimate = {
                "method": "sample", "seed": seed, "sampled": len(need),
                "failures": int(np.count_nonzero(negative)),
                "trials": int(np.count_nonzero(negative | (answers == RCS_YES))),
                "extrapolated": int(np.count_nonzero(distinct.rcs == RCS_NOT_SAMPLED)),
            }
        reach = provider.sample_reach
        unlisted = int(np.count_nonzero(answers == RCS_NOT_LISTED))
        if reach is not None and unlisted and reach[1] > 0 and not result.sampled:
            reachable, total = reach
            result.estimate = {"method": "batchGet random sample", "sampled": int(total),
                               "failures": int(total - reachable), "trials": int(total),
                               "extrapolated": unlisted}
        timings["capability_s"] = time.perf_counter() - t2

    op_error = distinct.operator == OPERATOR_ERROR
    distinct.operator[op_error] = ""
    distinct.reason = classify(reason=np.zeros(n, np.uint8), kind=kind, is_target=is_target,
                               source=distinct.source, rcs=distinct.rcs,
                               operator_error=op_error)
    result.rows.distinct_index[valid_rows] = inverse
    result.rows.reason[valid_rows] = distinct.reason[inverse]
    for src in operator_sources:
        result.source_stats[src.label] = src.stats
        if src.api is not None:
            result.provider_stats[src.label] = src.api.as_dict()
    result.timings = timings
    result.examples = examples
    return result
