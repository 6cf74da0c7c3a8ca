"""Every command has help text, and every documented environment variable exists."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli

COMMANDS = [["check"], ["refresh"], ["emulator"], ["plan"], ["plan", "update"],
            ["plan", "reset"],
            ["portability", "import"], ["portability", "info"], ["cache", "info"],
            ["cache", "clear"], ["cache", "prune"], ["init"], ["doctor"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli([*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and len(result.stdout) > 200


def test_version_names_phonenumbers_and_the_plan() -> None:
    result = run_cli(["--version"])
    assert result.exit_code == 0
    assert "phonenumbers 9.0.43" in result.stdout and "2026-04-17" in result.stdout


def test_check_reads_its_variables_from_the_options() -> None:
    """The variables the documentation names (docs/, the generated reference: see
    tests/test_docs.py) are read by check's options, not by hand."""
    from rcsqualify.cli.reference import root_command

    check = root_command().commands["check"]
    envvars = {e for p in check.params for e in
               ([p.envvar] if isinstance(p.envvar, str) else p.envvar or [])}
    assert {"RCSQUALIFY_BOTHUB_URL", "RCSQUALIFY_RATE", "RCSQUALIFY_THROTTLE_PAUSE",
            "RCSQUALIFY_CACHE_DIR"} <= envvars
