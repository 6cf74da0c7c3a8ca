"""The one small interface every format's reader implements, and what it reports.

``ContactSource`` (the front object) opens a reader for the sniffed format, names the
columns (deciding, for CSV and sheets, whether the first row is a header), then asks
the reader only for record batches of named columns. A reader never chooses the phone
column and never renames: it reads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from rcsqualify.errors import InputError

BATCH_BYTES = 8 << 20  # CSV/NDJSON block size: ~250k rows of a typical export per batch
BATCH_ROWS = 262_144  # rows per batch where the format counts rows (Parquet, sheets)


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
    #: XLSX formula cells saved without their result (read as missing, and said so)
    formulas_without_value: int = 0
    #: CSV rows with fewer / more fields than the header (read padded / with the cells
    #: past the header kept in the ``extra`` column): issue #26 item 5
    short_rows: int = 0
    long_rows: int = 0
    #: CSV quotes left open (malformed quoting), read as text: how many, and the
    #: physical lines they opened on (the first ten)
    malformed_quotes: int = 0
    malformed_quote_lines: list[int] = field(default_factory=list)
    #: rows above the header skipped (``--skip-rows`` / ``--header-row``, a title row
    #: detected: ``title`` says which, or blank rows), blank rows included
    skipped_rows: int = 0
    title: bool = False
    #: the row of the header (or, without one, of the first row read), numbered as a
    #: spreadsheet numbers its rows; None for formats without rows to skip
    header_row: int | None = None
    #: total/footer rows at the end, left out of ``rows`` (``footer.py``)
    footer_rows: int = 0
    #: several numbers per contact (issue #25): the phone columns in priority order,
    #: the contact id and rank columns; and, with one column, the other phone-like
    #: columns the read line names as a hint
    phone_columns: list[str] = field(default_factory=list)
    contact_id: str | None = None
    number_rank: str | None = None
    other_phone_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        grouped = len(self.phone_columns) > 1 or self.contact_id is not None
        return {
            **({"phone_columns": list(self.phone_columns), "contact_id": self.contact_id,
                "number_rank": self.number_rank} if grouped else {}),
            **({"other_phone_columns": list(self.other_phone_columns)}
               if self.other_phone_columns else {}),
            "path": self.path, "format": self.format, "rows": self.rows,
            "column": self.column, "encoding": self.encoding, "delimiter": self.delimiter,
            "sheet": self.sheet, "header": self.header,
            "columns_renamed": dict(self.columns_renamed),
            "formulas_without_value": self.formulas_without_value,
            "short_rows": self.short_rows, "long_rows": self.long_rows,
            "malformed_quotes": {"count": self.malformed_quotes,
                                 "lines": list(self.malformed_quote_lines)},
            "footer_rows": self.footer_rows, "skipped_rows": self.skipped_rows,
            "header_row": self.header_row,
            "title_row": self.title,
        }


class Reader(ABC):
    """A contact file of one format, opened.

    Formats whose first row may be a header or a contact (CSV, XLSX, XLS) expose it as
    ``first_row`` and wait for ``name_columns``; formats whose schema names the columns
    (Parquet, NDJSON) set ``headers`` when opened.
    """

    #: the first row's cells, when the front object must decide if it is a header
    first_row: list[str] | None = None
    #: its row number in the file, 1-based, as a spreadsheet numbers it (blank rows
    #: above count): what ``--header-row`` names and the read line says
    first_row_number = 1
    #: ``estimated_rows`` is the exact count (a sheet, Parquet, a table in memory)
    rows_known = False

    def __init__(self, path: Path, info: InputInfo) -> None:
        self.path = path
        self.info = info
        self.headers: list[str] = []  # names as the file gives them
        self.columns: list[str] = []  # unique names (see columns.unique_names)

    def leading_rows(self, count: int) -> list[list[str]]:
        """Up to ``count`` first non-blank rows, for the title-row detection (formats
        with a ``first_row`` only)."""
        return []

    def skip(self, rows: int, option: str = "--skip-rows") -> None:
        """Start the file below its row ``rows``, counted as a spreadsheet numbers its
        rows (blank rows included: the sheet row for XLSX/XLS, the row Excel shows for
        a CSV): ``first_row`` becomes the first non-blank row after it, and
        ``first_row_number`` its number (``--skip-rows``, ``--header-row``, or a title
        row detected). Before ``name_columns``. ``option``: what the user gave, for the
        error when no row is left (``no_row_left``)."""
        raise InputError("--skip-rows / --header-row apply to CSV, XLSX and XLS files")

    def no_row_left(self, rows: int, option: str) -> str:
        """The error of a skip past the last row, in the user's own terms: ``--header-row
        99`` was reported as ``--skip-rows 98``, an option never typed."""
        asked = f"{option} {rows + 1 if option == '--header-row' else rows}"
        return f"{self.info.path}: {asked} leaves no row to read"

    @property
    def width(self) -> int:
        """Columns the first row spans (a sheet may be wider than its first row)."""
        return len(self.first_row or ())

    @property
    def header_width(self) -> int | None:
        """Columns a header row names, when the format's rows may run past it with
        nothing above (a sheet); None: every row's width is its own (CSV)."""
        return None

    def name_columns(self, headers: list[str], columns: list[str], header: bool) -> None:
        """The names decided by the front object; ``header``: skip the first row."""
        self.headers = headers
        self.columns = columns

    @abstractmethod
    def batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        """Record batches of the columns ``cols`` (unique names), every cell a string
        (null for a missing cell), named ``cols``."""

    def narrow_floats(self) -> dict[int, tuple[str, str]]:
        """Columns (by position) typed float32/float16 that hold a value, for formats
        whose columns have a type (a Parquet file, an Arrow table): their numbers lost
        digits before we read them (``table.refuse_narrow_floats``). Text formats: none."""
        return {}

    def kinds(self, cols: list[str]) -> Iterator[pa.RecordBatch] | None:
        """Batches beside ``batches(cols)`` giving what each cell was in the file
        (``cells.CELL_*`` codes), for formats that keep types the text lost (sheets);
        None: every cell was text."""
        return None

    def estimated_rows(self, size: int) -> int | None:
        """Rows expected, for the progress bar's ETA: the file size over the mean line
        length of the first 256 KB (formats that know their row count override it)."""
        with self.path.open("rb") as fh:
            head = fh.read(256 << 10)
        lines = head.count(b"\n") or head.count(b"\r")
        return max(1, int(size / (len(head) / lines)) - 1) if lines else None
