"""Spreadsheets: XLSX (streamed, ``contacts/xlsx.py``) and XLS (xlrd, ``rcsqualify/xls.py``).

A sheet is read whole into a table of strings (an XLSX sheet holds at most 1,048,576
rows, an XLS sheet 65,536), so its row count is exact. ``--sheet`` names the sheet
when the workbook has several. Fully blank sheet rows are formatting, not contacts.
Rows keep their sheet row numbers (``--header-row``). Cells right of the header's last
name are folded into the ``extra`` column, as a CSV row's cells past its header are
(``ContactSource._fold_past_header`` decides when; ``_fold`` makes the text).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rcsqualify.contacts.cells import CELL_TEXT, sheet_tables
from rcsqualify.contacts.columns import EXTRA_COLUMN, extra_line
from rcsqualify.contacts.reader import BATCH_ROWS, InputInfo, Reader
from rcsqualify.errors import InputError


class SheetReader(Reader):
    """One sheet of a workbook, already read as text (see ``open_xlsx``, ``open_xls``)."""

    def __init__(self, path: Path, info: InputInfo, sheet: str,
                 rows: Iterator[tuple[Any, ...]], numbers: list[int] | None = None) -> None:
        super().__init__(path, info)
        tables = sheet_tables(rows, numbers)
        if tables is None:
            raise InputError(f"sheet {sheet!r} of {info.path} is empty: nothing to check")
        table, kinds = tables.table, tables.kinds
        #: the sheet row number of each row of ``_all`` (blank rows are not in it)
        self._numbers = tables.numbers
        self.first_row_number = int(self._numbers[0])
        self._all = table
        self._table: pa.Table = table
        # what each cell was (number, date…), for an .xlsx output (cells.sheet_tables)
        self._all_kinds = kinds
        self._kinds: pa.Table | None = kinds
        #: the text and kinds of ``EXTRA_COLUMN`` (cells right of the header's last name)
        self._extra: tuple[pa.Array, pa.Array] | None = None
        self.first_row = [v or "" for v in table.slice(0, 1).to_pylist()[0].values()]
        info.sheet = sheet

    @property
    def width(self) -> int:
        return int(self._all.num_columns)

    def leading_rows(self, count: int) -> list[list[str]]:
        return [[v or "" for v in row.values()]
                for row in self._all.slice(0, count).to_pylist()]

    def skip(self, rows: int, option: str = "--skip-rows") -> None:
        # the first non-blank row below sheet row ``rows`` (the rows are numbered as
        # Excel numbers them: blank rows count)
        at = int(np.searchsorted(self._numbers, rows, side="right"))
        if at >= self._all.num_rows:
            raise InputError(f"{self.no_row_left(rows, option)} (the sheet's last "
                             f"non-blank row is row {self._numbers[-1]})")
        self._all = self._all.slice(at)
        self._numbers = self._numbers[at:]
        self.first_row_number = int(self._numbers[0])
        if self._all_kinds is not None:
            self._all_kinds = self._all_kinds.slice(at)
        self.first_row = [v or "" for v in self._all.slice(0, 1).to_pylist()[0].values()]

    @property
    def header_width(self) -> int:
        """Columns up to the first row's last non-blank cell: right of it, a header row
        names nothing (``ContactSource`` folds those columns into ``extra``)."""
        row = self.first_row or []
        return max((i + 1 for i, c in enumerate(row) if c.strip()), default=0)

    def name_columns(self, headers: list[str], columns: list[str], header: bool) -> None:
        """Names for the first ``len(columns)`` columns; the sheet's columns right of
        them (a header narrower than the sheet: ``ContactSource._fold_past_header``)
        are folded into ``EXTRA_COLUMN``, as a CSV row's cells past its header are."""
        super().name_columns(headers, columns, header)
        table = self._all.slice(1) if header else self._all
        kinds = None if self._all_kinds is None else (
            self._all_kinds.slice(1) if header else self._all_kinds)
        self._extra = None
        self.info.long_rows = 0
        if len(columns) < table.num_columns:
            text, long = _fold(table, len(columns))
            self.info.long_rows = long
            # only empty cells past the header: nothing to keep
            self._extra = (text, pa.array(np.full(len(text), CELL_TEXT, np.int8))
                           ) if long else None
            keep = list(range(len(columns)))
            table = table.select(keep)
            kinds = None if kinds is None else kinds.select(keep)
        self._table = table.rename_columns(columns)
        self._kinds = None if kinds is None else kinds.rename_columns(columns)

    def _pick(self, table: pa.Table, cols: list[str], which: int) -> pa.Table:
        """``cols`` of ``table``, and ``EXTRA_COLUMN`` (``which``: 0 its text, 1 its
        kinds) when every column is asked for and the sheet has cells past its header."""
        picked = table.select(cols)
        if self._extra is not None and cols == self.columns:
            picked = picked.append_column(EXTRA_COLUMN, self._extra[which])
        return picked

    def batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        yield from self._pick(self._table, cols, 0).to_batches(max_chunksize=BATCH_ROWS)

    def kinds(self, cols: list[str]) -> Iterator[pa.RecordBatch] | None:
        if self._kinds is None:
            return None
        return iter(self._pick(self._kinds, cols, 1).to_batches(max_chunksize=BATCH_ROWS))

    rows_known = True

    def estimated_rows(self, size: int) -> int | None:
        return int(self._table.num_rows)


def _fold(table: pa.Table, width: int) -> tuple[pa.Array, int]:
    """The cells of ``table`` right of column ``width``, one text a row for
    ``EXTRA_COLUMN`` (``""`` when none), and how many rows hold one.

    The cells are one ``;``-separated CSV line (French Excel's list separator,
    ``columns.extra_line``), empty cells between them kept so that positions survive,
    trailing ones dropped: one plain cell is its own text, one holding ``;``, a quote or
    a line break is quoted (its bare text read exactly as the two cells ``x`` and ``y``
    when it was ``x;y``; a CSV input's ``extra`` quotes it too). An empty text cell is
    no cell (Excel shows nothing). The column is text, as a CSV's ``extra`` is (an
    ``.xlsx`` output writes it as text)."""
    past = [table.column(i).to_pylist() for i in range(width, table.num_columns)]
    texts: list[str] = []
    long = 0
    for r in range(table.num_rows):
        cells = [col[r] for col in past]
        last = max((i for i, v in enumerate(cells) if v), default=-1)
        if last < 0:
            texts.append("")
            continue
        long += 1
        texts.append(extra_line(["" if v is None else v for v in cells[:last + 1]], ";"))
    return pa.array(texts, pa.string()), long


def open_xlsx(path: Path, info: InputInfo, sheet: str | None) -> SheetReader:
    """Streamed with the bounds of ``rcsqualify/contacts/xlsx.py`` (issue #23)."""
    from rcsqualify.contacts.xlsx import read_xlsx

    read = read_xlsx(path, sheet, info.path)
    info.formulas_without_value = read.formulas_without_value
    return SheetReader(path, info, read.name, read.rows, read.numbers)


def open_xls(path: Path, info: InputInfo, sheet: str | None) -> SheetReader:
    """Excel 97-2003 (xlrd, rcsqualify/xls.py): then exactly as an XLSX sheet."""
    from rcsqualify.xls import read_xls

    sheet, rows = read_xls(path, sheet, info.path)
    return SheetReader(path, info, sheet, rows)
