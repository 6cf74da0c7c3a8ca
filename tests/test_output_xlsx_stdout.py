"""The annotated output as Excel users and csvkit users take it (issue #26 item 5):
``-o annotated.xlsx`` (one sheet, the input's columns first, every cell text, streamed)
and ``-o -`` (the annotated CSV on standard output, the summary on stderr only)."""

from __future__ import annotations

import csv
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


def test_xlsx_output_one_sheet_input_columns_first_all_text(tmp_path: Path) -> None:
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
    from rcsqualify.report import writers

    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 2)
    out = tmp_path / "annotated.xlsx"
    result = run_cli(["check", str(_base(tmp_path)), "-o", str(out), "-q"])
    assert result.exit_code == 2 and "more rows than an Excel sheet holds" in result.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "base.csv"]


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
