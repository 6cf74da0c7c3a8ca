"""Events reduced to one outcome per number, in bounded memory (issue #28 items 1, 2).

Each chunk of raw events (``events.py``) is normalized (the contact files' normalizer:
a number written any way becomes its E.164 integer key; a number that is not a valid
French one is counted, never fatal), dated, and merged into the running state: one row
per distinct number, holding the classes of events seen and the latest *conclusive* one
(reachable or not RCS). Duplicate and contradictory events of one number resolve by
event time (of equal times, the later in the file). An event with no date (or one that
does not parse) takes ``undated_at`` — the file's modification time, when the export
was made: no event in it is newer — and is counted. So memory follows the distinct
numbers, never the events: a 2 GB file is read in the space of its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rcsqualify.learn.events import Chunk
from rcsqualify.learn.profiles import CLASS_NAMES, FAILED, NOT_RCS, OTHER, REACHABLE
from rcsqualify.numbering.normalize import normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan

#: an epoch value above 1e11 (seconds: the year 5138) is in milliseconds, above 1e14 in
#: microseconds, above 1e17 in nanoseconds (the units exports use)
_EPOCH_UNITS = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3))
#: a date as Excel shows it in France: day first, 4-digit year, an optional time
#: (``01/12/2026 10:00``, ``1/12/2026 10h00``, ``01/12/2026 10:00:00``)
_FRENCH_DATE = (r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]+(\d{1,2})[:hH](\d{2})"
                r"(?::(\d{2}))?)?\s*$")


def epoch_seconds(values: pa.Array | list[Any]) -> np.ndarray:
    """Seconds since the epoch (UTC) of each value: ISO 8601 text (with its offset;
    none is UTC), a date-time, a French day-first date (``01/12/2026 10:00``, UTC as
    any date without an offset), or epoch seconds, milliseconds, microseconds or
    nanoseconds; NaN when none."""
    text = values if isinstance(values, pa.Array) else pa.array(
        [None if v is None else str(v) for v in values], pa.string())
    n = len(text)
    out = np.full(n, np.nan)
    if not n or text.null_count == n:
        return out
    numeric = pc.fill_null(pc.match_substring_regex(
        text, r"^\s*[0-9]+(\.[0-9]+)?\s*$"), False).to_numpy(zero_copy_only=False)
    if numeric.any():
        num = pc.cast(pc.utf8_trim_whitespace(text.filter(pa.array(numeric))),
                      pa.float64()).to_numpy(zero_copy_only=False)
        for above, per_second in _EPOCH_UNITS:
            num = np.where(num > above, num / per_second, num)
        out[numeric] = num
    rest = ~numeric & text.is_valid().to_numpy(zero_copy_only=False)
    if rest.any():
        out[rest] = _iso_seconds(text.filter(pa.array(rest)))
    left = np.flatnonzero(np.isnan(out) & text.is_valid().to_numpy(zero_copy_only=False))
    if len(left):  # only what neither an epoch nor ISO 8601 read (none, usually)
        some = text.take(pa.array(left))
        french = pc.fill_null(pc.match_substring_regex(some, _FRENCH_DATE), False)
        if pc.any(french).as_py():
            at = left[french.to_numpy(zero_copy_only=False)]
            out[at] = _iso_seconds(_french_as_iso(some.filter(french)))
    out[~np.isfinite(out)] = np.nan
    return out


def _iso_seconds(text: pa.Array) -> np.ndarray:
    """ISO 8601 text as epoch seconds (NaN when it is not a date)."""
    s = pd.Series(text.to_numpy(zero_copy_only=False))
    dt = pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601")
    ns = dt.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
    ns[dt.isna().to_numpy()] = np.nan
    return ns / 1e9


def _french_as_iso(text: pa.Array) -> pa.Array:
    """``_FRENCH_DATE`` matches rewritten ``YYYY-MM-DDTHH:MM:SS`` (Arrow string
    kernels: no Python object per value); 31/02 stays no date."""
    parts = pc.extract_regex(text, r"(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})"
                             r"(?:[ T]+(?P<H>\d{1,2})[:hH](?P<M>\d{2})(?::(?P<S>\d{2}))?)?")

    def two(name: str) -> pa.Array:
        field = pc.struct_field(parts, name)
        return pc.if_else(pc.equal(field, ""), "00",
                          pc.utf8_lpad(field, width=2, padding="0"))

    return pc.binary_join_element_wise(
        pc.struct_field(parts, "y"), "-", two("m"), "-", two("d"), "T", two("H"), ":",
        two("M"), ":", two("S"), "")


@dataclass
class Tally:
    """What the events were, for the report (counts only: no number)."""

    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASS_NAMES, 0))
    no_number: int = 0  # events without a number (nor a known message id)
    invalid: int = 0  # events whose number is not a valid French number
    unknown_ids: int = 0  # message ids the --sent file does not list
    ids_without_sent: int = 0  # events with only a message id, and no --sent file
    undated: int = 0  # conclusive events without a date that parses


class Reduction:
    """The running state: one row per distinct number, sorted by key."""

    def __init__(self, plan: NumberingPlan, undated_at: float,
                 sent: dict[str, str] | None = None) -> None:
        self.plan = plan
        self.undated_at = undated_at
        self.sent = sent
        self.tally = Tally()
        self.keys = np.empty(0, np.int64)
        self.flags = np.empty(0, np.uint8)  # bit 1 << class of every event seen
        self.when = np.empty(0, np.float64)  # date of the latest conclusive event
        self.cls = np.empty(0, np.int8)  # its class (OTHER: none)

    def add(self, chunk: Chunk) -> None:
        numbers = chunk.numbers
        given = numbers.is_valid().to_numpy(zero_copy_only=False)
        if self.sent is not None:
            by_id = np.flatnonzero(~given & chunk.message_ids.is_valid().to_numpy(
                zero_copy_only=False))
            if len(by_id):
                found = [self.sent.get(m) for m in chunk.message_ids.take(
                    pa.array(by_id)).to_pylist()]
                self.tally.unknown_ids += sum(f is None for f in found)
                values = numbers.to_numpy(zero_copy_only=False).astype(object)
                values[by_id] = found
                numbers = pa.array(values, pa.string())
                given = numbers.is_valid().to_numpy(zero_copy_only=False)
        else:
            self.tally.ids_without_sent += int((~given & chunk.message_ids.is_valid()
                                                .to_numpy(zero_copy_only=False)).sum())
        classes = chunk.classes
        for c, count in enumerate(np.bincount(classes, minlength=len(CLASS_NAMES))):
            self.tally.events[CLASS_NAMES[c]] += int(count)
        self.tally.no_number += int((~given).sum())
        keys = normalize_numbers(numbers, self.plan).key
        valid = keys != 0
        self.tally.invalid += int((given & ~valid).sum())
        when = epoch_seconds(chunk.times)
        conclusive = (classes == REACHABLE) | (classes == NOT_RCS)
        undated = conclusive & valid & np.isnan(when)
        self.tally.undated += int(undated.sum())
        when[undated] = self.undated_at
        when[~conclusive] = -np.inf
        self._merge(keys[valid], (np.uint8(1) << classes[valid].astype(np.uint8)),
                    when[valid], np.where(conclusive, classes, OTHER)[valid])

    def _merge(self, keys: np.ndarray, flags: np.ndarray, when: np.ndarray,
               cls: np.ndarray) -> None:
        k = np.concatenate([self.keys, keys])
        f = np.concatenate([self.flags, flags])
        w = np.concatenate([np.where(self.cls == OTHER, -np.inf, self.when), when])
        c = np.concatenate([self.cls, cls.astype(np.int8)])
        if not len(k):
            return
        order = np.lexsort((w, k))  # by number, then date: the latest conclusive last
        k, f, w, c = k[order], f[order], w[order], c[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        last = np.r_[starts[1:] - 1, len(k) - 1]
        self.keys = k[starts]
        self.flags = np.bitwise_or.reduceat(f, starts)
        self.cls = c[last]
        self.when = np.where(self.cls == OTHER, np.nan, w[last])

    # -- what was learned --------------------------------------------------------------
    def final(self) -> np.ndarray:
        """Per number: REACHABLE, NOT_RCS, FAILED (failures only) or OTHER."""
        out = self.cls.copy()
        failed = (out == OTHER) & ((self.flags & np.uint8(1 << FAILED)) != 0)
        out[failed] = FAILED
        return out

    @property
    def contradictions(self) -> int:
        """Numbers with both a reachable and a not-RCS event (the latest won)."""
        both = np.uint8((1 << REACHABLE) | (1 << NOT_RCS))
        return int(((self.flags & both) == both).sum())
