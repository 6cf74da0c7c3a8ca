"""Issue #25 items 3 and 5 over real HTTP: an MNP service and a second route (RBM) with
several phone columns, against the emulator. A contact whose first number was ported
out is rescued by its second, an Orange RCS mobile; a contact whose only reachable
number is reachable on RBM is sent there; and only the numbers that could change a
contact's choice are asked, counted in the emulator's request log."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Emulator
from tests.helpers import check_json, e164, service_account, write_csv

pytestmark = pytest.mark.usefixtures("quick_retries")

ORANGE, SFR, BOUYGUES = "20801", "20810", "20820"
FIXED = "01 45 67 89 10"


def numbered(count: int, start: int) -> list[str]:
    """``count`` numbers of the Orange range (what the emulator's MNP says of them is
    set per test: the range holder alone decides nothing here)."""
    return [f"0607{start + i:06d}" for i in range(count)]


def configure(emulator: Emulator, numbers: dict[str, tuple[str, bool]],
              **config: Any) -> None:
    """Per national number: the network MNP answers and whether it is RCS-capable."""
    emulator.configure(numbers={e164(n): {"operator": op, "capable": cap}
                                for n, (op, cap) in numbers.items()}, **config)


def asked(emulator: Emulator, family: str) -> set[str]:
    return {k.split(":", 1)[1] for k, v in emulator.stats()["asked"].items()
            if k.startswith(f"{family}:") and v}


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


@pytest.mark.parametrize("batch", [3, 20_000])
def test_mnp_with_three_columns_rescues_ported_out_first_numbers(
        tmp_path: Path, emulator: Emulator, batch: int, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    """Each round streams MNP into BotHub (``contact_check.STREAM_BATCH`` numbers at a
    time: 3 makes the first round three streams): the same asks and verdicts."""
    from rcsqualify import contact_check

    monkeypatch.setattr(contact_check, "STREAM_BATCH", batch)
    a1, a2, b1, b2, c1, c2, d2, e1, f1, f2, f3, g1, g2 = numbered(13, 100)
    configure(emulator, {
        a1: (SFR, True), a2: (ORANGE, True),        # ported out, then Orange RCS
        b1: (ORANGE, True), b2: (ORANGE, True),     # reachable first: b2 never asked
        c1: (ORANGE, False), c2: (ORANGE, True),    # not RCS, then RCS
        d2: (ORANGE, True),                         # a fixed line first
        e1: (BOUYGUES, True),                       # one number, ported out
        f1: (SFR, True), f2: (ORANGE, False), f3: (ORANGE, True),  # the third rescues
        g1: (ORANGE, True), g2: (SFR, True),        # reachable first: g2 never asked
    })
    f = write_csv(tmp_path / "three.csv", [
        ["nom", "m1", "m2", "m3"],
        ["A", a1, a2, ""], ["B", b1, b2, ""], ["C", c1, c2, ""], ["D", FIXED, d2, ""],
        ["E", e1, "", ""], ["F", f1, f2, f3], ["G", g1, "", g2], ["H", "", "", ""],
        ["I", "pas de numéro", "", ""]])
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "-c", "m1", "-c", "m2", "-c", "m3",
                                 *emulator.bothub_args(), "--mnp-url", emulator.mnp_url(),
                                 "--rate", "300", "--threshold", "1", "--no-cache",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.stderr

    # only the numbers that could change a choice: never b2 nor g2
    assert asked(emulator, "mnp") == {e164(n) for n in (a1, a2, b1, c1, c2, d2, e1, f1,
                                                        f2, f3, g1)}
    assert asked(emulator, "bothub") == {e164(n) for n in (a2, b1, c1, c2, d2, f2, f3, g1)}
    assert all(v == 1 for v in emulator.stats()["asked"].values())  # none asked twice

    c = report["counts"]
    assert c["contacts"] == 9 == c["messages"] + c["duplicates"]
    assert c["reachable"] == 6  # A, B, C, D, F, G
    assert c["rescued"] == 4  # A, C, D, F
    block = report["input"]["contacts"]
    assert block["rescued_by_status"] == {"reachable": 4}
    assert block["looked_up"] == 11

    rows = read_rows(out)
    assert [r["nom"] for r in rows] == list("ABCDEFGHI")  # every input row, in order
    by = {r["nom"]: r for r in rows}
    assert by["A"]["m1_status"] == "other_operator" and by["A"]["m2_status"] == "reachable"
    assert by["A"]["status"] == "reachable" and by["A"]["chosen_column"] == "m2"
    assert by["A"]["chosen_number"] == e164(a2) and by["A"]["operator"] == "FRTE"
    assert by["C"]["m1_status"] == "not_rcs" and by["C"]["chosen_column"] == "m2"
    assert by["D"]["m1_status"] == "not_mobile" and by["D"]["chosen_column"] == "m2"
    assert by["E"]["status"] == "other_operator" and by["E"]["m2_status"] == ""
    assert [by["F"][f"m{i}_status"] for i in (1, 2, 3)] == [
        "other_operator", "not_rcs", "reachable"]
    assert by["F"]["chosen_column"] == "m3"
    # never asked: its local verdict (the Orange range, not checked), not a guess
    assert by["B"]["m2_status"] == "unverified" and by["B"]["chosen_column"] == "m1"
    assert by["G"]["m3_status"] == "unverified" and by["G"]["m3_e164"] == e164(g2)
    assert by["H"]["status"] == "invalid" and by["H"]["chosen_column"] == ""
    assert by["I"]["status"] == "invalid" and by["I"]["m1_status"] == "invalid"


def test_other_route_with_two_columns_sends_rbm_only_contacts_there(
        tmp_path: Path, emulator: Emulator) -> None:
    g1, g2, h1, h2, i1, i2, j1, k1, k2 = numbered(9, 200)
    configure(emulator, {
        g1: (ORANGE, False), g2: (SFR, True),      # only reachable number: on RBM
        h1: (ORANGE, True), h2: (SFR, True),       # reachable on BotHub: h2 never asked
        i1: (SFR, True), i2: (ORANGE, True),       # RBM first, BotHub could beat it: asked
        j1: (BOUYGUES, True),                      # other operator, RBM not launched there
        k1: (SFR, True), k2: (ORANGE, False),      # RBM; the second, Orange, asked: not RCS
    }, rbm_launched_mccmnc=[SFR])
    f = write_csv(tmp_path / "two.csv", [["nom", "m1", "m2"], ["G", g1, g2], ["H", h1, h2],
                                          ["I", i1, i2], ["J", j1, ""], ["K", k1, k2]])
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(),
                                 "--mnp-url", emulator.mnp_url(), "--rate", "300",
                                 "--no-cache", "--other-route", "rbm",
                                 *emulator.rbm_args(sa), "-o", str(out)])
    assert result.exit_code == 0, result.stderr

    assert asked(emulator, "mnp") == {e164(n) for n in (g1, g2, h1, i1, i2, j1, k1, k2)}
    assert asked(emulator, "bothub") == {e164(n) for n in (g1, h1, i2, k2)}
    assert asked(emulator, "rbm") == {e164(n) for n in (g2, i1, j1, k1)}
    assert all(v == 1 for v in emulator.stats()["asked"].values())

    rows = read_rows(out)
    assert [r["nom"] for r in rows] == list("GHIJK")
    by = {r["nom"]: r for r in rows}
    # G: its only reachable number is on RBM: chosen, sent there
    assert by["G"]["chosen_column"] == "m2" and by["G"]["route"] == "rbm"
    assert by["G"]["m1_status"] == "not_rcs" and by["G"]["m2_status"] == "other_operator"
    assert by["G"]["status"] == "other_operator"
    assert by["H"]["route"] == "bothub" and by["H"]["chosen_column"] == "m1"
    assert by["H"]["m2_e164"] == e164(h2)  # listed, never asked
    assert by["I"]["route"] == "bothub" and by["I"]["chosen_column"] == "m2"
    assert by["J"]["route"] == "sms" and by["J"]["status"] == "other_operator"
    assert by["K"]["route"] == "rbm" and by["K"]["chosen_column"] == "m1"
    assert by["K"]["m2_status"] == "not_rcs"
    routes = report["routes"]["messages"]
    assert routes["rbm"] == 2 and routes["bothub"] == 2 == report["counts"]["reachable"]
    assert report["counts"]["rescued"] == 2  # G (by RBM) and I (by BotHub)


def test_ctrl_c_in_a_streamed_round_then_rerun_asks_nothing_twice(
        tmp_path: Path, emulator: Emulator) -> None:
    """Ctrl-C while a round streams MNP into BotHub, in a separate process: exit 130;
    every answer was cached as it arrived, so the re-run asks again only what was in
    flight, and its report is the one of a run never interrupted (the emulator answers
    each number the same way every time)."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    emulator.reset(quota=1000)
    n = 200
    f = write_csv(tmp_path / "two.csv", [["nom", "m1", "m2"], *[
        [f"c{i}", f"0607{i:06d}", f"0607{n + i:06d}"] for i in range(n)]])
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    env = {**os.environ, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "cache")}
    args = [exe, "check", str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(),
            "--mnp-url", emulator.mnp_url(), "--threshold", "1", "-q"]

    def requests() -> tuple[int, int]:
        got = emulator.stats()["requests"]
        return int(got.get("mnp", 0)), int(got.get("bothub", 0))

    # at 20/s the run takes 15 s or more; it is interrupted after about 5
    proc = subprocess.Popen([*args, "--rate", "20", "--json-report", str(tmp_path / "x.json")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while (min(requests()) < 30 or sum(requests()) < 120) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    mnp, bothub = requests()
    assert mnp >= 30 and bothub >= 30  # both services were asked in the same round
    resumed = subprocess.run([*args, "--rate", "400", "--json-report",
                              str(tmp_path / "r.json")], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    asked = emulator.stats()["asked"]
    twice = [k for k, v in asked.items() if v > 1]
    assert len(twice) <= 100 < mnp + bothub  # only what was in flight, not a new start

    emulator.reset(quota=1000)
    fresh = subprocess.run([*args, "--rate", "400", "--json-report",
                            str(tmp_path / "f.json")],
                           env={**env, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "fresh")},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = json.loads((tmp_path / "r.json").read_text())
    uninterrupted = json.loads((tmp_path / "f.json").read_text())
    assert resumed.returncode == fresh.returncode
    for key in ("counts", "reasons", "operators"):
        assert report[key] == uninterrupted[key], key
    assert report["input"]["contacts"]["rescued_by_status"] == uninterrupted["input"][
        "contacts"]["rescued_by_status"]
