"""Spreadsheets: XLSX (streamed, ``contacts/xlsx.py``) and XLS (xlrd, ``rcsqualify/xls.py``).

A sheet is read whole into a table of strings (an XLSX sheet holds at most 1,048,576
rows, an XLS sheet 65,536), so its row count is exact. ``--sheet`` names the sheet
when the workbook has several. Fully blank sheet rows are formatting, not contacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rcsqualify.contacts.cells import sheet_tables
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
        self.first_row = [v or "" for v in table.slice(0, 1).to_pylist()[0].values()]
        info.sheet = sheet

    @property
    def width(self) -> int:
        return int(self._all.num_columns)

    def leading_rows(self, count: int) -> list[list[str]]:
        return [[v or "" for v in row.values()]
                for row in self._all.slice(0, count).to_pylist()]

    def skip(self, rows: int) -> None:
        # the first non-blank row below sheet row ``rows`` (the rows are numbered as
        # Excel numbers them: blank rows count)
        at = int(np.searchsorted(self._numbers, rows, side="right"))
        if at >= self._all.num_rows:
            raise InputError(f"{self.info.path}: --skip-rows {rows} leaves no row to read "
                             f"(the sheet's last non-blank row is row {self._numbers[-1]})")
        self._all = self._all.slice(at)
        self._numbers = self._numbers[at:]
        self.first_row_number = int(self._numbers[0])
        if self._all_kinds is not None:
            self._all_kinds = self._all_kinds.slice(at)
        self.first_row = [v or "" for v in self._all.slice(0, 1).to_pylist()[0].values()]

    def name_columns(self, headers: list[str], columns: list[str], header: bool) -> None:
        super().name_columns(headers, columns, header)
        table = self._all.slice(1) if header else self._all
        self._table = table.rename_columns(columns)
        if self._all_kinds is not None:
            kinds = self._all_kinds.slice(1) if header else self._all_kinds
            self._kinds = kinds.rename_columns(columns)

    def batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        yield from self._table.select(cols).to_batches(max_chunksize=BATCH_ROWS)

    def kinds(self, cols: list[str]) -> Iterator[pa.RecordBatch] | None:
        if self._kinds is None:
            return None
        return iter(self._kinds.select(cols).to_batches(max_chunksize=BATCH_ROWS))

    rows_known = True

    def estimated_rows(self, size: int) -> int | None:
        return int(self._table.num_rows)


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
