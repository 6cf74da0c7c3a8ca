"""Bulk capability: BotHub bulk jobs, RBM per number and batchGet, sampled estimates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from rcsqualify.bulkwindow import is_open as window_is_open
from rcsqualify.bulkwindow import next_opening as next_window_opening
from rcsqualify.capability.bothub_bulk import BotHubBulkProvider
from rcsqualify.capability.interface import CapabilityProvider, Tally
from rcsqualify.capability.rbm import plan_batches
from rcsqualify.contacts import ContactSource
from rcsqualify.numbering.plan import load_plan
from rcsqualify.pipeline import run_check
from rcsqualify.remote.cache import LookupCache, Scope
from rcsqualify.remote.policy import HttpPolicy
from rcsqualify.report.summary import summarize
from rcsqualify.verdict import RCS_ERROR, RCS_NO, RCS_YES
from tests.conftest import Emulator
from tests.helpers import (
    check_json,
    contacts_file,
    e164,
    emulator_truth,
    frte_numbers,
    run_cli,
    service_account,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")


# -- the night window ------------------------------------------------------------------

@pytest.mark.parametrize(("local", "is_open"), [
    ("2026-11-25 21:59", False), ("2026-11-25 22:00", True), ("2026-11-26 03:00", True),
    ("2026-11-26 06:59", True), ("2026-11-26 07:00", False), ("2026-07-14 12:00", False),
])
def test_window_hours(local: str, is_open: bool) -> None:
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=PARIS)
    assert window_is_open(now) is is_open
    assert window_is_open(now.astimezone(UTC)) is is_open  # whatever zone "now" is in


@pytest.mark.parametrize(("utc_now", "opening_utc"), [
    # The assumed window is the part common to "22:00 CET" and "22:00 Paris time":
    # 22:00 Paris in winter, 23:00 Paris in summer, i.e. always 21:00 UTC.
    ("2026-03-28 12:00", "2026-03-28 21:00"),  # winter time: 22:00 CET
    ("2026-03-29 12:00", "2026-03-29 21:00"),  # spring forward that night: 23:00 CEST
    ("2026-10-24 12:00", "2026-10-24 21:00"),  # still summer: 23:00 CEST
    ("2026-10-25 12:00", "2026-10-25 21:00"),  # fell back: 22:00 CET
    ("2026-10-25 06:30", "2026-10-25 21:00"),  # 07:30 CET: closed until the evening
])
def test_next_opening_across_dst(utc_now: str, opening_utc: str) -> None:
    now = datetime.strptime(utc_now, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    expected = datetime.strptime(opening_utc, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert next_window_opening(now) == expected


@pytest.mark.parametrize(("local", "is_open"), [
    ("2026-07-14 22:30", False), ("2026-07-14 23:00", True), ("2026-07-15 06:59", True),
    ("2026-07-15 07:00", False), ("2026-11-25 22:30", True),
])
def test_summer_window_is_the_common_part(local: str, is_open: bool) -> None:
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=PARIS)
    assert window_is_open(now) is is_open


def test_bulk_hours_option_overrides_the_window() -> None:
    from rcsqualify.bulkwindow import parse_hours

    hours = parse_hours("20:30-06:00")
    assert window_is_open(datetime(2026, 7, 14, 20, 45, tzinfo=PARIS), hours)
    assert not window_is_open(datetime(2026, 7, 15, 6, 0, tzinfo=PARIS), hours)
    assert window_is_open(datetime(2026, 7, 15, 12, 0, tzinfo=PARIS), parse_hours("server"))
    for bad in ("22-7", "25:00-07:00", "07:00-07:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)


# -- BotHub bulk over real HTTP ----------------------------------------------------------

def test_bulk_run_of_25000_numbers_in_3_jobs_resumes_after_kill(tmp_path: Path,
                                                               emulator: Emulator) -> None:
    emulator.configure(bulk_polls=10**6)  # jobs stay PENDING until we say so
    numbers = frte_numbers(25_000)
    f = contacts_file(tmp_path, numbers)
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    bulk = ["--capability", "bothub-bulk", "--bot-id", "test-bot",
            "--bothub-url", f"{emulator.base}/bothub/v1",
            "--bothub-token-url", f"{emulator.base}/oauth/v3/token", "--rate", "100",
            "--poll-interval", "0.2", "--threshold", "1", "-q"]
    env = {**os.environ, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([exe, "check", str(f), *bulk], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    job_dir = tmp_path / "cache" / "bulk_jobs"
    # the condition, polled: the three jobs accepted and saved (then polling is under way)
    while (len(list(job_dir.glob("*.json"))) < 3 if job_dir.exists() else True) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert emulator.stats()["jobs_submitted"] == 3
    jobs = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "bulk_jobs").glob("*.json")]
    assert sorted(len(j["keys"]) for j in jobs) == [5_000, 10_000, 10_000]
    assert "+33607" not in json.dumps(jobs)  # job file holds HMAC keys, not numbers

    emulator.configure(bulk_polls=0)  # the jobs are done now
    done = subprocess.run([exe, "check", str(f), *bulk, "--json-report",
                           str(tmp_path / "r.json")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert emulator.stats()["jobs_submitted"] == 3  # nothing submitted twice
    report = json.loads((tmp_path / "r.json").read_text())
    truth = emulator_truth(numbers)
    assert report["counts"]["reachable"] == sum(truth)
    assert report["counts"]["not_rcs"] == len(truth) - sum(truth)
    assert list((tmp_path / "cache" / "bulk_jobs").glob("*.json")) == []


def test_window_closed_exits_3_with_the_opening_time_and_caches_nothing(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(bulk_window="never")
    f = contacts_file(tmp_path, frte_numbers(30))
    cache = tmp_path / "cache"
    result, report = check_json([str(f), "--capability", "bothub-bulk", "--bot-id", "b",
                                 "--bothub-url", f"{emulator.base}/bothub/v1",
                                 "--bothub-token-url", f"{emulator.base}/oauth/v3/token",
                                 "--threshold", "0.5", "--cache-dir", str(cache)])
    # (at --threshold 1 nothing could push the ratio over: decided, even unchecked)
    assert result.exit_code == 3 and report["gate"] == "undecided" and report["incomplete"]
    assert "Paris time" in result.stderr and "--wait-for-window" in result.stderr
    assert any("22:00" in w for w in report["warnings"])
    assert report["counts"]["unverified"] == 30
    info = run_cli(["cache", "info", "--cache-dir", str(cache), "--json"])
    assert json.loads(info.stdout)["entries"] == 0


# -- batchGet -------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 499, 500, 501, 9_999, 10_000, 10_001, 20_000, 25_000,
                               1_000_000])
def test_batch_plan_never_under_500_or_over_10000(n: int) -> None:
    calls, remainder = plan_batches(n)
    sizes = [b - a for a, b in calls]
    assert all(500 <= s <= 10_000 for s in sizes)
    assert sum(sizes) + (remainder[1] - remainder[0] if remainder else 0) == n
    assert len(sizes) == (0 if n < 500 else -(-n // 10_000))
    # contiguous, non-overlapping: no number twice
    assert all(calls[i][1] == calls[i + 1][0] for i in range(len(calls) - 1))


def test_rbm_per_number_with_a_generated_service_account(tmp_path: Path,
                                                         emulator: Emulator) -> None:
    emulator.configure(numbers={e164(n): {"operator": "20801"} for n in frte_numbers(40)})
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    f = contacts_file(tmp_path, frte_numbers(40))
    result, report = check_json([str(f), "--capability", "rbm", "--rate", "200",
                                 *emulator.rbm_args(sa)])
    truth = emulator_truth(frte_numbers(40))
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["reachable"] == sum(truth)
    assert report["counts"]["not_rcs"] == 40 - sum(truth)
    assert emulator.stats()["tokens_issued"] == 1


def test_rbm_unknown_agent_is_a_configuration_error(tmp_path: Path, emulator: Emulator) -> None:
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    f = contacts_file(tmp_path, frte_numbers(3))
    result = run_cli(["check", str(f), "--capability", "rbm",
                      *emulator.rbm_args(sa, agent="someone-else")])
    assert result.exit_code == 2
    assert "agent" in result.stderr and "Traceback" not in result.stderr


def test_rbm_batch_chunks_lists_and_estimates(tmp_path: Path, emulator: Emulator) -> None:
    numbers = frte_numbers(12_000)
    # half the numbers on a network where the agent is launched
    emulator.configure(numbers={e164(n): {"operator": "20801" if i % 2 else "20810"}
                                for i, n in enumerate(numbers)})
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    f = contacts_file(tmp_path, numbers)
    _result, report = check_json([str(f), "--capability", "rbm-batch",
                                 *emulator.rbm_args(sa)])
    stats = emulator.stats()
    assert stats["batch_sizes"] == [6_000, 6_000]
    truth = emulator_truth(numbers)
    listed = sum(t for i, t in enumerate(truth) if i % 2)
    assert report["counts"]["reachable"] == listed
    assert report["reasons"]["batch_not_listed"] == 12_000 - listed
    iv = report["interval"]
    assert iv["method"] == "batchGet random sample"
    # Google's sample describes the whole request; every listed number is reachable, so
    # every failure is among the unlisted ones (issue #22 §2: not the request's rate)
    unlisted = 12_000 - listed
    true_fail = (12_000 - sum(truth)) / unlisted
    assert iv["failure_share_low"] <= true_fail <= iv["failure_share_high"]
    assert iv["failure_share_low"] > 1 - sum(truth) / len(truth)  # the old reading's
    assert iv["requested"] == 12_000 and iv["listed"] == listed
    true_ratio = (12_000 - sum(truth)) / 12_000
    assert iv["error_ratio_low"] <= true_ratio <= iv["error_ratio_high"]
    assert report["bounds"]["low"] <= true_ratio <= report["bounds"]["high"]

    emulator.reset(quota=1000, numbers={e164(n): {"operator": "20801" if i % 2 else "20810"}
                                        for i, n in enumerate(numbers)})
    _, launched = check_json([str(f), "--capability", "rbm-batch", "--agent-launched",
                              "--no-cache", *emulator.rbm_args(sa)])
    assert launched["counts"]["not_rcs"] == 12_000 - listed
    assert launched["counts"]["unverified"] == 0


def test_rbm_batch_remainder_under_500_goes_per_number(tmp_path: Path,
                                                       emulator: Emulator) -> None:
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    # the remainder goes at batchGet's 600 calls a minute: 40 numbers keep the test short
    f = contacts_file(tmp_path, frte_numbers(40))
    _, report = check_json([str(f), "--capability", "rbm-batch", *emulator.rbm_args(sa)])
    stats = emulator.stats()
    assert stats["batch_sizes"] == []
    assert stats["requests"]["rbm"] == 40
    assert report["counts"]["unverified"] == 0


# -- sampling ---------------------------------------------------------------------------

class TruthProvider(CapabilityProvider):
    """A real provider over a fixed truth table (no network): for 100 seeded trials."""

    name = "truth"

    def __init__(self, truth: dict[str, bool]) -> None:
        super().__init__(LookupCache(enabled=False), Scope("truth", "memory"))
        self.truth = truth

    async def ask(self, e164: list[str], todo: list[int], out: np.ndarray,
                  tally: Tally) -> None:
        self.stats.requests += len(todo)
        self.learned(out, [(i, e164[i], "yes" if self.truth[e164[i]] else "no")
                           for i in todo])


def test_sampled_interval_contains_the_true_ratio_in_90_of_100_trials(tmp_path: Path) -> None:
    numbers = frte_numbers(4_000)
    rng = np.random.default_rng(0)
    capable = rng.random(len(numbers)) < 0.8
    truth = {e164(n): bool(c) for n, c in zip(numbers, capable, strict=True)}
    f = contacts_file(tmp_path, [*numbers, *["N/A"] * 200, *["0145601234"] * 100])
    plan = load_plan()
    with ContactSource(str(f)) as src:
        full = run_check(src, plan, provider=TruthProvider(truth))
    true_ratio = summarize(full, plan, input_info={}, threshold=0.15).error_ratio
    inside = 0
    for seed in range(100):
        with ContactSource(str(f)) as src:
            provider = TruthProvider(truth)
            result = run_check(src, plan, provider=provider, sample=300, seed=seed)
        s = summarize(result, plan, input_info={}, threshold=0.15)
        assert provider.stats.requests == 300
        assert s.counts["unverified"] == 4_000 - 300
        assert s.interval is not None
        inside += s.interval["error_ratio_low"] <= true_ratio <= s.interval["error_ratio_high"]
    assert inside >= 90, inside


def test_sample_marks_unsampled_rows_and_gates_on_the_upper_end(tmp_path: Path,
                                                                emulator: Emulator) -> None:
    numbers = frte_numbers(400)
    f = contacts_file(tmp_path, numbers)
    out = tmp_path / "o.csv"
    result, report = check_json([str(f), *emulator.bothub_args(), "--rate", "200",
                                 "--sample", "50", "--seed", "7", "-o", str(out)])
    assert report["api"]["requests"] == 50
    assert report["reasons"]["not_sampled"] == 350
    iv = report["interval"]
    assert iv["error_ratio_low"] <= iv["error_ratio_estimate"] <= iv["error_ratio_high"]
    # 30 % not capable → the upper end is far over 15 %: the gate fails on it
    assert report["gate"] == "fail" and result.exit_code == 1
    import pandas as pd

    df = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False)
    assert (df["reason"] == "not_sampled").sum() == 350


class FakeTime:
    """A Paris wall clock that only moves when the provider sleeps: waits are asserted
    on what the provider asked for, never on how long a busy machine took."""

    def __init__(self, start: datetime, on_sleep: Callable[[float], None] | None = None
                 ) -> None:
        self.now = start
        self.slept: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        if self.on_sleep:
            self.on_sleep(seconds)


def bulk_provider(tmp_path: Path, emulator: Emulator, fake: FakeTime, **kwargs: object
                  ) -> BotHubBulkProvider:
    return BotHubBulkProvider(
        job_dir=tmp_path, clock=fake.clock, sleep=fake.sleep,
        base_url=f"{emulator.base}/bothub/v1", token_url=f"{emulator.base}/oauth/v3/token",
        client_id="emulator-client", client_secret="emulator-secret", bot_id="b",
        cache=LookupCache(tmp_path / "c"), policy=HttpPolicy(rate=100),
        **kwargs)  # type: ignore[arg-type]


def test_wait_for_window_sleeps_until_the_opening_then_goes_on(tmp_path: Path,
                                                                emulator: Emulator) -> None:
    """The clock says 21:59:58 Paris (winter): the provider sleeps the 2 s to 22:00
    (the emulator opens meanwhile) instead of giving up, then completes."""
    emulator.configure(bulk_window="never", bulk_polls=0)
    opened: list[bool] = []

    def open_window(seconds: float) -> None:
        if seconds >= 1 and not opened:
            emulator.configure(bulk_window="always")
            opened.append(True)

    fake = FakeTime(datetime(2026, 11, 25, 21, 59, 58, tzinfo=PARIS), open_window)
    notes: list[str] = []
    provider = bulk_provider(tmp_path, emulator, fake, wait_for_window=True,
                             poll_initial=0.1, notify=notes.append)
    numbers = [e164(n) for n in frte_numbers(50)]
    out = provider.check_all(numbers)
    truth = emulator_truth(frte_numbers(50))
    assert out.tolist() == [RCS_YES if t else RCS_NO for t in truth]
    assert fake.slept[0] == pytest.approx(2.0, abs=0.01)
    assert any("waiting until 2026-11-25 22:00" in n for n in notes)


def test_a_405_inside_the_assumed_window_backs_off_for_minutes_then_gives_up(
        tmp_path: Path, emulator: Emulator) -> None:
    """23:30 Paris in winter is inside the assumed window; BotHub still says 405. The
    provider waits ≥ 5 min, growing, never a 1-second loop, until the window's end
    (07:00), then stops with the numbers unverified."""
    emulator.configure(bulk_window="never")
    fake = FakeTime(datetime(2026, 11, 25, 23, 30, tzinfo=PARIS))
    provider = bulk_provider(tmp_path, emulator, fake, wait_for_window=True)
    out = provider.check_all([e164(n) for n in frte_numbers(5)])
    assert set(out.tolist()) == {RCS_ERROR}
    assert fake.slept and min(fake.slept) >= 300
    assert fake.slept == sorted(fake.slept)  # growing
    assert fake.now <= datetime(2026, 11, 26, 7, 0, tzinfo=PARIS)
    assert emulator.stats()["requests"]["bothub"] <= 10
    assert any("all through the assumed window" in n for n in provider.notes)


@pytest.mark.parametrize(("local", "left"), [
    # 23:30 CET, spring forward: 07:00 CEST is 05:00 UTC, 6.5 h away (not 7.5 h)
    ((2026, 3, 28, 23, 30), 6.5 * 3600),
    # 23:30 CEST, fall back: 07:00 CET is 06:00 UTC, 8.5 h away (not 7.5 h)
    ((2026, 10, 24, 23, 30), 8.5 * 3600),
])
def test_the_polling_deadline_counts_real_seconds_on_both_dst_nights(
        tmp_path: Path, local: tuple[int, ...], left: float) -> None:
    """Issue #23 R7: the deadline was wall-clock arithmetic on Paris datetimes, so on
    the spring-forward night polling ran an hour past the window (to 08:00 CEST)."""
    from rcsqualify import bulkwindow

    now = datetime(*local, tzinfo=PARIS)  # type: ignore[misc]
    assert bulkwindow.seconds_left(now) == left
    provider = BotHubBulkProvider(
        job_dir=tmp_path, clock=lambda: now, base_url="http://bulk.test/bothub/v1",
        token_url="http://bulk.test/token", client_id="c", client_secret="s", bot_id="b",
        cache=LookupCache(tmp_path / "c"), policy=HttpPolicy(rate=100))
    allowed = provider._deadline() - time.monotonic()
    assert left - 60 < allowed <= left


# -- issue #23 R9: why bulk jobs left numbers unverified ----------------------------------

def _scripted_bulk(tmp_path: Path, poll: Callable[[str, int], Any], n: int = 4
                   ) -> tuple[BotHubBulkProvider, np.ndarray, list[list[str]]]:
    """A bulk provider against a scripted BotHub (httpx transport): jobs are accepted
    as ``job1``, ``job2``…; ``poll(job id, times polled)`` answers each poll."""
    import httpx

    submitted: list[list[str]] = []
    polls: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.method == "POST":
            submitted.append(json.loads(request.content)["userContacts"])
            return httpx.Response(202, json={"jobId": f"job{len(submitted)}"})
        job = request.url.params["jobId"]
        polls[job] = polls.get(job, 0) + 1
        return poll(job, polls[job])

    fake = FakeTime(datetime(2026, 11, 25, 23, 0, tzinfo=PARIS))
    provider = BotHubBulkProvider(
        job_dir=tmp_path, clock=fake.clock, sleep=fake.sleep, poll_initial=0.05,
        base_url="http://bulk.test/bothub/v1", token_url="http://bulk.test/token",
        client_id="a", client_secret="b", bot_id="b", cache=LookupCache(tmp_path / "c"),
        policy=HttpPolicy(rate=1000, retry_backoff=0.0), transport=httpx.MockTransport(
            handler))
    out = provider.check_all([e164(x) for x in frte_numbers(n)])
    return provider, out, submitted


@pytest.mark.parametrize(("status", "body", "ctype", "said"), [
    (503, "busy", "text/plain", "HTTP 503"),
    (404, "<html>Not Found</html>", "text/html", "not JSON (html)"),
])
def test_a_poll_that_fails_is_reported_as_such_not_as_the_deadline(
        tmp_path: Path, status: int, body: str, ctype: str, said: str) -> None:
    import httpx

    provider, out, _ = _scripted_bulk(tmp_path, lambda job, k: httpx.Response(
        status, text=body, headers={"content-type": ctype}))
    assert list(out) == [RCS_ERROR] * 4
    note = next(n for n in provider.notes if "poll" in n)
    assert said in note and "the next run polls them again" in note
    assert not any("not finished by the deadline" in n for n in provider.notes)
    assert len(list((tmp_path / "bulk_jobs").glob("*.json"))) == 1  # kept for next time


def test_a_job_done_with_half_its_results_says_so(tmp_path: Path) -> None:
    import httpx

    def poll(job: str, k: int) -> httpx.Response:
        return httpx.Response(200, json={"status": "DONE", "results": [
            {"userContact": e164(x), "capabilities": ["chatBotCommunication"]}
            for x in frte_numbers(2)]})

    provider, out, _ = _scripted_bulk(tmp_path, poll)
    assert list(out) == [RCS_YES, RCS_YES, RCS_ERROR, RCS_ERROR]
    assert any("without a usable result for 2 of its 4 numbers" in n
               for n in provider.notes)


def test_a_fresh_job_that_vanishes_is_submitted_again_once(tmp_path: Path) -> None:
    """The comment said so, the code did not: a job BotHub forgets right after taking
    it (404 on poll) is submitted again, once; forgotten twice, the run says why."""
    import httpx

    def forgetful(job: str, k: int) -> httpx.Response:
        if job == "job1":
            return httpx.Response(404, json={"error": {"code": 404, "message": "unknown",
                                                       "status": "NOT_FOUND"}})
        return httpx.Response(200, json={"status": "DONE", "results": [
            {"userContact": e164(x), "capabilities": []} for x in frte_numbers(4)]})

    provider, out, submitted = _scripted_bulk(tmp_path / "a", forgetful)
    assert len(submitted) == 2 and list(out) == [RCS_NO] * 4

    always = lambda job, k: forgetful("job1", k)  # noqa: E731
    provider, out, submitted = _scripted_bulk(tmp_path / "b", always)
    assert len(submitted) == 2 and list(out) == [RCS_ERROR] * 4
    assert any("forgot 1 bulk job(s) just submitted, twice" in n for n in provider.notes)
