"""Parquet, streamed by row groups in batches of ``BATCH_ROWS``; its schema names the
columns and its metadata counts the rows. pyarrow.parquet is imported only here, so a
CSV run never pays for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rcsqualify.contacts.cells import as_strings
from rcsqualify.contacts.reader import BATCH_ROWS, InputInfo, Reader
from rcsqualify.errors import InputError


class ParquetReader(Reader):
    def __init__(self, path: Path, info: InputInfo) -> None:
        super().__init__(path, info)
        try:
            self._pq = pq.ParquetFile(path)
        except Exception as exc:
            raise InputError(f"{info.path} is not a readable Parquet file "
                             f"({type(exc).__name__})") from exc
        self.headers = list(self._pq.schema_arrow.names)

    def batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        index = [self.columns.index(c) for c in cols]
        names = self._read_names(index)
        for batch in self._pq.iter_batches(batch_size=BATCH_ROWS, columns=names):
            picked = batch.select(names) if names is not None else self._pick(batch, index)
            yield as_strings(picked, cols)

    def _read_names(self, index: list[int]) -> list[str] | None:
        """Names to ask Parquet for (None = all, when the file repeats a name)."""
        if len(set(self.headers)) != len(self.headers):
            return None
        return [self.headers[i] for i in index]

    def _pick(self, batch: pa.RecordBatch, index: list[int]) -> pa.RecordBatch:
        """Columns by position (a Parquet file that repeats a name)."""
        return pa.RecordBatch.from_arrays([batch.column(i) for i in index],
                                          names=[self.columns[i] for i in index])

    rows_known = True

    def narrow_floats(self) -> dict[int, tuple[str, str]]:
        from rcsqualify.contacts.table import narrow_floats

        return narrow_floats(self._pq.schema_arrow.types, self._holds_value)

    def _holds_value(self, index: int) -> bool:
        """False only when every row group's statistics say the column is all null
        (a writer may omit statistics: then it may hold a value)."""
        meta = self._pq.metadata
        if meta.num_columns != len(self.headers):  # nested columns: no 1-1 leaf
            return True
        nulls = 0
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(index).statistics
            if stats is None or not stats.has_null_count:
                return True
            nulls += stats.null_count
        return nulls < meta.num_rows

    def estimated_rows(self, size: int) -> int | None:
        return int(self._pq.metadata.num_rows)
