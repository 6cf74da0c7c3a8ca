"""NDJSON (one JSON object per line), UTF-8.

Arrow's reader is used when every column it infers is text, booleans or 64-bit
integers (all written back exactly); otherwise (numbers that are floats or wider than
64 bits, dates Arrow would reformat, nested values, a key changing JSON type from line
to line, a key first seen after Arrow's first block) the exact line-by-line reader,
which keeps every number's literal.

Nesting is bounded before any parser sees the file (issue #23 item 8): a line nested
20,000 deep crashed Arrow's reader (a segfault, exit 139, no message) and 1,000 deep
raised RecursionError in Python's. ``check_nesting`` counts the brackets of every line
with numpy (an upper bound of its depth); only a line with more than ``MAX_DEPTH``
openers is measured exactly (strings taken out first). Deeper than ``MAX_DEPTH`` is
exit 2 naming the line.

Keys are bounded too (issue #28 review). A contact file's columns are the union of its
lines' keys (every value is kept in the output), so lines each carrying keys no other
line has make that many columns. Arrow's reader infers a column per distinct key at a
cost growing with the columns already made: 8,000 lines of 20 unique keys (3 MB) took
7.5 GB and died of it. So Arrow only reads a file whose first block (what it infers
from) holds at most ``ARROW_KEYS`` distinct keys, counted by Python's linear parser
first; a wider file is read line by line. More than ``MAX_KEYS`` distinct keys in the
whole file (Excel's width, the bound of XLSX contact files) is not a contact list:
exit 2 naming the line that passes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from rcsqualify.contacts.cells import JsonNumber, as_strings, exact_as_text, json_text
from rcsqualify.contacts.reader import BATCH_BYTES, BATCH_ROWS, InputInfo, Reader
from rcsqualify.contacts.xlsx import MAX_COLUMNS
from rcsqualify.errors import InputError

#: Deepest nesting of objects and arrays read (a contact record nests a few levels).
MAX_DEPTH = 64
#: most distinct keys (columns) of a contact NDJSON: Excel's width, as XLSX contact files
MAX_KEYS = MAX_COLUMNS
#: most distinct keys of the first block for Arrow's reader to infer the columns from
ARROW_KEYS = 256
_SCAN_BYTES = 1 << 20
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPENERS = (ord("{"), ord("["))
_CLOSERS = (ord("}"), ord("]"))


def _exact_depth(line: bytes) -> int:
    """The deepest nesting of one JSON line: brackets outside strings."""
    codes = np.frombuffer(_JSON_STRING.sub(b'""', line), np.uint8)
    step = (np.isin(codes, _OPENERS).astype(np.int64)
            - np.isin(codes, _CLOSERS).astype(np.int64))
    return int(np.cumsum(step).max(initial=0))


def _check_block(block: bytes, first_line: int, shown: str) -> None:
    codes = np.frombuffer(block, np.uint8)
    openers = np.cumsum(np.isin(codes, _OPENERS), dtype=np.int64)
    ends = np.flatnonzero(codes == ord("\n"))
    if not len(ends) or ends[-1] != len(codes) - 1:
        ends = np.append(ends, len(codes) - 1)
    per_line = np.diff(openers[ends], prepend=0)
    for index in np.flatnonzero(per_line > MAX_DEPTH):
        start = int(ends[index - 1]) + 1 if index else 0
        if _exact_depth(block[start:int(ends[index]) + 1]) > MAX_DEPTH:
            raise InputError(f"{shown}: line {first_line + int(index)} nests values more "
                             f"than {MAX_DEPTH} deep: not a contact record (nothing was "
                             "checked)")


def check_nesting(path: Path, shown: str) -> None:
    """Exit 2 if a line of ``path`` nests objects/arrays deeper than ``MAX_DEPTH``."""
    carry = b""
    line = 1
    with path.open("rb") as fh:
        while chunk := fh.read(_SCAN_BYTES):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data  # one long line: measured when it ends
                continue
            _check_block(data[:cut], line, shown)
            line += data.count(b"\n", 0, cut)
            carry = data[cut:]
    if carry:
        _check_block(carry, line, shown)


#: a line that may hold a lone surrogate once decoded (pairs match too: rare, checked)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_lone(value: Any) -> Any:
    """A decoded JSON value with every lone surrogate replaced by U+FFFD (objects
    were done by the hook already)."""
    if isinstance(value, str) and not isinstance(value, JsonNumber):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_no_lone(v) for v in value]
    return value


class NdjsonReader(Reader):
    def __init__(self, path: Path, info: InputInfo) -> None:
        super().__init__(path, info)
        self._exact = False
        check_nesting(path, info.path)
        if self._first_block_keys() > ARROW_KEYS:
            self._exact = True
            self.headers = self._keys()
            return
        try:
            reader = pajson.open_json(path, read_options=pajson.ReadOptions(
                block_size=BATCH_BYTES))
            names = list(reader.schema.names)
            exact = all(exact_as_text(t) for t in reader.schema.types)
            if exact:
                for _ in reader:  # type changes and late keys surface while reading
                    pass
            reader.close()
        except pa.ArrowInvalid:
            exact = False
        if exact:
            self.headers = names
        else:
            self._exact = True
            self.headers = self._keys()

    def batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        if self._exact:
            yield from self._text_batches(cols)
            return
        keys = [self.headers[self.columns.index(c)] for c in cols]
        try:
            reader = pajson.open_json(self.path, read_options=pajson.ReadOptions(
                block_size=BATCH_BYTES))
            for batch in reader:
                yield as_strings(batch.select(keys), cols)
        except pa.ArrowInvalid as exc:
            raise InputError(f"{self.info.path} changed while it was read "
                             f"(NDJSON no longer parses)") from exc

    def _lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        number = 0
        try:
            with self.path.open(encoding="utf-8-sig") as fh:
                for number, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    hook = (self._keep_repeated_unicode if _SURROGATE_ESCAPE.search(line)
                            else self._keep_repeated)
                    try:
                        obj = json.loads(line, parse_int=JsonNumber, parse_float=JsonNumber,
                                         parse_constant=JsonNumber, object_pairs_hook=hook)
                    except ValueError as exc:
                        raise InputError(f"{self.info.path}: line {number} is not JSON") from exc
                    if not isinstance(obj, dict):
                        raise InputError(f"{self.info.path}: line {number} is not a JSON "
                                         "object")
                    yield number, obj
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.info.path}: line {number + 1} is not UTF-8 text "
                             "(NDJSON is UTF-8)") from exc

    def _keep_repeated(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        """An object that repeats a key keeps every value: the second ``a`` becomes
        ``a (2)`` (stated in the report), never a value silently dropped (CONTRACT §11)."""
        obj: dict[str, Any] = {}
        for key, value in pairs:
            name, n = key, 1
            while name in obj:
                n += 1
                name = f"{key} ({n})"
            if name != key:
                self.info.columns_renamed.setdefault(name, key)
            obj[name] = value
        return obj

    def _keep_repeated_unicode(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        """``_keep_repeated`` for a line escaping a surrogate: JSON lets ``"\\ud800"``
        stand alone, Unicode does not (no UTF-8 for it: the run stopped on an unexpected
        UnicodeEncodeError as soon as an output was written). A lone one becomes U+FFFD
        in keys and text, nested lists included (a pair is one character already)."""
        return self._keep_repeated([(_no_lone(k), _no_lone(v)) for k, v in pairs])

    def _first_block_keys(self) -> int:
        """Distinct keys of the lines Arrow's reader would infer its columns from (its
        first block), counted by Python's parser (linear), stopping past ``ARROW_KEYS``;
        a line that does not parse ends the count (the readers say what it is)."""
        keys: set[str] = set()
        with self.path.open("rb") as fh:
            head = fh.read(BATCH_BYTES)
            whole = len(head) < BATCH_BYTES
        lines = head.splitlines()
        for line in lines if whole else lines[:-1]:  # the last may be cut: not counted
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                break
            if not isinstance(obj, dict):
                break
            keys.update(obj)
            if len(keys) > ARROW_KEYS:
                break
        return len(keys)

    def _keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for number, obj in self._lines():
            keys.update(dict.fromkeys(obj))
            if len(keys) > MAX_KEYS:
                raise InputError(f"{self.info.path}: line {number} brings the file past "
                                 f"{MAX_KEYS:,} distinct keys (Excel's width): not a "
                                 "contact list (nothing was checked)")
        return list(keys)

    def _text_batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        keys = [self.headers[self.columns.index(c)] for c in cols]
        values: list[list[str | None]] = [[] for _ in keys]

        def flush() -> pa.RecordBatch:
            batch = pa.RecordBatch.from_arrays([pa.array(v, pa.string()) for v in values],
                                               names=cols)
            for v in values:
                v.clear()
            return batch

        count = 0
        for _, obj in self._lines():
            for key, out in zip(keys, values, strict=True):
                out.append(json_text(obj.get(key)))
            count += 1
            if count == BATCH_ROWS:
                yield flush()
                count = 0
        if count:
            yield flush()
