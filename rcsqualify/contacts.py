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
- Header: the first row is a header unless none of its cells has a letter (a bare
  list of numbers); then columns are named ``column_1``, ``column_2``...
- A row with more or fewer fields than the header is an input error (exit 2) naming the
  line: silently shifting columns would attach numbers to the wrong contacts.
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
import tempfile
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

BATCH_BYTES = 8 << 20  # CSV block size: ~250k rows of a typical export per batch
PARQUET_BATCH_ROWS = 262_144
_DELIMITERS = [";", ",", "\t", "|"]
_FORMATS = ("csv", "xlsx", "parquet", "ndjson")

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


_PHONE_LIKE = re.compile(r"^\s*(?:tel:)?\+?[\d\s().\-/]{9,}\s*$", re.IGNORECASE)


def looks_like_header(cells: list[str]) -> bool:
    """A header has a cell with a letter and no cell that looks like a phone number."""
    has_word = any(re.search(r"[^\W\d_]", c) for c in cells)
    return has_word and not any(_PHONE_LIKE.match(c) for c in cells)


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "format": self.format, "rows": self.rows,
            "column": self.column, "encoding": self.encoding, "delimiter": self.delimiter,
            "sheet": self.sheet, "header": self.header,
        }


def _sniff_format(path: Path, head: bytes) -> str:
    ext = path.suffix.lower()
    if ext in (".xlsx", ".xlsm"):
        return "xlsx"
    if ext in (".parquet", ".pq"):
        return "parquet"
    if ext in (".ndjson", ".jsonl"):
        return "ndjson"
    if ext == ".xls":
        raise InputError(f"{path.name}: old .xls workbooks are not read; save it as .xlsx or CSV")
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
    ) -> None:
        self._tmp: str | None = None
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
        self.info = InputInfo(path=shown, format=self.format)
        self._xlsx: pa.Table | None = None
        if self.format == "csv":
            self._open_csv(encoding, delimiter)
        elif self.format == "xlsx":
            self._open_xlsx(sheet)
        elif self.format == "parquet":
            self._open_parquet()
        else:
            self._open_ndjson()
        if not self.columns:
            raise InputError(f"{shown} has no columns: nothing to check")
        self.estimated_rows = self._estimate_rows(size)
        self.info.columns = list(self.columns)
        self.info.column = self._choose_column(column)

    # -- opening -------------------------------------------------------------------
    def _spool_stdin(self) -> Path:
        fd, name = tempfile.mkstemp(prefix="rcsqualify-stdin-")
        self._tmp = name
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        return Path(name)

    def close(self) -> None:
        if self._tmp:
            Path(self._tmp).unlink(missing_ok=True)
            self._tmp = None

    def __enter__(self) -> ContactSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_csv(self, encoding: str | None, delimiter: str | None) -> None:
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError as exc:
                raise InputError(f"unknown encoding {encoding!r} given with --encoding") from exc
        else:
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
        first = next(csv.reader(io.StringIO(sample), delimiter=delim), [])
        header = looks_like_header(first)
        if header:
            names = [c.strip() or f"column_{i + 1}" for i, c in enumerate(first)]
        else:
            names = [f"column_{i + 1}" for i in range(len(first))]
        names = _dedupe_names(names)
        self.columns = names
        self.info.encoding = encoding
        self.info.delimiter = delim
        self.info.header = header
        self._csv_read = pacsv.ReadOptions(
            encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
            column_names=names, skip_rows=1 if header else 0, block_size=BATCH_BYTES,
        )
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
            raise InputError(f"{self.info.path} is not a readable XLSX workbook ({exc})") from exc
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
        self._xlsx = table
        self.columns = table.column_names
        self.info.sheet = sheet

    def _open_parquet(self) -> None:
        try:
            self._pq = pq.ParquetFile(self.path)
        except Exception as exc:
            raise InputError(f"{self.info.path} is not a readable Parquet file ({exc})") from exc
        self.columns = list(self._pq.schema_arrow.names)

    def _open_ndjson(self) -> None:
        """Arrow's reader when every key keeps one JSON type; otherwise (a phone written
        as a string on one line and as a number on the next, as JS exports do) a
        slower line-by-line reader that turns every value into text."""
        self._ndjson_mixed = False
        try:
            reader = pajson.open_json(self.path, read_options=pajson.ReadOptions(
                block_size=BATCH_BYTES))
            self.columns = list(reader.schema.names)
            for _ in reader:  # type changes surface while reading, not at open
                pass
            reader.close()
        except pa.ArrowInvalid as exc:
            if "changed from" not in str(exc):
                raise InputError(f"{self.info.path} is not valid NDJSON (one JSON object "
                                 f"per line): {_first_line(exc)}") from exc
            self._ndjson_mixed = True
            self.columns = self._ndjson_keys()

    def _ndjson_lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        with self.path.open(encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise InputError(f"{self.info.path}: line {number} is not JSON") from exc
                if not isinstance(obj, dict):
                    raise InputError(f"{self.info.path}: line {number} is not a JSON object")
                yield number, obj

    def _ndjson_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for _, obj in self._ndjson_lines():
            keys.update(dict.fromkeys(obj))
        return list(keys)

    def _ndjson_text_batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        def text(v: Any) -> str | None:
            if v is None:
                return None
            if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
                return str(int(v))
            return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)

        rows: list[dict[str, Any]] = []
        for _, obj in self._ndjson_lines():
            rows.append(obj)
            if len(rows) == PARQUET_BATCH_ROWS:
                yield pa.RecordBatch.from_arrays(
                    [pa.array([text(r.get(c)) for r in rows], pa.string()) for c in cols],
                    names=cols)
                rows = []
        if rows:
            yield pa.RecordBatch.from_arrays(
                [pa.array([text(r.get(c)) for r in rows], pa.string()) for c in cols],
                names=cols)

    def _estimate_rows(self, size: int) -> int | None:
        """Rows expected, for the progress bar's ETA: exact where the format says,
        else the file size over the mean line length of the first 256 KB."""
        if self._xlsx is not None:
            return int(self._xlsx.num_rows)
        if self.format == "parquet":
            return int(self._pq.metadata.num_rows)
        with self.path.open("rb") as fh:
            head = fh.read(256 << 10)
        lines = head.count(b"\n")
        return max(1, int(size / (len(head) / lines)) - 1) if lines else None

    # -- the phone column ----------------------------------------------------------
    def _choose_column(self, forced: str | None) -> str:
        if forced is not None:
            if forced in self.columns:
                return forced
            by_key = {_header_key(c): c for c in self.columns}
            if _header_key(forced) in by_key:
                return by_key[_header_key(forced)]
            if forced.isdigit() and 1 <= int(forced) <= len(self.columns):
                return self.columns[int(forced) - 1]
            raise InputError(f"no column {forced!r}; columns are: {', '.join(self.columns)}")
        ranked = sorted((p, i) for i, c in enumerate(self.columns)
                        if (p := header_priority(c)) is not None)
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
        """Record batches of the file, every cell as a string (null for a missing cell)."""
        cols = columns or list(self.columns)
        if self.format == "csv":
            yield from self._csv_batches(cols)
        elif self.format == "xlsx":
            assert self._xlsx is not None
            yield from self._xlsx.select(cols).to_batches(max_chunksize=PARQUET_BATCH_ROWS)
        elif self.format == "parquet":
            for batch in self._pq.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=cols):
                yield _as_strings(batch)
        else:
            yield from self._ndjson_batches(cols)

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
            raise InputError(f"{self.info.path}: cannot parse as CSV ({_first_line(exc)}); "
                             "check --delimiter and --encoding") from exc

    def _ndjson_batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        if self._ndjson_mixed:
            yield from self._ndjson_text_batches(cols)
            return
        try:
            reader = pajson.open_json(self.path, read_options=pajson.ReadOptions(
                block_size=BATCH_BYTES))
            for batch in reader:
                yield _as_strings(batch.select(cols))
        except pa.ArrowInvalid as exc:
            raise InputError(f"{self.info.path}: bad NDJSON ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _dedupe_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


def _as_strings(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Every column as text. Integers keep their digits; floats that are whole numbers
    are written without ``.0`` (the spreadsheet's doing, not the user's)."""
    arrays = []
    for col in batch.columns:
        if pa.types.is_string(col.type):
            arrays.append(col)
        elif pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type):
            arrays.append(pc.cast(col, pa.string()))
        elif pa.types.is_floating(col.type):
            whole = pc.equal(pc.floor(col), col)
            as_int = pc.cast(pc.if_else(whole, col, 0), pa.int64(), safe=False)
            arrays.append(pc.if_else(whole, pc.cast(as_int, pa.string()),
                                     pc.cast(col, pa.string())))
        else:
            try:
                arrays.append(pc.cast(col, pa.string()))
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
                arrays.append(pa.array([None if v is None else str(v) for v in col.to_pylist()],
                                       pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _rows_to_table(rows: Iterator[tuple[Any, ...]]) -> pa.Table | None:
    """XLSX rows (Python values) → a table of strings; None if the sheet is empty."""
    first: tuple[Any, ...] | None = None
    for row in rows:
        if any(v is not None and str(v).strip() for v in row):
            first = row
            break
    if first is None:
        return None
    header = looks_like_header([v if isinstance(v, str) else "" for v in first]) and all(
        isinstance(v, str) or v is None for v in first)
    width = len(first)
    data: list[list[str | None]] = [[] for _ in range(width)]

    def cell(v: Any) -> str | None:
        if v is None:
            return None
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
            return str(int(v))
        return str(v)

    body = rows if header else itertools.chain([first], rows)
    for row in body:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue  # a fully blank sheet row is formatting, not a contact (as in CSV)
        if len(row) > width and any(v is not None for v in row[width:]):
            data.extend([None] * len(data[0]) for _ in range(len(row) - width))
            width = len(row)
        for i in range(width):
            data[i].append(cell(row[i]) if i < len(row) else None)
    if header:
        names = [str(v).strip() if v is not None and str(v).strip() else f"column_{i + 1}"
                 for i, v in enumerate(first)]
        names += [f"column_{i + 1}" for i in range(len(names), width)]
    else:
        names = [f"column_{i + 1}" for i in range(width)]
    names = _dedupe_names(names)
    return pa.table({n: pa.array(col, pa.string()) for n, col in zip(names, data, strict=True)})
