"""Reading contact files as people keep them: formats, encodings, delimiters, the phone column.

Every cell is read as text: a number must never become an int or a float on the way
in (a float loses the leading 0, or worse, digits). CSV, NDJSON and Parquet stream in
Arrow record batches, so memory stays bounded whatever the file size; XLSX is read
whole (a sheet holds at most 1,048,576 rows). Standard input is spooled to a temporary
file first, because the annotated output needs a second pass over the rows.

Choices where the contract is silent (also in the README):
- Encoding: a BOM decides (UTF-8, UTF-16); else the whole file is checked as UTF-8 and
  falls back to cp1252 (what Excel writes on French Windows). Bytes cp1252 does not
  define make the encoding "unknown": exit 2, ``--encoding`` to force one.
- Delimiter: the candidate among ``; , TAB |`` that splits the first lines into the
  same number (> 1) of fields; a single-column file is fine.
- Header (CSV, XLSX; CONTRACT §11): the first row is a header when it reads as labels:
  the cell above the phone column holds letters and no digits (``Téléphone``, not
  ``Martin;;Paris`` whose cell there is empty, nor ``06 12…``). Where the contract is
  silent: a recognized phone header with a short index (``Tel 2``, ``GSM1``: at most two
  digits) is a label too. The phone column is first chosen as if the row were a header;
  if the cell above it is not a label the row is data, the columns are named
  ``column_1``, ``column_2``... and the phone column is chosen again, by content.
  ``--header`` / ``--no-header`` decide instead of the detection.
- Column names are unique and stable (``unique_names``): an empty header cell is
  ``column_<n>``; a repeated name gets ``_2``, ``_3``... (never a name already in the
  header); a name rcsqualify appends (``status``...) gets ``_input``. The report states
  every renamed column (``input.columns_renamed``), and ``--column`` accepts the original
  header as well as the unique name.
- Values are text exactly as read (CONTRACT §11): CSV cells as they are; NDJSON numbers as
  their literal (a 30-digit id, ``1e20``, ``2.50``), booleans ``true``/``false``, nested
  values as JSON; Parquet integers of any width as digits, floats that are whole numbers
  under 10^16 without ``.0`` and other floats as Arrow prints them (``1e+20``, ``inf``,
  ``0.1``); XLSX numbers likewise (a whole float is the spreadsheet's storage, not the
  user's ``.0``), booleans ``TRUE``/``FALSE`` as Excel shows them.
- A row with more or fewer fields than the header is an input error (exit 2) naming the
  line: silently shifting columns would attach numbers to the wrong contacts.
- Messages never quote a cell (CONTRACT §11): they name the file, the line and the column.
- Standard input is spooled to a temporary file (mode 0600) registered with
  ``rcsqualify.files``: it is removed on every exit path, signals included.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from rcsqualify.errors import InputError
from rcsqualify.files import remove_temporaries, temporary_file

BATCH_BYTES = 8 << 20  # CSV block size: ~250k rows of a typical export per batch
PARQUET_BATCH_ROWS = 262_144
_DELIMITERS = [";", ",", "\t", "|"]
_FORMATS = ("csv", "xlsx", "xls", "parquet", "ndjson")
#: Columns rcsqualify appends to every row of the annotated output: an input column of
#: the same name is renamed ``<name>_input`` when read, so both are kept.
VERDICT_COLUMNS = ("msisdn_e164", "status", "reason", "repaired", "operator",
                   "operator_source", "territory", "rcs")
#: Shown when ``--encoding`` names no text encoding.
COMMON_ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "iso-8859-15", "utf-16",
                    "mac-roman", "cp850")
#: Whole floats under this are written without ``.0`` (exact in a double up to 2**53).
_WHOLE_FLOAT_LIMIT = 1e16

#: Header words that name a phone column, by priority (first is best). Compared after
#: removing accents, case and anything not a letter or digit.
_PHONE_HEADERS: list[tuple[int, re.Pattern[str]]] = [
    (0, re.compile(r"^(msisdn|mobile|portable|gsm|cell|cellphone|mobilephone|telmobile|"
                   r"telportable|telephonemobile|telephoneportable|numeromobile|"
                   r"numeroportable|numportable|nummobile|tel(ephone)?gsm)$")),
    (1, re.compile(r"(mobile|portable|gsm|msisdn|cell)")),
    (2, re.compile(r"^(tel|tele|telephone|phone|phonenumber|numero|numerotel|"
                   r"numerotelephone|num|numtel|ntel|notel|ndetelephone|"
                   r"numerodetelephone|contact|destinataire|recipient|number)$")),
    (3, re.compile(r"(tel|phone|numero)")),
]
_NOT_PHONE = re.compile(r"(fixe|fax|domicile|bureau|landline|home|work|pro$|id$|^id|date|"
                        r"mail|nom|name|adresse|address|ville|city|code|cp|zip)")


def _header_key(name: str) -> str:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", text.lower())


def header_priority(name: str) -> int | None:
    """How strongly a header names a mobile phone column (0 best), None if it doesn't."""
    key = _header_key(name)
    if not key:
        return None
    for prio, pattern in _PHONE_HEADERS:
        if pattern.search(key):
            # "tel fixe", "fax", "tel domicile": phone columns, but not mobiles
            if prio >= 2 and _NOT_PHONE.search(key):
                return None
            return prio
    return None


_LETTER = re.compile(r"[^\W\d_]")


def reads_as_label(cell: str | None) -> bool:
    """Is this first-row cell (the one above the phone column) a label? Letters and no
    digits; or a phone header with a short index (``Tel 2``). CONTRACT §11."""
    if not cell or not _LETTER.search(cell):
        return False
    digits = sum(ch.isdigit() for ch in cell)
    if digits == 0:
        return True
    return digits <= 2 and header_priority(re.sub(r"\d", "", cell)) is not None


def unique_names(headers: list[str], reserved: tuple[str, ...] | set[str] = VERDICT_COLUMNS
                 ) -> list[str]:
    """Unique, stable column names for ``headers`` (empty cells already named).

    The first occurrence of a name keeps it; later ones get ``_2``, ``_3``... skipping
    every name present anywhere in the header, so ``nom_1;nom;nom`` gives ``nom_1, nom,
    nom_2``; a reserved name (one rcsqualify appends) becomes ``<name>_input``.
    """
    taken = set(headers) | set(reserved)
    seen: set[str] = set()
    out = []
    for name in headers:
        if name in reserved:
            base, candidate, k = f"{name}_input", f"{name}_input", 1
        elif name in seen:
            base, candidate, k = name, f"{name}_2", 2
        else:
            seen.add(name)
            out.append(name)
            continue
        while candidate in taken:
            k += 1
            candidate = f"{base}_{k}"
        taken.add(candidate)
        seen.add(candidate)
        out.append(candidate)
    return out


def _check_encoding(name: str) -> None:
    """Exit 2 for a name Python does not know or that is no text encoding (rot13)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise InputError(f"--encoding {name!r} is not a known text encoding; common ones: "
                         + ", ".join(COMMON_ENCODINGS))


@dataclass
class InputInfo:
    """What the report says of the input (CONTRACT §6 ``input``)."""

    path: str
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    column: str = ""
    columns: list[str] = field(default_factory=list)
    header: bool = True
    rows: int = 0
    #: unique column name → the header cell it was given for (only names that differ)
    columns_renamed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "format": self.format, "rows": self.rows,
            "column": self.column, "encoding": self.encoding, "delimiter": self.delimiter,
            "sheet": self.sheet, "header": self.header,
            "columns_renamed": dict(self.columns_renamed),
        }


def _sniff_format(path: Path, head: bytes) -> str:
    ext = path.suffix.lower()
    if ext in (".xlsx", ".xlsm"):
        return "xlsx"
    if ext in (".parquet", ".pq"):
        return "parquet"
    if ext in (".ndjson", ".jsonl"):
        return "ndjson"
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: an Excel 97-2003 workbook
        return "xls"  # (an ".xls" that is really XLSX or text is sniffed below)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.lstrip().startswith(b"{"):
        return "ndjson"
    return "csv"


def detect_encoding(path: Path) -> str:
    """BOM, else UTF-8 if the whole file decodes, else cp1252; InputError if neither."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8 = True
        binary = False
        while chunk := fh.read(1 << 20):
            if b"\x00" in chunk:
                binary = True
                break
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
                    break
    if binary:
        raise InputError(f"{path.name} looks binary (NUL bytes), not a CSV: export it as "
                         "CSV, XLSX, Parquet or NDJSON")
    if utf8:
        return "utf-8"
    with path.open("rb") as fh:
        cp1252 = codecs.getincrementaldecoder("cp1252")()
        try:
            while chunk := fh.read(1 << 20):
                cp1252.decode(chunk)
        except UnicodeDecodeError as exc:
            raise InputError(f"{path.name}: unknown text encoding (neither UTF-8 nor cp1252); "
                             "give it with --encoding (e.g. --encoding latin-1)") from exc
    return "cp1252"


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the sample's lines into a constant number (>1) of fields."""
    lines = sample.splitlines()
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of the sample may be cut
    lines = [ln for ln in lines[:50] if ln.strip()]
    best, best_score = ",", (0, 0)
    for delim in _DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delim)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = delim, score
    return best


class ContactSource:
    """A contact file opened for reading, its phone column chosen.

    ``phone_batches()`` yields the phone column alone (pass 1: classification);
    ``batches()`` yields every column as text (pass 2: the annotated output).
    ``headers`` are the names as the file gives them, ``columns`` the unique names used
    everywhere else (see ``unique_names``).
    """

    def __init__(
        self,
        path: str,
        *,
        column: str | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        sheet: str | None = None,
        fmt: str | None = None,
        header: bool | None = None,
    ) -> None:
        self._tmp: str | None = None
        try:
            self._open(path, column=column, encoding=encoding, delimiter=delimiter,
                       sheet=sheet, fmt=fmt, header=header)
        except BaseException:
            self.close()  # a spooled copy of stdin never outlives a failed start
            raise

    def _open(self, path: str, *, column: str | None, encoding: str | None,
              delimiter: str | None, sheet: str | None, fmt: str | None,
              header: bool | None) -> None:
        if path == "-":
            self.path = self._spool_stdin()
            shown = "-"
        else:
            self.path = Path(path)
            shown = path
            if not self.path.exists():
                raise InputError(f"{path}: no such file")
            if self.path.is_dir():
                raise InputError(f"{path} is a directory, not a contact file")
        try:
            size = self.path.stat().st_size
            with self.path.open("rb") as fh:
                head = fh.read(8)
        except OSError as exc:
            raise InputError(f"{shown}: cannot read ({exc.strerror})") from exc
        if size == 0:
            raise InputError(f"{shown} is empty: nothing to check")
        self.format = fmt or _sniff_format(self.path if path != "-" else Path("-"), head)
        if self.format not in _FORMATS:
            raise InputError(f"unknown format {self.format!r}: use one of {', '.join(_FORMATS)}")
        if encoding is not None:
            _check_encoding(encoding)
        self.info = InputInfo(path=shown, format=self.format)
        self._xlsx: pa.Table | None = None
        #: first row's cells (CSV, XLSX): a header or a contact, decided below
        self._first_row: list[str] | None = None
        if self.format == "csv":
            self._open_csv(encoding, delimiter)
        elif self.format == "xlsx":
            self._open_xlsx(sheet)
        elif self.format == "xls":
            self._open_xls(sheet)
        elif self.format == "parquet":
            self._open_parquet()
        else:
            self._open_ndjson()
        if self._first_row is not None:
            self._set_header(header is not False)
        if not self.columns:
            raise InputError(f"{shown} has no columns: nothing to check")
        self.estimated_rows = self._estimate_rows(size)
        self.info.column = self._choose_column(column)
        if header is None and self._first_row is not None and not self._by_name:
            above = self._first_row[self.columns.index(self.info.column)]
            if not reads_as_label(above):
                self._set_header(False)
                self.estimated_rows = self._estimate_rows(size)
                self.info.column = self._choose_column(column)

    # -- opening -------------------------------------------------------------------
    def _spool_stdin(self) -> Path:
        fd, name = temporary_file("rcsqualify-stdin-")
        self._tmp = str(name)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        return name

    def close(self) -> None:
        if self._tmp:
            remove_temporaries([self._tmp])
            self._tmp = None

    def __enter__(self) -> ContactSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _set_names(self, headers: list[str], given: list[str] | None = None) -> None:
        """``headers``: names before deduplication; ``given``: the cells as in the file
        (an empty one was named ``column_<n>``), for the report's ``columns_renamed``."""
        self.headers = headers
        self.columns = unique_names(headers)
        self.info.columns_renamed = {n: h for n, h in zip(self.columns, given or headers,
                                                          strict=True) if n != h}
        self.info.columns = list(self.columns)

    def _set_header(self, header: bool) -> None:
        """Name the columns from the first row (a header) or ``column_<n>`` (data)."""
        assert self._first_row is not None
        width = len(self._first_row)
        if header:
            given = list(self._first_row)
            names = [c.strip() or f"column_{i + 1}" for i, c in enumerate(given)]
        else:
            names = [f"column_{i + 1}" for i in range(width)]
            given = list(names)
        if self._xlsx_all is not None:
            width = self._xlsx_all.num_columns
            names += [f"column_{i + 1}" for i in range(len(names), width)]
            given += names[len(given):]
        self._set_names(names, given)
        self.info.header = header
        if self.format == "csv":
            self._csv_read = pacsv.ReadOptions(
                encoding=self._arrow_encoding, column_names=self.columns,
                skip_rows=1 if header else 0, block_size=BATCH_BYTES)
        else:
            assert self._xlsx_all is not None
            table = self._xlsx_all.slice(1) if header else self._xlsx_all
            self._xlsx = table.rename_columns(self.columns)

    def _open_csv(self, encoding: str | None, delimiter: str | None) -> None:
        self._xlsx_all = None
        if not encoding:
            encoding = detect_encoding(self.path)
        with self.path.open("rb") as fh:
            raw = fh.read(256 << 10)
        try:
            sample = raw.decode(encoding, errors="strict" if len(raw) < (256 << 10) else "ignore")
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.info.path} is not {encoding}: {exc.reason} at byte "
                             f"{exc.start}; try another --encoding") from exc
        sample = sample.lstrip("\ufeff")
        if not sample.strip():
            raise InputError(f"{self.info.path} holds no rows: nothing to check")
        if "\x00" in sample:
            raise InputError(f"{self.info.path} looks binary, not a CSV")
        delim = delimiter if delimiter else sniff_delimiter(sample)
        if delim == "\\t" or delim.lower() == "tab":
            delim = "\t"
        if len(delim) != 1:
            raise InputError(f"--delimiter must be one character, got {delimiter!r}")
        # newline="": CR-only line endings (old Mac exports) end a row too
        first = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delim), [])
        self._first_row = first
        self.info.encoding = encoding
        self.info.delimiter = delim
        self._arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
        self._csv_parse = pacsv.ParseOptions(
            delimiter=delim, newlines_in_values=True, invalid_row_handler=self._bad_row,
        )
        self._bad: str | None = None

    def _bad_row(self, row: Any) -> str:
        line = f"line {row.number}" if row.number is not None else self._locate_ragged_line()
        self._bad = (f"{self.info.path}: {line} has {row.actual_columns} fields where the "
                     f"header has {row.expected_columns}; fix the row, or check "
                     f"--delimiter (detected {self.info.delimiter!r})")
        return "error"

    def _locate_ragged_line(self) -> str:
        """Arrow cannot number rows when quoted cells may hold newlines: find it again
        with the csv module (error path only, so its speed does not matter)."""
        with self.path.open(encoding=self.info.encoding or "utf-8", newline="",
                            errors="replace") as fh:
            reader = csv.reader(fh, delimiter=self.info.delimiter or ",")
            width = len(self.columns)
            for i, row in enumerate(reader):
                if (row or i == 0) and len(row) != width and any(row):
                    return f"line {reader.line_num}"
        return "a row"

    def _open_xlsx(self, sheet: str | None) -> None:
        import openpyxl

        try:
            wb = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:
            raise InputError(f"{self.info.path} is not a readable XLSX workbook "
                             f"({type(exc).__name__})") from exc
        try:
            names = wb.sheetnames
            if sheet is None:
                if len(names) > 1:
                    raise InputError(f"{self.info.path} has {len(names)} sheets "
                                     f"({', '.join(names)}): choose one with --sheet")
                sheet = names[0]
            if sheet not in names:
                raise InputError(f"no sheet {sheet!r} in {self.info.path}; sheets: "
                                 f"{', '.join(names)}")
            rows = wb[sheet].iter_rows(values_only=True)
            table = _rows_to_table(rows)
        finally:
            wb.close()
        if table is None:
            raise InputError(f"sheet {sheet!r} of {self.info.path} is empty: nothing to check")
        self._xlsx_all = table
        self._first_row = [v or "" for v in table.slice(0, 1).to_pylist()[0].values()]
        self.info.sheet = sheet

    def _open_xls(self, sheet: str | None) -> None:
        """Excel 97-2003 (xlrd, rcsqualify/xls.py): then exactly as an XLSX sheet."""
        from rcsqualify.xls import read_xls

        sheet, rows = read_xls(self.path, sheet, self.info.path)
        table = _rows_to_table(rows)
        if table is None:
            raise InputError(f"sheet {sheet!r} of {self.info.path} is empty: nothing to check")
        self._xlsx_all = table
        self._first_row = [v or "" for v in table.slice(0, 1).to_pylist()[0].values()]
        self.info.sheet = sheet

    def _open_parquet(self) -> None:
        self._xlsx_all = None
        try:
            self._pq = pq.ParquetFile(self.path)
        except Exception as exc:
            raise InputError(f"{self.info.path} is not a readable Parquet file "
                             f"({type(exc).__name__})") from exc
        self._set_names(list(self._pq.schema_arrow.names))

    def _open_ndjson(self) -> None:
        """Arrow's reader when every column it infers is text, booleans or 64-bit
        integers (all written back exactly); otherwise (numbers that are floats or wider
        than 64 bits, dates Arrow would reformat, nested values, a key changing JSON type
        from line to line, a key first seen after Arrow's first block) the exact
        line-by-line reader, which keeps every number's literal."""
        self._xlsx_all = None
        self._ndjson_exact = False
        try:
            reader = pajson.open_json(self.path, read_options=pajson.ReadOptions(
                block_size=BATCH_BYTES))
            names = list(reader.schema.names)
            exact = all(_exact_as_text(t) for t in reader.schema.types)
            if exact:
                for _ in reader:  # type changes and late keys surface while reading
                    pass
            reader.close()
        except pa.ArrowInvalid:
            exact = False
        if exact:
            self._set_names(names)
        else:
            self._ndjson_exact = True
            self._set_names(self._ndjson_keys())

    def _ndjson_lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        number = 0
        try:
            with self.path.open(encoding="utf-8-sig") as fh:
                for number, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line, parse_int=_JsonNumber, parse_float=_JsonNumber,
                                         parse_constant=_JsonNumber)
                    except ValueError as exc:
                        raise InputError(f"{self.info.path}: line {number} is not JSON") from exc
                    if not isinstance(obj, dict):
                        raise InputError(f"{self.info.path}: line {number} is not a JSON "
                                         "object")
                    yield number, obj
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.info.path}: line {number + 1} is not UTF-8 text "
                             "(NDJSON is UTF-8)") from exc

    def _ndjson_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for _, obj in self._ndjson_lines():
            keys.update(dict.fromkeys(obj))
        return list(keys)

    def _ndjson_text_batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        keys = [self.headers[self.columns.index(c)] for c in cols]
        values: list[list[str | None]] = [[] for _ in keys]

        def flush() -> pa.RecordBatch:
            batch = pa.RecordBatch.from_arrays([pa.array(v, pa.string()) for v in values],
                                               names=cols)
            for v in values:
                v.clear()
            return batch

        count = 0
        for _, obj in self._ndjson_lines():
            for key, out in zip(keys, values, strict=True):
                out.append(_json_text(obj.get(key)))
            count += 1
            if count == PARQUET_BATCH_ROWS:
                yield flush()
                count = 0
        if count:
            yield flush()

    def _estimate_rows(self, size: int) -> int | None:
        """Rows expected, for the progress bar's ETA: exact where the format says,
        else the file size over the mean line length of the first 256 KB."""
        if self._xlsx is not None:
            return int(self._xlsx.num_rows)
        if self.format == "parquet":
            return int(self._pq.metadata.num_rows)
        with self.path.open("rb") as fh:
            head = fh.read(256 << 10)
        lines = head.count(b"\n") or head.count(b"\r")
        return max(1, int(size / (len(head) / lines)) - 1) if lines else None

    # -- the phone column ----------------------------------------------------------
    def _choose_column(self, forced: str | None) -> str:
        self._by_name = False
        if forced is not None:
            if forced in self.columns:
                self._by_name = forced not in self._default_names()
                return forced
            if forced in self.headers:
                self._by_name = True
                return self.columns[self.headers.index(forced)]
            by_key = {_header_key(h): c for h, c in zip(self.headers, self.columns,
                                                        strict=True)}
            if _header_key(forced) in by_key:
                self._by_name = True
                return by_key[_header_key(forced)]
            if forced.isdigit() and 1 <= int(forced) <= len(self.columns):
                return self.columns[int(forced) - 1]
            raise InputError(f"no column {forced!r}; columns are: {', '.join(self.columns)}")
        ranked = sorted((p, i) for i, h in enumerate(self.headers)
                        if (p := header_priority(h)) is not None)
        if ranked:
            best = [self.columns[i] for p, i in ranked if p == ranked[0][0]]
            if len(best) == 1:
                return best[0]
            scores = self._content_scores(best)
            top = max(scores.values())
            winners = [c for c, s in scores.items() if s == top]
            if len(winners) == 1 and top > 0:
                return winners[0]
            raise InputError("several columns could hold the phone number ("
                             + ", ".join(best) + "): choose one with --column")
        scores = self._content_scores(list(self.columns))
        ordered = sorted(scores.items(), key=lambda kv: -kv[1])
        if ordered and ordered[0][1] >= 0.5 and (len(ordered) == 1 or ordered[1][1] < 0.5):
            return ordered[0][0]
        plausible = [c for c, s in ordered if s > 0.1]
        hint = f" (candidates: {', '.join(plausible)})" if plausible else ""
        raise InputError("no phone column found by header or content" + hint
                         + f"; columns are: {', '.join(self.columns)}; use --column")

    def _default_names(self) -> set[str]:
        return {f"column_{i + 1}" for i in range(len(self.columns))}

    def _content_scores(self, columns: list[str]) -> dict[str, float]:
        """Share of sampled cells that normalize to a valid mobile number, per column."""
        from rcsqualify.numbering.normalize import normalize_numbers
        from rcsqualify.numbering.plan import load_plan

        sample = self._sample(2000)
        plan = load_plan()
        out: dict[str, float] = {}
        for name in columns:
            col = sample.column(name)
            nonempty = pc.sum(pc.not_equal(pc.fill_null(col, ""), "")).as_py() or 0
            if not nonempty:
                out[name] = 0.0
                continue
            res = normalize_numbers(col, plan)
            out[name] = float(np.count_nonzero(res.kind == 1)) / nonempty
        return out

    def _sample(self, rows: int) -> pa.Table:
        taken: list[pa.RecordBatch] = []
        count = 0
        for batch in self.batches():
            taken.append(batch)
            count += batch.num_rows
            if count >= rows:
                break
        if not taken:
            return pa.table({c: pa.array([], pa.string()) for c in self.columns})
        return pa.Table.from_batches(taken).slice(0, rows)

    # -- reading ---------------------------------------------------------------------
    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of the file, every cell as a string (null for a missing cell),
        columns named by their unique names."""
        cols = columns or list(self.columns)
        if self.format == "csv":
            yield from self._csv_batches(cols)
        elif self.format in ("xlsx", "xls"):
            assert self._xlsx is not None
            yield from self._xlsx.select(cols).to_batches(max_chunksize=PARQUET_BATCH_ROWS)
        elif self.format == "parquet":
            index = [self.columns.index(c) for c in cols]
            names = self._read_names(index)
            for batch in self._pq.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=names):
                picked = batch.select(names) if names is not None else self._pick(batch, index)
                yield _as_strings(picked, cols)
        else:
            yield from self._ndjson_batches(cols)

    def _read_names(self, index: list[int]) -> list[str] | None:
        """Names to ask Parquet for (None = all, when the file repeats a name)."""
        if len(set(self.headers)) != len(self.headers):
            return None
        return [self.headers[i] for i in index]

    def _pick(self, batch: pa.RecordBatch, index: list[int]) -> pa.RecordBatch:
        """Columns by position (a Parquet file that repeats a name)."""
        return pa.RecordBatch.from_arrays([batch.column(i) for i in index],
                                          names=[self.columns[i] for i in index])

    def phone_batches(self) -> Iterator[pa.Array]:
        for batch in self.batches([self.info.column]):
            yield batch.column(0)

    def _csv_batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in self.columns},
            include_columns=cols, strings_can_be_null=False, quoted_strings_can_be_null=False,
        )
        self._bad = None
        try:
            reader = pacsv.open_csv(self.path, read_options=self._csv_read,
                                    parse_options=self._csv_parse, convert_options=convert)
            yield from reader
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if self._bad:
                raise InputError(self._bad) from exc
            raise InputError(f"{self.info.path}: cannot parse as CSV ({_csv_reason(exc)}); "
                             "check --delimiter and --encoding") from exc

    def _ndjson_batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        if self._ndjson_exact:
            yield from self._ndjson_text_batches(cols)
            return
        keys = [self.headers[self.columns.index(c)] for c in cols]
        try:
            reader = pajson.open_json(self.path, read_options=pajson.ReadOptions(
                block_size=BATCH_BYTES))
            for batch in reader:
                yield _as_strings(batch.select(keys), cols)
        except pa.ArrowInvalid as exc:
            raise InputError(f"{self.info.path} changed while it was read "
                             f"(NDJSON no longer parses)") from exc


def _csv_reason(exc: BaseException) -> str:
    """What went wrong, without the row Arrow quotes after its message (a contact)."""
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "UTF-8" in text:
        return "bytes that are not valid in the encoding"
    if "column" in text.lower():
        return "rows with different numbers of fields"
    return "malformed quoting or lines"


class _JsonNumber(str):
    """A JSON number kept as the literal text of the file (``json.loads`` hook)."""

    __slots__ = ()


def _json_text(value: Any) -> str | None:
    """A JSON value as text: strings as they are, numbers as their literal, booleans
    ``true``/``false``, objects and arrays as compact JSON with literal numbers."""
    if value is None:
        return None
    if isinstance(value, _JsonNumber):
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
    if isinstance(value, str) and not isinstance(value, _JsonNumber):
        return json.dumps(value, ensure_ascii=False)
    return _json_text(value) or "null"


def _exact_as_text(t: pa.DataType) -> bool:
    """Arrow types whose cast to text gives back what the NDJSON file says."""
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t)
                or pa.types.is_null(t) or pa.types.is_integer(t))


def _float_text(col: pa.Array) -> pa.Array:
    """Floats as text: whole numbers under 10^16 as digits (no ``.0``); the others,
    and inf/nan, as Arrow prints them (``1e+20``, ``inf``, ``0.1``)."""
    whole = pc.and_(pc.equal(pc.floor(col), col),
                    pc.less(pc.abs(col), pa.scalar(_WHOLE_FLOAT_LIMIT, col.type)))
    whole = pc.fill_null(whole, False)
    as_int = pc.cast(pc.if_else(whole, col, pa.scalar(0, col.type)), pa.int64())
    return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(col, pa.string()))


def _as_strings(batch: pa.RecordBatch, names: list[str] | None = None) -> pa.RecordBatch:
    """Every column as text (see the module docstring: values exactly as read)."""
    arrays = []
    for col in batch.columns:
        if pa.types.is_string(col.type):
            arrays.append(col)
        elif pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type):
            arrays.append(pc.cast(col, pa.string()))
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


def _python_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _xlsx_text(v: Any) -> str | None:
    """An XLSX cell as text: as Excel shows a General cell, without a float's ``.0``."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < _WHOLE_FLOAT_LIMIT:
            return str(int(v))
        return repr(v)
    return str(v)


def _rows_to_table(rows: Iterator[tuple[Any, ...]]) -> pa.Table | None:
    """XLSX rows (Python values) → a table of strings, the first non-blank row included
    (the caller decides whether it is a header); None if the sheet is empty."""
    first: tuple[Any, ...] | None = None
    for row in rows:
        if any(v is not None and str(v).strip() for v in row):
            first = row
            break
    if first is None:
        return None
    width = len(first)
    data: list[list[str | None]] = [[] for _ in range(width)]
    for row in itertools.chain([first], rows):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue  # a fully blank sheet row is formatting, not a contact (as in CSV)
        if len(row) > width and any(v is not None for v in row[width:]):
            data.extend([None] * len(data[0]) for _ in range(len(row) - width))
            width = len(row)
        for i in range(width):
            data[i].append(_xlsx_text(row[i]) if i < len(row) else None)
    return pa.Table.from_arrays([pa.array(col, pa.string()) for col in data],
                                names=[f"column_{i + 1}" for i in range(width)])
