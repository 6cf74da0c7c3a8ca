"""Rough edges of the front door (the Python API, alerts, the command line) found by
reviews and left: each a test that failed on main before its fix."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest

import rcsqualify
from rcsqualify.errors import ExitCode, InputError
from tests.conftest import SAMPLE, Emulator, Receiver
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


# Result.rows: a missing cell stays missing -------------------------------------------

def test_rows_keep_a_missing_cell_of_a_string_column_missing(tmp_path: Path) -> None:
    """A ``string`` column's pd.NA came back as pandas 3's ``str`` NaN: shown ``NaN``,
    ``'nan'`` once written with str() or compared as text. It stays pd.NA, in ``rows``
    and the lists, as does a Parquet file's null; every column is a ``string`` one."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"tel": ["0612345678", "0712345678", "0612345679"],
                          "name": pd.array(["a", pd.NA, "c"], dtype="string"),
                          "amount": [1.5, float("nan"), 3.0]})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "f.parquet")
    for source in (frame, tmp_path / "f.parquet"):
        result = rcsqualify.qualify(source)
        rows = result.rows
        assert set(map(str, rows.dtypes)) == {"string"}, rows.dtypes
        assert rows.loc[1, "name"] is pd.NA and rows.loc[1, "amount"] is pd.NA
        assert rows["name"].tolist() == ["a", pd.NA, "c"]
        assert "nan" not in rows.to_csv(index=False).lower()
        assert rows.loc[1, "status"] == "invalid" and rows.loc[1, "operator"] == ""
        (remove,) = [f for n, f in result.lists().items() if n == "remove"]
        assert remove["name"].tolist() == [pd.NA]


def test_rows_of_a_file_with_blank_cells_are_empty_text(tmp_path: Path) -> None:
    """A CSV cannot tell a missing cell from an empty one: its blank cell is the empty
    text, as read and as ``--output`` writes it — never NaN."""
    base = tmp_path / "b.csv"
    base.write_text("tel;name;city\n0612345678;;Paris\n0712345678;Bob;\n;Zed;Lyon\n",
                    encoding="utf-8")
    rows = rcsqualify.qualify(base).rows
    assert rows[["tel", "name", "city"]].values.tolist() == [
        ["0612345678", "", "Paris"], ["0712345678", "Bob", ""], ["", "Zed", "Lyon"]]
    assert not rows.isna().any().any()


# a float32 phone column lost its digits before qualify() saw it -----------------------

def test_a_float32_phone_column_is_refused_float64_read_exactly() -> None:
    """float32 keeps 24 bits of mantissa: 612345678 is stored 612345664, a plausible
    mobile of somebody else, which was checked and reported as such. Exit-2 class
    error naming the column; float64 (exact up to 2**53) reads as before; a float32
    column that is no phone column (an amount) is no concern."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    numbers = [612345678, 33612345678, 687654321]
    for dtype in (np.float32, np.float16):
        with np.errstate(over="ignore"):  # a float16 holds none of them: inf
            frame = pd.DataFrame({"tel": np.array(numbers, dtype=dtype)})
        for source in (frame, pa.Table.from_pandas(frame, preserve_index=False)):
            with pytest.raises(InputError) as caught:
                rcsqualify.qualify(source)
            message = str(caught.value)
            assert caught.value.exit_code == ExitCode.USAGE
            assert message.startswith("the phone column tel is float"), message
            assert "\n" not in message and "612345" not in message
    with pytest.raises(InputError, match="phone column tel is float32"):
        rcsqualify.qualify(pd.DataFrame({"name": ["a", "b", "c"],
                                         "tel": np.array(numbers, dtype=np.float32)}),
                           column="tel")
    exact = rcsqualify.qualify(pd.DataFrame({
        "tel": np.array(numbers, dtype=np.float64),
        "amount": np.array([1.5, 2.25, 3.0], dtype=np.float32)}))
    assert exact.rows["tel"].tolist() == [str(n) for n in numbers]
    assert exact.rows["msisdn_e164"].tolist() == ["+33612345678", "+33612345678",
                                                  "+33687654321"]


def test_float32_scalars_in_an_object_phone_column_are_refused() -> None:
    """An ``object`` column holding NumPy float32 scalars was read cell by cell as
    text: ``np.float32(612345678)`` is 612345664, checked as somebody else's number.
    Refused as the float32 column is; float32 scalars in another column are no
    concern, and a float64 scalar is exact."""
    import numpy as np
    import pandas as pd

    lost = pd.Series(["0687654321", np.float32(612345678)], dtype=object)
    with pytest.raises(InputError) as caught:
        rcsqualify.qualify(pd.DataFrame({"tel": lost}))
    assert caught.value.exit_code == ExitCode.USAGE
    assert str(caught.value).startswith("the phone column tel is float32")
    with pytest.raises(InputError, match="phone column tel is float16"):
        rcsqualify.qualify(pd.DataFrame({"tel": pd.Series([np.float16(6.0)], dtype=object)}))
    fine = rcsqualify.qualify(pd.DataFrame({
        "tel": pd.Series(["0687654321", np.float64(612345678)], dtype=object),
        "amount": pd.Series([np.float32(1.5), np.float32("nan")], dtype=object)}))
    assert fine.rows["msisdn_e164"].tolist() == ["+33687654321", "+33612345678"]


def test_a_float_nan_phone_cell_is_empty_not_a_number() -> None:
    """docs/api.md: a NaN is an empty cell. An Arrow float64 column keeps NaN apart
    from null (built without ``from_pandas``), and its NaN read as the text ``nan``:
    ``not_a_number``; a DataFrame's NaN is null already. Both are ``empty``."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    numbers = [612345678.0, float("nan")]
    for source in (pa.table({"tel": pa.array(numbers, pa.float64())}),
                   pd.DataFrame({"tel": np.array(numbers)}),
                   pd.DataFrame({"tel": pd.Series(["0612345678", np.float64("nan")],
                                                  dtype=object)})):
        rows = rcsqualify.qualify(source).rows
        assert rows["reason"].tolist()[1] == "empty", source
        assert pd.isna(rows["tel"].tolist()[1])


def test_a_float32_contact_id_is_refused() -> None:
    """Two contacts whose ids differ past the 7th digit would be one contact."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"tel": ["0612345678", "0687654321"],
                          "client": np.array([100000001, 100000002], dtype=np.float32)})
    with pytest.raises(InputError, match=r"^the contact id column client is float32"):
        rcsqualify.qualify(frame, contact_id="client")


# an unknown option suggests the closest real one -----------------------------------

@pytest.mark.parametrize(("command", "wrong", "meant"), [
    (["check", CONTACTS], "--junit-report", "--junit-xml"),  # Click offered 3 others
    (["check", CONTACTS], "--report-json", "--json-report"),  # words in another order
    (["check", CONTACTS], "--split-directory", "--split-dir"),
    (["check", CONTACTS], "--treshold", "--threshold"),
    (["check", CONTACTS], "--html", "--html-report"),
    (["check", CONTACTS], "--dryrun", "--dry-run"),
    (["check", CONTACTS], "--no-cahce", "--no-cache"),  # a negation's own words
    (["check", CONTACTS], "--histroy", "--history"),  # shown by --help-all only
    (["check", CONTACTS], "--mnp-uri", "--mnp-url"),  # shown by --help-all only
    (["refresh", CONTACTS], "--junit-report", "--junit-xml"),  # passed on to check
    (["doctor"], "--profil", "--profile"),
    ([], "--verison", "--version"),
])
def test_an_unknown_option_suggests_the_closest(command: list[str], wrong: str,
                                                meant: str) -> None:
    result = run_cli([*command, wrong, "x"])
    assert result.exit_code == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"No such option: {wrong}; did you mean {meant}" in line, line
    assert line.endswith("--help')")


def test_the_suggestions_are_few_and_best_first() -> None:
    from rcsqualify.cli.base import closest_options

    options = ["--junit-xml", "--json-report", "--html-report", "--markdown-report",
               "--cache-dir", "--cache-url", "--cache-key-file", "--warn-at",
               "--threshold", "--sample", "--sample-max"]
    assert closest_options("--junit-report", options) == ["--junit-xml"]
    assert closest_options("--cache-directory", options)[0] == "--cache-dir"
    assert closest_options("--warn-threshold", options) == ["--warn-at", "--threshold"]
    assert closest_options("--verbose", options) == []
    result = run_cli(["check", CONTACTS, "--verbose"])
    assert "No such option: --verbose (see" in result.stderr  # nothing close: no guess


# doctor: a 4xx to the reachability probe says why it is fine -------------------------

def _doctor_lines(config: Path, profile: str) -> tuple[int, dict[str, str]]:
    result = run_cli(["doctor", "--config", str(config), "--profile", profile])
    lines = {}
    for line in result.stdout.splitlines():
        level, _, rest = line.partition(" ")
        if level in ("OK", "WARN", "FAIL"):
            lines[rest.split(":", 1)[0]] = line
    return result.exit_code, lines


def test_doctor_says_why_a_404_is_fine(tmp_path: Path, emulator: Emulator) -> None:
    """'OK service BotHub: … answers (HTTP 404)' read as a contradiction: the probe
    sends no number, so a 4xx is a healthy service's answer, and the line says so."""
    config = tmp_path / "config.toml"
    assert run_cli(["init", "--config", str(config), "--no-input", "--profile", "emu",
                    "--capability", "bothub", "--bot-id", "demo", "--emulator",
                    emulator.base]).exit_code == 0
    _, lines = _doctor_lines(config, "emu")
    assert lines["service BotHub"] == (
        f"OK service BotHub: {emulator.base}/bothub/v1 reachable (answered HTTP 404 to a "
        "probe without a number or credentials, as expected)")
    assert "answered HTTP 405" in lines["service BotHub token"]  # a GET of a POST endpoint
    assert all("answers (HTTP" not in line for line in lines.values())


def test_doctor_warns_of_a_server_error(tmp_path: Path) -> None:
    """A 5xx is the server failing: reachable, a warning with its fix, exit 0."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "config.toml"
        url = f"http://127.0.0.1:{server.server_address[1]}/lookup?n={{msisdn}}"
        assert run_cli(["init", "--config", str(config), "--no-input", "--mnp-url",
                        url]).exit_code == 0
        code, lines = _doctor_lines(config, "default")
    finally:
        server.shutdown()
        server.server_close()
    line = lines["service MNP"]
    assert line.startswith("WARN service MNP: ") and "answered HTTP 503, a server error" \
        in line and "— fix: run doctor again later" in line, line
    assert code == 0


def test_the_reachability_wording_by_status() -> None:
    from rcsqualify.cli.doctor import reached

    assert reached("service X", "https://x", 200) == (
        "ok", "service X", "https://x reachable (HTTP 200)", "")
    assert reached("service X", "https://x", 401)[:2] == ("ok", "service X")
    assert "as expected" in reached("service X", "https://x", 401)[2]
    assert reached("service X", "https://x", 500)[0] == "warn"


# init on a terminal asks the profile's name and the MNP service's URL -----------------

@pytest.fixture
def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """CliRunner's streams are no terminal: init asks as it would on one."""
    import rcsqualify.cli.init as init_module

    monkeypatch.setattr(init_module, "_interactive", lambda no_input: not no_input)


def _init_profile(config: Path, args: list[str], answers: list[str]) -> tuple[
        str, str, dict[str, object]]:
    import tomllib

    result = run_cli(["init", "--config", str(config), *args], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    profiles = tomllib.loads(config.read_text(encoding="utf-8"))["profiles"]
    ((name, table),) = profiles.items()
    return result.output, name, table


@pytest.mark.usefixtures("on_a_terminal")
def test_init_asks_the_profile_name_and_the_mnp_service_url(tmp_path: Path) -> None:
    """The name was never asked (always 'default'), nor a twilio/hlr-lookups URL."""
    output, name, table = _init_profile(
        tmp_path / "a.toml", [],
        ["bad name", "prod", "none", "hlr-lookups", "ftp://typo", "https://hlr.example/api",
         "", "", "en"])
    assert "Profile name [default]: " in output
    assert "letters, digits, '-' and '_'" in output  # a bad name is asked again
    assert "MNP service base URL [https://" in output  # the service's own, as default
    assert "must be an http:// or https:// URL" in output  # a typo asked again
    assert name == "prod"
    assert table["mnp-profile"] == "hlr-lookups" and table["mnp-url"] == "https://hlr.example/api"
    # the default URL kept: not pinned in the profile (the region decides it)
    output, name, table = _init_profile(
        tmp_path / "b.toml", [], ["", "none", "twilio", "", "", "", "", "fr"])
    assert name == "default" and table["mnp-region"] == "ie1" and "mnp-url" not in table
    assert "MNP service base URL [https://lookups.dublin.ie1.twilio.com]" in output


@pytest.mark.usefixtures("on_a_terminal")
def test_init_generic_template_and_the_emulator_default(tmp_path: Path) -> None:
    output, _, table = _init_profile(
        tmp_path / "g.toml", ["--profile", "g"],
        ["none", "generic", "https://mnp.example/x", "https://mnp.example/x?n={msisdn}", "",
         "en"])
    assert "Profile name" not in output  # --profile given: not asked
    assert "a template holds {msisdn}" in output
    assert table["mnp-url"] == "https://mnp.example/x?n={msisdn}"
    # with --emulator the MNP question's default is generic (it was none: Enter dropped
    # the emulator's MNP URL)
    output, _, table = _init_profile(
        tmp_path / "e.toml", ["--profile", "e", "--emulator", "http://127.0.0.1:8787"],
        ["none", "", "", "en"])
    assert "MNP look-ups (none/generic/twilio/hlr-lookups) [generic]" in output
    assert table["mnp-url"] == "http://127.0.0.1:8787/mnp/lookup?msisdn={msisdn}"


def test_init_without_a_terminal_asks_nothing(tmp_path: Path) -> None:
    """Scripts: the flags alone, the name 'default' unless --profile, no question."""
    output, name, table = _init_profile(
        tmp_path / "s.toml", ["--no-input", "--mnp-profile", "twilio"], [])
    assert name == "default" and "?" not in output and "[" not in output
    assert table == {"capability": "none", "mnp-profile": "twilio",
                     "mnp-user": "env:RCSQUALIFY_MNP_USER",
                     "mnp-password": "env:RCSQUALIFY_MNP_PASSWORD", "lang": table["lang"]}
    _, name, table = _init_profile(tmp_path / "t.toml", ["--profile", "ci", "--mnp-url",
                                                         "https://m.example/{msisdn}"], [])
    assert name == "ci" and table["mnp-profile"] == "generic"


# help text: flowing paragraphs, a type column that says what to type ------------------

def _early_breaks(lines: list[str], width: int) -> list[str]:
    """Lines of one paragraph broken before they had to be: the next line's first word
    would have fitted (greedy wrapping never leaves such a line)."""
    out = []
    for line, after in itertools.pairwise(lines):
        if line.strip() and after.strip() and (
                len(line.rstrip()) + 1 + len(after.split()[0]) <= width):
            out.append(line.strip())
    return out


@pytest.mark.parametrize("command", [["refresh"], ["init"], ["doctor"], ["learn"], []])
def test_help_paragraphs_flow_at_80_columns(command: list[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Typer's rich help kept each docstring line break past the first paragraph (and in
    the command list): at 80 columns 'Only' and 'days,' stood alone on their lines."""
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli([*command, "--help"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    # the description above the panels: paragraphs of 80 columns less the margins
    top = [line for line in lines[:next(i for i, x in enumerate(lines) if x.startswith("╭"))]
           if not line.lstrip().startswith("Usage:")]
    assert _early_breaks(top, 78) == [], result.stdout
    if not command:  # the command list: the description column of its panel
        start = next(i for i, x in enumerate(lines) if "Commands" in x and x.startswith("╭"))
        rows = lines[start + 1:next(i for i in range(start, len(lines))
                                   if lines[i].startswith("╰"))]
        column = len(re.match(r"│ \S+\s+", rows[0]).group(0))  # type: ignore[union-attr]
        cells = [row[column:].rstrip(" │") for row in rows]
        named = [bool(row[1:column].strip()) for row in rows]
        width = len(rows[0]) - column - 2
        broken = [cells[i] for i in range(len(rows) - 1) if not named[i + 1]
                  and len(cells[i]) + 1 + len(cells[i + 1].split()[0]) <= width]
        assert broken == [], result.stdout
    if command == ["refresh"]:
        assert any(line.strip().startswith("Only new numbers and answers past")
                   for line in lines), result.stdout


def test_help_types_say_what_to_type() -> None:
    """'<bool>' beside a flag (--help, --quiet) and '<list[str]>' (a Python type) are
    gone: a flag shows no value, a repeatable option one value and '...'."""
    for args in (["--help"], ["check", "--help-all"], ["refresh", "--help"],
                 ["config", "show", "--help"]):
        out = run_cli(args).stdout
        assert "<bool>" not in out and "<list[" not in out, (args, out)
    out = run_cli(["check", "--help-all"]).stdout
    assert re.search(r"--column\s+-c\s+<str>\.\.\.", out), out
    assert re.search(r"--portability\s+<path>\.\.\.", out), out
    assert re.search(r"--threshold\s+<float>", out)


def test_check_help_names_every_exit_code() -> None:
    out = " ".join(run_cli(["check", "--help"]).stdout.split())
    assert "2 bad usage or input, 3 undecided, 4 lists locked" in out, out


def test_reflow_keeps_list_items_and_click_verbatim_blocks() -> None:
    from rcsqualify.cli.base import reflow

    text = ("Title\n    line.\n\n    First\n    second.\n    - item one\n      wrapped\n"
            "    - two\n\n    \b\n    kept\n    as is")
    assert reflow(text) == ("Title line.\n\nFirst second.\n- item one wrapped\n- two\n\n"
                            "\b\nkept\nas is")


def test_plain_types_keeps_a_commands_own_help_names(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The help option is made once per command, from its own context settings: one
    made by a bare context would have dropped a command's '-h'."""
    import typer
    import typer.main

    from rcsqualify.cli.base import plain_types

    small = typer.Typer(context_settings={"help_option_names": ["-h", "--help"]})

    @small.command()
    def run(quiet: bool = False) -> None:
        """Run."""

    command = typer.main.get_command(small)
    plain_types(command)
    for flag in ("-h", "--help"):
        assert command.main([flag], "run", standalone_mode=False) == 0
        out = capsys.readouterr().out
        assert "Usage:" in out and "--quiet" in out and "<bool>" not in out, out
