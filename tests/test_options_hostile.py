"""Hostile review of the option layer (issue #24 item 1): the same bad value given on the
command line, in the environment, in a profile and by a Python keyword is refused by
every source with one line and exit 2, never a traceback, a ValueError or a TypeError;
a value of the wrong kind (a TOML ``true`` for a threshold) never becomes a number."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rcsqualify.errors import InputError
from rcsqualify.settings import environment_names, options_of, settings_from
from tests.conftest import SAMPLE
from tests.helpers import run_cli

CONTACTS = str(SAMPLE / "contacts.csv")


def _floats() -> list[tuple[str, str, Any]]:
    """(field, long flag, envvar) of every float option."""
    from rcsqualify.settings import _kinds

    return [(name, opt.flag(name), opt.envvar) for name, opt, f in options_of()
            if float in _kinds(f)]


FLOATS = _floats()


def _refused(result: Any, flag: str) -> str:
    """The one line of a refusal: exit 2, the option named, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert flag in lines[0] or flag[2:] in lines[0], lines[0]
    return lines[0]


def _profile(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "p.toml"
    path.write_text(f"[profiles.p]\n{body}\n", encoding="utf-8")
    return ["--config", str(path), "--profile", "p"]


def test_every_float_option_is_checked() -> None:
    # the list the attacks below walk is not empty by accident
    assert {"rate", "threshold", "timeout", "price_message", "send_rate"} <= {
        n for n, _, _ in FLOATS}


@pytest.mark.parametrize(("name", "flag", "envvar"), FLOATS, ids=[f[0] for f in FLOATS])
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e309"])
def test_a_non_finite_number_is_refused_by_every_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, flag: str,
        envvar: Any, bad: str) -> None:
    _refused(run_cli(["check", CONTACTS, flag, bad, "-q"]), flag)
    if isinstance(envvar, str):
        monkeypatch.setenv(envvar, bad)
        _refused(run_cli(["check", CONTACTS, "-q"]), flag)
        monkeypatch.delenv(envvar)
    toml = {"1e309": "inf"}.get(bad, bad)  # TOML's own literals: nan, inf, -inf
    _refused(run_cli(["check", CONTACTS, "-q", *_profile(tmp_path, f"{flag[2:]} = {toml}")]),
             flag)
    with pytest.raises(InputError) as caught:
        settings_from(**{name: float(bad)})
    assert flag in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("toml", ["true", "false", "[30]", '{ a = 1 }'])
@pytest.mark.parametrize("key", ["threshold", "rate", "single-warn", "operator"])
def test_a_profile_value_of_the_wrong_kind_is_refused(tmp_path: Path, key: str,
                                                      toml: str) -> None:
    # threshold = true was a threshold of 1.0: a gate that always passes
    line = _refused(run_cli(["check", CONTACTS, "-q", *_profile(tmp_path, f"{key} = {toml}")]),
                    "--" + key)
    assert "profile p" in line


@pytest.mark.parametrize(("given", "says"), [
    ({"threshold": True}, "--threshold must be a number, got True"),
    ({"rate": True}, "--rate must be a number"),
    ({"rate": "30"}, "--rate must be a number, got '30'"),
    ({"rate": [30]}, "--rate must be a number"),
    ({"single_warn": 2.5}, "--single-warn must be a whole number"),
    ({"operator": 5}, "--operator must be a string"),
    ({"no_cache": "false"}, "--no-cache must be true or false"),  # "false" is truthy
    ({"column": 3}, "--column must be a list"),
    ({"notify": ["https://x.example/h", None]}, "--notify must be a list"),
    ({"price_message": math.inf}, "--price-message must be a finite number"),
    ({"rate": None}, "--rate needs a value, got None"),  # was accepted: HttpPolicy(None)
    ({"capability": None}, "--capability needs a value"),
    ({"price_conversation": 1e309}, "--price-conversation must be a finite number"),
])
def test_a_python_keyword_of_the_wrong_kind_is_one_input_error(given: dict[str, Any],
                                                                says: str) -> None:
    with pytest.raises(InputError, match="^" + re.escape(says)):
        settings_from(**given)


def test_the_python_api_refuses_a_boolean_number_as_the_command_line_does() -> None:
    import rcsqualify

    with pytest.raises(InputError, match=r"--threshold"):
        rcsqualify.qualify(["0612345678"], threshold=True)
    _refused(run_cli(["check", CONTACTS, "--threshold", "true", "-q"]), "--threshold")


def test_right_kinds_still_pass() -> None:
    from rcsqualify.settings import Settings

    s = settings_from(rate=25, threshold=0, column=("Tel",), portability=[Path("a.csv")],
                      bot_key_file="k.pem", seed=10**30, header=False)
    assert s.network.rate == 25 and s.gating.threshold == 0 and s.inputs.column == ("Tel",)
    assert s.portability_options.portability == [Path("a.csv")]
    assert s.bothub.bot_key_file == "k.pem" and s.sampling.seed == 10**30
    assert s.inputs.header is False and isinstance(s, Settings)
    # one value of a repeatable option is a list of one, as qualify(column="Tel") is
    one = settings_from(column="Tel", notify="https://x.example/h", portability=Path("a"))
    assert one.inputs.column == ["Tel"] and one.alerts.notify == ["https://x.example/h"]
    assert one.portability_options.portability == [Path("a")]


@pytest.mark.parametrize(("args", "flag"), [
    (["--single-warn", "-1"], "--single-warn"),
    (["--max-requests", "0"], "--max-requests"),
    (["--batch-size", "99999999999999999999"], "--batch-size"),
    (["--sample", "-3"], "--sample"),
    (["--portability-max-age", "-1"], "--portability-max-age"),
])
def test_negative_and_huge_integers(args: list[str], flag: str) -> None:
    _refused(run_cli(["check", CONTACTS, *args, "-q"]), flag)


def test_profile_keys_typos_and_other_commands(tmp_path: Path) -> None:
    line = _refused(run_cli(["check", CONTACTS, "-q", *_profile(tmp_path, "single_warn = 5")]),
                    "single_warn")
    assert "did you mean 'single-warn'" in line
    line = _refused(run_cli(["check", CONTACTS, "-q", *_profile(tmp_path, "singel-warn = 5")]),
                    "singel-warn")
    assert "did you mean 'single-warn'" in line
    # an internal field is no key; dry-run only on the command line
    _refused(run_cli(["check", CONTACTS, "-q", *_profile(tmp_path, "ttl-positive-days = 3")]),
             "ttl-positive-days")
    line = _refused(run_cli(["check", CONTACTS, "-q", *_profile(tmp_path, "dry-run = true")]),
                    "dry-run")
    assert "command line only" in line


def test_a_secret_in_clear_in_a_profile_is_refused_and_never_printed(tmp_path: Path) -> None:
    for body in ('bothub-client-secret = "hunter2secret"',
                 'cache-url = "redis://:hunter2secret@h:6379/0"',
                 'quota-store = "redis://u@h:6379/0?password=hunter2secret"',
                 'mnp-url = "https://u:hunter2secret@mnp.example/{msisdn}"'):
        result = run_cli(["check", CONTACTS, "-q", *_profile(tmp_path, body)])
        assert result.exit_code == 2, body
        assert "hunter2secret" not in result.stderr + result.stdout
        shown = run_cli(["config", "show", *_profile(tmp_path, body)])
        assert shown.exit_code == 2 and "hunter2secret" not in shown.stdout + shown.stderr


def test_config_show_masks_secrets_from_the_environment_and_the_profile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCSQUALIFY_CACHE_URL", "redis://:hunter2secret@h:6379/0")
    monkeypatch.setenv("RCSQUALIFY_MNP_URL", "https://u:pw@mnp.example/{msisdn}?token=tok3n")
    monkeypatch.setenv("RCSQUALIFY_MNP_TOKEN", "tok3n")
    args = _profile(tmp_path, 'notify = ["https://hooks.slack.com/services/T0/B0/PATHSECRET",'
                    ' "env:HOOK"]\nbothub-client-secret = "env:MYSEC"')
    out = run_cli(["config", "show", *args]).stdout
    for secret in ("hunter2secret", "tok3n", "PATHSECRET", ":pw@"):
        assert secret not in out
    assert "env:HOOK" in out and "env:MYSEC" in out and "hooks.slack.com" in out


def test_config_show_changed_names_each_source(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import typer.main

    from rcsqualify.cli import app
    from rcsqualify.config import apply_profile, effective_settings

    monkeypatch.setenv("RCSQUALIFY_TIMEOUT", "7")
    args = _profile(tmp_path, "rate = 12")
    group = typer.main.get_command(app)
    root = group.make_context("rcsqualify", ["check"], resilient_parsing=True)
    check = group.get_command(root, "check")  # type: ignore[attr-defined]
    ctx = check.make_context("check", ["-", *args, "--threshold", "0.2"], parent=root)
    values = apply_profile(ctx, dict(ctx.params))
    rows = {k: (v, w) for k, v, w in effective_settings(ctx, values, changed=True)}
    assert rows["rate"] == ("12.0", "profile p")
    assert rows["timeout"] == ("7.0", "environment RCSQUALIFY_TIMEOUT")
    assert rows["threshold"] == ("0.2", "command line")
    assert "seed" not in rows  # a default is no change
    every = {k: w for k, _, w in effective_settings(ctx, values)}
    assert every["seed"] == "default"


def test_help_all_names_every_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    text = run_cli(["check", "--help-all"]).stdout
    assert not {e for e in environment_names() if e not in text}


def test_a_list_option_has_no_environment_variable() -> None:
    # nothing promises RCSQUALIFY_COLUMN: no repeatable option reads one
    listed = [name for name, opt, f in options_of() if isinstance(f.default_factory, type)]
    assert "column" in listed
    assert all(opt.envvar is None for name, opt, _ in options_of() if name in listed)


def test_paths_of_a_profile_expand_the_home_only(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from rcsqualify.config import load_profile
    from rcsqualify.settings import option_keys

    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "p.toml"
    path.write_text('[profiles.p]\nhistory = "~/h.log"\nbot-key-file = "$HOME/k.pem"\n')
    profile = load_profile(path, "p", option_keys())
    assert profile.options["history"] == str(tmp_path / "h.log")
    # no variable is expanded (a profile is data): beside the profile, as written
    assert profile.options["bot-key-file"] == str(tmp_path / "$HOME" / "k.pem")


def test_lazy_commands_did_you_mean_and_the_root_help() -> None:
    from rcsqualify.cli import COMMAND_MODULES

    result = run_cli(["chek"])
    assert result.exit_code == 2 and "Did you mean 'check'" in result.stderr
    text = run_cli(["--help"]).stdout
    assert all(f" {name} " in text for name in COMMAND_MODULES)


def _complete(words: str, cword: int, cwd: Path) -> str:
    env = {**os.environ, "_RCSQUALIFY_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    # the installed entry point (completion is keyed by the program's name)
    entry = Path(sys.executable).with_name("rcsqualify")
    return subprocess.run([str(entry)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120).stdout


def test_python_m_from_another_directory_and_completion(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "rcsqualify", "--version"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("rcsqualify ")
    assert _complete("rcsqualify ch", 1, tmp_path).split() == ["check"]
    assert "--threshold" in _complete("rcsqualify check --thr", 2, tmp_path).split()


def test_completion_offers_the_options_check_help_hides(tmp_path: Path) -> None:
    # --rate is shown by --help-all only: still an option a shell completes
    assert {"--rate", "--rate-margin"} <= set(_complete("rcsqualify check --ra", 2,
                                                        tmp_path).split())


@pytest.mark.parametrize(("env", "body", "says"), [
    ({"RCSQUALIFY_RATE": "abc"}, "", "Invalid value for '--rate'"),
    ({"RCSQUALIFY_RATE": "nan"}, "", "--rate must be a number from 0.01 to 10000, got nan"),
    ({}, "threshold = 2", "profile p, key 'threshold': --threshold must be between 0 and 1"),
    ({}, "rate = nan", "profile p, key 'rate': --rate must be a number"),
])
def test_config_show_and_doctor_refuse_what_check_refuses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], body: str,
        says: str) -> None:
    # config show printed rate '-' (abc) or 'nan' as the setting check would use, exit 0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = _profile(tmp_path, body) if body else []
    check = run_cli(["check", CONTACTS, "-q", *args])
    shown = run_cli(["config", "show", *args])
    assert check.exit_code == shown.exit_code == 2
    assert says in check.stderr and says in shown.stderr
    doctor = run_cli(["doctor", *args])  # a finding (exit 1) or a usage error (exit 2)
    assert doctor.exit_code in (1, 2) and says in doctor.stdout + doctor.stderr


def test_the_suite_fails_on_a_declared_field_no_test_reads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the conftest check itself: a field missing from the reads is named on a whole run,
    # a name no group declares on any run
    from types import SimpleNamespace

    from rcsqualify.settings import every_field
    from tests import conftest

    whole = SimpleNamespace(args=[str(Path(conftest.__file__).resolve().parent)],
                            option=SimpleNamespace(keyword="", markexpr="", lf=False,
                                                   deselect=None))
    monkeypatch.setattr(conftest, "_OPTION_READS", set(every_field()))
    monkeypatch.setattr(conftest, "_UNDECLARED_READS", set())
    assert conftest._option_reads_problem(whole) is None
    conftest._OPTION_READS.discard(("ReportOptions", "send_rate"))
    assert "ReportOptions.send_rate" in (conftest._option_reads_problem(whole) or "")
    # pytest --co collects the whole suite and runs nothing: no field can have been read
    collect_only = SimpleNamespace(args=whole.args, option=SimpleNamespace(
        **vars(whole.option), collectonly=True))
    assert conftest._option_reads_problem(collect_only) is None
    conftest._UNDECLARED_READS.add("dummy_option")
    assert "dummy_option" in (conftest._option_reads_problem(whole) or "")


@pytest.mark.parametrize("flag", ["--output", "--json-report", "--split-dir", "--html-report",
                                  "--metrics-file", "--bulk-hours"])
def test_an_empty_value_is_refused_not_read_as_absent(tmp_path: Path, flag: str) -> None:
    # -o "$OUT" with OUT unset wrote nothing and exited as if no output was asked
    _refused(run_cli(["check", CONTACTS, flag, "", "-q"]), flag)
    line = _refused(run_cli(["check", CONTACTS, "-q",
                             *_profile(tmp_path, f'{flag[2:]} = " "')]), flag)
    assert "profile p" in line
    with pytest.raises(InputError, match="is empty"):
        settings_from(**{flag[2:].replace("-", "_"): ""})


@pytest.mark.parametrize("flag", ["--history", "--cache-dir", "--portability",
                                  "--portability-db", "--config"])
def test_an_empty_path_is_refused_not_read_as_the_working_directory(flag: str) -> None:
    # Path("") is ".": --history "" said "--history .: is a directory", --cache-dir ""
    # cached in the working directory without a word
    line = _refused(run_cli(["check", CONTACTS, flag, "", "-q"]), flag)
    assert line.endswith(f"{flag} is empty: give a value, or leave the option out"), line
    if flag != "--config":  # a profiles file is the command line's, not the API's
        with pytest.raises(InputError, match="is empty"):
            settings_from(**{flag[2:].replace("-", "_"): " "})


def test_an_empty_value_stays_meaningful_where_it_is_declared_so() -> None:
    # require-feature '' = any capability (its help says so): not an absent option
    assert settings_from(require_feature="").bothub.require_feature == ""


def test_minus_zero_is_zero() -> None:
    # --threshold -0 printed 'over the -0% threshold' and wrote threshold -0.0 in JSON
    from tests.helpers import check_json

    _, report = check_json([CONTACTS, "--threshold", "-0"])
    assert math.copysign(1.0, report["threshold"]) == 1.0
    assert math.copysign(1.0, settings_from(warn_at=-0.0).alerts.warn_at) == 1.0
    text = run_cli(["check", CONTACTS, "--threshold", "-0"]).stdout
    assert "-0%" not in text and "-0 %" not in text
