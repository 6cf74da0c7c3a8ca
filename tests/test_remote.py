"""Remote checks over real HTTP against the emulator process (and over httpx transports).

Rates and pauses are raised/shortened for speed; the properties checked are the ones of
CONTRACT §5: pacing never over the rate, one 429 → one pause, faults retried, tokens
refreshed, only necessary calls, resumable runs, no secret or number leaked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from rcsqualify.capability.bothub import BotHubProvider
from rcsqualify.emulator.app import EmulatorConfig, build_app
from rcsqualify.remote.cache import LookupCache
from rcsqualify.remote.policy import HttpPolicy
from rcsqualify.verdict import RCS_ERROR, RCS_NO, RCS_NO_FEATURE, RCS_YES
from tests.conftest import Emulator
from tests.helpers import (
    cached_entries,
    check_json,
    contacts_file,
    e164,
    emulator_truth,
    frte_numbers,
    run_cli,
    write_csv,
)


def test_bothub_verdicts_and_a_warm_rerun_makes_no_request(tmp_path: Path,
                                                           emulator: Emulator) -> None:
    numbers = frte_numbers(60)
    f = contacts_file(tmp_path, numbers + numbers[:5])  # 5 duplicate rows
    out = tmp_path / "o.csv"
    result, report = check_json([str(f), *emulator.bothub_args(), "--rate", "200",
                                 "--threshold", "1", "-o", str(out)])
    truth = emulator_truth(numbers)
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["reachable"] == sum(truth)
    assert report["counts"]["not_rcs"] == len(truth) - sum(truth)
    assert report["api"]["requests"] == 60  # distinct numbers only
    stats = emulator.stats()
    assert stats["requests"]["bothub"] == 60
    assert all(v == 1 for k, v in stats["asked"].items() if k.startswith("bothub:"))
    import pandas as pd

    df = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False)
    assert df["rcs"].tolist()[:60] == ["yes" if t else "no" for t in truth]

    emulator.reset(quota=1000)
    _, warm = check_json([str(f), *emulator.bothub_args(), "--rate", "200",
                          "--threshold", "1"])
    assert warm["api"]["requests"] == 0 and warm["api"]["cache_hits"] == 60
    assert warm["counts"] == report["counts"]
    assert emulator.stats()["requests"] == {}


def test_only_target_operator_mobiles_are_checked(tmp_path: Path, emulator: Emulator) -> None:
    numbers = [*frte_numbers(10), "0601010101", "0145601234", "N/A", "0651000001"]
    f = contacts_file(tmp_path, numbers)
    _, report = check_json([str(f), *emulator.bothub_args(), "--rate", "200",
                            "--threshold", "1"])
    assert report["api"]["requests"] == 10
    assert emulator.stats()["requests"]["bothub"] == 10


def test_pacing_at_the_write_over_real_http(tmp_path: Path, emulator: Emulator) -> None:
    """1,000 look-ups over real HTTP (httpcore's network transport, whose
    ``send_request_headers`` trace event takes the slot): every request was written at
    least 1/rate after the previous one, on the client's own clock. Nothing here depends
    on how fast or loaded the machine is: the server's quota is set out of the way."""
    emulator.configure(quota=100_000)
    numbers = [e164(n) for n in frte_numbers(1000)]
    provider = BotHubProvider(
        base_url=f"{emulator.base}/bothub/v1", token_url=f"{emulator.base}/oauth/v3/token",
        client_id="emulator-client", client_secret="emulator-secret", bot_id="b",
        cache=LookupCache(tmp_path / "c"), policy=HttpPolicy(rate=400))
    out = provider.check_all(numbers)
    sent = np.array(provider.http.pacer.sent_at)
    # every send counted once; on a loaded machine (the full suite on 2 busy cores) a
    # request may time out and be sent again (1,003 or 1,004 of them): still paced
    # (a retry may also come before any write: a connection that timed out)
    assert len(sent) == provider.stats.requests
    assert 1000 <= len(sent) <= 1000 + provider.stats.retries
    assert np.diff(sent).min() >= 1 / 400 - 1e-9
    assert RCS_ERROR not in out
    assert 1000 <= emulator.stats()["requests"]["bothub"] <= len(sent)


def test_one_429_means_one_pause_then_completion(tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(force_429=1)
    numbers = frte_numbers(40)
    f = contacts_file(tmp_path, numbers)
    result, report = check_json([str(f), *emulator.bothub_args(), "--rate", "100",
                                 "--throttle-pause", "1.5", "--threshold", "1"])
    stats = emulator.stats()
    assert report["api"]["throttled"] == 1
    assert report["counts"]["unverified"] == 0
    arrivals = np.array(stats["arrivals"]["bothub"])
    gaps = np.diff(arrivals)
    assert np.count_nonzero(gaps >= 1.5 * 0.95) == 1  # exactly one pause…
    assert gaps.max() < 1.5 + 0.5  # …of the configured length
    assert stats["requests"]["bothub"] == 41  # the refused request was sent once more
    assert result.exit_code == 0
    assert result.stderr.count("HTTP 429") == 1 and "pausing all requests for 2 s" in (
        result.stderr)


def test_retry_after_longer_than_the_pause_wins(tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(force_429=1, retry_after=1.2)
    f = contacts_file(tmp_path, frte_numbers(5))
    check_json([str(f), *emulator.bothub_args(), "--rate", "100", "--throttle-pause", "0.2",
                "--threshold", "1"])
    gaps = np.diff(np.array(emulator.stats()["arrivals"]["bothub"]))
    assert gaps.max() >= 1.2 * 0.95


@pytest.mark.parametrize("kind", ["http_500", "http_503", "timeout", "reset", "malformed"])
def test_transient_faults_are_retried_to_the_right_verdicts(tmp_path: Path, emulator: Emulator,
                                                            kind: str) -> None:
    emulator.configure(faults={kind: 0.5}, fault_attempts=1, timeout_delay=4.0)
    numbers = frte_numbers(30)
    f = contacts_file(tmp_path, numbers)
    # a short whole-request timeout only where the fault is a server that stops
    # answering: elsewhere a busy machine could time out a healthy request too
    timeout = "1" if kind == "timeout" else "30"
    result, report = check_json([str(f), *emulator.bothub_args(), "--rate", "100",
                                 "--timeout", timeout, "--threshold", "1"])
    truth = emulator_truth(numbers)
    faults = emulator.stats()["faults"].get(kind, 0)
    assert faults > 0
    if kind == "timeout":  # every stalled request retried (a slow healthy one may be too)
        assert report["api"]["retries"] >= faults
    else:
        assert report["api"]["retries"] == faults
    assert report["counts"]["reachable"] == sum(truth)
    assert report["counts"]["unverified"] == 0
    assert result.exit_code == 0


def test_persistent_faults_leave_unverified_rows_and_exit_3(tmp_path: Path,
                                                            emulator: Emulator) -> None:
    emulator.configure(faults={"http_503": 0.3}, fault_attempts=0)
    numbers = frte_numbers(30)
    f = contacts_file(tmp_path, numbers)
    out = tmp_path / "o.csv"
    # --gate known: exit 3 because checks failed, whatever the answers that did arrive
    # (the default gate would decide at threshold 1: nothing can push the ratio over)
    runner_args = [str(f), *emulator.bothub_args(), "--rate", "200", "--threshold", "1",
                   "--gate", "known", "-o", str(out)]
    os.environ["RCSQUALIFY_RETRY_BACKOFF"] = "0.01"
    try:
        result, report = check_json(runner_args)
    finally:
        del os.environ["RCSQUALIFY_RETRY_BACKOFF"]
    errors = report["reasons"].get("capability_error", 0)
    assert errors > 0
    assert report["counts"]["unverified"] == errors
    assert report["gate"] == "undecided" and report["incomplete"] and result.exit_code == 3
    import pandas as pd

    df = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False)
    assert (df["reason"] == "capability_error").sum() == errors
    assert set(df.loc[df["reason"] == "capability_error", "rcs"]) == {"error"}
    # the answers that did arrive are right
    truth = dict(zip(numbers, emulator_truth(numbers), strict=True))
    ok = df[df["rcs"].isin(["yes", "no"])]
    assert all((r == "yes") == truth[m] for m, r in zip(ok["mobile"], ok["rcs"], strict=True))


def test_failures_over_the_threshold_still_fail(tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(faults={"http_500": 1.0}, fault_attempts=0, capable_share=0.0)
    f = contacts_file(tmp_path, [*frte_numbers(3), "N/A"])
    os.environ["RCSQUALIFY_RETRY_BACKOFF"] = "0.01"
    try:
        result, report = check_json([str(f), *emulator.bothub_args(), "--rate", "200"])
    finally:
        del os.environ["RCSQUALIFY_RETRY_BACKOFF"]
    assert report["counts"]["invalid"] == 1
    assert report["gate"] == "fail" and result.exit_code == 1  # 25 % > 15 % already


def test_token_expiry_mid_run_refreshes_the_token(tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(faults={"token_expiry": 0.2}, fault_attempts=1)
    numbers = frte_numbers(40)
    f = contacts_file(tmp_path, numbers)
    result, report = check_json([str(f), *emulator.bothub_args(), "--rate", "200",
                                 "--threshold", "1"])
    stats = emulator.stats()
    assert stats["faults"]["token_expiry"] > 0
    # one new token per revoked current token (requests that held an already
    # replaced token just pick up the new one)
    assert 2 <= stats["tokens_issued"] <= stats["faults"]["token_expiry"] + 1
    assert report["counts"]["unverified"] == 0 and result.exit_code == 0


def test_tokens_revoked_early_are_fetched_again(tmp_path: Path, emulator: Emulator) -> None:
    """The gateway says a token lasts an hour but drops it after 3 s: the 401s are
    answered by a fresh token, never by giving up."""
    emulator.configure(token_ttl=3, token_expires_in=3600)
    f = contacts_file(tmp_path, frte_numbers(200))
    _result, report = check_json([str(f), *emulator.bothub_args(), "--rate", "50",
                                 "--threshold", "1"])
    assert emulator.stats()["tokens_issued"] >= 2
    assert report["counts"]["unverified"] == 0


@pytest.mark.parametrize(("expires_in", "renewed_after"), [(3600, 3540.0), (100, 90.0),
                                                           (0, 54.0), (5, 54.0)])
def test_tokens_are_renewed_before_expiry_on_a_fake_clock(expires_in: int,
                                                          renewed_after: float) -> None:
    """Renewal 60 s (or a tenth of the lifetime) before expiry; a lifetime under 60 s
    (``expires_in: 0`` included) counts as 60 s, never one token per look-up."""
    import asyncio

    from rcsqualify.remote.tokens import ClientCredentialsToken

    now = [0.0]
    fetched: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(now[0])
        return httpx.Response(200, json={"access_token": f"t{len(fetched)}",
                                         "expires_in": expires_in})

    source = ClientCredentialsToken("http://x/token", "a", "b", clock=lambda: now[0])

    async def at(t: float) -> str:
        now[0] = t
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await source.token(client)

    async def scenario() -> list[str]:
        return [await at(0.0), await at(renewed_after - 0.5), await at(renewed_after + 0.5)]

    first, before, after = asyncio.run(scenario())
    assert first == before == "t1" and after == "t2"
    assert fetched == [0.0, renewed_after + 0.5]

def test_wrong_credentials_are_a_configuration_error(tmp_path: Path, emulator: Emulator,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCSQUALIFY_BOTHUB_CLIENT_SECRET", "wrong-secret-value")
    f = contacts_file(tmp_path, frte_numbers(3))
    result = run_cli(["check", str(f), *emulator.bothub_args()])
    assert result.exit_code == 2
    assert "CLIENT_SECRET" in result.stderr
    assert "wrong-secret-value" not in result.stderr + result.stdout


def test_missing_credentials(tmp_path: Path, emulator: Emulator,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RCSQUALIFY_BOTHUB_CLIENT_ID")
    f = contacts_file(tmp_path, frte_numbers(3))
    result = run_cli(["check", str(f), *emulator.bothub_args()])
    assert result.exit_code == 2 and "RCSQUALIFY_BOTHUB_CLIENT_ID" in result.stderr


def test_mnp_only_for_mobiles_no_extract_answered(tmp_path: Path, emulator: Emulator) -> None:
    numbers = frte_numbers(20)
    f = contacts_file(tmp_path, [*numbers, "0145601234"])
    ext = write_csv(tmp_path / "p.csv", [["msisdn", "op"], [numbers[0], "SFR0"],
                                         [numbers[1], "FRTE"]])
    _, report = check_json([str(f), "--portability", str(ext), "--mnp-url", emulator.mnp_url(),
                            "--rate", "200", "--threshold", "1"])
    stats = emulator.stats()
    assert stats["requests"]["mnp"] == 18
    assert report["operator_sources"] == {"portability": 2, "mnp": 18}
    assert report["api"]["providers"]["mnp"]["requests"] == 18
    # the emulator's MNP answers: 20801 → FRTE, else another operator
    frte = report["operators"].get("FRTE", 0)
    assert 1 <= frte <= 19


def test_cached_operator_codes_are_held_to_what_a_live_answer_may_be(
        tmp_path: Path, emulator: Emulator) -> None:
    """A shared cache is written by anyone who can reach it: a cached "operator" that is
    neither an ARCEP code nor a plausible MCC-MNC (markup, an escape sequence) is asked
    again, never shown or written."""
    from rcsqualify.remote.cache import LookupCache

    numbers = frte_numbers(5)
    f = contacts_file(tmp_path, numbers)
    cache_dir = tmp_path / "cache"
    args = [str(f), "--mnp-url", emulator.mnp_url(), "--rate", "200", "--threshold", "1",
            "--cache-dir", str(cache_dir)]
    _, first = check_json(args)
    cache = LookupCache(cache_dir)
    (space,) = [k for k in cache.info()["providers"] if k.startswith("op:")]
    hostile = "EVIL\x1b[31m[bold]x<b>"
    cache.put_many("op", space[3:], [(e164(n), hostile) for n in numbers[:3]])
    cache.close()
    out = tmp_path / "o.csv"
    result, again = check_json([*args, "-o", str(out)])
    assert again["api"]["providers"]["mnp"]["requests"] == 3  # the hostile ones, again
    assert again["operators"] == first["operators"]
    assert "EVIL" not in out.read_text() and "EVIL" not in result.stderr


def test_mnp_failures_leave_numbers_unverified_and_exit_3(tmp_path: Path,
                                                          emulator: Emulator,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """A look-up that failed after retries is not "the range holder answered": the
    number stays unverified (operator_error), nothing is cached, the gate is incomplete."""
    emulator.configure(faults={"http_500": 1.0}, fault_attempts=0)
    f = contacts_file(tmp_path, frte_numbers(5))
    monkeypatch.setenv("RCSQUALIFY_RETRY_BACKOFF", "0.01")
    result, report = check_json([str(f), "--mnp-url", emulator.mnp_url(), "--rate", "200",
                                 "--threshold", "0.5"])
    assert report["reasons"].get("operator_error") == 5
    assert report["counts"]["unverified"] == 5
    assert result.exit_code == 3 and report["gate"] == "undecided" and report["incomplete"]
    assert report["failed_checks"]["operator_error"] == 5
    assert report["bounds"]["low"] == 0 and report["bounds"]["high"] == 1
    emulator.reset(quota=1000)
    _, again = check_json([str(f), "--mnp-url", emulator.mnp_url(), "--rate", "200",
                           "--threshold", "1"])
    assert emulator.stats()["requests"]["mnp"] == 5  # nothing was cached from failures
    assert again["reasons"].get("operator_error", 0) == 0


def test_secrets_and_numbers_never_leak(tmp_path: Path, emulator: Emulator) -> None:
    numbers = frte_numbers(25)
    f = contacts_file(tmp_path, numbers)
    cache_dir = tmp_path / "cache"
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--rate", "200",
                      "--cache-dir", str(cache_dir), "--mnp-url", emulator.mnp_url(),
                      "--json-report", str(tmp_path / "r.json")])
    assert result.exit_code in (0, 1)
    secret = "emulator-secret"
    text = result.stdout + result.stderr + (tmp_path / "r.json").read_text()
    blobs = [p.read_bytes() for p in cache_dir.rglob("*") if p.is_file()]
    assert blobs and any(len(b) > 0 for b in blobs)
    for n in numbers:
        for form in (n, e164(n), n[1:], e164(n)[1:]):
            assert form not in text
            assert all(form.encode() not in b for b in blobs)
    assert secret not in text and all(secret.encode() not in b for b in blobs)
    key = cache_dir / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_kill_9_mid_run_then_rerun_asks_nothing_twice(tmp_path: Path, emulator: Emulator
                                                      ) -> None:
    numbers = frte_numbers(150)
    f = contacts_file(tmp_path, numbers)
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    args = [exe, "check", str(f), *emulator.bothub_args(), "--rate", "50", "--threshold", "1",
            "--json-report", str(tmp_path / "r1.json"), "-q"]
    env = {**os.environ, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while emulator.stats()["requests"].get("bothub", 0) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = emulator.stats()["requests"]["bothub"]
    assert 40 <= first < 150, first
    # what the server answered that the killed client never stored: the requests in
    # flight at the kill (counted, not assumed: a busy machine has more of them)
    in_flight = sum(emulator.stats()["asked"].values()) - cached_entries(tmp_path / "cache")
    args[args.index(str(tmp_path / "r1.json"))] = str(tmp_path / "r2.json")
    args[args.index("50")] = "400"  # only the killed run needs the slow rate
    done = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert done.returncode == 0
    asked = emulator.stats()["asked"]
    twice = [k for k, v in asked.items() if v > 1]
    # Every answer is cached the moment it arrives, so only requests in flight at the
    # kill (answered by the server, not yet read by the killed client) are asked again.
    assert len(twice) <= in_flight, (twice, in_flight)
    assert in_flight <= 64  # never more than the requests one run keeps in flight
    assert sum(asked.values()) <= 150 + len(twice)

    emulator.reset(quota=1000)
    env2 = {**os.environ, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "cache2")}
    args[args.index(str(tmp_path / "r2.json"))] = str(tmp_path / "r3.json")
    subprocess.run(args, env=env2, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    import json

    resumed = json.loads((tmp_path / "r2.json").read_text())
    fresh = json.loads((tmp_path / "r3.json").read_text())
    for key in ("counts", "reasons", "operators", "error_ratio", "gate", "exit_code"):
        assert resumed[key] == fresh[key], key


def test_provider_over_an_httpx_asgi_transport(tmp_path: Path) -> None:
    """The same provider code against the emulator app in process (no socket)."""
    cfg = EmulatorConfig(capable_share=0.5, seed=3)
    cfg.update({"quota": 1000})
    transport = httpx.ASGITransport(app=build_app(cfg))
    provider = BotHubProvider(base_url="http://emu/bothub/v1",
                              token_url="http://emu/oauth/v3/token",
                              client_id="emulator-client", client_secret="emulator-secret",
                              bot_id="b", cache=LookupCache(tmp_path / "c"),
                              policy=HttpPolicy(rate=500), transport=transport)
    numbers = [e164(n) for n in frte_numbers(20)]
    out = provider.check_all(numbers)
    truth = emulator_truth(frte_numbers(20), seed=3, share=0.5)
    assert out.tolist() == [RCS_YES if t else RCS_NO for t in truth]
    assert provider.stats.requests == 20 and RCS_ERROR not in out


def test_empty_capability_list_is_not_capable(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        contact = request.url.params["userContact"]
        body: dict[str, object] = {"capabilities": []} if contact.endswith("1") else {}
        if contact.endswith("3"):
            body = {"capabilities": ["chat"]}
        return httpx.Response(200, json=body)

    provider = BotHubProvider(base_url="http://x/bothub/v1", token_url="http://x/token",
                              client_id="a", client_secret="b", bot_id="b",
                              cache=LookupCache(enabled=False), policy=HttpPolicy(rate=1000),
                              transport=httpx.MockTransport(handler))
    out = provider.check_all(["+33607000001", "+33607000002", "+33607000003"])
    # [] and {} are not capable; a list without chatBotCommunication is no chatbot
    assert out.tolist() == [RCS_NO, RCS_NO, RCS_NO_FEATURE]
    sent = np.array(provider.http.pacer.sent_at)  # MockTransport paced like the network
    assert len(sent) == 3 and np.diff(sent).min() >= 1 / 1000 - 1e-9


def test_an_api_refusing_every_fresh_token_is_a_configuration_error(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(faults={"token_expiry": 1.0}, fault_attempts=0)
    f = contacts_file(tmp_path, frte_numbers(20))
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--rate", "200"])
    assert result.exit_code == 2
    assert "keeps refusing the credentials (HTTP 401)" in result.stderr
    assert 5 <= emulator.stats()["tokens_issued"] <= 10


# -- issue #23 R9: a failing token endpoint is named, and its Retry-After honoured --------

def _token_source(handler: Any, slept: list[float], **policy: Any) -> Any:
    from rcsqualify.remote.tokens import ClientCredentialsToken

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return ClientCredentialsToken("http://auth.test/oauth/v3/token", "a", "b",
                                  policy=HttpPolicy(**policy), sleep=sleep)


def _get_token(source: Any, handler: Any) -> Any:
    import asyncio

    async def main() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await source.token(client)

    return asyncio.run(main())


def test_a_token_endpoint_answering_429_is_waited_as_it_asks_within_max_pause() -> None:
    """``Retry-After: 999999`` made 5 token requests in 4 s; now the wait is honoured,
    capped at --max-pause (900 s), and the waits together never exceed it."""
    from rcsqualify.remote.failures import Unresolved

    asked: list[int] = []
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(1)
        return httpx.Response(429, headers={"Retry-After": "999999"})

    source = _token_source(handler, slept)
    with pytest.raises(Unresolved):
        _get_token(source, handler)
    assert len(asked) == 2 and slept == [900.0]
    assert source.failure.startswith("cannot get a token from http://auth.test/oauth/v3/"
                                     "token: HTTP 429")


@pytest.mark.parametrize(("answer", "said"), [
    (httpx.Response(500, text="oops"), "HTTP 500 (after 5 attempts)"),
    (httpx.Response(200, text="{not json", headers={"content-type": "application/json"}),
     "not valid JSON"),
])
def test_a_failing_token_endpoint_is_named_in_the_reason(answer: httpx.Response,
                                                         said: str) -> None:
    """Every number stayed unverified (exit 3) and nothing said the token endpoint was
    at fault; now the first note (the one the verdict line quotes) names it."""
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(answer.status_code, content=answer.content,
                                  headers=answer.headers)
        return httpx.Response(200, json={"capabilities": ["chatBotCommunication"]})

    provider = BotHubProvider(base_url="http://x/bothub/v1",
                              token_url="http://auth.test/oauth/v3/token", client_id="a",
                              client_secret="b", bot_id="b", cache=LookupCache(enabled=False),
                              policy=HttpPolicy(rate=1000, retry_backoff=0.0),
                              transport=httpx.MockTransport(handler))
    from rcsqualify.remote.tokens import ClientCredentialsToken

    assert isinstance(provider.token, ClientCredentialsToken)

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    provider.token._sleep = no_wait
    out = provider.check_all(["+33607000001", "+33607000002"])
    assert list(out) == [RCS_ERROR, RCS_ERROR]
    assert provider.notes[0].startswith("cannot get a token from "
                                        "http://auth.test/oauth/v3/token")
    assert said in provider.notes[0]


@pytest.mark.parametrize("expires_in", ['"soon"', "null", "-5", '"inf"', "1e400", "NaN"])
def test_an_unusable_expires_in_counts_as_the_minimum_lifetime(expires_in: str) -> None:
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=f'{{"access_token": "t", "expires_in": '
                              f'{expires_in}}}'.encode(),
                              headers={"content-type": "application/json"})

    source = _token_source(handler, slept)
    assert _get_token(source, handler) == "t"
    assert 0 < source._expires - time.monotonic() <= 60  # renewed within a minute
