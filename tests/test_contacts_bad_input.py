"""Issue #25 item 8 on the command line, over real files: bad input to the contacts
options is one line and exit 2, or a counted note; never a traceback, never a row lost.
Each case is what a user (or a hostile one) types: a column named twice, a column that
does not exist among several, a contact id that is a phone column, blank contact ids,
a contact with 500 numbers, ranks that are not numbers, mixed number formats across
columns, an XLSX with three phone columns, a file without rows with ``--columns auto``."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.helpers import check_json, run_cli, write_csv

FIXED = "01 45 67 89 10"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def one_line_error(args: list[str]) -> str:
    """Run ``check``; assert exit 2 and a single ``rcsqualify: error:`` line."""
    result = run_cli(["check", *args])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("rcsqualify: error:"), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture()
def wide(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "wide.csv", [
        ["id", "nom", "tel1", "tel2", "tel3", "rang"],
        ["1", "A", "06 07 00 00 01", "+33 6 12 34 56 78", "0033145678910", "10"],
        ["2", "B", "612345679", "0607-00-00-02", "", "2"],
        ["", "C", "06.07.00.00.03", "(+33)607000004", "33607000005", ""],
        ["", "D", "", "", "", ""],
        ["1", "E", "06 07 00 00 06", "", "", "9"]])


@pytest.mark.parametrize(("args", "says"), [
    (["-c", "tel1", "-c", "tel1"], "the column tel1 is given twice"),
    (["-c", "tel1", "-c", "TEL1"], "the column tel1 is given twice"),  # one column, two cases
    (["-c", "tel1", "-c", "tel2", "-c", "3"], "the column tel1 is given twice"),  # by position
    (["-c", "tel1", "-c", "nope", "-c", "tel2"], "no column nope; columns are: id, nom, tel1"),
    (["-c", "tel1", "-c", "tel2", "--contact-id", "tel2"], "--contact-id tel2 is a phone column"),
    (["-c", "tel1", "--contact-id", "TEL1"], "--contact-id tel1 is a phone column"),
    (["-c", "tel1", "--contact-id", "id", "--number-rank", "id"], "name the same column"),
    (["-c", "tel1", "--number-rank", "rang"], "give --contact-id too"),
    (["-c", "tel1", "--columns", "auto"], "not both"),
])
def test_bad_contact_options_are_one_line_errors(wide: Path, args: list[str], says: str
                                                 ) -> None:
    assert says in one_line_error([str(wide), *args])


def test_blank_contact_ids_are_contacts_of_their_own_counted_in_the_read_line(
        wide: Path, tmp_path: Path) -> None:
    result = run_cli(["check", str(wide), "-c", "tel1", "--contact-id", "id"])
    assert result.exit_code in (0, 1, 3) and "Traceback" not in result.output
    read = next(ln for ln in result.output.splitlines() if ln.startswith("read "))
    assert "5 rows, 4 contacts" in read
    assert "2 rows without a contact id (each its own contact)" in read
    out = tmp_path / "out.csv"
    _, report = check_json([str(wide), "-c", "tel1", "--contact-id", "id", "-o", str(out)])
    assert report["input"]["contacts"]["blank_ids"] == 2
    assert report["counts"]["contacts"] == 4 == report["counts"]["messages"] + report[
        "counts"]["duplicates"]
    rows = read_rows(out)
    assert [r["nom"] for r in rows] == list("ABCDE")  # every row, in order
    assert rows[2]["chosen_number"] == "+33607000003" and rows[3]["status"] == "invalid"


def test_a_contact_with_500_numbers_is_capped_at_10_by_default_and_said(
        tmp_path: Path) -> None:
    rows = [["id", "tel"], *[["X", f"06 07 00 {i // 100:02d} {i % 100:02d}"]
                             for i in range(500)], ["Y", "06 12 34 56 78"]]
    f = write_csv(tmp_path / "many.csv", rows)
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--contact-id", "id", "-o", str(out)])
    assert result.exit_code in (0, 1, 3)
    block = report["input"]["contacts"]
    assert (block["numbers_dropped"], block["contacts_capped"]) == (490, 1)
    assert (report["counts"]["rows"], report["counts"]["contacts"]) == (501, 2)
    assert any("neither chosen nor looked up: 490" in n and "--max-numbers-per-contact" in n
               for n in report["notes"])
    assert len(read_rows(out)) == 501  # no row lost: the capped ones keep their rows
    terminal = run_cli(["check", str(f), "--contact-id", "id"]).output
    assert ("contacts past the cap of --max-numbers-per-contact 10: 1; numbers past it, "
            "neither chosen nor looked up: 490") in " ".join(terminal.split())


def test_ranks_that_are_not_numbers_rank_last_and_are_counted(tmp_path: Path) -> None:
    """A typo in a rank column of numbers does not turn it into text order (where
    ``10`` would come before ``9``): numbers stay numbers, the others go after them."""
    f = write_csv(tmp_path / "long.csv", [
        ["id", "tel", "rang"],
        ["1", "06 07 00 00 10", "10"],
        ["1", "06 12 34 56 78", "x"],     # not a number: after 9 and 10
        ["1", "06 07 00 00 09", "9"],     # 9 before 10 (as text, 10 before 9): chosen
        ["2", "06 07 00 00 02", "premier"],
        ["2", "06 07 00 00 03", "1"]])
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--contact-id", "id", "--number-rank", "rang",
                                 "-o", str(out)])
    assert result.exit_code in (0, 1, 3)
    rows = read_rows(out)
    assert [r["chosen_number"] for r in rows] == ["+33607000009"] * 3 + ["+33607000003"] * 2
    assert any(n.startswith("values of the --number-rank column rang that are not numbers: 2;")
               for n in report["notes"])
    assert len(rows) == 5


def test_mixed_formats_across_columns_each_normalized(wide: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result, report = check_json([str(wide), "-c", "tel1", "-c", "tel2", "-c", "tel3",
                                 "-o", str(out)])
    assert result.exit_code in (0, 1, 3)
    rows = read_rows(out)
    assert [r["tel1_e164"] for r in rows] == [
        "+33607000001", "+33612345679", "+33607000003", "", "+33607000006"]
    assert [r["tel2_e164"] for r in rows] == [
        "+33612345678", "+33607000002", "+33607000004", "", ""]
    assert [r["tel3_e164"] for r in rows] == ["+33145678910", "", "+33607000005", "", ""]
    # B's first number is an SFR-range mobile, its second an Orange one: rescued
    assert rows[1]["chosen_column"] == "tel2" and rows[1]["status"] == "unverified"
    assert report["input"]["contacts"]["numbers"] == 9  # the non-blank cells
    assert report["counts"]["contacts"] == 5


def test_an_xlsx_with_three_phone_columns_on_the_command_line(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Nom", "Tel 1", "Tel 2", "Tel 3"])
    ws.append(["A", FIXED, "06 12 34 56 78", 607000001])  # a number cell, as Excel keeps it
    ws.append(["B", None, None, "+33607000002"])
    ws.append(["C", "pas de numéro", None, None])
    path = tmp_path / "three.xlsx"
    wb.save(path)
    out = tmp_path / "out.csv"
    for args in (["-c", "Tel 1", "-c", "Tel 2", "-c", "Tel 3"], ["--columns", "auto"]):
        result, report = check_json([str(path), *args, "-o", str(out)])
        assert result.exit_code in (0, 1, 3), result.stderr
        assert report["counts"]["contacts"] == 3
        rows = read_rows(out)
        assert [r["Nom"] for r in rows] == ["A", "B", "C"]
        assert [r["chosen_number"] for r in rows] == ["+33607000001", "+33607000002", ""]
        assert rows[2]["status"] == "invalid" and rows[2]["Tel 1_status"] == "invalid"


def test_columns_auto_takes_equally_named_phone_columns(tmp_path: Path) -> None:
    """``Tel 1``/``Tel 2``/``Tel 3``: detection alone cannot pick one of them (exit 2,
    "choose one with --column"), but ``--columns auto`` asked for all of them."""
    f = write_csv(tmp_path / "tels.csv", [
        ["nom", "Tel 1", "Tel 2", "Tel 3"],
        *[[f"n{i}", f"06 07 00 01 {i:02d}", FIXED if i % 2 else "", f"06 12 00 01 {i:02d}"]
          for i in range(10)]])
    assert "choose one with --column" in one_line_error([str(f)])
    _, report = check_json([str(f), "--columns", "auto"])
    assert report["input"]["phone_columns"] == ["Tel 1", "Tel 3", "Tel 2"]  # mobile share
    assert report["input"]["column"] == "Tel 1"
    assert report["counts"]["contacts"] == 10


@pytest.mark.parametrize("header", [["nom", "tel1", "tel2"], ["nom", "Tel 1", "Tel 2"],
                                    ["nom", "portable", "fixe"]])
def test_a_file_without_rows_with_columns_auto_says_so(tmp_path: Path,
                                                       header: list[str]) -> None:
    f = write_csv(tmp_path / "empty.csv", [header])
    said = one_line_error([str(f), "--columns", "auto"])
    assert "has a header but no contact rows" in said


def test_a_sheet_without_rows_with_columns_auto_says_so(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Nom", "Tel 1", "Tel 2", "Tel 3"])
    path = tmp_path / "empty.xlsx"
    wb.save(path)
    said = one_line_error([str(path), "--columns", "auto"])
    assert "no contact rows" in said or "nothing to check" in said


def test_columns_auto_leaves_a_contact_id_of_phone_numbers_out(tmp_path: Path) -> None:
    """A base keyed by a phone number: ``--columns auto --contact-id id`` must not take
    the id column as a phone column (it said "--contact-id id is a phone column", an
    error about a column the user never gave with -c)."""
    f = write_csv(tmp_path / "keyed.csv", [
        ["id", "tel", "autre"],
        ["0607000009", "0607000001", "0612345678"],
        ["0607000009", "0607000003", ""],
        ["0612000000", "", "0607000004"]])
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--columns", "auto", "--contact-id", "id",
                                 "-o", str(out)])
    assert result.exit_code in (0, 1, 3), result.stderr
    assert report["input"]["phone_columns"] == ["tel", "autre"]
    assert report["input"]["contact_id"] == "id"
    assert report["counts"]["contacts"] == 2 and len(read_rows(out)) == 3
    only = write_csv(tmp_path / "only.csv", [["id", "nom"], ["0607000009", "a"]])
    said = one_line_error([str(only), "--columns", "auto", "--contact-id", "id"])
    assert "found no phone column besides --contact-id" in said
