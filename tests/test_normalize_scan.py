"""The byte pass of the normalizer (issue #18) against the exact regex path.

``normalize_numbers`` reads common cells (digits, "+", spaces, dots, dashes) from
their bytes and sends every other cell through the regex path of CONTRACT §3. With
``_REGEX_ONLY``, every cell takes the regex path: both must give the same
result, cell by cell, on whatever hypothesis writes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcsqualify.numbering import normalize
from rcsqualify.numbering.normalize import Normalized, normalize_numbers
from rcsqualify.numbering.plan import load_plan


def _both(cells: list[str | None], monkeypatch: pytest.MonkeyPatch
          ) -> tuple[Normalized, Normalized]:
    plan = load_plan()
    arr = pa.array(cells, pa.string())
    fast = normalize_numbers(arr, plan)
    with monkeypatch.context() as m:
        m.setattr(normalize, "_REGEX_ONLY", True)
        exact = normalize_numbers(arr, plan)
    return fast, exact


def _assert_same(cells: list[str | None], fast: Normalized, exact: Normalized) -> None:
    for name in ("reason", "repaired", "key", "block", "kind"):
        a, b = getattr(fast, name), getattr(exact, name)
        bad = np.flatnonzero(a != b)
        assert not len(bad), (name, [cells[i] for i in bad[:5]])


SHAPES = [
    "0612345678", "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "+33 6 12 34 56 78",
    "+33612345678", "0033612345678", "33612345678", "612345678", "+33 06 12 34 56 78",
    "  0612345678  ", "", " ", "   ", "+", "-", ".", "++33612345678", "06+12345678",
    "0612345678.0", "612345678.0", "06 12 34 56 78.0", "+33 (0)6 12 34 56 78", "06/12/34/56/78",
    "3.36123E+10", "0612345678; 0698765432", "tel:+33612345678", "06\u00a012\u00a034",
    "\t0612345678", "0690 12 34 56", "+590 690 12 34 56", "+44 20 7946 0958",
    "1234567890123456789", "12345678901234567890123", "-+33612345678", " - 06 . 12",
    "0612345678.", ".0612345678", "06..12", "0 6 1 2 3 4 5 6 7 8", None,
]


def test_shapes_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, exact = _both(SHAPES, monkeypatch)
    _assert_same(SHAPES, fast, exact)


def test_sliced_and_null_arrays_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrow arrays that start at an offset (a batch slice) and carry nulls."""
    plan = load_plan()
    arr = pa.array(["x", *SHAPES, "0612345678"], pa.string()).slice(1, len(SHAPES))
    fast = normalize_numbers(arr, plan)
    exact = normalize_numbers(pa.array(SHAPES, pa.string()), plan)
    _assert_same(SHAPES, fast, exact)
    _, exact_regex = _both(SHAPES, monkeypatch)
    _assert_same(SHAPES, fast, exact_regex)


ALPHABET = "0123456789" * 3 + "+ .-" * 2 + "()/;,eE\t\u00a0:tel"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=ALPHABET, max_size=24)),
                min_size=1, max_size=40))
def test_any_cells_agree(cells: list[str | None]) -> None:
    with pytest.MonkeyPatch.context() as m:
        fast, exact = _both(cells, m)
    _assert_same(cells, fast, exact)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"\A[ ]{0,2}(\+|00)?[0-9 .\-]{0,20}\Z"), min_size=1,
                max_size=40))
def test_common_shapes_agree(cells: list[str]) -> None:
    with pytest.MonkeyPatch.context() as m:
        fast, exact = _both(list(cells), m)
    _assert_same(list(cells), fast, exact)
