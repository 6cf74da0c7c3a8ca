"""The embedded ARCEP plan, ``rcsqualify plan`` and ``plan update``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from rcsqualify.numbering.plan import load_plan
from tests.helpers import check_json, run_cli, write_csv

SHIPPED = (resources.files("rcsqualify") / "data" / "arcep" / "MAJNUM.csv").read_bytes()
NEW_BLOCK = "060099;0600990000;0600999999;FRTE;Métropole;01/10/2026\r\n"


def test_shipped_plan_facts() -> None:
    plan = load_plan()
    assert plan.snapshot.isoformat() == "2026-04-17"
    assert plan.source == "shipped"
    assert len(plan.blocks) > 19_000
    assert plan.mcc_mnc["20801"] == "FRTE" and plan.mcc_mnc["20810"] == "SFR0"
    assert plan.routing_prefixes["06001"] == "FRTE" and plan.routing_prefixes["06000"] == "FRMO"
    # blocks of one length never overlap: searchsorted attribution relies on it
    for table in plan.tables.values():
        assert np.all(table.starts[1:] > table.ends[:-1])


def test_plan_command_shows_date_and_territories() -> None:
    result = run_cli(["plan"])
    assert result.exit_code == 0
    assert "2026-04-17" in result.stdout
    assert "Mayotte" in result.stdout and "FRTE" in result.stdout
    assert "ARCEP" in result.stdout


def test_plan_update_installs_a_valid_newer_plan(tmp_path: Path) -> None:
    f = tmp_path / "MAJNUM.csv"
    f.write_bytes(SHIPPED + NEW_BLOCK.encode("cp1252"))
    contacts = write_csv(tmp_path / "c.csv", [["tel"], ["0600990123"]])
    _, before = check_json([str(contacts), "--threshold", "1"])
    assert before["reasons"] == {"unallocated": 1}

    result = run_cli(["plan", "update", str(f)])
    assert result.exit_code == 0, result.stderr
    assert "2026-10-01" in result.stdout
    load_plan.cache_clear()
    _, after = check_json([str(contacts), "--threshold", "1"])
    assert after["reasons"] == {"not_checked": 1}
    assert after["tool"]["arcep_plan_date"] == "2026-10-01"

    assert "shipped" in run_cli(["plan", "reset"]).stdout
    load_plan.cache_clear()
    _, reset = check_json([str(contacts), "--threshold", "1"])
    assert reset["reasons"] == {"unallocated": 1}


def test_plan_update_rejects_bad_files_and_keeps_the_current_plan(tmp_path: Path) -> None:
    bad_header = tmp_path / "h.csv"
    bad_header.write_bytes(SHIPPED.replace(b"EZABPQM", b"PREFIX", 1))
    truncated = tmp_path / "t.csv"
    truncated.write_bytes(SHIPPED[:3000])
    garbage = tmp_path / "g.csv"
    garbage.write_bytes(bytes(range(256)) * 100)
    bad_rows = tmp_path / "r.csv"
    bad_rows.write_bytes(SHIPPED + b"0612;06ab;0612999999;FRTE;M\xe9tropole;01/01/2026\r\n")
    for f, needle in [(bad_header, "header"), (truncated, "rows"), (garbage, "MAJNUM"),
                      (bad_rows, "malformed")]:
        result = run_cli(["plan", "update", str(f)])
        assert result.exit_code == 2, f
        assert needle in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        load_plan.cache_clear()
        assert load_plan().source == "shipped"
