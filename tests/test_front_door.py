"""Rough edges of the front door (the Python API, alerts, the command line) found by
reviews and left: each a test that failed on main before its fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import rcsqualify
from rcsqualify.errors import ExitCode, InputError
from tests.conftest import SAMPLE, Receiver
from tests.helpers import run_cli

CONTACTS = str(SAMPLE / "contacts.csv")


@pytest.fixture(autouse=True)
def own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own alert state and cache."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("RCSQUALIFY_CACHE_DIR", str(tmp_path / "cache"))


# --history: a run log that exists must be a regular file --------------------------------

def _not_a_file(tmp_path: Path, kind: str) -> Path:
    target = tmp_path / kind
    if kind == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)
    return target


@pytest.mark.parametrize("kind", ["directory", "pipe"])
def test_history_that_is_no_regular_file_is_exit_2_naming_the_option(
        tmp_path: Path, receiver: Receiver, kind: str) -> None:
    """A directory as --history was skipped without a word (no trend, the alert compared
    with the state file only): exit 2 before anything is read or written, one line."""
    target = _not_a_file(tmp_path, kind)
    html = tmp_path / "r.html"
    result = run_cli(["check", CONTACTS, "-q", "--history", str(target), "--html-report",
                      str(html), "--notify", receiver.url + "/hook", "--warn-at", "0.01"])
    assert result.exit_code == 2, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line, line
    assert f"--history {target}:" in line, line
    assert ("is a directory" if kind == "directory" else "not a regular file") in line
    assert not html.exists() and receiver.got == []


def test_history_missing_is_a_first_run(tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    result = run_cli(["check", CONTACTS, "-q", "--history", str(tmp_path / "new.log"),
                      "--html-report", str(html)])
    assert result.exit_code == 3, result.stderr
    assert html.exists()


def test_history_of_the_api_is_checked_alike(tmp_path: Path) -> None:
    target = _not_a_file(tmp_path, "directory")
    with pytest.raises(InputError, match=r"^--history .*: is a directory") as caught:
        rcsqualify.qualify(CONTACTS, history=target)
    assert caught.value.exit_code == ExitCode.USAGE


def test_history_under_a_file_is_exit_2(tmp_path: Path) -> None:
    """A parent that is a file (a typo) is no first run: it can never be read."""
    parent = tmp_path / "log"
    parent.write_text("", encoding="utf-8")
    result = run_cli(["check", CONTACTS, "-q", "--history", str(parent / "x.log")])
    assert result.exit_code == 2, result.stderr
    assert "--history" in result.stderr and "cannot be read" in result.stderr


def test_refresh_log_file_that_is_a_directory_names_log_file(tmp_path: Path) -> None:
    """refresh reads its --log-file as the history: a directory was an 'unexpected
    IsADirectoryError' at the end of the run, the lists already rewritten."""
    base = tmp_path / "base.csv"
    base.write_bytes(Path(CONTACTS).read_bytes())
    target = _not_a_file(tmp_path, "directory")
    result = run_cli(["refresh", str(base), "--log-file", str(target), "-q"])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().startswith("rcsqualify: error: --log-file ")
    assert "is a directory" in result.stderr and "unexpected" not in result.stderr
    assert not (tmp_path / "base_lists").exists()
