"""``-o annotated.xlsx`` (issue #26 item 5): one sheet, the input's columns first, then
the verdict columns, types kept, streamed.

Types kept (docs: "Excel files"):

- an XLSX/XLS input: each cell is written as what it was in the file — a number as a
  number, a date as a date (``yyyy-mm-dd``, with ``hh:mm:ss`` when it had a time), a
  boolean as a boolean, text as text (the reader keeps each cell's kind beside its
  text: ``contacts.cells.sheet_tables``);
- a CSV (or NDJSON, Parquet) input, whose cells the reader made text: a column is
  written as numbers when every non-empty cell is a plain number — an optional ``-``,
  digits without a leading zero (``0`` alone, ``0.5`` are fine), at most 15 of them
  before the decimal point (a double holds 15 digits exactly), an optional ``.``
  decimal part (``,`` too in a ``;``-separated file, French Excel's export), an
  optional exponent. A leading zero, a ``+``, a space or a thousands separator in any
  cell keeps the whole column text (``01000``, ``+33…``, ``1 000``). Dates and
  booleans of a CSV stay text (their spelling is the file's, not a type);
- always text: the phone columns (the checked ones and the phone-like ones named in
  the read line, even where the sheet stored them as numbers: a number must never lose
  its leading ``0`` or ``+``), every verdict column (``msisdn_e164`` is E.164 text) and
  the header row. Empty cells stay empty.

Text cells are never formulas: every text value is written as a string (XlsxWriter's
``strings_to_formulas`` off), so ``=HYPERLINK(…)`` is shown, not run, and nothing gets
the ``'`` the CSV output adds (CONTRACT §11: the CSV escape exists because a CSV has
no types). XLSX cannot hold C0 control characters (but TAB, LF, CR) nor more than
32,767 characters in a cell: such characters are removed and longer cells cut, and
the run's warnings count the cells changed.

Streaming: XlsxWriter in ``constant_memory`` mode writes each row to a temporary file
beside the output as it comes (inline strings, no shared-string table), so memory is
one batch of rows whatever the file's length; type decisions are made per column with
Arrow, the per-row Python is the write call alone (``benchmarks/bench_xlsx.py``). A
sheet holds 1,048,576 rows with the header: a longer output is refused (exit 2) before
the run when the input's row count is known (a sheet, Parquet, a table), else when the
output is written (the answers are cached by then: a ``.csv`` output costs no new
look-up).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rcsqualify.contacts import ContactSource
from rcsqualify.errors import InputError
from rcsqualify.files import atomic_write

#: rows of an XLSX sheet, its header row aside
XLSX_MAX_ROWS = 1_048_575
#: Excel's limit on the characters of a cell
MAX_CELL_CHARS = 32_767
#: What the XLSX format refuses in a cell: C0 controls but TAB, LF, CR.
XLSX_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_ILLEGAL = re.compile(XLSX_ILLEGAL)
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
#: A CSV cell that is a plain number (module docstring); ``,`` only in a ';' file.
_NUMBER_DOT = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$"
_NUMBER_COMMA = r"^-?(0|[1-9][0-9]{0,14})([.,][0-9]+)?([eE][+-]?[0-9]{1,3})?$"
#: a column written as numbers (CSV) / cell by cell as the sheet held it
_NUMERIC, _BY_CELL = "numeric", "by_cell"


def too_many_rows(path: str, rows: int) -> InputError:
    return InputError(f"--output {path}: {rows:,} rows are more than an Excel sheet holds "
                      f"({XLSX_MAX_ROWS:,} and the header); write a .csv or .parquet "
                      "file instead")


def refuse_oversized(path: str | None, source: ContactSource) -> None:
    """Before the run (no look-up spent): an ``.xlsx`` output of an input whose row
    count is exact and above a sheet's is exit 2 now."""
    if not path or not path.lower().endswith(".xlsx"):
        return
    rows = source.estimated_rows
    if source.rows_known and rows is not None and rows > XLSX_MAX_ROWS:
        raise too_many_rows(path, rows)


def _text_only(source: ContactSource) -> set[int]:
    """Positions of the input columns that are always text: the phone columns (checked
    or phone-like) and the ``extra`` column of over-long CSV rows."""
    names = set(getattr(source, "phone_columns", None) or [source.info.column])
    names.update(source.info.other_phone_columns or [])
    return {i for i, c in enumerate(source.output_columns)
            if c in names or i >= len(source.columns)}


def numeric_columns(source: ContactSource, candidates: list[int]) -> set[int]:
    """Of the input columns at ``candidates``, those whose every non-empty cell is a
    plain number (module docstring). One read of the input, by Arrow, column-wise;
    stops as soon as no candidate is left."""
    import pyarrow.compute as pc  # (this module's constants are read on every run)

    pattern = _NUMBER_COMMA if source.info.delimiter == ";" else _NUMBER_DOT
    left = {source.columns[i]: i for i in candidates}
    seen: set[str] = set()
    for batch in source.batches():
        for name in list(left):
            col = batch.column(name)
            filled = pc.fill_null(pc.greater(pc.utf8_length(col), 0), False)
            number = pc.fill_null(pc.match_substring_regex(col, pattern), False)
            if pc.any(pc.and_(filled, pc.invert(number))).as_py():
                del left[name]
            elif pc.any(filled).as_py():
                seen.add(name)
        if not left:
            break
    return {i for name, i in left.items() if name in seen}


class _Cleaner:
    """Text as XLSX can hold it: control characters removed, cells cut at 32,767
    characters; counts the cells changed."""

    def __init__(self) -> None:
        self.changed = 0

    def text(self, col: pa.Array) -> pa.Array:
        import pyarrow.compute as pc

        if not pa.types.is_string(col.type):
            col = pc.cast(col, pa.string())
        if col.null_count == len(col):
            return col
        bad = pc.fill_null(pc.match_substring_regex(col, XLSX_ILLEGAL), False)
        long = pc.fill_null(pc.greater(pc.utf8_length(col), MAX_CELL_CHARS), False)
        either = pc.or_(bad, long)
        if not pc.any(either).as_py():
            return col
        self.changed += int(pc.sum(either).as_py() or 0)
        col = pc.replace_substring_regex(col, XLSX_ILLEGAL, "")
        return pc.utf8_slice_codeunits(col, 0, MAX_CELL_CHARS)

    def name(self, value: str) -> str:
        return _ILLEGAL.sub("", value)[:MAX_CELL_CHARS]


def _numbers(col: pa.Array) -> list[Any]:
    """A numeric CSV column's cells as floats (``,`` decimals read as ``.``), empty
    cells None."""
    import pyarrow.compute as pc

    filled = pc.fill_null(pc.greater(pc.utf8_length(col), 0), False)
    dotted = pc.replace_substring(col, ",", ".")
    values = pc.cast(pc.if_else(filled, dotted, pa.scalar(None, pa.string())), pa.float64())
    return values.to_pylist()


def _date(text: str) -> Any:
    """A sheet's ISO date (or date and time) as a value XlsxWriter writes as a date;
    the text itself when Excel has no serial for it (before 1900)."""
    when = datetime.datetime.fromisoformat(text)
    if when.year < 1900:
        return text
    return when.date() if len(text) <= 10 else when


def _by_cell(col: pa.Array, kinds: np.ndarray) -> list[Any]:
    """A sheet column's cells as what each was: numbers, booleans and dates converted
    from their text (vectorized per kind), the rest text."""
    import pyarrow.compute as pc

    from rcsqualify.contacts.cells import CELL_BOOL, CELL_DATE, CELL_NUMBER

    out = np.array(col.to_pylist(), dtype=object)
    number = kinds == CELL_NUMBER
    if number.any():
        picked = col.filter(pa.array(number))
        out[number] = np.array(pc.cast(picked, pa.float64()).to_pylist(), dtype=object)
    boolean = kinds == CELL_BOOL
    if boolean.any():
        out[boolean] = np.array(pc.equal(col.filter(pa.array(boolean)), "TRUE").to_pylist(),
                                dtype=object)
    date = kinds == CELL_DATE
    if date.any():
        converted = [_date(t) for t in col.filter(pa.array(date)).to_pylist()]
        holder = np.empty(len(converted), dtype=object)
        holder[:] = converted
        out[date] = holder
    return list(out.tolist())


def write_annotated_xlsx(path: str, source: ContactSource,
                         batches: Iterator[pa.RecordBatch]) -> tuple[int, int]:
    """Write the annotated ``batches`` of ``source`` as one sheet at ``path``
    (atomically); returns (rows, cells whose text was changed to fit XLSX)."""
    width = len(source.output_columns)
    text_only = _text_only(source)
    kinds_batches = source.cell_kinds()
    kinds = None if kinds_batches is None else pa.Table.from_batches(list(kinds_batches))
    plan: dict[int, str] = {}
    if kinds is not None:
        plan = {i: _BY_CELL for i in range(min(width, kinds.num_columns))
                if i not in text_only}
    else:
        plan = dict.fromkeys(numeric_columns(
            source, [i for i in range(width) if i not in text_only]), _NUMERIC)
    import xlsxwriter  # only when an .xlsx is written: a check alone never loads it

    from rcsqualify.contacts.cells import CELL_TEXT

    cleaner = _Cleaner()
    rows = 0
    with atomic_write(path) as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), {
            "constant_memory": True, "tmpdir": str(Path(tmp).parent),
            "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "nan_inf_to_errors": True,
            "default_date_format": DATE_FORMAT})
        sheet = workbook.add_worksheet("rcsqualify")
        with_time = workbook.add_format({"num_format": DATETIME_FORMAT})

        def write_datetime(ws: Any, row: int, col: int, value: Any, *_: Any) -> Any:
            return ws.write_datetime(row, col, value, with_time)

        sheet.add_write_handler(datetime.datetime, write_datetime)
        try:
            for batch in batches:
                if rows == 0:
                    sheet.write_row(0, 0, [cleaner.name(n) for n in batch.schema.names])
                if rows + batch.num_rows > XLSX_MAX_ROWS:
                    raise too_many_rows(path, rows + batch.num_rows)
                columns = []
                for i, col in enumerate(batch.columns):
                    how = plan.get(i)
                    if how == _NUMERIC:
                        columns.append(_numbers(col))
                    elif how == _BY_CELL and kinds is not None:
                        k = kinds.column(i).slice(rows, batch.num_rows).to_numpy()
                        if (k == CELL_TEXT).all():
                            columns.append(cleaner.text(col).to_pylist())
                        else:
                            columns.append(_by_cell(cleaner.text(col), k))
                    else:
                        columns.append(cleaner.text(col).to_pylist())
                write_row = sheet.write_row
                for r, values in enumerate(zip(*columns, strict=True), start=rows + 1):
                    write_row(r, 0, values)
                rows += batch.num_rows
            with as_write_error():
                workbook.close()
        except BaseException:
            _discard(sheet)
            raise
    return rows, cleaner.changed


@contextlib.contextmanager
def as_write_error() -> Iterator[None]:
    """XLSX writers report a file they cannot write as their own exceptions: XlsxWriter
    a file it cannot create or finish, openpyxl (the ``--split-xlsx`` lists, streamed
    to a temporary file as rows come) a full disk as lxml's ``SerialisationError``. Any
    failure of that writing is a write error (exit 2, the previous file intact)."""
    try:
        yield
    except OSError:
        raise
    except Exception as exc:
        raise OSError(errno.EIO, f"the .xlsx file could not be written "
                      f"({type(exc).__name__}: a full disk?)") from exc


def _discard(sheet: Any) -> None:
    """After a failure: close and remove the temporary file XlsxWriter streams the rows
    to (personal data), rather than leaving it to the garbage collector."""
    handle = getattr(sheet, "row_data_fh", None)
    name = getattr(sheet, "row_data_filename", None)
    if handle is not None:
        with contextlib.suppress(Exception):
            handle.close()
    if name:
        with contextlib.suppress(OSError):
            Path(name).unlink()
