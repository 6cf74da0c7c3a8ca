"""The Python API (issue #27 item 1): ``rcsqualify.qualify`` runs what ``rcsqualify check``
runs, from the same option declarations, and returns what it concluded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rcsqualify
from rcsqualify.api import COMMAND_LINE_ONLY, QualifyOptions, Report, Result
from rcsqualify.errors import ExitCode, InputError, RcsQualifyError
from rcsqualify.settings import options_of
from tests.conftest import SAMPLE, Emulator
from tests.helpers import run_cli

CONTACTS = SAMPLE / "contacts.csv"
PORTABILITY = SAMPLE / "portability.csv"


def report_of(path: Path) -> dict[str, Any]:
    """A JSON report without its timings (wall-clock seconds: never equal twice)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    data.pop("timings")
    return data


def cells(frame: pd.DataFrame) -> list[list[str]]:
    """The rows as text, a missing cell as an empty one (a CSV file cannot tell them
    apart: its reader gives "" where a DataFrame or a Parquet file holds a null)."""
    return frame.astype(object).where(frame.notna(), "").values.tolist()


def without_timings(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "timings"}


#: transport counters: a timeout retried on a loaded machine adds a request and a retry
#: to one run and not the other, while every verdict stays the same
TRANSPORT = ("requests", "retries", "throttled")


def without_transport(data: dict[str, Any]) -> dict[str, Any]:
    """A report without its timings and the HTTP counters that depend on the machine's
    load (the verdicts, counts and answers stay compared)."""
    out = json.loads(json.dumps(without_timings(data)))
    api = out.get("api") or {}
    for block in (api, *(api.get("providers") or {}).values()):
        for key in TRANSPORT:
            block.pop(key, None)
    return out


def test_import_loads_no_heavy_module_until_rows_are_read() -> None:
    """``import rcsqualify`` and even reaching ``rcsqualify.qualify`` import neither
    pandas, pyarrow nor httpx; a run on a file imports pyarrow, pandas only once
    ``Result.rows`` is read."""
    code = """
import json, sys
import rcsqualify
seen = {"import": [m for m in ("pandas", "pyarrow", "httpx") if m in sys.modules]}
rcsqualify.qualify
seen["attribute"] = [m for m in ("pandas", "pyarrow", "httpx") if m in sys.modules]
result = rcsqualify.qualify(sys.argv[1])
seen["run"] = [m for m in ("pandas", "httpx") if m in sys.modules]
result.rows
seen["rows"] = [m for m in ("pandas",) if m in sys.modules]
print(json.dumps(seen))
"""
    out = subprocess.run([sys.executable, "-c", code, str(CONTACTS)], capture_output=True,
                         text=True, check=True, cwd=Path(rcsqualify.__file__).parent.parent)
    assert json.loads(out.stdout) == {"import": [], "attribute": [], "run": [],
                                      "rows": ["pandas"]}
    assert out.stderr == ""  # and it printed nothing


def test_api_and_cli_write_the_same_json_report_on_the_sample(tmp_path: Path) -> None:
    cli = run_cli(["check", str(CONTACTS), "--portability", str(PORTABILITY),
                   "--json-report", str(tmp_path / "cli.json")])
    assert cli.exit_code == ExitCode.UNDECIDED, cli.output
    result = rcsqualify.qualify(CONTACTS, portability=PORTABILITY,
                                json_report=tmp_path / "api.json")
    assert isinstance(result, Result)
    assert report_of(tmp_path / "api.json") == report_of(tmp_path / "cli.json")
    assert without_timings(result.summary.to_dict()) == report_of(tmp_path / "cli.json")
    assert result.decision == "undecided" and result.exit_code == cli.exit_code
    assert result.send_plan == report_of(tmp_path / "cli.json")["send_plan"]
    # the fields are the JSON report's, in its order
    assert [*result.summary.to_dict()] == [
        *json.loads((tmp_path / "cli.json").read_text(encoding="utf-8"))]


def test_the_command_line_and_the_api_run_through_one_function(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One path, not two (issue #27 item 1): ``rcsqualify check`` and
    ``rcsqualify.qualify`` both call ``result.run`` (settings in, ``Result`` out), with
    equal settings; the command line renders and exits from that very ``Result``."""
    from rcsqualify import result as result_module
    from rcsqualify.display import ProgressReporter

    calls: list[tuple[Any, Any, Result]] = []
    real_run = result_module.run

    def spy(settings: Any, reporter: Any, *args: Any, **kwargs: Any) -> Result:
        out = real_run(settings, reporter, *args, **kwargs)
        calls.append((settings, reporter, out))
        return out

    monkeypatch.setattr(result_module, "run", spy)
    cli = run_cli(["check", str(CONTACTS), "--portability", str(PORTABILITY), "-q"])
    assert len(calls) == 1 and isinstance(calls[0][1], ProgressReporter)
    assert cli.exit_code == calls[0][2].exit_code == ExitCode.UNDECIDED
    api = rcsqualify.qualify(CONTACTS, portability=PORTABILITY)
    assert len(calls) == 2 and calls[1][2] is api
    # the same settings but for what only a terminal run has (--quiet)
    assert calls[0][0].replace(quiet=False) == calls[1][0]

    # and the command line's exit code is the Result's, whatever the run concluded
    def concluded(settings: Any, reporter: Any, *args: Any, **kwargs: Any) -> Result:
        out = real_run(settings, reporter, *args, **kwargs)
        out.checked.summary.exit_code = 1  # what the gate said, as far as the CLI knows
        return out

    monkeypatch.setattr(result_module, "run", concluded)
    assert run_cli(["check", str(CONTACTS), "-q"]).exit_code == 1


def test_api_and_cli_agree_on_a_remote_run(emulator: Emulator, tmp_path: Path) -> None:
    """BotHub on the emulator, over real HTTP: the same report, the same requests."""
    base = emulator.base
    cli = run_cli(["check", str(CONTACTS), *emulator.bothub_args(), "--no-cache",
                   "--json-report", str(tmp_path / "cli.json")])
    cli_stats = emulator.stats()
    emulator.reset(quota=1000)
    result = rcsqualify.qualify(
        str(CONTACTS), capability="bothub", bot_id="test-bot",
        bothub_url=f"{base}/bothub/v1", bothub_token_url=f"{base}/oauth/v3/token",
        no_cache=True, json_report=str(tmp_path / "api.json"))
    cli_report = without_transport(report_of(tmp_path / "cli.json"))
    assert without_transport(report_of(tmp_path / "api.json")) == cli_report
    assert without_transport(result.summary.to_dict()) == cli_report
    assert result.exit_code == cli.exit_code
    assert result.summary.api["requests"] > 0
    # the same numbers asked of the service (how often depends on the machine's load)
    assert set(emulator.stats()["asked"]) == set(cli_stats["asked"])
    assert result.rows["status"].astype(str).isin(["reachable", "not_rcs"]).any()


def test_lists_and_rows(tmp_path: Path) -> None:
    """``lists()`` holds what ``--split-dir`` writes; ``rows`` every input row with the
    annotation columns, as ``--output`` writes them."""
    result = rcsqualify.qualify(CONTACTS, portability=[PORTABILITY],
                                split_dir=tmp_path / "lists", output=tmp_path / "out.csv")
    lists = result.lists()
    assert {k: len(v) for k, v in lists.items()} == result.send_plan["lists"]
    for name, frame in lists.items():
        written = pd.read_csv(tmp_path / "lists" / f"{name}.csv", sep=";", dtype=str,
                              keep_default_na=False, encoding="utf-8-sig")
        assert len(written) == len(frame)
        assert list(written.columns) == list(frame.columns)
    out = pd.read_csv(tmp_path / "out.csv", sep=";", dtype=str, keep_default_na=False,
                      encoding="utf-8-sig")
    assert list(result.rows.columns) == list(out.columns)
    assert len(result.rows) == 154
    annotations = list(out.columns[5:])  # the input's are escaped in the file (CONTRACT §11)
    assert annotations[:2] == ["msisdn_e164", "status"]
    assert cells(result.rows[annotations]) == out[annotations].values.tolist()


def test_a_dataframe_reads_as_the_file_would(tmp_path: Path) -> None:
    """A nullable-integer phone column (the leading 0 eaten, as Excel and pandas do), a
    Categorical column and an object column of mixed types: the same rows, verdicts and
    counts as the CSV file holding the same text, and as the Parquet file of the typed
    columns."""
    frame = pd.DataFrame({
        "phone": pd.array([612345678, 33687654321, None, 612345678, 145678901],
                          dtype="Int64"),
        "city": pd.Categorical(["Lyon", "Paris", "Lyon", None, "Nice"]),
        "misc": pd.Series([1, "a", 2.0, None, True], dtype=object),
    })
    text = "phone,city,misc\n612345678,Lyon,1\n33687654321,Paris,a\n,Lyon,2\n" \
        "612345678,,\n145678901,Nice,true\n"
    (tmp_path / "same.csv").write_text(text, encoding="utf-8")
    from_frame = rcsqualify.qualify(frame)
    from_file = rcsqualify.qualify(tmp_path / "same.csv")
    assert list(from_frame.rows.columns) == list(from_file.rows.columns)
    assert cells(from_frame.rows) == cells(from_file.rows)
    frame_report = from_frame.summary.to_dict()
    file_report = from_file.summary.to_dict()
    for report in (frame_report, file_report):
        report.pop("timings")
        report.pop("input")
    assert frame_report == file_report
    assert from_frame.summary.input["path"] == "<DataFrame>"
    assert from_frame.summary.input["format"] == "dataframe"
    assert from_frame.summary.counts["messages"] == 4
    # the typed columns, as a Parquet file of them reads
    pq.write_table(pa.Table.from_pandas(frame[["phone", "city"]], preserve_index=False),
                   tmp_path / "same.parquet")
    from_parquet = rcsqualify.qualify(tmp_path / "same.parquet")
    typed = rcsqualify.qualify(frame[["phone", "city"]])
    assert typed.rows.astype(object).values.tolist() == \
        from_parquet.rows.astype(object).values.tolist()
    assert cells(typed.rows)[2][0] == "" and typed.rows["phone"].isna().tolist()[2]


def test_an_arrow_table_and_strings() -> None:
    table = pa.table({"Mobile": ["06 12 34 56 78", "+33 6 87 65 43 21", None]})
    result = rcsqualify.qualify(table)
    assert result.summary.input["format"] == "arrow"
    assert result.summary.counts["rows"] == 3
    strings = rcsqualify.qualify(iter(["06 12 34 56 78", "+33 6 87 65 43 21", None]))
    assert strings.summary.input["column"] == "phone"
    assert cells(strings.rows[["phone"]]) == [["06 12 34 56 78"], ["+33 6 87 65 43 21"], [""]]
    assert strings.summary.counts == result.summary.counts
    with pytest.raises(TypeError, match="strings"):
        rcsqualify.qualify([612345678])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="source must be"):
        rcsqualify.qualify(42)


def test_errors_raise_with_the_cli_exit_code(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'colum'"):
        rcsqualify.qualify(CONTACTS, colum="Tel")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="command line only"):
        rcsqualify.qualify(CONTACTS, dry_run=True)  # type: ignore[call-arg]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"rate": -1}, "rate"),
        ({"capability": "bogus"}, "--capability must be one of"),
        ({"threshold": 2.0}, "--threshold"),
        ({"sample": "many"}, "--sample must be auto"),
        ({"json_report": "-"}, "prints nothing"),
        ({"encoding": "latin-1", "column": "Téléphone portable"}, None),
    ]
    for options, message in cases:
        if message is None:
            rcsqualify.qualify(CONTACTS, **options)  # a valid combination: no error
            continue
        with pytest.raises(InputError, match=message) as caught:
            rcsqualify.qualify(CONTACTS, **options)
        assert caught.value.exit_code == ExitCode.USAGE
    with pytest.raises(RcsQualifyError, match="no such file") as missing:
        rcsqualify.qualify(tmp_path / "nope.csv")
    assert missing.value.exit_code == 2
    with pytest.raises(InputError, match="does not apply"):
        rcsqualify.qualify(pd.DataFrame({"phone": ["0612345678"]}), delimiter=";")


def test_a_failing_gate_is_a_result_and_no_signal_handler_is_installed() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    during: list[dict[signal.Signals, Any]] = []
    seen: list[tuple[str, int, int | None]] = []

    def progress(stage: str, done: int, total: int | None) -> None:
        seen.append((stage, done, total))
        during.append({s: signal.getsignal(s) for s in before})

    result = rcsqualify.qualify(CONTACTS, threshold=0.0, gate="known", progress=progress)
    assert result.decision == "fail" and result.exit_code == ExitCode.FAIL
    assert seen and seen[-1][0] == "read" and seen[-1][1] == 154
    assert all(d == before for d in during)
    assert {s: signal.getsignal(s) for s in before} == before


def test_environment_and_profile_apply_as_on_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given here > profile > environment > default, as for ``check``."""
    config = tmp_path / "config.toml"
    config.write_text('[profiles.strict]\nthreshold = 0.05\ngate = "known"\n',
                      encoding="utf-8")
    monkeypatch.setenv("RCSQUALIFY_THRESHOLD", "0.3")
    assert rcsqualify.qualify(CONTACTS).summary.threshold == 0.3
    strict = rcsqualify.qualify(CONTACTS, config=config, profile="strict")
    assert (strict.summary.threshold, strict.summary.gate_mode) == (0.05, "known")
    mine = rcsqualify.qualify(CONTACTS, config=config, profile="strict", threshold=0.5)
    assert (mine.summary.threshold, mine.summary.gate_mode) == (0.5, "known")
    config.write_text('[profiles.bad]\nrate = -3\n', encoding="utf-8")
    with pytest.raises(InputError, match="profile bad"):
        rcsqualify.qualify(CONTACTS, config=config, profile="bad")


def test_the_keyword_arguments_are_the_declared_options() -> None:
    declared = {name for name, _, _ in options_of()}
    assert set(typing.get_type_hints(QualifyOptions)) == declared - COMMAND_LINE_ONLY
    assert declared >= COMMAND_LINE_ONLY
    assert "qualify" in dir(rcsqualify)
    with pytest.raises(AttributeError):
        rcsqualify.no_such_name  # noqa: B018
    assert Report.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_the_api_and_the_command_line_build_the_same_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one difference allowed between the two entries: how the options are given
    (argv or keywords). Profile, environment, defaults, the values that need a word
    (``sample``, the MNP profile's URL) come out equal."""
    import typer.main

    from rcsqualify.api import _settings  # the entry under test
    from rcsqualify.cli import app
    from rcsqualify.cli.check import check_settings
    from rcsqualify.config import apply_profile

    config = tmp_path / "config.toml"
    config.write_text('[profiles.p]\nthreshold = 0.05\nrate = 12\nmnp-profile = "twilio"\n'
                      'column = "Téléphone portable"\n', encoding="utf-8")
    monkeypatch.setenv("RCSQUALIFY_TIMEOUT", "7")
    argv = [str(CONTACTS), "--config", str(config), "--profile", "p", "--sample", "50",
            "--capability", "bothub", "--portability", str(PORTABILITY), "--rate", "20",
            "--no-csv-escape", "--split-dir", str(tmp_path / "lists")]
    group = typer.main.get_command(app)
    parent = typer.Context(group, info_name="rcsqualify")
    ctx = group.get_command(parent, "check").make_context(  # type: ignore[attr-defined]
        "check", argv, parent=parent)
    cli = check_settings(ctx, apply_profile(ctx, dict(ctx.params)))
    api, _ = _settings(str(CONTACTS), {
        "config": config, "profile": "p", "sample": 50, "capability": "bothub",
        "portability": PORTABILITY, "rate": 20, "csv_escape": False,
        "split_dir": tmp_path / "lists"}, in_memory=False)
    assert api.replace(from_profile=frozenset()) == cli.replace(from_profile=frozenset())
    assert api.from_profile <= cli.from_profile
    assert (api.sample, api.rate, api.threshold, api.timeout) == (50, 20.0, 0.05, 7.0)
    assert api.mnp_url is not None  # the named profile's URL, as check_settings says


def test_the_typed_keywords_are_generated_from_the_declarations() -> None:
    """``api_options.py`` (``QualifyOptions``, which type checkers read) is what
    ``python -m rcsqualify.api_types`` writes from the declarations: a new option is a
    field in settings.py and that command, never a hand-written line. The files
    docs/ARCHITECTURE.md counts for a provider and an output format (which add
    options) must count this generated file, or the count is wrong by one."""
    from pathlib import Path

    from rcsqualify import api_types

    assert api_types.TARGET.read_text(encoding="utf-8") == api_types.source(), (
        f"rcsqualify/api_options.py is stale: run {api_types.COMMAND}")
    text = (Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md").read_text(
        encoding="utf-8")
    how_to = text.split("## How to add a provider", 1)[1].split("\n## ", 1)[0]
    assert how_to.count(api_types.COMMAND) >= 2


def test_a_new_option_gets_its_typed_keyword(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator reads the declarations as they are: an option added to a group
    comes out typed (its choices as a ``Literal``); a path is any path-like, a list one
    value or several, ``api_type`` wins."""
    from dataclasses import field
    from pathlib import Path

    from rcsqualify import api_types, settings

    def opt(**how: Any) -> settings.Opt:
        return settings.Opt(help="x", **how)

    assert api_types.python_type(str, opt(choices=("a", "b"))) == 'Literal["a", "b"]'
    assert api_types.python_type(Path | None, opt()) == "PathLike | None"
    assert api_types.python_type(str | None, opt(path=True)) == "PathLike | None"
    assert api_types.python_type(list[str], opt()) == "str | Sequence[str]"
    assert api_types.python_type(int | None, opt(api_type="int | None")) == "int | None"
    fake = field(default="a", metadata={settings.OPTION: opt(choices=("a", "b"))})
    fake.name, fake.type = "pigeon_mode", str
    real = settings.options_of

    def with_one_more(groups: Any = None) -> Any:
        yield from real(groups)
        yield "pigeon_mode", fake.metadata[settings.OPTION], fake

    monkeypatch.setattr(api_types, "options_of", with_one_more)
    assert '    pigeon_mode: Literal["a", "b"]\n' in api_types.source()


def _remote(emulator: Emulator, **more: Any) -> dict[str, Any]:
    base = emulator.base
    return {"capability": "bothub", "bot_id": "test-bot", "no_cache": True,
            "bothub_url": f"{base}/bothub/v1", "bothub_token_url": f"{base}/oauth/v3/token",
            **more}


def test_a_remote_run_leaves_the_callers_signal_handlers_and_prints_nothing(
        emulator: Emulator, capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The remote stages run on asyncio: a handler the caller installed (Airflow's, a
    notebook's) is the one in place while the capability stage runs and after it, and
    nothing reaches stdout or stderr (the notices are ``Result.notices``)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")

    def mine(signum: int, frame: Any) -> None:
        raise AssertionError("never sent")

    watched = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.signal(s, mine) for s in watched}
    during: list[tuple[str, dict[signal.Signals, Any]]] = []
    try:
        result = rcsqualify.qualify(CONTACTS, progress=lambda stage, done, total: (
            during.append((stage, {s: signal.getsignal(s) for s in watched}))),
            split_dir=tmp_path / "new" / "lists", output=tmp_path / "out" / "a.csv",
            **_remote(emulator))
        after = {s: signal.getsignal(s) for s in watched}
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
    assert result.summary.api["requests"] > 0
    stages = {stage for stage, _ in during}
    assert "capability" in stages, stages
    assert all(h == {s: mine for s in watched} for _, h in during)
    assert after == {s: mine for s in watched}
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    # the folders it created are notices, kept in order for the caller
    created = [n for n in result.notices if "created folder" in n]
    assert created == [f"rcsqualify: created folder {tmp_path / 'new' / 'lists'}",
                       f"rcsqualify: created folder {tmp_path / 'out'}"]


def test_ctrl_c_during_a_remote_run_is_the_callers_keyboard_interrupt(
        emulator: Emulator, tmp_path: Path) -> None:
    """With Python's default Ctrl-C handler in place, SIGINT in the middle of the
    capability stage reaches the caller as ``KeyboardInterrupt`` (no ``SystemExit``, no
    exit code), and the default handler is back afterwards."""
    import os
    import threading

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    sent: list[str] = []

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage == "capability" and not sent:
            sent.append(stage)
            os.kill(os.getpid(), signal.SIGINT)

    try:
        with pytest.raises(KeyboardInterrupt):
            rcsqualify.qualify(CONTACTS, progress=progress, output=tmp_path / "out.csv",
                               split_dir=tmp_path / "lists",
                               json_report=tmp_path / "r.json", **_remote(emulator))
        assert sent == ["capability"]
        # no output, and no temporary file left behind (no handler of ours cleaned up:
        # the run's own ``finally`` blocks did)
        left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
        assert left in ([], ["lists"], ["lists", "lists/.rcsqualify-refresh.lock"]), left
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_remote_run_from_a_worker_thread(emulator: Emulator) -> None:
    """An Airflow task or a web handler calls from a thread that is not the main one
    (where no signal handler can be set): the same report as from the main thread."""
    from concurrent.futures import ThreadPoolExecutor

    main = rcsqualify.qualify(CONTACTS, **_remote(emulator))
    emulator.reset(quota=1000)
    with ThreadPoolExecutor(1) as pool:
        threaded = pool.submit(rcsqualify.qualify, CONTACTS, **_remote(emulator)).result(
            timeout=600)
    assert without_transport(threaded.summary.to_dict()) == without_transport(
        main.summary.to_dict())
    assert threaded.decision == main.decision


def test_a_named_index_is_data_and_the_default_one_is_not() -> None:
    """``df.set_index("client_id")`` (or the phone itself as the index) keeps that
    column, first, as ``to_csv`` writes it; the default index, or the positions a filter
    left, never become a column."""
    flat = pd.DataFrame({"client_id": ["a", "b", "c"],
                         "phone": ["06 12 34 56 78", "0687654321", None]})
    plain = rcsqualify.qualify(flat)
    indexed = rcsqualify.qualify(flat.set_index("client_id"))
    assert cells(indexed.rows) == cells(plain.rows)
    assert list(indexed.rows.columns) == list(plain.rows.columns)
    by_phone = rcsqualify.qualify(flat.set_index("phone"), column="phone")
    assert list(by_phone.rows.columns[:2]) == ["phone", "client_id"]
    assert by_phone.summary.counts == plain.summary.counts
    filtered = rcsqualify.qualify(flat[flat["client_id"] != "a"])  # index [1, 2]
    assert list(filtered.rows.columns[:2]) == ["client_id", "phone"]
    assert cells(filtered.rows) == cells(plain.rows)[1:]
    # a level named like a column is not made a second column of that name
    clash = flat.set_index(flat["phone"].rename("phone"))
    assert list(rcsqualify.qualify(clash).rows.columns[:2]) == ["client_id", "phone"]


@pytest.mark.parametrize("change", ["edited in place", "replaced", "removed"])
def test_rows_of_a_file_changed_since_the_run_are_refused(tmp_path: Path,
                                                          change: str) -> None:
    """``Result.rows`` reads the file again, maybe hours later in a notebook: a file
    edited since (one digit, same size: the row count cannot tell), replaced or removed
    is an ``InputError``, never rows paired with another number's verdict."""
    import os

    base = tmp_path / "contacts.csv"
    base.write_bytes(CONTACTS.read_bytes())
    result = rcsqualify.qualify(base)
    before = base.stat()
    data = base.read_bytes()
    edited = data.replace(b"06", b"07", 1)
    assert len(edited) == len(data) and edited != data
    if change == "edited in place":
        base.write_bytes(edited)
        # a later edit: the clock has moved on (a coarse file-system clock may not have
        # within this test)
        os.utime(base, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    elif change == "replaced":
        (tmp_path / "new.csv").write_bytes(edited)
        os.replace(tmp_path / "new.csv", base)
    else:
        base.unlink()
    for read in (lambda: result.rows, result.lists):
        with pytest.raises(InputError, match=r"contacts\.csv") as caught:
            read()
        assert caught.value.exit_code == ExitCode.USAGE
    assert result.decision == "undecided"  # what was concluded stays readable


def test_rows_of_a_pipe_are_refused_once_its_copy_is_gone(tmp_path: Path) -> None:
    """A pipe (``<(cat base.csv)``) is read once into a spool that the run removes: its
    rows cannot be read again, and its old descriptor path is never read (it may name
    another open file by then)."""
    import os
    import threading

    fifo = tmp_path / "contacts.csv"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as out:
            out.write(CONTACTS.read_bytes())

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        result = rcsqualify.qualify(fifo, portability=PORTABILITY)
    finally:
        writer.join(timeout=60)
    assert result.decision == "undecided" and result.summary.counts["rows"] == 154
    with pytest.raises(InputError, match="read once") as caught:
        result.rows  # noqa: B018
    assert caught.value.exit_code == ExitCode.USAGE


def test_the_command_line_refuses_a_file_changed_between_its_two_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The annotated output reads the file a second time: a file edited between the
    verdicts and that read is exit 2 with one line, and no output is written."""
    import os

    from rcsqualify import runner

    base = tmp_path / "contacts.csv"
    base.write_bytes(CONTACTS.read_bytes())
    real = runner.write_outputs

    def edit_then_write(*args: Any, **kwargs: Any) -> Any:
        before = base.stat()
        base.write_bytes(base.read_bytes().replace(b"06", b"07", 1))
        os.utime(base, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "write_outputs", edit_then_write)
    out = tmp_path / "annotated.csv"
    result = run_cli(["check", str(base), "-q", "-o", str(out)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "changed since it was read" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_a_list_directory_held_by_another_run_raises_locked_with_exit_code_4(
        tmp_path: Path) -> None:
    """The command line's exit 4: another run (a nightly refresh) writes the lists."""
    from filelock import FileLock

    from rcsqualify.errors import Locked
    from rcsqualify.report.split import LISTS_LOCK

    lists = tmp_path / "lists"
    lists.mkdir()
    with FileLock(str(lists / LISTS_LOCK)), pytest.raises(Locked,
                                                        match="another run") as caught:
        rcsqualify.qualify(CONTACTS, split_dir=lists, wait_lock=0)
    assert caught.value.exit_code == 4
    assert sorted(p.name for p in lists.iterdir()) == [LISTS_LOCK]


def test_under_github_actions_the_api_writes_only_what_it_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    """A notebook job or a script step of a workflow calling ``qualify``: no
    annotation on stdout, nothing appended to the job's summary page (those are the
    command line's, as its exit code is), however the environment says CI."""
    page = tmp_path / "step_summary.md"
    page.write_text("before\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(page))
    capfd.readouterr()
    result = rcsqualify.qualify(CONTACTS, threshold=0.0, gate="known")
    assert result.decision == "fail"
    assert capfd.readouterr() == ("", "")
    assert page.read_text(encoding="utf-8") == "before\n"
    # the command line, in the same environment, does both
    cli = run_cli(["check", str(CONTACTS), "-q", "--threshold", "0", "--gate", "known"])
    assert cli.exit_code == 1 and "::error" in cli.stdout
    assert page.read_text(encoding="utf-8") != "before\n"


def test_changing_the_dataframe_after_the_call_changes_no_row() -> None:
    """Arrow shares a NumPy column's memory: without a copy, a caller editing the
    DataFrame after ``qualify`` changed ``Result.rows`` (another number beside the first
    one's verdict)."""
    import numpy as np

    frame = pd.DataFrame({"phone": np.array([612345678, 687654321], dtype=np.int64),
                          "n": pd.array([612345678, None], dtype="Int64"),
                          "c": pd.Categorical(["a", "b"])})
    result = rcsqualify.qualify(frame)
    frame.loc[0, "phone"] = 711111111
    frame.iloc[0, 1] = 1
    frame["c"] = frame["c"].cat.rename_categories(["x", "y"])
    assert cells(result.rows[["phone", "n", "c", "msisdn_e164"]]) == [
        ["612345678", "612345678", "a", "+33612345678"],
        ["687654321", "", "b", "+33687654321"]]
