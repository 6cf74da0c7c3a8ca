"""Issue #26 item 5 audited as a hostile Excel user would: real CSV, XLSX and XLS files
written by the test (openpyxl, xlwt), run through ``check`` as a user runs it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import openpyxl
import pytest

from tests.helpers import check_json, run_cli
from tests.test_xls import _xls

PHONES = [f"06071234{i:02d}" for i in range(60)]


def _sheet_rows(path: Path) -> list[list[object]]:
    sheet = openpyxl.load_workbook(path).worksheets[0]
    return [[c.value for c in row] for row in sheet.iter_rows()]


def _workbook(path: Path, rows: list[list[object]], merge: str | None = None) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    workbook.save(path)
    return path


# -- the Excel dialect, title rows, footers and long rows of an .xls -----------------
def test_an_xls_export_gets_excels_dialect_its_title_and_footer_understood(
        tmp_path: Path) -> None:
    """An Excel 97-2003 export (title row, a long row, a Somme footer): the annotated
    CSV is ';' with a BOM, the title skipped and said, the footer kept with reason
    footer, the cell past the header kept in the ``extra`` column and the row counted
    long, as in a CSV; ``-o .xlsx`` keeps its numbers and dates."""
    f = _xls(tmp_path / "export.xls", {"Clients": [
        ["Clients au 7 décembre 2026", None, None],
        ["Nom", "Portable", "Inscrit le"],
        ["Hélène", PHONES[0], dt.date(2024, 5, 2)],
        ["Noël", PHONES[1], dt.date(2024, 5, 3), "à rappeler"],
        ["Somme", None, 2.0],
    ]})
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["title_row"] is True and report["input"]["footer_rows"] == 1
    assert report["counts"]["rows"] == 2 and report["counts"]["invalid"] == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert [r["Nom"] for r in rows] == ["Hélène", "Noël", "Somme"]
    assert [r["extra"] for r in rows] == ["", "à rappeler", ""]
    assert report["input"]["long_rows"] == 1
    assert [r["reason"] for r in rows][2] == "footer" and rows[2]["status"] == ""
    said = run_cli(["check", str(f), "--threshold", "1"]).stderr
    assert "title row above the header skipped" in said and "1 footer row " in said
    book = tmp_path / "out.xlsx"
    assert run_cli(["check", str(f), "--threshold", "1", "-q", "-o", str(book)]
                   ).exit_code == 0
    sheet = _sheet_rows(book)
    assert sheet[0][:4] == ["Nom", "Portable", "Inscrit le", "extra"]
    assert sheet[1][1] == PHONES[0] and sheet[1][2] == dt.datetime(2024, 5, 2)
    assert sheet[3][0] == "Somme" and sheet[3][2] == 2 and "footer" in sheet[3]


def test_csv_skip_rows_and_header_row_read_the_header_below(tmp_path: Path) -> None:
    """Two lines above the header (no title detection: it is one line only):
    ``--skip-rows 2`` and ``--header-row 3`` find the header, said in the read line."""
    f = tmp_path / "crm.csv"
    f.write_text("Extraction CRM;;\nle 07/12/2026 à 08:00;;\nNom;Portable;Ville\n"
                 + "".join(f"N{i};{PHONES[i]};Paris\n" for i in range(3)), encoding="utf-8")
    for args in (["--skip-rows", "2"], ["--header-row", "3"]):
        result, report = check_json([str(f), "--threshold", "1", *args])
        assert result.exit_code == 0, result.stderr
        assert report["input"]["skipped_rows"] == 2 and report["input"]["column"] == "Portable"
        assert report["counts"]["rows"] == 3 and report["counts"]["invalid"] == 0
        said = run_cli(["check", str(f), "--threshold", "1", *args]).stderr
        assert "header on row 3 (2 rows above it skipped)" in said


def test_an_xlsx_footer_and_long_row_in_the_annotated_workbook(tmp_path: Path) -> None:
    """The footer stays in ``-o .xlsx`` (reason footer, its sum still a number) and a
    cell past the header is kept in the ``extra`` column (as in a CSV; one cell keeps
    the type the sheet gave it); neither is a contact nor an invalid."""
    f = _workbook(tmp_path / "in.xlsx", [
        ["Nom", "Portable", "Montant"],
        ["A", PHONES[0], 10],
        ["B", PHONES[1], 20, "note hors tableau"],
        ["TOTAL", None, 30],
    ])
    out = tmp_path / "out.xlsx"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["footer_rows"] == 1
    assert report["counts"]["rows"] == 2 and report["counts"]["invalid"] == 0
    rows = _sheet_rows(out)
    head = rows[0]
    assert head[:4] == ["Nom", "Portable", "Montant", "extra"]
    assert report["input"]["long_rows"] == 1
    assert rows[2][3] == "note hors tableau"
    assert rows[3][:3] == ["TOTAL", None, 30] and rows[3][head.index("reason")] == "footer"
    assert len(rows) == 4


def test_a_total_of_amounts_with_cents_is_a_footer(tmp_path: Path) -> None:
    """A 6,000-row export's ``TOTAL`` row sums its amounts to 1476426.84: nine digits
    with the cents, so the footer rule took it for a phone-like value and the row
    became an ``empty`` invalid message. Cents do not make a number phone-like."""
    f = _workbook(tmp_path / "in.xlsx", [
        ["Nom", "Tél. portable", "Fixe", "Montant (€)"],
        ["A", PHONES[0], 145678901, 1476000.5],
        ["B", PHONES[1], None, 426.34],
        ["TOTAL", None, None, 1476426.84],
    ])
    result, report = check_json([str(f), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["footer_rows"] == 1
    assert report["counts"]["rows"] == 2 and report["counts"]["invalid"] == 0


@pytest.mark.parametrize("total", ["1 476 426,84 €", "1476426,84"])
def test_a_csv_total_of_amounts_is_a_footer_but_a_phone_with_dots_is_not(
        tmp_path: Path, total: str) -> None:
    f = tmp_path / "c.csv"
    f.write_text(f"nom;tel;montant\nA;{PHONES[0]};1\nTOTAL;;{total}\n", encoding="utf-8")
    assert check_json([str(f), "--threshold", "1"])[1]["input"]["footer_rows"] == 1
    f.write_text(f"nom;tel;fixe\nA;{PHONES[0]};1\nTotal;;01.45.67.89.01\n", encoding="utf-8")
    assert check_json([str(f), "--threshold", "1"])[1]["input"]["footer_rows"] == 0


def _read_back(f: Path, out: Path) -> str:
    assert run_cli(["check", str(f), "--threshold", "1", "-o", str(out), "-q"]
                   ).exit_code == 0
    return out.read_text(encoding="utf-8-sig")


def test_the_excel_fr_csv_of_a_workbook_writes_its_numbers_with_a_decimal_comma(
        tmp_path: Path) -> None:
    """French Excel reads ``107.35`` as text: an amount column of the annotated CSV (the
    excel-fr dialect, the default for a workbook) no longer summed. The sheet's number
    cells get a decimal comma there; text cells and the standard dialect keep the dot."""
    f = _workbook(tmp_path / "in.xlsx", [
        ["Nom", "Tél. portable", "Montant (€)", "Code"],
        ["A", PHONES[0], 107.35, "1.5"],
        ["B", "06.07.12.34.01", 12, "x"],
    ])
    out = tmp_path / "out.csv"
    assert run_cli(["check", str(f), "--threshold", "1", "-o", str(out), "-q",
                    "--split-dir", str(tmp_path / "lists")]).exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert [r[:4] for r in rows[1:]] == [["A", PHONES[0], "107,35", "1.5"],
                                         ["B", "06.07.12.34.01", "12", "x"]]
    listed = [r for p in (tmp_path / "lists").glob("*.csv")
              for r in csv.reader(io.StringIO(p.read_text(encoding="utf-8-sig")),
                                  delimiter=";") if r[0] == "A"]
    assert listed and listed[0][2] == "107,35"
    assert "107.35" in _read_back(f, tmp_path / "out.ndjson")  # a program reads it
    std = tmp_path / "std.csv"
    run_cli(["check", str(f), "--threshold", "1", "-o", str(std), "-q",
             "--csv-dialect", "standard"])
    assert list(csv.reader(io.StringIO(std.read_text(encoding="utf-8"))))[1][2] == "107.35"


# -- every output folder ----------------------------------------------------------------
def test_every_output_creates_its_missing_folder_and_says_so(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text(f"tel\n{PHONES[0]}\n", encoding="utf-8")
    new = tmp_path / "new"
    outputs = {"-o": "a/out.xlsx", "--json-report": "b/r.json", "--html-report": "c/r.html",
               "--markdown-report": "d/r.md", "--junit-xml": "e/j.xml",
               "--metrics-file": "f/m.prom", "--split-dir": "g/lists"}
    args = [a for option, rel in outputs.items() for a in (option, str(new / rel))]
    result = run_cli(["check", str(f), "--threshold", "1", "-q", "--split-xlsx", *args])
    assert result.exit_code == 0, result.stderr
    for rel in outputs.values():
        assert (new / rel).exists(), rel
        assert f"created folder {(new / rel).parent if '.' in rel else new / rel}" \
            in result.stderr, result.stderr
    assert list((new / "g" / "lists").glob("*.xlsx"))


# -- -o - ----------------------------------------------------------------------------------
def test_stdout_output_of_a_hostile_workbook_is_the_csv_alone(tmp_path: Path) -> None:
    """A workbook with a merged title, a formula without its result, a footer: every
    read-line remark, note and the summary go to stderr; stdout is the CSV, every line
    of it, one row per input row (the footer too), no BOM on a pipe."""
    f = _workbook(tmp_path / "in.xlsx", [
        ["Export clients", None, None],
        ["Nom", "Portable", "Montant"],
        ["A", PHONES[0], 1],
        ["B", '="06"&"07123401"', 2],
        ["Somme", None, 3],
    ], merge="A1:C1")
    result = run_cli(["check", str(f), "--threshold", "1", "-o", "-"])
    assert result.exit_code == 0, result.stderr
    assert not result.stdout.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(result.stdout), delimiter=";"))
    assert [r[0] for r in rows] == ["Nom", "A", "B", "Somme"]
    assert all(len(r) == len(rows[0]) for r in rows)
    for said in ("title row above the header skipped", "1 formula cell without a saved",
                 "1 footer row ", "PASS"):
        assert said in result.stderr and said not in result.stdout, said


@pytest.mark.parametrize("option", ["--json-report", "--html-report", "--markdown-report",
                                    "--junit-xml", "--metrics-file"])
def test_a_second_output_on_stdout_is_refused(tmp_path: Path, option: str) -> None:
    f = tmp_path / "c.csv"
    f.write_text(f"tel\n{PHONES[0]}\n", encoding="utf-8")
    result = run_cli(["check", str(f), "-o", "-", option, "-"])
    assert result.exit_code == 2, result.stderr
    assert "cannot both go to standard output" in result.stderr and result.stdout == ""
    assert "Traceback" not in result.stderr


# -- hostile workbooks ----------------------------------------------------------------
def test_merged_title_formula_and_date_phone_cells_are_rows_not_crashes(
        tmp_path: Path) -> None:
    """Merged title cells, a phone as a formula (result saved, and not: openpyxl saves
    an empty ``<v/>``), a phone the sheet made a date: every row checked and written,
    the formula without a result counted and said, the date an invalid number."""
    f = _workbook(tmp_path / "in.xlsx", [
        ["Export clients décembre 2026", None, None],
        ["Nom", "Portable", "Ville"],
        ["A", PHONES[0], "Paris"],
        ["B", '="06"&"07123401"', "Lyon"],
        ["C", dt.date(2024, 1, 2), "Nice"],
        ["D", 607123403, "Nice"],
    ], merge="A1:C1")
    out = tmp_path / "out.xlsx"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["title_row"] is True
    assert report["input"]["formulas_without_value"] == 1
    assert report["counts"]["rows"] == 4 and report["counts"]["invalid"] == 2
    rows = _sheet_rows(out)
    head = rows[0]
    at = {name: head.index(name) for name in ("Portable", "msisdn_e164", "status")}
    assert [r[0] for r in rows[1:]] == ["A", "B", "C", "D"]
    assert [r[at["status"]] for r in rows[1:]][1:3] == ["invalid", "invalid"]
    assert rows[3][at["Portable"]] == "2024-01-02"  # the date, as text in a phone column
    assert rows[4][at["msisdn_e164"]] == "+33607123403"  # a number cell keeps its 0


@pytest.mark.parametrize(("name", "needle"), [
    ("empty.xlsx", "is empty: nothing to check"),
    ("header.xlsx", "has a header but no contact rows"),
    ("header.csv", "has a header but no contact rows"),
    ("empty.csv", "empty"),
    ("header.xls", "has a header but no contact rows"),
])
def test_files_without_contacts_are_one_line_and_no_output(tmp_path: Path, name: str,
                                                            needle: str) -> None:
    f = tmp_path / name
    if name == "empty.xlsx":
        _workbook(f, [])
    elif name == "header.xlsx":
        _workbook(f, [["Nom", "Portable"]])
    elif name == "header.xls":
        _xls(f, {"Feuil1": [["Nom", "Portable"]]})
    else:
        f.write_text("Nom;Portable\n" if name == "header.csv" else "", encoding="utf-8")
    out = tmp_path / "out" / "annotated.xlsx"
    result = run_cli(["check", str(f), "-o", str(out)])
    assert result.exit_code == 2, result.stderr
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and result.stdout == ""


def test_output_over_the_input_is_refused_whatever_the_spelling(tmp_path: Path) -> None:
    """``-o`` naming the input (same name, another spelling, a link to it, a hard link,
    or the input being an .xlsx): exit 2, the input untouched."""
    csv_in = tmp_path / "base.csv"
    csv_in.write_text(f"Nom;Tel\nA;{PHONES[0]}\n", encoding="utf-8")
    book = _workbook(tmp_path / "base.xlsx", [["Nom", "Tel"], ["A", PHONES[0]]])
    (tmp_path / "link.csv").symlink_to(csv_in)
    os.link(csv_in, tmp_path / "hard.csv")
    before = {p: p.read_bytes() for p in (csv_in, book)}
    for source, target in ((csv_in, str(csv_in)), (csv_in, f"{tmp_path}/./sub/../base.csv"),
                           (csv_in, str(tmp_path / "link.csv")),
                           (csv_in, str(tmp_path / "hard.csv")), (book, str(book))):
        result = run_cli(["check", str(source), "-o", target, "--threshold", "1"])
        assert result.exit_code == 2, (target, result.stderr)
        assert "would overwrite the input" in result.stderr, result.stderr
    assert {p: p.read_bytes() for p in before} == before


def _forbid_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal "before the check": the check itself fails the test if it runs."""
    import rcsqualify.contact_check

    def no_check(*_: object, **__: object) -> None:
        raise AssertionError("the check ran")

    monkeypatch.setattr(rcsqualify.contact_check, "check_rows_or_contacts", no_check)


# -- a sheet's row limit --------------------------------------------------------------------
def test_a_csv_one_row_too_long_for_a_sheet_is_refused_before_the_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,048,576 contacts + the header = 1,048,577 rows: one line, exit 2, before any
    check (the CSV's rows are counted when its estimate comes near the limit)."""
    f = tmp_path / "big.csv"
    with f.open("w", encoding="utf-8") as fh:
        fh.write("tel\n")
        fh.write(f"{PHONES[0]}\n" * 1_048_576)

    _forbid_the_check(monkeypatch)
    out = tmp_path / "big.xlsx"
    result = run_cli(["check", str(f), "-o", str(out)])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip() == (
        f"rcsqualify: error: --output {out}: 1,048,576 rows are more than an Excel sheet "
        "holds (1,048,575 and the header); write a .csv or .parquet file instead")
    assert not out.exists()


def test_the_csv_count_before_the_check_is_exact(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """At the (lowered) limit the CSV passes and is written whole; one row more is
    refused before the check, whatever the first lines made the estimate."""
    from rcsqualify.report import xlsx_output

    monkeypatch.setattr(xlsx_output, "XLSX_MAX_ROWS", 40)
    monkeypatch.setattr(xlsx_output, "COUNT_ABOVE", 20)
    f = tmp_path / "c.csv"
    out = tmp_path / "out.xlsx"
    for rows, code in ((40, 0), (41, 2)):
        f.write_text("tel;note\n" + "".join(f"{PHONES[i]};n\n" for i in range(rows)),
                     encoding="utf-8")
        result = run_cli(["check", str(f), "-o", str(out), "-q", "--threshold", "1"])
        assert result.exit_code == code, result.stderr
    assert len(_sheet_rows(out)) == 41
    assert "41 rows are more than an Excel sheet holds (40 and" in result.stderr


def test_a_csv_too_wide_for_a_sheet_is_refused_before_the_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """16,380 input columns and the verdict columns pass column XFD: one line, exit 2,
    before any check (a sheet written past XFD is one Excel refuses)."""
    width = 16_380
    f = tmp_path / "wide.csv"
    f.write_text(";".join(["tel", *(f"c{i}" for i in range(width - 1))]) + "\n"
                 + ";".join([PHONES[0], *(["x"] * (width - 1))]) + "\n", encoding="utf-8")

    _forbid_the_check(monkeypatch)
    out = tmp_path / "wide.xlsx"
    result = run_cli(["check", str(f), "-o", str(out)])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip() == (
        f"rcsqualify: error: --output {out}: 16,388 columns are more than an Excel sheet "
        "holds (16,384, column XFD); write a .csv or .parquet file instead")
    assert not out.exists()


def test_an_output_name_excel_users_may_type_is_refused_in_one_line(tmp_path: Path) -> None:
    """``-o annotated.xls``: refused before the check, naming every output suffix
    (.tsv and .jsonl were missing) and why .xls is not one."""
    f = tmp_path / "c.csv"
    f.write_text(f"tel\n{PHONES[0]}\n", encoding="utf-8")
    result = run_cli(["check", str(f), "-o", str(tmp_path / "annotated.xls")])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().endswith(
        "annotated.xls: use a .csv, .tsv, .ndjson, .jsonl, .parquet, .xlsx file name, or - "
        "for standard output (Excel 97-2003 files are read, not written)")
    assert not (tmp_path / "annotated.xls").exists()
