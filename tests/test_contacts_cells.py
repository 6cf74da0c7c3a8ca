"""Issue #25 item 7 (performance) without a clock: the cells of several phone columns are
normalized one column piece at a time, their blank cells left out, and written back
into per-cell arrays once; the per-number counts are made where the verdicts are. These
tests hold the results of that bookkeeping equal to the plain computation."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from rcsqualify.contact_check import run_contact_check
from rcsqualify.contacts import ContactSource, delimited
from rcsqualify.numbering.normalize import normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan, load_plan
from rcsqualify.report.summary import summarize
from rcsqualify.verdict import REASON_TO_STATUS, REASONS, STATUSES
from tests.helpers import write_csv

CELLS = ["06 07 00 00 01", "06 12 34 56 78", "01 45 67 89 10", "abc", "", "  ",
         "+33 6 07 00 00 02", "0607000003", "07 00 00", "06.07.00.00.04"]


@pytest.fixture(scope="module")
def plan() -> NumberingPlan:
    return load_plan()


def three_columns(path: Path, rows: int, seed: int) -> tuple[Path, list[list[str]]]:
    rng = random.Random(seed)
    table = [[rng.choice(CELLS) if c == 0 or rng.random() < 0.5 else "" for c in range(3)]
             for _ in range(rows)]
    table[-1] = ["", "", ""]  # a last row without any number (and no total: no footer)
    write_csv(path, [["t1", "t2", "t3"], *table])
    return path, table


def test_cells_over_many_batches_are_each_cells_own_normalization(
        tmp_path: Path, plan: NumberingPlan, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small batches (many pieces, some wholly filled, some half blank, some blank):
    each cell's E.164 key and reason equal the column's own normalization, in place."""
    monkeypatch.setattr(delimited, "BATCH_BYTES", 1 << 10)
    path, table = three_columns(tmp_path / "three.csv", 3000, seed=5)
    src = ContactSource(str(path), column="t1", more_columns=["t2", "t3"])
    result = run_contact_check(src, plan)
    assert result.contacts is not None
    assert src.info.rows == len(table)
    expected_key = np.concatenate([
        normalize_numbers(pa.array([r[c] for r in table]), plan).key for c in range(3)])
    np.testing.assert_array_equal(result.contacts.cell_key, expected_key)
    blank = np.array([r[c].strip() == "" for c in range(3) for r in table])
    reason = result.contacts.cell_reason
    assert (reason[blank] == REASONS.index("empty")).all()
    assert not (reason[~blank] == REASONS.index("empty")).any()


def test_numbers_by_status_counts_each_number_once(tmp_path: Path,
                                                  plan: NumberingPlan) -> None:
    """``input.contacts.numbers_by_status``: each distinct valid number once (shared by
    contacts or columns), each non-blank invalid cell once, blank cells never; the same
    as counting the per-cell verdicts by hand."""
    path, _ = three_columns(tmp_path / "three.csv", 400, seed=9)
    src = ContactSource(str(path), column="t1", more_columns=["t2", "t3"])
    result = run_contact_check(src, plan)
    c = result.contacts
    assert c is not None
    block = summarize(result, plan, input_info=src.info.as_dict(),
                      threshold=0.15).input["contacts"]
    by_hand = {str(s): 0 for s in STATUSES}
    seen: set[int] = set()
    for key, code in zip(c.cell_key.tolist(), c.cell_reason.tolist(), strict=True):
        if code == REASONS.index("empty") or (key and key in seen):
            continue
        seen.add(key)
        by_hand[str(STATUSES[REASON_TO_STATUS[code]])] += 1
    assert block["numbers_by_status"] == by_hand
    assert sum(by_hand.values()) == block["distinct_numbers"] + sum(
        1 for k, r in zip(c.cell_key.tolist(), c.cell_reason.tolist(), strict=True)
        if not k and r != REASONS.index("empty"))
    assert by_hand["invalid"] and by_hand["not_mobile"] and by_hand["unverified"]
