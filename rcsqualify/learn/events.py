"""Delivery events files, streamed as chunks of raw fields (issue #28 item 1).

An events file is personal data and may be large (a 2 GB export of a campaign): it is
read a chunk of ``CHUNK`` events at a time, and each chunk is reduced before the next
is read (``outcomes.py``), so memory follows the distinct numbers, never the file. A
line or row that cannot be read (bad JSON, a line over ``MAX_LINE`` bytes, no number) is
counted and skipped: one bad event never stops a run. Nothing read is ever printed: a
message names the file and a line number, never a value.

Formats, by extension (else by the first byte: ``{`` is NDJSON): NDJSON (``.ndjson``,
``.jsonl``, ``.json``: one event object a line, as webhooks deliver them), CSV
(``.csv``, ``.txt``, ``.tsv``; the separator is the most frequent of ``, ; tab |`` in
the header line; UTF-8, a BOM allowed), XLSX (first sheet, first row the header) and
Parquet.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from rcsqualify.errors import InputError
from rcsqualify.learn.profiles import OTHER, OutcomeProfile
from rcsqualify.operators.mnp_profiles import dig, is_missing
from rcsqualify.textsafe import safe_text

#: events per chunk (the unit of the bounded-memory reduction)
CHUNK = 1 << 18
#: a longer NDJSON line is not an event (counted as bad, skipped without being held)
MAX_LINE = 1 << 20
_NDJSON = (".ndjson", ".jsonl", ".json")
_CSV = (".csv", ".txt", ".tsv")


@dataclass
class Chunk:
    """Raw fields of up to ``CHUNK`` events, parallel lists."""

    numbers: list[str | None] = field(default_factory=list)
    message_ids: list[str | None] = field(default_factory=list)
    times: list[Any] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.classes)

    def add(self, number: Any, message_id: Any, when: Any, cls: int) -> None:
        self.numbers.append(None if is_missing(number) else str(number))
        self.message_ids.append(None if is_missing(message_id) else str(message_id))
        self.times.append(None if is_missing(when) else when)
        self.classes.append(cls)


@dataclass
class ReadCounts:
    events: int = 0  # events read (bad ones excluded)
    bad: int = 0  # lines or rows that could not be read
    first_bad: str = ""  # where the first one was (file and line), never its content


def _first(obj: Any, paths: tuple[str, ...]) -> Any:
    for path in paths:
        value = dig(obj, path)
        if not is_missing(value):
            return value
    return None


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _NDJSON:
        return "ndjson"
    if suffix in _CSV:
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    if suffix == ".parquet":
        return "parquet"
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise cannot_read(path, exc) from None
    return "ndjson" if head.startswith(b"{") else "csv"


def cannot_read(path: Path, exc: OSError) -> InputError:
    return InputError(f"{safe_text(path)}: cannot read the events file "
                      f"({exc.strerror or type(exc).__name__})")


def read_events(path: Path, profile: OutcomeProfile, counts: ReadCounts
                ) -> Iterator[Chunk]:
    """The events of ``path`` in chunks; ``counts`` is updated as they are read."""
    kind = file_format(path)
    reader: Callable[[Path, OutcomeProfile, ReadCounts], Iterator[Chunk]] = {
        "ndjson": _ndjson, "csv": _csv, "xlsx": _xlsx, "parquet": _parquet}[kind]
    try:
        yield from reader(path, profile, counts)
    except OSError as exc:
        raise cannot_read(path, exc) from None


def _bad(counts: ReadCounts, path: Path, line: int) -> None:
    counts.bad += 1
    if not counts.first_bad:
        counts.first_bad = f"{safe_text(path.name, 80)} line {line}"


def _lines(fh: BinaryIO) -> Iterator[bytes | None]:
    """Lines of at most ``MAX_LINE`` bytes; None for a longer one (skipped unheld)."""
    while True:
        line = fh.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:  # the rest of the long line, a bounded piece at a time
                rest = fh.readline(MAX_LINE)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


def _decoded(obj: Any, path: str) -> Any:
    """The event inside a base64 JSON envelope (a Pub/Sub push), or ``obj`` itself."""
    if not path:
        return obj
    data = dig(obj, path)
    if not isinstance(data, str):
        return obj
    try:
        inner = json.loads(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return None
    if isinstance(inner, dict) and isinstance(obj, dict):
        # the envelope's own fields (publishTime) stay reachable by their paths
        return {**obj, **inner}
    return None


def _ndjson(path: Path, profile: OutcomeProfile, counts: ReadCounts) -> Iterator[Chunk]:
    chunk = Chunk()
    loads = json.loads
    with path.open("rb") as fh:
        for lineno, line in enumerate(_lines(fh), 1):
            if line is None:
                _bad(counts, path, lineno)
                continue
            if not line.strip():
                continue
            try:
                obj = loads(line)
            except ValueError:
                _bad(counts, path, lineno)
                continue
            obj = _decoded(obj, profile.decode)
            if not isinstance(obj, dict):
                _bad(counts, path, lineno)
                continue
            counts.events += 1
            chunk.add(_first(obj, profile.number), _first(obj, profile.message_id),
                      _first(obj, profile.time),
                      profile.classify(_first(obj, profile.outcome)))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = Chunk()
    if len(chunk):
        yield chunk


def _columns(header: list[Any], names: tuple[str, ...]) -> list[int]:
    """Positions of the columns named (case-insensitive), in the profile's order."""
    index = {str(h).strip().lower(): i for i, h in reversed(list(enumerate(header)))
             if h is not None}
    return [index[n.lower()] for n in names if n.lower() in index]


class _Table:
    """A profile's fields as column positions of one header."""

    def __init__(self, path: Path, header: list[Any], profile: OutcomeProfile) -> None:
        self.profile = profile
        self.number = _columns(header, profile.number)
        self.message_id = _columns(header, profile.message_id)
        self.time = _columns(header, profile.time)
        self.outcome = _columns(header, profile.outcome)
        if not self.outcome or not (self.number or self.message_id):
            want = " and ".join(
                f"one of {', '.join(names)}" for names, cols in (
                    (profile.number + profile.message_id, self.number or self.message_id),
                    (profile.outcome, self.outcome)) if not cols)
            raise InputError(f"{safe_text(path)}: the header has no column for "
                             f"{safe_text(want, 160)} (outcome profile {profile.name})")

    def add(self, chunk: Chunk, row: list[Any] | tuple[Any, ...]) -> None:
        def first(cols: list[int]) -> Any:
            for c in cols:
                if c < len(row) and not is_missing(row[c]):
                    return row[c]
            return None

        outcome = first(self.outcome)
        chunk.add(first(self.number), first(self.message_id), first(self.time),
                  self.profile.classify(outcome) if outcome is not None else OTHER)


def _csv(path: Path, profile: OutcomeProfile, counts: ReadCounts) -> Iterator[Chunk]:
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
        try:
            first_line = text.readline(MAX_LINE)
        except UnicodeDecodeError:
            raise InputError(f"{safe_text(path)}: the events file is not UTF-8 text"
                             ) from None
        delimiter = max(",;\t|", key=first_line.count)
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        table = _Table(path, header, profile)
        reader = csv.reader(text, delimiter=delimiter)
        chunk = Chunk()
        lineno = 1
        while True:
            lineno += 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError):
                _bad(counts, path, lineno)
                continue
            if not row or not any(cell.strip() for cell in row):
                continue
            counts.events += 1
            table.add(chunk, row)
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = Chunk()
    if len(chunk):
        yield chunk


def _xlsx(path: Path, profile: OutcomeProfile, counts: ReadCounts) -> Iterator[Chunk]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise InputError(f"{safe_text(path)}: not a readable XLSX file "
                         f"({safe_text(type(exc).__name__, 40)})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = list(next(rows, ()))
        table = _Table(path, header, profile)
        chunk = Chunk()
        for row in rows:
            if not row or all(is_missing(c) for c in row):
                continue
            counts.events += 1
            table.add(chunk, row)
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = Chunk()
        if len(chunk):
            yield chunk
    finally:
        book.close()


def _parquet(path: Path, profile: OutcomeProfile, counts: ReadCounts) -> Iterator[Chunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, ValueError) as exc:
        raise InputError(f"{safe_text(path)}: not a readable Parquet file "
                         f"({safe_text(type(exc).__name__, 40)})") from None
    names = pf.schema_arrow.names
    table = _Table(path, names, profile)
    for batch in pf.iter_batches(batch_size=CHUNK):
        columns = [c.to_pylist() for c in batch.columns]
        chunk = Chunk()
        for row in zip(*columns, strict=True):
            counts.events += 1
            table.add(chunk, row)
        if len(chunk):
            yield chunk
