"""Portability extracts and the local portability store (CONTRACT §4 step 1).

An extract maps numbers to their serving operator. The operator value may be an ARCEP
code (``FRTE``), a MAJPORTA routing prefix (``06001``) or an MCC-MNC (``20801``); all
map to an ARCEP code through the shipped ARCEP tables. Where several lines name one
number, the latest date wins if there is a date column, else the last line read
(files in the order given); numbers named with different operators count as conflicts.

Both ``--portability FILE`` and the store built by ``rcsqualify portability import``
end as the same thing: a sorted int64 array of E.164 keys and, beside it, an operator
index per key. Looking up a million contacts is then one ``np.searchsorted``.

The store is one Parquet file, sorted by key, zstd-compressed, with its provenance in
the file's key-value metadata. Chosen by measurement (benchmarks/bench_portability.py):
loading 20 M sorted keys and searchsorting 1 M contacts takes well under a second,
with no dependency beyond pyarrow, which rcsqualify already has. SQLite needs a point
query per contact or a temporary-table join, both slower at this size, and DuckDB
would add a large dependency for a single join. The store is built beside the target
under a temporary name and renamed at the end, so an interrupted import (Ctrl-C,
kill -9) leaves the previous store intact.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rcsqualify.contacts import ContactSource, _header_key
from rcsqualify.errors import InputError
from rcsqualify.numbering.normalize import normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource, SourceStats
from rcsqualify.settings import Settings

STORE_FORMAT = 1
_META_KEY = b"rcsqualify.portability"
_OPERATOR_HEADER = re.compile(
    r"(operat|mnemo|codeop|network|reseau|carrier|routing|prefixe?|mccmnc|mcc|^rn$|^op$|"
    r"^opcode$|receveur|recipient|attributaire)")
_DATE_HEADER = re.compile(r"(date|jour|day|horodat|timestamp|portedat|updated)")


def operator_mapper(plan: NumberingPlan) -> dict[str, str]:
    """Every accepted operator value → ARCEP code (codes, routing prefixes, MCC-MNC)."""
    mapping = {code: code for code in plan.operator_codes}
    mapping.update(plan.routing_prefixes)
    mapping.update(plan.mcc_mnc)
    return mapping


def map_operator_values(values: pa.Array, mapping: dict[str, str]) -> tuple[pa.Array, pa.Array]:
    """(ARCEP code or null, the original value) per row; mapped on distinct values only."""
    cleaned = pc.utf8_upper(pc.utf8_trim_whitespace(pc.fill_null(values, "")))
    cleaned = pc.replace_substring_regex(cleaned, r"[\s\-]", "")
    encoded = pc.dictionary_encode(cleaned).combine_chunks() if isinstance(
        cleaned, pa.ChunkedArray) else pc.dictionary_encode(cleaned)
    uniques = encoded.dictionary.to_pylist()
    mapped = pa.array([mapping.get(u) for u in uniques], pa.string())
    return pc.take(mapped, encoded.indices), cleaned


def _parse_dates(values: pa.Array) -> np.ndarray:
    """Dates as int64 days since epoch (NaT → minimum), ISO or French dd/mm/yyyy."""
    s = pd.Series(values.to_pandas(), dtype="str").fillna("")
    sample = s[s != ""].head(50)
    if sample.empty:
        return np.full(len(s), np.iinfo(np.int64).min)
    if sample.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        parsed = pd.to_datetime(s, errors="coerce", format="ISO8601", utc=True)
    elif sample.str.match(r"^\d{2}/\d{2}/\d{4}").all():
        parsed = pd.to_datetime(s.str.slice(0, 10), errors="coerce", format="%d/%m/%Y",
                                utc=True)
    else:
        parsed = pd.to_datetime(s, errors="coerce", dayfirst=True, format="mixed", utc=True)
    ns = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.where(parsed.isna().to_numpy(), np.iinfo(np.int64).min, ns)


@dataclass
class ExtractColumns:
    number: str
    operator: str
    date: str | None


def choose_extract_columns(src: ContactSource, operator_column: str | None,
                           mapping: dict[str, str]) -> ExtractColumns:
    others = [c for c in src.columns if c != src.info.column]
    if operator_column is not None:
        if operator_column not in src.columns:
            raise InputError(f"{src.info.path}: no column {operator_column!r}; columns are: "
                             f"{', '.join(src.columns)}")
        op = operator_column
    else:
        by_header = [c for c in others if _OPERATOR_HEADER.search(_header_key(c))]
        candidates = by_header or others
        sample = next(src.batches(candidates), None)
        best, best_share = "", 0.0
        if sample is not None:
            for name in candidates:
                mapped, raw = map_operator_values(sample.column(name), mapping)
                nonempty = pc.sum(pc.not_equal(raw, "")).as_py() or 0
                share = (len(mapped) - mapped.null_count) / nonempty if nonempty else 0.0
                if share > best_share:
                    best, best_share = name, share
        if not best or (best_share < 0.5 and not by_header):
            raise InputError(
                f"{src.info.path}: no operator column found (ARCEP code, routing prefix or "
                f"MCC-MNC); columns are: {', '.join(src.columns)}; use "
                "--portability-operator-column")
        op = best
    dates = [c for c in others if c != op and _DATE_HEADER.search(_header_key(c))]
    return ExtractColumns(number=src.info.column, operator=op, date=dates[0] if dates else None)


@dataclass
class PortabilityTable:
    """Sorted keys → operator index, plus what building it found."""

    keys: np.ndarray  # int64, sorted, unique
    operator_index: np.ndarray  # int16 into operators
    operators: list[str]
    rows: int = 0
    invalid_numbers: int = 0
    unmapped: int = 0
    unmapped_examples: list[str] = field(default_factory=list)
    conflicts: int = 0
    duplicates: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        out = np.full(len(keys), "", dtype=object)
        if len(self.keys) == 0 or len(keys) == 0:
            return out
        pos = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        hit = self.keys[pos] == keys
        ops = np.array(self.operators, dtype=object)
        out[hit] = ops[self.operator_index[pos[hit]]]
        return out


def _extract_batches(path: Path, plan: NumberingPlan, mapping: dict[str, str], *,
                     number_column: str | None, operator_column: str | None,
                     stats: dict[str, Any]
                     ) -> Iterator[tuple[np.ndarray, pa.Array, np.ndarray]]:
    """(keys, ARCEP codes, dates) per batch of one extract; invalid rows dropped, counted."""
    with ContactSource(str(path), column=number_column) as src:
        cols = choose_extract_columns(src, operator_column, mapping)
        stats.update({"path": str(path), "number_column": cols.number,
                      "operator_column": cols.operator, "date_column": cols.date})
        wanted = [cols.number, cols.operator] + ([cols.date] if cols.date else [])
        rows = 0
        for batch in src.batches(wanted):
            rows += batch.num_rows
            norm = normalize_numbers(batch.column(0), plan)
            mapped, raw = map_operator_values(batch.column(1), mapping)
            valid_num = norm.key != 0
            has_op = np.asarray(mapped.is_valid().to_numpy(zero_copy_only=False), bool)
            stats["invalid_numbers"] += int(np.count_nonzero(~valid_num))
            bad_op = valid_num & ~has_op
            if bad_op.any():
                stats["unmapped"] += int(np.count_nonzero(bad_op))
                examples = pc.unique(raw.filter(pa.array(bad_op))).to_pylist()
                for ex in examples:
                    if len(stats["unmapped_examples"]) < 5 and ex not in stats[
                            "unmapped_examples"]:
                        stats["unmapped_examples"].append(ex if ex else "(empty)")
            keep = valid_num & has_op
            dates = (_parse_dates(batch.column(2)) if cols.date
                     else np.full(batch.num_rows, np.iinfo(np.int64).min))
            yield norm.key[keep], mapped.filter(pa.array(keep)), dates[keep]
        stats["rows"] = rows


def build_table(paths: Sequence[Path], plan: NumberingPlan, *,
                number_column: str | None = None, operator_column: str | None = None
                ) -> PortabilityTable:
    """Read extracts in the order given and resolve each number to one operator."""
    mapping = operator_mapper(plan)
    keys_parts: list[np.ndarray] = []
    op_parts: list[np.ndarray] = []
    date_parts: list[np.ndarray] = []
    vocab: dict[str, int] = {}
    sources: list[dict[str, Any]] = []
    total = dict(invalid_numbers=0, unmapped=0)
    examples: list[str] = []
    for path in paths:
        stats: dict[str, Any] = {"invalid_numbers": 0, "unmapped": 0, "unmapped_examples": []}
        for keys, ops, dates in _extract_batches(
                path, plan, mapping, number_column=number_column,
                operator_column=operator_column, stats=stats):
            enc = pc.dictionary_encode(ops)
            local = [vocab.setdefault(v, len(vocab)) for v in enc.dictionary.to_pylist()]
            idx = np.asarray(local, dtype=np.int16)[
                np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
            keys_parts.append(keys)
            op_parts.append(idx)
            date_parts.append(dates)
        sources.append(stats)
        total["invalid_numbers"] += stats["invalid_numbers"]
        total["unmapped"] += stats["unmapped"]
        examples += [e for e in stats["unmapped_examples"] if e not in examples]
    keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, np.int64)
    ops = np.concatenate(op_parts) if op_parts else np.zeros(0, np.int16)
    dates = np.concatenate(date_parts) if date_parts else np.zeros(0, np.int64)
    rows = sum(int(s.get("rows", 0)) for s in sources)
    table = resolve(keys, ops, dates, list(vocab))
    table.rows = rows
    table.invalid_numbers = total["invalid_numbers"]
    table.unmapped = total["unmapped"]
    table.unmapped_examples = examples[:5]
    table.sources = sources
    return table


def resolve(keys: np.ndarray, ops: np.ndarray, dates: np.ndarray, operators: list[str]
            ) -> PortabilityTable:
    """One operator per number: sort by (key, date, read order); the last of each key wins.

    Read order is the position in the concatenation, so with equal (or no) dates the
    last line read wins, files in the order given.
    """
    n = len(keys)
    if n == 0:
        return PortabilityTable(keys=keys, operator_index=ops, operators=operators)
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
    return PortabilityTable(keys=k[last], operator_index=o[last].astype(np.int16),
                            operators=operators, conflicts=conflicts,
                            duplicates=int(n - np.count_nonzero(last)))


# -- the store -----------------------------------------------------------------------

def write_store(table: PortabilityTable, target: Path) -> dict[str, Any]:
    """Write the store beside ``target`` and rename it in place at the end."""
    counts = np.bincount(table.operator_index.astype(np.int64), minlength=len(table.operators))
    meta = {
        "format": STORE_FORMAT, "rows": len(table.keys), "input_rows": table.rows,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "operators": {op: int(c) for op, c in sorted(zip(table.operators, counts, strict=True),
                                                     key=lambda x: -x[1]) if c},
        "sources": [{k: v for k, v in s.items() if k != "unmapped_examples"}
                    for s in table.sources],
        "conflicts": table.conflicts, "duplicates": table.duplicates,
        "invalid_numbers": table.invalid_numbers, "unmapped": table.unmapped,
        "unmapped_examples": table.unmapped_examples,
    }
    arrow = pa.table({
        "key": pa.array(table.keys, pa.int64()),
        "operator": pa.DictionaryArray.from_arrays(
            pa.array(table.operator_index.astype(np.int32)), pa.array(table.operators)),
    }).replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.part"):
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)  # left by a killed import
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        pq.write_table(arrow, tmp, compression="zstd", row_group_size=1 << 20)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return meta


def store_info(path: Path) -> dict[str, Any]:
    try:
        md = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: not a portability store ({exc})") from exc
    if _META_KEY not in md:
        raise InputError(f"{path}: not a portability store built by 'rcsqualify portability "
                         "import'")
    info: dict[str, Any] = json.loads(md[_META_KEY])
    if info.get("format") != STORE_FORMAT:
        raise InputError(f"{path}: store format {info.get('format')} is not supported; "
                         "import the extracts again")
    return info


def load_store(path: Path) -> PortabilityTable:
    info = store_info(path)
    t = pq.read_table(path)
    op = t.column("operator").combine_chunks()
    if pa.types.is_dictionary(op.type):
        operators = op.dictionary.to_pylist()
        index = np.asarray(op.indices.to_numpy(zero_copy_only=False), dtype=np.int16)
    else:
        codes, uniques = pd.factorize(op.to_numpy(zero_copy_only=False))
        operators, index = list(uniques), codes.astype(np.int16)
    keys = np.asarray(t.column("key").to_numpy(), dtype=np.int64)
    return PortabilityTable(keys=keys, operator_index=index, operators=operators,
                            rows=int(info.get("input_rows", len(keys))),
                            conflicts=int(info.get("conflicts", 0)),
                            sources=info.get("sources", []))


class PortabilitySource(OperatorSource):
    label = "portability"

    def __init__(self, table: PortabilityTable, origin: str) -> None:
        super().__init__()
        self.table = table
        self.stats = SourceStats(
            unmapped=table.unmapped, unmapped_examples=list(table.unmapped_examples),
            conflicts=table.conflicts,
            extra={"origin": origin, "entries": len(table.keys),
                   "extract_rows": table.rows, "invalid_numbers": table.invalid_numbers,
                   "duplicates": table.duplicates},
        )

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        out = self.table.lookup(keys)
        self.stats.asked += len(keys)
        self.stats.answered += int(np.count_nonzero(out != ""))
        return out


def build_portability_source(s: Settings, plan: NumberingPlan) -> PortabilitySource:
    if s.portability_db and s.portability:
        extra = build_table(s.portability, plan, number_column=s.portability_number_column,
                            operator_column=s.portability_operator_column)
        base = load_store(s.portability_db)
        table = _merge(base, extra)
        return PortabilitySource(table, f"{s.portability_db} + extracts")
    if s.portability_db:
        return PortabilitySource(load_store(s.portability_db), str(s.portability_db))
    table = build_table(s.portability, plan, number_column=s.portability_number_column,
                        operator_column=s.portability_operator_column)
    return PortabilitySource(table, ", ".join(str(p) for p in s.portability))


def _merge(base: PortabilityTable, extra: PortabilityTable) -> PortabilityTable:
    """Extracts given on the command line win over the store (they are read after it)."""
    vocab = {op: i for i, op in enumerate(base.operators)}
    remap = np.array([vocab.setdefault(op, len(vocab)) for op in extra.operators] or [0],
                     dtype=np.int16)
    keys = np.concatenate([base.keys, extra.keys])
    ops = np.concatenate([base.operator_index, remap[extra.operator_index]])
    dates = np.zeros(len(keys), np.int64)
    merged = resolve(keys, ops, dates, list(vocab))
    merged.rows = base.rows + extra.rows
    merged.unmapped, merged.unmapped_examples = extra.unmapped, extra.unmapped_examples
    merged.invalid_numbers = extra.invalid_numbers
    return merged
