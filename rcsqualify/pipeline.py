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
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from rcsqualify.contacts import ContactSource
from rcsqualify.contacts.choice import ContactResult
from rcsqualify.defaults import CONFIDENCE, OPERATOR
from rcsqualify.distinct import Distinct, Progress, apply_sources
from rcsqualify.notes import note
from rcsqualify.numbering.buffers import int_array
from rcsqualify.numbering.normalize import Normalized, normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource, SourceStats
from rcsqualify.verdict import (
    KIND,
    OPERATOR_ERROR,
    OPERATOR_UNASSIGNED,
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
    from rcsqualify.sample_auto import AutoSample


@dataclass
class RowResult:
    """Per input row, in file order."""

    reason: np.ndarray  # uint8 final reason
    repaired: np.ndarray  # uint8
    key: np.ndarray  # int64 (0 when invalid)
    block: np.ndarray  # int32 (-1 when invalid)
    distinct_index: np.ndarray  # int32 index into Distinct arrays, -1 when invalid


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
    #: the second route (``--other-route``): its name, and its RCS code per distinct
    #: number (RCS_UNKNOWN where not asked: target-operator and non-mobile numbers)
    other_route: str | None = None
    other_rcs: np.ndarray | None = None
    #: rows grouped into contacts (issue #25, ``contact_check.py``): ``rows`` then hold
    #: each row's contact's chosen number and ``distinct`` the chosen numbers only
    contacts: ContactResult | None = None


T = TypeVar("T")


EXAMPLES_PER_REASON = 3


def _collect_examples(column: object, norm: Normalized, examples: dict[str, list[str]]
                      ) -> None:
    """A few raw cells per invalid reason and per repair, for the people's report."""
    import pyarrow as pa

    assert isinstance(column, pa.Array | pa.ChunkedArray)
    for codes, vocab in ((norm.reason, REASONS), (norm.repaired, REPAIRS)):
        # most cells are valid and unrepaired (code 0): count only the others' codes,
        # not a cast of every cell to a count index
        present = np.flatnonzero(np.bincount(codes[np.flatnonzero(codes)],
                                             minlength=len(vocab)))
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
    """Pass 1: the phone column of every batch, normalized, into arrays sized from the
    source's row estimate (grown if it was short): 15 bytes a row, never a second copy
    of them, as concatenating per-batch parts would make at the end. Batches are read
    and normalized on worker threads (``_normalized``), so both cores work."""
    rows = _Rows(int((source.estimated_rows or 0) * 1.05) + 1024)
    for column, norm in _normalized(source.phone_batches(), plan):
        if examples is not None:
            _collect_examples(column, norm, examples)
        rows.append(norm)
        if progress:
            estimate = source.estimated_rows
            progress("read", rows.size, max(estimate, rows.size) if estimate else None)
    _drop_footer(source, rows)
    source.info.rows = rows.size
    # Arrow read ahead (up to 32 blocks): what its pool kept of them goes back to the
    # system now, not whenever it next allocates (its pages would count all run long)
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    return rows.result()


#: Phone-cell reasons a total line reads as (a label, nothing, or a count)
FOOTER_REASONS = tuple(REASONS.index(r) for r in ("empty", "not_a_number", "too_short"))


def _drop_footer(source: ContactSource, rows: _Rows) -> None:
    """Leave the total/footer rows at the end out of the rows (``contacts/footer.py``)."""
    from rcsqualify.contacts.footer import MAX_FOOTER_ROWS

    reasons = rows.arrays["reason"][max(0, rows.size - MAX_FOOTER_ROWS):rows.size]
    footer = count_footer(source, [r in FOOTER_REASONS for r in reasons.tolist()])
    rows.size -= footer
    source.info.footer_rows = footer


def count_footer(source: ContactSource, no_number: list[bool]) -> int:
    """How many of the last rows are total/footer rows (``contacts/footer.py``), given
    for each of the last rows whether its phone cell(s) hold no number. The file is read
    once more for their other cells, only when its last row holds no number (a contact
    file grouped into contacts asks the same of every phone cell of a row)."""
    from rcsqualify.contacts.footer import footer_rows

    candidates = 0
    for candidate in reversed(no_number):
        if not candidate:
            break
        candidates += 1
    return footer_rows(source.tail_rows(candidates)) if candidates else 0


_FIELDS = ("reason", "repaired", "key", "block", "kind")


class _Rows:
    """Per-row arrays with spare capacity, filled batch by batch."""

    def __init__(self, capacity: int) -> None:
        self.size = 0
        self.arrays: dict[str, np.ndarray] = {"reason": np.zeros(capacity, np.uint8),
                       "repaired": np.zeros(capacity, np.uint8),
                       "key": np.zeros(capacity, np.int64),
                       "block": np.zeros(capacity, np.int32),
                       "kind": np.zeros(capacity, np.uint8)}

    def append(self, norm: Normalized) -> None:
        end = self.size + len(norm)
        capacity = len(self.arrays["key"])
        if end > capacity:  # the estimate was short: grow by half, once in a while
            grown = max(end, capacity + capacity // 2)
            for name, arr in self.arrays.items():
                bigger = np.zeros(grown, arr.dtype)
                bigger[:self.size] = arr[:self.size]
                self.arrays[name] = bigger
        for name in _FIELDS:
            self.arrays[name][self.size:end] = getattr(norm, name)
        self.size = end

    def result(self) -> Normalized:
        capacity = len(self.arrays["key"])
        if capacity > self.size + self.size // 8 + 1024:  # a long estimate: give it back
            trimmed = {k: v[:self.size].copy() for k, v in self.arrays.items()}
        else:
            trimmed = {k: v[:self.size] for k, v in self.arrays.items()}
        return Normalized(**trimmed)


_NORMALIZERS = 2  # batches normalized at once


def _normalized(columns: Iterator[T], plan: NumberingPlan) -> Iterator[tuple[T, Normalized]]:
    """Each column with its normalization, in order. Columns are read on one worker
    thread (``_prefetched``) and normalized on ``_NORMALIZERS`` others: Arrow parses and
    numpy and Arrow compute without holding the GIL, so reading and normalizing keep
    both cores busy. At most ``_NORMALIZERS`` batches wait here, one more being read."""
    with ThreadPoolExecutor(max_workers=_NORMALIZERS,
                            thread_name_prefix="rcsqualify-normalize") as pool:
        pending: deque[tuple[T, Future[Normalized]]] = deque()
        for column in _prefetched(columns):
            pending.append((column, pool.submit(normalize_numbers, column, plan)))
            if len(pending) >= _NORMALIZERS:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


#: the column-by-column normalization on worker threads, for other readers of columns
normalized_columns = _normalized
#: a few raw cells per invalid reason and repair, for other readers of columns
collect_examples = _collect_examples


def _prefetched(batches: Iterator[T]) -> Iterator[T]:
    """``batches``, the next one fetched on a worker thread while the caller works on
    the current one. An error of the reader surfaces here, in the caller's thread; an
    interrupted caller leaves at most one batch being read, discarded."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rcsqualify-read") as pool:
        pending = pool.submit(next, batches, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, batches, None)
            yield item


def distinct_numbers(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct non-zero keys (sorted), the first row carrying each, and each
    row's index into them (int32, -1 for a row without a valid number).

    Memory decides the method at national scale (30M rows): ``np.unique`` with index
    and inverse holds the keys' copy, its argsort, the sorted copy, the inverse and the
    valid rows' positions at once (~40 bytes a row on top of the rows). Here the sort
    (``_KeyOrder``, 8 bytes a row) is the only row-sized temporary besides the 4-byte
    result; the sorted keys are read a slice at a time, and the first row of a number
    is the smallest position of its run in the sort.
    """
    n = len(key)
    sort = _KeyOrder(key)
    starts_at = np.zeros(sort.count, dtype=bool)  # a new number starts at this position
    previous = None
    for lo in range(0, sort.count, _SLICE):
        sorted_keys = sort.keys(lo, lo + _SLICE)
        head = sorted_keys[0] != previous if previous is not None else True
        starts_at[lo] = head
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts_at[lo + 1:lo + _SLICE])
        previous = sorted_keys[-1]
    starts = np.flatnonzero(starts_at)
    keys = sort.keys_at(starts)
    ties_by_row = sort.packed  # a number's rows in order: its first row heads its run
    order = sort.rows()
    if ties_by_row:
        first_row = order[starts]
    else:
        first_row = (np.minimum.reduceat(order, starts) if len(starts)
                     else np.zeros(0, np.int64))
    distinct_index = np.full(n, -1, dtype=np.int32)
    seen = -1  # index of the last number started before this slice
    for lo in range(0, len(order), _SLICE):
        ids = np.cumsum(starts_at[lo:lo + _SLICE], dtype=np.int32)
        ids += seen
        distinct_index[order[lo:lo + _SLICE]] = ids
        seen = int(ids[-1])
    return keys, first_row, distinct_index


_SLICE = 1 << 22  # rows per slice of the sorted order: 32 MB of int64 temporaries


class _KeyOrder:
    """The rows with a valid (non-zero) key, sorted by key: ``keys(lo, hi)`` reads the
    sorted keys of positions ``lo:hi``, then ``rows()`` gives the rows (int64).

    When every key less the smallest fits beside a row number in 64 bits (a base of
    French numbers: its keys span 3.4e11, 39 bits, beside 25 bits of row for 30M rows),
    each key is packed with its row and the packed values are sorted in place: a plain
    sort, cheaper than an argsort, whose result holds the keys in order and, masked, the
    rows, where an argsort's needs a gather of the keys. Otherwise ``np.argsort``.
    """

    def __init__(self, key: np.ndarray) -> None:
        n = len(key)
        valid = key != 0
        self.count = int(np.count_nonzero(valid))
        self.key = key
        self.bits = np.uint64(max(1, n.bit_length()))
        self.low = int(key.min(where=valid, initial=np.iinfo(np.int64).max))
        high = int(key.max(where=valid, initial=0))
        del valid
        if self.count and self.low > 0 and high - self.low < (1 << (64 - n.bit_length())) - 2:
            self.order = self._packed_sort()
            self.packed = True
        else:
            order = np.argsort(key)
            self.order = order[n - self.count:]  # key 0 (invalid) sorts first
            self.packed = False

    def _packed_sort(self) -> np.ndarray:
        key = self.key
        packed = np.empty(len(key), dtype=np.uint64)
        for lo in range(0, len(key), _SLICE):
            part, here = packed[lo:lo + _SLICE], key[lo:lo + _SLICE]
            np.subtract(here, self.low, out=part, casting="unsafe")
            part <<= self.bits
            part |= np.arange(lo, lo + len(part), dtype=np.uint64)
            part[here == 0] = np.uint64(2**64 - 1)  # sorts last, then cut off
        packed.sort()
        return packed[:self.count]

    def keys(self, lo: int, hi: int) -> np.ndarray:
        return self._keys(self.order[lo:hi])

    def keys_at(self, positions: np.ndarray) -> np.ndarray:
        if not self.packed:
            return self.key[self.order[positions]]
        keys = self.order[positions]  # a copy, shifted in place
        keys >>= self.bits
        keys = keys.view(np.int64)
        keys += self.low
        return keys

    def _keys(self, held: np.ndarray) -> np.ndarray:
        if not self.packed:
            return self.key[held]
        keys = (held >> self.bits).view(np.int64)
        keys += self.low
        return keys

    def rows(self) -> np.ndarray:
        if self.packed:  # the row numbers, in place: the keys are no longer readable
            self.order &= (np.uint64(1) << self.bits) - np.uint64(1)
            self.order = self.order.view(np.int64)
            self.packed = False
        return self.order


def _spread(per_number: np.ndarray, distinct_index: np.ndarray, out: np.ndarray) -> None:
    """``out[row] = per_number[distinct_index[row]]`` for rows with a number, a slice
    at a time (no row-sized temporary)."""
    for lo in range(0, len(distinct_index), _SLICE):
        index = distinct_index[lo:lo + _SLICE]
        rows = np.flatnonzero(index >= 0)
        out[lo + rows] = per_number[index[rows]]


def fixed_sample(need: np.ndarray, sample: int, seed: int) -> np.ndarray:
    """``--sample N``: the N numbers of ``need`` checked, seeded (the dry run draws the
    same ones, so it counts what the run will ask)."""
    if sample >= len(need):
        return need
    chosen: np.ndarray = np.sort(np.random.default_rng(seed).choice(need, size=sample,
                                                                     replace=False))
    return chosen


def attribute_operators(distinct: Distinct, sources: Sequence[OperatorSource]) -> None:
    """First answer wins, in the order of ``sources``; the range holder answers last."""
    pending = apply_sources(distinct, sources, distinct.kind == KIND["mobile"])
    distinct.operator[pending] = distinct.block_operator[distinct.block[pending]]
    distinct.source[pending] = SOURCE["range"]


def batch_estimate(reachable: int, total: int, *, requested: int, listed: int,
                   unlisted: int, confidence: float = CONFIDENCE) -> dict[str, object]:
    """The estimate for the numbers ``users:batchGet`` did not list (RBM, agent not
    launched everywhere), from Google's random-sample counts.

    Google draws its sample (``totalRandomSampleUserCount``, about 75 % of a request of
    500 numbers or more) from the **whole request**, and counts how many are
    RCS-reachable on any network (``reachableRandomSampleUserCount``), launched or not.
    So the share ``p`` = reachable / total is the reach of everything asked, the listed
    numbers included — and every listed number is reachable. Over the ``requested``
    numbers of the sampled calls, ``p × requested − listed`` reachable ones are among
    the ``requested − listed`` unlisted, whose failure share is therefore
    ``requested × (1 − p) / (requested − listed)`` (capped at 1), not ``1 − p``: applying
    the whole request's rate to the unlisted alone underestimated their failures (20 %
    where the sample implied 40 % with half the request listed). ``scale`` carries
    ``requested / (requested − listed)`` to the summary, which applies it to the
    sample's interval too. Calls with no sample (under 500 numbers) count as unlisted
    at the same share.
    """
    not_listed = requested - listed
    scale = requested / not_listed if requested and not_listed > 0 else 1.0
    return {"method": "batchGet random sample", "sampled": int(total),
            "failures": int(total - reachable), "trials": int(total),
            "extrapolated": unlisted, "scale": scale, "requested": requested,
            "listed": listed, "confidence": confidence}


def run_check(
    source: ContactSource,
    plan: NumberingPlan,
    *,
    target_operator: str = OPERATOR,
    operator_sources: Sequence[OperatorSource] = (),
    provider: CapabilityProvider | None = None,
    other_provider: CapabilityProvider | None = None,
    sample: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    auto: AutoSample | None = None,
    confidence: float = CONFIDENCE,
) -> CheckResult:
    """Classify every row of ``source``.

    With ``sample``, only a seeded random sample of the target-operator mobiles is sent
    to the provider; the others are ``not_sampled`` and the result carries the sample's
    counts, from which the summary extrapolates an interval (CONTRACT §2 Ratio). With
    ``auto`` (``--sample auto``, ``sample_auto.py``), unresolved numbers are drawn and
    resolved until the gate is decided; the result carries the bound at the stop.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    examples: dict[str, list[str]] = {}
    norm = read_and_normalize(source, plan, progress, examples)
    timings["read_normalize_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    keys, first_row, distinct_index = distinct_numbers(norm.key)
    block = norm.block[first_row]
    kind = norm.kind[first_row]
    n = len(keys)
    distinct = Distinct(
        key=keys, block=block, kind=kind,
        operator=np.full(n, "", dtype=object), source=np.zeros(n, np.uint8),
        rcs=np.full(n, RCS_UNKNOWN, np.uint8), reason=np.zeros(n, np.uint8),
        first_row=first_row, block_operator=plan.block_operator,
    )
    streamed: np.ndarray | None = None
    other_rcs = np.full(n, RCS_UNKNOWN, np.uint8) if other_provider is not None else None
    remote = provider is not None or other_provider is not None
    if remote:  # stages.py brings the HTTP stack: loaded for remote runs only
        from rcsqualify.stages import attribute_and_check, can_stream
    not_sampled = None
    auto_estimate = None
    if auto is not None and provider is not None:
        from rcsqualify.sample_auto import sample_auto

        auto_estimate, not_sampled = sample_auto(
            distinct, int(np.count_nonzero(norm.key == 0)), operator_sources, provider,
            target_operator, auto, progress)
    elif remote and can_stream(operator_sources, provider, sample, other_provider):
        # MNP and capability (and the second route) in one stream (stages.py): the run
        # takes about the time of the slowest service, not the sum
        streamed = attribute_and_check(distinct, operator_sources, provider,
                                       target_operator, progress, other_provider,
                                       other_rcs)
    else:
        attribute_operators(distinct, operator_sources)
    if streamed is None and other_provider is not None and other_rcs is not None:
        # a sampled run: the other operators' mobiles known once the target's are drawn
        others = np.flatnonzero((distinct.kind == KIND["mobile"])
                                & (distinct.operator != target_operator)
                                & (distinct.operator != OPERATOR_ERROR)
                                & (distinct.operator != OPERATOR_UNASSIGNED)
                                & (~not_sampled if not_sampled is not None else True))
        from rcsqualify.remote.keys import E164Numbers  # strings only when asked

        other_rcs[others] = other_provider.check_all(E164Numbers(keys[others]))
    timings["attribute_s"] = time.perf_counter() - t1

    is_target = distinct.operator == target_operator
    result = CheckResult(other_route=other_provider.name if other_provider else None,
                         other_rcs=other_rcs,
                         rows=RowResult(reason=norm.reason, repaired=norm.repaired,
                                        key=norm.key, block=norm.block,
                                        distinct_index=distinct_index),
                         distinct=distinct, target_operator=target_operator,
                         capability=provider.name if provider else "none")
    if other_provider is not None:
        result.provider_stats[f"{other_provider.name}-other-route"] = \
            other_provider.stats.as_dict()
        result.notes.extend(other_provider.notes)
    if provider is not None and auto_estimate is not None:
        result.sampled = True
        result.estimate = auto_estimate
        result.provider_stats[provider.name] = provider.stats.as_dict()
        result.notes.extend(provider.notes)
    elif provider is not None:
        t2 = time.perf_counter()
        need = np.flatnonzero(is_target & (kind == KIND["mobile"]))
        if sample is not None and sample < len(need):
            chosen = fixed_sample(need, sample, seed)
            distinct.rcs[np.setdiff1d(need, chosen)] = RCS_NOT_SAMPLED
            result.sampled = True
            result.notes.append(note("fixed_sample", sample=sample))
            need = chosen
        if streamed is not None:
            need = streamed  # already checked, as their operators became known
        else:
            from rcsqualify.remote.keys import E164Numbers  # strings only when asked

            e164 = E164Numbers(keys[need])

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
                "confidence": confidence,
                "failures": int(np.count_nonzero(negative)),
                "trials": int(np.count_nonzero(negative | (answers == RCS_YES))),
                "extrapolated": int(np.count_nonzero(distinct.rcs == RCS_NOT_SAMPLED)),
            }
        reach = provider.sample_reach
        unlisted = int(np.count_nonzero(answers == RCS_NOT_LISTED))
        if reach is not None and unlisted and reach[1] > 0 and not result.sampled:
            requested, listed = provider.sample_requests
            result.estimate = batch_estimate(reach[0], reach[1], requested=requested,
                                             listed=listed, unlisted=unlisted,
                                             confidence=confidence)
        timings["capability_s"] = time.perf_counter() - t2

    op_error = distinct.operator == OPERATOR_ERROR
    unassigned = distinct.operator == OPERATOR_UNASSIGNED
    distinct.operator[op_error | unassigned] = ""
    distinct.reason = classify(reason=np.zeros(n, np.uint8), kind=kind, is_target=is_target,
                               source=distinct.source, rcs=distinct.rcs,
                               operator_error=op_error, unassigned=unassigned,
                               not_sampled=not_sampled,
                               with_holder=distinct.operator == plan.block_operator[block])
    _spread(distinct.reason, distinct_index, result.rows.reason)
    for src in operator_sources:
        result.source_stats[src.label] = src.stats
        if src.api is not None:
            result.provider_stats[src.label] = src.api.as_dict()
    result.timings = timings
    result.examples = examples
    return result
