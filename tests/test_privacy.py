"""What reports, tracebacks and terminal lines quote from outside (issue #23 items 10-13):
real CLI runs on real files, the outputs read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rcsqualify.report.masking import mask_cell
from tests.conftest import Emulator
from tests.helpers import run_cli, write_csv

#: cells of a phone column that are not phone numbers, and what must never be quoted
HOSTILE_CELLS = ["jean.dupont@gmail.com", "12 rue de la Paix 75002",
                 "06 12 34 56 78 (bureau M. Dupont)"]
WORDS = ["jean", "dupont", "gmail", "rue de la", "Paix", "75002", "bureau", "Dupont",
         "12 34 56 78"]


@pytest.mark.parametrize(("cell", "masked"), [
    ("jean.dupont@gmail.com", "j•••.d•••••@g••••.c••"),
    ("12 rue de la Paix 75002", "1• r•• d• l• P••• 7••••"),
    ("06 12 34 56 78 (bureau M. Dupont)", "0• •• •• •• •• (b••••• M. D•••••)"),
    ("+33 6 12 34", "+3• • •• ••"),
    # a number typed a digit at a time was a row of one-digit words, all shown
    ("0 6 1 2 3 4 5 6 7 8 9", "0 • • • • • • • • • •"),
    ("0-6-1-2-3-4-5-6-7-8 bureau", "0-•-•-•-•-•-•-•-•-• b•••••"),
    ("٠٦١٢٣٤٥٦٧٨", "٠•••••••••"),  # Arabic-Indic digits
    # a combining mark is no letter: the letter after it started a new word, shown
    ("He\u0301le\u0300ne Dupont", "H••••• D•••••"),
    ("नमस्ते दुनिया", "न••• दु••"),  # Devanagari vowel signs and virama
    ("张伟 北京市", "张• 北••"),
    ("😀 Zoë", "😀 Z••"),
    ("", ""),
])
def test_mask_cell_keeps_the_shape_only(cell: str, masked: str) -> None:
    assert mask_cell(cell) == masked
    import unicodedata

    def shape(text: str) -> int:  # characters that take a place: marks ride on them
        return sum(not unicodedata.category(c).startswith("M") for c in text)

    assert shape(mask_cell(cell)) == shape(cell)


def test_reports_never_quote_a_number_typed_digit_by_digit(tmp_path: Path) -> None:
    """Real run: the JSON, HTML and Markdown reports' examples of cells too long, not a
    number, in another script: none quotes two digits of a number or a word in clear."""
    cells = ["0 6 1 2 3 4 5 6 7 8 9", "+33 6 1 2 3 4 5 6 7 8 9",
             "0-6-9-8-7-6-5-4-3-2 bureau", "Je\u0301ro\u0302me Dupont", "नमस्ते दुनिया"]
    f = write_csv(tmp_path / "c.csv", [["mobile"], *[[c] for c in cells], ["0612345678"]])
    outs = {"json": tmp_path / "r.json", "html": tmp_path / "r.html",
            "md": tmp_path / "r.md"}
    result = run_cli(["check", str(f), "--json-report", str(outs["json"]), "--html-report",
                      str(outs["html"]), "--markdown-report", str(outs["md"])])
    assert result.exit_code == 1, result.stderr
    examples = json.loads(outs["json"].read_text(encoding="utf-8"))["examples"]
    shown = [e for cells in examples.values() for e in cells]
    assert len(shown) == len(cells), shown
    for text in [*(p.read_text(encoding="utf-8") for p in outs.values()),
                 result.stdout + result.stderr]:
        for clear in ("6 1 2", "1 2 3", "9-8-7", "\u0301r", "\u0302m", "दुनिया", "स्ते"):
            assert clear not in text, clear


def test_reports_never_quote_a_cell_in_clear(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "c.csv", [["nom", "mobile"],
                                        *[[f"n{i}", c] for i, c in enumerate(HOSTILE_CELLS)],
                                        ["x", "0612345678"]])
    outs = {"json": tmp_path / "r.json", "html": tmp_path / "r.html",
            "md": tmp_path / "r.md"}
    result = run_cli(["check", str(f), "--json-report", str(outs["json"]), "--html-report",
                      str(outs["html"]), "--markdown-report", str(outs["md"])])
    assert result.exit_code == 1, result.stderr
    texts = {k: p.read_text(encoding="utf-8") for k, p in outs.items()}
    texts["terminal"] = result.stdout + result.stderr
    for where, text in texts.items():
        for word in WORDS:
            assert word not in text, (where, word)
    examples = json.loads(texts["json"])["examples"]
    shown = [e for cells in examples.values() for e in cells]
    assert "j•••.d•••••@g••••.c••" in shown and "1• r•• d• l• P••• 7••••" in shown
    assert "j•••.d•••••@g••••.c••" in texts["html"]


@pytest.mark.parametrize("how", [["--debug"], []])
def test_debug_tracebacks_keep_frames_but_mask_the_rows_they_quote(
        tmp_path: Path, how: list[str]) -> None:
    """A parser's message quotes the row it failed on; ``--debug`` (or
    RCSQUALIFY_DEBUG=1) shows the frames and the exception types, never the row."""
    import os
    import subprocess
    import sys

    f = tmp_path / "bad.csv"
    # a row longer than Arrow's block: its error (a ragged row's quoted the row, but a
    # ragged row is read since issue #26) goes through the same masking
    f.write_text('a;b\nA;0612345678\nB;"0698765432 extra Jean Dupont ' + "x" * (17 << 20)
                 + '"\n')
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    env = {**os.environ, **({} if how else {"RCSQUALIFY_DEBUG": "1"})}
    done = subprocess.run([exe, "check", str(f), *how], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 1  # an uncaught exception: Python's own exit code
    assert "Traceback (most recent call last)" in done.stderr
    assert 'File "' in done.stderr and "pyarrow.lib.ArrowInvalid: " in done.stderr
    assert "a row longer than 8 MB" in done.stderr  # rcsqualify's own message, in full
    assert "message masked by rcsqualify" in done.stderr
    for quoted in ("0698765432", "Jean", "Dupont", "extra"):
        assert quoted not in done.stderr


# -- workflow commands and control characters on the terminal (items 12, 13) ------------
def _commands(text: str) -> list[str]:
    """Lines a GitHub runner would run as workflow commands (it strips white space
    first)."""
    return [line for line in text.splitlines()
            if line.lstrip().startswith(("::", "##["))]


INJECTION = "\n::add-mask::hunter2\n::stop-commands::tok\n##[set-output name=x]y\n::error::"


def test_portability_info_prints_recorded_file_names_inert(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    ext = write_csv(tmp_path / f"x{INJECTION}rcsq:b:.csv",
                    [["numero", "operateur"], ["0612345678", "FRTE"]])
    store = tmp_path / "store.parquet"
    assert run_cli(["portability", "import", str(ext), "--into", str(store)]).exit_code == 0
    result = run_cli(["portability", "info", str(store)])
    assert result.exit_code == 0, result.stderr
    assert _commands(result.stdout) == [] and _commands(result.stderr) == []
    assert "rcsq:b:" in result.stdout  # an emoji code stays text
    assert "::add-mask::hunter2" in result.stdout  # shown, on no line of its own


def test_config_show_prints_the_file_name_on_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    config = tmp_path / "cf\n::error::x.toml"
    config.write_text("[profiles.p]\nrate = 5\n")
    result = run_cli(["config", "show", "--config", str(config), "--profile", "p"])
    assert result.exit_code == 0, result.stderr
    assert _commands(result.stdout) == []
    assert "::error::x.toml" in result.stdout


def test_probe_prints_a_server_body_without_running_it(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    body = f"not json{INJECTION}pwned\n   ::warning::indented\n"
    emulator.reset(quota=1000, inject=[{"family": "bothub", "status": 200, "body": body,
                                        "content_type": "text/plain", "count": 5}])
    result = run_cli(["probe", *emulator.bothub_args(), "0612345678"])
    assert result.exit_code == 3, result.output
    assert "not json" in result.stdout and "::add-mask::hunter2" in result.stdout
    assert _commands(result.stdout) == []


def test_a_long_name_wrapped_by_the_terminal_never_starts_a_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under GitHub Actions whatever the tool prints passes the guard: rich word-wraps
    a long line at 120 columns, here right before '::error::' of a file name."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.chdir(tmp_path)  # names as typed: "imported 1 extract rows into " + 90
    write_csv(tmp_path / "e.csv", [["numero", "operateur"], ["0612345678", "20801"]])
    store = "s" + "x" * 89 + " ::error::pwned.parquet"
    result = run_cli(["portability", "import", "e.csv", "--into", store])
    assert result.exit_code == 0, result.stderr
    assert "pwned" in result.stderr
    assert _commands(result.stdout) == [] and _commands(result.stderr) == []


def test_the_tools_own_annotations_still_reach_the_runner(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    f = write_csv(tmp_path / f"c{INJECTION}.csv", [["mobile"], ["0112345678"]])
    result = run_cli(["check", str(f), "-q"])
    assert result.exit_code == 1
    commands = _commands(result.stdout)
    assert commands[0].startswith("::error title=rcsqualify gate::")
    assert all(c.startswith(("::error title=rcsqualify", "::warning title=rcsqualify"))
               for c in commands)


@pytest.mark.parametrize("name", ["c\x1b]0;pwned\x07.csv", "c\x1b[2J\x1b[31m.csv",
                                  "c\u202etxt.csv", "c\n::error::x.csv"])
def test_one_line_errors_quote_file_names_inert(tmp_path: Path, name: str) -> None:
    result = run_cli(["check", str(tmp_path / name)])
    assert result.exit_code == 2
    err = result.stderr
    assert err.count("\n") == 1 and err.startswith("rcsqualify: error: ")
    for bad in ("\x1b", "\x07", "\u202e"):
        assert bad not in err
    assert _commands(err) == []


def test_a_sheet_name_with_a_bidi_override_is_shown_inert(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    assert wb.active is not None
    wb.active.title = "Clients\u202eslx.exe"
    wb.active.append(["mobile"])
    wb.active.append(["0612345678"])
    path = tmp_path / "c.xlsx"
    wb.save(path)
    result = run_cli(["check", str(path), "--sheet", "nope :b: rcsq:b:"])
    assert result.exit_code == 2
    assert "\u202e" not in result.stderr and "Clients" in result.stderr
    assert "rcsq:b:" in result.stderr and "\U0001f171" not in result.stderr


@pytest.mark.parametrize("how", [["--debug"], []])
def test_a_url_password_holding_at_signs_is_masked_whole(tmp_path: Path,
                                                        how: list[str]) -> None:
    """The one-line error masked a URL's password only up to its first ``@``
    (``bob:***@tpw@``), and ``--debug`` printed rcsqualify's own message, password and
    all, in the traceback."""
    import os
    import subprocess
    import sys

    f = write_csv(tmp_path / "c.csv", [["mobile"], ["0612345678"]])
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    done = subprocess.run([exe, "check", str(f), "--mnp-url", "http://bob:s3cr@tpw@/x",
                           *how], capture_output=True, text=True, env=dict(os.environ),
                          timeout=120)
    assert done.returncode in (1, 2), done.stderr
    assert "--mnp-url must be an http:// or https:// URL" in done.stderr
    assert "bob:***@/x" in done.stderr, done.stderr
    for part in ("s3cr", "tpw"):
        assert part not in done.stderr
    if how:
        assert "Traceback (most recent call last)" in done.stderr


def test_a_debug_traceback_never_starts_a_workflow_command(tmp_path: Path) -> None:
    """``--debug`` under GitHub Actions (RCSQUALIFY_DEBUG=1 in a failing job): the
    traceback quoted rcsqualify's own message raw, and a file name holding
    ``\\n::add-mask::`` put a workflow command at a line start."""
    import os
    import subprocess
    import sys

    f = tmp_path / "a\n::add-mask::zz\x1b]0;t\x07.ndjson"
    f.write_text('{"phone": "0612345678"}\n{"phone": "0698765432", \n', encoding="utf-8")
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    done = subprocess.run([exe, "check", str(f)], capture_output=True, text=True,
                          env={**os.environ, "GITHUB_ACTIONS": "true",
                               "RCSQUALIFY_DEBUG": "1"}, timeout=120)
    assert "Traceback (most recent call last)" in done.stderr
    assert "line 2 is not JSON" in done.stderr
    assert _commands(done.stdout + done.stderr) == []
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr


@pytest.mark.parametrize(("option", "url"), [
    ("--mnp-url", "http:///lookup?msisdn={msisdn}&apikey=SECRETKEY123"),
    ("--bothub-url", "https:///v1#token=SECRETKEY123"),
    ("--mnp-url", "lookup?apikey=SECRETKEY123&msisdn={msisdn}"),
])
def test_a_url_without_a_host_is_named_without_its_query(tmp_path: Path, option: str,
                                                         url: str) -> None:
    """A URL with no host was quoted whole (``repr(url)``): an API key in its query
    reached the error line."""
    f = write_csv(tmp_path / "c.csv", [["mobile"], ["0612345678"]])
    result = run_cli(["check", str(f), "--capability", "bothub", "--bot-id", "b", option,
                      url])
    assert result.exit_code == 2
    assert "URL with a host" in result.stderr and "(query not shown)" in result.stderr
    assert "SECRETKEY123" not in result.stderr + result.stdout
