"""The Python API (issue #27 item 1): ``rcsqualify.qualify(source, **options)``.

For a data team in a notebook or an Airflow task, who should not shell out to the CLI
and parse its JSON. One run, not two: ``qualify`` builds its settings exactly as
``rcsqualify check`` does, from the same option declarations (``settings.py``) through
the same Click parameters (so the same types, bounds, environment variables, profile
and validation: the keyword arguments are the options' field names, an unknown one is
a ``TypeError``), then calls ``result.run`` (settings in, ``Result`` out), which
``check`` calls too: the command line only adds its display, its exit code and its
signal handling around it.

What differs from the command line, on purpose:

- nothing is printed: progress goes to an optional callback, the run's notices to
  ``Result.notices``; an output or report on standard output (``-``) is refused;
- no ``sys.exit``: errors raise the project's exceptions (``RcsQualifyError`` and
  subclasses), each carrying the CLI's exit code (``exc.exit_code``); a failing or
  undecided gate is a result (``Result.decision``), not an exception;
- no signal handler is installed (the caller's process owns its signals: a handler
  it set stays in place; ``asyncio.run`` in the remote stages swaps Python's *default*
  Ctrl-C handler only, for its run, and Ctrl-C is still ``KeyboardInterrupt``);
- the GitHub Actions conventions (the step summary, workflow-command annotations on
  stdout) are the command line's: an API call writes only the files it names.

pandas is imported only when ``Result.rows`` or ``Result.lists()`` is first read, or
when the caller passed a DataFrame (which imported it already).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, Unpack

from rcsqualify.api_options import COMMAND_LINE_ONLY, QualifyOptions
from rcsqualify.errors import InputError, RcsQualifyError, unexpected_line
from rcsqualify.result import Decision, Report, Result

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from rcsqualify.settings import Settings

if TYPE_CHECKING:
    #: a path (a file), a DataFrame, a pyarrow Table, or numbers one per string
    Source: TypeAlias = (str | os.PathLike[str] | pd.DataFrame | pa.Table
                         | Iterable[str | None])
#: ``progress(stage, done, total)``: ``read``, ``mnp``, ``capability``; ``total`` may be
#: None (unknown yet) and, for the read, an estimate until the read ends
ProgressCallback = Callable[[str, int, int | None], None]


@dataclass
class _Reporter:
    """The runner's ``Reporter`` for Python callers: progress to the callback, nothing
    printed (the notices are kept by ``result.run`` for ``Result.notices``)."""

    progress: ProgressCallback | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def notify(self, message: str) -> None:
        """Kept in ``Result.notices``, never printed."""

    def note(self, message: str) -> None:
        """Kept in ``Result.notices``, never printed."""

    def running(self) -> contextlib.nullcontext[_Reporter]:
        return contextlib.nullcontext(self)


def qualify(source: Source, *, progress: ProgressCallback | None = None,
            **options: Unpack[QualifyOptions]) -> Result:
    """Qualify a contact base, as ``rcsqualify check`` does, and return the result.

    ``source``: a path (CSV/TSV, XLSX, XLS, Parquet, NDJSON), a pandas DataFrame, a
    pyarrow Table, or an iterable of strings (one number each, read as a column named
    ``phone``). In-memory cells are read as a file of the same content would be
    (``contacts/table.py``: a nullable ``Int64`` as digits, a categorical as its
    values, ``<NA>`` as a missing cell).

    ``options``: the options of ``check`` by field name (``capability="bothub"``,
    ``column=["Mobile", "Fixe"]``, ``json_report="out.json"``, ``profile="nightly"``),
    with the command line's precedence: given here > the profile > the
    ``RCSQUALIFY_*`` environment variables > the defaults. An unknown name is a
    ``TypeError``; a bad value an ``InputError`` (exit code 2), as on the command line.

    ``progress``: called as ``progress(stage, done, total)`` while the run goes.

    Raises ``RcsQualifyError`` (``InputError``, ``ConfigurationError``, ``Locked``...)
    when the command line would exit 2 or 4 (``exc.exit_code``), an error of no
    project type during the run included (an ``RcsQualifyError`` "unexpected X", the
    original chained, as the command line's last resort); ``KeyboardInterrupt``
    as any Python code does. A failing or undecided gate is a ``Result``."""
    from rcsqualify.result import run  # the command line's run too (cli/check.py)

    data, fmt, label = _source(source)
    settings, naming = _settings(label, dict(options), in_memory=data is not None)
    try:
        return _outside_event_loop(lambda: run(settings, _Reporter(progress), data, fmt))
    except RcsQualifyError as exc:
        naming(exc)
        raise
    except Exception as exc:
        # what the command line reports as "unexpected X", exit 2 (cli/base.py): a
        # caller catching RcsQualifyError catches it too. The original stays chained
        # for the programmer, its message masked as --debug masks it (it may quote
        # a cell)
        from rcsqualify.cli.base import mask_quoted_input

        mask_quoted_input(exc)
        raise RcsQualifyError(unexpected_line(exc)) from exc


def _outside_event_loop(call: Callable[[], Result]) -> Result:
    """``call()``, in a worker thread when this thread runs an event loop: a notebook
    cell (Jupyter runs cells inside its loop), an ``async def`` Airflow task or a web
    handler. The remote stages and the alert posts use ``asyncio.run``, which refuses
    to start inside a running loop (``RuntimeError``, after the input was read). The
    caller still waits for the result, as from any blocking function; what the run
    raises is raised here."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="rcsqualify") as pool:
        return pool.submit(call).result()


def _source(source: Source) -> tuple[pa.Table | None, str | None, str]:
    """(table, format, label) of an in-memory source, or (None, None, path)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            raise InputError("the Python API reads no standard input: pass the lines as "
                             "an iterable of strings")
        return None, None, path
    from rcsqualify.contacts.table import LABELS, table_of

    fmt, table = table_of(source)
    return table, fmt, LABELS[fmt]


def _settings(label: str, options: dict[str, Any], *, in_memory: bool
              ) -> tuple[Settings, Callable[[RcsQualifyError], None]]:
    """``check``'s settings for ``options`` through ``check``'s own Click parameters
    (types, bounds, environment, profile), as if they had been typed on its command
    line; and the function that rewords an error a profile value caused."""
    import typer.main

    from rcsqualify.ci import stdout_reports
    from rcsqualify.cli import app
    from rcsqualify.cli.check import check_settings, raise_naming_the_profile
    from rcsqualify.config import apply_profile

    declared = _declared_names()
    for name in options:
        if name in COMMAND_LINE_ONLY:
            raise TypeError(f"{name!r} is an option of the command line only, not of "
                            "rcsqualify.qualify")
        if name not in declared:
            raise TypeError(f"qualify() got an unexpected keyword argument {name!r} (the "
                            "options of 'rcsqualify check' by field name: "
                            "rcsqualify.api.QualifyOptions)")
    if in_memory and options.get("input_format") is not None:
        raise InputError("--format names a file's format: an in-memory source has none")
    group = typer.main.get_command(app)
    parent = typer.Context(group, info_name="rcsqualify")
    command = group.get_command(parent, "check")  # type: ignore[attr-defined]
    ctx = command.make_context("check", [label], parent=parent)
    params = {p.name: p for p in command.params}
    given = type(ctx.get_parameter_source("input"))["COMMANDLINE"]  # Click's enum
    for name, value in options.items():
        param = params[name]
        if isinstance(value, bool) and not getattr(param, "is_bool_flag", False):
            # Click reads True as 1: ``threshold=True`` would be a gate that always
            # passes, ``sample=True`` one number
            raise InputError(f"{name}: {value} is no value of {_flag(param, name)}")
        if getattr(param, "multiple", False) and isinstance(value, (str, os.PathLike)):
            value = [value]  # ``column="Tel"``: one value of a repeatable option
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        elif name == "sample" and value is not None:
            value = str(value)
        try:
            ctx.params[name] = param.process_value(ctx, value)
        except Exception as exc:  # Click's BadParameter: the message names no value
            why = getattr(exc, "message", None) or type(exc).__name__
            raise InputError(f"{name} ({_flag(param, name)}): {' '.join(str(why).split())}"
                             ) from None
        ctx.set_parameter_source(name, given)
    try:
        values = apply_profile(ctx, dict(ctx.params))
        settings = check_settings(ctx, values)
        if printed := stdout_reports(settings):
            raise InputError(f"{printed[0]} - would print: the Python API prints nothing "
                             "(give a path, or read Result.summary / Result.rows)")
    except RcsQualifyError as exc:
        raise_naming_the_profile(ctx, exc)
        raise
    settings = settings.replace(step_summary=None, github_actions=False)

    def naming(exc: RcsQualifyError) -> None:
        raise_naming_the_profile(ctx, exc)

    return settings, naming


def _flag(param: Any, name: str) -> str:
    """The option's long flag (``--threshold``), as messages name it."""
    return next((o for o in getattr(param, "opts", ()) if o.startswith("--")), name)


def _declared_names() -> set[str]:
    from rcsqualify.settings import options_of

    return {name for name, _, _ in options_of()}


__all__ = ["COMMAND_LINE_ONLY", "Decision", "QualifyOptions", "Report", "Result", "qualify"]
