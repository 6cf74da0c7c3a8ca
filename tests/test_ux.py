"""First-run experience (issue #16 items 4-8, 10): dry run, what was read, one-line
usage errors, help panels and examples, quieter progress, cache clear confirmation."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from tests.conftest import SAMPLE, Emulator
from tests.helpers import run_cli, write_csv

CONTACTS = str(SAMPLE / "contacts.csv")
PORTABILITY = str(SAMPLE / "portability.csv")


# -- 4. dry run --------------------------------------------------------------------------
def test_dry_run_counts_what_would_be_asked_and_makes_no_request(emulator: Emulator) -> None:
    args = ["check", CONTACTS, "--portability", PORTABILITY, *emulator.bothub_args(),
            "--mnp-url", emulator.mnp_url(), "--rate", "10", "--rate-margin", "0"]
    before = emulator.stats()
    dry = run_cli([*args, "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    assert emulator.stats() == before  # not one request reached the services
    err = dry.stderr
    assert "DRY RUN" in err and "PASS" not in err and "FAIL" not in err
    mnp_line = next(line for line in err.splitlines() if line.startswith("mnp:"))
    # 136 distinct mobiles, 7 answered by the extract: 129 to look up at 10/s
    assert "would ask 129 of 129 numbers" in mnp_line and "0:00:13 at 10/s" in mnp_line
    assert any(line.startswith("bothub: would ask") for line in err.splitlines())
    # a real run (at a rate that does not make the test wait), then the dry run sees the
    # cache: the scope of a cached answer does not depend on the rate
    real = run_cli([*args, "-q", "--rate", "500"])
    assert real.exit_code in (0, 1, 3), real.stderr
    again = run_cli([*args, "--dry-run"])
    assert "would ask 0 of 129 numbers (129 fresh in the cache)" in again.stderr


def test_dry_run_bulk_gives_jobs_and_the_window(emulator: Emulator) -> None:
    args = ["check", CONTACTS, "--capability", "bothub-bulk", "--bot-id", "b",
            "--bothub-url", f"{emulator.base}/bothub/v1",
            "--bothub-token-url", f"{emulator.base}/oauth/v3/token",
            "--bulk-hours", "22:00-07:00", "--dry-run"]
    result = run_cli(args)
    assert result.exit_code == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("bothub-bulk:"))
    assert "1 bulk job of up to 10,000 numbers" in line
    assert "window 22:00-07:00 Paris time" in line


def test_dry_run_offline_says_no_request() -> None:
    result = run_cli(["check", CONTACTS, "--dry-run"])
    assert result.exit_code == 0
    assert "no remote check asked" in result.stderr and "DRY RUN" in result.stderr


# -- 5. what was read ----------------------------------------------------------------------
def test_the_read_line_names_column_encoding_delimiter_and_rows(tmp_path: Path) -> None:
    base = write_csv(tmp_path / "b.csv", [["Nom", "Tel 1", "Tel 2"],
                                          ["Ana", "06 12 34 56 78", "01 02 03 04 05"],
                                          ["Bé", "06 12 34 56 79", ""]],
                     delimiter="|", encoding="cp1252")
    result = run_cli(["check", str(base)])
    line = next(x for x in result.stderr.splitlines() if x.startswith("read "))
    assert line == (f"read {base} (csv): 2 rows, column 'Tel 1', encoding cp1252, "
                    "delimiter '|'")


@pytest.mark.parametrize(("option", "value"), [("--sheet", "Clients"),
                                               ("--header", None)])
def test_an_option_that_does_not_apply_to_the_input_is_an_error(
        tmp_path: Path, option: str, value: str | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"tel": ["0612345678"]}), tmp_path / "c.parquet")
    args = ["check", str(tmp_path / "c.parquet"), option, *([value] if value else []), "-q"]
    result = run_cli(args)
    assert result.exit_code == 2
    assert f"{option.split('/')[0]}" in result.stderr and "does not apply" in result.stderr


def test_sheet_on_a_csv_is_an_error() -> None:
    result = run_cli(["check", CONTACTS, "--sheet", "Clients", "-q"])
    assert result.exit_code == 2 and "--sheet does not apply" in result.stderr


# -- 6. one-line errors --------------------------------------------------------------------
@pytest.mark.parametrize(("args", "expected"), [
    (["check", CONTACTS, "--threshold", "15%"], "0.15 for 15 %"),
    (["check", CONTACTS, "--version"], "'rcsqualify --version'"),
    (["check"], "Missing argument"),
    (["--bogus"], "No such option: --bogus"),
    (["check", CONTACTS, "--rate", "fast"], "--rate"),
    (["nosuchcommand"], "No such command"),
])
def test_usage_errors_are_one_line(args: list[str], expected: str) -> None:
    result = run_cli(args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rcsqualify: error: ") and expected in lines[0]
    assert "╭" not in result.stderr and "Traceback" not in result.stderr


def test_usage_error_through_the_installed_entry_point() -> None:
    exe = Path(sys.executable).with_name("rcsqualify")
    proc = subprocess.run([str(exe), "check", CONTACTS, "--threshold", "15%"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("rcsqualify: error: rcsqualify check: Invalid value")


@pytest.mark.parametrize("args", [["doctor"], ["check", CONTACTS, "-o", "-"],
                                  ["config", "show"]])
def test_a_reader_that_stops_early_is_no_error(args: list[str]) -> None:
    """``rcsqualify doctor | head -1``: the reader closing the pipe ends the command as
    Click does (quietly, exit 1), never with 'unexpected BrokenPipeError'. The pipe's
    read end is closed before the command starts, so its first write fails."""
    exe = Path(sys.executable).with_name("rcsqualify")
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([str(exe), *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    finally:
        os.close(write)
    assert "BrokenPipe" not in proc.stderr and "error" not in proc.stderr, proc.stderr
    assert proc.returncode != 0


def test_dash_v_is_the_version() -> None:
    result = run_cli(["-V"])
    assert result.exit_code == 0 and result.stdout.startswith("rcsqualify ")


def test_emulator_port_in_use_suggests_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(["emulator", "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "--port 0" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [[], ["portability"]])
def test_no_command_prints_the_help_and_a_line_that_says_why(args: list[str]) -> None:
    exe = Path(sys.executable).with_name("rcsqualify")
    done = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Usage:" in done.stdout
    assert done.stderr.strip() == "rcsqualify: error: a command is needed (see above)"


def test_a_split_dir_that_is_a_file_is_refused_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine\n")
    result = run_cli(["check", CONTACTS, "--split-dir", str(tmp_path / "afile"), "-q"])
    assert result.exit_code == 2 and "is a file, not a directory" in result.stderr
    assert (tmp_path / "afile").read_text() == "mine\n"


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_emulator_port_out_of_range_is_one_line(port: str) -> None:
    result = run_cli(["emulator", "--port", port])
    assert result.exit_code == 2 and "--port" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


# -- 7. help -------------------------------------------------------------------------------
def test_check_options_are_grouped_in_panels() -> None:
    import typer

    from rcsqualify.cli import app

    check = typer.main.get_command(app).commands["check"]  # type: ignore[attr-defined]
    panels = {p.name: p.rich_help_panel for p in check.params
              if p.param_type_name == "option" and p.name not in ("help", "help_all")}
    assert set(panels.values()) <= {"Input", "Gate", "Operators", "Capability", "Network",
                                    "Cache", "Outputs", "Profiles and dry run"}, panels
    assert panels["sheet"] == "Input" and panels["rate"] == "Network"
    assert panels["bothub_url"] == "Capability" and panels["mnp_url"] == "Operators"
    help_text = run_cli(["check", "--help-all"]).stdout
    for title in ("Input", "Gate", "Operators", "Capability", "Network", "Cache",
                  "Outputs"):
        assert f"─ {title} ─" in help_text


@pytest.mark.parametrize("command", [["check"], ["refresh"], ["emulator"],
                                     ["config", "show"], ["cache", "clear"],
                                     ["portability", "import"], ["plan", "update"]],
                         ids=" ".join)
def test_every_command_help_has_examples(command: list[str]) -> None:
    out = run_cli([*command, "--help"]).stdout
    assert "Examples:" in out and f"$ rcsqualify {command[0]}" in out


def test_refresh_help_lists_what_it_passes_on() -> None:
    out = " ".join(run_cli(["refresh", "--help"]).stdout.split())
    assert "passed on to it:" in out
    for option in ("--capability", "--portability-db", "--profile", "--html-report",
                   "--rate"):
        assert option in out


# -- 8. progress and 429s -----------------------------------------------------------------
def _reporter(terminal: bool, rate: float = 30.0) -> tuple[object, io.StringIO]:
    from rcsqualify.display import ProgressReporter

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, width=200, color_system=None)
    return ProgressReporter(console, enabled=True, rate=rate), buffer


def _pauses(reporter: object, n: int) -> None:
    notify = reporter.notify  # type: ignore[attr-defined]
    notify("bothub: HTTP 429 from the gateway, pausing all requests for 60 s")
    for k in range(2, n + 1):  # as remote/http.py's _announce_pause calls it: each pause
        notify(f"bothub: HTTP 429 again ({k} pauses so far): the gateway's quota is "
                   "lower than --rate or shared with other senders; consider a lower --rate")


def test_repeated_429_in_a_log_are_two_lines_and_a_total() -> None:
    reporter, buffer = _reporter(terminal=False)
    with reporter.running():  # type: ignore[attr-defined]
        _pauses(reporter, 34)
    lines = buffer.getvalue().strip().splitlines()
    assert len(lines) == 3, lines
    assert "pausing all requests" in lines[0] and "lower --rate" in lines[1]
    assert "34 pauses" in lines[2] and "--rate 20" in lines[2]  # every pause counted


def test_repeated_429_on_a_terminal_are_one_updating_line() -> None:
    reporter, buffer = _reporter(terminal=True)
    with reporter.running():  # type: ignore[attr-defined]
        reporter("capability", 5, 100)  # type: ignore[operator]
        _pauses(reporter, 34)
        progress = reporter._progress  # type: ignore[attr-defined]
        shown = [t.description for t in progress.tasks]
        assert sum("429" in d for d in shown) == 1  # one line among the bars
        assert any("34 pauses" in d and "lower --rate" in d for d in shown)
    out = buffer.getvalue()
    assert "pausing all requests" not in out and "429 again" not in out  # no raw line
    last = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.rstrip().splitlines()[-1])
    # after the bars: one closing line
    assert last.startswith("bothub: HTTP 429 from the gateway, 34 pauses")


def test_the_read_bar_reaches_its_total_and_every_remote_stage_has_a_bar() -> None:
    reporter, _ = _reporter(terminal=True)
    with reporter.running():  # type: ignore[attr-defined]
        reporter("read", 5000, 5002)  # type: ignore[operator]
        reporter("mnp", 10, 200)  # type: ignore[operator]
        reporter("capability", 3, 50)  # type: ignore[operator]
        tasks = {t.description: t for t in reporter._progress.tasks}  # type: ignore
        assert tasks["reading contacts"].total == tasks["reading contacts"].completed
        assert {"MNP look-ups", "capability checks"} <= set(tasks)
        assert tasks["MNP look-ups"].fields["rate"] == 30.0  # the ETA at the quota


def test_per_source_lines_carry_their_own_counts(emulator: Emulator) -> None:
    result = run_cli(["check", CONTACTS, "--portability", PORTABILITY,
                      "--mnp-url", emulator.mnp_url()])
    lines = result.stderr.splitlines()
    portability = next(x for x in lines if x.startswith("portability: answered"))
    mnp = next(x for x in lines if x.startswith("mnp: answered"))
    assert "of 136 mobiles asked" in portability and "of 129 mobiles asked" in mnp
    assert "ported in" not in portability and "ported in" not in mnp
    everyone = next(x for x in lines if x.startswith("all sources:"))
    # the parts add up to the whole (a port between two other operators was nowhere,
    # and 'ported out' read as the status table's ported_out reason, which counts it)
    import re
    counts = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", everyone)]
    assert "ported out of FRTE" in everyone and counts[0] == sum(counts[1:]), everyone


# -- 10. cache clear -----------------------------------------------------------------------
def _clear_on_a_terminal(cache_dir: Path, answer: bytes, *extra: str) -> tuple[int, str]:
    import pty
    import select

    exe = Path(sys.executable).with_name("rcsqualify")
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(exe), "cache", "clear", "--cache-dir", str(cache_dir),
                             *extra], stdin=slave, stdout=subprocess.PIPE, stderr=slave,
                            env={**os.environ, "TERM": "dumb"})
    os.close(slave)
    seen = b""
    try:
        if not extra:
            while b"[y/N]" not in seen:
                ready, _, _ = select.select([master], [], [], 30)
                assert ready, seen
                seen += os.read(master, 1024)
            os.write(master, answer)
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
    return proc.returncode, out.decode() + seen.decode()


def _on_a_terminal(*args: str) -> tuple[int, str]:
    """``rcsqualify ARGS`` with stderr and stdout on a pseudo-terminal: exit code and all
    it wrote (read until the process closes the terminal, bounded)."""
    import pty
    import select

    exe = Path(sys.executable).with_name("rcsqualify")
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(exe), *args], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env={**os.environ, "TERM": "xterm"})
    os.close(slave)
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, seen
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
    return code, seen.decode(errors="replace")


def test_a_check_on_a_terminal_draws_its_progress_and_its_verdict() -> None:
    """On a terminal (no -q) the progress bars enter rich's console: the run ends with
    its verdict, never an unexpected error, and gives the cursor back."""
    code, out = _on_a_terminal("check", CONTACTS, "--portability", PORTABILITY)
    assert code == 3, out  # the README's first command: undecided, and it says why
    assert "unexpected" not in out and "Traceback" not in out
    assert "UNDECIDED: between 12.84% and 100.00% of the 148 messages would fail" in out
    assert "Check them: --capability bothub (129 look-ups, ~5 s at 30/s)" in out
    assert out.count("\x1b[?25l") == out.count("\x1b[?25h")  # cursor hidden, then shown


def test_cache_clear_asks_on_a_terminal(tmp_path: Path) -> None:
    from rcsqualify.remote.cache import LookupCache, Scope

    cache = LookupCache(tmp_path / "c")
    cache.put("cap", cache.scope(Scope("bothub", "http://x", "bot")), "+33612345678", "yes")
    cache.close()
    code, out = _clear_on_a_terminal(tmp_path / "c", b"n\n")
    assert code == 1 and "removed" not in out.replace("nothing removed", "")
    assert run_cli(["cache", "info", "--cache-dir", str(tmp_path / "c"), "--json"]
                   ).stdout.count('"entries": 1') >= 1
    code, out = _clear_on_a_terminal(tmp_path / "c", b"", "--yes")
    assert code == 0 and "removed 1 entry" in out


def test_cache_info_shows_what_the_store_holds_as_text(tmp_path: Path) -> None:
    """A shared store is written by anyone who can reach it: markup and control
    characters in its names and answers are shown as text, never drawn."""
    from rcsqualify.remote.cache import LookupCache

    cache = LookupCache(tmp_path / "c")
    cache.put("cap", "[bold red]EVIL\x1b[31m", "+33612345678", "[blink]yes\x07")
    cache.close()
    result = run_cli(["cache", "info", "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "(bold red)EVIL" in out and "(blink)yes" in out
    assert "\x1b" not in out and "\x07" not in out


def test_cache_clear_in_a_script_needs_no_answer(tmp_path: Path) -> None:
    result = run_cli(["cache", "clear", "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0 and "removed" in result.stdout
