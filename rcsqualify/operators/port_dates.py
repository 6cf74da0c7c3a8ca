"""Dates (``date_portage``, ``Date``…, or a column whose cells read as dates): ISO
``YYYY-MM-DD`` (a time after it is ignored), French ``DD/MM/YYYY`` (also with ``-`` or
``.``), compact ``YYYYMMDD``; compared by day, so a same-day tie goes to the line read
last. A date that does not parse, is before 1990 or after tomorrow is counted
(``unparsed_dates``) and the row is kept with the file's date (its newest port date).
The newest port date is how fresh the data is (``newest_date``, ``age_days``); a file's
modification time says nothing about it and is never used.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Days since 1970-01-01 of an entry without a usable date (sorts before every date).
NO_DATE = np.iinfo(np.int32).min
_EARLIEST = date(1990, 1, 1)
_EPOCH = date(1970, 1, 1)
_GENERIC_DATE = (r"^(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})|"
                 r"(?P<d2>\d{1,2})[/.\-](?P<m2>\d{1,2})[/.\-](?P<y2>\d{4})|"
                 r"(?P<y3>\d{4})(?P<m3>\d{2})(?P<d3>\d{2}))(?:[T ].*)?$")


def _days(d: date) -> int:
    return (d - _EPOCH).days


def iso_date(days: int | None) -> str | None:
    if days is None or days == NO_DATE:
        return None
    return (_EPOCH + timedelta(days=int(days))).isoformat()


def _ymd_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since epoch of (year, month, day) int arrays; NO_DATE where not a real date."""
    ok = (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31) & (y >= 1900) & (y <= 2200)
    months = np.where(ok, (y - 1970) * 12 + m - 1, 0).astype("datetime64[M]")
    first = months.astype("datetime64[D]")
    day = first + (np.where(ok, d, 1) - 1).astype("timedelta64[D]")
    ok &= day < (months + 1).astype("datetime64[D]")  # 31/02 is not a date
    return np.where(ok, day.astype(np.int64), NO_DATE).astype(np.int32)


def _strptime_days(s: pa.Array, fmt: str, day_at: int) -> np.ndarray:
    """Fast path for one fixed 10-character layout; NO_DATE where it does not match
    (Arrow's strptime rolls 31/02 over to March, so the day is checked back)."""
    ts = pc.strptime(s, format=fmt, unit="s", error_is_null=True)
    ok = pc.and_(pc.is_valid(ts), pc.equal(pc.utf8_length(s), 10))
    day_text = pc.utf8_slice_codeunits(s, day_at, day_at + 2)
    same_day = pc.equal(pc.day(ts), pc.cast(pc.if_else(ok, day_text, "0"), pa.int64(),
                                            safe=False))
    ok = pc.fill_null(pc.and_(ok, same_day), False)
    days = pc.cast(pc.cast(ts, pa.date32()), pa.int32()).to_numpy(zero_copy_only=False)
    okn = np.asarray(ok.to_numpy(zero_copy_only=False), bool)
    return np.where(okn, np.nan_to_num(days, nan=0).astype(np.int64), NO_DATE).astype(np.int32)


def parse_dates(values: pa.Array | pa.ChunkedArray, today: date | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(days since epoch with NO_DATE, empty-cell mask). A non-empty cell left at NO_DATE
    did not parse (or is before 1990 or after tomorrow)."""
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    s = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
    if isinstance(s, pa.ChunkedArray):
        s = s.combine_chunks()
    empty = np.asarray(pc.equal(s, "").to_numpy(zero_copy_only=False), bool)
    days = np.full(len(s), NO_DATE, np.int32)
    todo = ~empty
    for fmt, day_at in (("%Y-%m-%d", 8), ("%d/%m/%Y", 0)):
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        sub = s if len(idx) == len(s) else s.take(pa.array(idx))
        got = _strptime_days(sub, fmt, day_at)
        days[idx] = got
        todo[idx[got != NO_DATE]] = False
    if todo.any():  # other layouts: one regex, on the rest only
        idx = np.flatnonzero(todo)
        parts = pc.extract_regex(s.take(pa.array(idx)), _GENERIC_DATE)

        def num(*names: str) -> np.ndarray:
            out = np.zeros(len(idx), np.int64)
            for name in names:
                col = pc.fill_null(parts.field(name), "")
                val = pc.cast(pc.if_else(pc.equal(col, ""), "0", col), pa.int64())
                out = np.where(out == 0, np.asarray(val.to_numpy(zero_copy_only=False)), out)
            return out

        days[idx] = _ymd_days(num("y1", "y2", "y3"), num("m1", "m2", "m3"),
                              num("d1", "d2", "d3"))
    today = today or date.today()
    late = (days != NO_DATE) & ((days < _days(_EARLIEST)) | (days > _days(today) + 1))
    days[late] = NO_DATE
    return days, empty


def age_days(newest: str | None, today: date | None = None) -> int | None:
    if newest is None:
        return None
    return ((today or date.today()) - date.fromisoformat(newest)).days


def describe_dates(info: dict[str, Any], max_age: int, today: date | None = None) -> str:
    """One line on the port dates of a store or import: range, age, staleness."""
    newest, oldest = info.get("newest_date"), info.get("oldest_date")
    age = age_days(newest, today)
    if newest is None or age is None:
        return "port dates: none, age unknown (no date column, or no date parses)"
    stale = (f"; older than {max_age} days: stale (apply the missing deltas or import a "
             "newer extract)" if age > max_age else "")
    return f"port dates {oldest} to {newest}: newest {age} days old{stale}"
