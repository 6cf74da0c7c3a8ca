"""Portability extracts and the local portability store (CONTRACT §4 step 1).

Both ``--portability FILE`` and the store built by ``rcsqualify portability import``
end as the same thing: a sorted int64 array of E.164 keys and, beside it, an operator
index and a port date per key. Looking up a million contacts is then one
``np.searchsorted``.

The parts: operator values (``operators/vocabulary.py``), port dates
(``operators/port_dates.py``), reading one extract (``operators/extracts.py``), the store
(``operators/portability_store.py``); this module resolves extracts into one table and
answers from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from rcsqualify.defaults import PORTABILITY_MAX_AGE_DAYS, PORTABILITY_MAX_UNMAPPED
from rcsqualify.notes import note
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.extracts import read_extract
from rcsqualify.operators.interface import OperatorSource, SourceStats
from rcsqualify.operators.port_dates import NO_DATE, age_days, iso_date
from rcsqualify.operators.vocabulary import OperatorVocabulary, shown_value


@dataclass
class PortabilityTable:
    """Sorted keys → operator index and port date, plus what building it found."""

    keys: np.ndarray  # int64, sorted, unique
    operator_index: np.ndarray  # int16 into operators
    operators: list[str]
    dates: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # NO_DATE
    origin: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))  # → sources
    rows: int = 0
    invalid_numbers: int = 0
    unmapped: int = 0
    unmapped_examples: list[str] = field(default_factory=list)
    fixed_line_prefixes: int = 0
    unparsed_dates: int = 0
    conflicts: int = 0
    duplicates: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.dates) != len(self.keys):
            self.dates = np.full(len(self.keys), NO_DATE, np.int32)
        if len(self.origin) != len(self.keys):
            self.origin = np.zeros(len(self.keys), np.int16)

    def positions(self, keys: np.ndarray) -> np.ndarray:
        """Index of each key in the table, -1 where absent."""
        if len(self.keys) == 0 or len(keys) == 0:
            return np.full(len(keys), -1, np.int64)
        pos = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, pos, -1)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        out = np.full(len(keys), "", dtype=object)
        pos = self.positions(keys)
        hit = pos >= 0
        ops = np.array(self.operators, dtype=object)
        out[hit] = ops[self.operator_index[pos[hit]]]
        return out

    def date_range(self) -> tuple[str | None, str | None]:
        dated = self.dates[self.dates != NO_DATE]
        if not len(dated):
            return None, None
        return iso_date(int(dated.min())), iso_date(int(dated.max()))


def build_table(paths: Sequence[Path], plan: NumberingPlan, *,
                number_column: str | None = None, operator_column: str | None = None,
                max_unmapped: float | None = PORTABILITY_MAX_UNMAPPED,
                limit_option: str = "--portability-max-unmapped") -> PortabilityTable:
    """Read extracts in the order given and resolve each number to one operator."""
    vocab = OperatorVocabulary.from_plan(plan)
    keys_parts: list[np.ndarray] = []
    op_parts: list[np.ndarray] = []
    date_parts: list[np.ndarray] = []
    origin_parts: list[np.ndarray] = []
    operators: dict[str, int] = {}
    sources: list[dict[str, Any]] = []
    for i, path in enumerate(paths):
        part = read_extract(path, plan, vocab, operators, number_column=number_column,
                            operator_column=operator_column, max_unmapped=max_unmapped,
                            limit_option=limit_option)
        keys_parts.append(part.keys)
        op_parts.append(part.operator_index)
        date_parts.append(part.dates)
        origin_parts.append(np.full(len(part.keys), i, np.int16))
        sources.append(part.stats)
    table = resolve(
        np.concatenate(keys_parts) if keys_parts else np.zeros(0, np.int64),
        np.concatenate(op_parts) if op_parts else np.zeros(0, np.int16),
        np.concatenate(date_parts) if date_parts else np.zeros(0, np.int32),
        list(operators),
        np.concatenate(origin_parts) if origin_parts else np.zeros(0, np.int16))
    examples: list[str] = []
    for s in sources:
        examples += [e for e in s["unmapped_examples"] if e not in examples]
    table.rows = sum(int(s["rows"]) for s in sources)
    table.invalid_numbers = sum(int(s["invalid_numbers"]) for s in sources)
    table.unmapped = sum(int(s["unmapped"]) for s in sources)
    table.fixed_line_prefixes = sum(int(s["fixed_line_prefixes"]) for s in sources)
    table.unparsed_dates = sum(int(s["unparsed_dates"]) for s in sources)
    table.unmapped_examples = examples[:5]
    table.sources = sources
    return table


def resolve(keys: np.ndarray, ops: np.ndarray, dates: np.ndarray, operators: list[str],
            origin: np.ndarray | None = None) -> PortabilityTable:
    """One operator per number: sort by (key, date, read order); the last of each key wins.

    Read order is the position in the concatenation, so with equal (or no) dates the
    last line read wins, files in the order given.
    """
    n = len(keys)
    origin = np.zeros(n, np.int16) if origin is None else origin
    if n == 0:
        return PortabilityTable(keys=keys, operator_index=ops.astype(np.int16),
                                operators=operators, dates=dates, origin=origin)
    order = np.lexsort((np.arange(n), dates, keys))
    k = keys[order]
    last = np.empty(n, dtype=bool)
    last[:-1] = k[1:] != k[:-1]
    last[-1] = True
    first = np.empty(n, dtype=bool)
    first[0] = True
    first[1:] = k[1:] != k[:-1]
    o = ops[order]
    # numbers named by more than one line with more than one operator
    lo = np.minimum.reduceat(o, np.flatnonzero(first))
    hi = np.maximum.reduceat(o, np.flatnonzero(first))
    conflicts = int(np.count_nonzero(lo != hi))
    winners = order[last]
    return PortabilityTable(keys=k[last], operator_index=o[last].astype(np.int16),
                            operators=operators, dates=dates[winners].astype(np.int32),
                            origin=origin[winners].astype(np.int16), conflicts=conflicts,
                            duplicates=int(n - np.count_nonzero(last)))


def overlay(base: PortabilityTable, top: PortabilityTable, *, undated_top_wins: bool
            ) -> tuple[PortabilityTable, int]:
    """``top`` applied on ``base`` (both sorted, unique): per number the newest date wins,
    ``top`` on a tie (it was read later); with ``undated_top_wins`` an undated ``top``
    entry wins too. Linear: one searchsorted, in-place updates, one insert of new keys.
    Returns the merged table and how many numbers changed operator."""
    vocab = {op: i for i, op in enumerate(base.operators)}
    remap = np.array([vocab.setdefault(op, len(vocab)) for op in top.operators] or [0],
                     dtype=np.int16)
    top_ops = remap[top.operator_index] if len(top.keys) else np.zeros(0, np.int16)
    pos = np.searchsorted(base.keys, top.keys)
    at = np.clip(pos, 0, max(len(base.keys) - 1, 0))
    found = (base.keys[at] == top.keys) if len(base.keys) else np.zeros(len(top.keys), bool)
    top_rank = top.dates.astype(np.int64)
    if undated_top_wins:
        top_rank = np.where(top.dates == NO_DATE, np.iinfo(np.int64).max, top_rank)
    wins = found.copy()
    if len(base.keys):
        wins &= top_rank >= base.dates[at].astype(np.int64)
    ops = base.operator_index.copy()
    dates = base.dates.copy()
    origin = base.origin.copy()
    changed = int(np.count_nonzero(ops[at[wins]] != top_ops[wins]))
    ops[at[wins]] = top_ops[wins]
    dates[at[wins]] = top.dates[wins]
    origin[at[wins]] = top.origin[wins] + len(base.sources)
    new = ~found
    ins = pos[new]
    merged = PortabilityTable(
        keys=np.insert(base.keys, ins, top.keys[new]),
        operator_index=np.insert(ops, ins, top_ops[new]).astype(np.int16),
        operators=list(vocab),
        dates=np.insert(dates, ins, top.dates[new]).astype(np.int32),
        origin=np.insert(origin, ins, top.origin[new] + len(base.sources)).astype(np.int16),
        rows=base.rows + top.rows, invalid_numbers=top.invalid_numbers,
        unmapped=top.unmapped, unmapped_examples=list(top.unmapped_examples),
        fixed_line_prefixes=top.fixed_line_prefixes, unparsed_dates=top.unparsed_dates,
        conflicts=top.conflicts + changed, duplicates=top.duplicates,
        sources=[*base.sources, *top.sources])
    return merged, changed


class PortabilitySource(OperatorSource):
    label = "portability"

    def __init__(self, table: PortabilityTable, origin: str, *,
                 max_age_days: int = PORTABILITY_MAX_AGE_DAYS, today: date | None = None) -> None:
        super().__init__()
        self.table = table
        self.max_age_days = max_age_days
        self.today = today or date.today()
        self._answered_by = np.zeros(max(len(table.sources), 1), np.int64)
        self.stats = SourceStats(
            unmapped=table.unmapped, unmapped_examples=list(table.unmapped_examples),
            conflicts=table.conflicts,
            extra={"origin": origin, "entries": len(table.keys),
                   "extract_rows": table.rows, "invalid_numbers": table.invalid_numbers,
                   "duplicates": table.duplicates},
        )
        self._report()

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        pos = self.table.positions(keys)
        hit = pos >= 0
        out = np.full(len(keys), "", dtype=object)
        ops = np.array(self.table.operators, dtype=object)
        out[hit] = ops[self.table.operator_index[pos[hit]]]
        self.stats.asked += len(keys)
        self.stats.answered += int(np.count_nonzero(hit))
        self._answered_by += np.bincount(self.table.origin[pos[hit]].astype(np.int64),
                                         minlength=len(self._answered_by))[
            :len(self._answered_by)]
        self._report()
        return out

    def _report(self) -> None:
        """The report's portability block and its warning lines, in ``stats.extra``."""
        sources: list[dict[str, Any]] = []
        warnings: list[str] = []
        stale_lines: list[str] = []  # the summary's ``stale`` (CI annotations too)
        for i, src in enumerate(self.table.sources):
            age = age_days(src.get("newest_date"), self.today)
            entry = {k: v for k, v in src.items() if k != "unmapped_examples"}
            entry.update(age_days=age, answered=int(self._answered_by[i]),
                         stale=age is not None and age > self.max_age_days)
            sources.append(entry)
            name = src["path"]
            if age is None:
                warnings.append(note("port_no_dates", name=name,
                                     answered=entry["answered"]))
            elif entry["stale"]:
                stale_lines.append(note("port_stale", name=name, age=age,
                                        newest=src["newest_date"], max_age=self.max_age_days,
                                        answered=entry["answered"]))
            unmapped, fixed = src.get("unmapped"), src.get("fixed_line_prefixes")
            if unmapped or fixed:
                code = ("port_unmapped_fixed_prefix" if unmapped and fixed
                        else "port_unmapped" if unmapped else "port_fixed_prefix")
                examples = ", ".join(shown_value(e) for e in src["unmapped_examples"][:3])
                warnings.append(note(code, name=name, unmapped=unmapped, fixed=fixed,
                                     examples=examples,
                                     share=src.get("unmapped_share", 0)))
            if src.get("unparsed_dates"):
                warnings.append(note("port_unparsed_dates", name=name,
                                     count=src["unparsed_dates"]))
        newest = max((s["newest_date"] for s in sources if s.get("newest_date")),
                     default=None)
        oldest = min((s["oldest_date"] for s in sources if s.get("oldest_date")),
                     default=None)
        age = age_days(newest, self.today)
        self.stats.extra.update({
            "newest_date": newest, "oldest_date": oldest, "age_days": age,
            "max_age_days": self.max_age_days,
            "stale": age is not None and age > self.max_age_days,
            "fixed_line_prefixes": self.table.fixed_line_prefixes,
            "unparsed_dates": self.table.unparsed_dates,
            "sources": sources, "warnings": warnings, "stale_lines": stale_lines,
        })
