"""rcsqualify probe (issue #12): one look-up, the raw answer with the number and every
secret masked, and what rcsqualify makes of it; over real HTTP against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Emulator
from tests.helpers import e164, frte_numbers, run_cli

NUMBER = frte_numbers(1)[0]  # national form, as a user would type it
# the credentials the emulator's look-alike of each MNP service accepts
CREDENTIALS = {
    "twilio": {"RCSQUALIFY_MNP_USER": "ACemulator",
               "RCSQUALIFY_MNP_PASSWORD": "emulator-twilio-token"},
    "hlr-lookups": {"RCSQUALIFY_MNP_KEY": "emulator-hlr-key",
                    "RCSQUALIFY_MNP_SECRET": "emulator-hlr-secret"},
}


def forms(national: str) -> list[str]:
    full = e164(national)
    return [full, full.lstrip("+"), national, full.replace("+", "%2B")]


def test_probe_bothub_prints_the_answer_masked(emulator: Emulator) -> None:
    emulator.reset(quota=1000, numbers={e164(NUMBER): {"capable": True}})
    result = run_cli(["probe", *emulator.bothub_args(), NUMBER])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "HTTP 200 application/json" in out and '"chatBotCommunication"' in out
    assert "rcsqualify reads: RCS-reachable" in out
    assert "/contactCapabilities" in out
    assert not any(f in out for f in forms(NUMBER))
    assert "emulator-secret" not in out
    assert emulator.stats()["asked"] == {f"bothub:{e164(NUMBER)}": 1}  # one look-up


def test_probe_bothub_not_capable(emulator: Emulator) -> None:
    emulator.reset(quota=1000, numbers={e164(NUMBER): {"capable": False}})
    result = run_cli(["probe", *emulator.bothub_args(), NUMBER])
    assert result.exit_code == 0
    assert "HTTP 404" in result.stdout and "not RCS" in result.stdout


@pytest.mark.parametrize(("profile", "operator", "code", "meaning"), [
    ("twilio", "20810", 0, "operator SFR0"),
    ("twilio", "error", 3, "not recognized (error_line_type)"),
    ("twilio", "unknown", 0, "the service does not know the number"),
    ("hlr-lookups", "unknown", 0, "no subscriber holds the number: invalid / unassigned"),
    ("hlr-lookups", "error", 3, "not recognized (error_undetermined)"),
])
def test_probe_an_mnp_profile(emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
                              profile: str, operator: str, code: int, meaning: str) -> None:
    emulator.reset(quota=1000, numbers={e164(NUMBER): {"operator": operator}})
    env = CREDENTIALS[profile]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run_cli(["probe", "--mnp-profile", profile, "--mnp-url", emulator.base, NUMBER])
    assert result.exit_code == code, result.output
    out = result.stdout
    assert f"service: mnp ({profile})" in out and "HTTP 200 application/json" in out
    assert f"rcsqualify reads: {meaning}" in out
    # the services echo the number (phone_number, national_format, url, msisdn): masked
    assert not any(f in out for f in forms(NUMBER))
    assert not any(secret in out for secret in env.values())


def test_probe_a_service_that_answers_html(emulator: Emulator,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in CREDENTIALS["twilio"].items():
        monkeypatch.setenv(key, value)
    result = run_cli(["probe", "--mnp-profile", "twilio", "--mnp-url",
                      f"{emulator.base}/portal", NUMBER])
    assert result.exit_code == 3
    assert "text/html" in result.stdout and "not JSON" in result.stdout


def test_probe_needs_a_service_and_a_french_number(emulator: Emulator) -> None:
    assert run_cli(["probe", NUMBER]).exit_code == 2
    result = run_cli(["probe", "--mnp-url", emulator.mnp_url(), "+44 7700 900123"])
    assert result.exit_code == 2 and "7700" not in result.stderr


def test_probe_takes_its_service_and_credentials_from_a_profile(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """``probe --profile`` (issue #26 item 2): the profile's service, its credential
    references (the usual variables unset), and the check options probe does not take
    (``sheet``) left alone."""
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    emulator.reset(quota=1000, numbers={e164(NUMBER): {"capable": True}})
    monkeypatch.delenv("RCSQUALIFY_BOTHUB_CLIENT_ID")
    monkeypatch.delenv("RCSQUALIFY_BOTHUB_CLIENT_SECRET")
    monkeypatch.setenv("ONBOARD_ID", "emulator-client")
    monkeypatch.setenv("ONBOARD_SECRET", "emulator-secret")
    cfg = tmp_path / "team.toml"
    cfg.write_text(
        '[profiles.onboard]\ncapability = "bothub"\nbot-id = "test-bot"\nsheet = "Clients"\n'
        f'bothub-url = "{emulator.base}/bothub/v1"\n'
        f'bothub-token-url = "{emulator.base}/oauth/v3/token"\n'
        'bothub-client-id = "env:ONBOARD_ID"\nbothub-client-secret = "env:ONBOARD_SECRET"\n',
        encoding="utf-8")
    result = run_cli(["probe", "--config", str(cfg), "--profile", "onboard", NUMBER])
    assert result.exit_code == 0, result.output
    assert "rcsqualify reads: RCS-reachable" in result.stdout
    assert emulator.stats()["asked"] == {f"bothub:{e164(NUMBER)}": 1}
    # an option given here wins over the profile
    given = run_cli(["probe", "--config", str(cfg), "--profile", "onboard",
                     "--bothub-url", "http://127.0.0.1:9/nothing", NUMBER])
    assert given.exit_code != 0 and "127.0.0.1:9" in given.output



def test_probe_help_says_how_to_probe_a_profiles_mnp_service() -> None:
    """A profile with capability = "bothub" made probe ask BotHub although its help said
    "(else the MNP look-up)" with default none: it says how to reach the MNP service."""
    import re

    text = " ".join(re.sub("[│╭╮╰╯─]", " ", run_cli(["probe", "--help"]).stdout).split())
    assert "--capability none probes its MNP service" in text


def test_probe_rbm_sends_the_providers_own_request(emulator: Emulator, tmp_path: Path
                                                   ) -> None:
    """RBM's per-number look-up is probed with its own request builder
    (``request_parts``: the agent and a requestId) through its own HTTP layer, and read
    by its own ``interpret``: a 404 envelope is 'not RCS'."""
    from tests.helpers import service_account

    emulator.reset(quota=1000, numbers={e164(NUMBER): {"capable": False}})
    creds = service_account(tmp_path, f"{emulator.base}/rbm/token")
    args = emulator.rbm_args(creds)[:-2]  # without check's --threshold
    result = run_cli(["probe", "--capability", "rbm", *args, NUMBER])
    assert result.exit_code == 0, result.output
    assert "HTTP 404" in result.stdout and "not RCS" in result.stdout
    assert "/capabilities" in result.stdout
    assert not any(f in result.stdout for f in forms(NUMBER))
    assert emulator.stats()["asked"] == {f"rbm:{e164(NUMBER)}": 1}  # one look-up
