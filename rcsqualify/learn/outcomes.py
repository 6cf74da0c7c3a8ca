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

#: an epoch value above this is in milliseconds (1e11 s is the year 5138)
_MILLIS = 1e11


def epoch_seconds(values: pa.Array | list[Any]) -> np.ndarray:
    """Seconds since the epoch (UTC) of each value: ISO 8601 text (with its offset;
    none is UTC), a date-time, or epoch seconds or milliseconds; NaN when none."""
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
        out[numeric] = np.where(num > _MILLIS, num / 1000.0, num)
    rest = ~numeric & text.is_valid().to_numpy(zero_copy_only=False)
    if rest.any():
        s = pd.Series(text.filter(pa.array(rest)).to_numpy(zero_copy_only=False))
        dt = pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601")
        ns = dt.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        ns[dt.isna().to_numpy()] = np.nan
        out[rest] = ns / 1e9
    out[~np.isfinite(out)] = np.nan
    return out


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
