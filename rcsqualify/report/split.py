"""Clean lists for the campaign (``check --split-dir DIR``).

One pass over the input writes:
- ``send_rcs.csv``: target-operator mobiles, RCS-reachable: send these over RCS;
- ``other_operators.csv``: mobiles of other operators, with the operator: another route
  or SMS;
- ``not_rcs.csv``: target-operator mobiles without RCS: SMS fallback;
- ``unverified.csv``: target-operator mobiles whose capability is unknown (offline run,
  failure, not sampled): check again before sending;
- ``remove.csv``: invalid cells and numbers that are not mobiles, with the reason.

Every list keeps the original columns plus the verdict columns, one row per distinct
number (its first row in the file); the other rows of a number are the report's
``duplicates``. Invalid rows are never duplicates (each is its own failed message), so
they all go to ``remove.csv``. The lists therefore partition the input: every row is in
exactly one list or counted as a duplicate.

CSV files are UTF-8, quoted, with the input's delimiter: a program reading them as text
gets ``+33…`` and leading zeros intact. Spreadsheets guess types on CSV import and turn
``+33…`` into a number or a formula whatever the quoting, so ``--split-xlsx`` also
writes each list as an .xlsx workbook whose cells are typed as text. All files are
written under temporary names and renamed at the end.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from rcsqualify.contacts import ContactSource
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.pipeline import CheckResult
from rcsqualify.report.writers import annotated_batches, umask_mode
from rcsqualify.verdict import REASON_TO_STATUS, STATUSES, Status

LISTS = ("send_rcs", "other_operators", "not_rcs", "unverified", "remove")
_LIST_OF_STATUS = {
    Status.REACHABLE: "send_rcs", Status.OTHER_OPERATOR: "other_operators",
    Status.NOT_RCS: "not_rcs", Status.UNVERIFIED: "unverified",
    Status.INVALID: "remove", Status.NOT_MOBILE: "remove",
}
XLSX_MAX_ROWS = 1_048_575


def list_codes(result: CheckResult) -> np.ndarray:
    """Per row: index into LISTS, or -1 for a duplicate row."""
    rows = result.rows
    status = REASON_TO_STATUS[rows.reason]
    lookup = np.array([LISTS.index(_LIST_OF_STATUS[s]) for s in STATUSES], dtype=np.int8)
    codes = lookup[status].astype(np.int8)
    first = np.zeros(len(codes), dtype=bool)
    first[result.distinct.first_row] = True
    codes[(rows.distinct_index >= 0) & ~first] = -1
    return codes


def write_split_lists(directory: str, source: ContactSource, result: CheckResult,
                      plan: NumberingPlan, *, xlsx: bool = False) -> dict[str, int]:
    """Write the lists; returns rows per list (and ``duplicates``)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    codes = list_codes(result)
    counts = {name: int(np.count_nonzero(codes == i)) for i, name in enumerate(LISTS)}
    counts["duplicates"] = int(np.count_nonzero(codes == -1))
    delimiter = source.info.delimiter or ","
    tmp_paths: dict[str, Path] = {}
    writers: dict[str, pacsv.CSVWriter] = {}
    offset = 0
    try:
        for batch in annotated_batches(source, result, plan):
            n = batch.num_rows
            part = codes[offset:offset + n]
            offset += n
            for i, name in enumerate(LISTS):
                mask = part == i
                if name not in writers:
                    fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".part")
                    os.close(fd)
                    tmp_paths[name] = Path(tmp)
                    writers[name] = pacsv.CSVWriter(tmp, batch.schema, write_options=(
                        pacsv.WriteOptions(delimiter=delimiter, quoting_style="all_valid")))
                if mask.any():
                    writers[name].write_batch(batch.filter(pa.array(mask)))
        for w in writers.values():
            w.close()
        if not writers:  # an input without rows still gets its (empty) lists
            for name in LISTS:
                fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".part")
                os.close(fd)
                tmp_paths[name] = Path(tmp)
        xlsx_tmp: dict[str, Path] = {}
        if xlsx:
            for name, path in tmp_paths.items():
                if counts[name] <= XLSX_MAX_ROWS:
                    xlsx_tmp[name] = _csv_to_text_xlsx(path, delimiter, target, name)
        for name, path in tmp_paths.items():
            os.chmod(path, umask_mode())
            os.replace(path, target / f"{name}.csv")
        for name, path in xlsx_tmp.items():
            os.chmod(path, umask_mode())
            os.replace(path, target / f"{name}.xlsx")
    except BaseException:
        for path in tmp_paths.values():
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    return counts


def _csv_to_text_xlsx(csv_path: Path, delimiter: str, directory: Path, name: str) -> Path:
    """The list as a workbook whose every cell is a string (never a number or formula)."""
    import csv

    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(name)
    with csv_path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter=delimiter):
            cells = []
            for value in row:
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # text even for "+33…" or "=…"
                cells.append(cell)
            ws.append(cells)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".xlsx.part")
    os.close(fd)
    wb.save(tmp)
    return Path(tmp)
