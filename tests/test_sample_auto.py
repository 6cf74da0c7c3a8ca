"""``--sample auto`` over real HTTP against the emulator (issue #22 §2–3).

20k-row bases decided PASS and FAIL with a few hundred look-ups, one left UNDECIDED by
``--sample-max``; the requests the emulator counted are what the report says; MNP and
capability resolved per drawn number; a run killed with SIGKILL and re-run asks no number
twice (beyond the requests in flight at the kill) and reaches the same decision; the
draw order is a keyed hash of (seed, number), independent of the file's order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rcsqualify.sample_auto import draw_order
from tests.conftest import Emulator
from tests.helpers import cached_entries, check_json, contacts_file, frte_numbers, run_cli

BASE = frte_numbers(20_000)


def auto_args(emulator: Emulator, tmp_path: Path, *extra: str) -> list[str]:
    return [str(contacts_file(tmp_path, BASE)), *emulator.bothub_args(), "--sample", "auto",
            "--rate", "400", "--cache-dir", str(tmp_path / "cache"), *extra]


def requests_of(emulator: Emulator, family: str = "bothub") -> int:
    return int(emulator.stats()["requests"].get(family, 0))


def check_the_report(report: dict[str, Any], emulator: Emulator) -> dict[str, Any]:
    """What the report says was asked is what the emulator saw, and the bound holds the
    truth it claims to bound."""
    iv: dict[str, Any] = report["interval"]
    assert iv["method"] == "sample auto"
    assert report["api"]["requests"] == requests_of(emulator) == iv["drawn"]
    assert iv["observed"] <= iv["drawn"] <= iv["observed"] + 64  # at most a window past
    counts = report["counts"]
    assert counts["unverified"] == iv["extrapolated"] == 20_000 - iv["drawn"]
    assert iv["error_ratio_low"] <= iv["error_ratio_high"]
    assert "error_ratio_estimate" not in iv  # the bound at the stop, no point estimate
    return iv


def test_a_clean_base_passes_with_a_few_hundred_lookups(tmp_path: Path,
                                                        emulator: Emulator) -> None:
    emulator.reset(quota=1000, capable_share=0.95)  # ~5 % fail, threshold 15 %
    result, report = check_json(auto_args(emulator, tmp_path))
    iv = check_the_report(report, emulator)
    assert (iv["decision"], report["decision"], result.exit_code) == ("pass", "pass", 0)
    assert report["bounds"]["high"] == iv["error_ratio_high"]
    assert iv["error_ratio_high"] <= 0.15 < report["error_ratio_upper"]
    assert iv["drawn"] < 600


def test_a_bad_base_fails_with_a_few_hundred_lookups(tmp_path: Path,
                                                     emulator: Emulator) -> None:
    emulator.reset(quota=1000, capable_share=0.6)  # ~40 % fail
    result, report = check_json(auto_args(emulator, tmp_path))
    iv = check_the_report(report, emulator)
    assert (iv["decision"], report["decision"], result.exit_code) == ("fail", "fail", 1)
    assert report["bounds"]["low"] == iv["error_ratio_low"] > 0.15
    assert iv["drawn"] < 300


def test_sample_max_leaves_a_close_base_undecided(tmp_path: Path,
                                                  emulator: Emulator) -> None:
    emulator.reset(quota=1000, capable_share=0.85)  # ~15 %: at the threshold
    result, report = check_json(auto_args(emulator, tmp_path, "--sample-max", "150"))
    iv = check_the_report(report, emulator)
    assert (iv["decision"], report["decision"], result.exit_code) == (
        "undecided", "undecided", 3)
    assert (report["bounds"]["low"], report["bounds"]["high"]) == (
        iv["error_ratio_low"], iv["error_ratio_high"])
    assert result.stderr.startswith("UNDECIDED: between ")
    assert "(the --sample auto bound, valid wherever it stopped)" in result.stderr
    assert iv["drawn"] == iv["observed"] == 150 == requests_of(emulator)
    assert iv["error_ratio_low"] <= 0.15 < iv["error_ratio_high"]


def test_exact_messages_are_not_sampled(tmp_path: Path, emulator: Emulator) -> None:
    """Invalid rows and cached answers are exact: the first run's answers are not asked
    again, and the re-run's population is what the cache does not hold."""
    emulator.reset(quota=1000, capable_share=0.95)
    numbers = [*BASE[:3000], *["garbage"] * 100]
    f = contacts_file(tmp_path, numbers)
    common = [str(f), *emulator.bothub_args(), "--rate", "400",
              "--cache-dir", str(tmp_path / "cache")]
    _, first = check_json([*common, "--sample", "auto"])
    iv = first["interval"]
    assert (iv["exact_messages"], iv["exact_failures"], iv["unresolved"]) == (100, 100, 3000)
    asked = requests_of(emulator)
    _, second = check_json([*common, "--sample", "auto"])
    iv2 = second["interval"]
    assert iv2["exact_messages"] == 100 + iv["drawn"]
    assert iv2["unresolved"] == 3000 - iv["drawn"]
    assert max(emulator.stats()["asked"].values()) == 1  # no number asked twice
    assert requests_of(emulator) == asked + iv2["drawn"]


def test_mnp_then_capability_per_drawn_number(tmp_path: Path, emulator: Emulator) -> None:
    """A drawn number whose operator is unknown is resolved completely: MNP, then the
    capability check only if it is a target-operator mobile."""
    emulator.reset(quota=1000, capable_share=0.95)
    f = contacts_file(tmp_path, BASE[:5000])
    args = [str(f), *emulator.bothub_args(), "--mnp-url", emulator.mnp_url(), "--sample",
            "auto", "--rate", "400", "--cache-dir", str(tmp_path / "cache")]
    result, report = check_json(args)
    iv = report["interval"]
    # about 60 % of the numbers are with another operator: a quick FAIL
    assert (iv["decision"], result.exit_code) == ("fail", 1)
    stats = emulator.stats()["requests"]
    assert stats["mnp"] == iv["drawn"] == report["api"]["providers"]["mnp"]["requests"]
    frte = report["operators"].get("FRTE", 0)
    assert 0 < stats["bothub"] == frte < iv["drawn"]
    assert report["counts"]["unverified"] == 5000 - iv["drawn"]
    # a re-run: the cached operators and answers are exact, nothing is asked twice
    _, again = check_json(args)
    assert again["interval"]["exact_messages"] == iv["drawn"]
    assert again["interval"]["exact_failures"] == iv["drawn"] - report["counts"]["reachable"]
    assert max(emulator.stats()["asked"].values()) == 1


def test_kill_9_then_rerun_asks_nothing_twice_and_decides_the_same(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.reset(quota=1000, capable_share=0.9)
    f = contacts_file(tmp_path, BASE)
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    env = {**os.environ, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "cache")}
    args = [exe, "check", str(f), *emulator.bothub_args(), "--sample", "auto",
            "--json-report", str(tmp_path / "r.json"), "-q"]
    proc = subprocess.Popen([*args, "--rate", "40"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while requests_of(emulator) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = requests_of(emulator)
    assert killed_at >= 60
    in_flight = sum(emulator.stats()["asked"].values()) - cached_entries(tmp_path / "cache")
    done = subprocess.run([*args, "--rate", "400"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    report = json.loads((tmp_path / "r.json").read_text())
    twice = [k for k, v in emulator.stats()["asked"].items() if v > 1]
    assert len(twice) <= in_flight <= 64
    # the same decision as a run never interrupted, on a fresh cache
    emulator.reset(quota=1000, capable_share=0.9)
    fresh = subprocess.run([*args[:-3], "--json-report", str(tmp_path / "f.json"), "-q",
                            "--rate", "400"],
                           env={**env, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "fresh")},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uninterrupted = json.loads((tmp_path / "f.json").read_text())
    assert report["interval"]["decision"] == uninterrupted["interval"]["decision"] == "pass"
    assert done.returncode == fresh.returncode == 0


def test_dry_run_prints_the_planner_and_asks_nothing(tmp_path: Path,
                                                     emulator: Emulator) -> None:
    emulator.reset(quota=1000)
    f = contacts_file(tmp_path, [*BASE[:2000], *["x"] * 200])
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--sample", "auto",
                      "--dry-run", "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.stderr
    assert "--sample auto: 2,000 unresolved messages, 200 exact (200 failing)" in result.stderr
    assert "expected numbers to draw: median" in result.stderr
    assert requests_of(emulator) == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--sample", "0"], "--sample must be auto or a positive whole number"),
    (["--sample", "some"], "--sample must be auto or a positive whole number"),
    (["--sample", "auto", "--capability", "bothub-bulk"], "--sample auto resolves one"),
    (["--sample", "auto"], "--sample auto resolves one"),  # no capability provider
])
def test_bad_sample_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    f = contacts_file(tmp_path, BASE[:10])
    result = run_cli(["check", str(f), *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_draw_order_is_a_keyed_hash_of_seed_and_number() -> None:
    keys = np.array([33607000000 + i for i in range(1000)], dtype=np.int64)
    order = keys[draw_order(keys, 7)]
    shuffled = np.random.default_rng(1).permutation(keys)
    assert np.array_equal(shuffled[draw_order(shuffled, 7)], order)  # file order: no say
    assert not np.array_equal(keys[draw_order(keys, 8)], order)  # the seed: all of it
    # a subset (what the cache does not hold) keeps the relative order of the whole
    part = keys[::3]
    assert np.array_equal(part[draw_order(part, 7)], order[np.isin(order, part)])


class SlowFirstProvider:
    """A capability provider without HTTP whose answers come back out of draw order: a
    failing number answers late (as numbers needing MNP do in real runs, and they fail
    more often), the others at once."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.rng = np.random.default_rng(3)
        self.completed: list[str] = []

    def answers_from_cache(self, e164: Any, out: np.ndarray) -> list[int]:
        return list(range(len(e164)))

    def session(self) -> Any:
        import contextlib

        @contextlib.asynccontextmanager
        async def nothing() -> Any:
            yield

        return nothing()

    async def resolve(self, e164: str) -> int:
        import asyncio

        from rcsqualify.verdict import RCS_NO, RCS_YES

        await asyncio.sleep(0.02 if e164 in self.failing else float(self.rng.random()) * 0.002)
        self.completed.append(e164)
        return int(RCS_NO if e164 in self.failing else RCS_YES)


def test_outcomes_enter_the_bound_in_draw_order_not_completion_order() -> None:
    """Answers completing out of order are held back: the run stops exactly where a gate
    fed in draw order stops, whatever order the answers arrived in."""
    from rcsqualify.distinct import Distinct
    from rcsqualify.sample_auto import AutoSample, sample_auto
    from rcsqualify.sequential import SequentialGate
    from rcsqualify.verdict import KIND, RCS_UNKNOWN

    n = 3000
    keys = np.arange(33607000000, 33607000000 + n, dtype=np.int64)
    drawn_keys = keys[draw_order(keys, 5)]
    failing = {f"+{k}" for i, k in enumerate(drawn_keys.tolist()) if i % 3 == 0}
    d = Distinct(key=keys, block=np.zeros(n, np.int32),
                 kind=np.full(n, KIND["mobile"], np.uint8),
                 operator=np.full(n, "", dtype=object), source=np.zeros(n, np.uint8),
                 rcs=np.full(n, RCS_UNKNOWN, np.uint8), reason=np.zeros(n, np.uint8),
                 first_row=np.arange(n), block_operator=np.array(["FRTE"], dtype=object))
    provider = SlowFirstProvider(failing)
    auto = AutoSample(threshold=0.2, sample_max=2000, seed=5, in_flight=16)
    estimate, not_sampled = sample_auto(d, 0, [], provider, "FRTE", auto)  # type: ignore[arg-type]
    completed = [int(e[1:]) for e in provider.completed]
    assert completed != drawn_keys[:len(completed)].tolist()  # arrived out of order
    assert sorted(completed) == sorted(drawn_keys[:len(completed)].tolist())
    expected = SequentialGate(exact_fail=0, exact_total=0, unresolved=n, threshold=0.2)
    for k in drawn_keys.tolist():
        if expected.observe("fail" if f"+{k}" in failing else "ok"):
            break
    assert (estimate["decision"], estimate["observed"]) == (expected.decision, expected.drawn)
    assert estimate["drawn"] - estimate["observed"] <= 16
    assert int(not_sampled.sum()) == n - estimate["drawn"]


def test_with_a_second_route_only_drawn_numbers_go_to_rbm(tmp_path: Path,
                                                          emulator: Emulator) -> None:
    """--other-route with --sample auto: the other operators' mobiles the draws revealed
    are checked on RBM; the undrawn, whose operator nobody knows, are asked nothing."""
    from tests.helpers import service_account

    emulator.configure(rbm_launched_mccmnc=["20810", "20820", "20815"])
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    f = contacts_file(tmp_path, BASE[:3000])
    _, report = check_json([str(f), *emulator.bothub_args(), "--mnp-url", emulator.mnp_url(),
                            "--other-route", "rbm", *emulator.rbm_args(sa), "--threshold",
                            "0.15", "--sample", "auto", "--rate", "400",
                            "--cache-dir", str(tmp_path / "cache")])
    iv = report["interval"]
    assert iv["decision"] == "fail" and iv["drawn"] < 3000
    others = sum(v for k, v in report["operators"].items() if k not in ("FRTE", ""))
    stats = emulator.stats()["requests"]
    assert stats["mnp"] == iv["drawn"]
    assert 0 < stats["rbm"] == others == report["routes"]["other_route_checked"]
    assert sum(report["routes"]["messages"].values()) == 3000


def test_an_undecided_run_names_the_cap_that_decides_and_it_does(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.reset(quota=1000, capable_share=0.9)  # ~10 %: 5 points under the threshold
    result, report = check_json(auto_args(emulator, tmp_path, "--sample-max", "60"))
    assert (report["decision"], result.exit_code) == ("undecided", 3)
    step = report["next_steps"][0]
    assert step["kind"] == "sample_auto" and step["option"].startswith(
        "--sample auto --sample-max ")
    assert f"Decide with {step['option']} (about {step['lookups']} look-ups" in result.stderr
    cap = step["option"].rsplit(" ", 1)[1]
    result, report = check_json(auto_args(emulator, tmp_path, "--sample-max", cap))
    assert (report["decision"], result.exit_code) == ("pass", 0)
    assert max(emulator.stats()["asked"].values()) == 1  # the first 60 were not asked again
    assert report["interval"]["exact_messages"] == 60
