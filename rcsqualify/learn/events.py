"""Delivery events files, streamed as chunks of raw fields (issue #28 item 1).

An events file is personal data and may be large (a 2 GB export of a campaign): it is
read a chunk of ``CHUNK`` events at a time, and each chunk is reduced before the next
is read (``outcomes.py``), so memory follows the distinct numbers, never the file. A
line or row that cannot be read (bad JSON, a line over ``MAX_LINE`` bytes, no number) is
counted and skipped: one bad event never stops a run. Nothing read is ever printed: a
message names the file and a line number, never a value.

Each chunk is parsed by Arrow's C++ readers (JSON, CSV, Parquet) and its fields taken as
columns: no Python object per event. A chunk Arrow refuses (a line that is not a JSON
object, a field whose type changes, a line over ``MAX_LINE``) is read again line by line
in Python, which counts and skips exactly the bad lines.

Arrow's JSON reader is only ever given the profile's fields (``ArrowFields``: an explicit
schema, every other key ignored). Left to infer, it makes a column of every distinct key
at a cost growing with the columns already made: an events file whose lines each carry
new keys (20,000 lines of 20, 7 MB) held a run in Arrow's C++ for twenty minutes, deaf to
SIGTERM. With the schema, the columns built are the profile's, whatever the file holds.

Formats, by extension (else by the first byte: ``{`` is NDJSON): NDJSON (``.ndjson``,
``.jsonl``, ``.json``: one event object a line, as webhooks deliver them), CSV
(``.csv``, ``.txt``, ``.tsv``; the separator is the most frequent of ``, ; tab |`` in
the header line; UTF-8, a BOM allowed, else cp1252 as contact files), XLSX (first
sheet, first row the header) and Parquet. In a CSV or XLSX, a title row above the
header (one non-empty cell) is skipped, as in contact files.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rcsqualify.contacts.sniff import detect_encoding
from rcsqualify.errors import InputError
from rcsqualify.learn.profiles import OTHER, OutcomeProfile
from rcsqualify.operators.mnp_profiles import dig, is_missing
from rcsqualify.textsafe import safe_text

#: events per chunk (the unit of the bounded-memory reduction)
CHUNK = 1 << 18
#: bytes of NDJSON or CSV per chunk
BLOCK = 32 << 20
#: a longer NDJSON line is not an event (counted as bad, skipped without being held)
MAX_LINE = 1 << 20
#: a line opening more objects or lists than this is never given to Arrow's JSON reader:
#: it recurses on nesting and overflows its stack (the process dies of SIGSEGV) on a
#: line nesting some 10,000 deep. Webhook events open a dozen; such a line is read by
#: the line-by-line path, whose ``json.loads`` raises RecursionError (a bad line).
MAX_OPENERS = 512
_NDJSON = (".ndjson", ".jsonl", ".json")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CSV = (".csv", ".txt", ".tsv")


@dataclass
class Chunk:
    """Fields of up to a block of events, as columns (null: missing)."""

    numbers: pa.Array  # text
    message_ids: pa.Array  # text
    times: pa.Array  # text
    classes: np.ndarray  # int8, profiles.OTHER… per event

    def __len__(self) -> int:
        return len(self.classes)


class _Rows:
    """Fields of events read one by one (the Python path), made a ``Chunk`` at the end."""

    def __init__(self) -> None:
        self.numbers: list[str | None] = []
        self.message_ids: list[str | None] = []
        self.times: list[str | None] = []
        self.classes: list[int] = []

    def __len__(self) -> int:
        return len(self.classes)

    def add(self, number: Any, message_id: Any, when: Any, cls: int) -> None:
        self.numbers.append(None if is_missing(number) else str(number))
        self.message_ids.append(None if is_missing(message_id) else str(message_id))
        self.times.append(None if is_missing(when) else str(when))
        self.classes.append(cls)

    def chunk(self) -> Chunk:
        return Chunk(pa.array(self.numbers, pa.string()),
                     pa.array(self.message_ids, pa.string()),
                     pa.array(self.times, pa.string()),
                     np.asarray(self.classes, dtype=np.int8))


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


def _refuse_binary_or_empty(path: Path) -> None:
    """A text format whose first bytes hold a NUL is a binary file (a zip, an image)
    named as events, and one holding only blank lines has none: exit 2 in one line, as
    contact files, rather than every line counted unreadable or 'learned from 0
    events'."""
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
            more = bool(fh.read(1))
    except OSError as exc:
        raise cannot_read(path, exc) from None
    if head.startswith(_UTF16_BOMS):
        return  # Excel's 'Unicode text': NUL bytes are its ASCII's high halves
    if b"\x00" in head:
        raise InputError(f"{safe_text(path)}: looks binary (NUL bytes), not an events "
                         "file: give NDJSON, CSV, XLSX or Parquet")
    if not more and not head.removeprefix(b"\xef\xbb\xbf").strip():
        raise InputError(f"{safe_text(path)} is empty: no delivery events to learn from")


def cannot_read(path: Path, exc: OSError) -> InputError:
    return InputError(f"{safe_text(path)}: cannot read the events file "
                      f"({exc.strerror or type(exc).__name__})")


def read_events(path: Path, profile: OutcomeProfile, counts: ReadCounts
                ) -> Iterator[Chunk]:
    """The events of ``path`` in chunks; ``counts`` is updated as they are read."""
    kind = file_format(path)
    if kind in ("ndjson", "csv"):
        _refuse_binary_or_empty(path)
    reader: Callable[[Path, OutcomeProfile, ReadCounts], Iterator[Chunk]] = {
        "ndjson": _ndjson, "csv": _csv, "xlsx": _xlsx, "parquet": _parquet}[kind]
    events, bad = counts.events, counts.bad
    try:
        yield from reader(path, profile, counts)
    except OSError as exc:
        raise cannot_read(path, exc) from None
    if counts.events == events and counts.bad > bad:
        # not one line read as an event: not an events file (an HTML page, a log, the
        # wrong export), exit 2 rather than "learned from 0 events"; a file with some
        # bad lines still learns, counting them
        raise InputError(f"{safe_text(path)}: no line is an event ({counts.bad - bad} "
                         f"unreadable lines): give the {kind.upper()} delivery events "
                         "of a campaign")
    if counts.events == events:
        # a header (or a sheet, a Parquet schema) and no row: as a contact file with a
        # header but no contact rows, exit 2 rather than "learned from 0 events"
        raise InputError(f"{safe_text(path)} has no delivery events (a header but no "
                         "rows): nothing to learn from")


def _bad(counts: ReadCounts, path: Path, line: int) -> None:
    counts.bad += 1
    if not counts.first_bad:
        counts.first_bad = f"{safe_text(path.name, 80)} line {line}"


# -- Arrow columns ---------------------------------------------------------------------
def _text(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as trimmed text, empty → null; a nested value is no value."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type
    if pa.types.is_large_string(t):
        col = col.cast(pa.string())
    elif not pa.types.is_string(t):
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                or pa.types.is_temporal(t) or pa.types.is_decimal(t)):
            return pa.nulls(len(col), pa.string())
        col = pc.cast(col, pa.string())
    col = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)


def _pick(table: pa.Table, names: tuple[str, ...], fold_case: bool) -> pa.Array:
    """The first present of the columns ``names``, per row (null when none)."""
    have = {(c.lower() if fold_case else c): c for c in reversed(table.column_names)}
    out: pa.Array | None = None
    for name in names:
        key = have.get(name.lower() if fold_case else name)
        if key is None:
            continue
        col = _text(table.column(key))
        out = col if out is None else pc.coalesce(out, col)
    return out if out is not None else pa.nulls(table.num_rows, pa.string())


def _classes(profile: OutcomeProfile, outcome: pa.Array) -> np.ndarray:
    keys = list(profile.classes)
    if not keys:
        return np.full(len(outcome), OTHER, dtype=np.int8)
    idx = pc.index_in(pc.utf8_lower(outcome), value_set=pa.array(keys, pa.string()))
    table = np.array([profile.classes[k] for k in keys] + [OTHER], dtype=np.int8)
    return table[idx.fill_null(len(keys)).to_numpy(zero_copy_only=False).astype(np.intp)]


def _table_chunk(table: pa.Table, profile: OutcomeProfile, fold_case: bool) -> Chunk:
    return Chunk(_pick(table, profile.number, fold_case),
                 _pick(table, profile.message_id, fold_case),
                 _pick(table, profile.time, fold_case),
                 _classes(profile, _pick(table, profile.outcome, fold_case)))


def _flat(table: pa.Table) -> pa.Table:
    """Nested objects as dotted column names (``message.data``)."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


# -- NDJSON ----------------------------------------------------------------------------
def _blocks(fh: BinaryIO) -> Iterator[tuple[bytes | None, int]]:
    """Whole lines, about ``BLOCK`` bytes at a time, with the number of lines before
    them; ``None`` for a line longer than a block (bad: skipped without being held)."""
    rest = b""
    before = 0
    skipping = False
    while True:
        data = fh.read(BLOCK)
        if not data:
            if rest and not skipping:
                yield rest, before
            return
        if skipping:  # the rest of an overlong line
            cut = data.find(b"\n")
            if cut < 0:
                continue
            data, skipping = data[cut + 1:], False
            before += 1
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            if len(rest) > MAX_LINE:
                yield None, before
                rest, skipping = b"", True
            continue
        block, rest = data[:cut + 1], data[cut + 1:]
        yield block, before
        before += block.count(b"\n")


#: Arrow names the field whose JSON type was not the schema's: ``Column(/a/b) changed
#: from string to number in row 3``
_CHANGED = re.compile(r"Column\(/(.*)\) changed from \w+ to (number|boolean|string) ")
_AS = {"number": pa.int64(), "boolean": pa.bool_(), "string": pa.string()}
#: times one block is read again with a field retyped before the Python path reads it
MAX_RETYPES = 4


def field_schema(paths: Iterable[str], types: Mapping[str, pa.DataType] | None = None
                 ) -> pa.Schema | None:
    """Arrow's schema for the dotted field paths (``a.b`` is field ``b`` of struct
    ``a``), text unless ``types`` says otherwise; None when a path is both a field and
    the parent of another (``a`` and ``a.b``: no schema holds both)."""
    tree: dict[str, Any] = {}
    for path in dict.fromkeys(paths):
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return None
        if isinstance(node.get(leaf), dict):
            return None
        node[leaf] = (types or {}).get(path, pa.string())

    def fields(node: dict[str, Any]) -> list[pa.Field]:
        return [pa.field(name, pa.struct(fields(sub)) if isinstance(sub, dict) else sub)
                for name, sub in node.items()]

    return pa.schema(fields(tree))


class ArrowFields:
    """Arrow's JSON reader confined to a profile's fields: an explicit schema, every
    other key ignored, so the columns built are those fields whatever keys the file
    holds (inferring, Arrow is quadratic in distinct keys).

    A field is read as text; where the file holds numbers or booleans instead (a MaaP
    send log's ``httpStatus: 404``), Arrow refuses the block naming the field, and the
    block is read again with that field so typed (kept for the next blocks: a file is
    usually consistent), at most ``MAX_RETYPES`` times. A block it still refuses (a
    field holding numbers and text, an object, a float where integers were) goes to the
    Python path, line by line (each line at most ``MAX_LINE`` bytes)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = tuple(dict.fromkeys(paths))
        self.types: dict[str, pa.DataType] = {}
        self.schema = field_schema(self.paths)

    def read(self, data: bytes) -> pa.Table | None:
        """The lines of ``data`` as a flat table (``a.b`` columns), or None."""
        import pyarrow.json as pj

        tried: set[tuple[str, str]] = set()
        for _ in range(MAX_RETYPES + 1):
            if self.schema is None:
                return None
            try:
                return _flat(pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(
                    block_size=MAX_LINE + 1), parse_options=pj.ParseOptions(
                    explicit_schema=self.schema, unexpected_field_behavior="ignore")))
            except pa.ArrowInvalid as exc:
                found = _CHANGED.search(str(exc))
            except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
                return None
            path = found.group(1).replace("/", ".") if found else ""
            if not found or path not in self.paths or (path, found.group(2)) in tried:
                return None
            tried.add((path, found.group(2)))
            self.types[path] = _AS[found.group(2)]
            self.schema = field_schema(self.paths, self.types)
        return None


def _arrow_json(block: bytes, profile: OutcomeProfile, fields: ArrowFields
                ) -> pa.Table | None:
    """The block's events as a flat table, or None when Arrow cannot read it all (the
    Python path then reads it line by line)."""
    if profile.indexes_lists or not _arrow_safe(block):
        return None
    table = fields.read(block)
    if table is not None and profile.decode and profile.decode in table.column_names:
        return _decoded_table(table, profile.decode, set(profile.fields))
    return table


def _arrow_safe(block: bytes) -> bool:
    """Whether Arrow's JSON reader may read the block: no line over ``MAX_LINE`` bytes
    (Arrow would read it: it is not an event) and none opening over ``MAX_OPENERS``
    objects or lists (Arrow would crash). Only lines long enough to open that many are
    counted (``bytes.count`` over their span: no copy)."""
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    starts = np.r_[0, ends + 1]
    stops = np.r_[ends, len(block)]
    lengths = stops - starts
    if len(lengths) and int(lengths.max()) > MAX_LINE:
        return False
    for at in np.flatnonzero(lengths > MAX_OPENERS).tolist():
        start, stop = int(starts[at]), int(stops[at])
        if block.count(b"{", start, stop) + block.count(b"[", start, stop) > MAX_OPENERS:
            return False
    return True


def _decoded_table(table: pa.Table, field_name: str, wanted: set[str]
                   ) -> pa.Table | None:
    """Rows carrying a base64 JSON event in ``field_name`` (a Pub/Sub push): the event's
    fields over the envelope's, as text, for the ``wanted`` columns (None when one does
    not decode: the Python path counts it)."""
    col = table.column(field_name).combine_chunks()
    if not pa.types.is_string(col.type):
        return table
    valid = col.is_valid().to_numpy(zero_copy_only=False)
    where = np.flatnonzero(valid)
    if not len(where):
        return table
    try:
        inner = b"\n".join(base64.b64decode(v) for v in col.filter(pa.array(valid))
                           .to_pylist())
        if not _arrow_safe(inner):
            return None
        # the event inside is as hostile as the envelope: its profile fields only
        events = ArrowFields(sorted(wanted)).read(inner + b"\n")
    except (binascii.Error, ValueError):
        return None
    if events is None or events.num_rows != len(where):
        return None
    # row i of the table takes row position[i] of the events (null: no event inside)
    position = np.full(table.num_rows, -1, dtype=np.int64)
    position[where] = np.arange(len(where))
    take = pa.array(position, mask=position < 0)
    columns: dict[str, pa.Array] = {}
    for name in dict.fromkeys([*table.column_names, *events.column_names]):
        if name not in wanted:
            continue
        outer = (_text(table.column(name)) if name in table.column_names
                 else pa.nulls(table.num_rows, pa.string()))
        if name in events.column_names:
            outer = pc.coalesce(_text(events.column(name)).take(take), outer)
        columns[name] = outer
    return pa.table(columns) if columns else pa.table({"_": pa.nulls(table.num_rows)})


def _ndjson(path: Path, profile: OutcomeProfile, counts: ReadCounts) -> Iterator[Chunk]:
    fields = ArrowFields((*profile.fields, *([profile.decode] if profile.decode else [])))
    with path.open("rb") as fh:
        for block, before in _blocks(fh):
            if block is None:
                _bad(counts, path, before + 1)
                continue
            if not block.strip():
                continue
            table = _arrow_json(block, profile, fields)
            if table is not None:
                counts.events += table.num_rows
                if table.num_rows:
                    yield _table_chunk(table, profile, fold_case=False)
                continue
            rows = _ndjson_rows(block, before, path, profile, counts)
            if len(rows):
                yield rows.chunk()


def _ndjson_rows(block: bytes, before: int, path: Path, profile: OutcomeProfile,
                 counts: ReadCounts) -> _Rows:
    """One block line by line (what Arrow refused): bad lines counted and skipped."""
    rows = _Rows()
    loads = json.loads
    for lineno, line in enumerate(_lines(io.BytesIO(block)), before + 1):
        if line is None:
            _bad(counts, path, lineno)
            continue
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except (ValueError, RecursionError):  # nested past the interpreter's stack
            _bad(counts, path, lineno)
            continue
        obj = _decoded(obj, profile.decode)
        if not isinstance(obj, dict):
            _bad(counts, path, lineno)
            continue
        counts.events += 1
        rows.add(_first(obj, profile.number), _first(obj, profile.message_id),
                 _first(obj, profile.time), profile.classify(_first(obj, profile.outcome)))
    return rows


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
    except (binascii.Error, ValueError, RecursionError):
        return None
    if isinstance(inner, dict) and isinstance(obj, dict):
        # the envelope's own fields (publishTime) stay reachable by their paths
        return {**obj, **inner}
    return None


# -- tables: CSV, XLSX, Parquet -------------------------------------------------------
def _columns(header: list[Any], names: tuple[str, ...]) -> list[int]:
    """Positions of the columns named (case-insensitive), in the profile's order."""
    index = {str(h).strip().lower(): i for i, h in reversed(list(enumerate(header)))
             if h is not None}
    return [index[n.lower()] for n in names if n.lower() in index]


def _has_columns(header: list[Any], profile: OutcomeProfile) -> bool:
    return bool(_columns(header, profile.number + profile.message_id)
                and _columns(header, profile.outcome))


def header_at(rows: list[list[Any]], profile: OutcomeProfile) -> int:
    """The row holding the header: the first, or the second when the first is a title
    (``Campagne de décembre`` above ``number;outcome``: one non-empty cell, as the
    contact files' title rows) and the second names the profile's columns."""
    if len(rows) < 2 or _has_columns(rows[0], profile):
        return 0
    filled = sum(c is not None and bool(str(c).strip()) for c in rows[0])
    return 1 if filled == 1 and _has_columns(rows[1], profile) else 0


def _require_columns(path: Path, header: list[Any], profile: OutcomeProfile) -> None:
    number = _columns(header, profile.number + profile.message_id)
    outcome = _columns(header, profile.outcome)
    if not number or not outcome:
        want = " and ".join(
            f"one of {', '.join(names)}" for names, cols in (
                (profile.number + profile.message_id, number),
                (profile.outcome, outcome)) if not cols)
        raise InputError(f"{safe_text(path)}: the header has no column for "
                         f"{safe_text(want, 160)} (outcome profile {profile.name})")


def _csv(path: Path, profile: OutcomeProfile, counts: ReadCounts) -> Iterator[Chunk]:
    import pyarrow.csv as pcsv

    # UTF-8 when the whole file decodes, else cp1252 (what Excel writes on French
    # Windows), as contact files are: the first lines alone are often plain ASCII
    # headers, and a guess on them dropped every later row holding an accent or a
    # no-break space; UTF-16 by its BOM (Excel's 'Unicode text')
    try:
        found = detect_encoding(path)
    except InputError:
        found = ""
    if found not in ("utf-8", "utf-8-sig", "cp1252", "utf-16"):
        raise InputError(f"{safe_text(path)}: the events file is not UTF-8 (nor cp1252) "
                         "text")
    encoding = "utf-8" if found == "utf-8-sig" else found
    with path.open(encoding=found, errors="replace", newline="") as text:
        lines = [text.readline(MAX_LINE), text.readline(MAX_LINE)]

    def cells(line: str) -> list[str]:
        return next(csv.reader([line.rstrip("\r\n")],
                               delimiter=max(",;\t|", key=line.count)), [])

    at = header_at([cells(line) for line in lines if line], profile)
    delimiter = max(",;\t|", key=lines[at].count)
    header = cells(lines[at])
    _require_columns(path, header, profile)
    names = [f"{h.strip()}\x00{i}" if h.strip().lower() in
             [x.strip().lower() for x in header[:i]] else h.strip()
             for i, h in enumerate(header)]  # a header named twice: the first counts

    def bad_row(row: Any) -> str:
        counts.bad += 1
        if not counts.first_bad:
            line = getattr(row, "number", None)
            counts.first_bad = f"{safe_text(path.name, 80)} " + (
                f"line {line}" if line is not None else
                f"a row of {row.actual_columns} fields (the header has "
                f"{row.expected_columns})")
        return "skip"

    wanted = {n.lower() for n in (*profile.number, *profile.message_id, *profile.time,
                                  *profile.outcome)}
    include = [n for n in names if n.lower() in wanted]
    try:
        reader = pcsv.open_csv(
            path, read_options=pcsv.ReadOptions(column_names=names, skip_rows=at + 1,
                                                block_size=BLOCK, encoding=encoding),
            parse_options=pcsv.ParseOptions(delimiter=delimiter,
                                            invalid_row_handler=bad_row,
                                            newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.binary()), include_columns=include,
                strings_can_be_null=True, quoted_strings_can_be_null=False))
        for batch in reader:
            table, bad = _utf8(pa.Table.from_batches([batch]))
            if bad:
                counts.bad += bad
                counts.first_bad = counts.first_bad or (
                    f"{safe_text(path.name, 80)} a row that is not UTF-8 text")
            counts.events += table.num_rows
            if table.num_rows:
                yield _table_chunk(table, profile, fold_case=True)
    except pa.ArrowInvalid as exc:
        why = ("not UTF-8 text" if "UTF8" in str(exc) or "utf8" in str(exc).lower()
               else f"not a delivery events export (a row longer than {_size(BLOCK)})"
               if "straddl" in str(exc) else "not a readable CSV")
        raise InputError(f"{safe_text(path)}: the events file is {why} "
                         f"(after {counts.events} events)") from None


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def _utf8(table: pa.Table) -> tuple[pa.Table, int]:
    """Bytes read as UTF-8 text; a row holding a field that is not UTF-8 is dropped and
    counted (one bad row never stops a run): checked per row only in a chunk that has
    one."""
    bad = np.zeros(table.num_rows, dtype=bool)
    columns = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        try:
            columns[name] = col.cast(pa.string())
            continue
        except pa.ArrowInvalid:
            pass
        out: list[str | None] = []
        for i, value in enumerate(col.to_pylist()):
            try:
                out.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(None)
                bad[i] = True
        columns[name] = pa.array(out, pa.string())
    table = pa.table(columns)
    if bad.any():
        table = table.filter(pa.array(~bad))
    return table, int(bad.sum())


def _xlsx(path: Path, profile: OutcomeProfile, counts: ReadCounts) -> Iterator[Chunk]:
    """The first sheet, read by the contact files' streaming reader with their bounds
    (``contacts/xlsx.py``: a cell of at most 32,767 characters, a part of at most
    1 GiB inflated, no document type declaration; openpyxl's read-only mode built a
    1 GiB cell whole)."""
    from rcsqualify.contacts.xlsx import read_xlsx

    try:
        sheet = read_xlsx(path, 0, safe_text(path)).rows
    except InputError as exc:
        # its messages end '(nothing was checked)': learn checks nothing
        raise InputError(str(exc).replace("(nothing was checked)", "(nothing was learned)")
                         .replace("nothing to check", "nothing to learn")) from None
    top, second = next(sheet, ()), next(sheet, None)
    if header_at([list(top), list(second or ())], profile):
        top, second = second or (), None
    # the second row, when not the header, is the first event
    rows: Iterator[tuple[Any, ...]] = itertools.chain(
        [] if second is None else [second], sheet)
    header = [("" if h is None else str(h)) for h in top]
    _require_columns(path, header, profile)
    cols = {name: _columns(header, getattr(profile, name))
            for name in ("number", "message_id", "time", "outcome")}
    out = _Rows()

    def first(row: tuple[Any, ...], positions: list[int]) -> Any:
        for c in positions:
            if c < len(row) and not is_missing(row[c]):
                return row[c]
        return None

    for row in rows:
        if not row or all(is_missing(c) for c in row):
            continue
        counts.events += 1
        outcome = first(row, cols["outcome"])
        out.add(first(row, cols["number"]), first(row, cols["message_id"]),
                first(row, cols["time"]), profile.classify(outcome))
        if len(out) >= CHUNK:
            yield out.chunk()
            out = _Rows()
    if len(out):
        yield out.chunk()


def _parquet(path: Path, profile: OutcomeProfile, counts: ReadCounts) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, ValueError) as exc:
        raise InputError(f"{safe_text(path)}: not a readable Parquet file "
                         f"({safe_text(type(exc).__name__, 40)})") from None
    names = pf.schema_arrow.names
    _require_columns(path, names, profile)
    wanted = {n.lower() for n in (*profile.number, *profile.message_id, *profile.time,
                                  *profile.outcome)}
    for batch in pf.iter_batches(batch_size=CHUNK,
                                 columns=[n for n in names if n.lower() in wanted]):
        table = pa.Table.from_batches([batch])
        counts.events += table.num_rows
        if table.num_rows:
            yield _table_chunk(table, profile, fold_case=True)
