"""CSV/TSV/TXT, streamed by Arrow's CSV reader in blocks of ``BATCH_BYTES``.

- A row with fewer or more fields than the header (a footer, a hand-edited line) never
  stops a run (issue #26 item 5): its missing cells are read as empty and its extra cells
  are kept, in the file's CSV syntax, in one added column ``extra`` (``EXTRA_COLUMN``;
  an input column of that name is renamed ``extra_input``), so no cell shifts to another
  column and every row reaches the annotated output. Such rows are counted
  (``InputInfo.short_rows`` / ``long_rows``) and said in the read line. Arrow reads a
  well-formed file; at the first ragged row the reader goes on, from the rows already
  yielded, with the csv module (``_lenient``), and reads that file so from then on.
- A quote left open (malformed quoting: ``"B;0612…`` never closed) never swallows the
  rows after it: a quoted cell still open at the end of the file, or spanning more than
  ``MAX_QUOTED_LINES`` lines, or whose inner lines each hold a whole row's delimiters,
  is malformed; the line where it opened is read again with its quotes taken as
  literal characters, each following line read again as rows (``_Lines``,
  ``_malformed``). Counted (``InputInfo.malformed_quotes``, with the lines) and said
  in the read line. A file where a quoted cell may span lines (a line break after an
  odd number of quotes: Arrow would read a quote left open into one cell, silently)
  is read by the csv module, which checks each such cell (``_quote_spans_lines``).
- CR-only line endings (old Mac exports) end a row too.
- Messages never quote a cell (CONTRACT §11): Arrow's own message quotes the row, so it
  is replaced by a reason (``_csv_reason``).
- A file in a single-byte code (cp1252 and its neighbours) is parsed by Arrow as it is
  and only the cells read are decoded (``_decoded``): transcoding the whole file first
  (pyarrow does it in Python, holding the interpreter) cost more than parsing it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from rcsqualify.contacts.columns import EXTRA_COLUMN, extra_line
from rcsqualify.contacts.reader import BATCH_BYTES, BATCH_ROWS, InputInfo, Reader
from rcsqualify.contacts.sniff import detect_encoding, sniff_delimiter
from rcsqualify.errors import InputError
from rcsqualify.numbering.buffers import string_parts

#: Codes of one byte a character whose ASCII bytes are ASCII characters (what Python's
#: ``codecs.lookup`` calls them): Arrow can find the rows and fields in the bytes
#: themselves, and a cell's text is the decoding of its bytes alone.
_SINGLE_BYTE = ("cp1252", "iso8859-1", "iso8859-15", "mac-roman", "cp850")


class CsvReader(Reader):
    """Delimited text: encoding and delimiter sniffed unless given."""

    def __init__(self, path: Path, info: InputInfo, encoding: str | None,
                 delimiter: str | None) -> None:
        super().__init__(path, info)
        detected = not encoding
        if not encoding:
            encoding = detect_encoding(path)
        with path.open("rb") as fh:
            raw = fh.read(256 << 10)
        try:
            sample = raw.decode(encoding, errors="strict" if len(raw) < (256 << 10) else "ignore")
        except UnicodeDecodeError as exc:
            raise InputError(f"{info.path} is not {encoding}: {exc.reason} at byte "
                             f"{exc.start}; try another --encoding") from exc
        sample = sample.lstrip("\ufeff")
        if not sample.strip():
            raise InputError(f"{info.path} holds no rows: nothing to check")
        if "\x00" in sample:
            raise InputError(f"{info.path} looks binary, not a CSV")
        delim = delimiter if delimiter else sniff_delimiter(sample)
        if delim == "\\t" or delim.lower() == "tab":
            delim = "\t"
        if len(delim) != 1:
            raise InputError(f"--delimiter must be one character, got {delimiter!r}")
        self._where = _row_at(path, sample, encoding, delim, info.path,
                              complete=len(raw) < (256 << 10), start=0)
        self._place(self._where)
        info.encoding = encoding
        info.delimiter = delim
        self._arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
        #: the single-byte code Arrow's bytes are decoded from, cell by cell (else None:
        #: Arrow reads UTF-8 or transcodes the file)
        self._cells_in = (encoding if self._arrow_encoding != "utf8"
                          and _reads_as_bytes(path, encoding, delim, detected) else None)
        self._parse = pacsv.ParseOptions(
            delimiter=delim, newlines_in_values=True, invalid_row_handler=self._bad_row,
        )
        # no handler when reading bytes: pyarrow would decode a ragged row as UTF-8 to
        # hand it over (and print its failure); Arrow's error names the ragged row
        self._parse_bytes = pacsv.ParseOptions(delimiter=delim, newlines_in_values=True)
        self._ragged = False  # a row of another width was met: read with ``_lenient``
        #: a quoted cell may span lines: read with ``_lenient``, which checks it
        self._quoted_lines: bool | None = None
        self._header = True
        self._sample = sample
        self._encoding = encoding
        self._complete = len(raw) < (256 << 10)
        self._read: pacsv.ReadOptions | None = None

    def _place(self, where: _Record | None) -> None:
        """Start at the record ``where`` (None: the file holds no non-blank row)."""
        if where is None:
            self.first_row, self._lead, self._lines = [], 0, (0, 0)
            return
        self.first_row = where.cells
        self.first_row_number = where.index + 1
        #: records (blank ones included) above the first row read: the csv module's
        #: count, for ``_lenient``
        self._lead = where.index
        #: physical lines above the first row and through it: Arrow's ``skip_rows``
        #: counts lines, not records (a quoted cell may span lines)
        self._lines = (where.lines_before, where.lines_through)

    def name_columns(self, headers: list[str], columns: list[str], header: bool) -> None:
        super().name_columns(headers, columns, header)
        self._header = header
        self._read = pacsv.ReadOptions(
            encoding=self._arrow_encoding, column_names=columns,
            skip_rows=self._lines[1] if header else self._lines[0], block_size=BATCH_BYTES)

    def _records(self) -> Iterator[list[str]]:
        """The sample's records, blank lines included (as ``[]``)."""
        buf = io.StringIO(self._sample, newline="")
        try:
            yield from csv.reader(buf, delimiter=self.info.delimiter or ",")
        except csv.Error as exc:
            raise InputError(f"{self.info.path}: the first rows cannot be read as CSV "
                             f"({_csv_module_reason(exc)}); check --delimiter") from None

    def leading_rows(self, count: int) -> list[list[str]]:
        out = []
        for row in self._records():
            if not blank_record(row):
                out.append(row)
                if len(out) >= count:
                    break
        return out

    def skip(self, rows: int, option: str = "--skip-rows") -> None:
        where = _row_at(self.path, self._sample, self._encoding, self.info.delimiter or ",",
                        self.info.path, complete=self._complete, start=rows)
        if where is None:
            raise InputError(self.no_row_left(rows, option))
        self._place(where)

    def batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        if self._quoted_lines is None:
            self._quoted_lines = _quote_spans_lines(self.path, self.info.encoding or "utf-8")
            self._ragged = self._ragged or self._quoted_lines
        if self._ragged:
            yield from self._lenient(cols, 0)
            return
        done = 0
        try:
            for batch in self._arrow_batches(cols):
                done += batch.num_rows
                yield batch
        except _Ragged:
            # the batches yielded were whole blocks without a ragged row: go on after them
            self._ragged = True
            yield from self._lenient(cols, done)

    def _arrow_batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._batches(cols, self._cells_in)
        except InputError:
            if not self._cells_in:
                raise
            # A file that does not parse says why as the transcoding path words it:
            # read it that way up to its error (error path only).
            for _ in self._batches(cols, None):
                pass
            raise

    def _batches(self, cols: list[str], cells_in: str | None) -> Iterator[pa.RecordBatch]:
        convert = pacsv.ConvertOptions(
            column_types={c: pa.binary() if cells_in else pa.string() for c in self.columns},
            include_columns=cols, strings_can_be_null=False, quoted_strings_can_be_null=False,
        )
        assert self._read is not None
        # the file's own bytes when its cells are decoded afterwards, else transcoded
        self._read.encoding = "utf8" if cells_in else self._arrow_encoding
        try:
            reader = pacsv.open_csv(self.path, read_options=self._read,
                                    parse_options=self._parse_bytes if cells_in else self._parse,
                                    convert_options=convert)
            if not cells_in:
                yield from reader
                return
            for batch in reader:
                yield pa.RecordBatch.from_arrays(
                    [_decoded(col, cells_in) for col in batch.columns],
                    names=batch.schema.names)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if isinstance(exc, pa.ArrowInvalid) and _RAGGED.search(str(exc)):
                raise _Ragged from None
            raise InputError(f"{self.info.path}: cannot parse as CSV ({_csv_reason(exc)}); "
                             "check --delimiter and --encoding") from exc

    @staticmethod
    def _bad_row(row: Any) -> str:
        """A row of another width: Arrow stops (its error is caught as ``_Ragged``)."""
        return "error"

    def _lenient(self, cols: list[str], skip: int) -> Iterator[pa.RecordBatch]:
        """The rows after the first ``skip`` data rows, read by the csv module: short
        rows padded with empty cells, the cells past the header's width of a long row
        kept in ``EXTRA_COLUMN`` (added to a batch of every column once the file is
        known to hold one); a quote left open read as text, line by line (``_malformed``).
        Counts the short and long rows and the malformed quotes of a whole pass."""
        width = len(self.columns)
        where = [self.columns.index(c) for c in cols]
        with_extra = bool(self.info.long_rows) and cols == self.columns
        delim = self.info.delimiter or ","
        encoding = self.info.encoding or "utf-8"
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "utf-8-sig"  # Arrow drops a byte-order mark too
        short = long = seen = 0
        malformed: list[int] = []
        out: list[list[str]] = [[] for _ in range(len(where) + with_extra)]
        line = 0
        try:
            with self.path.open(encoding=encoding, newline="") as fh:
                lines = _Lines(fh)
                reader = csv.reader(lines, delimiter=delim)
                for _ in range(self._lead + self._header):
                    lines.taken.clear()
                    next(reader, None)
                while True:
                    lines.taken.clear()
                    got = next(reader, None)
                    if got is None:
                        break
                    row = got
                    line = lines.number
                    if len(lines.taken) > 1 and _malformed(lines, delim, width):
                        malformed.append(lines.taken[0][0])
                        row = _as_text(lines.taken[0][1], delim)
                        lines.push_back(lines.taken[1:])
                    if not row:
                        continue  # an empty line, as Arrow skips it
                    seen += 1
                    if len(row) < width:
                        short += 1
                        row += [""] * (width - len(row))
                    elif len(row) > width:
                        long += 1
                    if seen <= skip:
                        continue
                    for k, i in enumerate(where):
                        out[k].append(row[i])
                    if with_extra:
                        out[-1].append(extra_line(row[width:], delim)
                                       if len(row) > width else "")
                    if len(out[0]) >= BATCH_ROWS:
                        yield self._lenient_batch(out, cols, with_extra)
                        out = [[] for _ in out]
        except UnicodeDecodeError:
            raise InputError(f"{self.info.path}: cannot parse as CSV (bytes that are not "
                             f"valid in the encoding, after line {line}); check --encoding"
                             ) from None
        except csv.Error as exc:
            raise InputError(f"{self.info.path}: line {line + 1} cannot be read as CSV "
                             f"({_csv_module_reason(exc)}); check --delimiter") from None
        if out[0]:
            yield self._lenient_batch(out, cols, with_extra)
        self.info.short_rows, self.info.long_rows = short, long
        self.info.malformed_quotes = len(malformed)
        self.info.malformed_quote_lines = malformed[:MALFORMED_LINES_SHOWN]

    @staticmethod
    def _lenient_batch(out: list[list[str]], cols: list[str], with_extra: bool
                       ) -> pa.RecordBatch:
        names = [*cols, EXTRA_COLUMN] if with_extra else list(cols)
        return pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in out],
                                          names=names)


#: A quoted cell spanning more lines than this is a quote left open (a comment or an
#: address cell spans a few lines): its first line is read as text, the rest as rows.
MAX_QUOTED_LINES = 100
#: the lines of malformed quotes the report names (the count is whole)
MALFORMED_LINES_SHOWN = 10


class _Lines:
    """The file's physical lines for the csv module, numbered; the lines of the record
    being read are kept (``taken``) so that a malformed one can be read again, and a
    record stops at ``MAX_QUOTED_LINES`` lines (``cut``: the reader sees an end of file
    there and yields what it has; the next record resumes after it)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self._back: list[tuple[int, str]] = []
        self.taken: list[tuple[int, str]] = []
        self.number = 0  # the last physical line read from the file
        self.cut = False
        self.ended = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= MAX_QUOTED_LINES:
            self.cut = True
            raise StopIteration
        if self._back:
            item = self._back.pop()
        else:
            text = self._fh.readline()
            if not text:
                self.ended = True
                raise StopIteration
            self.number += 1
            item = (self.number, text)
        self.taken.append(item)
        return item[1]

    def push_back(self, items: list[tuple[int, str]]) -> None:
        """Lines to read again, before the file's next one."""
        self._back.extend(reversed(items))

    def at_end(self) -> bool:
        return self.ended and not self._back


def _malformed(lines: _Lines, delim: str, width: int) -> bool:
    """Whether the record just read over several lines holds a quote left open: cut at
    ``MAX_QUOTED_LINES``, still open at the end of the file, or swallowing lines that
    each hold a whole row's delimiters (``C;0612…`` lines inside one cell)."""
    if lines.cut:
        lines.cut = False
        return True
    inner = [text for _, text in lines.taken[1:-1]]
    if width >= 2 and inner and all(t.count(delim) >= width - 1 for t in inner):
        return True
    if not lines.at_end():
        return False
    try:  # the last record: does it end inside a quoted cell?
        for _ in csv.reader([t for _, t in lines.taken], delimiter=delim, strict=True):
            pass
    except csv.Error as exc:
        return "end of data" in str(exc)
    return False


def _as_text(text: str, delim: str) -> list[str]:
    """One physical line as a row, its quotes literal characters (malformed quoting)."""
    text = text.rstrip("\r\n")
    return next(csv.reader([text], delimiter=delim, quoting=csv.QUOTE_NONE), [])


def _quote_spans_lines(path: Path, encoding: str) -> bool:
    """Whether a quoted cell may span lines: a line holding an odd number of quote
    characters (a line break then falls inside quotes). Arrow would read a quote left
    open into one cell up to the next quote or the end of the file, without a word:
    such a file is read by the csv module (``_lenient``), which checks every cell that
    spans lines. One pass over the bytes at memory speed (~0.15 s for a million rows,
    every cell quoted) when the encoding writes ``"`` and line breaks as those ASCII
    bytes (UTF-8, cp1252 and neighbours); other encodings are not checked. A file with
    legitimate multi-line cells (or a lone inch mark, ``15" écran``) takes the csv
    module's path too: slower, the same rows."""
    try:
        if '"a\n'.encode(encoding) != b'"a\n':
            return False
    except (LookupError, UnicodeError):
        return False
    carry = b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            # the quotes and line breaks alone; a line whose quotes do not pair up
            # leaves one once the pairs are removed
            marks = carry + chunk.translate(None, _NOT_QUOTE_OR_BREAK)
            cut = max(marks.rfind(b"\n"), marks.rfind(b"\r")) + 1
            if b'"' in marks[:cut].replace(b'""', b""):
                return True
            carry = marks[cut:]
    return b'"' in carry.replace(b'""', b"")


_NOT_QUOTE_OR_BREAK = bytes(b for b in range(256) if b not in b'"\n\r')


class _Ragged(Exception):
    """Arrow met a row with another number of fields than the header."""


#: Arrow's message for a ragged row ("Expected 5 columns, got 3: <the row>")
_RAGGED = re.compile(r"Expected \d+ columns, got \d+")


def _csv_module_reason(exc: csv.Error) -> str:
    """The csv module's message, which never quotes a cell (only sizes and NUL)."""
    text = str(exc)
    return "a cell larger than the reader allows" if "field larger" in text else (
        "a NUL byte" if "NUL" in text else "malformed quoting")


#: The longest first row read (a header of 40,000 columns is 300 KB); the csv module's
#: own limit per field (128 KB: a longer header cell raised its bare ``Error``) follows.
FIRST_ROW_LIMIT = 64 << 20
csv.field_size_limit(FIRST_ROW_LIMIT)


def blank_record(row: list[str]) -> bool:
    """A record with no cell holding anything but spaces (an empty line, or ``;;`` as
    Excel exports an empty row): above the header it is a blank row, never the header."""
    return not any(cell.strip() for cell in row)


@dataclass
class _Record:
    """A record of the file: its cells, its index among the records (blank lines
    included: Excel's row number minus one), and the physical lines above it and
    through it (they differ from the index when a quoted cell spans lines)."""

    cells: list[str]
    index: int
    lines_before: int
    lines_through: int


def _row_at(path: Path, sample: str, encoding: str, delimiter: str, shown: str, *,
            complete: bool, start: int) -> _Record | None:
    """The first non-blank record at or after record ``start``, read whole; None when
    the file has none. The 256 KB sample is extended (×4 at a time, up to
    ``FIRST_ROW_LIMIT``) while it ends inside that record or before it, so a header of
    more than 39,037 columns is not cut short (which made every row look too long),
    nor one far down (``--header-row 5000``) missed."""
    while True:
        # newline="": CR-only line endings (old Mac exports) end a row too
        buf = io.StringIO(sample, newline="")
        reader = csv.reader(buf, delimiter=delimiter)
        found: _Record | None = None
        index = lines = 0
        try:
            for row in reader:
                if index >= start and not blank_record(row):
                    found = _Record(row, index, lines, reader.line_num)
                    break
                index += 1
                lines = reader.line_num
        except csv.Error as exc:
            raise InputError(f"{shown}: the first rows cannot be read as CSV "
                             f"({_csv_module_reason(exc)}); check --delimiter and "
                             "--encoding") from None
        if complete or (found is not None and buf.tell() < len(sample)):
            return found
        if len(sample) >= FIRST_ROW_LIMIT:
            if found is None:
                return None  # no row to read in the first 64 MB: said by the caller
            raise InputError(f"{shown}: the first row is longer than "
                             f"{FIRST_ROW_LIMIT >> 20} MB: not a contact file")
        with path.open("rb") as fh:
            want = min(4 * len(sample.encode(encoding, errors="ignore")) + 4, FIRST_ROW_LIMIT)
            raw = fh.read(want)
        complete = len(raw) < want
        sample = raw.decode(encoding, errors="ignore").lstrip("\ufeff")


def _reads_as_bytes(path: Path, encoding: str, delimiter: str, detected: bool) -> bool:
    """Whether Arrow may parse the file's own bytes, the cells read decoded afterwards:
    a single-byte code, an ASCII delimiter, no UTF-8 byte-order mark (Arrow would drop
    it), and no byte the code leaves undefined anywhere in the file (transcoding raises
    on one, wherever it is: that file takes the transcoding path and its error). A
    detected cp1252 was checked for those already (``detect_encoding``)."""
    name = codecs.lookup(encoding).name
    if name not in _SINGLE_BYTE or not delimiter.isascii():
        return False
    with path.open("rb") as fh:
        if fh.read(3) == codecs.BOM_UTF8:
            return False
        undefined = [] if detected else [bytes([b]) for b in _undefined_bytes(name)]
        if undefined:
            fh.seek(0)
            while chunk := fh.read(1 << 22):
                if any(byte in chunk for byte in undefined):
                    return False
    return True


def _undefined_bytes(name: str) -> list[int]:
    undefined = []
    for b in range(256):
        try:
            bytes([b]).decode(name)
        except UnicodeDecodeError:
            undefined.append(b)
    return undefined


@lru_cache(maxsize=8)
def _growth(name: str) -> np.ndarray:
    """Bytes each byte of the code gains as UTF-8 (0 for ASCII, 1 or 2 above)."""
    return np.array([len(bytes([b]).decode(name, errors="replace").encode("utf-8")) - 1
                     for b in range(256)], dtype=np.int64)


def _decoded(col: pa.Array, encoding: str) -> pa.Array:
    """A binary column of a single-byte-coded file as UTF-8 text: the same buffers when
    every byte is ASCII (a phone column, usually), else its bytes decoded at once and
    the cell boundaries moved by the bytes that the characters before them gained."""
    offsets, data, valid = string_parts(col)
    lo = int(offsets[0])
    body = data[lo:int(offsets[-1])]
    bounds = offsets - lo
    high = np.flatnonzero(body >= 0x80)
    if not len(high):
        return col.view(pa.string())
    text = body.tobytes().decode(encoding).encode("utf-8")
    gained = np.zeros(len(high) + 1, dtype=np.int64)
    np.cumsum(_growth(encoding)[body[high]], out=gained[1:])
    bounds += gained[np.searchsorted(high, bounds)]
    validity = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.string(), len(col), [
        validity, pa.py_buffer(bounds.astype(np.int32)), pa.py_buffer(text)])


def _csv_reason(exc: BaseException) -> str:
    """What went wrong, without the row Arrow quotes after its message (a contact)."""
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "UTF-8" in text:
        return "bytes that are not valid in the encoding"
    if "straddl" in text or "block size" in text:
        # one row larger than the reader's block: a cell of megabytes, never a contact
        return (f"a row longer than {BATCH_BYTES >> 20} MB, which no contact needs "
                "(a quote left open, or a huge cell)")
    if "column" in text.lower():
        return "rows with different numbers of fields"
    return "malformed quoting or lines"
