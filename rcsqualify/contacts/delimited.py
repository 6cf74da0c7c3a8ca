"""CSV/TSV/TXT, streamed by Arrow's CSV reader in blocks of ``BATCH_BYTES``.

- A row with more or fewer fields than the header is an input error (exit 2) naming the
  line: silently shifting columns would attach numbers to the wrong contacts.
- CR-only line endings (old Mac exports) end a row too.
- Messages never quote a cell (CONTRACT §11): Arrow's own message quotes the row, so it
  is replaced by a reason (``_csv_reason``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from rcsqualify.contacts.reader import BATCH_BYTES, InputInfo, Reader
from rcsqualify.contacts.sniff import detect_encoding, sniff_delimiter
from rcsqualify.errors import InputError


class CsvReader(Reader):
    """Delimited text: encoding and delimiter sniffed unless given."""

    def __init__(self, path: Path, info: InputInfo, encoding: str | None,
                 delimiter: str | None) -> None:
        super().__init__(path, info)
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
        # newline="": CR-only line endings (old Mac exports) end a row too
        self.first_row = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delim),
                              [])
        info.encoding = encoding
        info.delimiter = delim
        self._arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
        self._parse = pacsv.ParseOptions(
            delimiter=delim, newlines_in_values=True, invalid_row_handler=self._bad_row,
        )
        self._bad: str | None = None
        self._read: pacsv.ReadOptions | None = None

    def name_columns(self, headers: list[str], columns: list[str], header: bool) -> None:
        super().name_columns(headers, columns, header)
        self._read = pacsv.ReadOptions(
            encoding=self._arrow_encoding, column_names=columns,
            skip_rows=1 if header else 0, block_size=BATCH_BYTES)

    def batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in self.columns},
            include_columns=cols, strings_can_be_null=False, quoted_strings_can_be_null=False,
        )
        self._bad = None
        try:
            reader = pacsv.open_csv(self.path, read_options=self._read,
                                    parse_options=self._parse, convert_options=convert)
            yield from reader
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if self._bad:
                raise InputError(self._bad) from exc
            raise InputError(f"{self.info.path}: cannot parse as CSV ({_csv_reason(exc)}); "
                             "check --delimiter and --encoding") from exc

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


def _csv_reason(exc: BaseException) -> str:
    """What went wrong, without the row Arrow quotes after its message (a contact)."""
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "UTF-8" in text:
        return "bytes that are not valid in the encoding"
    if "column" in text.lower():
        return "rows with different numbers of fields"
    return "malformed quoting or lines"
