"""``ContactSource``: a contact file opened, its columns named, its phone column chosen.

The flow of opening: spool standard input if it is ``-``; sniff the format; open that
format's reader (``reader.Reader``); name the columns (unique names, ``columns.py``);
choose the phone column; for CSV and sheets, read the first row as data instead of a
header when the cell above the phone column is not a label (CONTRACT §11), and choose
again. ``--header`` / ``--no-header`` decide instead of the detection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from rcsqualify.contacts.columns import (
    EXTRA_COLUMN,
    choose_column,
    header_priority,
    reads_as_label,
    unique_names,
)
from rcsqualify.contacts.reader import InputInfo, Reader
from rcsqualify.contacts.sniff import FORMATS, check_encoding, sniff_format
from rcsqualify.contacts.spool import remove_spool, spool_stdin, spool_stream
from rcsqualify.errors import InputError
from rcsqualify.numbering.buffers import string_parts


def open_reader(fmt: str, path: Path, info: InputInfo, *, encoding: str | None,
                delimiter: str | None, sheet: str | None) -> Reader:
    """The reader of ``fmt``; each format's module (and its libraries: openpyxl,
    pyarrow.parquet, pyarrow.json) is imported only when a file of it is read."""
    if fmt == "csv":
        from rcsqualify.contacts.delimited import CsvReader

        return CsvReader(path, info, encoding, delimiter)
    if fmt in ("xlsx", "xls"):
        from rcsqualify.contacts.sheets import open_xls, open_xlsx

        return (open_xlsx if fmt == "xlsx" else open_xls)(path, info, sheet)
    if fmt == "parquet":
        from rcsqualify.contacts.parquet_file import ParquetReader

        return ParquetReader(path, info)
    from rcsqualify.contacts.ndjson import NdjsonReader

    return NdjsonReader(path, info)


def is_title(rows: list[list[str]]) -> bool:
    """A title row above the header (issue #26 item 5: ``Export clients 2026`` above
    ``Nom;Téléphone;Ville``): the first row holds one non-empty cell, with letters and
    no phone-like run of digits, and the second reads as labels (two cells or more, each
    a label by the header rule, one of them a phone header). Conservative: a contact is
    never skipped as a title."""
    if len(rows) < 2:
        return False
    title = [c for c in rows[0] if c and c.strip()]
    labels = [c for c in rows[1] if c and c.strip()]
    return (len(title) == 1 and any(ch.isalpha() for ch in title[0])
            and sum(ch.isdigit() for ch in title[0]) < 9
            and len(labels) >= 2 and all(reads_as_label(c) for c in labels)
            and any(header_priority(c) is not None for c in labels))


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
        skip_rows: int | None = None,
    ) -> None:
        self._tmp: Path | None = None
        try:
            self._open(path, column=column, encoding=encoding, delimiter=delimiter,
                       sheet=sheet, fmt=fmt, header=header, skip_rows=skip_rows)
        except BaseException:
            self.close()  # a spooled copy of stdin never outlives a failed start
            raise

    def _open(self, path: str, *, column: str | None, encoding: str | None,
              delimiter: str | None, sheet: str | None, fmt: str | None,
              header: bool | None, skip_rows: int | None) -> None:
        if path == "-":
            self._tmp = self.path = spool_stdin()
            shown = "-"
        else:
            self.path = Path(path)
            shown = path
            if not self.path.exists():
                raise InputError(f"{path}: no such file")
            if self.path.is_dir():
                raise InputError(f"{path} is a directory, not a contact file")
            if self.path.is_char_device() or self.path.is_socket() or (
                    self.path.is_block_device()):
                raise InputError(f"{path} is a device, not a contact file")
            if self.path.is_fifo():
                # a pipe (``check <(cat base.csv)``) has no size and reads once: spooled
                # like standard input (it read as "empty" before)
                try:
                    with self.path.open("rb") as stream:
                        self._tmp = self.path = spool_stream(stream)
                except OSError as exc:
                    raise InputError(f"{shown}: cannot read ({exc.strerror})") from exc
        try:
            size = self.path.stat().st_size
            with self.path.open("rb") as fh:
                head = fh.read(8)
        except OSError as exc:
            raise InputError(f"{shown}: cannot read ({exc.strerror})") from exc
        if size == 0:
            raise InputError(f"{shown} is empty: nothing to check")
        self.format = fmt or sniff_format(self.path if path != "-" else Path("-"), head)
        if self.format not in FORMATS:
            raise InputError(f"unknown format {self.format!r}: use one of {', '.join(FORMATS)}")
        if encoding is not None:
            check_encoding(encoding)
        self.info = InputInfo(path=shown, format=self.format)
        self._reader = open_reader(self.format, self.path, self.info, encoding=encoding,
                                   delimiter=delimiter, sheet=sheet)
        if skip_rows:
            self._reader.skip(skip_rows)
            self.info.skipped_rows = skip_rows
        elif skip_rows is None and header is None and self._reader.first_row is not None and (
                is_title(self._reader.leading_rows(2))):
            self._reader.skip(1)
            self.info.skipped_rows, self.info.title = 1, True
        first_row = self._reader.first_row
        if first_row is not None:
            self._set_header(header is not False)
        else:
            self._set_names(self._reader.headers)
        if not self.columns:
            raise InputError(f"{shown} has no columns: nothing to check")
        self.estimated_rows = self._reader.estimated_rows(size)
        self.info.column, by_name = self._choose_column(column)
        if header is None and first_row is not None and not by_name:
            above = first_row[self.columns.index(self.info.column)]
            if not reads_as_label(above):
                self._set_header(False)
                self.estimated_rows = self._reader.estimated_rows(size)
                self.info.column, _ = self._choose_column(column)

    def close(self) -> None:
        if self._tmp:
            remove_spool(self._tmp)
            self._tmp = None

    def __enter__(self) -> ContactSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- naming ----------------------------------------------------------------------
    def _set_names(self, headers: list[str], given: list[str] | None = None,
                   header: bool = True) -> None:
        """``headers``: names before deduplication; ``given``: the cells as in the file
        (an empty one was named ``column_<n>``), for the report's ``columns_renamed``."""
        self.headers = headers
        self.columns = unique_names(headers)
        self.info.columns_renamed = {n: h for n, h in zip(self.columns, given or headers,
                                                          strict=True) if n != h}
        self.info.columns = list(self.columns)
        self._reader.name_columns(self.headers, self.columns, header)

    def _set_header(self, header: bool) -> None:
        """Name the columns from the first row (a header) or ``column_<n>`` (data)."""
        first_row = self._reader.first_row
        assert first_row is not None
        if header:
            given = list(first_row)
            names = [c.strip() or f"column_{i + 1}" for i, c in enumerate(given)]
        else:
            names = [f"column_{i + 1}" for i in range(len(first_row))]
            given = list(names)
        # a sheet row may be narrower than the sheet: the columns past it are unnamed
        names += [f"column_{i + 1}" for i in range(len(names), self._reader.width)]
        given += names[len(given):]
        self._set_names(names, given, header)
        self.info.header = header

    # -- the phone column ----------------------------------------------------------
    def _choose_column(self, forced: str | None) -> tuple[str, bool]:
        return choose_column(forced, self.headers, self.columns, self._content_scores)

    def _content_scores(self, columns: list[str]) -> dict[str, float]:
        """Share of sampled cells that normalize to a valid mobile number, per column."""
        from rcsqualify.numbering.normalize import normalize_numbers
        from rcsqualify.numbering.plan import load_plan

        sample = self._sample(2000)
        plan = load_plan()
        out: dict[str, float] = {}
        for name in columns:
            col = sample.column(name).combine_chunks()
            offsets, _, valid = string_parts(col)
            filled = np.diff(offsets) > 0
            nonempty = int(np.count_nonzero(filled if valid is None else filled & valid))
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
        return self._reader.batches(columns or list(self.columns))

    @property
    def output_columns(self) -> list[str]:
        """The input's columns as the annotated output holds them: ``columns``, then
        ``extra`` when a CSV row was longer than the header (known after pass 1)."""
        return [*self.columns, *([EXTRA_COLUMN] if self.info.long_rows else [])]

    def tail_rows(self, count: int) -> list[list[str | None]]:
        """The cells of the last ``count`` rows (a full read: asked only when the last
        rows may be a footer, ``footer.py``)."""
        kept: list[pa.RecordBatch] = []
        held = 0
        for batch in self.batches():
            kept.append(batch)
            held += batch.num_rows
            while kept and held - kept[0].num_rows >= count:
                held -= kept.pop(0).num_rows
        if not kept:
            return []
        table = pa.Table.from_batches(kept)
        table = table.slice(max(0, table.num_rows - count))
        return [list(row.values()) for row in table.to_pylist()]

    def phone_batches(self) -> Iterator[pa.Array]:
        for batch in self.batches([self.info.column]):
            yield batch.column(0)
