"""A check whose rows are grouped into contacts (issue #25; ``docs/contacts.md``).

Used when a run has several phone columns or a contact id (``ContactSource.per_contact``);
with one column and no id the runner keeps ``pipeline.run_check``, and a test runs a
file both ways to hold the figures equal.

The flow is the pipeline's, on *cells* (``column * rows + row``) instead of rows: every
phone column is read and normalized; the distinct numbers of all cells are found once;
local operator sources (the portability extracts, the plan) answer for every mobile.
Remote look-ups (an MNP service, the capability check, the second route) are then asked
in rounds: each round asks, for every contact whose choice is still open, its best
number that could change the choice (``choice.next_lookups``), and resolves it fully
(operator, then capability or the second route). A number asked for one contact is known
for every contact sharing it. The numbers never asked keep what the local sources say:
their operator from the extracts or the range holder, their capability ``not_checked``.

The result has the shape every report reads: ``rows`` carry each row's contact's chosen
number and verdict, ``distinct`` the chosen numbers only (so operators, territories and
routes count the messages), and ``contacts`` what the grouping adds.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa

from rcsqualify.contact_sample import ContactSample, draw
from rcsqualify.contacts import ContactSource
from rcsqualify.contacts.choice import (
    TIER_OTHER_ROUTE,
    TIER_REACHABLE,
    TIER_UNVERIFIED,
    ContactResult,
    choose,
    contact_messages,
    next_lookups,
    number_reasons,
    number_tiers,
)
from rcsqualify.contacts.columns import safe_names
from rcsqualify.contacts.grouping import (
    MAX_NUMBERS_PER_CONTACT,
    Contacts,
    contact_codes,
    group_contacts,
    rank_values,
)
from rcsqualify.defaults import CONFIDENCE, OPERATOR
from rcsqualify.distinct import Distinct, Progress, apply_sources
from rcsqualify.notes import note
from rcsqualify.numbering.buffers import bool_array, string_parts
from rcsqualify.numbering.normalize import Normalized
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.pipeline import (
    EXAMPLES_PER_REASON,
    FOOTER_REASONS,
    CheckResult,
    RowResult,
    collect_examples,
    count_footer,
    distinct_numbers,
    normalized_columns,
    run_check,
)
from rcsqualify.verdict import (
    KIND,
    OPERATOR_ERROR,
    OPERATOR_UNASSIGNED,
    RCS_UNKNOWN,
    SOURCE,
    R,
    classify,
    route_codes,
)

if TYPE_CHECKING:
    from rcsqualify.capability.interface import CapabilityProvider


_EMPTY = R["empty"]

#: numbers streamed at once within a round of look-ups (``_Rounds._stream``): what
#: the stream's queues and copies hold, whatever the size of the base
STREAM_BATCH = 20_000


class _Cells:
    """Per-cell arrays of the phone columns, kept as each piece was normalized.

    A piece is one phone column of one batch, its blank cells left out (they are never
    normalized). The full per-cell arrays (``field``) are written once, at the end, into
    one array each: no batch-sized array is made and then copied again."""

    #: what a blank cell holds in each field (``empty``, no key, no block)
    BLANK: ClassVar[dict[str, int]] = {"reason": int(_EMPTY), "repaired": 0, "key": 0,
                                       "block": -1, "kind": 0}
    DTYPES: ClassVar[dict[str, type]] = {"reason": np.uint8, "repaired": np.uint8,
                                         "key": np.int64, "block": np.int32,
                                         "kind": np.uint8}

    def __init__(self, columns: int) -> None:
        #: per column: its pieces, each (filled cells or None when all are, the
        #: normalization of those cells)
        self.parts: list[list[tuple[np.ndarray | None, Normalized]]] = [
            [] for _ in range(columns)]
        self.ids: list[pa.Array] = []
        self.ranks: list[pa.Array] = []
        #: per piece yielded and not yet added: its column and filled cells
        self.filled: deque[tuple[int, np.ndarray | None]] = deque()
        self.last_blank = 0  # blank cells of the piece added last
        self.rows = 0

    def columns_of(self, batches: Iterator[pa.RecordBatch], phone: int, has_id: bool,
                   has_rank: bool) -> Iterator[pa.Array]:
        """Each batch's phone columns one after the other, each without its blank cells,
        keeping the batch's id and rank columns. No normalization for a missing or empty
        cell: a second or third phone column is often blank, and a blank cell costs the
        normalizer as much as a number (it is ``empty`` whatever happens: ``field``
        writes it so). Columns are not put end to end: that would copy every cell once
        more, and the normalizer works a slice at a time anyway."""
        for batch in batches:
            if has_id:
                self.ids.append(batch.column(phone))
            if has_rank:
                self.ranks.append(batch.column(phone + int(has_id)))
            for i in range(phone):
                cells = _plain(batch.column(i))
                offsets, _, valid = string_parts(cells)
                filled = np.diff(offsets) > 0
                if valid is not None:
                    filled &= valid
                if filled.all():
                    self.filled.append((i, None))
                    yield cells
                else:
                    self.filled.append((i, filled))
                    yield cells.filter(bool_array(filled))  # (pa.array would load pandas)

    def add(self, norm: Normalized) -> int:
        """One piece's normalization; returns the rows it completes (a batch's rows,
        counted at its first column)."""
        column, mask = self.filled.popleft()
        self.parts[column].append((mask, norm))
        rows = len(norm) if mask is None else len(mask)
        self.last_blank = rows - len(norm)
        if column:
            return 0
        self.rows += rows
        return rows

    def field(self, name: str) -> np.ndarray:
        """One Normalized field over every cell, column after column (``column * rows +
        row``), blank cells filled in."""
        out: np.ndarray = np.empty(self.rows * len(self.parts), self.DTYPES[name])
        at = 0
        for part in self.parts:
            for mask, norm in part:
                values = getattr(norm, name)
                if mask is None:
                    out[at:at + len(values)] = values
                    at += len(values)
                else:
                    here = out[at:at + len(mask)]
                    here.fill(self.BLANK[name])
                    here[mask] = values
                    at += len(mask)
        return out


def _plain(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one string array (a reader may hand a chunked one)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column if column.type == pa.string() else column.cast(pa.string())


def _values(arrays: list[pa.Array]) -> list[object]:
    return pa.chunked_array(arrays, pa.string()).to_pylist() if arrays else []


def read_cells(source: ContactSource, plan: NumberingPlan,
               progress: Progress | None = None,
               examples: dict[str, list[str]] | None = None) -> tuple[_Cells, int]:
    """Pass 1 over the phone columns (and the id and rank columns); returns the cells
    and the number of rows."""
    count = len(source.phone_columns)
    cells = _Cells(count)
    flat = cells.columns_of(source.contact_batches(), count,
                            source.contact_id_column is not None,
                            source.number_rank_column is not None)
    rows = 0
    for column, norm in normalized_columns(flat, plan):
        if examples is not None:
            collect_examples(column, norm, examples)
        rows += cells.add(norm)
        if examples is not None and cells.last_blank:  # blank cells, never normalized
            empty = examples.setdefault("empty", [])
            empty += [""] * min(cells.last_blank, EXAMPLES_PER_REASON - len(empty))
        if progress:
            progress("read", rows, source.estimated_rows)
    source.info.rows = rows
    return cells, rows


def run_contact_check(
    source: ContactSource,
    plan: NumberingPlan,
    *,
    target_operator: str = OPERATOR,
    operator_sources: Sequence[OperatorSource] = (),
    provider: CapabilityProvider | None = None,
    other_provider: CapabilityProvider | None = None,
    progress: Progress | None = None,
    max_numbers: int = MAX_NUMBERS_PER_CONTACT,
    all_numbers: bool = False,
    sample: ContactSample | None = None,
) -> CheckResult:
    """Classify every row of ``source`` as its contact's chosen number. With
    ``all_numbers``, ``contacts.all_numbers`` keeps every number a contact holds (within
    the cap), not only the chosen ones: the dry run counts what a run could ask of them.
    With ``sample`` (and a capability provider), only the drawn contacts are resolved
    (``contact_sample.py``); the others read as their best open number, not sampled."""
    t0 = time.perf_counter()
    examples: dict[str, list[str]] = {}
    cells, n_rows = read_cells(source, plan, progress, examples)
    timings = {"read_normalize_s": time.perf_counter() - t0}
    t1 = time.perf_counter()
    cell_key, cell_norm_reason, cell_block, cell_kind, cell_repaired = (
        cells.field(name) for name in ("key", "reason", "block", "kind", "repaired"))
    n_columns = len(source.phone_columns)
    id_values, rank_values_ = _values(cells.ids), _values(cells.ranks)
    footer = _footer(source, cell_norm_reason.reshape(n_columns, n_rows))
    if footer:  # the total rows at the end: out of every cell array, as one column does
        kept = n_rows - footer
        cell_key, cell_norm_reason, cell_block, cell_kind, cell_repaired = (
            a.reshape(n_columns, n_rows)[:, :kept].ravel()
            for a in (cell_key, cell_norm_reason, cell_block, cell_kind, cell_repaired))
        id_values, rank_values_ = id_values[:kept], rank_values_[:kept]
        n_rows = source.info.rows = kept
    blank = (cell_norm_reason == R["empty"]).reshape(n_columns, n_rows)
    ids = contact_codes(id_values) if source.contact_id_column else None
    ranks, text_ranks = (rank_values(rank_values_) if source.number_rank_column
                         else (None, 0))
    grouping = group_contacts(blank, contact_id=ids, rank=ranks, max_numbers=max_numbers)

    keys, first_cell, cell_distinct = distinct_numbers(cell_key)
    n = len(keys)
    d = Distinct(key=keys, block=cell_block[first_cell], kind=cell_kind[first_cell],
                 operator=np.full(n, "", dtype=object), source=np.zeros(n, np.uint8),
                 rcs=np.full(n, RCS_UNKNOWN, np.uint8), reason=np.zeros(n, np.uint8),
                 first_row=first_cell % max(n_rows, 1), block_operator=plan.block_operator)
    other_rcs = np.full(n, RCS_UNKNOWN, np.uint8) if other_provider is not None else None
    remote_sources = [s for s in operator_sources if s.api is not None]
    local_sources = [s for s in operator_sources if s.api is None]
    mobile = d.kind == KIND["mobile"]
    pending = apply_sources(d, local_sources, mobile.copy())
    if not remote_sources:
        _range_holder(d, pending)

    rounds = _Rounds(d, target_operator, provider, other_provider, other_rcs, pending,
                     remote_sources)
    slot_distinct = cell_distinct[grouping.cell]
    slot_reason_norm = cell_norm_reason[grouping.cell]
    lookups = _Lookups(rounds, grouping, slot_distinct, slot_reason_norm, progress)
    drawn = undrawn = None
    if sample is not None and provider is not None:
        rounds.from_cache()
        drawn = draw(lookups, sample, progress)
        undrawn = lookups.undecided()
    elif provider is not None or other_provider is not None or remote_sources:
        lookups.resolve(None)
    _range_holder(d, pending)  # the mobiles never asked: their range holder
    final = rounds.classify(plan, None if undrawn is None else undrawn[1])
    timings["attribute_s"] = time.perf_counter() - t1

    cell_reason = _gather(final, cell_distinct, cell_norm_reason).astype(np.uint8,
                                                                         copy=False)
    routes = rounds.routes()
    slot_reason = cell_reason[grouping.cell]
    slot_route = None if routes is None else _gather(routes, slot_distinct, 0).astype(
        np.uint8)
    chosen = choose(grouping, number_tiers(slot_reason, slot_route))
    if undrawn is not None:  # a contact not drawn: its best open number, not sampled
        chosen[grouping.contact[undrawn[0]]] = undrawn[0]
    cell_number = cell_distinct.astype(np.int64) + 1
    count = contact_messages(grouping, chosen, cell_number[grouping.cell], slot_reason)

    # rows: each row carries its contact's chosen number; distinct: chosen numbers only
    chosen_cell = grouping.cell[chosen[grouping.contact_of_row]]
    chosen_distinct = cell_distinct[chosen_cell]
    used = _present(chosen_distinct, n)
    renumber = np.full(n + 1, -1, np.int32)
    renumber[used] = np.arange(len(used), dtype=np.int32)
    row_index = renumber[chosen_distinct]  # -1 (invalid) picks the sentinel
    first_row = np.full(len(used), n_rows, np.int64)
    valid_rows = np.flatnonzero(row_index >= 0)
    # written last to first: each chosen number keeps the first row that carries it
    first_row[row_index[valid_rows][::-1]] = valid_rows[::-1]
    d.reason = final
    chosen_d = Distinct(key=d.key[used], block=d.block[used], kind=d.kind[used],
                        operator=d.operator[used], source=d.source[used], rcs=d.rcs[used],
                        reason=d.reason[used], first_row=first_row,
                        block_operator=d.block_operator)
    result = CheckResult(
        rows=RowResult(reason=cell_reason[chosen_cell], repaired=cell_repaired[chosen_cell],
                       key=cell_key[chosen_cell], block=cell_block[chosen_cell],
                       distinct_index=row_index),
        distinct=chosen_d, target_operator=target_operator,
        capability=provider.name if provider else "none",
        other_route=other_provider.name if other_provider else None,
        other_rcs=None if other_rcs is None else other_rcs[used])
    for prov, label in ((provider, None), (other_provider, "other-route")):
        if prov is not None:
            result.provider_stats[f"{prov.name}-{label}" if label else prov.name] = \
                prov.stats.as_dict()
            result.notes.extend(prov.notes)
    for src in operator_sources:
        result.source_stats[src.label] = src.stats
        if src.api is not None:
            result.provider_stats[src.label] = src.api.as_dict()
    nonblank = cell_norm_reason != R["empty"]
    numbers = {"numbers": int(np.count_nonzero(nonblank)), "distinct_numbers": n,
               "numbers_dropped": int(grouping.dropped.sum()),
               "contacts_capped": int(np.count_nonzero(grouping.dropped)),
               "blank_ids": int(np.count_nonzero(ids < 0)) if ids is not None else 0,
               "looked_up": int(np.count_nonzero(rounds.resolved))}
    if text_ranks:
        result.notes.append(note("ranks_not_numbers", count=text_ranks,
                                 column=safe_names([str(source.number_rank_column)])))
    if numbers["numbers_dropped"]:
        result.notes.append(note("contacts_capped", capped=numbers["contacts_capped"],
                                 cap=max_numbers, dropped=numbers["numbers_dropped"]))
    result.contacts = ContactResult(grouping=grouping, columns=list(source.phone_columns),
                                    chosen=chosen, count=count, cell_key=cell_key,
                                    cell_number=cell_number,
                                    cell_reason=cell_reason, numbers=numbers,
                                    number_reason_counts=number_reasons(
                                        final, cell_norm_reason, cell_distinct >= 0))
    if all_numbers:
        held = _present(slot_distinct, n)
        result.contacts.all_numbers = Distinct(
            key=d.key[held], block=d.block[held], kind=d.kind[held],
            operator=d.operator[held], source=d.source[held], rcs=d.rcs[held],
            reason=d.reason[held], first_row=d.first_row[held],
            block_operator=d.block_operator)
    if drawn is not None and sample is not None:
        _sampled(result, drawn.estimate, count.message_reasons, sample,
                 len(drawn.population))
    result.timings = timings
    result.examples = examples
    return result


def _sampled(result: CheckResult, estimate: dict[str, Any], message_reasons: np.ndarray,
             sample: ContactSample, population: int) -> None:
    """The estimate of a run over contacts that drew a sample, as one column's: a fixed
    sample that drew the whole population is no sample (every contact resolved)."""
    if sample.auto is None:
        assert sample.sample is not None
        if sample.sample >= population:
            return
        estimate["extrapolated"] = int(np.count_nonzero(message_reasons == R["not_sampled"]))
        result.notes.append(note("fixed_sample", sample=sample.sample))
    result.sampled = True
    result.estimate = estimate


def _footer(source: ContactSource, reasons: np.ndarray) -> int:
    """The footer rows at the end (``pipeline.count_footer``): a row whose phone cells
    all hold no number may be one (``reasons``: ``(columns, rows)``)."""
    from rcsqualify.contacts.footer import MAX_FOOTER_ROWS

    last = reasons[:, max(0, reasons.shape[1] - MAX_FOOTER_ROWS):]
    no_number = np.all(np.isin(last, FOOTER_REASONS), axis=0).tolist()
    footer = count_footer(source, [bool(v) for v in list(no_number)])
    source.info.footer_rows = footer
    return footer


def _present(indices: np.ndarray, n: int) -> np.ndarray:
    """The distinct values of ``indices`` (into ``n`` numbers; -1 ignored), sorted: a
    count per number, cheaper than ``np.unique``'s hash or sort at a million rows."""
    return np.flatnonzero(np.bincount(indices[indices >= 0], minlength=n))


def _gather(values: np.ndarray, index: np.ndarray, fill: np.ndarray | int | bool
            ) -> np.ndarray:
    """``values[index]`` where ``index`` names a number, ``fill`` where it is -1 (a cell
    without a valid number). ``values`` gets a pad for -1 to read, so a file without any
    valid number (``values`` empty, every index -1) reads ``fill`` everywhere."""
    padded = np.append(values, np.zeros(1, values.dtype))
    return np.where(index >= 0, padded[index], fill)


def _range_holder(d: Distinct, pending: np.ndarray) -> None:
    d.operator[pending] = d.block_operator[d.block[pending]]
    d.source[pending] = SOURCE["range"]
    pending[:] = False


class _Rounds:
    """What is known of each distinct number between rounds, and one round's look-ups."""

    def __init__(self, d: Distinct, target: str, provider: CapabilityProvider | None,
                 other: CapabilityProvider | None, other_rcs: np.ndarray | None,
                 pending: np.ndarray, remote_sources: list[OperatorSource]) -> None:
        self.d, self.target, self.provider, self.other = d, target, provider, other
        self.other_rcs, self.pending, self.remote_sources = other_rcs, pending, remote_sources
        self.resolved = np.zeros(len(d.key), bool)

    def _known_operator(self) -> np.ndarray:
        op = self.d.operator
        return (op != "") & (op != OPERATOR_ERROR) & (op != OPERATOR_UNASSIGNED)

    def classify(self, plan: NumberingPlan, not_sampled: np.ndarray | None = None
                 ) -> np.ndarray:
        """Each number's reason from what is known now (unknown capability: not
        checked; ``not_sampled``: indices of numbers a sample left open), the
        pipeline's classification."""
        d = self.d
        op_error = d.operator == OPERATOR_ERROR
        unassigned = d.operator == OPERATOR_UNASSIGNED
        mask = None
        if not_sampled is not None:
            mask = np.zeros(len(d.key), bool)
            mask[not_sampled] = True
        return classify(reason=np.zeros(len(d.key), np.uint8), kind=d.kind,
                        is_target=d.operator == self.target, source=d.source, rcs=d.rcs,
                        operator_error=op_error, unassigned=unassigned, not_sampled=mask,
                        with_holder=d.operator == plan.block_operator[d.block])

    def from_cache(self) -> None:
        """Take what the fresh cache holds without asking (a sample's population is
        what is left open after it): MNP's answers when it is the one remote operator
        source and streams (``sample_auto.attribute_cached``), then the capability and
        the second route's answers for the numbers whose operator is known."""
        from rcsqualify.remote.keys import E164Numbers  # strings only when asked
        from rcsqualify.sample_auto import attribute_cached

        d = self.d
        if len(self.remote_sources) == 1 and self.remote_sources[0].streams:
            self.pending &= attribute_cached(d, self.remote_sources[0], self.pending.copy())
        mobile = (d.kind == KIND["mobile"]) & ~self.pending
        is_target = d.operator == self.target
        asks: list[tuple[CapabilityProvider | None, np.ndarray, np.ndarray]] = [
            (self.provider, d.rcs, mobile & is_target)]
        if self.other_rcs is not None:
            asks.append((self.other, self.other_rcs,
                         mobile & ~is_target & self._known_operator()))
        for prov, codes, which in asks:
            idx = np.flatnonzero(which & (codes == RCS_UNKNOWN))
            if prov is not None and len(idx):
                got = np.full(len(idx), RCS_UNKNOWN, np.uint8)
                prov.answers_from_cache(E164Numbers(d.key[idx]), got)
                codes[idx] = got

    def routes(self) -> np.ndarray | None:
        if self.other_rcs is None:
            return None
        d = self.d
        return route_codes(kind=d.kind, is_target=d.operator == self.target, rcs=d.rcs,
                           other_rcs=self.other_rcs,
                           operator_error=(d.operator == OPERATOR_ERROR)
                           | (d.operator == OPERATOR_UNASSIGNED))

    def slot_state(self, slot_distinct: np.ndarray, slot_norm_reason: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per slot: its tier if settled, whether a look-up could still change it, and
        the best tier it could reach."""
        d = self.d
        mobile = d.kind == KIND["mobile"]
        is_target = d.operator == self.target
        open_n = np.zeros(len(d.key), bool)
        best_n = np.full(len(d.key), TIER_REACHABLE, np.uint8)
        open_n |= self.pending & mobile  # operator still to ask a remote source
        if self.provider is not None:
            open_n |= mobile & is_target & (d.rcs == RCS_UNKNOWN)
        if self.other is not None and self.other_rcs is not None:
            other = mobile & ~is_target & self._known_operator() & (
                self.other_rcs == RCS_UNKNOWN) & ~self.pending
            open_n |= other
            best_n[other] = TIER_OTHER_ROUTE
        open_n &= ~self.resolved
        # settled numbers: their tier as if classified now (an operator still to ask
        # reads as its range holder here, but such a number is open: it decides nothing)
        op = d.operator.copy()
        op[self.pending] = d.block_operator[d.block[self.pending]]
        source = d.source.copy()
        source[self.pending] = SOURCE["range"]
        reason = classify(reason=np.zeros(len(d.key), np.uint8), kind=d.kind,
                          is_target=op == self.target, source=source, rcs=d.rcs,
                          operator_error=op == OPERATOR_ERROR,
                          unassigned=op == OPERATOR_UNASSIGNED)
        routes = self.routes()
        tier_n = number_tiers(reason, routes)
        tier = _gather(tier_n, slot_distinct, number_tiers(slot_norm_reason)).astype(
            np.uint8)
        open_ = _gather(open_n, slot_distinct, False)
        best = _gather(best_n, slot_distinct, tier).astype(np.uint8)
        return tier, open_, best

    def resolve(self, idx: np.ndarray) -> None:
        """Every look-up the numbers ``idx`` need: their operator from the remote
        sources, then the capability (target mobiles) or the second route (others)."""
        from rcsqualify.remote.keys import E164Numbers  # strings only when asked

        d = self.d
        if self._stream(idx):
            self.resolved[idx] = True
            return
        ask_op = np.zeros(len(d.key), bool)
        ask_op[idx] = self.pending[idx]
        if ask_op.any():
            left = apply_sources(d, self.remote_sources, ask_op)
            _range_holder(d, left)
            self.pending[idx] = False
        sub = np.zeros(len(d.key), bool)
        sub[idx] = True
        mobile = d.kind == KIND["mobile"]
        is_target = d.operator == self.target
        if self.provider is not None:
            need = np.flatnonzero(sub & mobile & is_target & (d.rcs == RCS_UNKNOWN))
            if len(need):
                d.rcs[need] = self.provider.check_all(E164Numbers(d.key[need]))
        if self.other is not None and self.other_rcs is not None:
            need = np.flatnonzero(sub & mobile & ~is_target & self._known_operator()
                                  & (self.other_rcs == RCS_UNKNOWN))
            if len(need):
                self.other_rcs[need] = self.other.check_all(E164Numbers(d.key[need]))
        self.resolved[idx] = True

    def _stream(self, idx: np.ndarray) -> bool:
        """One round as a stream (``stages.stream_numbers``): the capability check (or
        the second route) of a number leaves the moment the MNP service has named its
        operator, so a round takes about the time of the slower service, not the sum.
        Only with one per-number (streaming) remote source, a check to feed and numbers
        whose operator is still to ask; False (the round is asked service after
        service) otherwise.

        Rounds stay: a contact's next number is worth asking only once the answers for
        its earlier one are in (``choice.next_lookups``), so the rounds never ask a
        number that could not change a choice. A round is streamed ``STREAM_BATCH``
        numbers at a time when every check asks one number per request: the stream's
        queues and its copy of the numbers' fields hold one batch, not a round of a
        million numbers (each answer is cached as it arrives, as in every stream: an
        interrupted run resumes from the cache). A bulk or batch service (BotHub bulk
        jobs, RBM ``batchGet``) collects a stream's numbers before it asks anyway, and
        each stream would add a partly filled job or batch (more requests than the dry
        run announces, one call per round): it gets the round as one stream."""
        checks = [p for p in (self.provider, self.other) if p is not None]
        if (len(self.remote_sources) != 1 or not self.remote_sources[0].streams
                or not checks or not self.pending[idx].any()):
            return False
        size = STREAM_BATCH if all(p.per_number for p in checks) else len(idx)
        for at in range(0, len(idx), size):
            self._stream_batch(idx[at:at + size])
        return True

    def _stream_batch(self, idx: np.ndarray) -> None:
        """Stream the numbers ``idx``: the ones whose operator is known go to their check
        at once, the others to the MNP service first; their answers are written back."""
        from rcsqualify.stages import stream_numbers

        d = self.d
        pending = self.pending[idx]
        mobile = d.kind[idx] == KIND["mobile"]
        is_target = d.operator[idx] == self.target
        settled = np.zeros(len(idx), bool)
        if self.provider is not None:  # target mobiles not checked yet
            settled |= mobile & ~pending & is_target & (d.rcs[idx] == RCS_UNKNOWN)
        other_rcs = None
        if self.other is not None and self.other_rcs is not None:
            settled |= mobile & ~pending & ~is_target & self._known_operator()[idx] & (
                self.other_rcs[idx] == RCS_UNKNOWN)
            other_rcs = np.full(len(idx), RCS_UNKNOWN, np.uint8)
        # the stream writes every field of its Distinct (rcs from unknown): a copy of
        # this batch's numbers, merged back below
        sub = Distinct(key=d.key[idx], block=d.block[idx], kind=d.kind[idx],
                       operator=d.operator[idx], source=d.source[idx],
                       rcs=np.full(len(idx), RCS_UNKNOWN, np.uint8),
                       reason=d.reason[idx], first_row=d.first_row[idx],
                       block_operator=d.block_operator)
        stream_numbers(sub, np.flatnonzero(settled), np.flatnonzero(pending & mobile),
                       self.remote_sources[0], self.provider, self.target, None,
                       self.other, other_rcs)
        d.operator[idx], d.source[idx] = sub.operator, sub.source
        d.rcs[idx] = np.where(sub.rcs != RCS_UNKNOWN, sub.rcs, d.rcs[idx])
        if other_rcs is not None and self.other_rcs is not None:
            self.other_rcs[idx] = np.where(other_rcs != RCS_UNKNOWN, other_rcs,
                                           self.other_rcs[idx])
        self.pending[idx] = False


def check_rows_or_contacts(source: ContactSource, plan: NumberingPlan, *,
                           max_numbers: int = MAX_NUMBERS_PER_CONTACT,
                           **options: Any) -> CheckResult:
    """The check a run needs: ``pipeline.run_check`` when each row is a contact (one
    phone column, no contact id: today's path, every figure as before), else
    ``run_contact_check``, whose sample (``--sample N`` or ``auto``) draws contacts
    (``contact_sample.py``)."""
    if not source.per_contact:
        return run_check(source, plan, **options)
    sample = None
    if options.get("sample") is not None or options.get("auto") is not None:
        sample = ContactSample(sample=options.get("sample"), auto=options.get("auto"),
                               seed=options.get("seed", 0),
                               confidence=options.get("confidence", CONFIDENCE))
    return run_contact_check(
        source, plan, max_numbers=max_numbers, sample=sample,
        **{k: v for k, v in options.items()
           if k in ("target_operator", "operator_sources", "provider", "other_provider",
                    "progress")})


class _Lookups:
    """The rounds of look-ups over contacts (``contact_sample.Lookups``): all of them,
    or only those of the contacts a sample drew."""

    def __init__(self, rounds: _Rounds, grouping: Contacts, slot_distinct: np.ndarray,
                 slot_reason_norm: np.ndarray, progress: Progress | None) -> None:
        self.rounds, self.grouping, self.progress = rounds, grouping, progress
        self.slot_distinct, self.slot_reason_norm = slot_distinct, slot_reason_norm

    def _state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per slot: its tier, whether it is open, whether it is asked next."""
        tier, open_, best = self.rounds.slot_state(self.slot_distinct,
                                                   self.slot_reason_norm)
        return tier, open_, next_lookups(self.grouping, tier, open_, best)

    def resolve(self, contacts: np.ndarray | None) -> None:
        """Round after round, each open contact's next number (of ``contacts`` only,
        if given), until no look-up could change a choice."""
        allowed = None
        if contacts is not None:
            drawn = np.zeros(self.grouping.n_contacts, bool)
            drawn[contacts] = True
            allowed = drawn[self.grouping.contact]
        n = len(self.rounds.d.key)
        while True:
            ask = self._state()[2]
            if allowed is not None:
                ask &= allowed
            idx = _present(self.slot_distinct[ask], n)
            if not len(idx):
                return
            self.rounds.resolve(idx)
            if self.progress:
                self.progress("capability", int(np.count_nonzero(self.rounds.resolved)),
                              None)

    def open_contacts(self) -> tuple[np.ndarray, np.ndarray]:
        slots = np.flatnonzero(self._state()[2])  # one a contact, in contact order
        return (self.grouping.contact[slots],
                self.rounds.d.key[self.slot_distinct[slots]])

    def undecided(self) -> tuple[np.ndarray, np.ndarray]:
        """The slots a sample left to ask next (one per contact not drawn) and the
        numbers left open in those contacts (indices)."""
        _, open_, ask = self._state()
        slots = np.flatnonzero(ask)
        undecided = np.zeros(self.grouping.n_contacts, bool)
        undecided[self.grouping.contact[slots]] = True
        left = open_ & undecided[self.grouping.contact]
        return slots, _present(self.slot_distinct[left], len(self.rounds.d.key))

    def _chosen_tier(self) -> tuple[np.ndarray, np.ndarray]:
        tier = self._state()[0]
        chosen = choose(self.grouping, tier)
        return chosen, tier[chosen]

    def outcomes(self, contacts: np.ndarray) -> list[str]:
        tier = self._chosen_tier()[1][contacts]
        return ["ok" if t == TIER_REACHABLE else "unknown" if t == TIER_UNVERIFIED
                else "fail" for t in tier.tolist()]

    def exact(self, population: np.ndarray) -> tuple[int, int]:
        chosen, tier = self._chosen_tier()
        exact = np.ones(self.grouping.n_contacts, bool)
        exact[population] = False
        number = self.slot_distinct[chosen[exact]]
        fail = (tier[exact] != TIER_REACHABLE) & (tier[exact] != TIER_UNVERIFIED)
        valid = number >= 0
        # a message per distinct chosen number (one verdict a number), one per invalid
        numbers, first = np.unique(number[valid], return_index=True)
        return (int(np.count_nonzero(fail[valid][first]) + np.count_nonzero(fail[~valid])),
                len(numbers) + int(np.count_nonzero(~valid)))
