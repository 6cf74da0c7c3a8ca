"""Bad input: one line naming the problem and the fix, exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE
from tests.helpers import check_json, run_cli, write_csv

SAMPLE_CONTACTS = SAMPLE / "contacts.csv"


def _assert_clean_error(result: object, *needles: str) -> None:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 2, stderr  # type: ignore[attr-defined]
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("rcsqualify: error: ")
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in stderr, stderr


def test_missing_file(tmp_path: Path) -> None:
    _assert_clean_error(run_cli(["check", str(tmp_path / "nope.csv")]), "no such file")


@pytest.mark.parametrize("where", ["input", "output", "portability"])
def test_a_file_name_that_is_not_utf8_is_one_line(tmp_path: Path, where: str) -> None:
    """A latin-1 file name (byte 0xE9) reaches Python as a surrogate, which Arrow cannot
    take: refused before anything is read or written, the name shown escaped."""
    import os
    import sys

    assert sys.getfilesystemencoding() == "utf-8"  # what makes the byte a surrogate
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.csv")
    fine = write_csv(tmp_path / "fine.csv", [["nom", "tel"], ["a", "0612345678"]])
    with open(os.fsencode(odd), "wb") as fh:
        fh.write(b"nom;tel\na;0612345678\n")
    args = {"input": ["check", odd], "output": ["check", str(fine), "-o", odd + ".out.csv"],
            "portability": ["check", str(fine), "--portability", odd]}[where]
    result = run_cli(args)
    _assert_clean_error(result, "caf\\udce9", "not valid UTF-8")
    assert not os.path.exists(os.fsencode(odd + ".out.csv"))


def test_a_working_directory_that_is_not_utf8_is_one_line(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Relative names are made absolute under it and Arrow takes UTF-8 paths only: the
    run stops before anything is read or asked, not after the remote stages."""
    import os

    odd = os.fsencode(str(tmp_path)) + b"/caf\xe9-dir"
    os.mkdir(odd)
    fine = write_csv(tmp_path / "fine.csv", [["nom", "tel"], ["a", "0612345678"]])
    monkeypatch.chdir(os.fsdecode(odd))
    result = run_cli(["check", str(fine), "-o", "out.csv"])
    _assert_clean_error(result, "caf\\udce9-dir", "working directory is not valid UTF-8")
    assert os.listdir(odd) == []


@pytest.mark.parametrize("url", ["redis://:hunter2@127.0.0.1:99999/0",
                                 "redis://:hunter2@127.0.0.1:abc/0", "redis://[::1:1"])
def test_a_redis_url_that_does_not_parse_is_one_line(url: str) -> None:
    for args in (["cache", "info", "--cache-url", url],
                 ["check", str(SAMPLE_CONTACTS), "--capability", "bothub", "--bot-id", "b",
                  "--cache-url", url, "-q"]):
        result = run_cli(args)
        _assert_clean_error(result, "not a valid Redis URL")
        assert "hunter2" not in result.stderr


@pytest.mark.parametrize("option", ["input", "--portability", "--portability-db"])
def test_a_url_given_for_a_file_never_shows_its_password(tmp_path: Path, option: str) -> None:
    fine = write_csv(tmp_path / "fine.csv", [["nom", "tel"], ["a", "0612345678"]])
    url = "https://user:hunter2-secret@files.example/base.csv"
    args = ["check", url] if option == "input" else ["check", str(fine), option, url]
    result = run_cli(args)
    _assert_clean_error(result, "user:***@files.example")
    assert "hunter2" not in result.stderr


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_bytes(b"")
    _assert_clean_error(run_cli(["check", str(f)]), "empty")


def test_header_without_rows(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text("nom;telephone\n", encoding="utf-8")
    _assert_clean_error(run_cli(["check", str(f)]), "no contact rows")


def test_binary_garbage(tmp_path: Path) -> None:
    f = tmp_path / "g.csv"
    f.write_bytes(bytes(range(256)) * 50)
    _assert_clean_error(run_cli(["check", str(f)]), "binary")


def test_unknown_encoding(tmp_path: Path) -> None:
    f = tmp_path / "u.csv"
    # 0x81 and 0x8d are undefined in cp1252 and invalid in UTF-8
    f.write_bytes(b"nom;tel\r\nab\x81\x8d;0607123456\r\n")
    _assert_clean_error(run_cli(["check", str(f)]), "encoding", "--encoding")
    result, report = check_json([str(f), "--encoding", "latin-1", "--threshold", "1"])
    assert result.exit_code == 0 and report["counts"]["rows"] == 1


def test_no_plausible_phone_column(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "n.csv", [["nom", "ville"], ["Dupont", "Paris"], ["Durand", "Lyon"]])
    _assert_clean_error(run_cli(["check", str(f)]), "--column", "nom, ville")


def test_two_plausible_phone_columns(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "n.csv", [["nom", "portable", "gsm"],
                                       ["a", "0607123456", "0607123457"]])
    _assert_clean_error(run_cli(["check", str(f)]), "portable, gsm", "--column")
    _result, report = check_json([str(f), "--column", "gsm", "--threshold", "1"])
    assert report["input"]["column"] == "gsm"


def test_ragged_csv_is_read_not_refused(tmp_path: Path) -> None:
    """Issue #26 item 5: a long row was exit 2 ("line 3 has 3 fields..."); it is read,
    counted, and its extra cell kept (tests/test_excel_files.py checks the output)."""
    f = tmp_path / "r.csv"
    f.write_text("nom;tel\na;0607123456\nb;0607123457;extra\n", encoding="utf-8")
    result, report = check_json([str(f), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["rows"] == 2 and report["input"]["long_rows"] == 1


def test_bad_options(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "c.csv", [["tel"], ["0607123456"]])
    _assert_clean_error(run_cli(["check", str(f), "--threshold", "15"]), "--threshold")
    _assert_clean_error(run_cli(["check", str(f), "--operator", "ORANGE"]), "FRTE")
    _assert_clean_error(run_cli(["check", str(f), "-o", "x.xls"]), ".csv")
    _assert_clean_error(run_cli(["check", str(f), "--column", "phone2"]), "columns are")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    _assert_clean_error(run_cli(["check", str(tmp_path)]), "directory")


def test_corrupt_xlsx(tmp_path: Path) -> None:
    f = tmp_path / "c.xlsx"
    f.write_bytes(b"PK\x03\x04 not really a zip")
    _assert_clean_error(run_cli(["check", str(f)]), "XLSX")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    from rcsqualify.errors import InputError

    with pytest.raises(InputError):
        run_cli(["check", str(tmp_path / "nope.csv"), "--debug"])


def test_bad_cells_never_stop_a_run(tmp_path: Path) -> None:
    cells = ["\x01\x02", "😀", "'0607123456", "=0607123456", "0" * 40, "+" * 5, "()", "e+10"]
    rows = [["tel"], *[[c.replace(";", ",")] for c in cells], ["0607123456"]]
    f = write_csv(tmp_path / "c.csv", rows, delimiter=";")
    result, report = check_json([str(f), "--threshold", "1", "--column", "tel"])
    assert result.exit_code == 0
    assert report["counts"]["rows"] == len(cells) + 1
    assert report["counts"]["unverified"] == 1


@pytest.mark.parametrize("depth", [20_000, 2_000])
def test_deeply_nested_ndjson_is_one_line_and_leaves_no_spool(tmp_path: Path,
                                                              depth: int) -> None:
    """Issue #23 item 8: 20,000 levels segfaulted Arrow's reader (exit 139, the stdin
    spool left in $TMPDIR), 2,000 raised RecursionError; both are exit 2 naming the
    line, from a file and from standard input (in a real process: a crash would show)."""
    import os
    import subprocess
    import sys

    line = '{"tel":"0607123456","x":' + "[" * depth + "]" * depth + "}\n"
    f = tmp_path / "deep.ndjson"
    f.write_text('{"tel":"0607123457","x":1}\n' + line, encoding="utf-8")
    _assert_clean_error(run_cli(["check", str(f)]), "line 2", "64 deep")
    spool = tmp_path / "tmp"
    spool.mkdir()
    proc = subprocess.run([sys.executable, "-m", "rcsqualify", "check", "-",
                           "--format", "ndjson"], input=line.encode(),
                          capture_output=True, env={**os.environ, "TMPDIR": str(spool)},
                          timeout=120, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and "line 1 nests values more than 64 deep" in err, err
    assert not list(spool.iterdir())


def test_brackets_inside_ndjson_strings_are_not_nesting(tmp_path: Path) -> None:
    f = tmp_path / "s.ndjson"
    f.write_text('{"tel":"0607123456","note":"' + "[{" * 100 + '\\"]","o":{"a":[[1]]}}\n',
                 encoding="utf-8")
    out = tmp_path / "out.ndjson"
    result = run_cli(["check", str(f), "-o", str(out), "-q", "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert '{\\"a\\":[[1]]}' in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["fifo", "zero", "big"])
def test_secret_files_are_read_only_from_regular_files_and_bounded(tmp_path: Path,
                                                                   kind: str) -> None:
    """Issue #23 item 9: ``--bot-key-file`` on a FIFO hung the run, ``/dev/zero``
    ended in MemoryError. A secret is read from a regular file of at most 1 MB: one
    line, exit 2, for the key file, a profile's ``*-secret-file`` and the RBM
    service-account file (a real process, bounded by a timeout: a hang would show)."""
    import os
    import subprocess
    import sys

    if kind == "fifo":
        secret = tmp_path / "fifo"
        os.mkfifo(secret)
    elif kind == "zero":
        secret = Path("/dev/zero")
    else:
        secret = tmp_path / "big"
        secret.write_bytes(b"k" * (2 << 20))
    contacts = write_csv(tmp_path / "c.csv", [["tel"], ["0607123456"]])
    config = tmp_path / "rcsqualify.toml"
    config.write_text(f'[profiles.p]\nbothub-client-secret-file = "{secret}"\n',
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "RCSQUALIFY_BOTHUB_CLIENT_SECRET"}
    env.setdefault("RCSQUALIFY_BOTHUB_CLIENT_ID", "id")
    base = [sys.executable, "-m", "rcsqualify", "check", str(contacts), "--no-cache",
            "--bothub-url", "http://127.0.0.1:9/bothub/v1",
            "--bothub-token-url", "http://127.0.0.1:9/oauth/v3/token"]
    for args, extra_env in (
            (["--capability", "bothub", "--bot-id", "b", "--bot-key-file", str(secret)],
             {"RCSQUALIFY_BOTHUB_CLIENT_SECRET": "s"}),
            (["--capability", "bothub", "--bot-id", "b", "--config", str(config),
              "--profile", "p"], {}),
            (["--capability", "rbm", "--agent-id", "a", "--rbm-credentials", str(secret),
              "--rbm-url", "http://127.0.0.1:9/rbm"], {})):
        proc = subprocess.run([*base, *args], capture_output=True, timeout=120, check=False,
                              env={**env, **extra_env}, stdin=subprocess.DEVNULL)
        err = proc.stderr.decode()
        assert proc.returncode == 2, (args, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert ("not a regular file" if kind != "big" else "larger than") in err, err


def test_wide_and_long_csv_cells(tmp_path: Path) -> None:
    """Issue #23 item 9: a header cell over 128 KB was ``unexpected Error`` (the csv
    module's field limit); a header of more than 39,037 columns was cut at the 256 KB
    sample, so every row "had too many fields"; a cell over the 8 MB block read as
    "malformed quoting". The first two read; the third says what it is."""
    long_header = tmp_path / "h.csv"
    long_header.write_text("tel;" + "h" * 140_000 + "\n0607123456;x\n", encoding="utf-8")
    wide = tmp_path / "w.csv"
    cols = 40_000
    wide.write_text(";".join(["tel", *(f"c{i}" for i in range(cols))]) + "\n"
                    + ";".join(["0607123456", *["x"] * cols]) + "\n", encoding="utf-8")
    for f in (long_header, wide):
        result, report = check_json([str(f), "--threshold", "1"])
        assert result.exit_code == 0, result.stderr
        assert report["input"]["rows"] == 1 and report["input"]["column"] == "tel"
    huge = tmp_path / "c.csv"
    huge.write_text('tel;note\n0607123456;"' + "x" * (17 << 20) + '"\n', encoding="utf-8")
    _assert_clean_error(run_cli(["check", str(huge)]), "a row longer than 8 MB")


def test_a_pipe_given_by_name_is_read_and_a_device_refused(tmp_path: Path) -> None:
    """``check <(cat file)`` (a FIFO by name) said "is empty": it is spooled like
    standard input. A device is not a contact file (``/dev/zero`` would never end)."""
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("tel\n0607123456\n0607123457\n"))
    writer.start()
    result, report = check_json([str(fifo), "--threshold", "1"])
    writer.join(timeout=60)
    assert result.exit_code == 0, result.stderr
    assert report["input"]["rows"] == 2
    _assert_clean_error(run_cli(["check", "/dev/zero"]), "is a device")


def test_a_url_with_unbalanced_brackets_is_one_line() -> None:
    contacts = str(SAMPLE_CONTACTS)
    _assert_clean_error(run_cli(["check", contacts, "--mnp-url", "http://u:pw@[::1/x"]),
                        "--mnp-url is not a valid URL")
    assert "pw" not in run_cli(["check", contacts, "--mnp-url", "http://u:pw@[::1/x"]).stderr


def test_a_history_line_with_a_huge_number_is_skipped_and_said(tmp_path: Path) -> None:
    """A log line holding a 400-digit ratio raised OverflowError: no HTML, and every
    later refresh failed until the log was edited by hand. The line is skipped, the
    report says so, and refresh keeps appending."""
    log = tmp_path / "refresh.log"
    log.write_text('{"at":"2026-01-01T00:00:00+00:00","exit_code":0,"error_ratio":1'
                   + "0" * 400 + "}\n" + '{"at":"2026-01-02T00:00:00+00:00","exit_code":0,'
                   '"error_ratio":0.01}\nnot json\n', encoding="utf-8")
    base = write_csv(tmp_path / "base.csv", [["tel"], ["0607123456"]])
    html = tmp_path / "r.html"
    report = tmp_path / "r.json"
    result = run_cli(["refresh", str(base), "--log-file", str(log), "--html-report", str(html),
                      "--json-report", str(report), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    import json

    warnings = json.loads(report.read_text(encoding="utf-8"))["warnings"]
    assert any("2 lines of the history" in w for w in warnings), warnings
    assert len(log.read_text(encoding="utf-8").splitlines()) == 4  # appended, kept


@pytest.mark.parametrize("limit", [600_000, 3_000_000])
def test_a_full_disk_while_writing_the_lists_is_one_line(tmp_path: Path, limit: int) -> None:
    """Disk full during ``--split-xlsx`` was ``unexpected OSError`` and openpyxl's
    tracebacks. Simulated with RLIMIT_FSIZE (writes past the limit fail with EFBIG):
    at 600 KB a CSV list fails, at 3 MB openpyxl's streamed sheet does. One line,
    exit 2, the previous lists untouched, no temporary left (lists nor $TMPDIR)."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    rows = [["nom", "tel", "note"], *([f"n{i}", f"06{i % 10**8:08d}", "x" * 40]
                                      for i in range(20_000))]
    base = write_csv(tmp_path / "big.csv", rows)
    small = write_csv(tmp_path / "small.csv", [["tel"], ["0607123456"]])
    lists = tmp_path / "lists"
    assert run_cli(["check", str(small), "--split-dir", str(lists), "--split-xlsx", "-q",
                    "--threshold", "1"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in lists.iterdir() if p.is_file()}
    tmp = tmp_path / "tmp"
    tmp.mkdir()

    def full_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "rcsqualify", "check", str(base),
                           "--split-dir", str(lists), "--split-xlsx", "-q", "--threshold",
                           "1"], preexec_fn=full_disk, capture_output=True, timeout=300,
                          env={**os.environ, "TMPDIR": str(tmp)}, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and "nothing was replaced" in err, err
    assert {p.name: p.read_bytes() for p in lists.iterdir() if p.is_file()} == before
    assert not list(tmp.iterdir())
