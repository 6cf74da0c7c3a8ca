"""NDJSON (one JSON object per line), UTF-8.

Arrow's reader is used when every column it infers is text, booleans or 64-bit
integers (all written back exactly); otherwise (numbers that are floats or wider than
64 bits, dates Arrow would reformat, nested values, a key changing JSON type from line
to line, a key first seen after Arrow's first block) the exact line-by-line reader,
which keeps every number's literal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from rcsqualify.contacts.cells import JsonNumber, as_strings, exact_as_text, json_text
from rcsqualify.contacts.reader import BATCH_BYTES, BATCH_ROWS, InputInfo, Reader
from rcsqualify.errors import InputError


class NdjsonReader(Reader):
    def __init__(self, path: Path, info: InputInfo) -> None:
        super().__init__(path, info)
        self._exact = False
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
                    try:
                        obj = json.loads(line, parse_int=JsonNumber, parse_float=JsonNumber,
                                         parse_constant=JsonNumber,
                                         object_pairs_hook=self._keep_repeated)
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

    def _keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for _, obj in self._lines():
            keys.update(dict.fromkeys(obj))
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
