"""``ContactSource``: a contact file opened, its columns named, its phone column chosen.

The flow of opening: spool standard input if it is ``-``; sniff the format; open that
format's reader (``reader.Reader``); name the columns (unique names, ``columns.py``);
choose the phone column; for CSV and sheets, read the first row as data instead of a
header when the cell above the phone column is not a label (CONTRACT §11), and choose
again. ``--header`` / ``--no-header`` decide instead of the detection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from rcsqualify.contacts.columns import (
    DATE_CELL,
    EXTRA_COLUMN,
    choose_column,
    header_key,
    reads_as_header,
    reads_as_label,
    safe_names,
    unique_names,
)
from rcsqualify.contacts.reader import InputInfo, Reader
from rcsqualify.contacts.sniff import FORMATS, check_encoding, sniff_format
from rcsqualify.contacts.spool import remove_spool, spool_stdin, spool_stream
from rcsqualify.errors import InputError
from rcsqualify.numbering.buffers import string_parts

#: header words of a phone column of any kind (a landline included), for the hint
_PHONE_WORD = re.compile(r"(tel|phone|portable|mobile|gsm|fixe|fax|domicile|numero|cell|"
                         r"msisdn|bureau)")


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
    a label, one of them a phone header, one or two of them may carry an index or a
    year: ``reads_as_header``). Conservative: a contact is never skipped as a title."""
    if len(rows) < 2:
        return False
    title = [c for c in rows[0] if c and c.strip()]
    return (len(title) == 1 and any(ch.isalpha() for ch in title[0])
            and sum(ch.isdigit() for ch in title[0]) < 9
            and reads_as_header(rows[1]))


class ContactSource:
    """A contact file opened for reading, its phone column chosen.

    ``phone_batches()`` yields the phone column alone (pass 1: classification);
    ``batches()`` yields every column as text (pass 2: the annotated output).
    ``headers`` are the names as the file gives them, ``columns`` the unique names used
    everywhere else (see ``unique_names``). ``fold_past_header=False`` keeps a sheet's
    columns right of its header as columns (a reader that picks its columns after
    opening, by content: a portability extract), see ``_fold_past_header``.
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
        more_columns: Sequence[str] = (),
        all_phone_columns: bool = False,
        contact_id: str | None = None,
        number_rank: str | None = None,
        table: pa.Table | None = None,
        fold_past_header: bool = True,
        skip_option: str = "--skip-rows",
    ) -> None:
        self._tmp: Path | None = None
        #: the input was a stream read once (standard input, a pipe), copied to a spool
        #: that ``close`` removes: its rows cannot be read again after that
        self.spooled = False
        #: (device, inode, size, mtime) of the file when it was opened: every later read
        #: (the annotated output, ``Result.rows`` long after the run) checks it first
        self.stamp: tuple[int, int, int, int] | None = None
        try:
            if table is not None:  # contacts in memory (the Python API): ``path`` names them
                self._open_table(path, table, fmt or "arrow", column=column,
                                 auto=all_phone_columns)
            else:
                self._open(path, column=column, encoding=encoding, delimiter=delimiter,
                           sheet=sheet, fmt=fmt, header=header, skip_rows=skip_rows,
                           auto=all_phone_columns, skip_option=skip_option)
            self._contact_columns(more_columns, all_phone_columns, contact_id,
                                  number_rank, column_given=column is not None)
            if table is None and fold_past_header:
                self._fold_past_header()
            narrow = self._reader.narrow_floats()
            if narrow:  # a float32 column (a table, a Parquet file) lost digits already
                from rcsqualify.contacts.table import refuse_narrow_floats

                refuse_narrow_floats(narrow, self.columns, self.phone_columns,
                                     self.contact_id_column)
        except BaseException:
            self.close()  # a spooled copy of stdin never outlives a failed start
            raise

    def _open(self, path: str, *, column: str | None, encoding: str | None,
              delimiter: str | None, sheet: str | None, fmt: str | None,
              header: bool | None, skip_rows: int | None, auto: bool = False,
              skip_option: str = "--skip-rows") -> None:
        if path == "-":
            self._tmp = self.path = spool_stdin()
            self.spooled = True
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
                    self.spooled = True
                except OSError as exc:
                    raise InputError(f"{shown}: cannot read ({exc.strerror})") from exc
        try:
            st = self.path.stat()
            size = st.st_size
            if not self.spooled:
                self.stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
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
        if skip_rows and self._reader.first_row is not None:
            # a format whose schema names the columns (Parquet, NDJSON) has no rows to
            # skip: ``settings.input_notes`` refuses the typed option and notes a
            # profile's as ignored (its header-row stopped a Parquet run, exit 2)
            self._reader.skip(skip_rows, skip_option)
        elif skip_rows is None and header is None and self._reader.first_row is not None and (
                is_title(self._reader.leading_rows(2))):
            self._reader.skip(self._reader.first_row_number)  # through the title row
            self.info.title = True
        first_row = self._reader.first_row
        if first_row is not None:
            # rows are numbered as a spreadsheet numbers them, blank ones included
            self.info.header_row = self._reader.first_row_number
            self.info.skipped_rows = self._reader.first_row_number - 1
        if first_row is not None:
            self._set_header(header is not False)
        else:
            self._set_names(self._reader.headers)
        if not self.columns:
            raise InputError(f"{shown} has no columns: nothing to check")
        self.estimated_rows = self._reader.estimated_rows(size)
        self.info.column, by_name = self._choose_column(column, auto)
        if header is None and first_row is not None and not by_name:
            above = first_row[self.columns.index(self.info.column)]
            if not reads_as_label(above):
                self._set_header(False)
                self.estimated_rows = self._reader.estimated_rows(size)
                self.info.column, _ = self._choose_column(column, auto)

    def _open_table(self, label: str, table: pa.Table, fmt: str, *,
                    column: str | None, auto: bool = False) -> None:
        """An in-memory table (``contacts/table.py``): its schema names the columns, as
        a Parquet file's does, so there is no header row to detect and no row to skip."""
        from rcsqualify.contacts.table import TableReader

        self.path = Path(label)
        self.format = fmt
        self.info = InputInfo(path=label, format=fmt)
        self._reader = TableReader(table, self.info)
        self._set_names(self._reader.headers)
        if not self.columns:
            raise InputError(f"{label} has no columns: nothing to check")
        self.estimated_rows = self._reader.estimated_rows(0)
        self.info.column, _ = self._choose_column(column, auto)

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
        self._given = list(given or headers)
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

    def _fold_past_header(self) -> None:
        """A sheet's cells right of its header's last name go to ``EXTRA_COLUMN``, as a
        CSV row's cells past its header do (counted in ``long_rows``): a note typed
        beside a table is no column of its own. Unless one of those columns is used
        (the phone column, one of the phone columns, the contact id or rank column: a
        phone column without a header cell): then the sheet stays a grid of columns,
        those past the header named ``column_<n>``. Without a header, every column of
        the sheet is ``column_<n>``: there is no name to be right of."""
        named = self._reader.header_width
        if not self.info.header or named is None or named >= len(self.columns):
            return
        used = {*self.phone_columns, self.contact_id_column, self.number_rank_column}
        if used & set(self.columns[named:]):
            return
        self._set_names(self.headers[:named], self._given[:named], True)

    # -- several numbers per contact (issue #25, docs/contacts.md) ------------------
    def _contact_columns(self, more: Sequence[str], auto: bool, contact_id: str | None,
                         number_rank: str | None, *, column_given: bool) -> None:
        """The phone columns in priority order (``phone_columns``: the chosen column
        first, then ``more``, or every phone-like column with ``auto``), the contact id
        and rank columns. A column named twice is an error: a repeated ``--column``
        never silently keeps one of them. Without any of these, the other phone-like
        columns are only named (``info.other_phone_columns``) for the read line's hint."""
        self.phone_columns = [self.info.column]
        self.contact_id_column: str | None = None
        self.number_rank_column: str | None = None
        self.info.other_phone_columns = []
        if auto:
            if more or column_given:
                raise InputError("--columns auto takes every phone-like column: give "
                                 "--column or --columns auto, not both")
            # the id and rank columns are never phone columns, even when they hold
            # numbers (a base keyed by a phone number): auto leaves them out
            not_phones = {self._choose_column(c)[0] for c in (contact_id, number_rank) if c}
            shares = self.phone_shares()
            self.phone_columns = sorted(
                (c for c in shares if c not in not_phones),
                key=lambda c: (-shares[c][1], self.columns.index(c)))
            if self.info.column not in (*self.phone_columns, *not_phones):
                self.phone_columns.insert(0, self.info.column)
            if not self.phone_columns:
                raise InputError("--columns auto found no phone column besides "
                                 "--contact-id and --number-rank: name one with --column")
            self.info.column = self.phone_columns[0]  # the first in priority order
        for wanted in more:
            found, _ = self._choose_column(wanted)
            if found in self.phone_columns:
                raise InputError(f"the column {safe_names([found])} is given twice: give "
                                 "each phone column once, in priority order")
            self.phone_columns.append(found)
        for option, name in (("--contact-id", contact_id), ("--number-rank", number_rank)):
            if name is None:
                continue
            found, _ = self._choose_column(name)
            if found in self.phone_columns:
                raise InputError(f"{option} {safe_names([found])} is a phone column")
            if option == "--contact-id":
                self.contact_id_column = found
            else:
                self.number_rank_column = found
        if self.number_rank_column is not None and self.contact_id_column is None:
            raise InputError("--number-rank orders the numbers of one contact id: give "
                             "--contact-id too")
        if self.number_rank_column == self.contact_id_column is not None:
            raise InputError("--number-rank and --contact-id name the same column")
        self.info.phone_columns = list(self.phone_columns)
        self.info.contact_id = self.contact_id_column
        self.info.number_rank = self.number_rank_column
        if not self.per_contact:
            # only columns whose header names a phone are sampled for the hint: a plain
            # check reads no more of the file than before
            named = [c for c, h in zip(self.columns, self.headers, strict=True)
                     if c != self.info.column and _PHONE_WORD.search(header_key(h))]
            if named:
                shares = self._column_shares(named)
                self.info.other_phone_columns = [c for c in named if shares[c][0] >= 0.5]

    @property
    def per_contact(self) -> bool:
        """Whether rows are grouped into contacts (several phone columns or a contact
        id): with one column and no id, each row is its own contact, read as before."""
        return len(self.phone_columns) > 1 or self.contact_id_column is not None

    def phone_shares(self) -> dict[str, tuple[float, float]]:
        """The phone-like columns (half their sampled non-empty cells or more are valid
        numbers), each with its shares of valid numbers and of mobile numbers."""
        shares = self._column_shares(list(self.columns))
        return {c: v for c, v in shares.items() if v[0] >= 0.5}

    def contact_batches(self) -> Iterator[pa.RecordBatch]:
        """Batches of the phone columns (priority order), then the contact id and the
        rank column when named."""
        extra = [c for c in (self.contact_id_column, self.number_rank_column) if c]
        cols = [*self.phone_columns, *extra]
        return self._dates_as_words(self.batches(cols), cols, len(self.phone_columns))

    # -- the phone column ----------------------------------------------------------
    def _choose_column(self, forced: str | None, auto: bool = False) -> tuple[str, bool]:
        return choose_column(forced, self.headers, self.columns, self._content_scores,
                             ties_ok=auto)

    def _content_scores(self, columns: list[str]) -> dict[str, float]:
        """Share of sampled cells that normalize to a valid mobile number, per column."""
        return {c: mobile for c, (_, mobile) in self._column_shares(columns).items()}

    def _column_shares(self, columns: list[str]) -> dict[str, tuple[float, float]]:
        """Per column, the shares of its sampled non-empty cells that normalize to a
        valid number and to a valid mobile number (0 for a column without any)."""
        from rcsqualify.numbering.normalize import normalize_numbers
        from rcsqualify.numbering.plan import load_plan

        sample = self._sample(2000)
        plan = load_plan()
        out: dict[str, tuple[float, float]] = {}
        for name in columns:
            col = sample.column(name).combine_chunks()
            offsets, _, valid = string_parts(col)
            filled = np.diff(offsets) > 0
            nonempty = int(np.count_nonzero(filled if valid is None else filled & valid))
            if not nonempty:
                out[name] = (0.0, 0.0)
                continue
            res = normalize_numbers(col, plan)
            out[name] = (float(np.count_nonzero(res.reason == 0)) / nonempty,
                         float(np.count_nonzero(res.kind == 1)) / nonempty)
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
        columns named by their unique names. The file is first checked to be the one
        that was opened (``check_unchanged``)."""
        self.check_unchanged()
        return self._reader.batches(columns or list(self.columns))

    def check_unchanged(self) -> None:
        """An ``InputError`` (exit 2) when the input can no longer be read as it was:
        a file replaced, edited, truncated or removed since it was opened (its rows
        would be paired with another row's verdict), or a stream whose spooled copy is
        gone (its path could now name another open file). Reads in memory: nothing to
        check."""
        shown = self.info.path
        if self.spooled and self._tmp is None:
            raise InputError(f"{shown} was a stream read once (standard input or a pipe) "
                             "and its copy is gone: its rows cannot be read again (give "
                             "a file, or the rows in memory)")
        if self.stamp is None:
            return
        try:
            st = self.path.stat()
        except OSError as exc:
            raise InputError(f"{shown} cannot be read again ({exc.strerror}): it was "
                             "moved or removed since it was read") from None
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != self.stamp:
            raise InputError(f"{shown} changed since it was read: its rows would no longer "
                             "match their verdicts; check it again")

    def cell_kinds(self) -> Iterator[pa.RecordBatch] | None:
        """Beside ``batches()``: what each cell of the input's columns was in the file
        (``cells.CELL_*``: text, number, boolean, date), or None when the format kept
        only text (CSV, NDJSON, Parquet, whose cells the reader made text)."""
        return self._reader.kinds(list(self.columns))

    @property
    def rows_known(self) -> bool:
        """``estimated_rows`` is exact (a sheet, Parquet, a table), not an estimate."""
        return bool(self._reader.rows_known)

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
        cols = [self.info.column]
        for batch in self._dates_as_words(self.batches(cols), cols, 1):
            yield batch.column(0)

    def _dates_as_words(self, batches: Iterator[pa.RecordBatch], cols: list[str],
                        phones: int) -> Iterator[pa.RecordBatch]:
        """``batches`` of ``cols`` for the check, the date cells of the first ``phones``
        columns (phone columns) replaced by ``DATE_CELL``, which reads as
        ``not_a_number``. A date cell in a phone column is a number Excel turned into a
        date when it was typed (``06/12/34``): its digits are the date's, gone for
        good; read as text (``2034-12-06``) it was ``too_short``, a reason that sends
        the user looking for a short number. Only the check sees the word: the
        annotated output keeps the cell as the sheet held it (``batches()``)."""
        kinds_batches = self._reader.kinds(cols[:phones])
        if kinds_batches is None:  # every cell was text (CSV...): nothing to look at
            yield from batches
            return
        import pyarrow.compute as pc  # only for a sheet with typed cells (start-up cost)

        from rcsqualify.contacts.cells import CELL_DATE

        table = pa.Table.from_batches(list(kinds_batches))
        dates = [pc.equal(pa.concat_arrays(table.column(i).chunks), CELL_DATE)
                 for i in range(phones)]
        if not any(pc.any(d).as_py() for d in dates):
            yield from batches
            return
        at = 0
        for batch in batches:
            arrays = list(batch.columns)
            for i in range(phones):
                arrays[i] = pc.if_else(dates[i].slice(at, batch.num_rows),
                                       pa.scalar(DATE_CELL), arrays[i])
            at += batch.num_rows
            yield pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
