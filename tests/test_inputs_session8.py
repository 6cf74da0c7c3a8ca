"""Input-reading rough edges left by earlier hostile reviews, reproduced with real CSV,
XLSX and XLS files written by the test and run through ``check`` as a user runs it:
contact ids that mean "none", numeric and text ids in a sheet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest

from tests.helpers import check_json, run_cli

PHONES = [f"06071234{i:02d}" for i in range(60)]


def _workbook(path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def _annotated(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")),
                               delimiter=";"))


# -- contact ids that mean "none" ------------------------------------------------------
NONE_IDS = ["NULL", "N/A", "#N/A", "n/a", "-", "None", "nan", " null ", "NaN", "", "NULL",
            "NULL", "N/A"]


def test_contact_ids_that_mean_none_are_blank_each_row_its_own_contact(
        tmp_path: Path) -> None:
    """``NULL``, ``N/A``, ``#N/A``, ``-``, ``None``, ``nan`` (any case, spaces around)
    in the --contact-id column merged every such row into one contact (cut at the cap,
    the other numbers never chosen): each is now a contact of its own, counted as a
    blank id in the read line; real ids still group."""
    f = tmp_path / "ids.csv"
    ids = [*NONE_IDS, "A", "A", "x-y"]
    f.write_text("id;tel\n" + "".join(f"{v};{PHONES[i]}\n" for i, v in enumerate(ids)),
                 encoding="utf-8")
    out = tmp_path / "out.csv"
    args = [str(f), "--contact-id", "id", "--threshold", "1",
            "--max-numbers-per-contact", "2", "-o", str(out)]
    result, report = check_json(args)
    assert result.exit_code == 0, result.stderr
    contacts = report["input"]["contacts"]
    assert contacts["blank_ids"] == len(NONE_IDS)
    assert contacts["contacts"] == len(NONE_IDS) + 2  # A (two rows) and x-y
    assert contacts["numbers_dropped"] == 0 and contacts["contacts_capped"] == 0
    rows = _annotated(out)
    assert len(rows) == len(ids)
    chosen = [r["chosen_number"] for r in rows]
    assert len(set(chosen[:len(NONE_IDS)])) == len(NONE_IDS)  # each its own number
    assert chosen[len(NONE_IDS)] == chosen[len(NONE_IDS) + 1]  # A's two rows: one contact
    said = run_cli(["check", *args[:-2]]).stderr
    assert f"{len(NONE_IDS)} rows without a contact id (each its own contact)" in said


def test_contact_codes_none_values_unit() -> None:
    from rcsqualify.contacts.grouping import contact_codes

    codes = contact_codes(["NULL", "#n/a", " - ", "NONE", "A", "a", "--", "null1", None])
    assert list(codes[:4]) == [-1] * 4 and codes[-1] == -1
    assert len({*codes[4:8]}) == 4  # "A", "a", "--", "null1" are ids, all distinct


# -- numeric and text ids in a sheet ---------------------------------------------------
def test_a_number_id_and_the_same_text_id_are_one_contact_leading_zeros_are_not(
        tmp_path: Path) -> None:
    """A sheet's number cell 7 (or 7.0) and a text cell "7" are one contact (a number is
    read as Excel shows it, without ``.0``); a text "007" is another, even beside a
    number cell Excel shows as 009 by a number format (leading zeros are the id's)."""
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["id", "Portable"])
    for i, cid in enumerate([7, "7", 7.0, "007", "009"]):
        ws.append([cid, PHONES[i]])
    ws.cell(row=7, column=1, value=9).number_format = "000"
    ws.cell(row=7, column=2, value=PHONES[5])
    f = tmp_path / "ids.xlsx"
    book.save(f)
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--contact-id", "id", "--threshold", "1",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["contacts"]["contacts"] == 4  # 7, 007, 009, 9
    rows = _annotated(out)
    assert [r["id"] for r in rows] == ["7", "7", "7", "007", "009", "9"]
    chosen = [r["chosen_number"] for r in rows]
    assert chosen[0] == chosen[1] == chosen[2] and len(set(chosen[2:])) == 4


@pytest.mark.parametrize("cid", [7, 7.0])
def test_an_xls_number_id_is_the_text_id(tmp_path: Path, cid: float) -> None:
    from tests.test_xls import _xls

    f = _xls(tmp_path / "ids.xls", {"S": [["id", "Portable"], [cid, PHONES[0]],
                                          ["7", PHONES[1]], ["07", PHONES[2]]]})
    _result, report = check_json([str(f), "--contact-id", "id", "--threshold", "1"])
    assert report["input"]["contacts"]["contacts"] == 2
