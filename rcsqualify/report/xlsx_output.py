"""``-o annotated.xlsx`` (issue #26 item 5): one sheet, the input's columns first, then
the verdict columns, types kept, streamed.

Types kept (docs: "Excel files"):

- an XLSX/XLS input: each cell is written as what it was in the file — a number as a
  number, a date as a date (``yyyy-mm-dd``, with ``hh:mm:ss`` when it had a time; a
  time of day alone as a time, ``hh:mm:ss``), a boolean as a boolean, text as text
  (the reader keeps each cell's kind beside its text: ``contacts.cells.sheet_tables``);
- a CSV (or NDJSON, Parquet) input, whose cells the reader made text: a column is
  written as numbers when every non-empty cell is a plain number — an optional ``-``,
  digits without a leading zero (``0`` alone, ``0.5`` are fine), at most 15 of them
  before the decimal point (a double holds 15 digits exactly), an optional ``.``
  decimal part (``,`` too in a ``;``-separated file, French Excel's export), an
  optional exponent of one or two digits (``1e999`` is no double: Excel would refuse
  the sheet), and a double holding it exactly (``_exact_numbers``: at most 15
  significant digits, or a double's own spelling). A leading zero, a ``+``, a space
  or a thousands separator in any cell keeps the whole column text (``01000``,
  ``+33…``, ``1 000``). Dates and booleans of a CSV stay text (their spelling is
  the file's, not a type);
- always text: the phone columns (the checked ones and the phone-like ones named in
  the read line, even where the sheet stored them as numbers: a number must never lose
  its leading ``0`` or ``+``), every verdict column (``msisdn_e164`` is E.164 text) and
  the header row. Empty cells stay empty.

Text cells are never formulas: a text value is written as an inline string cell
(``t="inlineStr"``), never as ``<f>``, so ``=HYPERLINK(…)`` is shown, not run, and
nothing gets the ``'`` the CSV output adds (CONTRACT §11: the CSV escape exists because
a CSV has no types). XLSX cannot hold C0 control characters (but TAB, LF, CR), U+FFFE
or U+FFFF, nor more than 32,767 characters in a cell: such characters are removed and
longer cells cut, and the run's warnings count the cells changed.

How it is written, and why: per-cell writers cost microseconds a cell in Python. On
100,000 rows × 14 columns (``benchmarks/bench_xlsx.py``, CPU seconds of the writing):
openpyxl's write-only mode 16.4 s, XlsxWriter's ``constant_memory`` mode 7.1 s, this
module 0.8 s. So the workbook's parts Excel is particular about (content types,
relationships, styles with the two date formats, theme, properties) are made by
XlsxWriter, and only the rows of ``sheet1.xml`` are ours: built column-wise by Arrow,
16,384 rows at a time, in XlsxWriter's own cell syntax (inline strings, its
``_xHHHH_`` escape; a test compares the XML of our text cells with XlsxWriter's),
staged in an unnamed temporary file beside the output (as XlsxWriter's
``constant_memory`` mode does), then zipped at deflate level 1 (level 6 took 3.5 times
the CPU for a file 17 % smaller) with ZIP64 only when the sheet's XML passes 2 GiB
(Python's ``zipfile`` cannot decide that while streaming; ZIP64 records are where
Excel's zip reader is known to be particular: Apache POI bug 57342). Memory is one
slice of rows whatever the file's length.
A sheet holds 1,048,576 rows with the header: a longer output is
refused (exit 2) before the run when the input's row count is known (a sheet, Parquet,
a table) or, for a CSV or NDJSON, when its estimated rows come near the limit (they are
then counted: ``refuse_oversized``); else before anything is written once the check has
counted the rows (the answers are cached by then: a ``.csv`` output costs no new
look-up).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import io
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa

from rcsqualify.contacts import ContactSource
from rcsqualify.contacts.columns import VERDICT_COLUMNS
from rcsqualify.errors import InputError
from rcsqualify.files import atomic_write

#: rows of an XLSX sheet, its header row aside
XLSX_MAX_ROWS = 1_048_575
#: columns of an XLSX sheet (A to XFD)
XLSX_MAX_COLUMNS = 16_384
#: Excel's limit on the characters of a cell
MAX_CELL_CHARS = 32_767
#: What the XLSX format refuses in a cell: C0 controls but TAB, LF, CR, and the two
#: noncharacters XML forbids, U+FFFE and U+FFFF (one makes the whole sheet unreadable).
#: The same pattern serves Python's re and Arrow's RE2: the noncharacters are literal.
XLSX_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f" + "\ufffe\uffff]"
_ILLEGAL = re.compile(XLSX_ILLEGAL)
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
TIME_FORMAT = "hh:mm:ss"
#: A CSV cell that is a plain number (module docstring); ``,`` only in a ';' file.
_NUMBER_DOT = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]+)?([eE][+-]?[0-9]{1,2})?$"
_NUMBER_COMMA = r"^-?(0|[1-9][0-9]{0,14})([.,][0-9]+)?([eE][+-]?[0-9]{1,2})?$"
#: a column written as numbers (CSV) / cell by cell as the sheet held it
_NUMERIC, _BY_CELL = "numeric", "by_cell"


def too_many_columns(path: str, columns: int) -> InputError:
    return InputError(f"--output {path}: {columns:,} columns are more than an Excel sheet "
                      f"holds ({XLSX_MAX_COLUMNS:,}, column XFD); write a .csv or .parquet "
                      "file instead")


def too_many_rows(path: str, rows: int) -> InputError:
    return InputError(f"--output {path}: {rows:,} rows are more than an Excel sheet holds "
                      f"({XLSX_MAX_ROWS:,} and the header); write a .csv or .parquet "
                      "file instead")


#: A CSV/NDJSON whose estimated rows pass this is counted before the run (an estimate
#: from the first 256 KB can be off either way).
COUNT_ABOVE = XLSX_MAX_ROWS // 2


def refuse_oversized(path: str | None, source: ContactSource) -> None:
    """Before the run (no look-up spent): an ``.xlsx`` output of more rows than a
    sheet holds is exit 2 now. A sheet's or Parquet's count is exact; a CSV's (NDJSON's)
    is an estimate, so one near or above the limit is counted by a read of one column
    (about a second a million rows); a far smaller estimate is trusted, the writer
    still refusing an over-long output before writing anything."""
    if not path or not path.lower().endswith(".xlsx"):
        return
    if (width := len(source.output_columns) + len(VERDICT_COLUMNS)) > XLSX_MAX_COLUMNS:
        raise too_many_columns(path, width)
    rows = source.estimated_rows
    if rows is None:
        return
    if not source.rows_known:
        if rows <= COUNT_ABOVE:
            return
        rows = sum(b.num_rows for b in source.batches([source.info.column]))
    if rows > XLSX_MAX_ROWS:
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
            number = _exact_numbers(col, pattern)
            if pc.any(pc.and_(filled, pc.invert(number))).as_py():
                del left[name]
            elif pc.any(filled).as_py():
                seen.add(name)
        if not left:
            break
    return {i for name, i in left.items() if name in seen}


#: A double keeps any decimal of 15 significant digits (DBL_DIG): more and Excel's
#: number is not the text (``123456789012345.678``, ``0.12345678901234567``).
_EXACT_DIGITS = 15


def _exact_numbers(col: pa.Array, pattern: str) -> pa.Array:
    """Which cells of ``col`` are plain numbers (``pattern``) a double holds exactly:
    at most 15 significant digits, or a double's own shortest spelling (a Parquet
    float's ``0.30000000000000004``) — never a decimal whose digits Excel would round."""
    import pyarrow.compute as pc

    number = pc.fill_null(pc.match_substring_regex(col, pattern), False)
    if not pc.any(number).as_py():
        return number
    dotted = pc.replace_substring(pc.if_else(number, col, _scalar("0")), ",", ".")
    digits = pc.replace_substring_regex(
        pc.replace_substring_regex(dotted, r"[eE].*$|[^0-9]", ""), r"^0+", "")
    few = pc.less_equal(pc.utf8_length(digits), _EXACT_DIGITS)
    spelled = pc.equal(pc.cast(pc.cast(dotted, pa.float64()), pa.large_string()),
                       pc.cast(dotted, pa.large_string()))
    return pc.and_(number, pc.or_(few, spelled))


#: Cell kinds as written (``_cells``): empty, text, number, boolean, date, date-time,
#: time of day.
_EMPTY, _TEXT, _NUM, _BOOL, _DAY, _MOMENT, _CLOCK = range(7)
#: Rows turned into XML at a time (bounds the memory of one step).
_SLICE_ROWS = 16_384
_SHEET_PART = "xl/worksheets/sheet1.xml"


def _scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


class _Cleaner:
    """Text as XLSX can hold it: control characters removed, cells cut at 32,767
    characters as Excel counts them (UTF-16 units: ``_fit``; counted), then escaped
    for XML — ``&``, ``<``, ``>``, and an ``_`` that starts ``_xHHHH_``, which Excel
    would read as an escaped character (XlsxWriter's rule: ``_x005F_`` is the ``_``),
    and a CR as ``_x000D_`` (an XML parser reads a literal CR as LF)."""

    def __init__(self) -> None:
        self.changed = 0

    def text(self, col: pa.Array) -> pa.Array:
        """``col`` as XML-ready large strings, nulls kept."""
        import pyarrow.compute as pc

        col = pc.cast(col, pa.large_string())
        if col.null_count == len(col):
            return col
        bad = pc.fill_null(pc.match_substring_regex(col, XLSX_ILLEGAL), False)
        # a cell of more UTF-16 units than Excel holds has more UTF-8 bytes too: only
        # those (rare) are measured exactly, in Python
        long = pc.fill_null(pc.greater(pc.binary_length(col), MAX_CELL_CHARS), False)
        if pc.any(pc.or_(bad, long)).as_py():
            changed = bad.to_numpy(zero_copy_only=False).copy()
            col = pc.replace_substring_regex(col, XLSX_ILLEGAL, "")
            at = np.flatnonzero(long.to_numpy(zero_copy_only=False))
            if len(at):
                texts = col.take(pa.array(at)).to_pylist()
                fitted = [_fit(t) for t in texts]
                changed[at] |= np.array([a != b for a, b in zip(texts, fitted, strict=True)])
                mask = np.zeros(len(col), dtype=bool)
                mask[at] = True
                col = pc.replace_with_mask(col, pa.array(mask),
                                           pa.array(fitted, pa.large_string()))
            self.changed += int(changed.sum())
        for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            col = pc.replace_substring(col, raw, escaped)
        tokens = pc.fill_null(pc.match_substring_regex(col, _ESCAPE_LIKE), False)
        if pc.any(tokens).as_py():  # rare: the exact rule needs a look-ahead (Python)
            fixed = [_ESCAPE_START.sub("_x005F_", t) for t in col.filter(tokens).to_pylist()]
            col = pc.replace_with_mask(col, tokens, pa.array(fixed, pa.large_string()))
        # a literal CR is read back as LF by every XML parser (end-of-line handling):
        # written as Excel's escape, as XlsxWriter does (after the step above, which
        # would escape the escape)
        return pc.replace_substring(col, "\r", "_x000D_")

    def name(self, value: str) -> str:
        return _fit(_ILLEGAL.sub("", value))


def _fit(text: str) -> str:
    """``text`` cut to 32,767 UTF-16 units, never half a pair: Excel counts a character
    past U+FFFF as two (32,767 code points with emoji among them made Excel "repair"
    the workbook: XlsxWriter issue 776)."""
    units = text.encode("utf-16-le", "surrogatepass")
    if len(units) <= 2 * MAX_CELL_CHARS:
        return text
    return units[:2 * MAX_CELL_CHARS].decode("utf-16-le", "ignore")


_ESCAPE_LIKE = r"_x[0-9A-Fa-f]{4}_"
_ESCAPE_START = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")


def sheet_text(value: str) -> tuple[str, bool]:
    """One text cell as a per-cell writer (openpyxl: the ``--split-xlsx`` lists) must
    be given it: what XLSX cannot hold removed and cut at 32,767 characters (True: the
    text was changed), and ``_xHHHH_`` escaped, as ``_Cleaner`` does — openpyxl writes
    text as it is, so Excel showed ``_x0041_`` as ``A``."""
    fitted = _fit(_ILLEGAL.sub("", value))
    return _ESCAPE_START.sub("_x005F_", fitted), fitted != value


_EPOCH = datetime.datetime(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-day bug)


def _serial(text: str) -> str | None:
    """A sheet's ISO date (or date and time) as Excel's day number; None when Excel
    has none (before 1900-03-01, where its calendar is off by the 1900 leap day). A
    time of day alone (``12:30:00``) is its fraction of a day."""
    if "-" not in text:
        clock = datetime.time.fromisoformat(text)
        return repr((datetime.datetime.combine(_EPOCH, clock) - _EPOCH)
                    / datetime.timedelta(days=1))
    when = datetime.datetime.fromisoformat(text)
    if when < datetime.datetime(1900, 3, 1):
        return None
    days = (when - _EPOCH) / datetime.timedelta(days=1)
    return str(int(days)) if days.is_integer() else repr(days)


def _plain(col: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(empty mask, the text with nulls as "")."""
    import pyarrow.compute as pc

    text = pc.fill_null(pc.cast(col, pa.large_string()), "")
    return np.asarray(pc.equal(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)), text


def _cells(col: pa.Array, how: str | None, kinds: np.ndarray | None,
           cleaner: _Cleaner) -> tuple[np.ndarray, pa.Array]:
    """One column of a slice as (kind of each cell written, its XML-ready value)."""
    import pyarrow.compute as pc

    from rcsqualify.contacts.cells import CELL_BOOL, CELL_DATE, CELL_NUMBER

    if how == _NUMERIC:
        empty, raw = _plain(col)
        codes = np.where(empty, _EMPTY, _NUM).astype(np.int8)
        return codes, pc.replace_substring(raw, ",", ".")
    empty, text = _plain(cleaner.text(col))
    codes = np.where(empty, _EMPTY, _TEXT).astype(np.int8)
    if how != _BY_CELL or kinds is None:
        return codes, text
    raw = pc.fill_null(pc.cast(col, pa.large_string()), "")
    number = (kinds == CELL_NUMBER) & ~empty
    if number.any():  # NaN and infinities (a tool's file, not Excel's) stay text
        at = np.flatnonzero(number)
        finite = pc.is_finite(pc.cast(raw.take(pa.array(at)), pa.float64()))
        codes[at[finite.to_numpy(zero_copy_only=False)]] = _NUM
    boolean = (kinds == CELL_BOOL) & ~empty
    if boolean.any():
        codes[boolean] = _BOOL
        mask = pa.array(boolean)
        ones = pc.if_else(pc.equal(raw.filter(mask), "TRUE"), _scalar("1"), _scalar("0"))
        text = pc.replace_with_mask(text, mask, ones)
    dates = np.flatnonzero((kinds == CELL_DATE) & ~empty)
    if len(dates):
        iso = raw.take(pa.array(dates)).to_pylist()
        serials = [_serial(t) for t in iso]
        kept = np.array([v is not None for v in serials], dtype=bool)
        if kept.any():
            kind = np.array([_DAY if ":" not in t else _CLOCK if "-" not in t
                             else _MOMENT for t in iso], dtype=np.int8)
            codes[dates[kept]] = kind[kept]
            mask = np.zeros(len(codes), dtype=bool)
            mask[dates[kept]] = True
            text = pc.replace_with_mask(text, pa.array(mask), pa.array(
                [v for v in serials if v is not None], pa.large_string()))
    return codes, text


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class _RowsXml:
    """Rows as SpreadsheetML, built column-wise by Arrow (no Python per cell): each
    cell ``<c r="B7" t="inlineStr"><is><t xml:space="preserve">…</t></is></c>`` (text),
    ``<c r="B7"><v>12.5</v></c>`` (number), ``t="b"`` (boolean), ``s="N"`` (a date
    style of the template workbook); an empty cell is not written."""

    def __init__(self, width: int, styles: list[str]) -> None:
        self.letters = [_scalar(f'<c r="{_column_letter(i)}') for i in range(width)]
        self.attrs = pa.array(["", '" t="inlineStr">', '">', '" t="b">',
                               *(f'" s="{style}">' for style in styles)],
                              pa.large_string())
        self.opens = pa.array(["", '<is><t xml:space="preserve">', *["<v>"] * 5],
                              pa.large_string())
        self.closes = pa.array(["", "</t></is></c>", *["</v></c>"] * 5],
                               pa.large_string())

    def render(self, first_row: int, columns: list[tuple[np.ndarray, pa.Array]]
               ) -> bytes | memoryview:
        import pyarrow.compute as pc

        n = len(columns[0][0])
        numbers = pc.cast(pa.array(np.arange(first_row, first_row + n, dtype=np.int64)),
                          pa.large_string())
        cells = []
        for i, (codes, values) in enumerate(columns):
            kind = pa.array(codes)
            cell = pc.binary_join_element_wise(
                self.letters[i], numbers, self.attrs.take(kind), self.opens.take(kind),
                values, self.closes.take(kind), _scalar(""))
            cells.append(pc.if_else(pa.array(codes == _EMPTY), _scalar(""), cell))
        rows = pc.binary_join_element_wise(_scalar('<row r="'), numbers, _scalar('">'),
                                           *cells, _scalar("</row>"), _scalar(""))
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[
            rows.offset:rows.offset + len(rows) + 1]
        if not n:
            return b""
        return memoryview(rows.buffers()[2])[offsets[0]:offsets[-1]]  # no copy


def _template() -> tuple[bytes, list[str]]:
    """The workbook around the rows, made by XlsxWriter (content types, relationships,
    styles with the three date formats, theme, properties: the parts Excel is particular
    about), with one throw-away row using each date format so that they are in the
    styles; returns (the .xlsx bytes, the style index of a date, a date-time, a time)."""
    import zipfile

    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True,
                                            "default_date_format": DATE_FORMAT})
    sheet = workbook.add_worksheet("rcsqualify")
    sheet.write_datetime(0, 0, datetime.date(2000, 1, 1))
    sheet.write_datetime(0, 1, datetime.datetime(2000, 1, 1, 1),
                         workbook.add_format({"num_format": DATETIME_FORMAT}))
    sheet.write_datetime(0, 2, datetime.time(1),
                         workbook.add_format({"num_format": TIME_FORMAT}))
    with as_write_error():
        workbook.close()
    data = buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read(_SHEET_PART).decode("utf-8")
    styles = re.findall(r'<c r="[ABC]1" s="(\d+)"', xml)
    if len(styles) != 3:
        raise OSError(errno.EIO, "the .xlsx template has no date styles (XlsxWriter changed?)")
    return data, styles


def write_annotated_xlsx(path: str, source: ContactSource,
                         batches: Iterator[pa.RecordBatch],
                         expected_rows: int | None = None) -> tuple[int, int]:
    """Write the annotated ``batches`` of ``source`` as one sheet at ``path``
    (atomically); returns (rows, cells whose text was changed to fit XLSX).
    ``expected_rows`` (the check's count) refuses an over-long output before writing."""
    if expected_rows is not None and expected_rows > XLSX_MAX_ROWS:
        raise too_many_rows(path, expected_rows)
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
    cleaner = _Cleaner()
    rows = 0
    with atomic_write(path) as tmp:
        first = next(batches, None)
        names = [] if first is None else first.schema.names
        if len(names) > XLSX_MAX_COLUMNS:
            raise too_many_columns(path, len(names))
        template, styles = _template()
        xml = _RowsXml(len(names), styles)
        # the rows are staged uncompressed in an unnamed temporary file beside the
        # output (gone with the process, whatever happens): their size is then known,
        # so the zip entry uses ZIP64 only when it must (over 2 GiB; Excel is wary of
        # ZIP64 it does not need) and the sheet's dimension is exact
        with tempfile.TemporaryFile(dir=Path(tmp).parent) as staged:
            if first is not None:
                header = [cleaner.name(n) for n in names]
                staged.write(xml.render(1, [_cells(pa.array([v], pa.string()), None, None,
                                                   cleaner) for v in header]))
                for batch in _chain(first, batches):
                    if rows + batch.num_rows > XLSX_MAX_ROWS:
                        raise too_many_rows(path, rows + batch.num_rows)
                    for start in range(0, batch.num_rows, _SLICE_ROWS):
                        part = batch.slice(start, _SLICE_ROWS)
                        at = rows + start
                        columns = [
                            _cells(col, plan.get(i), None if kinds is None
                                   or i >= kinds.num_columns else
                                   kinds.column(i).slice(at, part.num_rows).to_numpy(),
                                   cleaner)
                            for i, col in enumerate(part.columns)]
                        staged.write(xml.render(at + 2, columns))
                    rows += batch.num_rows
            _zip_workbook(tmp, template, staged, len(names), rows)
    return rows, cleaner.changed


def _zip_workbook(target: Path, template: bytes, staged: IO[bytes], width: int,
                  rows: int) -> None:
    """The template's parts and the sheet (its head, the staged rows, its tail) zipped
    at ``target``."""
    import shutil
    import zipfile

    with zipfile.ZipFile(io.BytesIO(template)) as parts, zipfile.ZipFile(
            target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in parts.infolist():
            if info.filename != _SHEET_PART:
                out.writestr(info.filename, parts.read(info))
                continue
            head, tail = (t.encode("utf-8") for t in _around_rows(
                parts.read(info).decode("utf-8"), width, rows if width else None))
            size = len(head) + staged.tell() + len(tail)
            staged.seek(0)
            with out.open(_SHEET_PART, "w",
                          force_zip64=size * 1.05 > zipfile.ZIP64_LIMIT) as sheet:
                sheet.write(head)
                shutil.copyfileobj(staged, sheet, 1 << 20)
                sheet.write(tail)


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]
           ) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _around_rows(xml: str, width: int, rows: int | None) -> tuple[str, str]:
    """The template sheet's XML before and after its rows (``<sheetData>`` kept), its
    dimension set to the real one (or dropped when the row count is not known: the
    element is optional)."""
    head, _, rest = xml.partition("<sheetData>")
    _, _, tail = rest.partition("</sheetData>")
    if not tail:
        raise OSError(errno.EIO, "the .xlsx template has no sheet data (XlsxWriter changed?)")
    last = f"{_column_letter(max(width, 1) - 1)}{(rows or 0) + 1}"
    head = re.sub(r'<dimension ref="[^"]*"/>',
                  "" if rows is None else f'<dimension ref="A1:{last}"/>', head)
    return head + "<sheetData>", "</sheetData>" + tail


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
