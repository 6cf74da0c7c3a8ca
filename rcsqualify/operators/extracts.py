"""Reading one portability extract: which columns, which rows are kept, what is counted.

An extract maps numbers to their serving operator. Where several lines name one
number, the latest date wins if there is a date column, else the last line read
(files in the order given); numbers named with different operators count as conflicts.

An extract is unusable when more than ``max_unmapped`` (default 1 %) of its rows with a
valid number carry an operator value that maps to nothing, or a fixed-line prefix for a
mobile: the run stops (exit 2) with one line naming the file, the column, the share,
three example values (never a phone number) and the accepted forms. Below that share
the run goes on and warns with the count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rcsqualify.contacts import ContactSource, header_key
from rcsqualify.contacts.columns import safe_names
from rcsqualify.defaults import PORTABILITY_MAX_UNMAPPED
from rcsqualify.errors import InputError
from rcsqualify.numbering.normalize import normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.port_dates import NO_DATE, iso_date, parse_dates
from rcsqualify.operators.vocabulary import (
    ACCEPTED_FORMS,
    OperatorVocabulary,
    map_operator_values,
    shown_value,
)
from rcsqualify.verdict import KIND

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


def _mapped_share(column: pa.Array | pa.ChunkedArray, vocab: OperatorVocabulary) -> float:
    mapped = map_operator_values(column, vocab)
    nonempty = int(pc.sum(pc.not_equal(mapped.cleaned, "")).as_py() or 0)
    return (len(mapped.codes) - mapped.codes.null_count) / nonempty if nonempty else 0.0


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
    shown = ", ".join(repr(shown_value(e)) for e in examples[:3])
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
                 max_unmapped: float | None = PORTABILITY_MAX_UNMAPPED,
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
    # its operator/date columns are chosen after opening, by content: a sheet's columns
    # right of the header stay columns (not folded into ``extra``)
    with ContactSource(str(path), column=number_column, fold_past_header=False) as src:
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
                        shown = shown_value(str(ex))  # never a phone number, in any output
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
    stats["newest_date"] = iso_date(newest)
    stats["oldest_date"] = iso_date(int(dated.min()) if len(dated) else None)
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
