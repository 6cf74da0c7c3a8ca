"""``rcsqualify init`` and ``rcsqualify doctor`` (issue #26 item 2): a profile written
without learning TOML, and a set-up checked without looking a number up. Against real
files, the emulator over HTTP and a real redis-server."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import Emulator
from tests.helpers import closed_port, run_cli, service_account


def _init(config: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(["init", "--config", str(config), "--no-input", *args])
    return result.exit_code, result.stdout, result.stderr


def _lines(stdout: str) -> dict[str, str]:
    """The doctor's lines by what they check: "OK", "WARN" or "FAIL" and the rest."""
    out = {}
    for line in stdout.splitlines():
        level, _, rest = line.partition(" ")
        if level in ("OK", "WARN", "FAIL"):
            what = rest.split(":", 1)[0]
            out[what] = f"{level} {rest}"
    return out


# -- init ----------------------------------------------------------------------------------
def test_init_writes_a_commented_profile_check_reads(tmp_path: Path, emulator: Emulator,
                                                     sample_contacts: Path) -> None:
    config = tmp_path / "conf" / "config.toml"
    code, out, err = _init(config, "--profile", "emu", "--capability", "bothub",
                           "--bot-id", "demo", "--emulator", emulator.base, "--lang", "en")
    assert code == 0, err
    assert "profile emu written" in out and "rcsqualify doctor --profile emu" in out
    text = config.read_text(encoding="utf-8")
    assert text.count("\n# ") >= 5  # a comment above the keys
    table = tomllib.loads(text)["profiles"]["emu"]
    assert table["bothub-client-secret"] == "env:RCSQUALIFY_BOTHUB_CLIENT_SECRET"
    assert table["lang"] == "en" and table["bot-id"] == "demo"
    assert table["mnp-url"] == emulator.mnp_url()
    assert config.stat().st_mode & 0o077 == 0  # a new config file is the user's alone
    # check reads it as written, and reaches the emulator through it
    result = run_cli(["check", str(sample_contacts), "--config", str(config),
                      "--profile", "emu", "-q"])
    assert result.exit_code == 1, result.stderr  # the sample base fails once checked
    assert sum(emulator.stats()["asked"].values()) > 0


def test_init_records_the_locale_language_by_default(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "C")  # cron's
    code, _, err = _init(tmp_path / "c.toml")
    assert code == 0, err
    assert tomllib.loads((tmp_path / "c.toml").read_text())["profiles"]["default"] == {
        "capability": "none", "lang": "fr"}


def test_init_never_overwrites_and_force_replaces_only_that_profile(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    mine = ("# my own notes, kept\n[profiles.prod]\nthreshold = 0.1  # tight\n"
            "capability = \"bothub-bulk\"\n\n")
    config.write_text(mine, encoding="utf-8")
    assert _init(config, "--profile", "staging", "--threshold", "0.2")[0] == 0
    after_first = config.read_text(encoding="utf-8")
    assert after_first.startswith(mine)
    code, _, err = _init(config, "--profile", "staging", "--threshold", "0.3")
    assert code == 2 and "already there" in err and "--force" in err
    assert config.read_text(encoding="utf-8") == after_first
    code, out, err = _init(config, "--profile", "staging", "--threshold", "0.3", "--force")
    assert code == 0 and "replaced" in out, err
    text = config.read_text(encoding="utf-8")
    assert text.startswith(mine)  # prod, its comments, byte for byte
    profiles = tomllib.loads(text)["profiles"]
    assert profiles["staging"]["threshold"] == 0.3 and profiles["prod"]["threshold"] == 0.1
    assert text.count("[profiles.staging]") == 1
    assert text.count("written by 'rcsqualify init'") == 1
    # --force on a profile someone wrote by hand replaces its table, not their comments
    code, _, err = _init(config, "--profile", "prod", "--force")
    assert code == 0, err
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# my own notes, kept\n")
    assert "threshold = 0.1  # tight" not in text and tomllib.loads(text)["profiles"]["staging"]


def test_init_force_keeps_the_comments_of_the_next_table(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[profiles.a]\nrate = 5\n# a's own note\n\n# about b, kept\n"
                      "[profiles.b]\nrate = 7\n", encoding="utf-8")
    assert _init(config, "--profile", "a", "--force", "--threshold", "0.2")[0] == 0
    text = config.read_text(encoding="utf-8")
    assert "a's own note" not in text and "# about b, kept\n[profiles.b]\nrate = 7\n" in text
    assert tomllib.loads(text)["profiles"]["a"]["threshold"] == 0.2
    assert _init(config, "--profile", "a", "--force", "--threshold", "0.3")[0] == 0
    again = config.read_text(encoding="utf-8")
    assert again.count("# rate = 30") == 1  # the suggestions are replaced, not piled up
    assert "# about b, kept\n[profiles.b]" in again


def test_init_takes_references_only(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    code, _, err = _init(config, "--capability", "bothub", "--bothub-client-secret",
                         "s3cr3t-Value!")
    assert code == 2 and "env:VARIABLE" in err and "s3cr3t" not in err
    assert not config.exists()
    # a secret that happens to be one word is not taken for a variable's name
    for secret in ("hunter2", "aB3xK9qLm2Zp"):
        code, _, err = _init(config, "--capability", "bothub", "--bot-id", "b",
                             "--bothub-client-secret", secret)
        assert code == 2 and "env:VARIABLE" in err and secret not in err
        assert not config.exists()
    code, _, err = _init(config, "--capability", "bothub", "--bot-id", "b",
                         "--bothub-client-secret", "env:prod_secret")
    assert code == 0, err  # written as a reference on purpose: taken as such
    config.unlink()
    code, _, err = _init(config, "--mnp-profile", "twilio", "--mnp-region", "ie1",
                         "--mnp-user", "TWILIO_SID", "--mnp-password", "env:TWILIO_TOKEN",
                         "--cache-key", "env:CACHE_KEY")
    assert code == 0, err
    table = tomllib.loads(config.read_text())["profiles"]["default"]
    assert table["mnp-user"] == "env:TWILIO_SID" and table["mnp-password"] == "env:TWILIO_TOKEN"
    assert table["cache-key"] == "env:CACHE_KEY" and table["mnp-region"] == "ie1"


def test_init_refuses_what_check_would_refuse_before_writing(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[profiles.a]\nrate = 5\n")
    code, _, err = _init(config, "--profile", "b", "--cache-url", "redis://:pw@host:6379/0")
    assert code == 2 and "password inside a URL" in err and "pw" not in err
    assert config.read_text() == "[profiles.a]\nrate = 5\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary left
    assert _init(config, "--profile", "bad name")[0] == 2
    config.write_text("[profiles.a\n")
    code, _, err = _init(config, "--profile", "b")
    assert code == 2 and "not valid TOML" in err


def test_init_asks_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal, the questions; the answers land in the profile."""
    import pty
    import select

    config = tmp_path / "config.toml"
    exe = Path(sys.executable).with_name("rcsqualify")
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(exe), "init", "--config", str(config), "--profile", "t"],
                            stdin=slave, stdout=slave, stderr=slave,
                            env={**os.environ, "TERM": "dumb"})
    os.close(slave)
    answers = [(b"capability", b"bothub\n"), (b"bot id", b"my-bot\n"),
               (b"client-id", b"\n"), (b"client-secret", b"PROD_SECRET\n"),
               (b"MNP look-ups", b"none\n"), (b"Language", b"en\n")]
    seen = b""
    try:
        for prompt, answer in answers:
            while prompt not in seen.lower().replace(b"client_", b"client-") and \
                    prompt.lower() not in seen.lower():
                ready, _, _ = select.select([master], [], [], 60)
                assert ready, seen
                seen += os.read(master, 4096)
            os.write(master, answer)
            seen = b""
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    table = tomllib.loads(config.read_text())["profiles"]["t"]
    assert table == {"capability": "bothub", "bot-id": "my-bot",
                     "bothub-client-id": "env:RCSQUALIFY_BOTHUB_CLIENT_ID",
                     "bothub-client-secret": "env:PROD_SECRET", "lang": "en"}


# -- doctor --------------------------------------------------------------------------------
def test_doctor_all_good_against_the_emulator(tmp_path: Path, emulator: Emulator) -> None:
    config = tmp_path / "config.toml"
    assert _init(config, "--profile", "emu", "--capability", "bothub", "--bot-id", "demo",
                 "--emulator", emulator.base)[0] == 0
    result = run_cli(["doctor", "--config", str(config), "--profile", "emu"])
    lines = _lines(result.stdout)
    assert result.exit_code == 0, result.stdout
    assert lines["configuration"].startswith("OK") and "profile emu" in lines["configuration"]
    assert lines["BotHub credentials"] == "OK BotHub credentials: a token was granted"
    for name in ("service BotHub", "service BotHub token", "service MNP"):
        assert lines[name].startswith("OK"), lines[name]
    assert lines["clock"].startswith("OK clock: within 30 s")
    for what in ("cache", "quota store", "ARCEP plan", "portability store", "locale"):
        assert what in lines, what
    assert not emulator.stats()["asked"]  # no number looked up
    assert "emulator-secret" not in result.stdout + result.stderr


def test_doctor_fails_on_refused_credentials_and_a_dead_service(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCSQUALIFY_BOTHUB_CLIENT_SECRET", "wrong-secret")
    result = run_cli(["doctor", *emulator.bothub_args()[:4], "--bothub-url",
                      f"{emulator.base}/bothub/v1", "--bothub-token-url",
                      f"{emulator.base}/oauth/v3/token",
                      "--mnp-url", f"http://127.0.0.1:{closed_port()}/x?n={{msisdn}}"])
    assert result.exit_code == 2  # doctor takes no check options: a bad option is exit 2
    config = tmp_path / "config.toml"
    assert _init(config, "--capability", "bothub", "--bot-id", "demo", "--emulator",
                 emulator.base, "--mnp-url",
                 f"http://127.0.0.1:{closed_port()}/x?n={{msisdn}}")[0] == 0
    result = run_cli(["doctor", "--config", str(config), "--profile", "default"])
    lines = _lines(result.stdout)
    assert result.exit_code == 1, result.stdout
    assert lines["BotHub credentials"].startswith("FAIL") and "HTTP 401" in \
        lines["BotHub credentials"] and "fix:" in lines["BotHub credentials"]
    assert lines["service MNP"].startswith("FAIL") and "connection refused" in \
        lines["service MNP"]
    assert "wrong-secret" not in result.stdout


def test_doctor_refused_credentials_name_the_variables_the_profile_reads(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile reading AGG_ID/AGG_SECRET: the refusal's hint names those, never the
    standard RCSQUALIFY_BOTHUB_* variables it did not read (issue #26 item 3)."""
    config = tmp_path / "config.toml"
    assert _init(config, "--profile", "agg", "--capability", "bothub", "--bot-id", "demo",
                 "--emulator", emulator.base, "--bothub-client-id", "env:AGG_ID",
                 "--bothub-client-secret", "env:AGG_SECRET")[0] == 0
    monkeypatch.setenv("AGG_ID", "emulator-client")
    monkeypatch.setenv("AGG_SECRET", "wrong-secret")
    result = run_cli(["doctor", "--config", str(config), "--profile", "agg"])
    line = _lines(result.stdout)["BotHub credentials"]
    assert result.exit_code == 1 and line.startswith("FAIL") and "HTTP 401" in line, line
    assert "AGG_ID" in line and "AGG_SECRET" in line, line
    assert "RCSQUALIFY_BOTHUB_CLIENT" not in result.stdout
    assert "wrong-secret" not in result.stdout + result.stderr
    monkeypatch.delenv("AGG_SECRET")
    line = _lines(run_cli(["doctor", "--config", str(config), "--profile", "agg"]).stdout)[
        "BotHub credentials"]
    assert line == ("FAIL BotHub credentials: AGG_SECRET not set (the profile reads it) — "
                    "fix: export AGG_SECRET=… (under cron: in the job's environment file)")


def test_doctor_names_missing_credentials_and_warns_for_services_without_a_token(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    assert _init(config, "--capability", "bothub", "--bot-id", "demo", "--emulator",
                 emulator.base, "--bothub-client-secret", "env:PROD_SECRET",
                 "--mnp-profile", "twilio")[0] == 0
    monkeypatch.setenv("RCSQUALIFY_MNP_USER", "ACemulator")
    monkeypatch.setenv("RCSQUALIFY_MNP_PASSWORD", "emulator-twilio-token")
    result = run_cli(["doctor", "--config", str(config), "--profile", "default"])
    lines = _lines(result.stdout)
    assert result.exit_code == 1
    assert lines["BotHub credentials"].startswith("FAIL") and "PROD_SECRET" in \
        lines["BotHub credentials"]
    assert lines["MNP credentials"].startswith("WARN") and \
        "not checked without a look-up" in lines["MNP credentials"]
    # the variables the profile reads, and the probe of the profile
    assert _init(config, "--mnp-profile", "twilio", "--mnp-user", "env:TW_SID",
                 "--mnp-password", "env:TW_TOKEN", "--emulator", emulator.base,
                 "--profile", "tw")[0] == 0
    monkeypatch.setenv("TW_SID", "ACemulator")
    monkeypatch.setenv("TW_TOKEN", "emulator-twilio-token")
    line = _lines(run_cli(["doctor", "--config", str(config), "--profile", "tw"]).stdout)[
        "MNP credentials"]
    assert "TW_SID and TW_TOKEN set" in line and "probe --profile tw NUMBER" in line


def test_doctor_checks_the_rbm_service_account(tmp_path: Path, emulator: Emulator) -> None:
    account = service_account(tmp_path, f"{emulator.base}/rbm/token")
    config = tmp_path / "config.toml"
    assert _init(config, "--capability", "rbm", "--agent-id", "emulator-agent",
                 "--rbm-credentials", str(account), "--emulator", f"{emulator.base}/rbm",
                 "--mnp-profile", "none")[0] == 0
    result = run_cli(["doctor", "--config", str(config), "--profile", "default"])
    lines = _lines(result.stdout)
    assert lines["RBM credentials"] == "OK RBM credentials: a token was granted", result.stdout
    assert result.exit_code == 0


def test_doctor_a_profile_in_error_stops_at_the_configuration(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[profiles.p]\nno-such-option = 1\n")
    result = run_cli(["doctor", "--config", str(config), "--profile", "p"])
    assert result.exit_code == 1
    assert result.stdout.startswith("FAIL configuration:") and "no-such-option" in result.stdout
    result = run_cli(["doctor", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 1 and "no such config file" in result.stdout
    assert run_cli(["doctor", "--no-such-flag"]).exit_code == 2


def test_doctor_offline_with_defaults_is_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    result = run_cli(["doctor"])
    lines = _lines(result.stdout)
    assert result.exit_code == 0, result.stdout
    assert "none configured" in lines["services"]
    assert lines["clock"].startswith("OK clock: not measured")
    assert "reports in French" in lines["locale"]


def test_doctor_measures_the_clock(tmp_path: Path, emulator: Emulator,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A local clock 2 minutes ahead of the services' Date headers is told; with the
    signed MNP profile (hlr-lookups), a failure."""
    import time

    from rcsqualify.cli import doctor

    monkeypatch.setattr(doctor, "now", lambda: time.time() + 120)
    config = tmp_path / "config.toml"
    assert _init(config, "--mnp-profile", "hlr-lookups", "--emulator", emulator.base)[0] == 0
    monkeypatch.setenv("RCSQUALIFY_MNP_KEY", "k")
    monkeypatch.setenv("RCSQUALIFY_MNP_SECRET", "s")
    result = run_cli(["doctor", "--config", str(config), "--profile", "default"])
    lines = _lines(result.stdout)
    assert lines["clock"].startswith("FAIL clock: 12") and "ahead of MNP" in lines["clock"]
    assert "NTP" in lines["clock"] and result.exit_code == 1


def test_doctor_checks_redis_and_the_cache_key(tmp_path: Path, redis_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    monkeypatch.setenv("RCSQUALIFY_CACHE_URL", redis_url)
    monkeypatch.delenv("RCSQUALIFY_CACHE_KEY")
    result = run_cli(["doctor"])
    lines = _lines(result.stdout)
    assert lines["Redis quota store"].startswith("OK"), result.stdout
    # a shared cache without a key given: the first run would stop, so doctor fails
    assert lines["cache"].startswith("FAIL") and "RCSQUALIFY_CACHE_KEY" in lines["cache"]
    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", "ab" * 32)
    result = run_cli(["doctor"])
    lines = _lines(result.stdout)
    assert result.exit_code == 0, result.stdout
    assert lines["cache"].startswith("OK")
    assert "the first write uses the key from RCSQUALIFY_CACHE_KEY" in lines["cache"]
    assert "abab" not in result.stdout
    # doctor records no key (opening the store writes its layout version, nothing else)
    assert redis.Redis.from_url(redis_url).keys("*") == [b"rcsq:layout"]
    # once a run has keyed it, a host without the key is told before its first run
    from rcsqualify.remote.cache import LookupCache
    from rcsqualify.remote.cachekey import KeyOptions

    LookupCache(url=redis_url, key=KeyOptions(text="ab" * 32)).close()
    monkeypatch.delenv("RCSQUALIFY_CACHE_KEY")
    lines = _lines(run_cli(["doctor"]).stdout)
    assert lines["cache"].startswith("FAIL") and "kept outside" in lines["cache"]
    monkeypatch.setenv("RCSQUALIFY_CACHE_URL", f"redis://127.0.0.1:{closed_port()}/0")
    result = run_cli(["doctor"])
    lines = _lines(result.stdout)
    assert result.exit_code == 1
    assert lines["cache"].startswith("FAIL") and lines["Redis quota store"].startswith("FAIL")


def test_doctor_warns_about_a_non_utf8_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    exe = Path(sys.executable).with_name("rcsqualify")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0",
           "PYTHONCOERCECLOCALE": "0"}
    proc = subprocess.run([str(exe), "doctor"], capture_output=True, text=True, env=env,
                          timeout=120)
    lines = _lines(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines["locale"].startswith("WARN") and "LANG=C.UTF-8" in lines["locale"]
    assert "reports in French" in lines["locale"]
