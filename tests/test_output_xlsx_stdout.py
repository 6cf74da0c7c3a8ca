"""The annotated output as Excel users and csvkit users take it (issue #26 item 5):
``-o annotated.xlsx`` (one sheet, the input's columns first, types kept, streamed)
and ``-o -`` (the annotated CSV on standard output, the summary on stderr only)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest

from tests.helpers import run_cli, write_csv

ROWS = [["Nom", "Téléphone", "Note"],
        ["Dupont", "06 12 34 56 78", "=HYPERLINK(\"http://x\")"],
        ["Martin", "0712345678", "ok\x07bell"],
        ["Durand", "pas de numéro", ""]]


def _base(tmp_path: Path) -> Path:
    path = tmp_path / "base.csv"
    write_csv(path, ROWS)
    return path


def test_xlsx_output_one_sheet_input_columns_first_text_stays_text(tmp_path: Path) -> None:
    out = tmp_path / "out" / "annotated.xlsx"
    result = run_cli(["check", str(_base(tmp_path)), "-o", str(out), "-q"])
    assert result.exit_code == 1, result.stderr  # 1 invalid of 3: fails
    workbook = openpyxl.load_workbook(out)
    assert len(workbook.worksheets) == 1
    sheet = workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Nom", "Téléphone", "Note")
    assert rows[0][3:6] == ("msisdn_e164", "status", "reason")
    assert len(rows) == 1 + 3  # the header and every input row
    assert rows[1][1] == "06 12 34 56 78" and rows[1][3] == "+33612345678"
    assert rows[3][4] == "invalid" and rows[3][5] == "not_a_number"
    assert rows[2][2] == "okbell"  # XLSX cannot hold a BEL: removed
    for cell in (sheet["B2"], sheet["C2"], sheet["D2"]):  # text, never a number or formula
        assert cell.data_type == "s", cell
    assert sheet["C2"].value.startswith("=HYPERLINK")
    assert [p.name for p in out.parent.iterdir()] == ["annotated.xlsx"]  # no .part left


def test_xlsx_output_over_a_sheet_is_refused_and_nothing_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CSV's row count is known after the check: refused when written (exit 2), no
    .part and no XlsxWriter temporary file left beside the output."""
    from rcsqualify.report import xlsx_output

    monkeypatch.setattr(xlsx_output, "XLSX_MAX_ROWS", 2)
    out = tmp_path / "annotated.xlsx"
    result = run_cli(["check", str(_base(tmp_path)), "-o", str(out), "-q"])
    assert result.exit_code == 2, result.stderr
    assert "3 rows are more than an Excel sheet holds (2 and the header)" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "base.csv"]


def test_xlsx_output_of_a_sheet_too_long_is_refused_before_the_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sheet's (or Parquet's) row count is exact once opened: the refusal comes before
    any look-up (the check itself is never called)."""
    import rcsqualify.contact_check
    from rcsqualify.report import xlsx_output

    source = tmp_path / "base.xlsx"
    workbook = openpyxl.Workbook()
    for row in ROWS:
        workbook.active.append([v.replace("\x07", "") for v in row])
    workbook.save(source)
    monkeypatch.setattr(xlsx_output, "XLSX_MAX_ROWS", 2)

    def no_check(*_: object, **__: object) -> None:
        raise AssertionError("the check ran")

    monkeypatch.setattr(rcsqualify.contact_check, "check_rows_or_contacts", no_check)
    out = tmp_path / "annotated.xlsx"
    result = run_cli(["check", str(source), "-o", str(out), "-q"])
    assert result.exit_code == 2, result.stderr
    assert "more than an Excel sheet holds" in result.stderr
    assert not out.exists()


def _typed_workbook(path: Path) -> None:
    """A sheet with a cell of every kind: text, int, float, date, date and time,
    boolean, a phone stored as text and one stored as a number, a formula-like text
    and a column mixing numbers and text."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Nom", "Téléphone", "Age", "Score", "Inscrit", "Vu", "Actif", "Note",
                  "Mixte"])
    sheet.append(["Dupont", "0612345678", 42, 12.5, dt.date(2025, 3, 1),
                  dt.datetime(2025, 3, 1, 8, 30), True, "=1+1", 7])
    sheet.append(["Martin", 712345678, -3, 0.1, dt.date(1999, 12, 31),
                  dt.datetime(2024, 1, 2, 23, 59, 58), False, "+33 ce n'est pas", "sept"])
    sheet.append(["Durand", "+33612345679", None, None, None, None, None, None, None])
    for row in sheet.iter_rows(min_row=2, min_col=5, max_col=5):
        row[0].number_format = "dd/mm/yyyy"
    sheet["H2"].data_type = "s"  # a text cell that looks like a formula, not a formula
    workbook.save(path)


def test_xlsx_input_to_xlsx_output_keeps_each_cells_type(tmp_path: Path) -> None:
    source = tmp_path / "typed.xlsx"
    _typed_workbook(source)
    out = tmp_path / "annotated.xlsx"
    result = run_cli(["check", str(source), "-o", str(out), "-q", "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    sheet = openpyxl.load_workbook(out).worksheets[0]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    columns = [c.value for c in sheet[1]]
    at = {name: i for i, name in enumerate(columns)}
    assert columns[:9] == ["Nom", "Téléphone", "Age", "Score", "Inscrit", "Vu", "Actif",
                           "Note", "Mixte"]
    # numbers stay numbers, dates dates (with the time when there was one), booleans
    assert [r[at["Age"]] for r in rows] == [42, -3, None]
    assert [r[at["Score"]] for r in rows] == [12.5, 0.1, None]
    assert [r[at["Inscrit"]] for r in rows] == [dt.datetime(2025, 3, 1),
                                                dt.datetime(1999, 12, 31), None]
    assert [r[at["Vu"]] for r in rows] == [dt.datetime(2025, 3, 1, 8, 30),
                                           dt.datetime(2024, 1, 2, 23, 59, 58), None]
    assert sheet.cell(2, at["Inscrit"] + 1).number_format == "yyyy-mm-dd"
    assert sheet.cell(2, at["Vu"] + 1).number_format == "yyyy-mm-dd hh:mm:ss"
    assert [r[at["Actif"]] for r in rows] == [True, False, None]
    assert sheet.cell(2, at["Actif"] + 1).data_type == "b"
    assert [r[at["Mixte"]] for r in rows] == [7, "sept", None]  # cell by cell
    # the phone column is text, even the cell the sheet stored as a number
    assert [r[at["Téléphone"]] for r in rows] == ["0612345678", "712345678", "+33612345679"]
    # text is never a formula, and gets no CSV escape
    note = sheet.cell(2, at["Note"] + 1)
    assert note.value == "=1+1" and note.data_type == "s"
    assert rows[1][at["Note"]] == "+33 ce n'est pas"
    # every verdict column is text; E.164 stays a string
    assert [rows[i][at["msisdn_e164"]] for i in (0, 2)] == ["+33612345678", "+33612345679"]
    for name in ("msisdn_e164", "status", "reason", "operator"):
        assert sheet.cell(2, at[name] + 1).data_type == "s", name
    for r in sheet.iter_rows(min_row=2):
        for cell in r:
            if isinstance(cell.value, str):
                assert cell.data_type == "s", cell.coordinate


def test_csv_input_numeric_columns_become_numbers_phone_and_codes_stay_text(
        tmp_path: Path) -> None:
    """A CSV column is numbers when every non-empty cell is a plain number; a leading
    zero, a '+' or a space anywhere keeps the column text; the phone columns are text
    even when they are all digits; ',' is a decimal point in a ';' file."""
    source = write_csv(tmp_path / "base.csv", [
        ["Nom", "Tel", "Montant", "Quantite", "CodePostal", "Signe", "Vide", "Autre"],
        ["Dupont", "33612345678", "12,5", "3", "75001", "+5", "", "=SUM(A1)"],
        ["Martin", "33612345679", "-0,25", "", "01000", "6", "", "x"],
        ["Durand", "33612345680", "1e3", "1000000", "69001", "7", "", "-2"]])
    out = tmp_path / "annotated.xlsx"
    result = run_cli(["check", str(source), "-c", "Tel", "-o", str(out), "-q",
                      "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    sheet = openpyxl.load_workbook(out).worksheets[0]
    at = {c.value: i for i, c in enumerate(sheet[1])}
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [r[at["Montant"]] for r in rows] == [12.5, -0.25, 1000]
    assert [r[at["Quantite"]] for r in rows] == [3, None, 1000000]
    assert [r[at["Tel"]] for r in rows] == ["33612345678", "33612345679", "33612345680"]
    assert [r[at["CodePostal"]] for r in rows] == ["75001", "01000", "69001"]
    assert [r[at["Signe"]] for r in rows] == ["+5", "6", "7"]
    assert [r[at["Vide"]] for r in rows] == [None, None, None]
    assert [r[at["Autre"]] for r in rows] == ["=SUM(A1)", "x", "-2"]
    assert sheet.cell(2, at["Autre"] + 1).data_type == "s"


def test_xlsx_text_cells_round_trip_through_xml_escaping(tmp_path: Path) -> None:
    """What the row XML must escape comes back as it was: & < >, spaces at the ends,
    text that looks like Excel's own _xHHHH_ escape, accents; a control character is
    removed and counted in a warning."""
    notes = ["a & b <c> d", "  deux espaces  ", "_x0041_", "_x0041_x0042_", "Été ✓",
             "bip\x01", ""]
    rows = [["Nom", "Tel"]] + [[note, f"06123456{i:02d}"] for i, note in enumerate(notes)]
    source = tmp_path / "base.csv"
    source.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "annotated.xlsx"
    result = run_cli(["check", str(source), "-o", str(out), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert "1 cells of annotated.xlsx held control characters" in result.stderr
    sheet = openpyxl.load_workbook(out).worksheets[0]
    assert sheet.max_row == len(notes) + 1 and sheet.dimensions == "A1:J8"
    assert [sheet.cell(r, 1).value for r in range(2, len(notes) + 2)] == [
        *notes[:2], "_x005F_x0041_", "_x005F_x0041_x005F_x0042_", notes[4], "bip", None]
    # openpyxl shows Excel's escapes raw: the XML is what XlsxWriter itself writes
    # for the same strings (Excel reads _x005F_ as '_', so it shows the text as given)
    import re
    import zipfile

    import xlsxwriter

    def texts(path: Path) -> list[str]:
        xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
        return re.findall(r'<c r="A\d+" t="inlineStr"><is><t[^>]*>(.*?)</t>', xml)

    reference = tmp_path / "reference.xlsx"
    book = xlsxwriter.Workbook(str(reference), {"constant_memory": True})
    ref_sheet = book.add_worksheet()
    for r, note in enumerate(["Nom", *notes[:3], notes[4], "bip"]):
        ref_sheet.write_string(r, 0, note)
    book.close()
    ours = texts(out)
    # _x0041_x0042_: two escapes sharing a '_'; XlsxWriter escapes the first only (Excel
    # would then show '_x0041B'), we escape both
    assert ours[4] == "_x005F_x0041_x005F_x0042_"
    assert ours[:4] + ours[5:] == texts(reference)


def _local_header_extra_lengths(path: Path) -> list[int]:
    """The extra-field length of each member's local header (where ZIP64 sizes go)."""
    import struct
    import zipfile

    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        return [struct.unpack("<H", data[i.header_offset + 28:i.header_offset + 30])[0]
                for i in archive.infolist()]


def test_xlsx_output_uses_zip64_only_past_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A usual workbook carries no ZIP64 record (Excel's zip reader is particular about
    them); a sheet whose XML passes the ZIP64 limit is written with them instead of
    failing half-way (the limit is lowered here to a few hundred bytes)."""
    import zipfile

    out = tmp_path / "annotated.xlsx"
    assert run_cli(["check", str(_base(tmp_path)), "-o", str(out), "-q",
                    "--threshold", "1"]).exit_code == 0
    with zipfile.ZipFile(out) as archive:
        assert {i.extract_version for i in archive.infolist()} == {20}
    assert set(_local_header_extra_lengths(out)) == {0}
    assert [p.name for p in tmp_path.iterdir()] == ["base.csv", "annotated.xlsx"]

    from rcsqualify.report import xlsx_output

    template = xlsx_output._template()  # XlsxWriter's own parts, made under the real limit
    monkeypatch.setattr(xlsx_output, "_template", lambda: template)
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 300)
    big = tmp_path / "big.xlsx"
    result = run_cli(["check", str(_base(tmp_path)), "-o", str(big), "-q",
                      "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    sheet_info = zipfile.ZipFile(big).getinfo("xl/worksheets/sheet1.xml")
    assert sheet_info.extract_version == 45 and sheet_info.file_size > 300
    monkeypatch.undo()
    rows = [[c.value for c in r] for r in openpyxl.load_workbook(big).worksheets[0].rows]
    assert rows[0][:3] == ROWS[0] and rows[2][:2] == ROWS[2][:2] and len(rows) == 4


def test_what_xml_cannot_hold_never_breaks_the_workbook(tmp_path: Path) -> None:
    """U+FFFE/U+FFFF (XML noncharacters) in a text cell and 1e999 (no double) in an
    otherwise numeric column made a sheet Excel cannot read: the characters are removed
    (counted), the column stays text; every part parses as XML."""
    import xml.dom.minidom
    import zipfile

    source = tmp_path / "base.csv"
    source.write_text("Nom;Tel;Montant;Score\n"
                      "A\uffffB;0612345678;1e999;1e99\n"
                      "C\ufffe;0612345679;12,5;2\n", encoding="utf-8")
    out = tmp_path / "annotated.xlsx"
    result = run_cli(["check", str(source), "-o", str(out), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert "2 cells of annotated.xlsx held control characters" in result.stderr
    with zipfile.ZipFile(out) as archive:
        for name in archive.namelist():
            if name.endswith(".xml") or name.endswith(".rels"):
                xml.dom.minidom.parseString(archive.read(name))
    rows = [[(c.value, c.data_type) for c in r][:4]
            for r in openpyxl.load_workbook(out).worksheets[0].rows]
    assert rows[1] == [("AB", "s"), ("0612345678", "s"), ("1e999", "s"), (1e99, "n")]
    assert rows[2][0] == ("C", "s") and rows[2][2] == ("12,5", "s")


def test_numeric_columns_rules(tmp_path: Path) -> None:
    """The CSV number rule, cell by cell: what keeps a column text."""
    import re

    from rcsqualify.report.xlsx_output import _NUMBER_COMMA, _NUMBER_DOT

    numbers = ["0", "-0", "0.5", "12", "-12.75", "1e3", "1E-5", "123456789012345"]
    text = ["007", "+5", "1 000", "1,000.5", " 12", "12 ", "1234567890123456", "1.", ".5",
            "0612345678", "+33612345678", "NaN", "inf", "1e1234", "1e999", "1e-400",
            "12abc", ""]
    for cell in numbers:
        assert re.match(_NUMBER_DOT, cell), cell
    for cell in text:
        assert not re.match(_NUMBER_COMMA, cell), cell
    assert re.match(_NUMBER_COMMA, "12,5") and not re.match(_NUMBER_DOT, "12,5")


def test_stdout_output_is_the_annotated_csv_and_nothing_else(tmp_path: Path) -> None:
    result = run_cli(["check", str(_base(tmp_path)), "-o", "-"])
    assert result.exit_code == 1, result.stderr  # 1 invalid of 3: fails
    assert not result.stdout.startswith("\ufeff")  # a pipe: no BOM unless asked for
    rows = list(csv.reader(io.StringIO(result.stdout), delimiter=";"))
    assert rows[0][:4] == ["Nom", "Téléphone", "Note", "msisdn_e164"]
    assert len(rows) == 4 and rows[1][3] == "+33612345678"
    assert rows[1][2].startswith("'=HYPERLINK")  # spreadsheet-safe, as the CSV file
    assert "FAIL" in result.stderr and "FAIL" not in result.stdout
    excel = run_cli(["check", str(_base(tmp_path)), "-o", "-", "--excel", "-q"])
    assert excel.stdout.startswith("\ufeff")


def test_stdout_output_from_stdin_and_one_document_per_stream(tmp_path: Path) -> None:
    text = _base(tmp_path).read_text(encoding="utf-8")
    result = run_cli(["check", "-", "-o", "-", "-q"], input=text)
    assert result.exit_code == 1 and result.stdout.count("\n") == 4
    result = run_cli(["check", str(_base(tmp_path)), "-o", "-", "--json-report", "-"])
    assert result.exit_code == 2 and "cannot both go to standard output" in result.stderr
    assert result.stdout == ""


def test_stdout_output_gets_no_workflow_annotations(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run_cli(["check", str(_base(tmp_path)), "-o", "-", "--gate", "upper",
                      "--no-ci-summary"])
    assert result.exit_code == 1, result.stderr
    assert "::error" not in result.stdout and "::warning" not in result.stdout
    assert next(csv.reader(io.StringIO(result.stdout), delimiter=";"))[0] == "Nom"


def test_split_dir_dash_is_refused_not_a_folder_named_dash(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """`-o - --split-dir -` read as "both on stdout": the lists are a folder, never a
    stream, so '-' is refused (exit 2) instead of creating a folder named '-'."""
    monkeypatch.chdir(tmp_path)
    result = run_cli(["check", str(_base(tmp_path)), "-o", "-", "--split-dir", "-"])
    assert result.exit_code == 2, result.stderr
    assert "--split-dir" in result.stderr and result.stdout == ""
    assert not (tmp_path / "-").exists()


def test_xlsxwriter_is_imported_only_to_write_an_xlsx() -> None:
    """Start-up time: the writers every run imports do not load XlsxWriter."""
    import subprocess
    import sys

    code = ("import sys; import rcsqualify.outputs, rcsqualify.report.writers; "
            "assert 'xlsxwriter' not in sys.modules and 'pyarrow.compute' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
