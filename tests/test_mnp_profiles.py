"""MNP profiles (issue #12): the built-in twilio and hlr-lookups profiles against the
emulator's look-alikes over real HTTP, a user's profile file, credentials and validation
errors, and the hlr-lookups digest signature against a known vector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rcsqualify.operators.mnp_profiles import (
    digest_signature,
    load_profile,
    parse_profile,
)
from rcsqualify.remote.cache import LookupCache
from tests.conftest import Emulator
from tests.helpers import cached_entries, check_json, contacts_file, e164, frte_numbers, run_cli

TWILIO_ENV = {"RCSQUALIFY_MNP_USER": "ACemulator",
              "RCSQUALIFY_MNP_PASSWORD": "emulator-twilio-token"}
HLR_ENV = {"RCSQUALIFY_MNP_KEY": "emulator-hlr-key",
           "RCSQUALIFY_MNP_SECRET": "emulator-hlr-secret"}

#: four Orange-range mobiles: still Orange, ported to SFR, unknown to the service, an
#: error inside a 200
NUMBERS = frte_numbers(4)
ANSWERS = {e164(NUMBERS[0]): {"operator": "20801"}, e164(NUMBERS[1]): {"operator": "20810"},
           e164(NUMBERS[2]): {"operator": "unknown"}, e164(NUMBERS[3]): {"operator": "error"}}


def setenv(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def run_profile(tmp_path: Path, emulator: Emulator, profile: str, *extra: str
                ) -> tuple[Any, dict[str, Any]]:
    """A check at threshold 1 under --gate known: exit 3 says a look-up failed (the
    default gate would decide pass at 100 %: nothing can push the ratio over)."""
    f = contacts_file(tmp_path, NUMBERS)
    return check_json([str(f), "--mnp-profile", profile, "--mnp-url", emulator.base,
                       "--rate", "200", "--threshold", "1", "--gate", "known", "--cache-dir",
                       str(tmp_path / "cache"), *extra])


@pytest.mark.parametrize(("profile", "env", "family", "error_kind", "dead"), [
    ("twilio", TWILIO_ENV, "twilio", "error_line_type", "unknown"),
    # hlr-lookups' dead-number answer (INVALID_MSISDN) is not "unknown": issue #23 item 3
    ("hlr-lookups", HLR_ENV, "hlr", "error_undetermined", "unassigned"),
])
def test_named_profile_over_http(tmp_path: Path, emulator: Emulator,
                                 monkeypatch: pytest.MonkeyPatch, profile: str,
                                 env: dict[str, str], family: str, error_kind: str,
                                 dead: str) -> None:
    """Operator, ported number, dead number and an error inside a 200, each read as the
    service documents it; the error is a failure, counted, never cached."""
    emulator.reset(quota=1000, numbers=ANSWERS)
    setenv(monkeypatch, env)
    result, report = run_profile(tmp_path, emulator, profile)
    assert result.exit_code == 3 and report["gate"] == "undecided" and report["incomplete"]
    assert report["reasons"]["operator_error"] == 1  # the error, never "unknown"
    assert report["reasons"]["ported_out"] == 1  # 20810 is SFR
    if dead == "unknown":
        # Twilio's "valid": false says nothing of who holds the number: the range holder
        # answers; the errored one is operator_error (its operator_source stays mnp)
        assert report["operator_sources"] == {"mnp": 3, "range": 1}
    else:  # a number no subscriber holds: a message that would fail
        assert report["operator_sources"] == {"mnp": 4}
        assert report["reasons"]["unassigned"] == 1 and report["counts"]["invalid"] == 1
    answers = report["api"]["providers"]["mnp"]["answers"]
    assert answers["kinds"] == {"operator": 2, dead: 1, error_kind: 1}
    assert answers["by_status"] == {"200": {"recognized": 3, "unrecognized": 1}}
    asked = emulator.stats()["asked"]
    assert sorted(k for k in asked if k.startswith(f"{family}:")) == sorted(
        f"{family}:{e164(n)}" for n in NUMBERS)
    assert cached_entries(tmp_path / "cache") == 3  # operator ×2 and the dead one, not the error

    # a re-run asks only the number that failed
    result, again = run_profile(tmp_path, emulator, profile)
    assert emulator.stats()["asked"][f"{family}:{e164(NUMBERS[3])}"] == 2
    assert again["api"]["providers"]["mnp"]["cache_hits"] == 3
    assert sum(v for k, v in emulator.stats()["asked"].items()
               if k.startswith(f"{family}:")) == 5


def test_twilio_without_the_line_type_package_is_a_failure(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid number whose answer lacks line_type_intelligence (the Fields parameter was
    not honoured) names no network: a failure, not the range holder's verdict."""
    body = {"valid": True, "phone_number": "+33607000000", "line_type_intelligence": None}
    emulator.reset(quota=1000, twilio_body=body)
    setenv(monkeypatch, TWILIO_ENV)
    result, report = run_profile(tmp_path, emulator, "twilio")
    assert result.exit_code == 3 and report["reasons"]["operator_error"] == 4
    assert report["api"]["providers"]["mnp"]["answers"]["kinds"] == {"missing_field": 4}
    assert cached_entries(tmp_path / "cache") == 0


@pytest.mark.parametrize(("profile", "env", "secret"), [
    ("twilio", {**TWILIO_ENV, "RCSQUALIFY_MNP_PASSWORD": "wrong-token-123"},
     "wrong-token-123"),
    ("hlr-lookups", {**HLR_ENV, "RCSQUALIFY_MNP_SECRET": "wrong-secret-123"},
     "wrong-secret-123"),
])
def test_auth_refusal_stops_the_run_naming_the_variables(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, profile: str,
        env: dict[str, str], secret: str) -> None:
    emulator.reset(quota=1000)
    setenv(monkeypatch, env)
    f = contacts_file(tmp_path, frte_numbers(60))
    result = run_cli(["check", str(f), "--mnp-profile", profile, "--mnp-url", emulator.base,
                      "--rate", "100"])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("rcsqualify: error:") and "\n" not in line
    assert "HTTP 401" in line and " and ".join(
        load_profile(profile).credential_names) in line
    assert secret not in result.stderr + result.stdout
    # stopped at the first refusal (requests already in flight aside), not 60 refusals:
    # the bound leaves room for a loaded machine's latency at 100 requests a second
    assert emulator.stats()["requests"]["mnp"] < 30


def test_a_stale_digest_timestamp_is_refused(tmp_path: Path, emulator: Emulator,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator checks the timestamp like a real digest service: a clock an hour off
    is refused (the signature alone is not enough)."""
    emulator.reset(quota=1000, hlr_max_skew=-1)  # every timestamp is off
    setenv(monkeypatch, HLR_ENV)
    result = run_cli(["check", str(contacts_file(tmp_path, NUMBERS)), "--mnp-profile",
                      "hlr-lookups", "--mnp-url", emulator.base])
    assert result.exit_code == 2 and "HTTP 401" in result.stderr


@pytest.mark.parametrize(("profile", "names"), [
    ("twilio", "RCSQUALIFY_MNP_USER and RCSQUALIFY_MNP_PASSWORD"),
    ("hlr-lookups", "RCSQUALIFY_MNP_KEY and RCSQUALIFY_MNP_SECRET"),
])
def test_missing_credentials_exit_2_naming_the_variables(tmp_path: Path, emulator: Emulator,
                                                         profile: str, names: str) -> None:
    f = contacts_file(tmp_path, NUMBERS)
    result = run_cli(["check", str(f), "--mnp-profile", profile, "--mnp-url", emulator.base])
    assert result.exit_code == 2 and names in result.stderr
    assert emulator.stats()["requests"].get("mnp", 0) == 0  # nothing was sent


def test_an_unknown_profile_name_lists_the_built_ins(tmp_path: Path) -> None:
    f = contacts_file(tmp_path, NUMBERS)
    result = run_cli(["check", str(f), "--mnp-profile", "vonage"])
    assert result.exit_code == 2
    assert "generic, twilio, hlr-lookups" in result.stderr


def test_the_profile_comes_from_the_environment_too(tmp_path: Path, emulator: Emulator,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.reset(quota=1000, numbers=ANSWERS)
    setenv(monkeypatch, {**TWILIO_ENV, "RCSQUALIFY_MNP_PROFILE": "twilio",
                         "RCSQUALIFY_MNP_URL": emulator.base})
    f = contacts_file(tmp_path, NUMBERS)
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["api"]["providers"]["mnp"]["requests"] == 4
    assert "twilio:" + e164(NUMBERS[0]) in emulator.stats()["asked"]


def test_mnp_field_is_for_the_generic_profile_only(tmp_path: Path, emulator: Emulator,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    setenv(monkeypatch, TWILIO_ENV)
    f = contacts_file(tmp_path, NUMBERS)
    result = run_cli(["check", str(f), "--mnp-profile", "twilio", "--mnp-url", emulator.base,
                      "--mnp-field", "mccmnc"])
    assert result.exit_code == 2 and "--mnp-field" in result.stderr


def test_a_named_profile_takes_a_base_url_not_a_template(tmp_path: Path,
                                                         emulator: Emulator,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    setenv(monkeypatch, TWILIO_ENV)
    f = contacts_file(tmp_path, NUMBERS)
    result = run_cli(["check", str(f), "--mnp-profile", "twilio", "--mnp-url",
                      emulator.mnp_url()])
    assert result.exit_code == 2 and "base URL" in result.stderr


# -- a user's profile file ---------------------------------------------------------------

USER_PROFILE = """\
# The emulator's generic look-up, described as a user would describe their own service
name = "myhlr"
description = "An in-house HLR gateway"

[request]
method = "GET"
path = "/mnp/lookup"
query = { msisdn = "{msisdn}" }

[auth]
scheme = "bearer"

[answer]
ok = [200]
unknown_statuses = [404]
network = "mccmnc"

[[answer.error]]
path = "status"
in = [1]
transient = true
kind = "busy"

[[answer.error]]
path = "status"
not_in = [0]
"""


def test_a_user_profile_file(tmp_path: Path, emulator: Emulator,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile file the user wrote: its query template, bearer token, 404-as-unknown,
    and a transient error retried (then a failure, never cached)."""
    emulator.reset(quota=1000, numbers=ANSWERS, mnp_token="user-token-42")
    monkeypatch.setenv("RCSQUALIFY_MNP_TOKEN", "user-token-42")
    path = tmp_path / "myhlr.toml"
    path.write_text(USER_PROFILE)
    result, report = run_profile(tmp_path, emulator, str(path), "--retry-backoff", "0.01")
    assert result.exit_code == 3
    assert report["reasons"]["operator_error"] == 1 and report["reasons"]["ported_out"] == 1
    answers = report["api"]["providers"]["mnp"]["answers"]
    # "Busy" (status 1) is transient: asked 5 times (HttpPolicy.max_attempts), then a failure
    assert answers["kinds"] == {"operator": 2, "unknown": 1, "error_busy": 5}
    assert emulator.stats()["asked"][f"mnp:{e164(NUMBERS[3])}"] == 5
    assert report["api"]["providers"]["mnp"]["retries"] == 4
    assert cached_entries(tmp_path / "cache") == 3


@pytest.mark.parametrize(("edit", "field"), [
    (lambda t: t.replace('method = "GET"', 'method = "PUT"'), "request.method"),
    (lambda t: t.replace('network = "mccmnc"', 'mcc = "a.mcc"'), "answer.mnc"),
    (lambda t: t.replace('path = "/mnp/lookup"', 'path = "mnp/lookup"'), "request.path"),
    (lambda t: t.replace('scheme = "bearer"', 'scheme = "oauth"'), "auth.scheme"),
    (lambda t: t.replace("in = [1]", "in = 1"), "answer.error[0].in"),
    (lambda t: t.replace("in = [1]\n", ""), "answer.error[0]"),
    (lambda t: t.replace('kind = "busy"', 'kind = "Busy!"'), "answer.error[0].kind"),
    (lambda t: t.replace('[auth]', 'colour = "red"\n[auth]'), "request.colour"),
    (lambda t: t.replace('name = "myhlr"', 'name = ""'), "name"),
])
def test_a_profile_file_that_does_not_validate_names_file_and_field(
        tmp_path: Path, edit: Any, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(edit(USER_PROFILE))
    f = contacts_file(tmp_path, NUMBERS)
    result = run_cli(["check", str(f), "--mnp-profile", str(path), "--mnp-url",
                      "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert str(path) in result.stderr and f"field '{field}'" in result.stderr


def test_a_profile_file_that_is_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("name = \n")
    result = run_cli(["check", str(contacts_file(tmp_path, NUMBERS)), "--mnp-profile",
                      str(path), "--mnp-url", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "not valid TOML" in result.stderr


def test_the_documented_example_profile_validates() -> None:
    """The documentation's full example is a working profile (kept in step with the
    format)."""
    readme = (Path(__file__).resolve().parent.parent / "docs" / "guide" / "mnp-profiles.md"
              ).read_text()
    start = readme.index("```toml\n# myhlr.toml")
    text = readme[start + len("```toml\n"):readme.index("```", start + 7)]
    profile = parse_profile(text, "mnp-profiles.md")
    assert profile.name == "myhlr" and profile.scheme == "basic"


# -- the pieces ----------------------------------------------------------------------------

def test_hlr_lookups_signature_known_vector() -> None:
    """hlr-lookups.com publishes the construction, not a vector (their SDKs: hex
    HMAC-SHA256 of endpoint + timestamp + METHOD + body, the endpoint after /api/v2). This
    vector is from an independent public client's test suite built on that construction
    (path "/hlr-lookup", timestamp 1790000000, POST, the SDKs' example number)."""
    body = json.dumps({"msisdn": "+491788735000"}, separators=(",", ":")).encode()
    assert digest_signature("hlr-secret-value", "/hlr-lookup", 1790000000, "POST", body) == \
        "997fc8db45a0ac1c0e8ecc70bb2de21de9967b3c3c8ae50803aece5962aec6c8"


def test_hlr_lookups_signs_the_endpoint_and_the_exact_body() -> None:
    profile = load_profile("hlr-lookups")
    assert profile.signed_path("+33607000001") == "/hlr-lookup"
    assert profile.body_for("+33607000001") == b'{"msisdn":"+33607000001"}'
    assert profile.url_for("https://www.hlr-lookups.com/", "+33607000001") == \
        "https://www.hlr-lookups.com/api/v2/hlr-lookup"


def test_twilio_joins_mcc_and_mnc_and_refuses_a_numeric_mnc(tmp_path: Path) -> None:
    """MCC and MNC are joined; an MNC sent as a number lost its leading zero ("01" or
    "001"?): not recognized, never guessed."""
    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.operators.mnp import MnpSource
    from rcsqualify.operators.mnp_profiles import Credentials
    from rcsqualify.remote.http import Answer
    from rcsqualify.remote.policy import HttpPolicy

    source = MnpSource(url="https://lookups.twilio.com", plan=load_plan(),
                       cache=LookupCache(enabled=False), policy=HttpPolicy(),
                       profile=load_profile("twilio"), credentials=Credentials(
                           "basic", ("u", "p")))

    def ask(lti: dict[str, Any], valid: bool = True) -> tuple[bool, str]:
        return source.explain(Answer(200, {"valid": valid, "line_type_intelligence": lti}))

    assert ask({"mobile_country_code": "208", "mobile_network_code": "01"}) == (
        True, "operator FRTE")
    assert ask({"mobile_country_code": "208", "mobile_network_code": 1})[0] is False
    assert ask({"mobile_country_code": "208", "mobile_network_code": None})[0] is False
    assert ask({"error_code": 60610})[1].startswith("the service does not know")
    assert ask({"error_code": 60606})[0] is False
    assert ask({}, valid=False)[0] is True


def test_an_mnp_answer_confirming_the_range_holder_is_not_a_port(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #22 §5, CONTRACT §2: an SFR-range number the MNP look-up answers as SFR is
    with its range holder (``range_holder``, operator_source mnp), never ``ported_out``;
    an Orange-range number answered as SFR did leave its holder (``ported_out``)."""
    import pandas as pd

    sfr_at_home, orange_gone = "0601000001", NUMBERS[1]
    emulator.reset(quota=1000, numbers={e164(sfr_at_home): {"operator": "20810"},
                                        e164(orange_gone): {"operator": "20810"}})
    setenv(monkeypatch, TWILIO_ENV)
    f = contacts_file(tmp_path, [sfr_at_home, orange_gone])
    out = tmp_path / "o.csv"
    result, report = check_json([str(f), "--mnp-profile", "twilio", "--mnp-url", emulator.base,
                                 "--rate", "200", "--cache-dir", str(tmp_path / "cache"),
                                 "-o", str(out)])
    assert report["reasons"] == {"range_holder": 1, "ported_out": 1}
    assert report["attribution"]["moved"] == 1
    df = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False)
    assert df["reason"].tolist() == ["range_holder", "ported_out"]
    assert df["operator_source"].tolist() == ["mnp", "mnp"]
    assert result.exit_code == 1  # both are other-operator messages: errors
