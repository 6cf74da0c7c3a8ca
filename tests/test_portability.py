"""Portability-aware attribution: extracts, the store, deltas, and their effect on the ratio."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rcsqualify.numbering.plan import load_plan
from rcsqualify.operators import port_dates, vocabulary
from rcsqualify.operators import portability as port
from rcsqualify.operators import portability_store as store_mod
from tests.helpers import check_json, run_cli, write_csv

# Orange (FRTE) range: 0607…, SFR range: 06010…, Free range: 0651…
FRTE_A, FRTE_B, FRTE_C = "0607000001", "0607000002", "0607000003"
SFR_A, FREE_A = "0601000001", "0651000001"
KEY = {n: int("33" + n[1:]) for n in (FRTE_A, FRTE_B, FRTE_C, SFR_A, FREE_A)}


def _contacts(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "contacts.csv", [["nom", "mobile"], *[
        [f"c{i}", n] for i, n in enumerate([FRTE_A, FRTE_B, FRTE_C, SFR_A, FREE_A])]])


def _flat(text: str) -> str:
    """Terminal text with rich's wrapping undone."""
    return " ".join(text.split())


def _days_ago(n: int) -> str:
    return (date.today() - timedelta(days=n)).isoformat()


def _frte_numbers(n: int, start: int = 100) -> list[str]:
    """n distinct numbers of the Orange 0607 block."""
    return [f"06070{i:05d}" for i in range(start, start + n)]


# -- every spelling of an operator value --------------------------------------------------

SPELLINGS = [  # (value as written, ARCEP code it means)
    ("SFR0", "SFR0"),  # ARCEP code
    ("frte", "FRTE"),  # Mnémo in lower case
    (" Bouy ", "BOUY"),  # mixed case, blanks
    ("06001", "FRTE"),  # MAJPORTA 5-digit metropolitan prefix
    ("6001", "FRTE"),  # the same without its leading zero
    ("6003", "BOUY"),
    ("06000", "FRMO"),
    ("5091", "LYCA"),  # 05091 without its zero
    ("052320", "SRR"),  # 6-digit overseas prefix
    ("52320", "SRR"),  # the same without its zero
    ("070846", "SPMT"),  # Saint-Pierre-et-Miquelon
    ("70846", "SPMT"),
    ("20810", "SFR0"),  # MCC-MNC
    ("208-01", "FRTE"),  # MCC-MNC with a separator
    ("208 15", "FRMO"),
    ("340.01", "FRTE"),  # overseas MCC
    ("6002.0", "SFR0"),  # a prefix that went through a spreadsheet as a float
]


def test_every_spelling_maps_to_its_arcep_code(tmp_path: Path) -> None:
    numbers = _frte_numbers(len(SPELLINGS))
    ext = write_csv(tmp_path / "p.csv", [["numero", "operateur"],
                                         *[[n, v] for n, (v, _) in zip(numbers, SPELLINGS,
                                                                          strict=True)]])
    table = port.build_table([ext], load_plan())
    keys = np.array([int("33" + n[1:]) for n in numbers])
    assert table.lookup(keys).tolist() == [code for _, code in SPELLINGS]
    assert table.unmapped == 0 and table.fixed_line_prefixes == 0


def test_spellings_never_collide_and_mnp_gets_them_too() -> None:
    plan = load_plan()
    vocab = vocabulary.OperatorVocabulary.from_plan(plan)
    zero_less = {p[1:] for p in plan.routing_prefixes}
    with_zero = set(plan.routing_prefixes)
    codes = {c.upper() for c in plan.operator_codes}
    mcc = set(plan.mcc_mnc)
    for a, b in ((zero_less, with_zero), (zero_less, mcc), (zero_less, codes),
                 (with_zero, mcc), (with_zero, codes), (mcc, codes)):
        assert not a & b
    mapper = vocabulary.operator_mapper(plan)  # what operators/mnp.py maps MNP answers with
    assert mapper["6001"] == "FRTE" and mapper["06001"] == "FRTE" and mapper["20801"] == "FRTE"
    assert "10000" in vocab.fixed_line and "010000" in vocab.fixed_line
    assert "6001" not in vocab.fixed_line and "52303" not in vocab.fixed_line


def test_the_issue_extract_with_prefixes_without_their_zero(tmp_path: Path) -> None:
    """Issue 13: 6001 / 52303 / 6003 were all 'unmapped' and the extract silently ignored."""
    contacts = _contacts(tmp_path)
    ext = write_csv(tmp_path / "p.csv", [["numero", "operateur"], [FRTE_A, "6003"],
                                         [FRTE_B, "52303"], [SFR_A, "6001"]])
    for extra in ([], ["--portability-operator-column", "operateur"]):
        _, report = check_json([str(contacts), "--portability", str(ext), "--threshold", "1",
                                *extra])
        assert report["operator_sources"] == {"portability": 3, "range": 2}
        assert report["attribution"]["ported_out"] == 1  # FRTE_A → BOUY
        assert report["attribution"]["ported_in"] == 1  # SFR_A → FRTE
        assert report["portability"]["sources"][0]["unmapped"] == 0


def test_fixed_line_prefixes_on_mobiles_are_counted_not_used(tmp_path: Path) -> None:
    numbers = _frte_numbers(200)
    rows = [[n, "SFR0"] for n in numbers]
    rows[0][1] = "010000"  # fixed-line routing prefix (COLT/FRTE fixed), with its zero
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "operateur"], *rows])
    table = port.build_table([ext], load_plan())
    assert table.fixed_line_prefixes == 1
    assert table.lookup(np.array([int("33" + numbers[0][1:])])).tolist() == [""]
    contacts = write_csv(tmp_path / "c.csv", [["mobile"], *[[n] for n in numbers[:3]]])
    result = run_cli(["check", str(contacts), "--portability", str(ext), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert "1 mobile numbers carry a fixed-line routing prefix (not used)" in _flat(result.stderr)
    _, report = check_json([str(contacts), "--portability", str(ext), "--threshold", "1"])
    assert report["portability"]["fixed_line_prefixes"] == 1
    assert report["operator_sources"] == {"portability": 2, "range": 1}
    # the same without the zero, and too many of them: the extract is unusable
    rows[1][1] = rows[2][1] = "10000"
    write_csv(ext, [["msisdn", "operateur"], *rows])
    result = run_cli(["check", str(contacts), "--portability", str(ext)])
    assert result.exit_code == 2
    assert "1.5%" in result.stderr and "3 fixed-line routing prefixes on mobile" in result.stderr


# -- column detection ---------------------------------------------------------------------

def test_columns_found_by_content_without_a_header(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [[FRTE_A, "x1", "6003", "02/01/2025"],
                                         [FRTE_B, "x2", "52303", "01/02/2025"],
                                         [FRTE_A, "x3", "20810", "03/01/2025"]])
    table = port.build_table([ext], load_plan())
    src = table.sources[0]
    assert (src["operator_column"], src["date_column"]) == ("column_3", "column_4")
    assert table.lookup(np.array([KEY[FRTE_A], KEY[FRTE_B]])).tolist() == ["SFR0", "FRTE"]
    assert src["newest_date"] == "2025-02-01"


def test_columns_found_by_content_under_unknown_headers(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [["gsm", "valeur", "quand"],
                                         [FRTE_A, "6002", "2025-03-01"],
                                         [FRTE_B, "frte", "2025-03-02"]])
    src = port.build_table([ext], load_plan()).sources[0]
    assert (src["operator_column"], src["date_column"]) == ("valeur", "quand")


def test_recipient_column_beats_the_donor_column(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "operateur_donneur", "operateur_receveur"],
                                         [FRTE_A, "FRTE", "6002"], [SFR_A, "SFR0", "FRTE"]])
    table = port.build_table([ext], load_plan())
    assert table.sources[0]["operator_column"] == "operateur_receveur"
    assert table.lookup(np.array([KEY[FRTE_A], KEY[SFR_A]])).tolist() == ["SFR0", "FRTE"]


def test_extract_without_operator_column_is_an_input_error(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "ville"], [FRTE_A, "Paris"]])
    contacts = _contacts(tmp_path)
    result = run_cli(["check", str(contacts), "--portability", str(ext)])
    assert result.exit_code == 2
    assert "--portability-operator-column" in result.stderr
    assert "Traceback" not in result.stderr


# -- unusable extracts ---------------------------------------------------------------------

def _no_phone_number(text: str) -> bool:
    return not re.search(r"\d[\d .]{7,}\d", text)


def test_unusable_extract_stops_the_run_with_one_line(tmp_path: Path) -> None:
    numbers = _frte_numbers(10)
    values = ["SFR0"] * 7 + ["ORANGE?", "Bouygues", ""]
    ext = write_csv(tmp_path / "extract.csv", [["msisdn", "operateur"],
                                               *[[n, v] for n, v in zip(numbers, values,
                                                                        strict=True)]])
    result = run_cli(["check", str(_contacts(tmp_path)), "--portability", str(ext)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    line = lines[0]
    assert str(ext) in line and "'operateur'" in line and "30.0%" in line
    assert "'ORANGE?'" in line and "'BOUYGUES'" in line and "'(empty)'" in line
    assert "06001 or 6001" in line and "208-01" in line  # the accepted forms
    assert _no_phone_number(line)
    # the same extract is accepted when the user allows that share
    result = run_cli(["check", str(_contacts(tmp_path)), "--portability", str(ext),
                      "--portability-max-unmapped", "0.5", "--threshold", "1"])
    assert result.exit_code == 0, result.stderr


def test_operator_column_holding_phone_numbers_is_refused_without_quoting_them(
        tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "autre", "operateur"],
                                         [FRTE_A, SFR_A, "SFR0"], [FRTE_B, FREE_A, "FRTE"]])
    result = run_cli(["check", str(_contacts(tmp_path)), "--portability", str(ext),
                      "--portability-operator-column", "autre"])
    assert result.exit_code == 2
    assert "'autre'" in result.stderr and "100.0%" in result.stderr
    assert "(10-digit value)" in result.stderr and _no_phone_number(result.stderr)


def test_a_few_unmapped_values_warn_with_their_count(tmp_path: Path) -> None:
    numbers = _frte_numbers(300)
    rows = [[n, "SFR0"] for n in numbers]
    rows[5][1] = "XFRTE"
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "operateur"], *rows])
    contacts = write_csv(tmp_path / "c.csv", [["mobile"], *[[n] for n in numbers[:10]]])
    result = run_cli(["check", str(contacts), "--portability", str(ext), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert "note: portability:" in result.stderr
    assert "1 operator values map to no operator (e.g. XFRTE)" in _flat(result.stderr)
    _, report = check_json([str(contacts), "--portability", str(ext), "--threshold", "1"])
    assert any("1 operator values map to no operator" in w for w in report["warnings"])
    assert report["portability"]["sources"][0]["unmapped"] == 1
    assert report["portability"]["sources"][0]["unmapped_share"] == pytest.approx(1 / 300, abs=1e-6)
    # no share allowed at all: the same extract is unusable
    result = run_cli(["check", str(contacts), "--portability", str(ext),
                      "--portability-max-unmapped", "0"])
    assert result.exit_code == 2 and "0.3%" in result.stderr


def test_bad_max_options_are_usage_errors(tmp_path: Path) -> None:
    contacts = _contacts(tmp_path)
    for args in (["--portability-max-unmapped", "1.5"], ["--portability-max-age", "-1"]):
        result = run_cli(["check", str(contacts), *args])
        assert result.exit_code == 2, args


# -- dates and freshness ---------------------------------------------------------------------

def test_dates_iso_french_compact_and_unparsed(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [
        ["msisdn", "operator", "date_portage"],
        [FRTE_A, "BOUY", "2025-06-01"],
        [FRTE_A, "SFR0", "2024-01-01"],  # older, read later: loses
        [FRTE_B, "BOUY", "02/01/2025"],  # 2 January
        [FRTE_B, "SFR0", "01/02/2025"],  # 1 February: the latest
        [FRTE_C, "BOUY", "20250301"],
        [FRTE_C, "SFR0", "2025-03-01T23:10:00+01:00"],  # same day, read later: wins
        [SFR_A, "FRTE", "2024-01-01"],
        [SFR_A, "BOUY", "31/02/2025"],  # not a date: the file's date (2025-06-01): wins
        [FREE_A, "SFR0", "2024-01-01"],
        [FREE_A, "BOUY", "inconnue"],  # does not parse: the file's date: wins
    ])
    table = port.build_table([ext], load_plan())
    assert table.lookup(np.array([KEY[n] for n in (FRTE_A, FRTE_B, FRTE_C, SFR_A, FREE_A)])
                        ).tolist() == ["BOUY", "SFR0", "SFR0", "BOUY", "BOUY"]
    src = table.sources[0]
    assert src["unparsed_dates"] == 2 and src["newest_date"] == "2025-06-01"
    assert src["oldest_date"] == "2024-01-01"
    _, report = check_json([str(_contacts(tmp_path)), "--portability", str(ext),
                            "--threshold", "1"])
    assert report["portability"]["unparsed_dates"] == 2
    assert any("2 port dates do not parse; those rows took the file's date" in w
               for w in report["warnings"])


def test_parse_dates_vectorized_edges() -> None:
    today = date(2026, 5, 1)
    days, empty = port_dates.parse_dates(pa.array([
        "2025-02-28", "2025-02-29", "29/02/2024", "1/2/2025", "2025-2-3", "", None,
        "2026-05-02", "2026-05-03", "1985-01-01", "15.03.2025", "13/13/2025"]), today)
    shown = [port_dates.iso_date(int(d)) for d in days]
    assert shown == ["2025-02-28", None, "2024-02-29", "2025-02-01", "2025-02-03", None, None,
                     "2026-05-02", None, None, "2025-03-15", None]
    assert empty.tolist() == [False] * 5 + [True, True] + [False] * 5


def test_stale_extract_warns_with_the_numbers_resting_on_it(tmp_path: Path) -> None:
    contacts = _contacts(tmp_path)
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "op", "date"],
                                         [FRTE_A, "SFR0", _days_ago(60)],
                                         [SFR_A, "FRTE", _days_ago(45)]])
    _, report = check_json([str(contacts), "--portability", str(ext), "--threshold", "1"])
    pb = report["portability"]
    assert (pb["newest_date"], pb["age_days"], pb["stale"]) == (_days_ago(45), 45, True)
    assert pb["sources"][0]["answered"] == 2
    assert any("45 days old" in w and "2 mobile numbers rest on it" in w
               for w in report["stale"])
    terminal = run_cli(["check", str(contacts), "--portability", str(ext), "--threshold", "1"])
    assert "stale: portability:" in terminal.stderr and "45 days old" in terminal.stderr
    assert f"newest port date {_days_ago(45)}, 45 days old" in _flat(terminal.stderr)
    # a larger allowance: no stale line, the age is still reported
    _, report = check_json([str(contacts), "--portability", str(ext), "--threshold", "1",
                            "--portability-max-age", "50"])
    assert report["portability"]["age_days"] == 45 and not report["portability"]["stale"]
    assert not any("portability" in w for w in report["stale"])


def test_extract_without_dates_has_an_unknown_age_whatever_its_mtime(tmp_path: Path) -> None:
    contacts = _contacts(tmp_path)
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "op"], [FRTE_A, "SFR0"]])
    os.utime(ext, (time.time(), time.time()))  # a brand-new file says nothing of its data
    _, report = check_json([str(contacts), "--portability", str(ext), "--threshold", "1"])
    assert report["portability"]["newest_date"] is None
    assert report["portability"]["age_days"] is None
    terminal = run_cli(["check", str(contacts), "--portability", str(ext), "--threshold", "1"])
    assert "age unknown" in _flat(terminal.stderr)


# -- resolution order --------------------------------------------------------------------------

def test_without_dates_the_last_line_read_wins_across_files(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", [["msisdn", "op"], [FRTE_A, "BOUY"], [FRTE_A, "SFR0"]])
    b = write_csv(tmp_path / "b.csv", [["msisdn", "op"], [FRTE_B, "SFR0"], [FRTE_A, "FRMO"]])
    plan = load_plan()
    assert port.build_table([a], plan).lookup(np.array([KEY[FRTE_A]])).tolist() == ["SFR0"]
    assert port.build_table([a, b], plan).lookup(np.array([KEY[FRTE_A]])).tolist() == ["FRMO"]
    assert port.build_table([b, a], plan).lookup(np.array([KEY[FRTE_A]])).tolist() == ["SFR0"]


def test_numbers_in_every_written_form(tmp_path: Path) -> None:
    forms = ["0607000001", "+33607000001", "0033607000001", "33607000001", "607000001",
             "06 07 00 00 01", "06.07.00.00.01", "+33 (0)6 07 00 00 01", "tel:+33607000001"]
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "op"], *[[f, "SFR0"] for f in forms],
                                         ["N/A", "SFR0"]])
    table = port.build_table([ext], load_plan())
    assert len(table.keys) == 1 and table.duplicates == len(forms) - 1
    assert table.invalid_numbers == 1
    assert table.conflicts == 0


def test_parquet_extract_with_integer_columns(tmp_path: Path) -> None:
    f = tmp_path / "p.parquet"
    pd.DataFrame({"msisdn": [33607000001, 607000002], "mccmnc": [20810, 6003]}).to_parquet(f)
    table = port.build_table([f], load_plan())
    assert table.lookup(np.array([KEY[FRTE_A], KEY[FRTE_B]])).tolist() == ["SFR0", "BOUY"]


def test_xls_extract_with_number_cells_and_excel_dates(tmp_path: Path) -> None:
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("portabilite")
    as_date = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for c, h in enumerate(["MSISDN", "RN", "Date portage"]):
        ws.write(0, c, h)
    rows = [(607000001.0, 6003.0, date(2025, 3, 1)),  # numbers as Excel numbers
            ("06 07 00 00 02", "52303", "02/03/2025"),  # text cells
            (33601000001.0, "frte", date(2025, 3, 4))]
    for r, (num, op, when) in enumerate(rows, start=1):
        ws.write(r, 0, num)
        ws.write(r, 1, op)
        ws.write(r, 2, when, as_date) if isinstance(when, date) else ws.write(r, 2, when)
    f = tmp_path / "extract.xls"
    wb.save(str(f))
    table = port.build_table([f], load_plan())
    assert table.lookup(np.array([KEY[FRTE_A], KEY[FRTE_B], KEY[SFR_A]])).tolist() == [
        "BOUY", "FRTE", "FRTE"]
    assert table.sources[0]["date_column"] == "Date portage"
    assert table.sources[0]["newest_date"] == "2025-03-04"
    assert table.sources[0]["unparsed_dates"] == 0


def test_end_to_end_portability_moves_numbers_and_the_ratio(tmp_path: Path) -> None:
    contacts = _contacts(tmp_path)
    _, before = check_json([str(contacts), "--threshold", "1"])
    assert before["counts"]["other_operator"] == 2 and before["counts"]["unverified"] == 3
    assert before["error_ratio"] == pytest.approx(2 / 5)

    ext = write_csv(tmp_path / "p.csv", [
        ["msisdn", "operateur"],
        [FRTE_A, "20810"],  # Orange range, now SFR: out
        [FRTE_B, "6002"],  # Orange range, now SFR: out
        [SFR_A, "FRTE"],  # SFR range, now Orange: in
    ])
    out = tmp_path / "o.csv"
    result, after = check_json([str(contacts), "--portability", str(ext), "-o", str(out),
                                "--threshold", "0.5"])
    assert after["counts"]["other_operator"] == 3 and after["counts"]["unverified"] == 2
    assert after["error_ratio"] == pytest.approx(3 / 5)
    assert result.exit_code == 1
    att = after["attribution"]
    assert att["ported_in"] == 1 and att["ported_out"] == 2 and att["range_only"] == 2
    assert after["operator_sources"] == {"portability": 3, "range": 2}
    df = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False)
    assert df["operator_source"].tolist() == ["portability", "portability", "range",
                                              "portability", "range"]
    assert df["reason"].tolist() == ["ported_out", "ported_out", "not_checked", "not_checked",
                                     "range_holder"]


# -- the store and its deltas -----------------------------------------------------------------

def test_store_import_info_and_check(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "op", "date"],
                                         [FRTE_A, "SFR0", _days_ago(3)],
                                         [SFR_A, "20801", _days_ago(10)],
                                         [FRTE_A, "FRTE", _days_ago(400)]])
    store = tmp_path / "store.parquet"
    result = run_cli(["portability", "import", str(ext), "--into", str(store)])
    assert result.exit_code == 0, result.stderr
    # the store keeps the winning line per number: the 400-day-old one lost
    assert f"port dates {_days_ago(10)} to {_days_ago(3)}: newest 3 days old" in _flat(
        result.stderr)
    info = run_cli(["portability", "info", str(store)])
    assert info.exit_code == 0
    assert "2 numbers from 3 extract rows" in info.stdout
    assert f"port dates {_days_ago(10)} to {_days_ago(3)}: newest 3 days old" in info.stdout
    assert "SFR0" in info.stdout and str(ext) in _flat(info.stdout)
    meta = store_mod.store_info(store)
    assert meta["operators"] == {"SFR0": 1, "FRTE": 1} and meta["conflicts"] == 1
    assert meta["newest_date"] == _days_ago(3)
    _, report = check_json([str(_contacts(tmp_path)), "--portability-db", str(store),
                            "--threshold", "1"])
    assert report["attribution"]["ported_in"] == 1 and report["attribution"]["ported_out"] == 1
    assert report["portability"]["newest_date"] == _days_ago(3)
    assert report["portability"]["age_days"] == 3 and not report["portability"]["stale"]
    stale = run_cli(["portability", "info", str(store), "--max-age", "2"])
    assert "stale" in stale.stdout


def _delta_scenario(tmp_path: Path) -> tuple[Path, Path, Path]:
    dump = write_csv(tmp_path / "dump.csv", [["msisdn", "operateur", "date_portage"],
                                             [FRTE_A, "SFR0", "01/03/2025"],
                                             [FRTE_B, "BOUY", "01/03/2025"],
                                             [FRTE_C, "FRMO", "01/03/2025"]])
    d1 = write_csv(tmp_path / "delta_0310.csv", [["msisdn", "operateur", "date_portage"],
                                                 [FRTE_A, "6003", "10/03/2025"],
                                                 [SFR_A, "20815", "10/03/2025"]])
    d2 = write_csv(tmp_path / "delta_0320.csv", [["msisdn", "operateur", "date_portage"],
                                                 [FRTE_A, "FRTE", "20/03/2025"],  # back home
                                                 [FRTE_B, "sfr0", "20/03/2025"]])
    return dump, d1, d2


EXPECTED_AFTER_DELTAS = {FRTE_A: ("FRTE", "2025-03-20"), FRTE_B: ("SFR0", "2025-03-20"),
                         FRTE_C: ("FRMO", "2025-03-01"), SFR_A: ("FRMO", "2025-03-10")}


def _store_content(store: Path) -> dict[str, tuple[str, str]]:
    t = pq.read_table(store).to_pydict()
    by_key = {k: (op, d.isoformat()) for k, op, d in zip(t["key"], t["operator"], t["date"],
                                                         strict=True)}
    return {n: by_key[KEY[n]] for n in EXPECTED_AFTER_DELTAS}


@pytest.mark.parametrize("order", ["in order", "out of order", "one command, reversed"])
def test_dump_and_two_deltas_newest_date_wins(tmp_path: Path, order: str) -> None:
    dump, d1, d2 = _delta_scenario(tmp_path)
    store = tmp_path / "store.parquet"
    assert run_cli(["portability", "import", str(dump), "--into", str(store)]).exit_code == 0
    steps = {"in order": [[d1], [d2]], "out of order": [[d2], [d1]],
             "one command, reversed": [[d2, d1]]}[order]
    for files in steps:
        result = run_cli(["portability", "import", "--delta", "--into", str(store),
                          *map(str, files)])
        assert result.exit_code == 0, result.stderr
    assert _store_content(store) == EXPECTED_AFTER_DELTAS
    meta = store_mod.store_info(store)
    assert (meta["oldest_date"], meta["newest_date"]) == ("2025-03-01", "2025-03-20")
    assert meta["deltas"] == 2 and meta["rows"] == 4
    assert [s["kind"] for s in meta["sources"]] == ["extract", "delta", "delta"]
    info = run_cli(["portability", "info", str(store)])
    assert "port dates 2025-03-01 to 2025-03-20" in info.stdout
    assert "(2 deltas)" in _flat(info.stdout)
    # checked against the store: FRTE_A came back to its range holder, answered by the store
    out = tmp_path / "o.csv"
    _, report = check_json([str(_contacts(tmp_path)), "--portability-db", str(store), "-o",
                            str(out), "--threshold", "1"])
    df = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False).set_index("mobile")
    assert df.loc[FRTE_A, "operator"] == "FRTE"
    assert df.loc[FRTE_A, "operator_source"] == "portability"
    assert df.loc[FRTE_B, "reason"] == "ported_out"
    assert report["portability"]["newest_date"] == "2025-03-20"


def test_two_delta_imports_at_once_lose_nothing(tmp_path: Path) -> None:
    """Issue #23 item 17: two ``import --delta`` into one store at once both exited 0
    and one delta was lost (3 of 3 trials). The store is locked for the import: with
    ``--wait-lock`` the second waits and applies its delta on top of the first's; with
    the default (0) a held lock is exit 4 and the store is untouched."""
    from filelock import FileLock

    dump, d1, d2 = _delta_scenario(tmp_path)
    store = tmp_path / "store.parquet"
    assert run_cli(["portability", "import", str(dump), "--into", str(store)]).exit_code == 0
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    procs = [subprocess.Popen([exe, "portability", "import", "--delta", "--into", str(store),
                               str(d), "--wait-lock", "120"], stderr=subprocess.PIPE,
                              stdout=subprocess.DEVNULL) for d in (d1, d2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert _store_content(store) == EXPECTED_AFTER_DELTAS
    assert store_mod.store_info(store)["deltas"] == 2
    before = store.read_bytes()
    with FileLock(str(tmp_path / ".store.parquet-import.lock")):
        held = run_cli(["portability", "import", "--delta", "--into", str(store), str(d1)])
    assert held.exit_code == 4, held.stderr
    assert "another import into" in held.stderr and len(held.stderr.splitlines()) == 1
    assert store.read_bytes() == before


def test_delta_needs_a_store_and_dates(tmp_path: Path) -> None:
    dump, d1, _ = _delta_scenario(tmp_path)
    store = tmp_path / "store.parquet"
    result = run_cli(["portability", "import", "--delta", "--into", str(store), str(d1)])
    assert result.exit_code == 2 and "no store to apply deltas to" in result.stderr
    assert not store.exists()
    assert run_cli(["portability", "import", str(dump), "--into", str(store)]).exit_code == 0
    before = store.read_bytes()
    undated = write_csv(tmp_path / "undated.csv", [["msisdn", "op"], [FRTE_A, "BOUY"]])
    result = run_cli(["portability", "import", "--delta", "--into", str(store), str(undated)])
    assert result.exit_code == 2 and "needs port dates" in result.stderr
    assert store.read_bytes() == before


def test_store_with_extracts_newer_entries_win(tmp_path: Path) -> None:
    dump, _, d2 = _delta_scenario(tmp_path)
    store = tmp_path / "store.parquet"
    assert run_cli(["portability", "import", str(dump), "--into", str(store)]).exit_code == 0
    old = write_csv(tmp_path / "old.csv", [["msisdn", "op", "date"], [FRTE_C, "SFR0",
                                                                      "2024-01-01"]])
    out = tmp_path / "o.csv"
    _, report = check_json([str(_contacts(tmp_path)), "--portability-db", str(store),
                            "--portability", str(d2), "--portability", str(old), "-o",
                            str(out), "--threshold", "1"])
    df = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False).set_index("mobile")
    assert df.loc[FRTE_A, "operator"] == "FRTE"  # the newer extract
    assert df.loc[FRTE_C, "operator"] == "FRMO"  # the store: newer than the old extract
    assert [s["kind"] for s in report["portability"]["sources"]] == ["store", "extract",
                                                                     "extract"]


def test_interrupted_write_leaves_the_previous_store(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    dump, d1, _ = _delta_scenario(tmp_path)
    store = tmp_path / "store.parquet"
    assert run_cli(["portability", "import", str(dump), "--into", str(store)]).exit_code == 0
    before = store.read_bytes()

    def interrupted(*args: object, **kwargs: object) -> None:
        Path(str(args[1])).write_bytes(b"PAR1 half written")
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod.pq, "write_table", interrupted)
    ext2 = write_csv(tmp_path / "p2.csv", [["msisdn", "op"], [FRTE_B, "BOUY"]])
    for args in (["portability", "import", str(ext2), "--into", str(store)],
                 ["portability", "import", "--delta", str(d1), "--into", str(store)]):
        result = run_cli(args)
        assert result.exit_code == 130
        assert store.read_bytes() == before
        assert not list(tmp_path.glob(".store.parquet.*"))


def test_killed_import_leaves_a_valid_store(tmp_path: Path) -> None:
    """kill -9 at some point of a longer import: the store is the old one or the new one,
    never a broken file."""
    n = 1_500_000
    rng = np.random.default_rng(3)
    keys = 606000000 + rng.integers(0, 999_999, n)
    big = tmp_path / "big.parquet"
    pq.write_table(pa.table({"msisdn": pa.array(keys.astype(str)),
                             "op": pa.array(np.where(keys % 2 == 0, "SFR0", "BOUY"))}), big)
    small = write_csv(tmp_path / "p.csv", [["msisdn", "op"], [FRTE_A, "SFR0"]])
    store = tmp_path / "store.parquet"
    assert run_cli(["portability", "import", str(small), "--into", str(store)]).exit_code == 0
    old = store_mod.store_info(store)
    exe = Path(sys.executable).with_name("rcsqualify")
    proc = subprocess.Popen([str(exe), "portability", "import", str(big), "--into", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    info = store_mod.store_info(store)  # readable, whatever the moment of the kill
    complete = tmp_path / "complete.parquet"  # what the import gives when it finishes
    assert run_cli(["portability", "import", str(big), "--into", str(complete)]
                   ).exit_code == 0
    assert info["rows"] in (old["rows"], store_mod.store_info(complete)["rows"])
    table = store_mod.load_store(store)
    assert np.all(np.diff(table.keys) > 0)
