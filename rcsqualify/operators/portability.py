"""Portability extracts and the local portability store (CONTRACT §4 step 1).

An extract maps numbers to their serving operator. Where several lines name one
number, the latest date wins if there is a date column, else the last line read
(files in the order given); numbers named with different operators count as conflicts.

Operator values, as operators and aggregators really write them (issue 13); every
spelling maps to an ARCEP code through the shipped ARCEP tables:
- ARCEP ``Mnémo`` codes in any case (``FRTE``, ``frte``);
- MAJPORTA routing prefixes with or without the leading zero: the 5-digit metropolitan
  prefixes (``06001`` or ``6001``) and the 6-digit ones (``052303`` or ``52303``);
- MCC-MNC with or without a separator (``20801``, ``208-01``, ``208 01``).
Case, surrounding blanks, separators (space, ``-``, ``.``, ``/``, ``_``) and a
spreadsheet's ``.0`` are ignored. The forms never collide in the shipped tables: a
prefix with its zero starts with 0, one without it never does, and no zero-less
prefix equals an MCC-MNC (a test keeps it so).

Mobile or fixed-line prefix: in the shipped MAJPORTA, the 5-digit prefixes (0509x-0515x,
0600x) and the 6-digit ones starting 06, 07 (0708xx: Saint-Pierre-et-Miquelon) or 0523
(overseas networks) route mobile numbers; every other 6-digit prefix (01-05, 08, 09)
routes fixed, VoIP or special numbers. A fixed-line prefix given for a mobile number is
counted (``fixed_line_prefixes``) and not used: that number falls to the next source.

An extract is unusable when more than ``max_unmapped`` (default 1 %) of its rows with a
valid number carry an operator value that maps to nothing, or a fixed-line prefix for a
mobile: the run stops (exit 2) with one line naming the file, the column, the share,
three example values (never a phone number) and the accepted forms. Below that share
the run goes on and warns with the count.

Dates (``date_portage``, ``Date``…, or a column whose cells read as dates): ISO
``YYYY-MM-DD`` (a time after it is ignored), French ``DD/MM/YYYY`` (also with ``-`` or
``.``), compact ``YYYYMMDD``; compared by day, so a same-day tie goes to the line read
last. A date that does not parse, is before 1990 or after tomorrow is counted
(``unparsed_dates``) and the row is kept with the file's date (its newest port date).
The newest port date is how fresh the data is (``newest_date``, ``age_days``); a file's
modification time says nothing about it and is never used.

Both ``--portability FILE`` and the store built by ``rcsqualify portability import``
end as the same thing: a sorted int64 array of E.164 keys and, beside it, an operator
index and a port date per key. Looking up a million contacts is then one
``np.searchsorted``.

The store is one Parquet file, sorted by key, zstd-compressed, with its provenance in
the file's key-value metadata. Chosen by measurement (benchmarks/bench_portability.py):
loading 20 M sorted keys and searchsorting 1 M contacts takes well under a second,
with no dependency beyond pyarrow, which rcsqualify already has. SQLite needs a point
query per contact or a temporary-table join, both slower at this size, and DuckDB
would add a large dependency for a single join. The store is built beside the target
under a temporary name and renamed at the end, so an interrupted import (Ctrl-C,
kill -9) leaves the previous store intact. ``import --delta`` applies daily deltas on
top of a store: per number the newest date wins (a delta read later wins a same-day
tie), a number ported back to its range holder included; the store keeps that date.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rcsqualify.contacts import ContactSource, header_key
from rcsqualify.contacts.columns import safe_names
from rcsqualify.errors import InputError
from rcsqualify.files import atomic_write
from rcsqualify.numbering.normalize import normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource, SourceStats
from rcsqualify.verdict import KIND

STORE_FORMAT = 2  # 2: a per-number date column and date metadata
_READABLE_FORMATS = (1, 2)
_META_KEY = b"rcsqualify.portability"
#: Days since 1970-01-01 of an entry without a usable date (sorts before every date).
NO_DATE = np.iinfo(np.int32).min
DEFAULT_MAX_UNMAPPED = 0.01
DEFAULT_MAX_AGE_DAYS = 30
_EARLIEST = date(1990, 1, 1)
_EPOCH = date(1970, 1, 1)
ACCEPTED_FORMS = ("ARCEP codes (FRTE, any case), routing prefixes with or without the "
                  "leading 0 (06001 or 6001, 052303 or 52303), MCC-MNC (20801 or 208-01)")
_OPERATOR_HEADER = re.compile(
    r"(operat|mnemo|codeop|network|reseau|carrier|routing|prefixe?|mccmnc|mcc|^rn$|^op$|"
    r"^opcode$|receveur|recipient)")
#: The operator that serves the number now, named as such.
_RECIPIENT_HEADER = re.compile(r"(receveur|recipient|actuel|current|serving|nouveau)")
#: Operators a number came from (the donor, the range holder): never the serving one.
_DONOR_HEADER = re.compile(r"(donneur|donor|ancien|previous|precedent|origin|initial|"
                           r"attributaire|rangeholder|detenteur)")
_DATE_HEADER = re.compile(r"(date|jour|day|horodat|timestamp|portedat|updated)")
_SAMPLE_ROWS = 2000
_MAX_SOURCES_KEPT = 1000  # provenance entries kept in a store's metadata


# -- operator values -------------------------------------------------------------------

def is_mobile_routing_prefix(prefix: str) -> bool:
    """MAJPORTA prefix (with its 0) that routes mobile numbers (see the module doc)."""
    return len(prefix) == 5 or (len(prefix) == 6 and prefix.startswith(("06", "07", "0523")))


@dataclass(frozen=True)
class OperatorVocabulary:
    """Every accepted spelling of an operator value, cleaned (see ``clean_operator_values``)."""

    codes: dict[str, str]  # spelling → ARCEP code
    fixed_line: frozenset[str]  # spellings of fixed-line routing prefixes

    @classmethod
    def from_plan(cls, plan: NumberingPlan) -> OperatorVocabulary:
        codes = {code.upper(): code for code in plan.operator_codes}
        fixed: set[str] = set()
        for prefix, code in plan.routing_prefixes.items():
            spellings = [prefix, prefix[1:]] if prefix.startswith("0") else [prefix]
            codes.update(dict.fromkeys(spellings, code))
            if not is_mobile_routing_prefix(prefix):
                fixed.update(spellings)
        codes.update(plan.mcc_mnc)
        return cls(codes=codes, fixed_line=frozenset(fixed))


def operator_mapper(plan: NumberingPlan) -> dict[str, str]:
    """Every accepted operator value → ARCEP code (codes, routing prefixes with or without
    their leading 0, MCC-MNC). Keys are cleaned values: upper case, no separators."""
    return OperatorVocabulary.from_plan(plan).codes


def clean_operator_values(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Upper case, no blanks or separators, no spreadsheet ``.0``; null → ""."""
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    cleaned = pc.utf8_upper(pc.utf8_trim_whitespace(pc.fill_null(text, "")))
    cleaned = pc.replace_substring_regex(cleaned, r"^(\d+)\.0+$", r"\1")
    cleaned = pc.replace_substring_regex(cleaned, r"[\s\-./_]", "")
    if isinstance(cleaned, pa.ChunkedArray):
        cleaned = cleaned.combine_chunks()
    return cleaned


@dataclass
class MappedOperators:
    codes: pa.Array  # ARCEP code per row, null where the value maps to nothing
    cleaned: pa.Array  # the cleaned value per row
    fixed_line: np.ndarray  # bool: the value is a fixed-line routing prefix


def map_operator_values(values: pa.Array | pa.ChunkedArray, vocab: OperatorVocabulary
                        ) -> MappedOperators:
    """Map a column of operator values; the dictionary work is on distinct values only."""
    cleaned = clean_operator_values(values)
    encoded = pc.dictionary_encode(cleaned)
    uniques = encoded.dictionary.to_pylist()
    indices = pa.array(encoded.indices)
    codes = pc.take(pa.array([vocab.codes.get(u) for u in uniques], pa.string()), indices)
    fixed = np.array([u in vocab.fixed_line for u in uniques] or [False], dtype=bool)
    idx = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return MappedOperators(codes=codes, cleaned=cleaned,
                           fixed_line=fixed[idx] if len(uniques) else np.zeros(0, bool))


def _mapped_share(column: pa.Array | pa.ChunkedArray, vocab: OperatorVocabulary) -> float:
    mapped = map_operator_values(column, vocab)
    nonempty = int(pc.sum(pc.not_equal(mapped.cleaned, "")).as_py() or 0)
    return (len(mapped.codes) - mapped.codes.null_count) / nonempty if nonempty else 0.0


def _shown(value: str) -> str:
    """An operator value fit for an error line: never a phone number, never long."""
    if value == "":
        return "(empty)"
    digits = sum(ch.isdigit() for ch in value)
    if digits > 6:
        return f"({digits}-digit value)"
    value = "".join(ch if ch.isprintable() else "?" for ch in value)
    return value if len(value) <= 16 else value[:15] + "…"


# -- dates -----------------------------------------------------------------------------

_GENERIC_DATE = (r"^(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})|"
                 r"(?P<d2>\d{1,2})[/.\-](?P<m2>\d{1,2})[/.\-](?P<y2>\d{4})|"
                 r"(?P<y3>\d{4})(?P<m3>\d{2})(?P<d3>\d{2}))(?:[T ].*)?$")


def _days(d: date) -> int:
    return (d - _EPOCH).days


def _iso(days: int | None) -> str | None:
    if days is None or days == NO_DATE:
        return None
    return (_EPOCH + timedelta(days=int(days))).isoformat()


def _ymd_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since epoch of (year, month, day) int arrays; NO_DATE where not a real date."""
    ok = (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31) & (y >= 1900) & (y <= 2200)
    months = np.where(ok, (y - 1970) * 12 + m - 1, 0).astype("datetime64[M]")
    first = months.astype("datetime64[D]")
    day = first + (np.where(ok, d, 1) - 1).astype("timedelta64[D]")
    ok &= day < (months + 1).astype("datetime64[D]")  # 31/02 is not a date
    return np.where(ok, day.astype(np.int64), NO_DATE).astype(np.int32)


def _strptime_days(s: pa.Array, fmt: str, day_at: int) -> np.ndarray:
    """Fast path for one fixed 10-character layout; NO_DATE where it does not match
    (Arrow's strptime rolls 31/02 over to March, so the day is checked back)."""
    ts = pc.strptime(s, format=fmt, unit="s", error_is_null=True)
    ok = pc.and_(pc.is_valid(ts), pc.equal(pc.utf8_length(s), 10))
    day_text = pc.utf8_slice_codeunits(s, day_at, day_at + 2)
    same_day = pc.equal(pc.day(ts), pc.cast(pc.if_else(ok, day_text, "0"), pa.int64(),
                                            safe=False))
    ok = pc.fill_null(pc.and_(ok, same_day), False)
    days = pc.cast(pc.cast(ts, pa.date32()), pa.int32()).to_numpy(zero_copy_only=False)
    okn = np.asarray(ok.to_numpy(zero_copy_only=False), bool)
    return np.where(okn, np.nan_to_num(days, nan=0).astype(np.int64), NO_DATE).astype(np.int32)


def parse_dates(values: pa.Array | pa.ChunkedArray, today: date | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(days since epoch with NO_DATE, empty-cell mask). A non-empty cell left at NO_DATE
    did not parse (or is before 1990 or after tomorrow)."""
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    s = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
    if isinstance(s, pa.ChunkedArray):
        s = s.combine_chunks()
    empty = np.asarray(pc.equal(s, "").to_numpy(zero_copy_only=False), bool)
    days = np.full(len(s), NO_DATE, np.int32)
    todo = ~empty
    for fmt, day_at in (("%Y-%m-%d", 8), ("%d/%m/%Y", 0)):
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        sub = s if len(idx) == len(s) else s.take(pa.array(idx))
        got = _strptime_days(sub, fmt, day_at)
        days[idx] = got
        todo[idx[got != NO_DATE]] = False
    if todo.any():  # other layouts: one regex, on the rest only
        idx = np.flatnonzero(todo)
        parts = pc.extract_regex(s.take(pa.array(idx)), _GENERIC_DATE)

        def num(*names: str) -> np.ndarray:
            out = np.zeros(len(idx), np.int64)
            for name in names:
                col = pc.fill_null(parts.field(name), "")
                val = pc.cast(pc.if_else(pc.equal(col, ""), "0", col), pa.int64())
                out = np.where(out == 0, np.asarray(val.to_numpy(zero_copy_only=False)), out)
            return out

        days[idx] = _ymd_days(num("y1", "y2", "y3"), num("m1", "m2", "m3"),
                              num("d1", "d2", "d3"))
    today = today or date.today()
    late = (days != NO_DATE) & ((days < _days(_EARLIEST)) | (days > _days(today) + 1))
    days[late] = NO_DATE
    return days, empty


def age_days(newest: str | None, today: date | None = None) -> int | None:
    if newest is None:
        return None
    return ((today or date.today()) - date.fromisoformat(newest)).days


def describe_dates(info: dict[str, Any], max_age: int, today: date | None = None) -> str:
    """One line on the port dates of a store or import: range, age, staleness."""
    newest, oldest = info.get("newest_date"), info.get("oldest_date")
    age = age_days(newest, today)
    if newest is None or age is None:
        return "port dates: none, age unknown (no date column, or no date parses)"
    stale = (f"; older than {max_age} days: stale (apply the missing deltas or import a "
             "newer extract)" if age > max_age else "")
    return f"port dates {oldest} to {newest}: newest {age} days old{stale}"


# -- reading extracts -------------------------------------------------------------------

def _header_rank(name: str) -> int:
    key = header_key(name)
    if _DONOR_HEADER.search(key):
        return -1
    if _OPERATOR_HEADER.search(key):
        return 2 if _RECIPIENT_HEADER.search(key) else 1
    return 0


@dataclass
class ExtractColumns:
    number: str
    operator: str
    date: str | None


def _unusable(path: object, column: str, share: float, limit: float, examples: list[str],
              option: str, fixed_line: int = 0) -> InputError:
    shown = ", ".join(repr(_shown(e)) for e in examples[:3])
    fixed = (f"{fixed_line} fixed-line routing prefixes on mobile numbers" if fixed_line
             else "")
    what = "; ".join(x for x in (f"e.g. {shown}" if shown else "", fixed) if x)
    return InputError(
        f"{path}: column {column!r}: {share:.1%} of operator values map to no usable "
        f"operator (over {option} {limit:.1%}): {what}; accepted: {ACCEPTED_FORMS}; "
        "use --portability-operator-column if another column holds them")


def choose_extract_columns(src: ContactSource, operator_column: str | None,
                           vocab: OperatorVocabulary, *, max_unmapped: float | None = None,
                           limit_option: str = "--portability-max-unmapped"
                           ) -> ExtractColumns:
    """The operator column by header and content (shares of values that map), the date
    column by header, else by content (cells that read as dates)."""
    others = [c for c in src.columns if c != src.info.column]
    sample = next(src.batches(others), None) if others else None
    if sample is not None and sample.num_rows > _SAMPLE_ROWS:
        sample = sample.slice(0, _SAMPLE_ROWS)
    shares = {name: _mapped_share(sample.column(name), vocab) if sample is not None else 0.0
              for name in others}
    if operator_column is not None:
        if operator_column not in src.columns:
            by_key = {header_key(c): c for c in src.columns}
            if header_key(operator_column) not in by_key:
                raise InputError(f"{src.info.path}: no column {operator_column!r}; columns "
                                 f"are: {', '.join(src.columns)}")
            operator_column = by_key[header_key(operator_column)]
        op = operator_column
    else:
        # content first (most values map), then the header: the serving operator's
        # column beats an unnamed one, which beats a donor's or range holder's column
        usable = [c for c in others if shares[c] >= 0.5]
        by_header = sorted((c for c in others if _header_rank(c) > 0),
                           key=lambda c: -_header_rank(c))
        if usable:
            op = max(usable, key=lambda c: (_header_rank(c), shares[c]))
        elif by_header:
            op = by_header[0]  # named like one; its share is reported below
        else:
            raise InputError(
                f"{src.info.path}: no operator column found by header or content "
                f"({ACCEPTED_FORMS}); columns are: {safe_names(list(src.columns))}; use "
                "--portability-operator-column")
    # A column whose sampled values mostly map to nothing stops the run now, with the
    # same line as after a full read, instead of after reading a large file.
    if (max_unmapped is not None and sample is not None and op in shares
            and shares[op] < 0.5 and 1 - shares[op] > max_unmapped):
        mapped = map_operator_values(sample.column(op), vocab)
        bad = pc.unique(mapped.cleaned.filter(pc.is_null(mapped.codes))).to_pylist()
        raise _unusable(src.info.path, op, 1 - shares[op], max_unmapped, bad, limit_option)
    date_col = next((c for c in others if c != op and _DATE_HEADER.search(header_key(c))),
                    None)
    if date_col is None and sample is not None:
        for name in others:
            if name == op:
                continue
            days, empty = parse_dates(sample.column(name))
            filled = int(np.count_nonzero(~empty))
            if filled and np.count_nonzero(days != NO_DATE) >= 0.8 * filled:
                date_col = name
                break
    return ExtractColumns(number=src.info.column, operator=op, date=date_col)


@dataclass
class ExtractPart:
    """One extract read: kept rows (keys, operator indices, dates) and what reading found."""

    keys: np.ndarray
    operator_index: np.ndarray  # int16 into the ``operators`` given to read_extract
    dates: np.ndarray
    stats: dict[str, Any]


def read_extract(path: Path, plan: NumberingPlan, vocab: OperatorVocabulary,
                 operators: dict[str, int], *,
                 number_column: str | None, operator_column: str | None,
                 max_unmapped: float | None = DEFAULT_MAX_UNMAPPED,
                 limit_option: str = "--portability-max-unmapped") -> ExtractPart:
    """Read one extract: invalid numbers dropped, unmapped values and fixed-line prefixes
    on mobiles counted and dropped, undated rows given the file's newest date. ARCEP
    codes become indices into ``operators`` (extended as new codes appear)."""
    stats: dict[str, Any] = {"path": str(path), "kind": "extract", "rows": 0,
                             "valid_rows": 0, "invalid_numbers": 0, "unmapped": 0,
                             "unmapped_examples": [], "fixed_line_prefixes": 0,
                             "unparsed_dates": 0, "missing_dates": 0}
    keys_parts: list[np.ndarray] = []
    op_parts: list[np.ndarray] = []
    date_parts: list[np.ndarray] = []
    undated_parts: list[np.ndarray] = []
    examples: list[str] = stats["unmapped_examples"]
    today = date.today()
    with ContactSource(str(path), column=number_column) as src:
        cols = choose_extract_columns(src, operator_column, vocab, max_unmapped=max_unmapped,
                                      limit_option=limit_option)
        stats.update({"number_column": cols.number, "operator_column": cols.operator,
                      "date_column": cols.date})
        wanted = [cols.number, cols.operator] + ([cols.date] if cols.date else [])
        for batch in src.batches(wanted):
            stats["rows"] += batch.num_rows
            norm = normalize_numbers(batch.column(0), plan)
            mapped = map_operator_values(batch.column(1), vocab)
            valid = norm.key != 0
            has_code = np.asarray(mapped.codes.is_valid().to_numpy(zero_copy_only=False), bool)
            fixed_on_mobile = valid & mapped.fixed_line & (norm.kind == KIND["mobile"])
            unmapped = valid & ~has_code
            stats["valid_rows"] += int(np.count_nonzero(valid))
            stats["invalid_numbers"] += int(np.count_nonzero(~valid))
            stats["fixed_line_prefixes"] += int(np.count_nonzero(fixed_on_mobile))
            if unmapped.any():
                stats["unmapped"] += int(np.count_nonzero(unmapped))
                if len(examples) < 5:
                    for ex in pc.unique(mapped.cleaned.filter(pa.array(unmapped))).to_pylist():
                        shown = _shown(str(ex))  # never a phone number, in any output
                        if len(examples) < 5 and shown not in examples:
                            examples.append(shown)
            keep = valid & has_code & ~fixed_on_mobile
            if cols.date:
                days, empty = parse_dates(batch.column(2), today)
                undated = days == NO_DATE
                stats["missing_dates"] += int(np.count_nonzero(keep & empty))
                stats["unparsed_dates"] += int(np.count_nonzero(keep & undated & ~empty))
            else:
                days = np.full(batch.num_rows, NO_DATE, np.int32)
                undated = np.zeros(batch.num_rows, bool)
            keys_parts.append(norm.key[keep])
            enc = pc.dictionary_encode(mapped.codes.filter(pa.array(keep)))
            local = np.array([operators.setdefault(v, len(operators))
                              for v in enc.dictionary.to_pylist()] or [0], dtype=np.int16)
            op_parts.append(local[np.asarray(enc.indices.to_numpy(zero_copy_only=False),
                                             dtype=np.int64)])
            date_parts.append(days[keep])
            undated_parts.append(undated[keep])
    dates = np.concatenate(date_parts) if date_parts else np.zeros(0, np.int32)
    dated = dates[dates != NO_DATE]
    newest = int(dated.max()) if len(dated) else None
    if newest is not None:  # a date that does not parse: the file's date
        dates[np.concatenate(undated_parts)] = newest
    stats["newest_date"] = _iso(newest)
    stats["oldest_date"] = _iso(int(dated.min()) if len(dated) else None)
    valid_rows = stats["valid_rows"]
    unusable = stats["unmapped"] + stats["fixed_line_prefixes"]
    stats["unmapped_share"] = round(unusable / valid_rows, 6) if valid_rows else 0.0
    if max_unmapped is not None and valid_rows and unusable / valid_rows > max_unmapped:
        raise _unusable(path, cols.operator, unusable / valid_rows, max_unmapped, examples,
                        limit_option, stats["fixed_line_prefixes"])
    if stats["rows"] and not valid_rows:
        raise InputError(f"{path}: column {cols.number!r} holds no valid French number: "
                         "nothing to use; name the number column (--portability-number-"
                         "column, or --number-column for 'portability import')")
    return ExtractPart(
        keys=np.concatenate(keys_parts) if keys_parts else np.zeros(0, np.int64),
        operator_index=np.concatenate(op_parts) if op_parts else np.zeros(0, np.int16),
        dates=dates, stats=stats)


# -- resolving ---------------------------------------------------------------------------

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
        return _iso(int(dated.min())), _iso(int(dated.max()))


def build_table(paths: Sequence[Path], plan: NumberingPlan, *,
                number_column: str | None = None, operator_column: str | None = None,
                max_unmapped: float | None = DEFAULT_MAX_UNMAPPED,
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


# -- the store -----------------------------------------------------------------------

def write_store(table: PortabilityTable, target: Path, *,
                previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the store beside ``target`` and rename it in place at the end.

    ``previous``: the metadata of the store a delta was applied to; its sources and row
    counts carry over, so ``portability info`` tells the whole history.
    """
    counts = np.bincount(table.operator_index.astype(np.int64), minlength=len(table.operators))
    oldest, newest = table.date_range()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    new_sources = [{**{k: v for k, v in s.items() if k != "unmapped_examples"},
                    "imported_at": now} for s in table.sources]
    prev_sources = list(previous.get("sources", [])) if previous else []
    meta = {
        "format": STORE_FORMAT, "rows": len(table.keys),
        "input_rows": table.rows + (int(previous.get("input_rows", 0)) if previous else 0),
        "imported_at": previous.get("imported_at", now) if previous else now,
        "updated_at": now,
        "oldest_date": oldest, "newest_date": newest,
        "undated": int(np.count_nonzero(table.dates == NO_DATE)),
        "deltas": (int(previous.get("deltas", 0)) + len(table.sources)) if previous else 0,
        "operators": {op: int(c) for op, c in sorted(zip(table.operators, counts, strict=True),
                                                     key=lambda x: -x[1]) if c},
        "sources": (prev_sources + new_sources)[-_MAX_SOURCES_KEPT:],
        "conflicts": table.conflicts, "duplicates": table.duplicates,
        "invalid_numbers": table.invalid_numbers, "unmapped": table.unmapped,
        "unmapped_examples": table.unmapped_examples,
        "fixed_line_prefixes": table.fixed_line_prefixes,
        "unparsed_dates": table.unparsed_dates,
    }
    undated = table.dates == NO_DATE
    arrow = pa.table({
        "key": pa.array(table.keys, pa.int64()),
        "operator": pa.DictionaryArray.from_arrays(
            pa.array(table.operator_index.astype(np.int32)), pa.array(table.operators)),
        "date": pa.array(np.where(undated, 0, table.dates).astype(np.int32),
                         mask=undated).cast(pa.date32()),
    }).replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.part"):
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)  # left by a killed import
    with atomic_write(target) as tmp:  # the old store stays whole on any failure
        pq.write_table(arrow, tmp, compression="zstd", row_group_size=1 << 20)
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
    if info.get("format") not in _READABLE_FORMATS:
        raise InputError(f"{path}: store format {info.get('format')} is not supported; "
                         "import the extracts again")
    info.setdefault("newest_date", None)
    info.setdefault("oldest_date", None)
    return info


def load_store(path: Path, *, with_dates: bool = False) -> PortabilityTable:
    info = store_info(path)
    columns = ["key", "operator"] + (["date"] if with_dates and info["format"] >= 2 else [])
    t = pq.read_table(path, columns=columns)
    op = t.column("operator").combine_chunks()
    if pa.types.is_dictionary(op.type):
        operators = op.dictionary.to_pylist()
        index = np.asarray(op.indices.to_numpy(zero_copy_only=False), dtype=np.int16)
    else:
        codes, uniques = pd.factorize(op.to_numpy(zero_copy_only=False))
        operators, index = list(uniques), codes.astype(np.int16)
    keys = np.asarray(t.column("key").to_numpy(), dtype=np.int64)
    dates = np.full(len(keys), NO_DATE, np.int32)
    if "date" in t.column_names:
        col = pc.cast(t.column("date").combine_chunks(), pa.int32())
        dates = np.asarray(pc.fill_null(col, NO_DATE).to_numpy(zero_copy_only=False),
                           dtype=np.int32)
    source = {"path": str(path), "kind": "store", "rows": int(info.get("input_rows", 0)),
              "entries": len(keys), "newest_date": info["newest_date"],
              "oldest_date": info["oldest_date"], "imported_at": info.get("imported_at"),
              "updated_at": info.get("updated_at"), "deltas": int(info.get("deltas", 0))}
    return PortabilityTable(keys=keys, operator_index=index, operators=operators, dates=dates,
                            rows=int(info.get("input_rows", len(keys))),
                            conflicts=int(info.get("conflicts", 0)), sources=[source])


def import_extracts(paths: Sequence[Path], store: Path, plan: NumberingPlan, *,
                    delta: bool = False, number_column: str | None = None,
                    operator_column: str | None = None,
                    max_unmapped: float | None = DEFAULT_MAX_UNMAPPED) -> dict[str, Any]:
    """``portability import``: build a store, or apply deltas on top of one (atomic)."""
    previous = None
    base = None
    if delta:
        if not store.exists():
            raise InputError(f"{store}: no store to apply deltas to; build it first with "
                             "'rcsqualify portability import --into' a full extract")
        previous = store_info(store)
        base = load_store(store, with_dates=True)
    table = build_table(paths, plan, number_column=number_column,
                        operator_column=operator_column, max_unmapped=max_unmapped,
                        limit_option="--max-unmapped")
    if delta:
        for src in table.sources:
            src["kind"] = "delta"
            if src["rows"] and src["newest_date"] is None:
                raise InputError(f"{src['path']}: a delta needs port dates (no date column "
                                 "found, or no date parses): the newest date must win")
        assert base is not None
        merged, changed = overlay(base, table, undated_top_wins=False)
        merged.rows = table.rows
        merged.conflicts = changed
        merged.sources = table.sources
        meta = write_store(merged, store, previous=previous)
        meta["changed"] = changed
        meta["applied"] = table.sources
        return meta
    meta = write_store(table, store)
    meta["applied"] = table.sources
    return meta


# -- the operator source ------------------------------------------------------------------

class PortabilitySource(OperatorSource):
    label = "portability"

    def __init__(self, table: PortabilityTable, origin: str, *,
                 max_age_days: int = DEFAULT_MAX_AGE_DAYS, today: date | None = None) -> None:
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
                warnings.append(f"portability: {name} has no port dates: its age is unknown; "
                                f"{entry['answered']} mobile numbers rest on it")
            elif entry["stale"]:
                stale_lines.append(
                    f"portability: {name} is {age} days old (newest port date "
                    f"{src['newest_date']}, over --portability-max-age {self.max_age_days}"
                    f"): {entry['answered']} mobile numbers rest on it and ports since "
                    "then are not known")
            if src.get("unmapped") or src.get("fixed_line_prefixes"):
                parts = []
                if src.get("unmapped"):
                    parts.append(f"{src['unmapped']} operator values map to no operator "
                                 "(e.g. " + ", ".join(
                                     _shown(e) for e in src["unmapped_examples"][:3]) + ")")
                if src.get("fixed_line_prefixes"):
                    parts.append(f"{src['fixed_line_prefixes']} mobile numbers carry a "
                                 "fixed-line routing prefix (not used)")
                warnings.append(f"portability: {name}: " + "; ".join(parts)
                                + f" ({src.get('unmapped_share', 0):.2%} of its rows); those "
                                "numbers fall back to the next source")
            if src.get("unparsed_dates"):
                warnings.append(f"portability: {name}: {src['unparsed_dates']} port dates "
                                "do not parse; those rows took the file's date")
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
