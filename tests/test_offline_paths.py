"""The faster paths of the offline check (issue #18 items 2 and 4) against the plain ones.

- A cp1252/latin-1 CSV is parsed by Arrow as its own bytes and the cells read are
  decoded afterwards (``contacts/delimited.py``): same cells, same errors as when Arrow
  reads the file transcoded to UTF-8.
- A plan look-up of many numbers goes through a direct index of the blocks: same block
  as the binary search over their starts.
- Distinct numbers: the sort of keys packed with their rows and the argsort (keys too
  far apart to pack) both say what ``np.unique`` says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcsqualify.contacts import ContactSource, delimited
from rcsqualify.numbering.plan import load_plan
from rcsqualify.pipeline import distinct_numbers

CELL = st.text(alphabet="0123456789 +.-;,\"\n\r\téèàçœ€‰ƒÿ«»Ž", max_size=14)


def _csv_line(cells: list[str]) -> str:
    return ";".join('"' + c.replace('"', '""') + '"' if set(c) & set(';"\n\r') else c
                    for c in cells)


def _read(path: Path, encoding: str | None) -> object:
    try:
        with ContactSource(str(path), encoding=encoding) as src:
            phone = pa.chunked_array(list(src.phone_batches()), pa.string())
            every = pa.Table.from_batches(list(src.batches()))
            return phone.to_pylist(), every.to_pydict(), src.info.as_dict()
    except Exception as exc:  # the same error, word for word, is part of the result
        return type(exc).__name__, str(exc)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=40),
       newline=st.sampled_from(["\n", "\r\n", "\r"]), encoding=st.sampled_from([None, "cp1252",
                                                                              "latin-1"]),
       ragged=st.booleans(), undefined=st.booleans())
def test_csv_read_as_bytes_equals_transcoded(tmp_path_factory: pytest.TempPathFactory,
                                             rows: list[list[str]], newline: str,
                                             encoding: str | None, ragged: bool,
                                             undefined: bool) -> None:
    lines = ["Nom;Téléphone;Ville"] + [_csv_line(r) for r in rows]
    if ragged:
        lines.insert(len(lines) // 2 + 1, "0612345678;é")
    data = newline.join(lines).encode("cp1252")
    if undefined:  # a byte cp1252 leaves undefined, far from the sample the reader checks
        data += newline.encode() + b"x\x81;0612345678;y"
    path = tmp_path_factory.mktemp("csv") / "contacts.csv"
    path.write_bytes(data)
    fast = _read(path, encoding)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(delimited, "_reads_as_bytes", lambda *args: False)
        transcoded = _read(path, encoding)
    assert fast == transcoded


def test_csv_of_ascii_phones_is_read_as_bytes(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes("Nom;Téléphone\nGarçon;06 12 34 56 78\n".encode("cp1252"))
    with ContactSource(str(path)) as src:
        assert src.info.encoding == "cp1252"
        assert src._reader._cells_in == "cp1252"  # type: ignore[attr-defined]
        assert pa.chunked_array(list(src.phone_batches())).to_pylist() == ["06 12 34 56 78"]


def test_block_index_equals_binary_search() -> None:
    rng = np.random.default_rng(3)
    for table in load_plan().tables.values():
        low, high = int(table.starts.min()), int(table.ends.max())
        values = np.concatenate([
            rng.integers(max(0, low - 10**6), high + 10**6, 200_000), table.starts,
            table.ends, table.starts - 1, table.ends + 1, [0, 1, 10**15]]).astype(np.int64)
        pos = np.searchsorted(table.starts, values, side="right") - 1
        safe = np.clip(pos, 0, None)
        want = np.where((pos >= 0) & (values <= table.ends[safe]), table.block[safe], -1)
        assert table.index is not None
        assert table.lookup(values).tolist() == want.tolist()


@pytest.mark.parametrize("spread", [10**3, 10**15])  # packed sort, then argsort
def test_distinct_numbers_both_sorts(spread: int) -> None:
    rng = np.random.default_rng(spread % 97)
    key = 33_600_000_000 + rng.integers(0, 3_000, 20_000) * (spread // 10**3)
    key[rng.random(20_000) < 0.1] = 0
    keys, first, index = distinct_numbers(key)
    valid = key != 0
    want_keys, want_first, inverse = np.unique(key[valid], return_index=True,
                                               return_inverse=True)
    rows = np.flatnonzero(valid)
    want_index = np.full(len(key), -1)
    want_index[rows] = inverse
    assert keys.tolist() == want_keys.tolist()
    assert first.tolist() == rows[want_first].tolist()
    assert index.tolist() == want_index.tolist()
