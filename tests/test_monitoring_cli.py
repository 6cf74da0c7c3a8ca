"""Issue #27 items 4 and 5 from the command line: ``--metrics-file``, ``--notify``,
``--warn-at``, ``--notify-format`` on ``check`` and ``refresh``, in a profile too; a
failed notification never changes the exit code; a webhook URL is never shown whole."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SAMPLE, Receiver
from tests.helpers import closed_port, run_cli
from tests.test_alerts import SECRET_PATH

CONTACTS, PORTABILITY = str(SAMPLE / "contacts.csv"), str(SAMPLE / "portability.csv")


@pytest.fixture(autouse=True)
def own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own alert state (alerts.json): a run of the sample by another test
    of the same worker is not this test's previous run."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


def _metrics(path: Path) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for s in family.samples:
            extra = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())
                             if k not in ("list", "profile"))
            out[s.name + (f"{{{extra}}}" if extra else "")] = s.value
            assert re.fullmatch(r"contacts\.csv@[0-9a-f]{8}", s.labels["list"])
    return out


def test_metrics_file_of_a_run_and_of_a_failed_one(tmp_path: Path) -> None:
    prom = tmp_path / "textfile" / "rcsqualify.prom"
    base = tmp_path / "contacts.csv"  # one list (its label is its path's), read twice
    base.write_bytes(Path(CONTACTS).read_bytes())
    result = run_cli(["check", str(base), "--portability", PORTABILITY, "-q",
                      "--metrics-file", str(prom)])
    assert result.exit_code == 3, result.stderr
    first = _metrics(prom)
    assert first["rcsqualify_decision{decision=undecided}"] == 1
    assert first["rcsqualify_exit_code"] == 3
    assert first["rcsqualify_messages{status=other_operator}"] == 7
    assert first["rcsqualify_duration_seconds"] > 0
    success = first["rcsqualify_last_success_timestamp_seconds"]
    # the same list, now unreadable: exit 2, the file says so and keeps the last success
    base.write_bytes(b"\xff\xfe\x00garbage")
    failed = run_cli(["check", str(base), "-q", "--metrics-file", str(prom)])
    assert failed.exit_code == 2
    after = _metrics(prom)
    assert after["rcsqualify_exit_code"] == 2
    assert after["rcsqualify_last_success_timestamp_seconds"] == success
    assert "rcsqualify_error_ratio" not in after
    # the metrics file is an output like the others: never the input, not even to say
    # that the run failed
    copy = tmp_path / "base.csv"
    copy.write_bytes(Path(CONTACTS).read_bytes())
    refused = run_cli(["check", str(copy), "-q", "--metrics-file", str(copy)])
    assert refused.exit_code == 2
    assert copy.read_bytes() == Path(CONTACTS).read_bytes()


def test_notify_posts_once_and_a_failed_post_is_a_warning(
        tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK", receiver.url + SECRET_PATH)
    dead = f"http://127.0.0.1:{closed_port()}{SECRET_PATH}"
    report = tmp_path / "r.json"
    args = ["check", CONTACTS, "--portability", PORTABILITY, "--notify", "env:HOOK",
            "--notify", dead, "--json-report", str(report), "--warn-at", "0.12"]
    result = run_cli(args)
    assert result.exit_code == 3  # the check's own code, whatever the posts did
    (got,) = receiver.bodies()
    assert got["decision"] == "undecided" and got["list"].startswith("contacts.csv@")
    assert "refused" in result.stderr and "127.0.0.1" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout
    warnings = json.loads(report.read_text())["warnings"]
    assert any("not delivered" in w for w in warnings)
    assert "s3cr3t" not in report.read_text()
    # the same run again: nothing changed, nobody is told
    receiver.got.clear()
    assert run_cli(args).exit_code == 3
    assert receiver.got == []
    # nor with another warning line the same ratio stays on the same side of
    assert run_cli([*args[:-1], "0.10"]).exit_code == 3
    assert receiver.got == []


def test_notify_format_forces_the_shape(tmp_path: Path, receiver: Receiver) -> None:
    result = run_cli(["check", CONTACTS, "-q", "--notify", receiver.url + "/x",
                      "--notify-format", "teams"])
    assert result.exit_code == 3, result.stderr
    (got,) = receiver.bodies()
    assert got["type"] == "message" and got["attachments"][0]["content"]["type"] == (
        "AdaptiveCard")


@pytest.mark.parametrize("spec", ["env:NOT_SET_ANYWHERE", "ftp://hooks.example" + SECRET_PATH])
def test_an_unusable_notify_target_is_exit_2_before_anything(spec: str) -> None:
    result = run_cli(["check", CONTACTS, "-q", "--notify", spec])
    assert result.exit_code == 2
    assert "--notify" in result.stderr and "s3cr3t" not in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_profile_names_the_webhook_by_variable(tmp_path: Path, receiver: Receiver,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.nightly]\nnotify = ["env:TEAM_HOOK"]\nwarn-at = 0.05\n'
                      'metrics-file = "m.prom"\n')
    monkeypatch.setenv("TEAM_HOOK", receiver.url + SECRET_PATH)
    result = run_cli(["check", CONTACTS, "-q", "--config", str(config), "--profile",
                      "nightly"])
    assert result.exit_code == 3, result.stderr
    assert len(receiver.got) == 1
    assert (tmp_path / "m.prom").is_file()  # relative to the profile file
    shown = run_cli(["config", "show", "--config", str(config), "--profile", "nightly"])
    assert "s3cr3t" not in shown.stdout + shown.stderr


def test_refresh_alerts_from_its_log(tmp_path: Path, receiver: Receiver) -> None:
    base = tmp_path / "contacts.csv"
    base.write_bytes(Path(CONTACTS).read_bytes())
    args = ["refresh", str(base), "--log-file", str(tmp_path / "refresh.log"),
            "--notify", receiver.url + "/hook", "--metrics-file", str(tmp_path / "m.prom")]
    assert run_cli(args).exit_code == 3
    assert len(receiver.got) == 1
    assert run_cli(args).exit_code == 3
    assert len(receiver.got) == 1  # the log's previous run: nothing changed
    assert _metrics(tmp_path / "m.prom")["rcsqualify_exit_code"] == 3


@pytest.mark.parametrize("where", ["directory", "input", "link to the input",
                                   "the JSON report"])
def test_a_metrics_file_that_is_no_output_file_is_refused_before_the_run(
        tmp_path: Path, where: str) -> None:
    """``--metrics-file`` naming a directory, the input (or a link to it) or another
    report: exit 2 and one line, before anything is read or written; the input intact,
    no ``.prom`` left anywhere."""
    base = tmp_path / "contacts.csv"
    base.write_bytes(Path(CONTACTS).read_bytes())
    target = {"directory": tmp_path / "textfile", "input": base,
              "link to the input": tmp_path / "link.csv",
              "the JSON report": tmp_path / "r.json"}[where]
    if where == "directory":
        target.mkdir()
    elif where == "link to the input":
        target.symlink_to(base)
    result = run_cli(["check", str(base), "-q", "--metrics-file", str(target),
                      "--json-report", str(tmp_path / "r.json")])
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--metrics-file" in result.stderr and "Traceback" not in result.stderr
    assert base.read_bytes() == Path(CONTACTS).read_bytes()
    assert not (tmp_path / "r.json").exists()
    assert not list(tmp_path.rglob("*.prom")) and not list(tmp_path.rglob("*.tmp*"))
    if where == "directory":
        assert list(target.iterdir()) == []


@pytest.mark.parametrize("option", ["--metrics-file", "--history"])
def test_a_pipe_as_metrics_file_or_history_never_hangs_the_run(
        tmp_path: Path, receiver: Receiver, option: str) -> None:
    """Review attack: the previous metrics (and the history, for the alert's previous
    run) were read whatever the path was: from a named pipe (``--metrics-file
    >(...)``, a collector's pipe) the read waited for a writer that was the run itself,
    forever and deaf to SIGTERM (blocked in open()). A pipe is written, never read; a
    pipe as --history (read only) is exit 2 before the run."""
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = None
    if option == "--metrics-file":  # the metrics are written into the pipe: read them
        reader = threading.Thread(target=lambda: got.append(fifo.read_text("utf-8")),
                                  daemon=True)
        reader.start()
    result = run_cli(["check", CONTACTS, "-q", option, str(fifo),
                      "--notify", receiver.url + "/hook", "--warn-at", "0.01"])
    if option == "--history":  # read, never written: refused before the run
        assert result.exit_code == 2 and "not a regular file" in result.stderr
        assert receiver.got == []  # (tests/test_front_door.py)
        return
    assert result.exit_code == 3, result.stderr
    assert len(receiver.got) == 1
    if reader is not None:
        reader.join(timeout=60)
        names = {f.name for f in text_string_to_metric_families(got[0])}
        assert "rcsqualify_error_ratio" in names
