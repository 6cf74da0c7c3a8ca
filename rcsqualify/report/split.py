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
written under temporary names and renamed together at the end with their manifest, all
or none (``files.publish_all``), under the list directory's lock (``LISTS_LOCK``, held
by ``check`` and ``refresh`` alike: two runs never mix their lists).

The user's files (CONTRACT §11):
- CSV lists are spreadsheet-safe: input cells a spreadsheet would evaluate get a leading
  ``'`` (``writers.spreadsheet_safe``; ``--no-csv-escape`` turns it off). XLSX cells are
  text, never evaluated, so they are not escaped; XLSX cannot hold control characters
  (other than TAB, LF, CR), so those are removed from XLSX cells and counted
  (``xlsx_control_characters_removed``): the only changes ever made to a value.
- A manifest (``.rcsqualify-lists.json``) records the files a run wrote, with their size
  and modification time. A later run removes a list it does not rewrite (an .xlsx when
  ``--split-xlsx`` is no longer given, or a list too long for a sheet) only if the
  manifest lists it and it is unchanged since: a file the user put there, or edited,
  is never deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from rcsqualify.contacts import ContactSource
from rcsqualify.contacts.grouping import first_of_each
from rcsqualify.errors import InputError
from rcsqualify.files import (
    cannot_write,
    make_folder,
    publish_all,
    remove_temporaries,
    temporary_file,
)
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.pipeline import CheckResult
from rcsqualify.report.routes import route_per_number
from rcsqualify.report.writers import (
    CSV_DIALECTS,
    TextSheet,
    annotated_batches,
    csv_dialect,
    decimal_commas,
    escape_batch,
    open_csv_sink,
)
from rcsqualify.report.xlsx_output import XLSX_MAX_ROWS
from rcsqualify.verdict import REASON_TO_STATUS, ROUTE, STATUSES, Status

LISTS = ("send_rcs", "other_operators", "not_rcs", "unverified", "remove")
_LIST_OF_STATUS = {
    Status.REACHABLE: "send_rcs", Status.OTHER_OPERATOR: "other_operators",
    Status.NOT_RCS: "not_rcs", Status.UNVERIFIED: "unverified",
    Status.INVALID: "remove", Status.NOT_MOBILE: "remove",
}
MANIFEST = ".rcsqualify-lists.json"
MANIFEST_MAX_BYTES = 1 << 20
#: The list directory's lock: one run at a time writes its lists (``check`` and ``refresh``).
LISTS_LOCK = ".rcsqualify-refresh.lock"


#: with a second route (``--other-route``): the other operators' mobiles RBM reaches,
#: taken out of other_operators.csv so the lists still partition the input
OTHER_ROUTE_LIST = "send_rbm"


def lists_of(result: CheckResult) -> tuple[str, ...]:
    return (*LISTS, OTHER_ROUTE_LIST) if result.other_route else LISTS


def list_paths(directory: str | Path) -> list[tuple[str, Path]]:
    """Every file ``--split-dir`` may write or remove, for the overwrite check (its
    manifest included)."""
    target = Path(directory)
    return [*(("--split-dir list", target / f"{name}.{ext}")
              for name in (*LISTS, OTHER_ROUTE_LIST) for ext in ("csv", "xlsx")),
            ("--split-dir manifest", target / MANIFEST)]


def refuse_foreign_lists(directory: str | Path, *, xlsx: bool, other_route: bool,
                         written: str = "nothing was written") -> None:
    """Before anything is read or written: a file this run would write (the CSV lists,
    the .xlsx ones with ``xlsx``) that no run wrote (not in the manifest), or that was
    changed since one did (opened and saved in a spreadsheet), is the user's: the run
    stops (exit 2) instead of overwriting it. (A stale list this run would not write is
    removed only when unchanged, see ``_remove_stale_and_record``.)"""
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise InputError(f"--split-dir {target} is a file, not a directory ({written})")
    before = _manifest(target)
    names = (*LISTS, OTHER_ROUTE_LIST) if other_route else LISTS
    for path in (target / f"{n}.{ext}" for n in names for ext in ("csv", "xlsx")[:1 + xlsx]):
        if not os.path.lexists(path):
            continue
        if not path.is_file():
            raise InputError(f"{path} is not a regular file (a directory, a pipe, a broken "
                             f"link): --split-dir cannot write that list; move it, or "
                             f"choose another --split-dir ({written})")
        stamp = before.get(path.name)
        with contextlib.suppress(OSError):
            if stamp is not None and _stamp(path) == stamp:
                continue
        why = "changed since rcsqualify wrote it" if stamp else "not written by rcsqualify"
        raise InputError(f"{path} is {why}: --split-dir would overwrite it; move it, or "
                         f"choose another --split-dir ({written})")


def _manifest(directory: Path) -> dict[str, Any]:
    """The files an earlier run wrote (name → size and mtime); {} when none is readable."""
    path = directory / MANIFEST
    try:
        # a regular file of a sane size only: a FIFO would block the read, and the file
        # is the directory's, not ours
        if not path.is_file() or path.stat().st_size > MANIFEST_MAX_BYTES:
            return {}
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, dict)}


def list_codes(result: CheckResult) -> np.ndarray:
    """Per row: index into ``lists_of(result)``, or -1 for a duplicate row."""
    rows = result.rows
    status = REASON_TO_STATUS[rows.reason]
    lookup = np.array([LISTS.index(_LIST_OF_STATUS[s]) for s in STATUSES], dtype=np.int8)
    codes = lookup[status].astype(np.int8)
    routes = route_per_number(result)
    if routes is not None:
        per_row = np.append(routes, 0)[rows.distinct_index]  # invalid rows: no route
        codes[per_row == ROUTE["rbm"]] = len(LISTS)
    first = np.zeros(len(codes), dtype=bool)
    first[result.distinct.first_row] = True
    codes[(rows.distinct_index >= 0) & ~first] = -1
    if result.contacts is not None:  # a contact is listed once, on its first row
        first_rows = first_of_each(result.contacts.grouping.contact_of_row)
        of_contact = np.zeros(len(codes), dtype=bool)
        of_contact[first_rows] = True
        codes[~of_contact] = -1
    return codes


def write_split_lists(directory: str, source: ContactSource, result: CheckResult,
                      plan: NumberingPlan, *, xlsx: bool = False, csv_escape: bool = True,
                      dialect: str | None = None,
                      say: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write the lists; returns rows per list (and ``duplicates``; with ``xlsx``, the
    ``xlsx_control_characters_removed`` count of cells)."""
    target = Path(directory)
    try:
        make_folder(target, say)
    except OSError as exc:
        raise cannot_write(target, exc) from exc
    # footer rows (at the end, left out of the result) are in no list
    codes = np.append(list_codes(result), np.full(source.info.footer_rows, -2, np.int8))
    lists = lists_of(result)
    counts = {name: int(np.count_nonzero(codes == i)) for i, name in enumerate(lists)}
    counts["duplicates"] = int(np.count_nonzero(codes == -1))
    delimiter, bom = csv_dialect(dialect, source)
    sinks: list[pa.NativeFile] = []
    escape_columns = len(source.output_columns) if csv_escape else 0
    sheets = {name: TextSheet(name) for name in lists
              if xlsx and counts[name] <= XLSX_MAX_ROWS}
    tmp_paths: dict[str, Path] = {}
    xlsx_tmp: dict[str, Path] = {}
    manifest_tmp: Path | None = None
    writers: dict[str, pacsv.CSVWriter] = {}
    offset = 0
    try:
        batches = annotated_batches(source, result, plan)
        if (delimiter, bom) == CSV_DIALECTS["excel-fr"]:
            batches = decimal_commas(batches, source)
        for batch in batches:
            n = batch.num_rows
            part = codes[offset:offset + n]
            offset += n
            safe = escape_batch(batch, escape_columns) if escape_columns else batch
            for i, name in enumerate(lists):
                mask = part == i
                if name not in writers:
                    tmp_paths[name] = _temporary(target, name, ".csv.part")
                    sinks.append(open_csv_sink(tmp_paths[name], bom))
                    writers[name] = pacsv.CSVWriter(sinks[-1], safe.schema,
                                                    write_options=pacsv.WriteOptions(
                                                        delimiter=delimiter,
                                                        quoting_style="all_valid"))
                    if name in sheets:
                        sheets[name].append_row(batch.schema.names)
                if mask.any():
                    selected = pa.array(mask)
                    writers[name].write_batch(safe.filter(selected))
                    if name in sheets:
                        sheets[name].append_batch(batch.filter(selected))
        for w in writers.values():
            w.close()
        for sink in sinks:
            sink.close()
        for name in lists:  # an input without rows still gets its (empty) lists
            if name not in tmp_paths:
                tmp_paths[name] = _temporary(target, name, ".csv.part")
        for name, sheet in sheets.items():
            xlsx_tmp[name] = _temporary(target, name, ".xlsx.part")
            sheet.save(xlsx_tmp[name])
        # a run takes minutes (hours waiting for a bulk window): a list the user
        # edited, or a file put there, meanwhile is theirs too
        refuse_foreign_lists(target, xlsx=bool(sheets), other_route=len(lists) > len(LISTS),
                             written="no list or report was written; the answers are "
                             "cached, so a run after moving it asks nothing again")
        pairs = [(path, target / f"{name}.csv") for name, path in tmp_paths.items()]
        pairs += [(path, target / f"{name}.xlsx") for name, path in xlsx_tmp.items()]
        before = _manifest(target)
        manifest_tmp = _staged_manifest(target, pairs)
        # the lists and their record, all or none (a rename moves size and mtime along)
        publish_all([*pairs, (manifest_tmp, target / MANIFEST)])
    except BaseException as exc:
        for w in writers.values():
            with contextlib.suppress(Exception):
                w.close()
        for sink in sinks:
            with contextlib.suppress(Exception):
                sink.close()
        for sheet in sheets.values():
            sheet.discard()
        remove_temporaries([str(p) for p in [*tmp_paths.values(), *xlsx_tmp.values(),
                                             *([manifest_tmp] if manifest_tmp else [])]])
        if isinstance(exc, OSError):  # a full disk while staging: one line, exit 2
            raise cannot_write(target, exc) from exc
        raise
    _remove_stale(target, before, [t.name for _, t in pairs])
    if xlsx:
        counts["xlsx_control_characters_removed"] = sum(s.cleaned for s in sheets.values())
    return counts


def _temporary(directory: Path, name: str, suffix: str) -> Path:
    fd, path = temporary_file(f".{name}.", directory, suffix)
    os.close(fd)
    return path


def _stamp(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _staged_manifest(directory: Path, pairs: list[tuple[Path, Path]]) -> Path:
    """The record of the staged lists (name → size and mtime, which their rename keeps),
    written to a temporary beside the manifest, published with them."""
    manifest = directory / MANIFEST
    with contextlib.suppress(OSError):
        if manifest.exists() and not manifest.is_file() and not manifest.is_dir():
            # a FIFO or socket in the record's place would block the write: the record
            # is ours, it goes in its own place
            manifest.unlink()
    record = {"files": {target.name: _stamp(tmp) for tmp, target in pairs}}
    tmp = _temporary(directory, MANIFEST.lstrip("."), ".part")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return tmp


def _remove_stale(directory: Path, before: dict[str, Any], written: list[str]) -> None:
    """Remove the lists an earlier run wrote and this one did not, if unchanged since."""
    for name, stamp in before.items():
        path = directory / name
        if name in written or Path(name).name != name or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            if _stamp(path) == stamp:
                path.unlink()
