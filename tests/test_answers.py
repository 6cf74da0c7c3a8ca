"""Issue #23, wrong verdicts from a misconfigured or odd service, over real HTTP against the
emulator: each test serves the attack first (a 403 that is not about testers, a 200
``{}``, a wrong path answering in the service's own error envelope, a body that says it
failed…) and checks the exit code, the one-line message, that nothing was cached, and
that a healthy re-run asks again."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from rcsqualify.errors import ConfigurationError
from rcsqualify.operators.mnp import MnpSource
from tests.conftest import Emulator
from tests.helpers import (
    cached_entries,
    check_json,
    contacts_file,
    frte_numbers,
    run_cli,
    service_account,
)

#: every retry of these tests waits 10 ms, not the default back-off (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("quick_retries")


def envelope(code: int, message: str, status: str, **extra: object) -> str:
    return json.dumps({"error": {"code": code, "message": message, "status": status,
                                 **extra}})


def serve(emulator: Emulator, family: str, status: int, body: str,
          count: int = 10**6) -> None:
    emulator.configure(inject=[{"family": family, "status": status, "count": count,
                                "content_type": "application/json", "body": body}])


# "--gate known" at threshold 1 (issue #22): no known ratio is over 100 %, so exit 3 can
# only mean checks were not done — how these tests see that an answer was not taken for
# a verdict. The default gate would decide pass at 100 % (nothing can push it over).
def rbm(emulator: Emulator, tmp_path: Path, cache: Path) -> list[str]:
    creds = service_account(tmp_path, f"{emulator.base}/rbm/token")
    return ["--capability", "rbm", *emulator.rbm_args(creds), "--rate", "100",
            "--gate", "known", "--cache-dir", str(cache)]


def bothub(emulator: Emulator, cache: Path) -> list[str]:
    return [*emulator.bothub_args(), "--rate", "100", "--threshold", "1", "--gate", "known",
            "--cache-dir", str(cache)]


def assert_stopped(result: Result, *words: str) -> str:
    """Exit 2 with one line holding ``words``."""
    line = result.stderr.strip()
    assert result.exit_code == 2, result.stderr
    assert "\n" not in line and "Traceback" not in line, line
    for word in words:
        assert word in line, line
    return str(line)


def healthy_rerun_asks_again(emulator: Emulator, args: list[str], f: Path, n: int,
                             family: str) -> None:
    emulator.reset(quota=1000)
    before = emulator.stats()["requests"].get(family, 0)
    result, _ = check_json([str(f), *args])
    assert result.exit_code in (0, 1, 3)
    assert emulator.stats()["requests"].get(family, 0) - before == n


# -- item 1: an RBM 403 is "not a tester" only when it says so ---------------------------

@pytest.mark.parametrize(("body", "words"), [
    pytest.param(envelope(403, "The caller does not have permission", "PERMISSION_DENIED"),
                 ["service account", "The caller does not have permission",
                  "--rbm-credentials"], id="permission-denied"),
    pytest.param(envelope(403, "Business Communications API has not been used in project "
                          "123 before or it is disabled.", "PERMISSION_DENIED",
                          details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                    "reason": "SERVICE_DISABLED"}]),
                 ["not enabled", "SERVICE_DISABLED"], id="service-disabled"),
])
def test_an_rbm_403_not_about_testers_stops_the_run_and_caches_nothing(
        tmp_path: Path, emulator: Emulator, body: str, words: list[str]) -> None:
    serve(emulator, "rbm", 403, body)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(70))
    args = rbm(emulator, tmp_path, cache)
    result = run_cli(["check", str(f), *args])
    assert_stopped(result, "HTTP 403", *words)
    # at the first answer (those already in flight aside), not one per number
    assert emulator.stats()["requests"]["rbm"] < 40
    assert cached_entries(cache) == 0
    healthy_rerun_asks_again(emulator, args, f, 70, "rbm")


def test_an_rbm_403_naming_testers_is_not_rcs(tmp_path: Path, emulator: Emulator) -> None:
    serve(emulator, "rbm", 403, envelope(403, "Phone number is not a tester of this agent",
                                         "PERMISSION_DENIED"), count=3)
    f = contacts_file(tmp_path, frte_numbers(3))
    result, report = check_json([str(f), *rbm(emulator, tmp_path, tmp_path / "c")])
    assert report["counts"]["not_rcs"] == 3 and result.exit_code == 0  # --threshold 1


# -- item 2: an RBM 200 {} is a capabilities message without features ----------------------

def test_an_rbm_200_empty_object_is_reachable(tmp_path: Path, emulator: Emulator) -> None:
    serve(emulator, "rbm", 200, "{}", count=5)
    f = contacts_file(tmp_path, frte_numbers(5))
    result, report = check_json([str(f), *rbm(emulator, tmp_path, tmp_path / "c")])
    assert report["counts"]["reachable"] == 5 and result.exit_code == 0
    kinds = report["api"]["providers"]["rbm"]["answers"]["kinds"]
    assert kinds == {"reachable_no_feature": 5}


@pytest.mark.parametrize("body", ['{"features": [], "error": {"code": 500}}',
                                  '{"features": [], "result": "error"}',
                                  '{"featureList": ["RICHCARD_STANDALONE"]}'])
def test_an_rbm_200_with_other_fields_is_not_an_answer(tmp_path: Path, emulator: Emulator,
                                                       body: str) -> None:
    serve(emulator, "rbm", 200, body, count=4)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(4))
    result, report = check_json([str(f), *rbm(emulator, tmp_path, cache)])
    assert report["reasons"]["capability_error"] == 4 and result.exit_code == 3
    assert cached_entries(cache) == 0


# -- R4: a wrong path answering in the service's own envelope ------------------------------

METHOD_NOT_FOUND = envelope(404, "Method not found.", "NOT_FOUND")


@pytest.mark.parametrize("family", ["rbm", "bothub"])
def test_a_method_not_found_404_is_not_a_negative(tmp_path: Path, emulator: Emulator,
                                                  family: str) -> None:
    serve(emulator, family, 404, METHOD_NOT_FOUND)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(58))
    args = rbm(emulator, tmp_path, cache) if family == "rbm" else bothub(emulator, cache)
    result = run_cli(["check", str(f), *args])
    assert_stopped(result, "404", "--rbm-url" if family == "rbm" else "--bothub-url")
    assert cached_entries(cache) == 0
    healthy_rerun_asks_again(emulator, args, f, 58, family)


@pytest.mark.parametrize(("family", "body"), [
    ("rbm", envelope(404, "Requested entity was not found.", "NOT_FOUND")),
    ("bothub", envelope(404, "contact is not RCS capable", "NOT_FOUND")),
    ("bothub", '{"capabilities": []}'),
])
def test_twenty_identical_negatives_at_the_start_stop_the_run(
        tmp_path: Path, emulator: Emulator, family: str, body: str) -> None:
    serve(emulator, family, 200 if body.startswith('{"cap') else 404, body)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(58))
    args = rbm(emulator, tmp_path, cache) if family == "rbm" else bothub(emulator, cache)
    result = run_cli(["check", str(f), *args])
    assert_stopped(result, "first 20 answers", "identical body", "nothing was cached")
    assert cached_entries(cache) == 0
    healthy_rerun_asks_again(emulator, args, f, 58, family)


def test_negatives_are_cached_once_a_positive_came_back(tmp_path: Path,
                                                        emulator: Emulator) -> None:
    serve(emulator, "bothub", 404, envelope(404, "contact is not RCS capable", "NOT_FOUND"),
          count=10)
    emulator.configure(capable_share=1.0)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(30))
    _, report = check_json([str(f), *bothub(emulator, cache)])
    assert report["counts"]["not_rcs"] == 10 and report["counts"]["reachable"] == 20
    assert cached_entries(cache) == 30
    _, again = check_json([str(f), *bothub(emulator, cache)])
    assert again["api"]["requests"] == 0


@pytest.mark.parametrize("body", ['{"result": "error", "errorCode": 5001, "capabilities": []}',
                                  '{"success": false, "capabilities": []}',
                                  '{"success": "false", "capabilities": []}',
                                  '{"success": "False", "capabilities": []}',
                                  '{"success": "0", "capabilities": []}',
                                  '{"success": 0, "capabilities": []}'])
def test_a_bothub_200_that_says_it_failed_is_not_a_negative(tmp_path: Path,
                                                           emulator: Emulator,
                                                           body: str) -> None:
    serve(emulator, "bothub", 200, body, count=5)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(5))
    result, report = check_json([str(f), *bothub(emulator, cache)])
    assert report["reasons"]["capability_error"] == 5 and result.exit_code == 3
    assert cached_entries(cache) == 0


# -- R4, MNP: a body that says it failed is never an operator ---------------------------

@pytest.mark.parametrize("body", [{"mccmnc": "20801", "result": "failed"},
                                  {"mccmnc": "20801", "success": False},
                                  {"mccmnc": "20801", "success": "false"},
                                  {"mccmnc": "20801", "success": "FALSE"},
                                  {"mccmnc": "20801", "errorCode": 17}])
def test_an_mnp_body_that_says_it_failed_is_not_an_operator(
        tmp_path: Path, emulator: Emulator, body: dict[str, object]) -> None:
    emulator.configure(mnp_body=body)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(6))
    result, report = check_json([str(f), "--mnp-url", emulator.mnp_url(), "--rate", "500",
                                 "--threshold", "1", "--gate", "known", "--cache-dir",
                                 str(cache)])
    assert result.exit_code == 3 and report["reasons"]["operator_error"] == 6
    assert report["operators"].get("FRTE", 0) == 0
    assert cached_entries(cache) == 0


# -- item 5: a bulk job that contradicts itself about a number --------------------------

def test_contradictory_bulk_results_are_a_failure_for_that_number(
        tmp_path: Path, emulator: Emulator) -> None:
    numbers = frte_numbers(6)
    e164 = ["+33" + n[1:] for n in numbers]
    caps = ["chatBotCommunication", "chat"]
    results = [{"userContact": n, "capabilities": caps} for n in e164]
    results += [{"userContact": e164[0], "capabilities": []},  # listed capable, then empty
                {"userContact": e164[1], "capabilities": caps}]  # twice alike: fine
    emulator.configure(bulk_polls=0, bulk_results=results)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, numbers)
    args = ["--capability", "bothub-bulk", "--bot-id", "b", "--bothub-url",
            f"{emulator.base}/bothub/v1", "--bothub-token-url",
            f"{emulator.base}/oauth/v3/token", "--threshold", "1", "--gate", "known",
            "--cache-dir", str(cache),
            "--poll-interval", "0.05", "--rate", "100"]
    result, report = check_json([str(f), *args])
    assert result.exit_code == 3
    assert report["counts"]["reachable"] == 5 and report["counts"]["not_rcs"] == 0
    assert report["reasons"]["capability_error"] == 1
    kinds = report["api"]["providers"]["bothub-bulk"]["answers"]["kinds"]
    assert kinds["contradictory_result"] == 1
    assert any("different capabilities" in n for n in report["notes"])
    assert cached_entries(cache) == 5  # not the contradicted number
    emulator.configure(bulk_results=None, capable_share=1.0)
    _, again = check_json([str(f), *args])
    assert again["counts"]["reachable"] == 6 and again["api"]["cache_hits"] == 5


# -- item 3: hlr-lookups' INVALID_MSISDN is a dead number, not "unknown" ------------------

def test_an_unassigned_number_is_invalid_counted_once_and_cached(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = frte_numbers(24)
    dead = {"+33" + n[1:]: {"operator": "unknown"} for n in numbers[:3]}
    emulator.reset(quota=1000, numbers={**dead, **{"+33" + n[1:]: {"operator": "20801"}
                                                   for n in numbers[3:]}})
    monkeypatch.setenv("RCSQUALIFY_MNP_KEY", "emulator-hlr-key")
    monkeypatch.setenv("RCSQUALIFY_MNP_SECRET", "emulator-hlr-secret")
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, [*numbers, numbers[0], numbers[0]])  # two duplicate rows
    args = [str(f), "--mnp-profile", "hlr-lookups", "--mnp-url", emulator.base,
            "--rate", "500", "--cache-dir", str(cache), "-o", str(tmp_path / "out.csv")]
    _, report = check_json(args)
    assert report["reasons"]["unassigned"] == 3  # per distinct number, not per row
    assert report["counts"]["invalid"] == 3 and report["counts"]["duplicates"] == 2
    assert report["error_ratio"] == pytest.approx(3 / 24)
    rows = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert sum('"invalid";"unassigned"' in r for r in rows) == 5  # every row of them
    _, again = check_json(args)
    assert again["reasons"]["unassigned"] == 3
    assert again["api"]["providers"]["mnp"]["cache_hits"] == 24  # the dead answers kept


def test_twenty_unassigned_answers_at_the_start_stop_the_run(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every number "not assigned": numbers sent in a form the service does not read
    look like this; nothing is cached."""
    emulator.reset(quota=1000, hlr_body={"connectivity_status": "INVALID_MSISDN",
                                         "processing_status": "COMPLETED", "mccmnc": None})
    monkeypatch.setenv("RCSQUALIFY_MNP_KEY", "emulator-hlr-key")
    monkeypatch.setenv("RCSQUALIFY_MNP_SECRET", "emulator-hlr-secret")
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(40))
    result = run_cli(["check", str(f), "--mnp-profile", "hlr-lookups", "--mnp-url",
                      emulator.base, "--rate", "500", "--cache-dir", str(cache)])
    assert_stopped(result, "held by no subscriber", "--mnp-profile")
    assert cached_entries(cache) == 0


# -- item 22: Twilio's region ---------------------------------------------------------------

TWILIO_ENV = {"RCSQUALIFY_MNP_USER": "ACemulator",
              "RCSQUALIFY_MNP_PASSWORD": "emulator-twilio-token"}
REGION_ERROR = {"code": 60614, "message": "Lookup Request Must Be Completed in Different "
                "Twilio Region", "more_info": "https://www.twilio.com/docs/errors/60614",
                "status": 400}


@pytest.mark.parametrize("where", ["package", "request"])
def test_twilio_60614_is_one_configuration_line_naming_the_region(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
        where: str) -> None:
    if where == "package":
        emulator.reset(quota=1000, twilio_body={
            "valid": True, "phone_number": "+33607000000",
            "line_type_intelligence": {"error_code": 60614, "mobile_country_code": None,
                                       "mobile_network_code": None}})
    else:
        emulator.reset(quota=1000)
        serve(emulator, "mnp", 400, json.dumps(REGION_ERROR))
    for key, value in TWILIO_ENV.items():
        monkeypatch.setenv(key, value)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(60))
    result = run_cli(["check", str(f), "--mnp-profile", "twilio", "--mnp-url", emulator.base,
                      "--rate", "50", "--cache-dir", str(cache)])
    assert_stopped(result, "60614", "IE1", "--mnp-region ie1")
    # at the first answer (those already in flight aside), not after 20 failures
    assert emulator.stats()["requests"]["mnp"] < 20
    assert cached_entries(cache) == 0


def test_the_twilio_region_picks_the_documented_host(tmp_path: Path) -> None:
    from rcsqualify.operators.mnp_profiles import parse_profile
    from rcsqualify.wiring import mnp_profile_url

    assert mnp_profile_url("twilio", None)[1] == "https://lookups.twilio.com"
    profile, url = mnp_profile_url("twilio", None, "ie1")
    assert url == "https://lookups.dublin.ie1.twilio.com" and profile.region == "ie1"
    assert mnp_profile_url("twilio", "http://127.0.0.1:1", "ie1")[1] == "http://127.0.0.1:1"
    text = ('name = "mine"\nregion = "ie1"\n[regions]\nus1 = "https://a.example"\n'
            'ie1 = "https://b.example"\n[request]\npath = "/{msisdn}"\n')
    assert parse_profile(text, "mine.toml").url == "https://b.example"
    f = contacts_file(tmp_path, frte_numbers(2))
    result = run_cli(["check", str(f), "--mnp-profile", "twilio", "--mnp-region", "eu9"])
    assert_stopped(result, "--mnp-region 'eu9'", "us1, ie1")


# -- item 4: a clock off from the service's breaks hlr-lookups' signed requests ------------

def hlr_source(emulator: Emulator, now: Callable[[], float], secret: str
               ) -> MnpSource:
    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.operators.mnp_profiles import Credentials, load_profile
    from rcsqualify.remote.cache import LookupCache
    from rcsqualify.remote.policy import HttpPolicy

    return MnpSource(url=emulator.base, plan=load_plan(), cache=LookupCache(enabled=False),
                     policy=HttpPolicy(rate=500, retry_backoff=0.01),
                     profile=load_profile("hlr-lookups"), now=now,
                     credentials=Credentials("digest", ("emulator-hlr-key", secret)))


@pytest.mark.parametrize("offset", [3600.0, -200.0])
def test_a_clock_off_from_the_service_is_named_not_the_credentials(
        emulator: Emulator, offset: float) -> None:
    """The emulator refuses a timestamp more than 120 s off, as a signing service does;
    this machine's clock is injected ``offset`` seconds off."""
    import numpy as np

    emulator.reset(quota=1000, hlr_max_skew=120)
    source = hlr_source(emulator, lambda: time.time() + offset, "emulator-hlr-secret")
    with pytest.raises(ConfigurationError) as caught:
        source.lookup(np.array([33607000000, 33607000001], dtype=np.int64))
    message = str(caught.value)
    assert "\n" not in message and "HTTP 401" in message
    said = int(message.split("clock off by ")[1].split(" s")[0])
    assert abs(said - abs(offset)) <= 5
    assert ("ahead of" if offset > 0 else "behind") in message
    assert "RCSQUALIFY_MNP_SECRET" not in message


def test_a_right_clock_and_a_wrong_secret_names_the_credentials(emulator: Emulator) -> None:
    import numpy as np

    emulator.reset(quota=1000)
    source = hlr_source(emulator, time.time, "wrong-secret")
    with pytest.raises(ConfigurationError) as caught:
        source.lookup(np.array([33607000000], dtype=np.int64))
    message = str(caught.value)
    assert "clock" not in message
    assert "RCSQUALIFY_MNP_KEY and RCSQUALIFY_MNP_SECRET" in message


def test_clock_skew_reads_an_http_date() -> None:
    from rcsqualify.operators.mnp import clock_skew

    date = "Mon, 07 Dec 2026 01:00:00 GMT"
    assert clock_skew(date, 1796605200.0 + 3600) == pytest.approx(3600)
    assert clock_skew("not a date", 0.0) is None and clock_skew(None, 0.0) is None


def test_the_identical_negatives_guard_holds_in_the_stream_with_mnp(
        tmp_path: Path, emulator: Emulator) -> None:
    """MNP and capability in one stream (stages.py): the capability negatives of a wrong
    path are held there too, and the run stops before caching one."""
    emulator.configure(mnp_body={"mccmnc": "20801"})
    serve(emulator, "bothub", 404, envelope(404, "contact is not RCS capable", "NOT_FOUND"))
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(58))
    args = [*bothub(emulator, cache), "--mnp-url", emulator.mnp_url()]
    result = run_cli(["check", str(f), *args])
    assert_stopped(result, "first 20 answers", "identical body")
    emulator.reset(quota=1000, mnp_body={"mccmnc": "20801"})
    check_json([str(f), *args])
    assert emulator.stats()["requests"]["bothub"] == 58  # none was kept from the bad run


@pytest.mark.parametrize(("message", "about"), [
    ("Method not found.", True), ("Unknown path /v1/x", True), ("route is unknown", True),
    ("No such endpoint", True), ("Requested entity was not found.", False),
    ("API: contact not found", False), ("contact is not RCS capable", False),
    ("The requested resource was not found", False),
])
def test_a_message_about_the_request_is_told_from_one_about_the_contact(
        message: str, about: bool) -> None:
    from rcsqualify.remote.answers import about_the_request

    assert about_the_request(message) is about


# -- JSON that parses nowhere: an integer past Python's digit limit, nesting too deep -------

@pytest.mark.parametrize(("family", "status", "body"), [
    ("bothub", 404, '{"error": {"code": 404, "message": "x", "status": "NOT_FOUND"}, '
     '"n": ' + "1" * 5000 + "}"),
    ("bothub", 200, '{"capabilities": ' + "[" * 50_000 + "]" * 50_000 + "}"),
    ("rbm", 200, '{"features": ' + "[" * 50_000 + "]" * 50_000 + "}"),
])
def test_json_no_parser_can_read_is_a_failure_not_a_crash(
        tmp_path: Path, emulator: Emulator, family: str, status: int, body: str) -> None:
    serve(emulator, family, status, body, count=5)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(5))
    args = rbm(emulator, tmp_path, cache) if family == "rbm" else bothub(emulator, cache)
    result, report = check_json([str(f), *args])
    assert result.exit_code == 3 and "unexpected" not in result.stderr, result.stderr
    assert report["reasons"]["capability_error"] == 5
    assert report["api"]["providers"][family]["answers"]["kinds"] == {"unreadable_json": 5}
    assert cached_entries(cache) == 0


@pytest.mark.parametrize("family", ["rbm", "bothub"])
def test_negatives_differing_only_by_a_request_id_or_a_time_are_one_body(
        tmp_path: Path, emulator: Emulator, family: str) -> None:
    """A wrong path (or a gateway) whose not-found body carries a request id and a
    timestamp is still one answer repeated: the guard stops it, nothing is cached."""
    emulator.configure(inject=[
        {"family": family, "status": 404, "count": 1, "content_type": "application/json",
         "body": envelope(404, f"Requested entity was not found. (request {i:08x}-9c1e)",
                          "NOT_FOUND", requestId=f"req-{i * 7919:06d}a3",
                          timestamp=f"2026-12-07T01:{i % 60:02d}:{i * 13 % 60:02d}.{i}Z")}
        for i in range(1, 200)])
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(58))
    args = rbm(emulator, tmp_path, cache) if family == "rbm" else bothub(emulator, cache)
    result = run_cli(["check", str(f), *args])
    assert_stopped(result, "first 20 answers", "identical body", "nothing was cached")
    assert cached_entries(cache) == 0


def test_negatives_of_different_kinds_still_release_the_held_ones(
        tmp_path: Path, emulator: Emulator) -> None:
    """A 404 and an empty list are two answers, not one repeated: trusted, cached."""
    emulator.configure(inject=[
        {"family": "bothub", "count": 1, "content_type": "application/json",
         **({"status": 404, "body": envelope(404, "contact not found", "NOT_FOUND")}
            if i % 2 else {"status": 200, "body": '{"capabilities": []}'})}
        for i in range(30)])
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(30))
    _, report = check_json([str(f), *bothub(emulator, cache)])
    assert report["counts"]["not_rcs"] == 30 and cached_entries(cache) == 30


# -- says_failed must not reject a healthy answer ----------------------------------------

@pytest.mark.parametrize("extra", [{"errorCode": "0"}, {"error_code": "000"},
                                   {"error": "none"}, {"error": None}, {"status": "OK"},
                                   {"errors": []}, {"success": "true"}, {"success": True}])
def test_a_healthy_answer_saying_no_error_is_an_answer(
        tmp_path: Path, emulator: Emulator, extra: dict[str, object]) -> None:
    """A zero error code as a string ("0", "000") or an error of "none" says there was
    no error, as the number 0 or null do: the answer is read (exit 0), not rejected.
    (The generic MNP profile's own rule reads any non-empty ``error`` as a failure: a
    profile's rules are its own, so "none" is tried on BotHub only.)"""
    caps = ["chatBotCommunication"]
    serve(emulator, "bothub", 200, json.dumps({"capabilities": caps, **extra}), count=4)
    mnp_extra = {} if extra == {"error": "none"} else extra
    emulator.configure(mnp_body={"mccmnc": "20801", **mnp_extra})
    f = contacts_file(tmp_path, frte_numbers(4))
    result, report = check_json([str(f), *bothub(emulator, tmp_path / "c"), "--mnp-url",
                                 emulator.mnp_url()])
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["reachable"] == 4 and report["operators"]["FRTE"] == 4


@pytest.mark.parametrize(("family", "stream"), [("bothub", False), ("rbm", False),
                                            ("bothub", True)])
def test_a_block_of_not_rcs_numbers_first_in_number_order_is_no_wrong_path(
        tmp_path: Path, emulator: Emulator, family: str, stream: bool) -> None:
    """The lowest 60 numbers of the base (one block of a range: a fleet of data SIMs)
    are genuinely not RCS, the 240 others are. Asked in number order, the first 20
    answers were 20 identical negatives and the run stopped as a wrong path (exit 2);
    numbers are asked in a random order, so the first answers are a sample of the base
    (all negative with odds of (60/300)^20)."""
    numbers = frte_numbers(300)
    emulator.reset(quota=10_000, numbers={
        "+33" + n[1:]: {"capable": k >= 60, "operator": "20801"}
        for k, n in enumerate(numbers)})
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, numbers)
    args = rbm(emulator, tmp_path, cache) if family == "rbm" else bothub(emulator, cache)
    if stream:
        args += ["--mnp-url", emulator.mnp_url()]
    result, report = check_json([str(f), *args])
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["not_rcs"] == 60 and report["counts"]["reachable"] == 240
