"""Contacts already in memory (the Python API, ``rcsqualify.api``): a pandas DataFrame,
a pyarrow Table or an iterable of strings, read as a file of the same content would be.

Every cell becomes text by the rules of ``cells.py`` (CONTRACT §11: a number is never
an int or a float on the way in), exactly as a Parquet file of the same table reads:
integer columns of any width (pandas' nullable ``Int64`` included) as digits, a missing
value (``<NA>``, ``None``, ``NaN``, ``NaT``) as a missing cell, whole floats under 10^16
without ``.0``, categoricals as their values. A pandas ``object`` column may mix types,
which no file format holds in one column: each cell is read as a column of its own type
would be (a string as it is, an int as digits, a float by the float rule, a bool
``true``/``false``, anything else as ``str()``).

pandas is never imported here: a DataFrame is recognized by its module, so a caller who
passes a pyarrow Table or strings pays for neither.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from rcsqualify.contacts.cells import WHOLE_FLOAT_LIMIT, as_strings
from rcsqualify.contacts.reader import BATCH_ROWS, InputInfo, Reader
from rcsqualify.errors import InputError

#: the column name of an iterable of strings (one number per item)
STRINGS_COLUMN = "phone"
#: what the report's ``input.path`` says for each kind of in-memory source (a label,
#: never a file), and its ``input.format``
LABELS = {"dataframe": "<DataFrame>", "arrow": "<pyarrow.Table>", "strings": "<strings>"}


def is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")  # not imported: value cannot be a DataFrame
    return pandas is not None and isinstance(value, pandas.DataFrame)


def is_arrow_table(value: Any) -> bool:
    return isinstance(value, pa.Table)


def table_of(source: Any) -> tuple[str, pa.Table]:
    """(format, table) of an in-memory source: ``dataframe``, ``arrow`` or ``strings``.
    A value of any other type is a ``TypeError`` (a programming error, not an input
    the user can fix by editing a file)."""
    if is_dataframe(source):
        return "dataframe", dataframe_table(source)
    if is_arrow_table(source):
        return "arrow", source
    # a mapping iterates over its keys: {"phone": [...]} would be read as the one
    # number "phone" (pandas' dict-of-columns habit); a DataFrame of it is meant
    if isinstance(source, (str, bytes, Mapping)) or not isinstance(source, Iterable):
        raise TypeError("source must be a path, a pandas DataFrame, a pyarrow Table or an "
                        f"iterable of strings, got {type(source).__name__}"
                        + (" (pandas.DataFrame(it) reads a dict of columns)"
                           if isinstance(source, Mapping) else ""))
    cells = list(source)
    wrong = next((c for c in cells if c is not None and not isinstance(c, str)), None)
    if wrong is not None:
        raise TypeError("an iterable source holds strings (one number each) or None, got "
                        f"an item of type {type(wrong).__name__}")
    return "strings", pa.table({STRINGS_COLUMN: pa.array(cells, pa.string())})


def dataframe_table(frame: Any) -> pa.Table:
    """The DataFrame's columns as Arrow columns, names as text. A *named* index (after
    ``set_index("client_id")``, or ``set_index("phone")``) is data, as ``to_csv`` and
    ``to_parquet`` write it: its levels come first, as columns. An unnamed one (the
    default ``RangeIndex``, a filter's leftover positions) is pandas' bookkeeping, no
    column of the contact file. A level whose name a column has already is dropped
    rather than made a second column of one name."""
    levels = [n for n in frame.index.names if n is not None]
    if levels and not any(str(n) in {str(c) for c in frame.columns} for n in levels):
        frame = frame.reset_index(level=levels)
    arrays, names, narrow = [], [], {}
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        names.append(str(frame.columns[i]))
        if series.dtype == object:
            values = series.tolist()
            arrays.append(_object_column(values))
            kind = _narrow_scalars(values)
            if kind is not None:
                narrow[i] = kind
            continue
        try:
            # a copy: Arrow may share a NumPy column's memory, and a caller who changes
            # the DataFrame after ``qualify`` would change ``Result.rows`` (a new number
            # beside the old one's verdict)
            arrays.append(pa.Array.from_pandas(series.copy(deep=True)))
        except pa.ArrowException:
            # a dtype Arrow has no type for (complex, a sparse array): no file format
            # holds it either; its cells as text, rather than one column of the
            # DataFrame (often not the phone one) failing the whole run
            arrays.append(_object_column(series.tolist()))
    if not names:
        return pa.table({})
    return pa.Table.from_arrays(arrays, schema=pa.schema([
        pa.field(name, array.type, metadata={NARROW_KEY: narrow[i]} if i in narrow else None)
        for i, (name, array) in enumerate(zip(names, arrays, strict=True))]))


#: an object column's field metadata: the narrow float type its values were (text now)
NARROW_KEY = b"rcsqualify.narrow_float"


def _narrow_scalars(values: list[Any]) -> str | None:
    """The narrow float type (``float32``, ``float16``) of an ``object`` column's
    NumPy scalars holding a number, if any: ``np.float32(612345678)`` is 612345664
    already, as in a float32 column (``refuse_narrow_floats``); read as text, the
    column would lose the type that says so."""
    for value in values:
        if isinstance(value, np.floating) and not np.isnan(value):
            kind = NARROW_FLOATS.get(pa.from_numpy_dtype(value.dtype))
            if kind is not None:
                return kind[0]
    return None


def _object_column(values: list[Any]) -> pa.Array:
    """An ``object`` column's Python values as text cells (``cell_text``)."""
    return pa.array([cell_text(v) for v in values], pa.string())


def cell_text(value: Any) -> str | None:
    """One cell of a mixed ``object`` column, as a column of its type would read."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer() and abs(number) < WHOLE_FLOAT_LIMIT:
            return str(int(number))
        return str(pa.scalar(number).cast(pa.string()))
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return None
    return str(value)


#: Float types too narrow for a phone number: a float32 keeps 24 bits of mantissa (whole
#: numbers exactly up to 16,777,216 only, about 7 digits), a float16 11; a French number
#: has 9 to 11 digits. A float64 holds every whole number up to 2**53 exactly.
NARROW_FLOATS = {pa.float16(): ("float16", "3"), pa.float32(): ("float32", "7")}


def narrow_floats(types: Sequence[pa.DataType],
                  holds_value: Callable[[int], bool]) -> dict[int, tuple[str, str]]:
    """The columns (by position) of a narrow float type, behind a dictionary or not (a
    pandas Categorical of float32 lost the digits too), that hold a value (an all-null
    float32 column lost nothing), with that type's ``NARROW_FLOATS`` entry: what
    ``Reader.narrow_floats`` of a typed format (an Arrow table, a Parquet file) answers."""
    found = {}
    for i, kept in enumerate(types):
        narrow = NARROW_FLOATS.get(kept.value_type if pa.types.is_dictionary(kept) else kept)
        if narrow is not None and holds_value(i):
            found[i] = narrow
    return found


def refuse_narrow_floats(narrow: dict[int, tuple[str, str]], columns: list[str],
                         phones: list[str], contact_id: str | None) -> None:
    """Exit 2 when a phone column (or the contact id) of a typed input (an in-memory
    table, a Parquet file) is a float32 or float16 column holding a value (``narrow``,
    see ``narrow_floats``): its numbers lost digits before ``qualify`` saw them
    (612345678 is stored 612345664) and would be checked as other people's numbers,
    plausible and wrong. The data is fixed at its source (written as text), not here;
    a float64 column is read as usual (``cells.WHOLE_FLOAT_LIMIT``)."""
    from rcsqualify.contacts.columns import safe_names

    for name in [*phones, *([contact_id] if contact_id else [])]:
        found = narrow.get(columns.index(name))
        if found is None:
            continue
        kind, digits = found
        role = "contact id" if name == contact_id else "phone"
        raise InputError(f"the {role} column {safe_names([name])} is {kind}, which keeps "
                         f"about {digits} significant digits: its numbers have lost digits "
                         "already (a phone number has 9 to 11); build the column as text "
                         "(dtype=str when reading the file) or as int64")


class TableReader(Reader):
    """An Arrow table read like a Parquet file: its schema names the columns, its
    length counts the rows, batches of ``BATCH_ROWS`` as text."""

    def __init__(self, table: pa.Table, info: InputInfo) -> None:
        super().__init__(info.path, info)  # type: ignore[arg-type]  # a label, no file
        self._table = table
        self.headers = [str(n) for n in table.schema.names]

    def batches(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        index = [self.columns.index(c) for c in cols]
        picked = self._table.select(index)
        for batch in picked.to_batches(max_chunksize=BATCH_ROWS):
            yield as_strings(batch, cols)

    rows_known = True

    def estimated_rows(self, size: int) -> int | None:
        return int(self._table.num_rows)

    def narrow_floats(self) -> dict[int, tuple[str, str]]:
        table = self._table
        found = narrow_floats(table.schema.types,
                              lambda i: table.column(i).null_count < len(table.column(i)))
        by_name = {entry[0]: entry for entry in NARROW_FLOATS.values()}
        for i, f in enumerate(table.schema):
            kind = (f.metadata or {}).get(NARROW_KEY)
            if kind is not None:  # an object column of float32 scalars (dataframe_table)
                found.setdefault(i, by_name[kind.decode()])
        return found
