"""Arrow arrays to and from numpy through their buffers.

pyarrow's own conversions (``Array.to_numpy``, ``pa.array`` of a numpy array, a Python
scalar as a compute argument) import pandas the first time they run, to check for
pandas objects: ~0.2 s that a check of a small file should not pay (issue #18). These
helpers read and build the buffers directly, which is also zero-copy where the layout
allows it. ``cast`` and ``compute`` keep ``pyarrow.compute`` itself from being imported
when nothing but a cast is needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def _validity(arr: pa.Array) -> np.ndarray | None:
    """True where the value is not null; None when the array has no nulls."""
    buf = arr.buffers()[0]
    if buf is None or arr.null_count == 0:
        return None
    bits = np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little")
    return bits[arr.offset:arr.offset + len(arr)].astype(bool)


def bools(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as numpy bool, nulls as False."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    buf = arr.buffers()[1]
    if buf is None or n == 0:
        return np.zeros(n, dtype=bool)
    bits = np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little")
    out = bits[arr.offset:arr.offset + n].astype(bool)
    valid = _validity(arr)
    return out if valid is None else out & valid


def int_array(values: np.ndarray) -> pa.Array:
    """A numpy integer array as an Arrow array of the same width (no copy)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values),
                                 [None, pa.py_buffer(values)])


def bool_array(values: np.ndarray) -> pa.Array:
    """A numpy bool array as an Arrow boolean array."""
    bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def string_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A UTF-8 string array's offsets (int64, len+1, starting wherever the data does),
    data bytes and validity (None when no null)."""
    _, off_buf, data_buf = arr.buffers()
    n = len(arr)
    if off_buf is None:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.uint8), _validity(arr)
    offsets = np.frombuffer(off_buf, np.int32, count=n + 1, offset=arr.offset * 4)
    data = (np.frombuffer(data_buf, np.uint8) if data_buf is not None
            else np.zeros(0, np.uint8))
    return offsets.astype(np.int64), data, _validity(arr)


def cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """``pyarrow.compute.cast(arr, target)`` (a safe cast) without importing
    ``pyarrow.compute``: that module wraps every compute function, with its docstring,
    when it is imported (~40 ms, as much as numpy), and the check path needs this cast
    only."""
    from pyarrow._compute import CastOptions, call_function

    return call_function("cast", [arr], CastOptions.safe(target))


class _Compute:
    """``pyarrow.compute``, imported the first time one of its functions is used."""

    def __getattr__(self, name: str) -> Any:
        import pyarrow.compute

        return getattr(pyarrow.compute, name)


#: ``import pyarrow.compute as pc`` for modules that use it on some paths only
compute = _Compute()
