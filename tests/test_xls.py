"""Legacy Excel 97-2003 (.xls) contact files, written for real with xlwt and read back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from tests.helpers import check_json, run_cli, write_csv


def _xls(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    as_date = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, date):
                    ws.write(r, c, value, as_date)
                else:
                    ws.write(r, c, value)
    wb.save(str(path))
    return path


ROWS: list[list[object]] = [
    ["Nom", "Téléphone portable", "Inscrit le"],
    ["Lefèvre", 607123456.0, date(2024, 5, 2)],  # a number cell: the leading 0 was eaten
    ["Müller", "+33 6 07 12 34 56", date(2024, 5, 3)],  # duplicate of the first
    ["Garçon", "06 01 01 23 45", None],  # SFR0
    ["Bénard", 33105601234.0, None],  # fixed line, as a number
    ["Rivière", "N/A", None],  # invalid
    [None, None, None],  # a blank row: not a contact
    ["Noël", "0690 12 34 56", None],  # Guadeloupe
]


def test_xls_contact_file_end_to_end(tmp_path: Path) -> None:
    f = _xls(tmp_path / "contacts.xls", {"Clients": ROWS})
    out = tmp_path / "annotated.csv"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["format"] == "xls" and report["input"]["sheet"] == "Clients"
    assert report["input"]["column"] == "Téléphone portable"
    counts = report["counts"]
    assert (counts["rows"], counts["duplicates"], counts["messages"]) == (6, 1, 5)
    assert (counts["invalid"], counts["not_mobile"], counts["other_operator"]) == (1, 1, 2)
    assert report["repaired"] == {"leading_zero": 1}
    # a workbook's annotated CSV is Excel's French dialect: ';' and a BOM (issue #26)
    df = pd.read_csv(out, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert df["Téléphone portable"].tolist()[:2] == ["607123456", "+33 6 07 12 34 56"]
    assert df["Inscrit le"].tolist()[:2] == ["2024-05-02", "2024-05-03"]  # dates as dates
    assert df["msisdn_e164"].tolist() == ["+33607123456", "+33607123456", "+33601012345",
                                          "+33105601234", "", "+590690123456"]


def test_xls_with_several_sheets_needs_sheet(tmp_path: Path) -> None:
    f = _xls(tmp_path / "c.xls", {"Notes": [["texte"], ["rien"]], "Clients": ROWS})
    result = run_cli(["check", str(f)])
    assert result.exit_code == 2
    assert "2 sheets (Notes, Clients)" in result.stderr and "--sheet" in result.stderr
    _, report = check_json([str(f), "--sheet", "Clients", "--threshold", "1"])
    assert report["counts"]["rows"] == 6
    result = run_cli(["check", str(f), "--sheet", "Absent"])
    assert result.exit_code == 2 and "no sheet 'Absent'" in result.stderr


def test_corrupt_xls_is_one_line_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "c.xls"
    f.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    result = run_cli(["check", str(f)])
    assert result.exit_code == 2
    assert result.stderr.startswith("rcsqualify: error:") and "not a readable .xls" in (
        result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_text_saved_as_xls_is_read_as_text(tmp_path: Path) -> None:
    """Web apps export tab-separated text named .xls: read by content, not by name."""
    f = write_csv(tmp_path / "export.xls", [["nom", "mobile"], ["a", "0607123456"]],
                  delimiter="\t")
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["format"] == "csv" and report["counts"]["rows"] == 1


def test_xls_extract_with_a_store_import(tmp_path: Path) -> None:
    f = _xls(tmp_path / "extract.xls", {"export": [
        ["MSISDN", "Opérateur receveur", "Date"],
        [607000001.0, 6002.0, date(2025, 4, 1)],  # routing prefix without its 0, a number
        ["0601000001", "frte", "02/04/2025"],
    ]})
    store = tmp_path / "store.parquet"
    result = run_cli(["portability", "import", str(f), "--into", str(store)])
    assert result.exit_code == 0, result.stderr
    info = run_cli(["portability", "info", str(store)])
    assert "2 numbers from 2 extract rows" in info.stdout
    assert "port dates 2025-04-01 to 2025-04-02" in info.stdout
