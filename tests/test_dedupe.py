"""Distinct numbers without ``np.unique``'s temporaries (issue #18 item 3).

``distinct_numbers`` must say exactly what ``np.unique`` with index and inverse says:
the sorted distinct keys, the first row of each, each row's index into them; invalid
rows (key 0) get -1. Slices as small as 3 rows exercise the runs that cross them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcsqualify import pipeline
from rcsqualify.pipeline import distinct_numbers


def _reference(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    valid = key != 0
    keys, first, inverse = np.unique(key[valid], return_index=True, return_inverse=True)
    rows = np.flatnonzero(valid)
    index = np.full(len(key), -1, np.int64)
    index[rows] = inverse
    return keys, rows[first], index


def _check(key: np.ndarray) -> None:
    keys, first, index = distinct_numbers(key)
    want_keys, want_first, want_index = _reference(key)
    assert keys.tolist() == want_keys.tolist()
    assert first.tolist() == want_first.tolist()
    assert index.tolist() == want_index.tolist()
    assert index.dtype == np.int32


@pytest.mark.parametrize("slice_rows", [3, 1 << 22])
def test_matches_np_unique(slice_rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_SLICE", slice_rows)
    rng = np.random.default_rng(3)
    key = 33600000000 + rng.integers(0, 500, 10_000)
    key[rng.random(10_000) < 0.1] = 0
    _check(key)
    _check(np.zeros(5, np.int64))  # no valid number
    _check(np.zeros(0, np.int64))  # no row
    _check(np.array([7, 7, 7, 0, 7], np.int64))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=60), st.integers(1, 7))
def test_any_keys(values: list[int], slice_rows: int) -> None:
    with pytest.MonkeyPatch.context() as m:
        m.setattr(pipeline, "_SLICE", slice_rows)
        _check(np.array(values, np.int64))
