"""Legacy Excel 97-2003 workbooks (``.xls``): contact files and portability extracts.

Read with xlrd, the reader pandas itself uses for ``.xls`` (kept up to date by the
python-excel project; since 2.0 it reads only ``.xls``, which is all we ask of it).
A sheet of this format holds at most 65,536 rows, so it is read whole into Python
values, as XLSX is: text stays text, numbers come as floats (the caller writes whole
ones without ``.0``), date cells become ISO dates (``2025-03-01``, or with the time
when there is one; a time of day alone ``12:30:00``) so that a date column reads the
same as in a CSV export, booleans stay booleans, error cells become their Excel text
(``#N/A``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rcsqualify.contacts.cells import SheetDate
from rcsqualify.errors import InputError

#: First bytes of an OLE2 compound file: what a real .xls starts with.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0"


def _cell_value(ctype: int, value: Any, datemode: int) -> Any:
    import xlrd

    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if ctype == xlrd.XL_CELL_DATE:
        try:
            when = xlrd.xldate_as_datetime(value, datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return value  # not a representable date: the serial number, as a number
        if 0 <= value < 1:  # a time of day alone (xlrd dates it 1899-12-31)
            return SheetDate(when.time().isoformat())
        return SheetDate(when.date().isoformat() if when.time() == when.min.time() else (
            when.isoformat(sep=" ")))
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERR")
    return value  # text (str) or number (float)


def read_xls(path: Path, sheet: str | None, shown: str) -> tuple[str, Iterator[tuple[Any, ...]]]:
    """(sheet name, rows as tuples of Python values) of one sheet of an .xls workbook.

    ``sheet`` None: the workbook must have one sheet (else exit 2 listing them), as for
    XLSX. ``shown`` is the path as the user wrote it, for messages.
    """
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, struct errors, ... on a bad file
        raise InputError(f"{shown} is not a readable .xls workbook "
                         f"({type(exc).__name__})") from exc
    names = book.sheet_names()
    if sheet is None:
        if len(names) > 1:
            book.release_resources()
            raise InputError(f"{shown} has {len(names)} sheets ({', '.join(names)}): "
                             "choose one with --sheet")
        sheet = names[0]
    if sheet not in names:
        book.release_resources()
        raise InputError(f"no sheet {sheet!r} in {shown}; sheets: {', '.join(names)}")
    try:
        ws = book.sheet_by_name(sheet)
        rows = [tuple(_cell_value(t, v, book.datemode)
                      for t, v in zip(ws.row_types(r), ws.row_values(r), strict=True))
                for r in range(ws.nrows)]
    except Exception as exc:
        raise InputError(f"sheet {sheet!r} of {shown} cannot be read "
                         f"({type(exc).__name__})") from exc
    finally:
        book.release_resources()
    return sheet, iter(rows)
