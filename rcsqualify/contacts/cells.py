"""Cells as text, exactly as the file holds them (CONTRACT §11).

A number must never become an int or a float on the way in (a float loses the leading
0, or worse, digits), so every reader hands over strings:
- CSV cells as they are;
- NDJSON numbers as their literal (a 30-digit id, ``1e20``, ``2.50``), booleans
  ``true``/``false``, nested values as compact JSON;
- Parquet integers of any width as digits, floats that are whole numbers under 10^16
  without ``.0`` and other floats as Arrow prints them (``1e+20``, ``inf``, ``0.1``),
  NaN as a missing cell;
- XLSX/XLS numbers likewise (a whole float is the spreadsheet's storage, not the
  user's ``.0``), booleans ``TRUE``/``FALSE`` as Excel shows them.

What a sheet cell was (text, number, boolean, date) is kept beside its text, one byte a
cell (``sheet_tables``, ``CELL_KINDS``): the ``.xlsx`` annotated output writes a number
back as a number and a date as a date (issue #26 item 5), never by guessing from text.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Whole floats under this are written without ``.0`` (exact in a double up to 2**53).
WHOLE_FLOAT_LIMIT = 1e16


#: What a sheet cell held, beside its text: an ``int8`` code a cell (``sheet_tables``).
CELL_TEXT, CELL_NUMBER, CELL_BOOL, CELL_DATE = 0, 1, 2, 3
CELL_KINDS = ("text", "number", "boolean", "date")


class SheetDate(str):
    """A sheet's date cell, as its ISO text (``2025-03-01``, ``2025-03-01 08:30:00``, a
    time of day alone ``08:30:00``):
    text like any cell for the check, marked so that an ``.xlsx`` output writes a date."""

    __slots__ = ()


#: The kind code of a sheet value, by its exact class (``bool`` before ``int``).
_KIND_OF: dict[type, int] = {int: CELL_NUMBER, float: CELL_NUMBER, bool: CELL_BOOL,
                             SheetDate: CELL_DATE}


class JsonNumber(str):
    """A JSON number kept as the literal text of the file (``json.loads`` hook)."""

    __slots__ = ()


def json_text(value: Any) -> str | None:
    """A JSON value as text: strings as they are, numbers as their literal, booleans
    ``true``/``false``, objects and arrays as compact JSON with literal numbers."""
    if value is None:
        return None
    if isinstance(value, JsonNumber):
        return str.__str__(value)
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _json_nested(v)
                              for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_nested(v) for v in value) + "]"
    return str(value)


def _json_nested(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str) and not isinstance(value, JsonNumber):
        return json.dumps(value, ensure_ascii=False)
    return json_text(value) or "null"


def exact_as_text(t: pa.DataType) -> bool:
    """Arrow types whose cast to text gives back what the NDJSON file says."""
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t)
                or pa.types.is_null(t) or pa.types.is_integer(t))


def _float_text(col: pa.Array) -> pa.Array:
    """Floats as text: whole numbers under 10^16 as digits (no ``.0``); the others,
    and inf, as Arrow prints them (``1e+20``, ``inf``, ``0.1``). A NaN is a missing
    cell, as pandas means it (an Arrow table built without ``from_pandas`` keeps NaN
    apart from null): the text ``nan`` was read as a number that is not one
    (``not_a_number``) where a DataFrame's NaN is ``empty``."""
    col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
    whole = pc.and_(pc.equal(pc.floor(col), col),
                    pc.less(pc.abs(col), pa.scalar(WHOLE_FLOAT_LIMIT, col.type)))
    whole = pc.fill_null(whole, False)
    as_int = pc.cast(pc.if_else(whole, col, pa.scalar(0, col.type)), pa.int64())
    return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(col, pa.string()))


def as_strings(batch: pa.RecordBatch, names: list[str] | None = None) -> pa.RecordBatch:
    """Every column as text (see the module docstring: values exactly as read)."""
    arrays = []
    for col in batch.columns:
        if pa.types.is_string(col.type):
            arrays.append(_unicode(col))
        elif pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type):
            arrays.append(_unicode(pc.cast(col, pa.string())))
        elif pa.types.is_floating(col.type):
            arrays.append(_float_text(col))
        elif (pa.types.is_nested(col.type) or pa.types.is_binary(col.type)
              or pa.types.is_large_binary(col.type)):
            arrays.append(pa.array([_python_text(v) for v in col.to_pylist()], pa.string()))
        else:
            try:
                arrays.append(pc.cast(col, pa.string()))
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
                arrays.append(pa.array([_python_text(v) for v in col.to_pylist()],
                                       pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=names or batch.schema.names)


def _unicode(col: pa.Array) -> pa.Array:
    """``col`` as valid UTF-8. Arrow does not check a Parquet file's strings when it
    reads them: bytes that are no UTF-8 went on into every output (an ``.xlsx`` whose
    sheet no XML parser reads, a CSV no decoder reads). They become U+FFFD, as a
    decoder's ``replace`` makes them (a check of the whole column, Python only then)."""
    try:
        col.validate(full=True)
        return col
    except pa.ArrowInvalid:
        raw = pc.cast(col, pa.binary()).to_pylist()
        return pa.array([None if b is None else b.decode("utf-8", "replace") for b in raw],
                        pa.string())


def _python_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _sheet_text(v: Any) -> str | None:
    """A sheet cell as text: as Excel shows a General cell, without a float's ``.0``."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < WHOLE_FLOAT_LIMIT:
            return str(int(v))
        return repr(v)
    return str(v)


def rows_to_table(rows: Iterator[tuple[Any, ...]]) -> pa.Table | None:
    """Sheet rows (Python values) → a table of strings, the first non-blank row included
    (the caller decides whether it is a header); None if the sheet is empty."""
    tables = sheet_tables(rows)
    return None if tables is None else tables.table


@dataclass
class SheetTables:
    """A sheet read as text (``sheet_tables``): its non-blank rows, the kind of each
    cell beside, and the sheet row number of each (as Excel numbers it in the margin)."""

    table: pa.Table
    #: ``CELL_*`` ``int8`` codes, same shape and names; None when every cell is text
    kinds: pa.Table | None
    #: per row of ``table``: its 1-based sheet row (blank rows above count)
    numbers: np.ndarray


def _blank(row: tuple[Any, ...]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def sheet_tables(rows: Iterator[tuple[Any, ...]], numbers: Iterable[int] | None = None
                 ) -> SheetTables | None:
    """``rows_to_table``'s table, the kind of every cell beside it, and each row's sheet
    row number (``numbers``, aligned with ``rows``; default: the rows are every row of
    the sheet from row 1, blank ones included, as xlrd gives them). None when the
    sheet holds no non-blank row. Fully blank rows are formatting, not contacts (as in
    CSV): left out, their numbers with them."""
    counted = iter(numbers) if numbers is not None else itertools.count(1)
    first: tuple[Any, ...] | None = None
    kept: list[int] = []
    for row, number in zip(rows, counted, strict=False):
        if not _blank(row):
            first = row
            kept.append(number)
            break
    if first is None:
        return None
    width = len(first)
    data: list[list[str | None]] = [[] for _ in range(width)]
    kinds: list[list[int]] = [[] for _ in range(width)]
    kind_of = _KIND_OF.get
    typed = False
    for row, number in itertools.chain([(first, 0)], zip(rows, counted, strict=False)):
        if number and _blank(row):
            continue  # a fully blank sheet row is formatting, not a contact (as in CSV)
        if number:
            kept.append(number)
        if len(row) > width and any(v is not None for v in row[width:]):
            data.extend([None] * len(data[0]) for _ in range(len(row) - width))
            kinds.extend([CELL_TEXT] * len(kinds[0]) for _ in range(len(row) - width))
            width = len(row)
        for i in range(width):
            v = row[i] if i < len(row) else None
            data[i].append(_sheet_text(v))
            kind = kind_of(type(v), CELL_TEXT)
            kinds[i].append(kind)
            typed = typed or kind != CELL_TEXT
    names = [f"column_{i + 1}" for i in range(width)]
    table = pa.Table.from_arrays([pa.array(col, pa.string()) for col in data], names=names)
    kind_table = None if not typed else pa.Table.from_arrays(
        [pa.array(k, pa.int8()) for k in kinds], names=names)
    return SheetTables(table, kind_table, np.array(kept, dtype=np.int64))
