"""Portability-aware attribution: extracts, the store, and their effect on the ratio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rcsqualify.numbering.plan import load_plan
from rcsqualify.operators import portability as port
from tests.helpers import check_json, run_cli, write_csv

# Orange (FRTE) range: 0607…, SFR range: 06010…, Free range: 0651…
FRTE_A, FRTE_B, FRTE_C = "0607000001", "0607000002", "0607000003"
SFR_A, FREE_A = "0601000001", "0651000001"


def _contacts(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "contacts.csv", [["nom", "mobile"], *[
        [f"c{i}", n] for i, n in enumerate([FRTE_A, FRTE_B, FRTE_C, SFR_A, FREE_A])]])


def test_operator_values_in_every_encoding_map_to_arcep_codes(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [
        ["numero", "operateur"],
        [FRTE_A, "SFR0"],  # ARCEP code
        [FRTE_B, "06003"],  # MAJPORTA routing prefix → BOUY
        [SFR_A, "20801"],  # MCC-MNC → FRTE
        [FREE_A, " 208-15 "],  # MCC-MNC with noise → FRMO
        [FRTE_C, "ORANGE?"],  # maps to nothing: counted, run goes on
    ], delimiter=",")
    table = port.build_table([ext], load_plan())
    keys = np.array([33607000001, 33607000002, 33601000001, 33651000001, 33607000003])
    assert table.lookup(keys).tolist() == ["SFR0", "BOUY", "FRTE", "FRMO", ""]
    assert table.unmapped == 1 and table.unmapped_examples == ["ORANGE?"]


def test_latest_date_wins_whatever_the_order(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [
        ["msisdn", "operator", "date"],
        [FRTE_A, "BOUY", "2025-06-01"],
        [FRTE_A, "SFR0", "2024-01-01"],  # older, read later: loses
        [FRTE_A, "FRMO", "2023-01-01"],
        [FRTE_B, "FRMO", "02/01/2025"],
    ])
    table = port.build_table([ext], load_plan())
    assert table.lookup(np.array([33607000001, 33607000002])).tolist() == ["BOUY", "FRMO"]
    assert table.conflicts == 1 and table.duplicates == 2


def test_french_dates_parse_day_first(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [
        ["msisdn", "operator", "date_portage"],
        [FRTE_A, "BOUY", "02/01/2025"],  # 2 January
        [FRTE_A, "SFR0", "01/02/2025"],  # 1 February: the latest
    ])
    assert port.build_table([ext], load_plan()).lookup(
        np.array([33607000001])).tolist() == ["SFR0"]


def test_without_dates_the_last_line_read_wins_across_files(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", [["msisdn", "op"], [FRTE_A, "BOUY"], [FRTE_A, "SFR0"]])
    b = write_csv(tmp_path / "b.csv", [["msisdn", "op"], [FRTE_B, "SFR0"], [FRTE_A, "FRMO"]])
    plan = load_plan()
    assert port.build_table([a], plan).lookup(np.array([33607000001])).tolist() == ["SFR0"]
    assert port.build_table([a, b], plan).lookup(np.array([33607000001])).tolist() == ["FRMO"]
    assert port.build_table([b, a], plan).lookup(np.array([33607000001])).tolist() == ["SFR0"]


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
    pd.DataFrame({"msisdn": [33607000001, 607000002], "mccmnc": [20810, 20820]}).to_parquet(f)
    table = port.build_table([f], load_plan())
    assert table.lookup(np.array([33607000001, 33607000002])).tolist() == ["SFR0", "BOUY"]


def test_extract_without_operator_column_is_an_input_error(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "ville"], [FRTE_A, "Paris"]])
    contacts = _contacts(tmp_path)
    result = run_cli(["check", str(contacts), "--portability", str(ext)])
    assert result.exit_code == 2
    assert "--portability-operator-column" in result.stderr
    assert "Traceback" not in result.stderr


def test_end_to_end_portability_moves_numbers_and_the_ratio(tmp_path: Path) -> None:
    contacts = _contacts(tmp_path)
    _, before = check_json([str(contacts), "--threshold", "1"])
    assert before["counts"]["other_operator"] == 2 and before["counts"]["unverified"] == 3
    assert before["error_ratio"] == pytest.approx(2 / 5)

    ext = write_csv(tmp_path / "p.csv", [
        ["msisdn", "operateur"],
        [FRTE_A, "20810"],  # Orange range, now SFR: out
        [FRTE_B, "06002"],  # Orange range, now SFR: out
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


def test_store_import_info_and_check(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "op", "date"], [FRTE_A, "SFR0", "2025-01-01"],
                                         [SFR_A, "20801", "2025-01-01"], [FRTE_A, "FRTE",
                                                                           "2024-01-01"]])
    store = tmp_path / "store.parquet"
    result = run_cli(["portability", "import", str(ext), "--into", str(store)])
    assert result.exit_code == 0, result.stderr
    info = run_cli(["portability", "info", str(store)])
    assert info.exit_code == 0
    assert "2 numbers from 3 extract rows" in info.stdout
    assert "SFR0" in info.stdout and str(ext) in info.stdout
    meta = port.store_info(store)
    assert meta["operators"] == {"SFR0": 1, "FRTE": 1} and meta["conflicts"] == 1
    _, report = check_json([str(_contacts(tmp_path)), "--portability-db", str(store),
                            "--threshold", "1"])
    assert report["attribution"]["ported_in"] == 1 and report["attribution"]["ported_out"] == 1


def test_interrupted_write_leaves_the_previous_store(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "op"], [FRTE_A, "SFR0"]])
    store = tmp_path / "store.parquet"
    assert run_cli(["portability", "import", str(ext), "--into", str(store)]).exit_code == 0
    before = store.read_bytes()

    def interrupted(*args: object, **kwargs: object) -> None:
        Path(str(args[1])).write_bytes(b"PAR1 half written")
        raise KeyboardInterrupt

    monkeypatch.setattr(port.pq, "write_table", interrupted)
    ext2 = write_csv(tmp_path / "p2.csv", [["msisdn", "op"], [FRTE_B, "BOUY"]])
    result = run_cli(["portability", "import", str(ext2), "--into", str(store)])
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
    old = port.store_info(store)
    exe = Path(sys.executable).with_name("rcsqualify")
    proc = subprocess.Popen([str(exe), "portability", "import", str(big), "--into", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    info = port.store_info(store)  # readable, whatever the moment of the kill
    assert info["rows"] in (old["rows"], len(np.unique(keys)))
    table = port.load_store(store)
    assert np.all(np.diff(table.keys) > 0)
