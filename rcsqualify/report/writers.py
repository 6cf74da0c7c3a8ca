"""The annotated output (CONTRACT §6 ``--output``): every input row, every original
column, plus the verdict columns.

Pass 2 of the pipeline: the input is read again batch by batch and the per-row arrays
of pass 1 are joined on by position, so memory stays bounded. Files are written through
``rcsqualify.files.atomic_write`` (a ``.part`` beside the target, fsync, rename): a
failed or interrupted run never leaves a half file under the name the user asked for,
and a file that cannot be written is exit 2 with the previous version intact.

Column names: the reader already made them unique and kept them clear of ours (an
input ``status`` is ``status_input``; CONTRACT §11, stated in the report).

Values are written back as read, with one documented exception in CSV (CONTRACT §11,
OWASP "CSV injection"): a cell a spreadsheet would run as a formula (first character
``=``, ``@``, TAB or CR; ``+`` or ``-`` followed by something that is neither a phone
number nor a plain number) gets a leading ``'``, which spreadsheets show as text and do
not evaluate. ``--no-csv-escape`` turns it off (for programs that read the CSV as
data). NDJSON and Parquet outputs are never escaped: nothing evaluates them.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from rcsqualify.contacts import VERDICT_COLUMNS, ContactSource, unique_names
from rcsqualify.errors import InputError
from rcsqualify.files import atomic_write
from rcsqualify.notes import note
from rcsqualify.numbering.normalize import format_e164
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.pipeline import CheckResult
from rcsqualify.report.xlsx_output import as_write_error, sheet_text, write_annotated_xlsx
from rcsqualify.verdict import REASON_TO_STATUS, REASONS, REPAIRS, ROUTES, SOURCES, STATUSES

ANNOTATION_COLUMNS = list(VERDICT_COLUMNS)
#: What openpyxl (and the XLSX format) refuses in a cell: C0 controls but TAB, LF, CR.
#: ``--output -``: the annotated CSV streamed to standard output
STDOUT = "-"
RCS_LABELS = ("", "yes", "no", "error", "", "not_listed", "no")  # 6: no chatbot feature
OUTPUT_FORMATS = {".csv": "csv", ".tsv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson",
                  ".parquet": "parquet", ".xlsx": "xlsx"}


#: ``--csv-dialect`` (issue #26 item 5): delimiter and whether a UTF-8 byte-order mark
#: starts the file. French Excel opens a CSV by double-click with ';' as the separator
#: and reads it as UTF-8 only after a BOM (else as cp1252: broken accents).
CSV_DIALECTS = {"excel-fr": (";", True), "standard": (",", False)}
BOM = b"\xef\xbb\xbf"


def csv_dialect(choice: str | None, source: ContactSource) -> tuple[str, bool]:
    """The delimiter and BOM of the CSV outputs: the dialect asked for; else excel-fr
    when the input was a workbook or a ';' CSV (an Excel user's file), else the input's
    own delimiter without a BOM."""
    if choice is not None:
        return CSV_DIALECTS[choice]
    if source.format in ("xlsx", "xls") or source.info.delimiter == ";":
        return CSV_DIALECTS["excel-fr"]
    return source.info.delimiter or ",", False


def open_csv_sink(path: str | Path, bom: bool) -> pa.NativeFile:
    """A file to hand a ``pacsv.CSVWriter``, the BOM already written when asked."""
    sink = pa.OSFile(str(path), "wb")
    if bom:
        sink.write(BOM)
    return sink


def output_format(path: str) -> str:
    if path == STDOUT:
        return "csv"
    suffix = Path(path).suffix.lower()
    fmt = OUTPUT_FORMATS.get(suffix)
    if fmt is None:
        old = " (Excel 97-2003 files are read, not written)" if suffix == ".xls" else ""
        raise InputError(f"--output {path}: use a {', '.join(OUTPUT_FORMATS)} file name, "
                         f"or - for standard output{old}")
    return fmt


def _dict_array(codes: np.ndarray, vocabulary: list[str] | tuple[str, ...]) -> pa.Array:
    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                         pa.array(list(vocabulary), pa.string()))
    return arr.cast(pa.string())


class Annotator:
    """Builds the verdict columns for any slice of rows."""

    def __init__(self, result: CheckResult, plan: NumberingPlan) -> None:
        self.r = result
        d = result.distinct
        import pandas as pd  # only when rows are written: a check alone never loads it

        op_codes, op_vocab = pd.factorize(d.operator, use_na_sentinel=False)
        self.op_vocab = [*(str(o) for o in op_vocab), ""]
        # Per-number arrays with one sentinel appended: index -1 (an invalid row, which
        # has no number) picks the sentinel, so rows index them directly.
        self.op = np.append(op_codes.astype(np.int32), len(self.op_vocab) - 1)
        self.source = np.append(d.source, 0)
        self.rcs = np.append(d.rcs, 0)
        self.terr_vocab = [*plan.territories, ""]
        self.terr = np.append(plan.block_territory, len(self.terr_vocab) - 1)
        from rcsqualify.report.routes import route_per_number

        routes = route_per_number(result)  # only with --other-route
        self.route = None if routes is None else np.append(routes, 0)
        contacts = result.contacts
        self.chosen_cell = None if contacts is None else contacts.chosen_cell()

    def columns(self, start: int, stop: int) -> dict[str, pa.Array]:
        rows = self.r.rows
        reason = rows.reason[start:stop]
        di = rows.distinct_index[start:stop]
        op, src, rcs = self.op[di], self.source[di], self.rcs[di]
        terr = self.terr[rows.block[start:stop]]  # block -1 (invalid) → sentinel too
        return {
            "msisdn_e164": format_e164(rows.key[start:stop]),
            "status": _dict_array(REASON_TO_STATUS[reason], [str(s) for s in STATUSES]),
            "reason": _dict_array(reason, REASONS),
            "repaired": _dict_array(rows.repaired[start:stop], REPAIRS),
            "operator": _dict_array(op, self.op_vocab),
            "operator_source": _dict_array(src, SOURCES),
            "territory": _dict_array(terr, self.terr_vocab),
            "rcs": _dict_array(rcs, RCS_LABELS),
            **({} if self.route is None else {
                "route": _dict_array(self.route[di], ROUTES)}),
            **self._contact_columns(start, stop),
        }

    def _contact_columns(self, start: int, stop: int) -> dict[str, pa.Array]:
        """With contacts (issue #25): the chosen number and its column, then each
        phone column's own number and status ("" for a blank cell). Their names are
        reserved like the verdict columns: an input column of the same name is renamed
        when the batch is written (``annotated_batches``)."""
        c = self.r.contacts
        if c is None or self.chosen_cell is None:
            return {}
        rows = c.grouping.n_rows
        chosen = self.chosen_cell[start:stop]
        blank = c.cell_reason == REASONS.index("empty")
        column = np.where(blank[chosen], len(c.columns), chosen // max(rows, 1))
        statuses = [*(str(st) for st in STATUSES), ""]
        out = {"chosen_number": format_e164(c.cell_key[chosen]),
               "chosen_column": _dict_array(column, [*c.columns, ""])}
        here = np.arange(start, stop, dtype=np.int64)
        for i, name in enumerate(c.columns):
            cells = here + i * rows
            status = REASON_TO_STATUS[c.cell_reason[cells]]
            status = np.where(blank[cells], len(STATUSES), status)
            out[f"{name}_e164"] = format_e164(c.cell_key[cells])
            out[f"{name}_status"] = _dict_array(status, statuses)
        return out


def annotated_batches(source: ContactSource, result: CheckResult, plan: NumberingPlan
                      ) -> Iterator[pa.RecordBatch]:
    """The input's batches with the verdict columns appended, in file order."""
    ann = Annotator(result, plan)
    names: list[str] | None = None
    offset = 0
    contacts = len(result.rows.key)
    for batch in source.batches():
        n = batch.num_rows
        real = max(0, min(n, contacts - offset))
        extra = ann.columns(offset, offset + real)
        if real < n:  # the total/footer rows at the end (contacts/footer.py)
            extra = _with_footer(extra, n - real)
        offset += n
        if names is None:  # identity unless a verdict column was added to Annotator only
            names = unique_names(batch.schema.names, reserved=tuple(extra))
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, *extra.values()], names=[*names, *extra.keys()])
    if offset != contacts + source.info.footer_rows:
        raise InputError(f"{source.info.path} changed while it was read "
                         f"({offset} rows now, {contacts} before)")


def _with_footer(columns: dict[str, pa.Array], footer: int) -> dict[str, pa.Array]:
    """``columns`` followed by ``footer`` rows annotated only with reason ``footer``."""
    blank = pa.array([""] * footer, pa.string())
    return {name: pa.concat_arrays([col, pa.array(["footer"] * footer, pa.string())
                                    if name == "reason" else blank])
            for name, col in columns.items()}


#: The one atomic-write helper, under the name the runner has always imported.
atomic_path = atomic_write

# CONTRACT §11 / OWASP: what a spreadsheet evaluates, and the signed cells it may keep.
_FORMULA_START = r"^[=@\t\r]"
_SIGNED = r"^[+-][\s\S]"
_PHONE_OR_NUMBER = (r"^(\+\s*\(?\d[\d\s.()/-]*"  # +33 6 12 34 56 78, +33(0)6…
                    r"|[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?)$")  # -12,5 +3e5


def spreadsheet_safe(column: pa.Array) -> pa.Array:
    """``column`` with a leading ``'`` on every cell a spreadsheet would evaluate."""
    if column.null_count == len(column) or not pa.types.is_string(column.type):
        return column
    import pyarrow.compute as pc  # a check that writes no CSV does not import it

    danger = pc.match_substring_regex(column, _FORMULA_START)
    signed = pc.and_(pc.match_substring_regex(column, _SIGNED),
                     pc.invert(pc.match_substring_regex(column, _PHONE_OR_NUMBER)))
    mask = pc.fill_null(pc.or_(danger, signed), False)
    if not pc.any(mask).as_py():
        return column
    return pc.if_else(mask, pc.binary_join_element_wise("'", column, ""), column)


def escape_batch(batch: pa.RecordBatch, columns: int) -> pa.RecordBatch:
    """The first ``columns`` columns (the input's) made spreadsheet-safe: their cells
    and their names, which become the CSV header row (issue #23 item 14: a column named
    ``=HYPERLINK(…)`` was written as it was). A CSV writer takes this schema."""
    arrays = [spreadsheet_safe(c) if i < columns else c for i, c in enumerate(batch.columns)]
    names = batch.schema.names
    safe = spreadsheet_safe(pa.array(names[:columns], pa.string())).to_pylist()
    return pa.RecordBatch.from_arrays(arrays, names=[*safe, *names[columns:]])


def write_batches(path: str, batches: Iterator[pa.RecordBatch], *, delimiter: str = ",",
                  escape_columns: int = 0, bom: bool = False) -> int:
    """Write ``batches`` to ``path`` in the format its extension names; returns rows.
    In CSV the first ``escape_columns`` columns are made spreadsheet-safe."""
    fmt = output_format(path)
    if Path(path).suffix.lower() == ".tsv":
        delimiter = "\t"
    if path == STDOUT:
        return _csv_to_stdout(batches, delimiter=delimiter, escape_columns=escape_columns,
                              bom=bom)
    rows = 0
    with atomic_write(path) as tmp:
        first = next(batches, None)
        if first is None:
            tmp.write_bytes(b"")
            return 0
        if fmt == "csv":
            opts = pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed")
            schema = escape_batch(first, escape_columns).schema if escape_columns else (
                first.schema)
            with open_csv_sink(tmp, bom) as sink, pacsv.CSVWriter(
                    sink, schema, write_options=opts) as w:
                for b in _chain(first, batches):
                    w.write_batch(escape_batch(b, escape_columns) if escape_columns else b)
                    rows += b.num_rows
        elif fmt == "xlsx":
            raise ValueError("an .xlsx output is written by write_annotated_xlsx")
        elif fmt == "parquet":
            import pyarrow.parquet as pq  # imported for a Parquet output only

            with pq.ParquetWriter(str(tmp), first.schema, compression="zstd") as w:
                for b in _chain(first, batches):
                    w.write_batch(b)
                    rows += b.num_rows
        else:
            with tmp.open("w", encoding="utf-8") as fh:
                for b in _chain(first, batches):
                    text = b.to_pandas().to_json(orient="records", lines=True,
                                                 force_ascii=False)
                    fh.write(text if text.endswith("\n") or not text else text + "\n")
                    rows += b.num_rows
    return rows


def _csv_to_stdout(batches: Iterator[pa.RecordBatch], *, delimiter: str,
                   escape_columns: int, bom: bool) -> int:
    """``--output -``: the annotated CSV written to standard output batch by batch
    (csvkit's way: a pipe gets rows as they are made, memory stays bounded). Text goes
    through ``sys.stdout``, so the CI guard (``textsafe.CommandGuard``) sees every
    line: a cell cannot start a workflow command."""
    import io

    rows = 0
    header = True
    out = sys.stdout
    if bom:
        out.write("\ufeff")
    for batch in batches:
        safe = escape_batch(batch, escape_columns) if escape_columns else batch
        buffer = io.BytesIO()
        pacsv.write_csv(safe, buffer, write_options=pacsv.WriteOptions(
            delimiter=delimiter, quoting_style="needed", include_header=header))
        header = False
        out.write(buffer.getvalue().decode("utf-8"))
        rows += batch.num_rows
    if header:  # no batch at all: nothing to write, as a file would be empty
        return 0
    out.flush()
    return rows


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def write_annotated(path: str, source: ContactSource, result: CheckResult,
                    plan: NumberingPlan, *, csv_escape: bool = True,
                    dialect: str | None = None, warnings: list[str] | None = None) -> int:
    """Write the annotated rows at ``path`` (its extension names the format); returns
    the rows written. An ``.xlsx`` keeps the input's types (``xlsx_output``); cells it
    had to change to fit XLSX are counted in ``warnings`` when given."""
    if output_format(path) == "xlsx":
        rows, changed = write_annotated_xlsx(
            path, source, annotated_batches(source, result, plan),
            expected_rows=len(result.rows.key) + source.info.footer_rows)
        if changed and warnings is not None:
            warnings.append(note("xlsx_output_cells", count=changed, name=Path(path).name))
        return rows
    delimiter, bom = csv_dialect(dialect, source)
    if path == STDOUT and dialect is None:
        bom = False  # a pipe: a BOM only when the Excel dialect is asked for by name
    batches = annotated_batches(source, result, plan)
    if (delimiter, bom) == CSV_DIALECTS["excel-fr"] and output_format(path) == "csv":
        batches = decimal_commas(batches, source)  # a CSV for Excel only: NDJSON and
        # Parquet hold the value ('0,1' there broke tests/test_user_files.py)
    return write_batches(path, batches, delimiter=delimiter,
                         escape_columns=len(source.output_columns) if csv_escape else 0,
                         bom=bom)


def decimal_commas(batches: Iterator[pa.RecordBatch], source: ContactSource
                   ) -> Iterator[pa.RecordBatch]:
    """A workbook's number cells with a decimal comma, for the excel-fr CSV: French Excel
    reads ``107.35`` as text (an amount column that no longer sums) and ``107,35`` as a
    number. Only cells the sheet held as numbers; text cells (a CSV's, a phone typed as
    ``06.12.34.56.78``) are the user's own spelling and stay as they are."""
    import pyarrow.compute as pc

    from rcsqualify.contacts.cells import CELL_NUMBER

    kinds_batches = source.cell_kinds()
    if kinds_batches is None:
        yield from batches
        return
    kinds = pa.Table.from_batches(list(kinds_batches))
    at = 0
    for batch in batches:
        columns = list(batch.columns)
        for i in range(min(kinds.num_columns, len(columns))):
            number = kinds.column(i).slice(at, batch.num_rows).to_numpy() == CELL_NUMBER
            if number.any():
                col = columns[i]
                columns[i] = pc.if_else(pa.array(number),
                                        pc.replace_substring(col, ".", ","), col)
        at += batch.num_rows
        yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


class TextSheet:
    """One sheet of a write-only workbook whose every cell is text (never a number or a
    formula), streamed to a temporary file as rows come (openpyxl's write-only mode:
    memory stays bounded); control characters XLSX cannot hold are removed, cells
    over 32,767 characters cut (counted), Excel's ``_xHHHH_`` escaped (``sheet_text``).
    The ``--split-xlsx`` lists."""

    def __init__(self, name: str) -> None:
        import openpyxl

        self.workbook = openpyxl.Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(name)
        self.cleaned = 0

    def _cell(self, value: str | None) -> Any:
        from openpyxl.cell import WriteOnlyCell

        if value is None:
            return None
        value, changed = sheet_text(value)
        self.cleaned += changed
        cell = WriteOnlyCell(self.sheet, value=value)
        cell.data_type = "s"  # text even for "+33…" or "=…"
        return cell

    def append_row(self, values: list[str | None]) -> None:
        cells = [self._cell(v) for v in values]
        with as_write_error():
            self.sheet.append(cells)

    def append_batch(self, batch: pa.RecordBatch) -> None:
        columns = [c.to_pylist() for c in batch.columns]
        for row in zip(*columns, strict=True):
            self.append_row(list(row))

    def save(self, path: Path) -> None:
        with as_write_error():
            self.workbook.save(path)

    def discard(self) -> None:
        """After a failure (a full disk): end openpyxl's row writers now and remove the
        temporary file it streams the rows to (personal data). Left to the garbage
        collector, the writers printed "Exception ignored" tracebacks."""
        writer = getattr(self.sheet, "_writer", None)
        for generator in (getattr(self.sheet, "_rows", None), getattr(writer, "xf", None)):
            if generator is not None:
                with contextlib.suppress(Exception):
                    generator.close()
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.cleanup()
