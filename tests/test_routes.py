"""A second route (issue #14 item 2, CONTRACT §2 "Send plan and routes"): other
operators' mobiles checked on RBM at the same time as Orange's on BotHub, over real HTTP
against the emulator."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import Emulator
from tests.helpers import check_json, contacts_file, frte_numbers, run_cli, service_account

OTHERS_LAUNCHED = ["20810", "20820", "20815"]  # SFR, Bouygues, Free: the agent is there


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCSQUALIFY_RETRY_BACKOFF", "0.01")


def routed(emulator: Emulator, tmp_path: Path) -> list[str]:
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    return [*emulator.bothub_args(), "--mnp-url", emulator.mnp_url(), "--rate", "300",
            "--other-route", "rbm", *emulator.rbm_args(sa)]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def test_four_operators_two_routes(tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(rbm_launched_mccmnc=OTHERS_LAUNCHED)
    numbers = frte_numbers(160)  # the emulator's MNP spreads them over the big four
    f = contacts_file(tmp_path, [*numbers, *numbers[:10]])
    lists, out, html = tmp_path / "lists", tmp_path / "out.csv", tmp_path / "r.html"
    _, report = check_json([str(f), *routed(emulator, tmp_path), "--split-dir", str(lists),
                            "-o", str(out), "--html-report", str(html), "--lang", "en"])
    ops = report["operators"]
    assert {"FRTE", "SFR0", "BOUY", "FRMO"} <= set(ops)  # FRMO: Free Mobile
    routes = report["routes"]["messages"]
    counts = report["counts"]
    assert routes["rbm"] > 0 and routes["bothub"] == counts["reachable"]
    assert routes["bothub"] + routes["rbm"] + routes["sms"] + routes["unverified"] == 160
    asked = emulator.stats()["asked"]
    assert asked and all(v == 1 for v in asked.values())  # nothing asked twice
    assert sum(1 for k in asked if k.startswith("rbm:")) == report["routes"][
        "other_route_checked"]
    # the second route changes nothing of the diagnosis: those stay other_operator
    _, single = check_json([str(f), *emulator.bothub_args(), "--mnp-url", emulator.mnp_url(),
                            "--rate", "300", "--threshold", "1", "--no-cache"])
    assert single["counts"] == counts and single["error_ratio"] == report["error_ratio"]
    # lists: send_rbm comes out of other_operators; the lists still partition the rows
    sizes = {p.stem: len(rows(p)) for p in lists.glob("*.csv")}
    assert sizes["send_rbm"] == routes["rbm"] == report["send_plan"]["lists"]["send_rbm"]
    assert sizes["other_operators"] + sizes["send_rbm"] == counts["other_operator"]
    assert sum(sizes.values()) + report["split_lists"]["duplicates"] == counts["rows"]
    page = html.read_text(encoding="utf-8")
    assert f"{routes['rbm']} through RBM" in page and "no threshold of its own" in page
    annotated = rows(out)
    assert len(annotated) == 170
    assert {r["route"] for r in annotated} <= {"bothub", "rbm", "sms", "unverified", ""}
    for r in annotated:
        if r["route"] == "rbm":
            assert r["status"] == "other_operator" and r["operator"] != "FRTE"
        if r["route"] == "bothub":
            assert r["status"] == "reachable"


def test_other_route_without_rbm_settings_is_exit_2_before_any_request(
        tmp_path: Path, emulator: Emulator) -> None:
    f = contacts_file(tmp_path, frte_numbers(20))
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--other-route", "rbm"])
    assert result.exit_code == 2 and "agent id" in result.stderr
    assert sum(emulator.stats()["requests"].values()) == 0


def test_a_failing_second_route_leaves_bothub_answers_valid(tmp_path: Path,
                                                             emulator: Emulator) -> None:
    emulator.configure(rbm_launched_mccmnc=OTHERS_LAUNCHED,
                       inject=[{"family": "rbm", "status": 503, "count": 10**6,
                                "content_type": "application/json", "body": "{}"}])
    f = contacts_file(tmp_path, frte_numbers(60))
    result, report = check_json([str(f), *routed(emulator, tmp_path)])
    emulator.reset(quota=1000)
    _, healthy = check_json([str(f), *emulator.bothub_args(), "--mnp-url",
                             emulator.mnp_url(), "--rate", "300", "--threshold", "1",
                             "--no-cache"])
    assert report["counts"]["reachable"] == healthy["counts"]["reachable"]
    assert report["routes"]["messages"]["unverified"] == healthy["counts"]["other_operator"]
    assert report["routes"]["messages"]["rbm"] == 0
    # the second route's failures change no ratio (other operators fail through BotHub
    # either way): the bounds still decide, the run exits with its decision and says
    # what failed (issue #22 §1)
    assert result.exit_code == 0 and report["gate"] == report["decision"] == "pass"
    assert report["incomplete"] and report["failed_checks"]["other_route_error"] == \
        healthy["counts"]["other_operator"]
    assert "some checks could not be done" in result.stderr
