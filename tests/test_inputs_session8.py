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
from tests.test_excel_attacks import _workbook

PHONES = [f"06071234{i:02d}" for i in range(60)]


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


# -- --header-row / --skip-rows count rows as Excel numbers them -----------------------
def _data(count: int = 3) -> list[list[object]]:
    return [[f"N{i}", PHONES[i], "Paris"] for i in range(count)]


def _csv_text(rows: list[list[object]]) -> str:
    return "".join(";".join("" if c is None else str(c) for c in r) + "\n" for r in rows)


@pytest.mark.parametrize("kind", ["csv", "xlsx", "xls"])
def test_header_row_is_the_row_number_in_excels_margin_blank_rows_count(
        tmp_path: Path, kind: str) -> None:
    """An export with a blank row between its title and its header (row 3 in Excel's
    margin): ``--header-row 3`` pointed one row past the header (the first contact read
    as a header-less row, the header taken for data); now it is row 3, as Excel shows,
    for CSV, XLSX and XLS alike; ``--skip-rows 2`` is the same; the read line and
    ``input.header_row`` say which row was taken."""
    rows: list[list[object]] = [["Extraction CRM", None, None], [None, None, None],
                                ["Nom", "Portable", "Ville"], *_data()]
    if kind == "csv":
        f = tmp_path / "crm.csv"
        f.write_text(_csv_text(rows), encoding="utf-8")
    elif kind == "xlsx":
        f = tmp_path / "crm.xlsx"
        book = openpyxl.Workbook()
        ws = book.active
        assert ws is not None
        for r, row in enumerate(rows, 1):  # row 2 holds no cell at all
            for c, value in enumerate(row, 1):
                if value is not None:
                    ws.cell(row=r, column=c, value=value)
        book.save(f)
    else:
        from tests.test_xls import _xls

        f = _xls(tmp_path / "crm.xls", {"S": rows})
    for args in (["--header-row", "3"], ["--skip-rows", "2"]):
        out = tmp_path / "out.csv"
        result, report = check_json([str(f), "--threshold", "1", "-o", str(out), *args])
        assert result.exit_code == 0, result.stderr
        assert report["input"]["header"] is True and report["input"]["column"] == "Portable"
        assert report["input"]["header_row"] == 3 and report["input"]["skipped_rows"] == 2
        assert report["counts"]["rows"] == 3 and report["counts"]["invalid"] == 0
        assert [r["Nom"] for r in _annotated(out)] == ["N0", "N1", "N2"]
        said = run_cli(["check", str(f), "--threshold", "1", *args]).stderr
        assert "header on row 3 (2 rows above it skipped)" in said
    # row 2 is blank: the header is the next non-blank row, and the read line says so
    result, report = check_json([str(f), "--threshold", "1", "--header-row", "2"])
    assert report["input"]["header_row"] == 3 and report["counts"]["rows"] == 3
    # --header-row 4 names a contact's row: it is taken as the header, as asked
    result, report = check_json([str(f), "--threshold", "1", "--header-row", "4"])
    assert report["input"]["header"] is True and report["input"]["header_row"] == 4
    assert report["counts"]["rows"] == 2


def test_a_header_row_in_a_profile_counts_rows_the_same(tmp_path: Path) -> None:
    f = tmp_path / "crm.csv"
    f.write_text("Extraction CRM\n\nNom;Portable;Ville\n" + _csv_text(_data()),
                 encoding="utf-8")
    cfg = tmp_path / "rcsqualify.toml"
    cfg.write_text("[profiles.crm]\nheader-row = 3\n", encoding="utf-8")
    _result, report = check_json([str(f), "--config", str(cfg), "--profile", "crm",
                                  "--threshold", "1"])
    assert report["input"]["header_row"] == 3 and report["input"]["column"] == "Portable"
    assert report["counts"]["rows"] == 3


@pytest.mark.parametrize("above", ["\n", ";;\n", "\r\n\r\n", " ; ;\n\n"])
def test_blank_rows_above_a_csv_header_are_skipped(tmp_path: Path, above: str) -> None:
    """A CSV starting with an empty line was 'no columns' (exit 2); one starting with
    ``;;`` (Excel's export of an empty row) read the header as a contact (no header,
    an invalid row): the header is the first non-blank row."""
    f = tmp_path / "blank.csv"
    f.write_bytes((above + "Nom;Portable;Ville\n" + _csv_text(_data())).encode())
    result, report = check_json([str(f), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["header"] is True and report["input"]["column"] == "Portable"
    assert report["counts"]["rows"] == 3 and report["counts"]["invalid"] == 0
    assert report["input"]["header_row"] == above.count("\n") + 1


def test_a_quoted_cell_spanning_lines_is_one_row_as_in_excel(tmp_path: Path) -> None:
    """A title cell over two lines (one row in Excel), a blank row, then a header whose
    phone cell spans two lines (Excel's wrapped header): ``--header-row 3`` is Excel's
    row 3, and the rows below are read from the right line (Arrow skips physical
    lines: it was told records, so a multi-line header shifted the rows)."""
    f = tmp_path / "wrapped.csv"
    f.write_text('"Export\nCRM";;\n;;\nNom;"Portable\nmobile";Ville\n' + _csv_text(_data()),
                 encoding="utf-8")
    out = tmp_path / "out.csv"
    for args in ([], ["--header-row", "3"]):
        result, report = check_json([str(f), "--threshold", "1", "-o", str(out), *args])
        assert result.exit_code == 0, result.stderr
        assert report["input"]["header_row"] == 3
        assert report["input"]["column"] == "Portable\nmobile"
        assert report["counts"]["rows"] == 3 and report["counts"]["invalid"] == 0
        assert [r["Nom"] for r in _annotated(out)] == ["N0", "N1", "N2"]


def test_xlsx_rows_numbered_by_the_sheet_even_when_cells_are_empty_text(
        tmp_path: Path) -> None:
    """Sheet rows holding only empty or blank text are blank rows (skipped above the
    header) but keep their number: the header on sheet row 4 is ``--header-row 4``."""
    f = _workbook(tmp_path / "t.xlsx", [["Export"], ["", "  "], [None], ["Nom", "Portable"],
                                        *[[f"N{i}", PHONES[i]] for i in range(3)]])
    result, report = check_json([str(f), "--threshold", "1", "--header-row", "4"])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["header_row"] == 4 and report["counts"]["rows"] == 3
    result = run_cli(["check", str(f), "--threshold", "1", "--header-row", "9", "-q"])
    assert result.exit_code == 2 and "leaves no row to read" in result.stderr


def test_xlsx_row_numbers_follow_the_r_attribute(tmp_path: Path) -> None:
    from rcsqualify.contacts.xlsx import read_xlsx

    f = _workbook(tmp_path / "gap.xlsx", [["Export"]])
    book = openpyxl.load_workbook(f)
    ws = book.active
    assert ws is not None
    ws["A5"], ws["B5"], ws["A7"] = "Nom", "Portable", "N0"
    book.save(f)
    assert read_xlsx(f, None, "gap.xlsx").numbers == [1, 5, 7]


# -- cells right of a sheet's header: the extra column, as in a CSV --------------------
@pytest.mark.parametrize("kind", ["csv", "xlsx", "xls"])
def test_cells_right_of_the_header_go_to_extra_in_every_format(
        tmp_path: Path, kind: str) -> None:
    """A note typed right of the table was a ``column_4`` column of its own in a sheet,
    while a CSV kept it in ``extra`` and counted the row long: every format now does
    what CSV does (one cell as its text; several joined as a ';' line, positions kept)."""
    rows: list[list[object]] = [["Nom", "Portable", "Ville"], *_data(4)]
    rows[2] = [*rows[2], "à rappeler"]
    rows[3] = [*rows[3], None, "bis"]
    if kind == "csv":
        f = tmp_path / "in.csv"
        f.write_text(_csv_text(rows), encoding="utf-8")
    elif kind == "xlsx":
        f = _workbook(tmp_path / "in.xlsx", rows)
    else:
        from tests.test_xls import _xls

        f = _xls(tmp_path / "in.xls", {"S": rows})
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["long_rows"] == 2 and report["counts"]["rows"] == 4
    annotated = _annotated(out)
    assert [r["extra"] for r in annotated] == ["", "à rappeler", ";bis", ""]
    assert "column_4" not in annotated[0] and list(annotated[0])[:4] == [
        "Nom", "Portable", "Ville", "extra"]
    said = run_cli(["check", str(f), "--threshold", "1"]).stderr
    assert "2 long rows (cells past the header kept in column 'extra')" in said


def test_cells_past_the_header_are_text_in_an_xlsx_output(tmp_path: Path) -> None:
    """As a CSV's ``extra``: text (a number among them keeps its spelling)."""
    import datetime as dt

    f = _workbook(tmp_path / "in.xlsx", [["Nom", "Portable"], ["A", PHONES[0], 12.5],
                                         ["B", PHONES[1], "x", dt.date(2024, 1, 2)],
                                         ["C", PHONES[2]]])
    out = tmp_path / "out.xlsx"
    assert run_cli(["check", str(f), "--threshold", "1", "-q", "-o", str(out)]
                   ).exit_code == 0
    sheet = [[c.value for c in row] for row in openpyxl.load_workbook(out).worksheets[0]
             .iter_rows()]
    assert sheet[0][:3] == ["Nom", "Portable", "extra"]
    assert [r[2] for r in sheet[1:]] == ["12.5", "x;2024-01-02", None]


def test_empty_cells_past_the_header_make_no_extra_column(tmp_path: Path) -> None:
    """Empty text cells right of the header (a formatted sheet) hold nothing: no
    ``extra`` column, no long row."""
    f = _workbook(tmp_path / "in.xlsx", [["Nom", "Portable", "", ""],
                                         ["A", PHONES[0], "", ""], ["B", PHONES[1]]])
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["long_rows"] == 0
    assert list(_annotated(out)[0])[:3] == ["Nom", "Portable", "msisdn_e164"]


def test_a_phone_column_without_a_header_cell_keeps_the_sheet_a_grid(
        tmp_path: Path) -> None:
    """The phones right of a two-name header (no label above them) are never folded
    into ``extra``: the column is found by its content, as before (``column_3``);
    a --contact-id naming such a column keeps it too."""
    f = _workbook(tmp_path / "in.xlsx", [["Nom", "Ville"], ["A", "Paris", PHONES[0]],
                                         ["B", "Lyon", PHONES[1]]])
    result, report = check_json([str(f), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["column"] == "column_3" and report["input"]["long_rows"] == 0
    g = _workbook(tmp_path / "ids.xlsx", [["Nom", "Portable"], ["A", PHONES[0], "c1"],
                                          ["B", PHONES[1], "c1"]])
    result, report = check_json([str(g), "--threshold", "1", "--contact-id", "column_3"])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["contacts"]["contacts"] == 1


# -- a phone cell Excel turned into a date ---------------------------------------------
@pytest.mark.parametrize("kind", ["xlsx", "xls"])
@pytest.mark.parametrize("per_contact", [False, True])
def test_a_date_cell_in_the_phone_column_is_not_a_number(
        tmp_path: Path, kind: str, per_contact: bool) -> None:
    """``06/12/34`` typed into a General cell becomes a date: its digits are gone. Read
    as its ISO text it was ``too_short`` (the date's 8 digits), which sends the user
    looking for a short number; a date, time or date-time cell is ``not_a_number``
    (CONTRACT §2: the cell does not hold a number). The output keeps the cell as the
    sheet held it; a *text* cell ``2024-01-02`` is read as text, as in a CSV."""
    import datetime as dt

    rows: list[list[object]] = [["Nom", "Portable"], ["A", PHONES[0]],
                                ["B", dt.date(2034, 12, 6)],
                                ["C", dt.datetime(2024, 1, 2, 8, 30)],
                                ["D", "2024-01-02"]]
    if kind == "xlsx":
        f = _workbook(tmp_path / "in.xlsx", [*rows, ["E", dt.time(6, 12)]])
    else:
        from tests.test_xls import _xls

        f = _xls(tmp_path / "in.xls", {"S": rows})
    out = tmp_path / "out.csv"
    args = [str(f), "--threshold", "1", "-o", str(out)]
    result, report = check_json([*args, *(["--contact-id", "Nom"] if per_contact else [])])
    assert result.exit_code == 0, result.stderr
    dated = 3 if kind == "xlsx" else 2
    assert report["reasons"]["not_a_number"] == dated
    assert report["reasons"]["too_short"] == 1  # the text cell
    # the report's example says what the check read, not a masked "(a d••• c•••)": the
    # words are the tool's own, no personal data
    assert report["examples"]["not_a_number"][0] == "(a date cell)"
    annotated = _annotated(out)
    assert [r["reason"] for r in annotated][1:] == ["not_a_number"] * 2 + ["too_short"] + (
        ["not_a_number"] if kind == "xlsx" else [])
    assert annotated[1]["Portable"] == "2034-12-06"
    assert annotated[2]["Portable"] == "2024-01-02 08:30:00"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_ragged_csv_below_blank_and_multi_line_rows_reads_every_row_in_place(
        tmp_path: Path, encoding: str) -> None:
    """A short and a long row send the CSV to the csv module (which counts records)
    after Arrow (which counts lines): both start at the header's row, below a blank
    line, a two-line title cell and another blank line; every row is in the output."""
    f = tmp_path / "ragged.csv"
    f.write_bytes(('\n"Export\nCRM";;\n\nNom;Portable;Ville\n'
                   f"Nöé;{PHONES[0]};Paris\nN1;{PHONES[1]};Paris;note\nN2;{PHONES[2]}\n"
                   ).encode(encoding))
    out = tmp_path / "out.csv"
    for args in ([], ["--header-row", "4"]):
        result, report = check_json([str(f), "--threshold", "1", "-o", str(out), *args])
        assert result.exit_code == 0, result.stderr
        assert report["input"]["header_row"] == 4 and report["input"]["column"] == "Portable"
        assert report["input"]["long_rows"] == 1 and report["input"]["short_rows"] == 1
        rows = _annotated(out)
        assert [r["Nom"] for r in rows] == ["Nöé", "N1", "N2"]
        assert [r["extra"] for r in rows] == ["", "note", ""]
        assert report["counts"]["invalid"] == 0
