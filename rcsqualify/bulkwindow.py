"""When Orange BotHub accepts bulk capability jobs (CONTRACT §5).

Orange's FAQ says "from 10 PM CET to 7 AM CET". Whether "CET" means Paris local time
in summer is not said, so the assumed window is the part common to both readings:
- CET all year: 22:00-07:00 UTC+1, i.e. 23:00-08:00 Paris time in summer;
- Paris local time: 22:00-07:00.
Common part: 22:00-07:00 Paris time in winter, 23:00-07:00 Paris time in summer.

``--bulk-hours HH:MM-HH:MM`` (Paris time) overrides it; ``server`` assumes nothing and
relies on the server's 405 alone. The emulator's ``clock`` mode uses the same rule.
This module is shared by the client and the emulator, and imports neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Hours:
    """Opening and closing wall-clock times, Paris time (the window spans midnight
    when ``open > close``). ``None`` opening = the assumed, season-dependent rule."""

    open: time | None = None
    close: time = time(7, 0)
    server_only: bool = False

    def opening_on(self, day: datetime) -> time:
        if self.open is not None:
            return self.open
        summer = day.astimezone(PARIS).dst() not in (None, timedelta(0))
        return time(23, 0) if summer else time(22, 0)


ASSUMED = Hours()


def parse_hours(text: str | None) -> Hours:
    """``HH:MM-HH:MM`` (Paris time), ``server``, or None/"" for the assumed window."""
    if not text:
        return ASSUMED
    if text.strip().lower() == "server":
        return Hours(server_only=True)
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not m or int(m[1]) > 23 or int(m[3]) > 23 or int(m[2]) > 59 or int(m[4]) > 59:
        raise ValueError("--bulk-hours must be HH:MM-HH:MM (Paris time) or server")
    opening, closing = time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4]))
    if opening == closing:
        raise ValueError("--bulk-hours: opening and closing must differ")
    return Hours(open=opening, close=closing)


def _inside(t: time, opening: time, closing: time) -> bool:
    if opening < closing:
        return opening <= t < closing
    return t >= opening or t < closing


def is_open(now: datetime, hours: Hours = ASSUMED) -> bool:
    if hours.server_only:
        return True
    local = now.astimezone(PARIS)
    return _inside(local.time(), hours.opening_on(local), hours.close)


def _at(day: datetime, t: time) -> datetime:
    return datetime(day.year, day.month, day.day, t.hour, t.minute, tzinfo=PARIS)


def next_opening(now: datetime, hours: Hours = ASSUMED) -> datetime:
    """When the window next opens (``now`` if open), as an aware Paris datetime, built
    from the Paris wall clock so it is right on both sides of a DST change."""
    local = now.astimezone(PARIS)
    if is_open(local, hours):
        return local
    for days in range(0, 3):
        day = local + timedelta(days=days)
        opening = _at(day, hours.opening_on(day))
        if opening > local:
            return opening
    raise AssertionError("a window opens every day")


def current_end(now: datetime, hours: Hours = ASSUMED) -> datetime | None:
    """When the window that is open now closes; None if closed (or server-only)."""
    if hours.server_only or not is_open(now, hours):
        return None
    local = now.astimezone(PARIS)
    for days in range(0, 2):
        end = _at(local + timedelta(days=days), hours.close)
        if end > local:
            return end
    raise AssertionError("an open window closes within a day")


def seconds_between(later: datetime, earlier: datetime) -> float:
    """Elapsed seconds from ``earlier`` to ``later``, in UTC. Python subtracts two
    datetimes of one tzinfo (both Paris) on their wall clocks, ignoring DST: at 23:30 on
    the spring-forward night that gave 27,000 s to 07:00 where 23,400 remain."""
    return (later.astimezone(UTC) - earlier.astimezone(UTC)).total_seconds()


def seconds_left(now: datetime, hours: Hours = ASSUMED) -> float | None:
    """Seconds until the window open at ``now`` closes (None when closed, or when only
    the server knows), on both DST nights."""
    end = current_end(now, hours)
    return None if end is None else max(0.0, seconds_between(end, now))


def describe(now: datetime, hours: Hours = ASSUMED) -> str:
    """The window in force around ``now``, for messages: ``22:00-07:00 Paris time``."""
    if hours.server_only:
        return "the server's hours"
    opening = hours.opening_on(now)
    return f"{opening:%H:%M}-{hours.close:%H:%M} Paris time"
