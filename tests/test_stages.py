"""MNP and capability in one stream (issue #14), over real HTTP against the emulator:
the stages overlap, the verdicts are those of the sequential order, nothing is asked
twice, and a run killed during both stages resumes to the same report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rcsqualify.operators.mnp import MnpSource
from tests.conftest import Emulator
from tests.helpers import cached_entries, check_json, contacts_file, frte_numbers


def both(emulator: Emulator, rate: str = "60") -> list[str]:
    return [*emulator.bothub_args(), "--mnp-url", emulator.mnp_url(), "--rate", rate,
            "--threshold", "1"]


def mixed_numbers(n: int) -> list[str]:
    """Orange-range mobiles (the emulator ports some away) and SFR-range ones (some
    ported to Orange): every number needs MNP, some then need capability."""
    return [*frte_numbers(n // 2), *[f"06010{i:05d}" for i in range(n - n // 2)]]


def test_capability_checks_start_while_mnp_lookups_go_on(tmp_path: Path,
                                                        emulator: Emulator) -> None:
    f = contacts_file(tmp_path, mixed_numbers(300))
    _, report = check_json([str(f), *both(emulator)])
    stats = emulator.stats()
    mnp, cap = stats["arrivals"]["mnp"], stats["arrivals"]["bothub"]
    assert len(mnp) == 300 and len(cap) == report["api"]["providers"]["bothub"]["requests"]
    assert len(cap) > 20
    # overlap: capability look-ups of early numbers arrived before the last MNP look-ups
    assert sum(1 for t in cap if t < mnp[-1]) >= len(cap) // 2
    assert all(v == 1 for v in stats["asked"].values())  # nothing asked twice
    assert sum(stats["throttled"].values()) == 0


def test_streamed_verdicts_equal_the_sequential_ones(tmp_path: Path, emulator: Emulator,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    f = contacts_file(tmp_path, mixed_numbers(200))
    _, streamed = check_json([str(f), *both(emulator, "500"), "--no-cache"])
    monkeypatch.setattr(MnpSource, "streams", False)  # the stages one after the other
    emulator.reset(quota=1000)
    _, sequential = check_json([str(f), *both(emulator, "500"), "--no-cache"])
    for key in ("counts", "reasons", "operators", "operator_sources", "error_ratio",
                "gate", "exit_code"):
        assert streamed[key] == sequential[key], key
    assert streamed["api"]["requests"] == sequential["api"]["requests"]


def test_kill_9_during_both_stages_then_rerun(tmp_path: Path, emulator: Emulator) -> None:
    f = contacts_file(tmp_path, mixed_numbers(240))
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    env = {**os.environ, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "cache")}
    args = [exe, "check", str(f), *both(emulator, "40"), "-q"]
    proc = subprocess.Popen([*args, "--json-report", str(tmp_path / "killed.json")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        requests = emulator.stats()["requests"]
        if requests.get("bothub", 0) >= 5 and requests.get("mnp", 0) >= 40:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = emulator.stats()["requests"]
    assert first.get("mnp", 0) < 240  # killed while both stages were running
    in_flight = sum(emulator.stats()["asked"].values()) - cached_entries(tmp_path / "cache")
    # the rerun and the fresh run go faster: only the killed run needs the slow rate
    subprocess.run([*args, "--rate", "400", "--json-report", str(tmp_path / "resumed.json")],
                   env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    asked = emulator.stats()["asked"]
    twice = [k for k, v in asked.items() if v > 1]
    assert len(twice) <= in_flight, (twice, in_flight)  # only what was in flight
    emulator.reset(quota=1000)
    fresh_env = {**env, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "fresh")}
    subprocess.run([*args, "--rate", "400", "--json-report", str(tmp_path / "fresh.json")],
                   env=fresh_env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resumed = json.loads((tmp_path / "resumed.json").read_text())
    fresh = json.loads((tmp_path / "fresh.json").read_text())
    for key in ("counts", "reasons", "operators", "error_ratio", "gate", "exit_code"):
        assert resumed[key] == fresh[key], key
