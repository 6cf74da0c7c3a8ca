"""Options declared once (issue #24 item 1) and the help and profiles built on them
(issue #26 items 3 and 7)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import typer

from rcsqualify.cli import app
from rcsqualify.errors import InputError
from rcsqualify.settings import (
    GROUPS,
    BothubOptions,
    NetworkOptions,
    Settings,
    options_of,
    settings_from,
)
from tests.helpers import frte_numbers, run_cli, write_csv


def _check_command() -> typer.core.TyperCommand:
    return typer.main.get_command(app).commands["check"]  # type: ignore[attr-defined,no-any-return]


def test_every_option_of_check_is_a_declared_field_and_every_declared_option_an_option(
        ) -> None:
    """What ``check`` accepts is exactly what the groups declare: an option without a
    field (silently dropped before) or a field without its option cannot exist."""
    params = {p.name for p in _check_command().params if p.param_type_name == "option"}
    declared = {name for name, _, _ in options_of()}
    assert params - {"help_all"} == declared


def test_settings_from_keywords_validates_and_refuses_unknown_names() -> None:
    s = settings_from(rate=25, capability="bothub", bot_id="b")
    assert s.network.rate == 25 and s.rate == 25  # the group, and the flat view
    assert s.bothub.bot_id == "b" and isinstance(s.group(BothubOptions), BothubOptions)
    with pytest.raises(TypeError, match="'rat' is not an option"):
        settings_from(rat=25)
    with pytest.raises(InputError, match=r"--rate must be a number from 0.01 to 10000, "
                                         r"got nan"):
        settings_from(rate=float("nan"))
    with pytest.raises(InputError, match="--poll-interval must be a number"):
        BothubOptions(poll_interval=float("inf"))
    # Click's bounds hold for values that do not come through Click
    with pytest.raises(InputError, match="--max-requests must be at least 1"):
        settings_from(max_requests=0)
    with pytest.raises(InputError, match="--batch-size must be from 1 to 10000, got 0"):
        settings_from(batch_size=0)


def test_replace_keeps_the_other_groups_and_validates_the_change() -> None:
    s = Settings(rate=10.0, threshold=0.2)
    t = dataclasses.replace(s, quiet=True)
    assert (t.quiet, t.rate, t.threshold) == (True, 10.0, 0.2)
    assert s.replace(network=NetworkOptions(rate=5.0)).rate == 5.0
    with pytest.raises(InputError):
        s.replace(timeout=0.0)


def test_every_default_lives_in_its_declaration() -> None:
    """The Click defaults of ``check`` are the declarations' (written once)."""
    command = _check_command()
    for name, _, f in options_of():
        param = next(p for p in command.params if p.name == name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(default, list) or f.default is dataclasses.MISSING:
            default = None
        assert param.default == default, name


def test_short_help_shows_the_common_options_and_points_at_help_all() -> None:
    short = run_cli(["check", "--help"]).stdout
    full = run_cli(["check", "--help-all"]).stdout
    shown = set(re.findall(r"--[a-z][a-z-]+", short))
    assert 18 <= len(shown - {"--help", "--help-all"}) <= 30, sorted(shown)
    assert "--rate-margin" not in short and "--rate-margin" in full
    assert short.rstrip().splitlines()[-1].strip() == \
        "All options: 'rcsqualify check --help-all'."
    assert "help-all'" not in full.rstrip().splitlines()[-1]
    # the BotHub credentials are named where a first run looks (issue #26 item 7)
    bot_id = next(line for line in short.splitlines() if "--bot-id" in line)
    assert "RCSQUALIFY_BOTHUB_CLIENT_ID and _SECRET" in " ".join(bot_id.split()), bot_id
    # the command object is shared: --help-all leaves the short help short
    assert run_cli(["check", "--help"]).stdout == short


#: ``check --help`` at 80 columns (issue #26 item 7: it fits a screen). Today 65 lines:
#: 19 common options one line each in 6 panels (35), usage, description and argument
#: (16), five examples and the pointer to --help-all (14); it was 125 with the long
#: helps. A new common option, or a brief that wraps, shows here first.
SHORT_HELP_MAX_LINES = 66


def test_short_help_fits_a_screen_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from rcsqualify.settings import options_of

    monkeypatch.setenv("COLUMNS", "80")
    short = run_cli(["check", "--help"]).stdout
    assert len(short.splitlines()) <= SHORT_HELP_MAX_LINES, short
    assert max(len(line) for line in short.splitlines()) <= 80
    assert "[env var:" not in short  # the variables are in --help-all and the reference
    monkeypatch.setenv("COLUMNS", "400")  # one line per option: no word cut by the box
    full = run_cli(["check", "--help-all"]).stdout
    for name, opt, _ in options_of():
        if opt.common:  # one line each: its brief (or its help) does not wrap
            row = next(line for line in short.splitlines() if f"{opt.flag(name)} " in line)
            assert row.rstrip("│ ").endswith((opt.brief or opt.help).rstrip(".") + ".") \
                or "[default:" in row, row
        if opt.brief:  # --help-all shows the whole help, not the brief
            assert " ".join(opt.help.split()[:2]) in full, name
    assert "[env var: RCSQUALIFY_THRESHOLD]" in full


def test_every_credential_variable_is_named_in_the_help_of_the_option_it_serves(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from rcsqualify.config import CREDENTIALS

    monkeypatch.setenv("COLUMNS", "400")  # one line per option: no name cut
    full = run_cli(["check", "--help-all"]).stdout
    lines = {m.group(1): line for line in full.splitlines()
             if (m := re.search(r"│ (--[a-z-]+)", line))}
    serving = {"RCSQUALIFY_BOTHUB_CLIENT_ID": "--bot-id",
               "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "--bot-id",
               "RCSQUALIFY_MNP_TOKEN": "--mnp-profile", "RCSQUALIFY_MNP_USER": "--mnp-profile",
               "RCSQUALIFY_MNP_PASSWORD": "--mnp-profile",
               "RCSQUALIFY_MNP_KEY": "--mnp-profile", "RCSQUALIFY_MNP_SECRET": "--mnp-profile",
               "RCSQUALIFY_CACHE_KEY": "--cache-key-file",
               "RCSQUALIFY_REDIS_PASSWORD": "--cache-url"}
    assert set(CREDENTIALS.values()) <= set(serving)
    for variable, option in serving.items():
        assert variable in lines[option], (variable, option)


def test_a_group_is_frozen_and_declares_each_option_once() -> None:
    names = [name for name, _, _ in options_of()]
    assert len(names) == len(set(names))
    flags = [opt.flag(name) for name, opt, _ in options_of()]
    assert len(flags) == len(set(flags))
    with pytest.raises(dataclasses.FrozenInstanceError):
        NetworkOptions().rate = 1.0  # type: ignore[misc]
    assert len(GROUPS) >= 9


# -- profiles that explain themselves (issue #26 item 3) ----------------------------------
def test_a_profile_option_that_does_not_apply_to_the_input_is_ignored_with_a_note(
        tmp_path: Path) -> None:
    base = tmp_path / "c.csv"
    write_csv(base, [["tel"], *([n] for n in frte_numbers(3))])
    cfg = tmp_path / "team.toml"
    cfg.write_text('[profiles.excel]\nsheet = "Clients"\nthreshold = 1\n', encoding="utf-8")
    result = run_cli(["check", str(base), "--config", str(cfg), "--profile", "excel", "-q"])
    assert result.exit_code == 0, result.stderr
    assert (f"note: profile excel ({cfg}) sets sheet, which does not apply to {base} "
            "(read as csv; it applies to xlsx, xls files): ignored") in result.stderr
    # given on the command line, the same option is still an error
    typed = run_cli(["check", str(base), "--config", str(cfg), "--profile", "excel",
                     "--sheet", "Clients", "-q"])
    assert typed.exit_code == 2 and "--sheet does not apply" in typed.stderr


def test_config_show_changed_lists_what_differs_from_the_defaults_and_where_it_came_from(
        monkeypatch: pytest.MonkeyPatch) -> None:
    golden = Path(__file__).resolve().parent / "data" / "golden"
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("RCSQUALIFY_CACHE_DIR")
    monkeypatch.setenv("RCSQUALIFY_TIMEOUT", "4")  # the profile's 7.5 wins
    monkeypatch.setenv("RCSQUALIFY_SINGLE_WARN", "1000")  # the default's value: unchanged
    monkeypatch.setenv("RCSQUALIFY_MAX_PAUSE", "60")
    result = run_cli(["config", "show", "--config", str(golden / "profiles.toml"),
                      "--profile", "prod", "--changed"])
    assert result.exit_code == 0, result.stderr
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:4]]
            for line in result.stdout.splitlines() if line.startswith("│")}
    # the file once, in the header; each row names the profile (readable at 80 columns)
    assert f"config file: {golden / 'profiles.toml'}" in result.stdout
    where = "profile prod"
    assert rows["rate"] == ["25.0", where] and rows["timeout"] == ["7.5", where]
    assert rows["max-pause"] == ["60.0", "environment RCSQUALIFY_MAX_PAUSE"]
    assert rows["bothub-client-id"] == ["env:ACME_BOTHUB_ID (NOT SET)", where]
    # the profile's operator is the default's FRTE; single-warn's variable says 1000 but
    # the profile's 500 wins
    assert "operator" not in rows and "throttle-pause" not in rows and "mnp-user" not in rows
    assert rows["single-warn"] == ["500", where]
    assert "differ from the defaults" in result.stdout


@pytest.mark.parametrize(("line", "message"), [
    ("rate = nan", "--rate must be a number from 0.01 to 10000, got nan"),
    ('gate = "strict"', "--gate must be one of decide, known, upper"),
    ('lang = "de"', "--lang must be fr or en"),
    ('capability = "twilio"', "--capability must be one of none"),
])
def test_an_error_a_profile_value_causes_names_the_profile_the_key_and_the_file(
        tmp_path: Path, line: str, message: str) -> None:
    base = tmp_path / "c.csv"
    write_csv(base, [["tel"], *([n] for n in frte_numbers(3))])
    cfg = tmp_path / "team.toml"
    cfg.write_text(f"[profiles.prod]\n{line}\n", encoding="utf-8")
    key = line.split(" ")[0]
    for command in (["check", str(base)], ["refresh", str(base)]):
        result = run_cli([*command, "--config", str(cfg), "--profile", "prod", "-q"])
        assert result.exit_code == 2, result.output
        assert f"{cfg}: profile prod, key '{key}': {message}" in result.stderr, command
    # the same value typed on the command line: the option alone, as before
    typed = run_cli(["check", str(base), f"--{key}", line.split('"')[1] if '"' in line
                     else "nan", "-q"])
    assert typed.exit_code == 2 and typed.stderr.startswith(f"rcsqualify: error: {message}")


@pytest.mark.parametrize(("line", "message"), [
    ('column = "GSM"', "no column GSM; columns are: tel"),
    ('portability = "missing.csv"', "missing.csv: no such file"),
])
def test_a_missing_column_or_file_a_profile_names_names_the_profile_and_key(
        tmp_path: Path, line: str, message: str) -> None:
    """The error does not start with an option (the user typed none): it names the
    profile, the key and the file all the same (issue #26 item 3)."""
    base = tmp_path / "c.csv"
    write_csv(base, [["tel"], *([n] for n in frte_numbers(3))])
    cfg = tmp_path / "team.toml"
    cfg.write_text(f"[profiles.prod]\n{line}\n", encoding="utf-8")
    key = line.split(" ")[0]
    for command in (["check", str(base)], ["refresh", str(base)]):
        result = run_cli([*command, "--config", str(cfg), "--profile", "prod", "-q"])
        assert result.exit_code == 2, result.output
        first = result.stderr.strip()
        assert first.startswith(f"rcsqualify: error: {cfg}: profile prod, key '{key}': "), \
            first
        assert first.endswith(message) and "\n" not in first, first


def test_refused_credentials_name_the_variables_the_profile_reads(
        tmp_path: Path, emulator: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator refuses the client secret: the hint names the variables the profile
    points at, not RCSQUALIFY_BOTHUB_CLIENT_ID/SECRET, which the run did not read."""
    from tests.conftest import Emulator

    assert isinstance(emulator, Emulator)
    monkeypatch.setenv("ACME_ID", "emulator-client")
    monkeypatch.setenv("ACME_SECRET", "not-the-secret")
    base = tmp_path / "c.csv"
    write_csv(base, [["tel"], *([n] for n in frte_numbers(3))])
    cfg = tmp_path / "team.toml"
    cfg.write_text('[profiles.prod]\nbothub-client-id = "env:ACME_ID"\n'
                   'bothub-client-secret = "env:ACME_SECRET"\n', encoding="utf-8")
    result = run_cli(["check", str(base), "--config", str(cfg), "--profile", "prod",
                      *emulator.bothub_args(), "-q"])
    assert result.exit_code == 2, result.output
    assert "refused the client credentials" in result.stderr
    assert ("check ACME_ID (profile prod's bothub-client-id) and ACME_SECRET (profile "
            "prod's bothub-client-secret)") in result.stderr
    assert "RCSQUALIFY_BOTHUB_CLIENT" not in result.stderr
    assert "not-the-secret" not in result.output

def test_an_unset_variable_the_profile_reads_is_named_once_with_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under cron (no credentials in the environment) the error said "(profile
    emulator's bothub-client-id)" twice and no fix; the variable is named once with the
    profile and key, then the command to set it (the references 'rcsqualify init'
    writes)."""
    monkeypatch.delenv("RCSQUALIFY_BOTHUB_CLIENT_ID", raising=False)
    base = tmp_path / "c.csv"
    write_csv(base, [["tel"], *([n] for n in frte_numbers(3))])
    cfg = tmp_path / "team.toml"
    cfg.write_text('[profiles.prod]\ncapability = "bothub"\nbot-id = "demo"\n'
                   'bothub-client-id = "env:RCSQUALIFY_BOTHUB_CLIENT_ID"\n'
                   'bothub-client-secret = "env:RCSQUALIFY_BOTHUB_CLIENT_SECRET"\n',
                   encoding="utf-8")
    result = run_cli(["check", str(base), "--config", str(cfg), "--profile", "prod", "-q"])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line.count("(profile prod's bothub-client-id)") == 1, line
    assert "fix: export RCSQUALIFY_BOTHUB_CLIENT_ID=…" in line and "\n" not in line, line
