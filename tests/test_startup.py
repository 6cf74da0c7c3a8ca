"""What a check imports (issue #18 item 1): a small offline check loads only what it uses.

Each test runs a fresh interpreter (the suite's own process has imported everything)
and inspects ``sys.modules`` at the end of the run. Nothing here measures time: the
start-up figures are in ``benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Modules a 1-row offline CSV check has no use for, and what each would be needed for.
HEAVY = {
    "pandas": "--output files and the plan command",
    "pyarrow.parquet": "Parquet input, output and the portability store",
    "pyarrow.json": "NDJSON input",
    "pyarrow.dataset": "nothing on the check path",
    "openpyxl": "XLSX input and --split-xlsx",
    "xlrd": "XLS input",
    "httpx": "remote checks",
    "asyncio": "remote checks and --notify (~30 ms: it was imported for alerts a run "
               "without --notify never sends)",
    "httpcore": "remote checks",
    "tenacity": "remote checks (retries)",
    "diskcache": "the cache of remote answers",
    "redis": "a Redis cache",
    "google.auth": "RBM",
    "jwt": "the BotHub bot JWT",
    "cryptography": "the BotHub bot JWT",
    "starlette": "the emulator",
    "uvicorn": "the emulator",
    "rich.progress": "progress bars on a terminal",
    "phonenumbers": "nothing at run time (its version comes from package metadata)",
    "pydantic": "a typed value that is not a default or a plain string (cli/coercion.py)",
    "numpy.ma": "nothing (np.isin and np.unique import it: ~10 ms)",
    "rich.table": "the whole terminal summary (without -q) and the admin commands' tables",
    "xml.etree.ElementTree": "--junit-xml",
    "rich.console": "the terminal summary (without -q), progress bars, a line rich must "
                    "render (cli/console.py)",
    "importlib.metadata": "an unusual install layout only (versions are read from the "
                          "dist-info METADATA directly: rcsqualify.dependency_version)",
}
#: Modules a check of plain numbers (digits, "+", spaces, dots, dashes) has no use for.
PLAIN_CELLS = {
    "pyarrow.compute": "cells that are not plain numbers (the regex path: names, when the "
                       "phone column is found by content) and CSV outputs; the digits' "
                       "cast goes through pyarrow._compute (numbering/buffers.cast)",
}

#: Our own modules a 1-row offline check has no use for (issue #24: each was imported by
#: every run after the restructuring of session 5).
UNUSED_BY_A_CHECK = {
    "rcsqualify.cli.admin": "plan, portability, config and cache commands",
    "rcsqualify.cli.doctor": "the doctor command",
    "rcsqualify.cli.init": "the init command (and tomllib's writer checks, json)",
    "rcsqualify.cli.learn": "the learn command",
    "rcsqualify.cli.emulator": "the emulator command",
    "rcsqualify.cli.reference": "the generated CLI reference (docs build)",
}
#: The modules of the command line: ``import rcsqualify.cli`` imports none of them (a
#: command's module is imported when the command is asked for: cli/base.py).
COMMAND_MODULES = ("rcsqualify.cli.check", *UNUSED_BY_A_CHECK)

_PROBE = """
import json, sys
sys.argv = ["rcsqualify", *sys.argv[1:]]
from rcsqualify.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.__stdout__)
"""


def _run(args: list[str], tmp_path: Path, code: str = _PROBE) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCSQUALIFY_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # the compiled plan: built here
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    last = out.stdout.strip().splitlines()[-1]
    return dict(json.loads(last))


def _heavy(modules: object) -> dict[str, str]:
    assert isinstance(modules, list)
    return {m: why for m, why in HEAVY.items() if m in modules}


def test_one_row_offline_check_imports_no_heavy_module(tmp_path: Path) -> None:
    contacts = tmp_path / "c.csv"
    contacts.write_text("nom;tel\nMartin;06 12 34 56 78\n", encoding="utf-8")
    first = _run(["check", str(contacts), "-q"], tmp_path)  # compiles the plan
    again = _run(["check", str(contacts), "-q"], tmp_path)  # loads the compiled plan
    for run in (first, again):
        assert run["code"] in (0, 1)
        assert _heavy(run["modules"]) == {}
        assert [m for m in PLAIN_CELLS if m in run["modules"]] == []  # type: ignore[operator]
        assert [m for m in UNUSED_BY_A_CHECK if m in run["modules"]] == []  # type: ignore[operator]


def test_json_report_and_content_detection_import_no_heavy_module(tmp_path: Path) -> None:
    """The phone column found by content (normalizing a sample) and a JSON report."""
    contacts = tmp_path / "c.csv"
    contacts.write_text("a;b\nMartin;0612345678\nDurand;0698765432\n", encoding="utf-8")
    run = _run(["check", str(contacts), "-q", "--json-report", str(tmp_path / "r.json")],
               tmp_path)
    assert run["code"] in (0, 1)
    assert _heavy(run["modules"]) == {}
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["tool"]["phonenumbers"] == "9.0.43"


def test_compiled_plan_loads_without_pandas(tmp_path: Path) -> None:
    code = """
import json, sys
from rcsqualify.numbering.plan import load_plan
plan = load_plan()
print(json.dumps({"blocks": len(plan.block_operator), "modules": sorted(sys.modules)}))
"""
    for _ in range(2):  # built, then unpickled
        run = _run([], tmp_path, code)
        assert int(str(run["blocks"])) > 19_000
        assert "pandas" not in run["modules"]  # type: ignore[operator]


def test_a_parquet_input_imports_its_reader(tmp_path: Path) -> None:
    """The other side: a format's library is there when a file of it is read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"tel": ["0612345678"]}), tmp_path / "c.parquet")
    run = _run(["check", str(tmp_path / "c.parquet"), "-q"], tmp_path)
    assert run["code"] in (0, 1)
    assert "pyarrow.parquet" in run["modules"]  # type: ignore[operator]


def test_deferred_coercion_gives_typers_values_and_errors() -> None:
    """cli/coercion.py returns a value as is only where Typer's own coercion returns it
    unchanged: every parameter's default and a string for each option, compared with
    Typer's coercion; anything else (a typed-in number, an out-of-range value) is Typer's,
    error message included."""
    import typer
    import typer.main
    from typer._coercion import build_runtime_param

    from rcsqualify.cli import app
    from rcsqualify.cli.coercion import DeferredCoercion, defer

    group = typer.main.get_command(app)
    defer(group)
    stack = [group]
    checked = 0
    while stack:
        command = stack.pop()
        stack.extend(getattr(command, "commands", {}).values())
        ctx = typer.Context(command)
        for param in command.params:
            if not isinstance(param._runtime_param, DeferredCoercion):  # type: ignore[attr-defined]
                continue
            real = build_runtime_param(param.type_descriptor)  # type: ignore[attr-defined]
            for value in (param.default, "0.5", "7", "x", -1, -1.0, 0.05, 10**9, 1e9, True):
                try:
                    expected = ("ok", real.coerce(value, param=param, ctx=ctx))
                except typer.BadParameter as exc:
                    expected = ("error", exc.format_message())
                deferred = DeferredCoercion(param)
                try:
                    got = ("ok", deferred.coerce(value, param=param, ctx=ctx))
                except typer.BadParameter as exc:
                    got = ("error", exc.format_message())
                assert got == expected, (command.name, param.name, value)
                checked += 1
    assert checked > 800
    with pytest.raises(typer.BadParameter, match="greater than or equal to 1"):
        check = group.commands["check"]  # type: ignore[attr-defined]
        batch = next(p for p in check.params if p.name == "batch_size")
        batch.process_value(typer.Context(check), "0")


def test_dependency_version_is_what_importlib_metadata_says() -> None:
    from importlib.metadata import version

    from rcsqualify import dependency_version

    for name in ("phonenumbers", "numpy", "pyarrow", "typer", "rich"):
        assert dependency_version(name) == version(name)


def test_quiet_lines_are_what_rich_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """cli/console.py writes a plain line itself: byte for byte what rich writes, and
    anything rich would change (emoji codes, control characters) still goes to rich."""
    from rich.console import Console

    from rcsqualify.cli.console import LazyConsole

    lines = ["FAIL: projected error ratio 100.00% is over the 15% threshold (1 messages)",
             "", "é ≤ 0.3 s…", "INCOMPLETE: 0:00:13 at 10/s", "a :smile: b", "x:y:z",
             "tab\there", "bell\x07", "cr\rlf", "wide 表 text", "[bold]not markup[/bold]",
             "  leading and trailing spaces  ", "x" * 500]
    for line in lines:
        rich = Console(stderr=True, highlight=False, soft_wrap=False, width=120)
        rich.print(line, markup=False, highlight=False, soft_wrap=True)
        expected = capsys.readouterr().err
        lazy = LazyConsole(stderr=True, highlight=False, soft_wrap=False, width=120)
        lazy.print(line, markup=False, highlight=False, soft_wrap=True)
        assert capsys.readouterr().err == expected, line


_COMMANDS = """
import json, sys
import typer, typer.main
from rcsqualify.cli import app
from rcsqualify.cli import COMMAND_MODULES
imported = sorted(m for m in sys.modules if m.startswith("rcsqualify.cli."))
group = typer.main.get_command(app)
ctx = typer.Context(group, info_name="rcsqualify")
steps = []
for name in COMMAND_MODULES:
    command = group.get_command(ctx, name)
    steps.append([name, command.name, sorted(m for m in sys.modules
                                             if m.startswith("rcsqualify.cli."))])
print(json.dumps({"imported": imported, "steps": steps, "listed": group.list_commands(ctx),
                  "built": sorted(group.commands.built)}))
"""


def test_a_command_module_is_imported_when_its_command_is_asked_for(tmp_path: Path) -> None:
    """``import rcsqualify.cli`` imports no command module; asking the root group for a
    command imports its module (rcsqualify.cli.COMMAND_MODULES) and no other; every command a
    module registers is listed there, in the help's order."""
    from rcsqualify.cli import COMMAND_MODULES as REGISTRY

    run = _run([], tmp_path, _COMMANDS)
    assert [m for m in COMMAND_MODULES if m in run["imported"]] == []  # type: ignore[operator]
    asked: set[str] = set()
    for name, built, modules in run["steps"]:  # type: ignore[attr-defined]
        asked.add(REGISTRY[name])
        assert built == name
        assert {m for m in modules if m in COMMAND_MODULES} == asked, name
    assert run["listed"] == list(REGISTRY)
    assert run["built"] == sorted(REGISTRY)  # no command registered but unlisted
    assert set(REGISTRY.values()) == set(COMMAND_MODULES) - {"rcsqualify.cli.reference"}


@pytest.mark.parametrize(("args", "code", "modules"), [
    (["--version"], 0, set()),
    (["chek"], 2, set()),  # "did you mean 'check', 'cache'?" reads the names only
    (["plan", "--help"], 0, {"rcsqualify.cli.admin"}),
    # config show reads check's declarations from the root group (group.commands["check"])
    (["config", "show"], 0, {"rcsqualify.cli.admin", "rcsqualify.cli.check"}),
    (["--help"], 0, set(COMMAND_MODULES) - {"rcsqualify.cli.reference"}),
])
def test_a_run_imports_the_modules_of_the_commands_it_reads(
        tmp_path: Path, args: list[str], code: int, modules: set[str]) -> None:
    """Through the console script's ``main`` in a fresh process: a command read from the
    root group by another (``config show`` reads ``check``) is built on the way."""
    run = _run(args, tmp_path)
    assert run["code"] == code
    assert {m for m in COMMAND_MODULES if m in run["modules"]} == modules  # type: ignore[operator]


def test_option_groups_generate_no_code() -> None:
    """The groups, ``Opt`` and ``Settings`` hold dataclass fields but no generated method
    (each is source compiled at start-up): one ``__init__`` and one pair of frozen
    setters (settings.Frozen), with a generated ``__init__``'s calling convention."""
    import dataclasses

    from rcsqualify.settings import GROUPS, Frozen, InputOptions, NetworkOptions, Opt, Settings

    for cls in (*GROUPS, Opt, Settings):
        assert dataclasses.is_dataclass(cls)
        for method in ("__setattr__", "__delattr__"):
            assert getattr(cls, method) is getattr(Frozen, method), (cls, method)
    for cls in (*GROUPS, Opt):
        assert cls.__init__ is Frozen.__init__, cls
    fields = [f.name for f in dataclasses.fields(NetworkOptions)]
    assert NetworkOptions(5.0).rate == 5.0 and NetworkOptions(5.0, 0.1).rate_margin == 0.1
    with pytest.raises(TypeError, match=f"takes {len(fields)} positional arguments but "
                                        f"{len(fields) + 1} were given"):
        NetworkOptions(*range(len(fields) + 1))
    with pytest.raises(TypeError, match="got multiple values for argument 'rate'"):
        NetworkOptions(5.0, rate=6.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'rat'"):
        NetworkOptions(rat=6.0)
    with pytest.raises(TypeError, match="missing 1 required argument: 'help'"):
        Opt()  # type: ignore[call-arg]
    for frozen in (NetworkOptions(), Opt("h"), Settings()):
        with pytest.raises(dataclasses.FrozenInstanceError):
            frozen.rate = 1.0  # type: ignore[misc,union-attr]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del frozen.help  # type: ignore[union-attr]
    # a list default is a new list per instance, as with ``default_factory``
    assert InputOptions().column is not InputOptions().column


_VERSION = """
import contextlib, io, json, sys
sys.argv = ["rcsqualify", "--version"]
from rcsqualify.cli import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}),
      file=sys.__stdout__)
"""


def test_version_reads_the_plan_date_without_numpy(tmp_path: Path) -> None:
    """``--version`` prints the plan's date from the file beside its compiled form
    (numbering/plan_files.py); the first run, before any, loads the plan (numpy) and
    leaves that file: both print the same line."""
    first = _run([], tmp_path, _VERSION)
    second = _run([], tmp_path, _VERSION)
    assert first["code"] == second["code"] == 0
    assert first["out"] == second["out"]
    assert "ARCEP plan 20" in str(second["out"])
    assert "numpy" in first["modules"]  # type: ignore[operator]
    assert [m for m in ("numpy", "pyarrow", "rcsqualify.numbering.plan")
            if m in second["modules"]] == []  # type: ignore[operator]


def test_the_plan_date_file_follows_the_compiled_plan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written with the compiled plan, and for a plan compiled before it existed; a
    missing or unreadable one is None (the caller loads the plan)."""
    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.numbering.plan_files import compiled_path, plan_snapshot, shipped

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("RCSQUALIFY_PLAN_DIR", str(tmp_path / "plan"))
    dated = compiled_path(shipped("MAJNUM.csv")).with_suffix(".date")
    load_plan.cache_clear()
    try:
        assert plan_snapshot() is None
        snapshot = load_plan().snapshot  # compiles it
        assert plan_snapshot() == snapshot
        dated.unlink()  # as a cache compiled by an earlier version leaves it
        assert plan_snapshot() is None
        load_plan.cache_clear()
        assert load_plan().snapshot == snapshot  # read from the pickle
        assert dated.read_text(encoding="ascii") == snapshot.isoformat()
        dated.write_text("not a date", encoding="ascii")
        assert plan_snapshot() is None
    finally:
        load_plan.cache_clear()
