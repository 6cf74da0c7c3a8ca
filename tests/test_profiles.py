"""Profiles (issue #16 item 3): --config/--profile, precedence option > profile >
environment > default, credential references only, 'config show' masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE, Emulator
from tests.helpers import check_json, run_cli

CONTACTS = str(SAMPLE / "contacts.csv")


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rcsqualify.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_profile_value_wins_over_environment_and_option_over_profile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(tmp_path, '[profiles.strict]\nthreshold = 0.01\ngate = "upper"\n')
    monkeypatch.setenv("RCSQUALIFY_THRESHOLD", "0.5")
    _, env_only = check_json([CONTACTS])
    assert env_only["threshold"] == 0.5 and env_only["gate_mode"] == "decide"
    _, profiled = check_json([CONTACTS, "--config", str(cfg), "--profile", "strict"])
    assert profiled["threshold"] == 0.01 and profiled["gate_mode"] == "upper"
    _, option = check_json([CONTACTS, "--config", str(cfg), "--profile", "strict",
                            "--threshold", "0.3"])
    assert option["threshold"] == 0.3 and option["gate_mode"] == "upper"


def test_profile_chosen_by_environment_from_the_user_config_dir(
        isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rcsqualify.config import default_config_path

    path = default_config_path()
    assert path.is_relative_to(isolated_env)  # the fixture's, never the user's
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[profiles.ci]\nthreshold = 0.02\n', encoding="utf-8")
    monkeypatch.setenv("RCSQUALIFY_PROFILE", "ci")
    _, report = check_json([CONTACTS])
    assert report["threshold"] == 0.02


def test_a_config_toml_in_the_working_directory_is_never_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text('[profiles.x]\nthreshold = 0.01\n')
    monkeypatch.chdir(tmp_path)
    result = run_cli(["check", CONTACTS, "--profile", "x", "-q"])
    assert result.exit_code == 2
    assert "no config file" in result.stderr


@pytest.mark.parametrize(("body", "expected"), [
    ('[profiles.p]\nrate = 5\n', "no profile 'nope'"),
    ('[profiles.nope]\nfrobnicate = 1\n', "key 'frobnicate' is not an option"),
    # a misspelt key: the key it most likely meant (issue #26 item 3)
    ('[profiles.nope]\ncapabilty = "bothub"\n', "profile nope, key 'capabilty' is not an "
     "option of 'rcsqualify check': did you mean 'capability'?"),
    ('[profiles.nope]\nbothub-client-secert = "env:X"\n', "did you mean "
     "'bothub-client-secret'?"),
    ('[profiles.nope]\nbothub-client-secret = "hunter2-secret"\n',
     "key 'bothub-client-secret': a credential must be a reference"),
    ('[profiles.nope]\ndry-run = true\n', "key 'dry-run': --dry-run is accepted on the "
     "command line only"),
    ('[profiles.nope]\nrate = "fast"\n', "key 'rate'"),
    ('[profiles.nope]\nportability-max-unmapped = 3\n', "key 'portability-max-unmapped'"),
    ('[profiles.nope\n', "not valid TOML"),
    # a misspelt table name would leave the run with the defaults
    ('[profile.nope]\nthreshold = 0.01\n', "unknown top-level key 'profile'"),
    ('threshold = 0.01\n[profiles.nope]\n', "unknown top-level key 'threshold'"),
    ('[profiles.nope]\nmnp-url = "https://u:hunter2@mnp.example/{msisdn}"\n',
     "key 'mnp-url': a password inside a URL is refused"),
    ('[profiles.nope]\ncache-url = "redis://:hunter2@127.0.0.1:1/0"\n',
     "key 'cache-url': a password inside a URL is refused"),
    ('[profiles.nope]\ncache-url = "redis://127.0.0.1:1/5?password=hunter2"\n',
     "key 'cache-url': a password inside a URL is refused"),
    ('[profiles.nope]\ncache-url = "redis://default:hunter2@[::1/5"\n',
     "key 'cache-url': a password inside a URL is refused"),
])
def test_bad_profiles_are_one_line_exit_2_naming_file_profile_and_key(
        tmp_path: Path, body: str, expected: str) -> None:
    cfg = _config(tmp_path, body)
    result = run_cli(["check", CONTACTS, "--config", str(cfg), "--profile", "nope", "-q"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rcsqualify: error: "), result.stderr
    assert str(cfg) in lines[0] and expected in lines[0]
    assert "hunter2" not in result.stderr


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = run_cli(["check", CONTACTS, "--config", str(tmp_path / "none.toml"),
                      "--profile", "x"])
    assert result.exit_code == 2 and "no such config file" in result.stderr


def test_dry_run_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCSQUALIFY_DRY_RUN", "1")
    result = run_cli(["check", CONTACTS, "-q"])
    assert result.exit_code == 2 and "command line only" in result.stderr


def test_config_show_masks_secrets_and_says_where_each_value_comes_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("file-secret-value\n")
    cfg = _config(tmp_path, (
        '[profiles.prod]\ncapability = "bothub"\nrate = 25\n'
        'mnp-url = "https://mnp.example/lookup?msisdn={msisdn}&token=tok-in-url"\n'
        'bothub-client-id = "env:PROD_ID"\n'
        f'bothub-client-secret-file = "{secret_file}"\n'))
    monkeypatch.setenv("PROD_ID", "prod-client-id-value")
    monkeypatch.setenv("RCSQUALIFY_TIMEOUT", "3")
    monkeypatch.setenv("RCSQUALIFY_RATE", "99")
    monkeypatch.setenv("RCSQUALIFY_MNP_TOKEN", "env-token-value")
    # wide enough that no cell wraps (pytest-xdist's temporary paths are long)
    monkeypatch.setenv("COLUMNS", "500")
    result = run_cli(["config", "show", "--config", str(cfg), "--profile", "prod"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    rows = {line.split("│")[1].strip(): line for line in out.splitlines()
            if line.count("│") >= 4}
    assert "25.0" in rows["rate"] and "profile prod" in rows["rate"]  # profile > env
    assert "environment RCSQUALIFY_TIMEOUT" in rows["timeout"]
    assert "default" in rows["threshold"]
    assert "env:PROD_ID (set)" in rows["bothub-client-id"]
    assert "secret.txt" in rows["bothub-client-secret"] and "(readable)" in out
    assert "environment RCSQUALIFY_MNP_TOKEN" in rows["mnp-token"]
    for secret in ("prod-client-id-value", "file-secret-value", "env-token-value",
                   "tok-in-url"):
        assert secret not in out


def test_profile_credentials_reach_the_provider(tmp_path: Path, emulator: Emulator,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator accepts the credentials the profile points at (an env: reference and
    a file), with the usual variables unset: the references were resolved."""
    monkeypatch.delenv("RCSQUALIFY_BOTHUB_CLIENT_ID")
    monkeypatch.delenv("RCSQUALIFY_BOTHUB_CLIENT_SECRET")
    monkeypatch.setenv("EMU_ID", "emulator-client")
    secret = tmp_path / "secret"
    secret.write_text("emulator-secret\n")
    cfg = _config(tmp_path, (
        f'[profiles.emu]\ncapability = "bothub"\nbot-id = "test-bot"\n'
        f'bothub-url = "{emulator.base}/bothub/v1"\n'
        f'bothub-token-url = "{emulator.base}/oauth/v3/token"\n'
        'bothub-client-id = "env:EMU_ID"\nbothub-client-secret-file = "secret"\n'))
    result, report = check_json([CONTACTS, "--config", str(cfg), "--profile", "emu"])
    assert report["capability"] == "bothub" and report["api"]["requests"] > 0
    assert "emulator-secret" not in result.stderr + result.stdout
    monkeypatch.delenv("EMU_ID")
    missing = run_cli(["check", CONTACTS, "--config", str(cfg), "--profile", "emu", "-q"])
    assert missing.exit_code == 2 and "env:EMU_ID" in missing.stderr


@pytest.mark.parametrize("value", ['"port.csv"', '["port.csv"]', '["port.csv", "more/port2.csv"]'])
def test_a_profiles_portability_list_is_read_relative_to_the_profile_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Every path of a list-valued option (``portability = [...]``) is resolved beside
    the profile's file like a single path, never against the working directory."""
    conf = tmp_path / "conf"
    (conf / "more").mkdir(parents=True)
    extract = (SAMPLE / "portability.csv").read_bytes()
    (conf / "port.csv").write_bytes(extract)
    (conf / "more" / "port2.csv").write_bytes(extract)
    cfg = conf / "rcsqualify.toml"
    cfg.write_text(f"[profiles.p]\nportability = {value}\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result, report = check_json([CONTACTS, "--config", str(cfg), "--profile", "p"])
    assert result.exit_code == 3, result.stderr
    paths = [Path(s["path"]) for s in report["portability"]["sources"]]
    assert paths and all(p.is_relative_to(conf) for p in paths), paths
    assert report["portability"]["entries"] == 7
