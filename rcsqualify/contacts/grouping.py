"""Rows and phone columns grouped into contacts (issue #25): one person, several numbers.

A contact base holds a person on one row with several phone columns (``Tél. portable``,
``Fixe``, ``Tel 1``/``Tel 2``: the *wide* format), or on several rows sharing a contact id,
one number a row (the *long* format), or both. Everything after reading works on
*contacts*: an aggregator sends one message per contact, to the best number it has
(``choice.py``). This module only groups: which cells are a contact's numbers, in which
order. It is pure numpy/pandas over arrays, so it is tested without reading a file.

The cells of ``C`` phone columns over ``R`` rows are numbered ``column * R + row`` (a
*cell*), so that per-cell arrays (keys, reasons) stacked as ``(C, R)`` and raveled are
read with one gather. A contact's numbers (its *slots*) are its non-blank cells, in
priority order: by column (the order the columns were given in), then by rank
(``--number-rank``, blanks last) then file order of the rows. A contact whose cells are
all blank keeps one slot, its first row's first column, so that it is still a message
(an ``empty`` one, as a blank row is today). With one column and no contact id, contacts
are rows and each has exactly its one cell: every figure is today's.

A contact holds at most ``max_numbers`` slots (``--max-numbers-per-contact``, default
10): a long table with 500 rows for one id is a data error, not a person; the numbers
past the cap stay in the output (their rows are kept) but are never chosen nor looked
up, and are counted per contact (``dropped``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas only when contacts are grouped: a plain check never loads it
    import pandas as pd

#: ``--max-numbers-per-contact`` by default
MAX_NUMBERS_PER_CONTACT = 10


@dataclass(frozen=True)
class Contacts:
    """Rows grouped into contacts; slots sorted by contact, then priority."""

    n_rows: int
    n_columns: int
    #: per row: its contact (0..n_contacts-1, numbered in order of first row)
    contact_of_row: np.ndarray
    #: per contact, and one past the last: the index of its first slot (offsets)
    start: np.ndarray
    #: per slot: its cell (``column * n_rows + row``)
    cell: np.ndarray
    #: per contact: its non-blank numbers left out by the cap
    dropped: np.ndarray
    #: per contact: whether it had no number at all (its one slot is a blank cell)
    all_blank: np.ndarray

    @property
    def n_contacts(self) -> int:
        return len(self.start) - 1

    @property
    def n_slots(self) -> int:
        return len(self.cell)

    @property
    def row(self) -> np.ndarray:
        """Per slot: its row."""
        return self.cell % max(self.n_rows, 1)

    @property
    def column(self) -> np.ndarray:
        """Per slot: its column index (priority order)."""
        return self.cell // max(self.n_rows, 1)

    @property
    def contact(self) -> np.ndarray:
        """Per slot: its contact."""
        return np.repeat(np.arange(self.n_contacts, dtype=np.int64), np.diff(self.start))

    @property
    def position(self) -> np.ndarray:
        """Per slot: its rank within its contact (0 for the first number)."""
        return np.arange(self.n_slots, dtype=np.int64) - np.repeat(
            self.start[:-1], np.diff(self.start))

    @property
    def first_slot(self) -> np.ndarray:
        """Per contact: its first slot."""
        return self.start[:-1]


#: Contact ids that say "no id" (compared trimmed and case-insensitively): what exports
#: and spreadsheets write in an empty id cell. Read as a blank id, each such row is a
#: contact of its own; as an id they made one giant contact of every row holding them
#: (cut at ``--max-numbers-per-contact``, the other numbers never looked at).
#: The typographic dashes are what a word processor or Excel's autocorrect turns ``-``
#: or ``--`` into (en dash, em dash, minus sign, figure dash); ``nat`` and ``<na>`` are
#: what pandas writes for a missing date and a missing value once a column is ``str``
#: (``df.astype(str)``), beside its ``nan`` and ``None``.
NO_ID_VALUES = frozenset({"null", "n/a", "#n/a", "-", "none", "nan",
                          "\u2013", "\u2014", "\u2212", "\u2012", "nat", "<na>"})


def _every_case(words: frozenset[str]) -> frozenset[str]:
    """Each word in every mix of cases (``nan``, ``NaN``, ``NAN``...): a hash look-up
    of these is a third of the cost of case-folding a million ids first."""
    from itertools import product

    return frozenset("".join(p) for w in words
                     for p in product(*({c.lower(), c.upper()} for c in w)))


_NO_ID_SPELLINGS = _every_case(NO_ID_VALUES)


def contact_codes(values: pd.Series | np.ndarray | list[object]) -> np.ndarray:
    """A contact id column's values as integer codes, ``-1`` for a blank id (``None``,
    NaN, only spaces, or a value of ``NO_ID_VALUES``: ``NULL``, ``N/A``...). Ids are
    compared as text stripped of surrounding spaces and nothing else: ``"12"`` and
    ``"012"`` are two contacts (the file decides what an id is; leading zeros are often
    meaningful). A sheet's number cell ``7`` is read as the text ``7`` (``cells.py``:
    a whole number without ``.0``), so it is the same contact as a text cell ``7``."""
    import pandas as pd

    series = pd.Series(values, dtype=object)
    text = series.where(series.notna(), None).map(
        lambda v: None if v is None else str(v).strip(), na_action="ignore")
    text = text.where((text != "") & ~text.isin(_NO_ID_SPELLINGS), None)
    codes, _ = pd.factorize(text, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def rank_values(values: pd.Series | np.ndarray | list[object]) -> tuple[np.ndarray, int]:
    """``--number-rank`` values as float64 ranks, NaN where blank (sorted last), and how
    many non-blank values are not numbers. Numbers order as numbers (``1``, ``2``,
    ``10``, not as text); values that are not numbers rank after every number, among
    themselves in text order. So one typo (``2a``) in a column of numbers does not turn
    the whole column into text order (``10`` before ``9``); the count is reported."""
    import pandas as pd

    series = pd.Series(values, dtype=object)
    text = series.map(lambda v: str(v).strip(), na_action="ignore")
    blank = text.isna() | (text == "")
    numeric = pd.to_numeric(text.where(~blank, None).str.replace(",", ".", regex=False),
                            errors="coerce")
    out = np.array(numeric, dtype=np.float64)  # a copy: pandas' may be read-only
    words = ~blank & numeric.isna()
    count = int(words.sum())
    if count:
        codes, _ = pd.factorize(text[words], sort=True)
        finite = out[np.isfinite(out)]
        after = float(finite.max()) + 1 if len(finite) else 0.0
        out[np.asarray(words)] = after + np.asarray(codes, dtype=np.float64)
    return out, count


def group_contacts(blank: np.ndarray, *, contact_id: np.ndarray | None = None,
                   rank: np.ndarray | None = None,
                   max_numbers: int = MAX_NUMBERS_PER_CONTACT) -> Contacts:
    """Contacts from the blank-cell mask ``blank`` (``(C, R)``: True where the phone
    cell holds nothing), the contact codes per row (``contact_codes``; None: each row
    is a contact) and the ranks per row (``rank_values``; None: file order)."""
    if blank.ndim != 2:
        raise ValueError("blank must be (columns, rows)")
    if max_numbers < 1:
        raise ValueError("max_numbers must be at least 1")
    n_columns, n_rows = blank.shape
    if contact_id is None:
        contact_of_row = np.arange(n_rows, dtype=np.int64)
        first_row = contact_of_row
    else:
        contact_of_row, first_row = _contacts_in_row_order(np.asarray(contact_id, np.int64))
    n_contacts = len(first_row)

    has_number = ~blank
    # a row holds at most n_columns numbers: the smallest integer that counts them (a
    # million rows make these arrays; each fresh one is memory the system must clear)
    small = np.uint8 if n_columns < 256 else np.int64
    per_row = np.add.reduce(has_number, axis=0, dtype=small)
    per_contact = per_row if contact_id is None else np.bincount(
        contact_of_row, weights=per_row, minlength=n_contacts).astype(np.int64)
    all_blank = per_contact == 0
    if all_blank.any():  # an all-blank contact keeps its first cell: an ``empty`` message
        has_number[0, first_row[all_blank]] = True
        per_row = np.add.reduce(has_number, axis=0, dtype=small)

    if contact_id is None:
        # rows are contacts: the (rows, columns) order is (contact, priority) already;
        # the cell numbers made in place from the two index arrays nonzero returns
        rows, cell = np.nonzero(has_number.T)
        cell *= n_rows
        cell += rows
        del rows
        counts = per_row
    else:
        columns, rows = np.nonzero(has_number)
        contact = contact_of_row[rows]
        keys: list[np.ndarray] = [rows]
        if rank is not None:
            r = np.asarray(rank, np.float64)[rows]
            keys.append(np.where(np.isnan(r), np.inf, r))
        keys += [columns, contact]
        order = np.lexsort(keys)
        contact = contact[order]
        cell = columns[order].astype(np.int64) * n_rows + rows[order]
        counts = np.bincount(contact, minlength=n_contacts).astype(np.int64)

    starts = np.zeros(n_contacts + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    over = int(counts.max(initial=0)) > max_numbers
    dropped = (np.maximum(counts.astype(np.int64) - max_numbers, 0) if over
               else np.zeros(n_contacts, np.int64))
    if over:
        position = np.arange(len(cell), dtype=np.int64) - np.repeat(starts[:-1], counts)
        keep = position < max_numbers
        cell = cell[keep]
        counts = np.minimum(counts, max_numbers)
        starts = np.zeros(n_contacts + 1, np.int64)
        np.cumsum(counts, out=starts[1:])
    return Contacts(n_rows=n_rows, n_columns=n_columns, contact_of_row=contact_of_row,
                    start=starts, cell=cell, dropped=dropped, all_blank=all_blank)


def first_of_each(values: np.ndarray) -> np.ndarray:
    """The position of the first occurrence of each distinct value, in order of
    appearance. Small non-negative integers (number or contact indices) are placed in
    a table; other values are hashed (``pandas.factorize``): both take a fraction of
    ``np.unique``'s sort at a million values."""
    values = np.asarray(values)
    n = len(values)
    positions = np.arange(n - 1, -1, -1, dtype=np.int64)
    if n and values.dtype.kind in "iu" and int(values.min()) >= 0 and int(values.max()) < 4 * n:
        table = np.full(int(values.max()) + 1, n, np.int64)
        table[values[::-1]] = positions  # written last to first: the first one stays
        return np.sort(table[table < n])
    import pandas as pd

    codes, uniques = pd.factorize(values)
    first = np.empty(len(uniques), np.int64)
    first[codes[::-1]] = positions
    return first


def one_of_each(values: np.ndarray) -> np.ndarray:
    """A position of each distinct value (any one, in no particular order): enough to
    count what each distinct value carries, cheaper than ``first_of_each`` for small
    non-negative integers (no sort)."""
    values = np.asarray(values)
    n = len(values)
    if n and values.dtype.kind in "iu" and int(values.min()) >= 0 and int(values.max()) < 4 * n:
        table = np.full(int(values.max()) + 1, -1, np.int64)
        table[values] = np.arange(n, dtype=np.int64)
        return table[table >= 0]
    return first_of_each(values)


def _contacts_in_row_order(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row its contact, numbered in order of first row, and each contact's first
    row. Rows with a blank id (``-1``) are each a contact of their own."""
    label = codes.copy()
    blank_rows = np.flatnonzero(codes < 0)
    groups = int(codes.max(initial=-1)) + 1
    label[blank_rows] = groups + np.arange(len(blank_rows), dtype=np.int64)
    import pandas as pd

    contact_of_row, _ = pd.factorize(label)  # numbered in order of appearance
    return np.asarray(contact_of_row, np.int64), first_of_each(label)
