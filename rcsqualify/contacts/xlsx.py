"""XLSX workbooks read by streaming their XML, with the bounds Excel itself keeps.

openpyxl's read-only mode trusted the file too much for hostile input (issue #23,
items 6, 7, 20): a single inline-string cell inflated to 1 GiB drove a run to 23 GB of
memory, a declared dimension ``A1:XFD1048576`` with two real cells padded every row
to 16,384 columns and the sheet to a million rows (hours of work), and a formula cell
without a cached value read as empty with no word. This reader parses the parts it
needs (workbook, relationships, shared strings, styles, the one sheet) with expat, a
chunk at a time, and keeps these bounds while it streams:

- a cell (or shared string) holds at most 32,767 characters, Excel's own limit;
- one XML part inflates to at most ``MAX_PART_BYTES`` (1 GiB, far above the XML of a
  full 1,048,576-row contact sheet) and holds no run of more than ``MAX_RUN_BYTES``
  without markup (a tag or comment that expat would otherwise buffer whole);
- only stored and deflated parts are read (deflate output is asked for a chunk at a
  time; the other zip methods decompress without a cap); a document type declaration
  is refused (none is valid in OOXML, and it is where entity bombs live);
- columns beyond XFD (16,384) and rows beyond 1,048,576 are refused.

Breaking a bound is one line naming the part and the cell, exit 2. The declared
dimension is ignored: a row is as long as its last cell that exists. A formula whose
result was never saved (written by a tool that does not compute: no ``<v>``, or an
empty one where a number goes, as openpyxl writes formulas) has no value to check:
such cells are counted (``InputInfo.formulas_without_value``) and named in the
read line, never silently taken as empty cells.

Cell values follow openpyxl's reading: shared and inline strings as text, numbers as
``int`` or ``float``, booleans, error cells as their text (``#N/A``), and a number in a
date format as an ISO date (``2025-03-01``, with the time when there is one), as the
``.xls`` reader gives it.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.parsers import expat

from rcsqualify.contacts.cells import SheetDate
from rcsqualify.errors import InputError

#: Excel's limit on the characters of one cell (and of one shared string).
MAX_CELL_CHARS = 32_767
#: Decompressed bytes one XML part may hold.
MAX_PART_BYTES = 1 << 30
#: Bytes between two ``<`` (a tag, or a tag and the text after it). A full cell in
#: the worst escaping (``&#x10FFFF;`` per character) is under 330 KB.
MAX_RUN_BYTES = 1 << 20
MAX_COLUMNS = 16_384
MAX_ROWS = 1_048_576
_CHUNK = 1 << 16

_COLUMN = re.compile(r"([A-Za-z]{1,3})(\d*)$")
#: Built-in number formats that are dates (ECMA-376 §18.8.30).
_DATE_FORMAT_IDS = frozenset(range(14, 23)) | {45, 46, 47}
_REL_OFFICE = "/officeDocument"


class XlsxError(InputError):
    """A bound broken or a part missing: the caller adds the file's name."""


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _attrs(attributes: dict[str, str]) -> dict[str, str]:
    return {_local(k): v for k, v in attributes.items()}


def _refuse_doctype(*_: Any) -> None:
    raise XlsxError("has a document type declaration (not valid in OOXML)")


class _Part:
    """One XML part of the archive fed to an expat parser a chunk at a time."""

    def __init__(self, archive: zipfile.ZipFile, name: str) -> None:
        self.archive = archive
        self.name = name

    def parse(self, parser: Any, after_chunk: Callable[[], None] | None = None) -> None:
        try:
            info = self.archive.getinfo(self.name)
        except KeyError as exc:
            raise XlsxError(f"has no part {self.name}") from exc
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise XlsxError(f"compresses {self.name} with a method XLSX does not use")
        if info.file_size > MAX_PART_BYTES:
            raise XlsxError(f"part {self.name} inflates to {info.file_size:,} bytes "
                            f"(over the bound of {MAX_PART_BYTES:,} bytes): not a contact sheet")
        parser.StartDoctypeDeclHandler = _refuse_doctype
        parser.EntityDeclHandler = _refuse_doctype
        since_markup = 0
        # zipfile stops at the declared size, so file_size bounds what is inflated
        with self.archive.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                first = chunk.find(b"<")
                if first < 0:
                    since_markup += len(chunk)
                    if since_markup > MAX_RUN_BYTES:
                        raise XlsxError(f"part {self.name} holds a run of over "
                                        f"{MAX_RUN_BYTES:,} bytes without markup")
                else:
                    if since_markup + first > MAX_RUN_BYTES:
                        raise XlsxError(f"part {self.name} holds a run of over "
                                        f"{MAX_RUN_BYTES:,} bytes without markup")
                    since_markup = len(chunk) - chunk.rfind(b"<") - 1
                parser.Parse(chunk, False)
                if after_chunk is not None:
                    after_chunk()
        parser.Parse(b"", True)
        if after_chunk is not None:
            after_chunk()


def _parser() -> Any:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def _relationships(archive: zipfile.ZipFile, name: str) -> dict[str, tuple[str, str]]:
    """Id → (type, target path in the archive) of the relationships of part ``name``."""
    folder, base = posixpath.split(name)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    rels: dict[str, tuple[str, str]] = {}
    if rels_name not in archive.namelist():
        return rels

    def start(tag: str, attributes: dict[str, str]) -> None:
        if _local(tag) == "Relationship":
            a = _attrs(attributes)
            if a.get("TargetMode") == "External":
                return
            target = a.get("Target", "")
            path = (target.lstrip("/") if target.startswith("/")
                    else posixpath.normpath(posixpath.join(folder, target)))
            rels[a.get("Id", "")] = (a.get("Type", ""), path)

    parser = _parser()
    parser.StartElementHandler = start
    _Part(archive, rels_name).parse(parser)
    return rels


class _Text:
    """Text collected for one value, refused as soon as it passes Excel's limit."""

    def __init__(self, what: Callable[[], str]) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.what = what

    def add(self, data: str) -> None:
        self.size += len(data)
        if self.size > MAX_CELL_CHARS:
            raise XlsxError(f"{self.what()} holds more than {MAX_CELL_CHARS:,} characters "
                            "(Excel's limit for a cell)")
        self.parts.append(data)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        self.size = 0
        return text


def _shared_strings(archive: zipfile.ZipFile, name: str) -> list[str]:
    """The shared strings: each ``<si>``'s text runs joined (phonetic runs left out)."""
    strings: list[str] = []
    text = _Text(lambda: f"shared string {len(strings) + 1}")
    state = {"t": False, "rph": 0}

    def start(tag: str, _attributes: dict[str, str]) -> None:
        local = _local(tag)
        if local == "t" and not state["rph"]:
            state["t"] = True
        elif local == "rPh":
            state["rph"] += 1

    def end(tag: str) -> None:
        local = _local(tag)
        if local == "t":
            state["t"] = False
        elif local == "rPh":
            state["rph"] -= 1
        elif local == "si":
            strings.append(text.take())

    def data(chars: str) -> None:
        if state["t"]:
            text.add(chars)

    parser = _parser()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    _Part(archive, name).parse(parser)
    return strings


def _date_styles(archive: zipfile.ZipFile, name: str | None) -> list[bool]:
    """For each cell style index (``s``), whether its number format is a date."""
    if name is None or name not in archive.namelist():
        return []
    from openpyxl.styles.numbers import is_date_format

    custom: dict[int, str] = {}
    styles: list[bool] = []
    depth = {"cellXfs": False}

    def start(tag: str, attributes: dict[str, str]) -> None:
        local = _local(tag)
        a = _attrs(attributes)
        if local == "numFmt":
            with contextlib.suppress(ValueError):
                custom[int(a.get("numFmtId", ""))] = a.get("formatCode", "")
        elif local == "cellXfs":
            depth["cellXfs"] = True
        elif local == "xf" and depth["cellXfs"]:
            try:
                fmt = int(a.get("numFmtId", "0"))
            except ValueError:
                fmt = 0
            styles.append(fmt in _DATE_FORMAT_IDS if fmt not in custom
                          else bool(is_date_format(custom[fmt])))

    def end(tag: str) -> None:
        if _local(tag) == "cellXfs":
            depth["cellXfs"] = False

    parser = _parser()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    _Part(archive, name).parse(parser)
    return styles


def _column_index(ref: str) -> int | None:
    """``"AB12"`` → 28 (1-based); None when the reference is not a cell's."""
    m = _COLUMN.match(ref)
    if m is None:
        return None
    n = 0
    for ch in m.group(1).upper():
        n = n * 26 + ord(ch) - 64
    return n


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eEnN") else int(text)


def _as_date(serial: float, date1904: bool) -> str | float:
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

    try:
        when = from_excel(serial, CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900)
    except (ValueError, OverflowError, TypeError):
        return serial
    if not isinstance(when, datetime):
        # a time of day alone (serial under 1): its ISO time, a date cell's kind (an
        # .xlsx output writes it back as a time; was the serial, 0.5208333333333334)
        return SheetDate(when.isoformat()) if hasattr(when, "isoformat") else serial
    return _sheet_date(when)


def _sheet_date(when: datetime) -> SheetDate:
    return SheetDate(when.date().isoformat() if when.time() == when.min.time() else (
        when.isoformat(sep=" ")))


def _iso_cell(text: str) -> str:
    """A ``t="d"`` cell (ISO 8601: openpyxl's ``iso_dates``, strict OOXML) as a date
    like a serial one (it was text: an ``.xlsx`` output wrote ``2024-01-02`` as text);
    one with a time zone, which a sheet cannot hold, or not ISO stays the text."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    return text if when.tzinfo is not None else _sheet_date(when)


@dataclass
class _Cell:
    ref: str = ""
    column: int = 0
    type: str = "n"
    style: int = 0
    formula: bool = False
    value: str | None = None


@dataclass
class SheetRows:
    """A sheet's rows as Python values (see the module docstring for each type)."""

    name: str
    rows: Iterator[tuple[Any, ...]]
    #: formula cells whose result the file does not hold
    formulas_without_value: int = 0
    #: the sheet row number (1-based, as Excel shows it) of each row of ``rows``: rows
    #: without a cell are not in ``rows`` (``--header-row`` counts them all)
    numbers: list[int] = field(default_factory=list)


class _SheetParser:
    """The rows of one worksheet part, a chunk of XML at a time."""

    def __init__(self, sheet: str, shared: list[str], date_styles: list[bool],
                 date1904: bool) -> None:
        self.sheet = sheet
        self.shared = shared
        self.date_styles = date_styles
        self.date1904 = date1904
        self.ready: list[tuple[Any, ...]] = []
        #: the sheet row number of each row of ``ready`` (``<row r="…">``)
        self.numbers: list[int] = []
        self.row_number = 0
        self.row_unnumbered: int | None = None
        self.row: dict[int, Any] = {}
        #: column of the row's previous cell, empty or not: a cell without ``r``
        #: follows it (ECMA-376 §18.3.1.4), so an empty ``<c/>`` still takes a column
        self.last_column = 0
        self.rows_seen = 0
        self.cell = _Cell()
        self.text = _Text(lambda: f"cell {self.cell.ref or '?'} of sheet {self.sheet!r}")
        self.collect = False
        self.in_inline = False
        self.rph = 0
        self.without_value = 0
        self.parser = _parser()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.data

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        local = _local(tag)
        if local == "c":
            a = _attrs(attributes)
            ref = a.get("r", "")
            column = _column_index(ref) if ref else None
            if column is None:
                column = self.last_column + 1
            self.last_column = column
            if self.row_unnumbered is not None:  # a row without r: its first cell's r
                self._number_from(ref)
            if column > MAX_COLUMNS:
                raise XlsxError(f"cell {ref or column} of sheet {self.sheet!r} is beyond "
                                f"column XFD ({MAX_COLUMNS:,}, Excel's last)")
            try:
                style = int(a.get("s", "0"))
            except ValueError:
                style = 0
            self.cell = _Cell(ref=ref, column=column, type=a.get("t", "n"), style=style)
        elif local == "row":
            self.row = {}
            self.last_column = 0
            self.rows_seen += 1
            # a row's number is its r (rows without a cell are left out of the XML);
            # without one, or one that does not move down, it follows the previous row
            try:
                number = int(_attrs(attributes).get("r", ""))
            except ValueError:
                number = 0
            #: the previous row's number while this row's, without r, may still come
            #: from its first cell's reference (``_number_from``)
            self.row_unnumbered = self.row_number if number == 0 else None
            self.row_number = (number if self.row_number < number <= MAX_ROWS
                               else self.row_number + 1)
            if self.rows_seen > MAX_ROWS:
                raise XlsxError(f"sheet {self.sheet!r} has more than {MAX_ROWS:,} rows "
                                "(Excel's limit)")
        elif local == "v":
            self.collect = True
        elif local == "f":
            self.cell.formula = True
        elif local == "is":
            self.in_inline = True
        elif local == "t" and self.in_inline and not self.rph:
            self.collect = True
        elif local == "rPh":
            self.rph += 1

    def _number_from(self, ref: str) -> None:
        """A ``<row>`` without ``r`` whose first cell has one (``A3``): the row is the
        cell's row, as Excel places it (numbered as the previous row + 1 it made the
        header of a sheet with blank rows above it row 2 where Excel shows 3, and
        ``--header-row 3`` took the first contact for the header)."""
        previous, self.row_unnumbered = self.row_unnumbered, None
        m = _COLUMN.match(ref)
        if previous is not None and m is not None and m.group(2) and (
                previous < int(m.group(2)) <= MAX_ROWS):
            self.row_number = int(m.group(2))

    def end(self, tag: str) -> None:
        local = _local(tag)
        if local in ("v", "t"):
            if self.collect:
                self.cell.value = (self.cell.value or "") + self.text.take()
            self.collect = False
        elif local == "is":
            self.in_inline = False
        elif local == "rPh":
            self.rph -= 1
        elif local == "c":
            value = self._value(self.cell)
            if value is not None:
                self.row[self.cell.column] = value
        elif local == "row":
            if self.row:
                width = max(self.row)
                self.ready.append(tuple(self.row.get(i) for i in range(1, width + 1)))
                self.numbers.append(self.row_number)
            self.row = {}

    def data(self, chars: str) -> None:
        if self.collect:
            self.text.add(chars)

    def _value(self, cell: _Cell) -> Any:
        raw = cell.value
        kind = cell.type
        if raw is None or (cell.formula and kind == "n" and not raw.strip()):
            # no result, or an empty <v/> where a number should be (openpyxl writes
            # formulas so; a text result, even empty, is t="str")
            if cell.formula:
                self.without_value += 1
            return None
        if kind == "s":
            try:
                return self.shared[int(raw)]
            except (ValueError, IndexError) as exc:
                raise XlsxError(f"cell {cell.ref} of sheet {self.sheet!r} refers to a "
                                "shared string the workbook does not hold") from exc
        if kind == "d":
            return _iso_cell(raw)
        if kind in ("inlineStr", "str", "e"):
            return raw
        if kind == "b":
            return raw.strip() in ("1", "true")
        try:
            number = _number(raw.strip())
        except ValueError:
            return raw  # not a number after all: the text, as the file holds it
        if (0 <= cell.style < len(self.date_styles) and self.date_styles[cell.style]
                and isinstance(number, (int, float))):
            return _as_date(float(number), self.date1904)
        return number


def _workbook(archive: zipfile.ZipFile) -> tuple[list[tuple[str, str]], bool,
                                                 dict[str, tuple[str, str]]]:
    """([(sheet name, relationship id)], date1904, the workbook's relationships)."""
    root = _relationships(archive, "")
    book = next((path for kind, path in root.values() if kind.endswith(_REL_OFFICE)),
                "xl/workbook.xml")
    sheets: list[tuple[str, str]] = []
    flags = {"date1904": False}

    def start(tag: str, attributes: dict[str, str]) -> None:
        local = _local(tag)
        a = _attrs(attributes)
        if local == "sheet":
            sheets.append((a.get("name", ""), a.get("id", "")))
        elif local == "workbookPr":
            flags["date1904"] = a.get("date1904", "0") in ("1", "true")

    parser = _parser()
    parser.StartElementHandler = start
    _Part(archive, book).parse(parser)
    return sheets, flags["date1904"], _relationships(archive, book)


def read_xlsx(path: Path, sheet: str | int | None, shown: str) -> SheetRows:
    """The rows of one sheet of the workbook at ``path`` (``shown`` in messages).

    ``sheet`` None: the workbook must have one sheet, else exit 2 listing them; an int:
    the sheet at that position (``rcsqualify learn`` reads an export's first). Rows
    are read whole before returning (so every error surfaces here, as one line)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{shown} is not a readable XLSX workbook "
                         f"({type(exc).__name__})") from exc
    try:
        with archive:
            return _read(archive, sheet, shown)
    except XlsxError as exc:
        raise InputError(f"{shown} {exc}; not read (nothing was checked)") from exc
    except (zipfile.BadZipFile, expat.ExpatError, EOFError, OSError, ValueError) as exc:
        raise InputError(f"{shown} is not a readable XLSX workbook "
                         f"({type(exc).__name__})") from exc


def _read(archive: zipfile.ZipFile, sheet: str | int | None, shown: str) -> SheetRows:
    sheets, date1904, rels = _workbook(archive)
    names = [name for name, _ in sheets]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise InputError(f"{shown} has no sheet {sheet + 1} (it has {len(names)})")
        sheet = names[sheet]
    if sheet is None:
        if len(names) != 1:
            raise InputError(f"{shown} has {len(names)} sheets ({', '.join(names)}): "
                             "choose one with --sheet")
        sheet = names[0]
    if sheet not in names:
        raise InputError(f"no sheet {sheet!r} in {shown}; sheets: {', '.join(names)}")
    rel_id = sheets[names.index(sheet)][1]
    kind, part = rels.get(rel_id, ("", ""))
    if not kind.endswith("/worksheet"):
        raise InputError(f"sheet {sheet!r} of {shown} is not a worksheet (a chart?): "
                         "nothing to check")
    shared_part = next((p for k, p in rels.values() if k.endswith("/sharedStrings")), None)
    styles_part = next((p for k, p in rels.values() if k.endswith("/styles")), None)
    shared = (_shared_strings(archive, shared_part)
              if shared_part is not None and shared_part in archive.namelist() else [])
    parser = _SheetParser(sheet, shared, _date_styles(archive, styles_part), date1904)
    rows: list[tuple[Any, ...]] = []

    def drain() -> None:
        rows.extend(parser.ready)
        parser.ready.clear()

    _Part(archive, part).parse(parser.parser, drain)
    return SheetRows(sheet, iter(rows), parser.without_value, parser.numbers)
