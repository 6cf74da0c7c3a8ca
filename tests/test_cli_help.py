"""Every command has help text, and every documented environment variable exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import run_cli

COMMANDS = [["check"], ["refresh"], ["emulator"], ["plan"], ["plan", "update"],
            ["plan", "reset"],
            ["portability", "import"], ["portability", "info"], ["cache", "info"],
            ["cache", "clear"], ["cache", "prune"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli([*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and len(result.stdout) > 200


def test_version_names_phonenumbers_and_the_plan() -> None:
    result = run_cli(["--version"])
    assert result.exit_code == 0
    assert "phonenumbers 9.0.43" in result.stdout and "2026-04-17" in result.stdout


def test_readme_environment_variables_are_read_by_check() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    documented = set(re.findall(r"`(RCSQUALIFY_[A-Z_]+)`", readme))
    help_text = run_cli(["check", "--help"]).stdout
    # read from the environment only (secrets, directories, the debug switch), not options
    secrets_or_dirs = {"RCSQUALIFY_BOTHUB_CLIENT_ID", "RCSQUALIFY_BOTHUB_CLIENT_SECRET",
                       "RCSQUALIFY_MNP_TOKEN", "RCSQUALIFY_PLAN_DIR", "RCSQUALIFY_QUOTA_DIR",
                       "RCSQUALIFY_DEBUG", "RCSQUALIFY_REDIS_PASSWORD",
                       "RCSQUALIFY_MNP_USER", "RCSQUALIFY_MNP_PASSWORD", "RCSQUALIFY_MNP_KEY",
                       "RCSQUALIFY_MNP_SECRET", "RCSQUALIFY_DRY_RUN"}
    for name in documented - secrets_or_dirs:
        assert name in help_text, name
    assert {"RCSQUALIFY_BOTHUB_URL", "RCSQUALIFY_RATE", "RCSQUALIFY_THROTTLE_PAUSE",
            "RCSQUALIFY_CACHE_DIR"} <= documented
