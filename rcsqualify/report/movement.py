"""What changed since the previous run of a list (issue #27 item 6): numbers added and
removed, and status moves by pair (``reachable → not_rcs``), for the refresh log and the
HTML trend.

Each run that writes lists keeps, beside them, the status of every distinct number it
judged (``.rcsqualify-statuses.npz``, ``SNAPSHOT``): the next run compares its own with
it, vectorized (two sorted arrays, ``searchsorted``), then replaces it atomically. The
numbers are not written in clear a second time: the file holds SipHash-2-4 digests under
a random 128-bit key kept in the same file. That key is no secret to whoever can read
the file (the lists beside it hold the numbers in clear anyway): the digests only keep
one more plain copy of personal data from existing. Invalid rows have no number and are
not tracked; a number counts once whatever its rows.

A snapshot that cannot be read (damaged, another layout, another tool's) is replaced and
the run reports no movement rather than a wrong one.
"""

from __future__ import annotations

import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rcsqualify.files import atomic_write
from rcsqualify.remote.keys import siphash24
from rcsqualify.verdict import REASON_TO_STATUS, STATUSES

SNAPSHOT = ".rcsqualify-statuses.npz"
_LAYOUT = 1


@dataclass(frozen=True)
class Snapshot:
    key: tuple[int, int]
    digests: np.ndarray  # uint64, sorted
    status: np.ndarray  # uint8 index into STATUSES, aligned with digests


@dataclass(frozen=True)
class Movement:
    added: int
    removed: int
    #: (from, to, numbers), most numbers first
    moves: list[tuple[str, str, int]]

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed,
                "moves": [{"from": a, "to": b, "numbers": n} for a, b, n in self.moves]}


def snapshot_of(numbers: np.ndarray, reasons: np.ndarray, key: tuple[int, int]
                ) -> Snapshot:
    """The statuses of distinct E.164 numbers (int64 digits) with their final reasons."""
    digests = siphash24(key, numbers.astype(np.uint64))
    order = np.argsort(digests, kind="stable")
    return Snapshot(key, digests[order], REASON_TO_STATUS[reasons][order].astype(np.uint8))


def compare(previous: Snapshot, current: Snapshot) -> Movement:
    """Numbers added and removed, and status moves of the numbers in both."""
    assert previous.key == current.key
    if len(previous.digests) == 0:
        return Movement(len(current.digests), 0, [])
    pos = np.searchsorted(previous.digests, current.digests)
    pos = np.minimum(pos, len(previous.digests) - 1)
    found = previous.digests[pos] == current.digests
    added = int((~found).sum())
    removed = len(previous.digests) - int(found.sum())
    before = previous.status[pos[found]].astype(np.int64)
    after = current.status[found].astype(np.int64)
    changed = before != after
    n = len(STATUSES)
    pairs = np.bincount(before[changed] * n + after[changed], minlength=n * n)
    moves = [(str(STATUSES[i // n]), str(STATUSES[i % n]), int(pairs[i]))
             for i in np.flatnonzero(pairs)]
    moves.sort(key=lambda m: (-m[2], m[0], m[1]))
    return Movement(added, removed, moves)


def read_snapshot(path: Path) -> Snapshot | None:
    """The snapshot at ``path``, or None for anything but the exact layout this module
    writes (a scalar layout, two uint64 key words, 1-D uint64 digests sorted, 1-D uint8
    statuses of equal length): the file is read, never trusted, so a damaged or tampered
    one means no movement this run, never a crash or a wrong count."""
    try:
        with np.load(path, allow_pickle=False) as data:
            layout, key = data["layout"], data["key"]
            digests, status = data["digests"], data["status"]
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile):
        return None
    if layout.shape != () or layout.dtype.kind not in "iu" or int(layout) != _LAYOUT:
        return None
    if key.shape != (2,) or key.dtype != np.uint64 or digests.ndim != 1 \
            or digests.dtype != np.uint64 or status.ndim != 1 or status.dtype != np.uint8:
        return None
    if len(digests) != len(status) or (len(status) and int(status.max()) >= len(STATUSES)) \
            or (len(digests) > 1 and bool(np.any(digests[1:] < digests[:-1]))):
        return None
    words = key.tolist()
    return Snapshot((int(words[0]), int(words[1])), digests, status)


def write_snapshot(path: Path, snap: Snapshot) -> None:
    with atomic_write(path, mode=0o600) as tmp, tmp.open("wb") as fh:
        np.savez(fh, layout=np.array(_LAYOUT), key=np.array(snap.key, dtype=np.uint64),
                 digests=snap.digests, status=snap.status)


def record_movement(directory: Path, numbers: np.ndarray, reasons: np.ndarray
                    ) -> Movement | None:
    """Compare this run's statuses with the snapshot in ``directory`` and replace it;
    None when there was none to compare with (the first run, or an unreadable one)."""
    path = directory / SNAPSHOT
    previous = read_snapshot(path) if path.is_file() else None
    key = previous.key if previous is not None else (secrets.randbits(64),
                                                      secrets.randbits(64))
    current = snapshot_of(numbers, reasons, key)
    write_snapshot(path, current)
    return compare(previous, current) if previous is not None else None


def logged(m: object) -> Movement | None:
    """A movement read back from a log line, or None when it is not one. The log is read,
    never trusted: counts must be whole and not negative (``1e400`` parses to infinity,
    which ``int`` refuses with an ``OverflowError``), statuses strings."""
    if not isinstance(m, dict):
        return None
    try:
        added, removed = _count(m["added"]), _count(m["removed"])
        raw = m.get("moves", [])
        if not isinstance(raw, list):
            return None
        moves = [(str(mv["from"]), str(mv["to"]), _count(mv["numbers"])) for mv in raw]
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    return Movement(added, removed, moves)


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a count")
    if value != value or value < 0 or value != int(value):  # NaN, negative, 1.5
        raise ValueError("not a count")
    return int(value)

