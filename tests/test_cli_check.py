"""``rcsqualify check`` end to end through the CLI (CliRunner), on real files."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.helpers import check_json, run_cli, write_csv

HEADER = ["Nom", "Prénom", "Téléphone", "Ville"]
ROWS = [
    ["Lefèvre", "Élodie", "06 07 12 34 56", "Besançon"],  # FRTE mobile
    ["Müller", "Jérôme", "+33 6 07 12 34 56", "Nîmes"],  # duplicate of the first
    ["Garçon", "Anaïs", "06 01 01 23 45", "Paris"],  # SFR0 mobile
    ["Bénard", "Loïc", "01 05 60 12 34", "Orléans"],  # fixed line
    ["Rivière", "Zoé", "N/A", "Lyon"],  # invalid
    ["Leroy", "Noël", "607998877", "Lyon"],  # FRTE, leading zero eaten
]


def _expected_counts() -> dict[str, int]:
    return {"rows": 6, "duplicates": 1, "messages": 5, "invalid": 1, "not_mobile": 1,
            "other_operator": 1, "not_rcs": 0, "unverified": 2, "reachable": 0}


def _assert_counts(report: dict[str, object]) -> None:
    counts = report["counts"]
    assert isinstance(counts, dict)
    assert {k: counts[k] for k in _expected_counts()} == _expected_counts()


def test_cp1252_semicolon_file(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "c.csv", [HEADER, *ROWS], encoding="cp1252")
    result, report = check_json([str(f), "--threshold", "1"])
    assert result.exit_code == 0  # even all unchecked failing, ≤ 100 %: a pass
    _assert_counts(report)
    assert report["input"]["encoding"] == "cp1252"
    assert report["input"]["delimiter"] == ";"
    assert report["input"]["column"] == "Téléphone"


def test_utf8_bom_file(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    write_csv(f, [HEADER, *ROWS], delimiter=",")
    f.write_bytes(codecs.BOM_UTF8 + f.read_bytes())
    _result, report = check_json([str(f), "--threshold", "0.9"])
    _assert_counts(report)
    assert report["input"]["encoding"] == "utf-8-sig"
    assert report["input"]["column"] == "Téléphone"  # the BOM did not pollute the header


def test_utf16_tab_file_as_excel_unicode_text(tmp_path: Path) -> None:
    f = tmp_path / "c.txt"
    text = "\r\n".join("\t".join(r) for r in [HEADER, *ROWS]) + "\r\n"
    f.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    _, report = check_json([str(f), "--threshold", "0.9"])
    _assert_counts(report)
    assert report["input"]["delimiter"] == "\t"


def test_json_report_keys(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "c.csv", [HEADER, *ROWS])
    out = tmp_path / "r.json"
    result = run_cli(["check", str(f), "--json-report", str(out), "-q"])
    report = json.loads(out.read_text())
    for key in ("tool", "input", "counts", "operators", "error_ratio", "error_ratio_upper",
                "threshold", "gate", "api", "exit_code"):
        assert key in report
    assert {"name", "version", "phonenumbers", "arcep_plan_date"} <= set(report["tool"])
    assert report["tool"]["arcep_plan_date"] == "2026-04-17"
    assert {"path", "rows", "column", "encoding", "delimiter"} <= set(report["input"])
    assert {"requests", "cache_hits", "retries", "throttled"} <= set(report["api"])
    assert report["operators"] == {"FRTE": 2, "SFR0": 1}
    assert report["error_ratio"] == pytest.approx(3 / 5)
    assert report["error_ratio_upper"] == pytest.approx(5 / 5)
    assert report["exit_code"] == result.exit_code == 1
    assert report["gate"] == "fail"


# 5 messages: 3 known errors (60 %), 2 unchecked (up to 100 %)
@pytest.mark.parametrize(("mode", "threshold", "code", "gate"), [
    ("decide", "1", 0, "pass"), ("decide", "0.6", 3, "undecided"),
    ("decide", "0.59", 1, "fail"), ("known", "0.6", 0, "pass"), ("known", "0.59", 1, "fail"),
    ("upper", "1", 0, "pass"), ("upper", "0.99", 1, "fail")])
def test_exit_code_follows_the_gate(tmp_path: Path, mode: str, threshold: str, code: int,
                                    gate: str) -> None:
    f = write_csv(tmp_path / "c.csv", [HEADER, *ROWS])
    result, report = check_json([str(f), "--threshold", threshold, "--gate", mode])
    assert result.exit_code == report["exit_code"] == code
    assert report["gate"] == report["decision"] == gate
    assert result.stderr.strip().splitlines()[-1].startswith(gate.upper() + ": ")


def test_stdin(tmp_path: Path) -> None:
    data = "\n".join(";".join(r) for r in [HEADER, *ROWS]).encode("cp1252")
    result, report = check_json(["-", "--threshold", "1"], input=data)
    assert result.exit_code == 0
    _assert_counts(report)
    assert report["input"]["path"] == "-"


def test_xlsx_with_numbers_stored_as_numbers(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    for r in ROWS:
        ws.append(r)
    ws.append(["Num", "Int", 607123400, "Lyon"])  # a number cell: Excel ate the 0
    ws.append(["Num", "Float", 33607123401.0, "Lyon"])
    f = tmp_path / "c.xlsx"
    wb.save(f)
    out = tmp_path / "o.csv"
    _result, report = check_json([str(f), "--threshold", "0.9", "-o", str(out)])
    assert report["counts"]["rows"] == 8
    assert report["counts"]["unverified"] == 4
    df = pd.read_csv(out, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert df["msisdn_e164"].iloc[-2:].tolist() == ["+33607123400", "+33607123401"]
    assert df["repaired"].iloc[-2] == "leading_zero"


def test_xlsx_with_several_sheets_needs_sheet(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Clients"
    ws.append(HEADER)
    for r in ROWS:
        ws.append(r)
    wb.create_sheet("Notes").append(["rien"])
    f = tmp_path / "c.xlsx"
    wb.save(f)
    result = run_cli(["check", str(f)])
    assert result.exit_code == 2
    assert "--sheet" in result.stderr and "Clients" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    result, report = check_json([str(f), "--sheet", "Clients", "--threshold", "0.9"])
    _assert_counts(report)
    assert report["input"]["sheet"] == "Clients"


def test_parquet_with_integer_column(tmp_path: Path) -> None:
    df = pd.DataFrame({"name": ["a", "b", "c"], "msisdn": [33607123456, 607123457, 145601234]})
    f = tmp_path / "c.parquet"
    df.to_parquet(f)
    _, report = check_json([str(f), "--threshold", "0.9"])
    assert report["counts"]["rows"] == 3
    assert report["counts"]["unverified"] == 2
    assert report["counts"]["invalid"] == 1  # 145601234: 9 digits not starting 6/7


def test_ndjson(tmp_path: Path) -> None:
    f = tmp_path / "c.ndjson"
    lines = [json.dumps(dict(zip(HEADER, r, strict=True)), ensure_ascii=False) for r in ROWS]
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, report = check_json([str(f), "--threshold", "0.9"])
    _assert_counts(report)


@pytest.mark.parametrize("ext", [".csv", ".ndjson", ".parquet"])
def test_annotated_output_keeps_every_row_and_column(tmp_path: Path, ext: str) -> None:
    f = write_csv(tmp_path / "c.csv", [HEADER, *ROWS], encoding="cp1252")
    out = tmp_path / f"out{ext}"
    result = run_cli(["check", str(f), "-o", str(out), "-q"])
    assert result.exit_code == 1
    if ext == ".csv":
        df = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False)
    elif ext == ".ndjson":
        df = pd.read_json(out, lines=True, dtype=False)
    else:
        df = pq.read_table(out).to_pandas()
    assert len(df) == len(ROWS)
    assert df["Téléphone"].tolist() == [r[2] for r in ROWS]  # original cells, untouched
    assert df["Nom"].tolist() == [r[0] for r in ROWS]
    for col in ("msisdn_e164", "status", "reason", "repaired", "operator", "operator_source",
                "territory", "rcs"):
        assert col in df.columns
    assert df["status"].tolist() == ["unverified", "unverified", "other_operator",
                                     "not_mobile", "invalid", "unverified"]
    assert df["reason"].tolist() == ["not_checked", "not_checked", "range_holder",
                                     "fixed_line", "not_a_number", "not_checked"]
    assert df["msisdn_e164"].iloc[0] == df["msisdn_e164"].iloc[1] == "+33607123456"
    assert df["operator"].tolist()[:3] == ["FRTE", "FRTE", "SFR0"]
    assert df["repaired"].iloc[5] == "leading_zero"
    assert df["territory"].iloc[0] == "Métropole"
    assert not list(tmp_path.glob(".*.part"))


def test_input_column_named_like_an_annotation_is_kept(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "c.csv", [["mobile", "status"], ["0607123456", "VIP"]])
    out = tmp_path / "o.csv"
    run_cli(["check", str(f), "-o", str(out), "-q"])
    df = pd.read_csv(out, sep=";", dtype=str)
    assert df["status_input"].tolist() == ["VIP"]
    assert df["status"].tolist() == ["unverified"]


def test_sample_data_runs(sample_contacts: Path) -> None:
    result, report = check_json([str(sample_contacts)])
    # offline: 129 Orange mobiles unchecked, the threshold between known and upper
    assert result.exit_code == 3 and report["decision"] == "undecided"
    reasons = report["reasons"]
    for r in ("empty", "not_a_number", "excel_scientific", "multiple_numbers", "too_short",
              "too_long", "not_french", "unallocated", "fixed_line", "voip", "special", "m2m",
              "range_holder", "not_checked"):
        assert reasons.get(r, 0) >= 1, r
    assert report["counts"]["rows"] == 154


def test_ndjson_with_a_column_that_changes_json_type(tmp_path: Path) -> None:
    f = tmp_path / "mixed.ndjson"
    f.write_text('{"nom": "a", "tel": "0607123456"}\n{"nom": "b", "tel": 607123457}\n'
                 '{"nom": "c", "tel": null}\n{"nom": "d", "tel": 33607123458.0, "x": [1]}\n',
                 encoding="utf-8")
    out = tmp_path / "o.csv"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0
    assert report["counts"]["rows"] == 4 and report["counts"]["unverified"] == 3
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    # the NDJSON literal, exactly as written (CONTRACT §11); it still normalizes
    assert df["tel"].tolist() == ["0607123456", "607123457", "", "33607123458.0"]
    assert df["x"].tolist() == ["", "", "", "[1]"]
    assert df["repaired"].tolist()[1] == "leading_zero"
