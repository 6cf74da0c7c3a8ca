"""CONTRACT §10 over real HTTP against the emulator: a wrong URL, a dead or hostile
service never becomes a verdict, is never cached, never hangs, never touches a file
outside the cache. Each test names the failure it reproduces."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rcsqualify.remote.cache import LookupCache, load_or_create_secret
from tests.conftest import Emulator
from tests.helpers import (
    cached_entries,
    check_json,
    closed_port,
    contacts_file,
    e164,
    frte_numbers,
    run_cli,
    service_account,
)

#: every retry of these tests waits 10 ms, not the default back-off (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("quick_retries")


# "--threshold 1 --gate known" (issue #22): no known ratio is over 100 %, so a run can
# only end 0 (everything answered) or 3 (checks not done): exit 3 is how these tests see
# that an answer we do not recognize was taken for a failure, never for a verdict. The
# default gate would rightly pass at threshold 1 (nothing can push the ratio over).
def mnp(emulator: Emulator) -> list[str]:
    return ["--mnp-url", emulator.mnp_url(), "--rate", "200"]


def bothub(emulator: Emulator, base: str | None = None, token_url: str | None = None
           ) -> list[str]:
    return [*emulator.bothub_args(base, token_url), "--rate", "200", "--threshold", "1",
            "--gate", "known"]


# -- a wrong URL never becomes "not RCS" -------------------------------------------------

def test_a_plain_text_404_from_a_wrong_path_stops_the_run_and_caches_nothing(
        tmp_path: Path, emulator: Emulator) -> None:
    f = contacts_file(tmp_path, frte_numbers(300))
    cache = tmp_path / "cache"
    result = run_cli(["check", str(f), *bothub(emulator, f"{emulator.base}/wrong/v1"),
                      "--cache-dir", str(cache)])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "404" in line and "--bothub-url" in line
    assert "/wrong/v1" in line and "+33" not in line
    assert emulator.stats()["requests"].get("bothub", 0) == 0  # never reached the API
    assert cached_entries(cache) == 0
    # the right URL afterwards asks every number: nothing false was kept
    _, report = check_json([str(f), *bothub(emulator), "--cache-dir", str(cache)])
    # every number asked once more: counted per number by the emulator, since a request a
    # loaded machine let time out is asked twice (requests then says 301)
    asked = {k for k in emulator.stats()["asked"] if k.startswith("bothub:")}
    assert len(asked) == 300 and report["api"]["requests"] >= 300
    assert report["counts"]["unverified"] == 0


def test_an_html_200_page_is_not_an_answer_and_stops_within_50_lookups(
        tmp_path: Path, emulator: Emulator) -> None:
    f = contacts_file(tmp_path, frte_numbers(300))
    result = run_cli(["check", str(f), *bothub(emulator, f"{emulator.base}/portal/x"),
                      "--json-report", str(tmp_path / "r.json")])
    assert result.exit_code == 2
    assert "not json html" in result.stderr or "html" in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_a_json_404_without_the_error_envelope_is_not_a_negative(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(inject=[{"family": "bothub", "status": 404, "count": 3,
                                "body": '{"detail": "no route"}',
                                "content_type": "application/json"}])
    f = contacts_file(tmp_path, frte_numbers(10))
    result, report = check_json([str(f), *bothub(emulator)])
    assert report["counts"]["not_rcs"] + report["counts"]["reachable"] == 7
    assert report["reasons"]["capability_error"] == 3
    answers = report["api"]["providers"]["bothub"]["answers"]
    assert answers["by_status"]["404"]["unrecognized"] == 3
    assert result.exit_code == 3


# -- a dead endpoint names its address ---------------------------------------------------

def test_a_dead_api_endpoint_is_exit_2_naming_the_address(tmp_path: Path,
                                                          emulator: Emulator) -> None:
    port = closed_port()
    f = contacts_file(tmp_path, frte_numbers(200))
    result = run_cli(["check", str(f), *bothub(emulator, f"http://127.0.0.1:{port}/bothub/v1")])
    assert result.exit_code == 2
    assert "connection refused" in result.stderr and f"127.0.0.1:{port}" in result.stderr


def test_a_dead_token_endpoint_is_exit_2_naming_the_address(tmp_path: Path,
                                                            emulator: Emulator) -> None:
    port = closed_port()
    f = contacts_file(tmp_path, frte_numbers(20))
    args = bothub(emulator, token_url=f"http://127.0.0.1:{port}/token")
    result = run_cli(["check", str(f), *args])
    assert result.exit_code == 2
    assert "connection refused" in result.stderr and f"127.0.0.1:{port}" in result.stderr


# -- 4xx are not retried -----------------------------------------------------------------

def test_a_403_is_a_configuration_error_after_one_request(tmp_path: Path,
                                                          emulator: Emulator) -> None:
    emulator.configure(inject=[{"family": "bothub", "status": 403, "count": 1000,
                                "content_type": "application/json",
                                "body": '{"error": {"code": 403, "message": '
                                        '"bad JWT \\u001b[2J"}}'}])
    f = contacts_file(tmp_path, frte_numbers(100))
    result = run_cli(["check", str(f), *bothub(emulator)])
    assert result.exit_code == 2
    assert "HTTP 403" in result.stderr and "bad JWT" in result.stderr
    assert "\x1b" not in result.stderr  # server text is data: no terminal control
    asked = emulator.stats()["requests"]["bothub"]
    assert asked <= 10  # not 5 per number: stopped at once


# -- recognized answers only ---------------------------------------------------------------

def test_a_capability_list_without_the_chatbot_feature_is_not_rcs(tmp_path: Path,
                                                                  emulator: Emulator) -> None:
    emulator.configure(capabilities=["chat", "fileTransfer"], capable_share=1.0)
    f = contacts_file(tmp_path, frte_numbers(8))
    _, report = check_json([str(f), *bothub(emulator)])
    assert report["reasons"]["no_chatbot_feature"] == 8
    assert report["counts"]["not_rcs"] == 8
    features = report["api"]["providers"]["bothub"]["answers"]["features"]
    assert features == {"chat": 8, "fileTransfer": 8}
    _, any_list = check_json([str(f), *bothub(emulator), "--require-feature", "",
                              "--no-cache"])
    assert any_list["counts"]["reachable"] == 8


def test_cache_is_scoped_by_service_and_bot(tmp_path: Path, emulator: Emulator) -> None:
    f = contacts_file(tmp_path, frte_numbers(20))
    cache = tmp_path / "cache"
    check_json([str(f), *bothub(emulator), "--cache-dir", str(cache)])
    args = bothub(emulator)
    args[args.index("--bot-id") + 1] = "production-bot"
    _, other = check_json([str(f), *args, "--cache-dir", str(cache)])
    assert other["api"]["requests"] == 20 and other["api"]["cache_hits"] == 0
    _, same = check_json([str(f), *bothub(emulator), "--cache-dir", str(cache)])
    assert same["api"]["requests"] == 0 and same["api"]["cache_hits"] == 20
    info = json.loads(run_cli(["cache", "info", "--json", "--cache-dir", str(cache)]).stdout)
    ids = sorted(s["id"] for s in info["scopes"].values())
    assert ids == ["production-bot", "test-bot"]


# -- bounds ------------------------------------------------------------------------------

def test_a_huge_retry_after_is_capped(tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(force_429=1, retry_after=1_000_000_000)
    f = contacts_file(tmp_path, frte_numbers(5))
    result, report = check_json([str(f), *bothub(emulator), "--throttle-pause", "0.2",
                                 "--max-pause", "0.5"])
    assert report["api"]["throttled"] == 1 and report["counts"]["unverified"] == 0
    assert "pausing all requests for 0 s" in result.stderr or "for 1 s" in result.stderr


def test_a_body_trickled_byte_by_byte_hits_the_whole_request_deadline(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(slow_body=0.2, capable_share=1.0)  # ~70 bytes: 14 s per answer
    f = contacts_file(tmp_path, frte_numbers(2))
    result, report = check_json([str(f), *bothub(emulator), "--timeout", "0.5"])
    assert result.exit_code == 3
    assert report["reasons"]["capability_error"] == 2
    assert report["api"]["providers"]["bothub"]["error_kinds"] == {"timeout": 2}


def test_a_zero_token_lifetime_is_not_one_token_per_lookup(tmp_path: Path,
                                                           emulator: Emulator) -> None:
    emulator.configure(token_expires_in=0)  # valid for an hour, announced as 0 s
    f = contacts_file(tmp_path, frte_numbers(40))
    check_json([str(f), *bothub(emulator)])
    assert emulator.stats()["tokens_issued"] <= 3


def test_max_requests_is_a_budget(tmp_path: Path, emulator: Emulator) -> None:
    f = contacts_file(tmp_path, frte_numbers(50))
    result, report = check_json([str(f), *bothub(emulator), "--max-requests", "10"])
    assert emulator.stats()["requests"]["bothub"] == 10
    assert report["counts"]["unverified"] == 40 and result.exit_code == 3
    assert any("--max-requests 10" in n for n in report["notes"])


# -- bulk jobs ----------------------------------------------------------------------------

def bulk(emulator: Emulator, cache: Path) -> list[str]:
    return ["--capability", "bothub-bulk", "--bot-id", "b", "--bothub-url",
            f"{emulator.base}/bothub/v1", "--bothub-token-url",
            f"{emulator.base}/oauth/v3/token", "--threshold", "1", "--gate", "known",
            "--cache-dir", str(cache),
            "--poll-interval", "0.05", "--rate", "100"]


def test_a_stuck_job_ends_at_the_bulk_deadline(tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(bulk_polls=10**9)
    f = contacts_file(tmp_path, frte_numbers(30))
    cache = tmp_path / "cache"
    result, report = check_json([str(f), *bulk(emulator, cache), "--bulk-deadline", "2"])
    assert result.exit_code == 3 and report["counts"]["unverified"] == 30
    assert any("deadline" in n for n in report["notes"])
    assert len(list((cache / "bulk_jobs").glob("*.json"))) == 1  # kept for the next run


@pytest.mark.parametrize("status", ["FAILED", "EXPLODED"])
def test_a_failed_or_unknown_job_status_ends_the_job(tmp_path: Path, emulator: Emulator,
                                                     status: str) -> None:
    emulator.configure(bulk_status=status, bulk_polls=0)
    f = contacts_file(tmp_path, frte_numbers(30))
    cache = tmp_path / "cache"
    result, report = check_json([str(f), *bulk(emulator, cache)])
    assert result.exit_code == 3 and report["counts"]["unverified"] == 30
    assert not list((cache / "bulk_jobs").glob("*.json"))
    assert cached_entries(cache) == 0


def test_a_hostile_job_id_never_becomes_a_path(tmp_path: Path, emulator: Emulator) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "victim.json").write_text("precious")
    cache = tmp_path / "a" / "b" / "cache"
    emulator.configure(bulk_job_id="../../../victim/victim", bulk_polls=0)
    f = contacts_file(tmp_path, frte_numbers(30))
    result, _ = check_json([str(f), *bulk(emulator, cache)])
    assert (victim / "victim.json").read_text() == "precious"
    assert result.exit_code == 3  # an id we cannot trust: the numbers stay unverified
    for path in (cache / "bulk_jobs").glob("*") if (cache / "bulk_jobs").exists() else []:
        assert len(path.stem) == 32 and all(c in "0123456789abcdef" for c in path.stem)


def test_a_safe_job_id_is_stored_under_its_hash(tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(bulk_job_id="job-42.a", bulk_polls=10**9)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(10))
    check_json([str(f), *bulk(emulator, cache), "--bulk-deadline", "1"])
    files = list((cache / "bulk_jobs").glob("*.json"))
    assert len(files) == 1 and "job-42" not in files[0].name


@pytest.mark.parametrize("config", [
    {"bulk_submit_body": {"accepted": True}},
    {"bulk_results": [{"number": "+33607000000", "capabilities": []}], "bulk_polls": 0},
    {"bulk_results": "nope", "bulk_polls": 0},
])
def test_bulk_answers_in_an_unknown_shape_do_not_crash(tmp_path: Path, emulator: Emulator,
                                                       config: dict[str, object]) -> None:
    emulator.configure(**config)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(30))
    for _ in range(2):  # the second run must not trip on anything the first left
        result, report = check_json([str(f), *bulk(emulator, cache)])
        assert result.exit_code == 3 and report["counts"]["unverified"] == 30
    assert cached_entries(cache) == 0


# -- MNP answers --------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "kind"), [
    ({"status": 1, "error_text": "Throttled"}, "error_in_body"),
    ({"mccmnc": "\x1b[2J[/]bold"}, "bad_operator_code"),
    ({"msisdn": "+33607000001"}, "missing_field"),
])
def test_mnp_answers_we_do_not_recognize_are_failures(tmp_path: Path, emulator: Emulator,
                                                      body: dict[str, object],
                                                      kind: str) -> None:
    emulator.configure(mnp_body=body)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(6))
    result, report = check_json([str(f), *mnp(emulator), "--threshold", "1", "--gate", "known",
                                 "--cache-dir",
                                 str(cache)])
    assert result.exit_code == 3 and report["reasons"]["operator_error"] == 6
    assert report["api"]["providers"]["mnp"]["answers"]["kinds"] == {kind: 6}
    assert "\x1b" not in result.stderr + result.stdout
    assert cached_entries(cache) == 0


# -- RBM -----------------------------------------------------------------------------------

def test_rbm_sends_a_new_request_id_on_every_attempt(tmp_path: Path, emulator: Emulator) -> None:
    emulator.configure(faults={"http_503": 1.0}, fault_attempts=1)
    creds = service_account(tmp_path, f"{emulator.base}/rbm/token")
    f = contacts_file(tmp_path, frte_numbers(10))
    _, report = check_json([str(f), "--capability", "rbm", *emulator.rbm_args(creds),
                            "--rate", "200"])
    assert report["api"]["retries"] >= 10
    assert emulator.stats()["duplicate_request_ids"] == 0


# -- the cache secret and erasure ---------------------------------------------------------

def test_many_processes_on_a_fresh_cache_get_one_32_byte_secret(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys
        from pathlib import Path
        from rcsqualify.remote.cache import load_or_create_secret
        print(load_or_create_secret(Path(sys.argv[1])).hex())
    """)
    for trial in range(5):
        d = tmp_path / f"c{trial}"
        d.mkdir()
        procs = [subprocess.Popen([sys.executable, "-c", script, str(d)],
                                  stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": os.getcwd()})
                 for _ in range(8)]
        seen = {p.communicate(timeout=60)[0].strip() for p in procs}
        assert len(seen) == 1 and len(bytes.fromhex(seen.pop())) == 32
        assert (d / "secret.key").stat().st_size == 32
        assert not list(d.glob(".secret.*"))  # no temporary left behind


def test_a_damaged_secret_is_refused_with_one_line(tmp_path: Path, emulator: Emulator) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "secret.key").write_bytes(b"")
    with pytest.raises(Exception, match="0 bytes, not 32"):
        load_or_create_secret(cache)
    f = contacts_file(tmp_path, frte_numbers(3))
    result = run_cli(["check", str(f), *bothub(emulator), "--cache-dir", str(cache)])
    assert result.exit_code == 2 and "remove the directory" in result.stderr


def test_cache_forget_erases_a_number_in_every_scope(tmp_path: Path, emulator: Emulator) -> None:
    numbers = frte_numbers(10)
    f = contacts_file(tmp_path, numbers)
    cache = tmp_path / "cache"
    check_json([str(f), *bothub(emulator), "--cache-dir", str(cache)])
    check_json([str(f), *mnp(emulator), "--threshold", "1", "--gate", "known", "--cache-dir",
                str(cache)])
    result = run_cli(["cache", "forget", numbers[0], e164(numbers[1]), "--cache-dir",
                      str(cache)])
    assert result.exit_code == 0 and "4 cache entries removed" in result.stdout
    assert numbers[0] not in result.stdout + result.stderr
    emulator.reset(quota=1000)
    _, again = check_json([str(f), *bothub(emulator), "--cache-dir", str(cache)])
    assert again["api"]["requests"] == 2 and again["api"]["cache_hits"] == 8
    bad = run_cli(["cache", "forget", "not a number", "--cache-dir", str(cache)])
    assert bad.exit_code == 2 and "not a number" not in bad.stderr


def test_a_cache_that_fails_mid_run_degrades_to_memory_and_exits_3(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk after the cache opened: the run completes from memory, says the cache
    is degraded, and exits 3 (it would have passed)."""
    import sqlite3

    from rcsqualify.remote.store_directory import DirectoryStore

    real_put = DirectoryStore.put_many
    calls = {"n": 0}

    def failing_put(self: DirectoryStore, space: str, *args: Any, **kw: Any) -> None:
        if space.startswith("cap:"):
            calls["n"] += 1
            if calls["n"] > 5:
                raise sqlite3.OperationalError("database or disk is full")
        real_put(self, space, *args, **kw)

    monkeypatch.setattr(DirectoryStore, "put_many", failing_put)
    emulator.configure(capable_share=1.0)
    f = contacts_file(tmp_path, frte_numbers(20))
    result, report = check_json([str(f), *bothub(emulator), "--cache-dir",
                                 str(tmp_path / "cache")])
    assert report["counts"]["reachable"] == 20
    assert result.exit_code == 3 and report["gate"] == "undecided" and report["incomplete"]
    assert any("disk is full" in n for n in report["notes"])


# -- TLS, proxies, a slow token, two runs at once ----------------------------------------

def test_a_tls_error_names_the_certificate_settings(tmp_path: Path, emulator: Emulator
                                                    ) -> None:
    """https:// to a plain-HTTP port: the handshake fails; the line says TLS and names
    SSL_CERT_FILE (a corporate CA is the usual cause)."""
    f = contacts_file(tmp_path, frte_numbers(30))
    https = emulator.base.replace("http://", "https://")
    result = run_cli(["check", str(f), *bothub(emulator, f"{https}/bothub/v1")])
    assert result.exit_code == 2
    assert "TLS" in result.stderr and "SSL_CERT_FILE" in result.stderr


def test_an_unusable_ca_bundle_is_one_line(tmp_path: Path, emulator: Emulator,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "corporate-ca.pem").write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "corporate-ca.pem"))
    f = contacts_file(tmp_path, frte_numbers(3))
    result = run_cli(["check", str(f), *bothub(emulator)])
    assert result.exit_code == 2
    assert "SSL_CERT_FILE" in result.stderr and "corporate-ca.pem" in result.stderr
    assert "unexpected" not in result.stderr


def test_a_dead_proxy_is_named(tmp_path: Path, emulator: Emulator,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("HTTP_PROXY", f"http://user:pw@127.0.0.1:{port}")
    monkeypatch.setenv("NO_PROXY", "")
    f = contacts_file(tmp_path, frte_numbers(30))
    result = run_cli(["check", str(f), *bothub(emulator)])
    assert result.exit_code == 2
    assert "PROXY" in result.stderr and f"127.0.0.1:{port}" in result.stderr
    assert "pw" not in result.stderr  # the proxy's password is never printed


def test_a_slow_token_never_squeezes_the_first_sends(tmp_path: Path) -> None:
    """The token takes 0.3 s (longer than three intervals at 10/s): the first look-ups
    still leave ≥ 1/rate apart, and none before the token arrived."""
    import asyncio

    import httpx
    import numpy as np

    from rcsqualify.capability.bothub import BotHubProvider
    from rcsqualify.remote.pacing import machine_clock  # the pacer's clock
    from rcsqualify.remote.policy import HttpPolicy

    token_at: list[float] = []

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/token"):
                await asyncio.sleep(0.3)
                token_at.append(machine_clock())
                return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
            return httpx.Response(200, json={"capabilities": ["chatBotCommunication"]})

    provider = BotHubProvider(base_url="http://x/bothub/v1", token_url="http://x/token",
                              client_id="a", client_secret="b", bot_id="b",
                              cache=LookupCache(enabled=False), policy=HttpPolicy(rate=10),
                              transport=Slow())
    provider.check_all([e164(n) for n in frte_numbers(5)])
    sent = np.array(provider.http.pacer.sent_at)
    assert len(sent) == 5 and np.diff(sent).min() >= 0.1 - 1e-9
    assert sent[0] >= token_at[0]


def test_two_runs_at_once_share_one_quota(tmp_path: Path, emulator: Emulator) -> None:
    """Two `rcsqualify check` processes (separate caches, one machine) against a burst-1
    gateway: together they keep the quota instead of doubling it."""
    import time

    emulator.configure(spike_arrest=True, quota=20, quota_grace=0.02)
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    procs = []
    for k in range(2):
        f = contacts_file(tmp_path, frte_numbers(40, start=1000 * k), name=f"c{k}.csv")
        args = [exe, "check", str(f), *bothub(emulator), "-q"]  # (threshold 1, gate known)
        args[args.index("--rate") + 1] = "20"
        args += ["--throttle-pause", "1"]  # a 429 allowed below costs a second, not a minute
        env = {**os.environ, "RCSQUALIFY_CACHE_DIR": str(tmp_path / f"cache{k}")}
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 120
    for p in procs:
        p.wait(timeout=max(1.0, deadline - time.monotonic()))
    assert [p.returncode for p in procs] == [0, 0]
    stats = emulator.stats()
    arrivals = sorted(stats["arrivals"]["bothub"])
    throttled = sum(stats["throttled"].values())
    # two unshared runs would arrive at ~40/s and collect dozens of 429s; a shared schedule
    # may still see a few when the server's process (which timestamps the arrivals) or a
    # client is descheduled on a busy machine: each refused request is sent once more
    assert throttled <= 5
    assert len(arrivals) == 80 + throttled
    assert (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) <= 20 * 1.1


# -- found by a hostile review (each was reproduced before its fix) ----------------------

def test_the_cache_never_crosses_require_feature_settings(tmp_path: Path,
                                                          emulator: Emulator) -> None:
    emulator.configure(capable_share=1.0, capabilities=["chat", "fileTransfer"])
    f = contacts_file(tmp_path, frte_numbers(10))
    cache = tmp_path / "cache"
    _, lax = check_json([str(f), *bothub(emulator), "--require-feature", "",
                         "--cache-dir", str(cache)])
    assert lax["counts"]["reachable"] == 10
    _, strict = check_json([str(f), *bothub(emulator), "--cache-dir", str(cache)])
    assert strict["api"]["requests"] == 10 and strict["counts"]["not_rcs"] == 10


@pytest.mark.parametrize(("family", "service", "body", "said"), [
    pytest.param("mnp", mnp, '{"detail": "Not Found"}', ["unknown", "--mnp-url"],
                 id="an-mnp-path-that-does-not-exist"),
    pytest.param("bothub", bothub, '{"error": {"code": 404, "message": "Bot not found"}}',
                 ["--bot-id"], id="a-bot-the-gateway-does-not-know"),
])
def test_a_json_404_to_everything_is_a_configuration_error_naming_the_option(
        tmp_path: Path, emulator: Emulator, family: str,
        service: Callable[[Emulator], list[str]], body: str, said: list[str]) -> None:
    emulator.configure(inject=[{"family": family, "status": 404, "count": 10**6,
                                "content_type": "application/json", "body": body}])
    f = contacts_file(tmp_path, frte_numbers(60))
    cache = tmp_path / "cache"
    result = run_cli(["check", str(f), *service(emulator), "--cache-dir", str(cache)])
    assert result.exit_code == 2 and all(words in result.stderr for words in said)
    assert cached_entries(cache) == 0


@pytest.mark.parametrize("body", ['{"capabilities": [], "error": {"code": 503}}',
                                  '{"capabilities": [], "status": "ERROR"}'])
def test_a_200_that_carries_an_error_is_not_a_negative(tmp_path: Path, emulator: Emulator,
                                                       body: str) -> None:
    emulator.configure(inject=[{"family": "bothub", "status": 200, "count": 5, "body": body,
                                "content_type": "application/json"}])
    f = contacts_file(tmp_path, frte_numbers(5))
    cache = tmp_path / "cache"
    result, report = check_json([str(f), *bothub(emulator), "--cache-dir", str(cache)])
    assert report["reasons"]["capability_error"] == 5 and result.exit_code == 3
    assert cached_entries(cache) == 0


def test_results_of_a_job_only_answer_the_numbers_of_that_job(tmp_path: Path,
                                                              emulator: Emulator) -> None:
    cache = tmp_path / "cache"
    numbers = frte_numbers(50)
    emulator.configure(bulk_polls=10**9)  # the first job stays pending: saved for later
    check_json([str(contacts_file(tmp_path, numbers[:5], "five.csv")),
                *bulk(emulator, cache), "--bulk-deadline", "1"])
    emulator.configure(bulk_polls=0, bulk_results=[
        {"userContact": e164(n), "capabilities": []} for n in numbers])
    _, report = check_json([str(contacts_file(tmp_path, numbers)), *bulk(emulator, cache)])
    assert emulator.stats()["jobs_submitted"] == 2  # the other 45 were asked in a job
    kinds = report["api"]["providers"]["bothub-bulk"]["answers"]["kinds"]
    assert kinds.get("result_not_in_job", 0) >= 45


def test_a_gateway_that_answers_429_to_everything_stops(tmp_path: Path,
                                                        emulator: Emulator) -> None:
    emulator.configure(force_429=10**6)
    f = contacts_file(tmp_path, frte_numbers(50))
    result = run_cli(["check", str(f), *bothub(emulator), "--throttle-pause", "0.05"])
    assert result.exit_code == 2 and "429" in result.stderr
    assert emulator.stats()["requests"]["bothub"] < 20


def test_a_gateway_that_turns_to_429_for_ever_gives_the_service_up_and_keeps_answers(
        tmp_path: Path, emulator: Emulator) -> None:
    """Issue #23 R3: after 5 good answers every request gets a 429. Before, each of the
    remaining numbers took 31 × 429s, each pausing the whole service (days at the
    defaults); now 30 in a row give the service up: exit 3, the 5 answers cached."""
    emulator.configure(throttle_after=5)
    numbers = frte_numbers(40)
    f = contacts_file(tmp_path, numbers)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    result, report = check_json([str(f), *bothub(emulator), *cache,
                                 "--throttle-pause", "0.02", "--single-warn", "10"])
    assert result.exit_code == 3
    # R9: the reason quoted is why checks stopped, not the single-look-up advice
    assert report["notes"][0].startswith("bothub: given up after HTTP 429")
    assert any("one by one" in n for n in report["notes"][1:])
    assert report["counts"]["unverified"] == 35
    sent = emulator.stats()["requests"]["bothub"]
    # the row of 30, plus at most one in flight per number left (before: 31 each)
    assert 5 + 30 < sent <= 5 + 31 + 35
    assert "given up after HTTP 429 to 31 requests in a row" in result.stderr
    emulator.configure(throttle_after=None)
    _, again = check_json([str(f), *bothub(emulator), *cache])
    assert again["api"]["cache_hits"] == 5 and again["counts"]["unverified"] == 0


def test_the_time_a_service_stays_throttled_is_bounded_on_an_injected_clock() -> None:
    """Issue #23 R3: with long pauses (a Retry-After of 100 s), the row of 429s is cut
    by time (--max-paused): the third 429 would start a pause ending 300 s after the
    first, over the 250 s allowed; nothing of it is measured on the wall clock."""
    import asyncio

    import httpx

    from rcsqualify.remote.failures import Unresolved
    from rcsqualify.remote.http import HttpLayer
    from rcsqualify.remote.policy import HttpPolicy

    now = [1000.0]
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += max(0.0, seconds)
        await asyncio.sleep(0)

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(now[0])
        if len(asked) <= 2:
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(429, headers={"Retry-After": "100"})

    layer = HttpLayer("svc", HttpPolicy(rate=10, throttle_pause=1, max_paused=250,
                                        max_throttled=1000),
                      transport=httpx.MockTransport(handler), clock=lambda: now[0],
                      sleep=sleep)

    async def main() -> list[str]:
        out = []
        async with layer.session():
            for _ in range(5):
                try:
                    answer = await layer.request("GET", "http://svc.test/x")
                    layer.accept(answer)
                    out.append("ok")
                except Unresolved as exc:
                    out.append(exc.kind)
        return out

    assert asyncio.run(main()) == ["ok", "ok", "throttled", "throttled", "throttled"]
    assert len(asked) == 5  # 2 answers, 3 × 429, then nothing more is sent
    assert asked[-1] - asked[2] == pytest.approx(200, abs=1)  # two pauses of 100 s
    assert layer.gave_up is not None and "--max-paused 250" in layer.gave_up


def test_the_verdict_line_says_answers_are_cached_only_when_they_are(
        tmp_path: Path, emulator: Emulator) -> None:
    """Issue #23 R8: "re-run to finish (answers so far are cached)" was said whatever
    became of the answers (--no-cache, an evicting Redis); it is said now only after one
    of them was read back from the store."""
    emulator.configure(faults={"http_503": 0.3}, fault_attempts=0)
    f = contacts_file(tmp_path, frte_numbers(20))
    kept = run_cli(["check", str(f), *bothub(emulator), "--cache-dir", str(tmp_path / "c")])
    assert kept.exit_code == 3 and "(answers so far are cached)" in kept.stderr
    lost = run_cli(["check", str(f), *bothub(emulator), "--no-cache"])
    assert lost.exit_code == 3 and "answers so far are cached" not in lost.stderr
    assert "this run's answers are not in the cache: a re-run asks them again" in (
        lost.stderr)


def test_every_429_pause_reaches_the_closing_count() -> None:
    """Issue #23 R9: only the 1st, 2nd and every 10th pause were told, and the closing
    line counted what was told (25 pauses closed as "20")."""
    import asyncio
    import io

    import httpx
    from rich.console import Console

    from rcsqualify.display import ProgressReporter
    from rcsqualify.remote.http import HttpLayer
    from rcsqualify.remote.policy import HttpPolicy

    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += max(0.0, seconds)
        await asyncio.sleep(0)

    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls[0] += 1
        return httpx.Response(429 if 2 <= calls[0] <= 26 else 200, json={})

    buffer = io.StringIO()
    reporter = ProgressReporter(Console(file=buffer, width=300), enabled=False)
    layer = HttpLayer("svc", HttpPolicy(rate=10, throttle_pause=1),
                      transport=httpx.MockTransport(handler), notify=reporter.notify,
                      clock=lambda: now[0], sleep=sleep)

    async def main() -> None:
        async with layer.session():
            for _ in range(2):  # one answer, then 25 × 429 before the second
                layer.accept(await layer.request("GET", "http://svc.test/x"))

    with reporter.running():
        asyncio.run(main())
    assert buffer.getvalue().strip().splitlines()[-1].startswith(
        "svc: HTTP 429 from the gateway, 25 pauses")


def test_a_token_endpoint_handing_back_a_refused_token_is_a_configuration_error(
        tmp_path: Path) -> None:
    import httpx

    from rcsqualify.capability.bothub import BotHubProvider
    from rcsqualify.errors import ConfigurationError
    from rcsqualify.remote.policy import HttpPolicy

    calls = {"api": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "constant-token"})
        calls["api"] += 1
        return httpx.Response(401, json={"error": {"message": "bad token"}})

    provider = BotHubProvider(base_url="http://x/bothub/v1", token_url="http://x/token",
                              client_id="a", client_secret="b", bot_id="b",
                              cache=LookupCache(enabled=False), policy=HttpPolicy(rate=1000),
                              transport=httpx.MockTransport(handler))
    with pytest.raises(ConfigurationError, match="keeps refusing"):
        provider.check_all([e164(n) for n in frte_numbers(50)])
    assert calls["api"] <= 70  # about one refusal per request in flight, not 20 each


@pytest.mark.parametrize(("option", "value"), [
    ("--rate", "nan"), ("--rate", "inf"), ("--rate", "0.0001"), ("--throttle-pause", "-5"),
    ("--poll-interval", "0"), ("--timeout", "inf"), ("--max-pause", "nan"),
    ("--retry-backoff", "-1"), ("--bothub-url", "127.0.0.1:1/bothub/v1"),
    ("--bothub-url", ""), ("--bothub-url", " http://127.0.0.1:1/x"),
])
def test_bounds_and_urls_are_checked_before_anything(tmp_path: Path, emulator: Emulator,
                                                     option: str, value: str) -> None:
    f = contacts_file(tmp_path, frte_numbers(3))
    args = bothub(emulator)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    result = run_cli(["check", str(f), *args])
    assert result.exit_code == 2 and option in result.stderr
    assert result.stderr.count("\n") == 1
    assert sum(emulator.stats()["requests"].values()) == 0


def test_a_token_endpoint_that_never_answers_is_named(tmp_path: Path, emulator: Emulator
                                                      ) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        f = contacts_file(tmp_path, frte_numbers(5))
        args = bothub(emulator, token_url=f"http://127.0.0.1:{port}/token")
        result = run_cli(["check", str(f), *args, "--timeout", "0.3"])
    assert result.exit_code == 2 and f"127.0.0.1:{port}" in result.stderr
    assert "token" in result.stderr


def test_server_messages_never_echo_a_number_or_the_token(tmp_path: Path,
                                                          emulator: Emulator) -> None:
    numbers = frte_numbers(3)
    emulator.configure(inject=[{
        "family": "bothub", "status": 400, "count": 100, "content_type": "application/json",
        "body": json.dumps({"error": {"message": f"userContact {e164(numbers[0])} / "
                                      f"{numbers[0][:2]} {numbers[0][2:4]} {numbers[0][4:6]} "
                                      f"{numbers[0][6:8]} {numbers[0][8:]} is not valid"}})}])
    f = contacts_file(tmp_path, numbers)
    result = run_cli(["check", str(f), *bothub(emulator)])
    assert result.exit_code == 2 and "HTTP 400" in result.stderr
    digits = "".join(ch for ch in result.stderr if ch.isdigit())
    assert numbers[0][1:] not in digits and "07 00 00" not in result.stderr


def test_mnp_codes_in_other_digit_scripts_are_refused(tmp_path: Path, emulator: Emulator
                                                     ) -> None:
    emulator.configure(mnp_body={"mccmnc": "２０８０１"})
    f = contacts_file(tmp_path, frte_numbers(3))
    result, report = check_json([str(f), *mnp(emulator), "--threshold", "1", "--gate", "known"])
    assert report["reasons"]["operator_error"] == 3 and result.exit_code == 3


def test_files_rcsqualify_did_not_write_are_left_alone(tmp_path: Path,
                                                       emulator: Emulator) -> None:
    cache = tmp_path / "cache"
    mine = cache / "bulk_jobs" / "mine.json"
    mine.parent.mkdir(parents=True)
    mine.write_text("not a job")
    check_json([str(contacts_file(tmp_path, frte_numbers(5))), *bulk(emulator, cache)])
    assert mine.read_text() == "not a job"


def test_a_gzip_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    import gzip

    import httpx

    from rcsqualify.capability.bothub import BotHubProvider
    from rcsqualify.remote.policy import HttpPolicy
    from rcsqualify.verdict import RCS_ERROR

    bomb = gzip.compress(b"{" + b" " * 200_000_000 + b"}", compresslevel=9)

    class Bomb(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/token"):
                return httpx.Response(200, json={"access_token": "t"})
            return httpx.Response(200, headers={"content-encoding": "gzip",
                                                "content-type": "application/json"},
                                  stream=httpx.ByteStream(bomb))

    provider = BotHubProvider(base_url="http://x/bothub/v1", token_url="http://x/token",
                              client_id="a", client_secret="b", bot_id="b",
                              cache=LookupCache(enabled=False), policy=HttpPolicy(rate=1000),
                              transport=Bomb())
    out = provider.check_all([e164(n) for n in frte_numbers(2)])
    assert list(out) == [RCS_ERROR, RCS_ERROR]
    assert provider.stats.error_kinds["body_too_large"] == 2
    # issue #23 R9: counted under the answer's status, and an early stop names it (it
    # said "HTTP 0 body too large")
    assert provider.stats.by_status["200"]["unrecognized"] == 2
    from rcsqualify.errors import ConfigurationError

    stopping = BotHubProvider(base_url="http://x/bothub/v1", token_url="http://x/token",
                              client_id="a", client_secret="b", bot_id="b",
                              cache=LookupCache(enabled=False),
                              policy=HttpPolicy(rate=1000, early_stop=2), transport=Bomb())
    with pytest.raises(ConfigurationError, match="HTTP 200 with a body over 1000000 bytes"):
        stopping.check_all([e164(n) for n in frte_numbers(3)])


def test_a_credential_with_control_characters_stops_at_once(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCSQUALIFY_MNP_TOKEN", "abc\r\nX-Evil: 1")
    f = contacts_file(tmp_path, frte_numbers(50))
    result = run_cli(["check", str(f), *mnp(emulator)])
    assert result.exit_code == 2 and "credential" in result.stderr
    assert "X-Evil" not in result.stderr
    assert emulator.stats()["requests"].get("mnp", 0) == 0


def test_an_implausible_network_code_is_not_an_operator(tmp_path: Path,
                                                        emulator: Emulator) -> None:
    emulator.configure(mnp_body={"mccmnc": "00000"})
    f = contacts_file(tmp_path, frte_numbers(3))
    result, report = check_json([str(f), *mnp(emulator), "--threshold", "1", "--gate", "known"])
    assert report["reasons"]["operator_error"] == 3 and result.exit_code == 3
