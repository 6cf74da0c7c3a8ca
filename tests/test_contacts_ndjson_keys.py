"""A contact NDJSON whose lines carry keys no other line has (issue #28 review: the
hole learn's events reader had). Its columns are the union of its lines' keys, every
value kept; Arrow's reader, inferring a column per distinct key, was quadratic in them
(8,000 lines of 20 unique keys, 3 MB: 7.5 GB, then std::bad_alloc)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rcsqualify.contacts import ndjson
from tests.helpers import run_cli


def _no_arrow(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.json as pj

    def refused(*args: object, **kw: object) -> None:
        raise AssertionError("Arrow's JSON reader left to infer a column per key")

    monkeypatch.setattr(pj, "open_json", refused)
    monkeypatch.setattr(ndjson.pajson, "open_json", refused)


def _unique_keys(path: Path, lines: int, keys: int) -> None:
    with path.open("w") as fh:
        for i in range(lines):
            fh.write(json.dumps({"tel": f"06 07 {i % 100:02d} 00 01",
                                 **{f"k{i}_{j}": "x" for j in range(keys)}}) + "\n")


def test_past_max_keys_is_one_line_exit_2(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """20,000 lines of 20 unique keys (400,001 columns, 7 MB): exit 2 in one line naming
    the line that passes 16,384 keys, never given to Arrow's reader."""
    _no_arrow(monkeypatch)
    path = tmp_path / "c.ndjson"
    _unique_keys(path, 20_000, 20)
    result = run_cli(["check", str(path), "-q"])
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "line 820 brings the file past 16,384 distinct keys" in (
        lines[0]), result.stderr


def test_a_wide_file_is_read_line_by_line_every_key_a_column(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ARROW_KEYS distinct keys in the first block, the line-by-line reader: every
    key is a column of the output, every row is there."""
    _no_arrow(monkeypatch)
    path = tmp_path / "c.ndjson"
    _unique_keys(path, 30, 10)
    out = tmp_path / "out.csv"
    result = run_cli(["check", str(path), "-q", "--threshold", "1", "-o", str(out)])
    assert result.exit_code in (0, 3), result.stderr
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 30
    assert {f"k{i}_{j}" for i in range(30) for j in range(10)} <= set(rows[0])
    assert rows[29]["k29_9"] == "x" and rows[0]["k29_9"] == ""
