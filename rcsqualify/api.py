"""The Python API (issue #27 item 1): ``rcsqualify.qualify(source, **options)``.

For a data team in a notebook or an Airflow task, who should not shell out to the CLI
and parse its JSON. One run, not two: ``qualify`` builds its settings exactly as
``rcsqualify check`` does, from the same option declarations (``settings.py``) through
the same Click parameters (so the same types, bounds, environment variables, profile
and validation: the keyword arguments are the options' field names, an unknown one is
a ``TypeError``), then calls the runner's ``run_check``, which ``check`` calls too.

What differs from the command line, on purpose:

- nothing is printed: progress goes to an optional callback, the run's notices to
  ``Result.notices``; an output or report on standard output (``-``) is refused;
- no ``sys.exit``: errors raise the project's exceptions (``RcsQualifyError`` and
  subclasses), each carrying the CLI's exit code (``exc.exit_code``); a failing or
  undecided gate is a result (``Result.decision``), not an exception;
- no signal handler is installed (the caller's process owns its signals);
- the GitHub Actions conventions (the step summary, workflow-command annotations on
  stdout) are the command line's: an API call writes only the files it names.

pandas is imported only when ``Result.rows`` or ``Result.lists()`` is first read, or
when the caller passed a DataFrame (which imported it already).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict, Unpack

from rcsqualify.errors import InputError, RcsQualifyError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from rcsqualify.runner import CheckRun
    from rcsqualify.settings import Settings

if TYPE_CHECKING:
    #: a path (a file), a DataFrame, a pyarrow Table, or numbers one per string
    Source: TypeAlias = (str | os.PathLike[str] | pd.DataFrame | pa.Table
                         | Iterable[str | None])
#: ``progress(stage, done, total)``: ``read``, ``mnp``, ``capability``; ``total`` may be
#: None (unknown yet) and, for the read, an estimate until the read ends
ProgressCallback = Callable[[str, int, int | None], None]
PathLike = str | os.PathLike[str]
Decision = Literal["pass", "fail", "undecided"]


class QualifyOptions(TypedDict, total=False):
    """The keyword arguments of ``qualify``: every option of ``rcsqualify check`` by its
    field name (``--json-report`` is ``json_report``, ``--format`` is
    ``input_format``), typed for Python callers. A test holds it equal to the
    declarations (``settings.GROUPS``) minus ``COMMAND_LINE_ONLY``."""

    column: str | Sequence[str]
    columns: Literal["auto"] | None
    contact_id: str | None
    number_rank: str | None
    max_numbers_per_contact: int
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    input_format: str | None
    header: bool | None
    skip_rows: int | None
    header_row: int | None
    csv_escape: bool
    csv_dialect: Literal["excel-fr", "standard"] | None
    excel: bool
    operator: str
    threshold: float
    gate: Literal["decide", "known", "upper"]
    output: PathLike | None
    json_report: PathLike | None
    split_dir: PathLike | None
    split_xlsx: bool
    wait_lock: float
    html_report: PathLike | None
    markdown_report: PathLike | None
    ci_summary: bool
    junit_xml: PathLike | None
    history: PathLike | None
    send_rate: float
    price_message: float | None
    price_conversation: float | None
    reply_rate: float | None
    metrics_file: PathLike | None
    notify: str | Sequence[str]
    warn_at: float
    notify_format: Literal["auto", "slack", "teams", "json"]
    portability: PathLike | Sequence[PathLike]
    portability_db: PathLike | None
    portability_number_column: str | None
    portability_operator_column: str | None
    portability_max_unmapped: float
    portability_max_age: int
    mnp_url: str | None
    mnp_field: str | None
    mnp_profile: str | None
    mnp_region: str | None
    capability: str
    other_route: str | None
    bothub_url: str
    bothub_token_url: str
    bot_id: str | None
    bot_key_file: PathLike | None
    bot_jwt_header: str
    single_warn: int
    wait_for_window: bool
    poll_interval: float
    bulk_deadline: float | None
    bulk_hours: str | None
    require_feature: str
    rbm_url: str
    agent_id: str | None
    rbm_credentials: PathLike | None
    agent_launched: bool
    batch_size: int | None
    sample: int | Literal["auto"] | None
    sample_max: int
    confidence: float
    seed: int
    rate: float
    rate_margin: float
    throttle_pause: float
    timeout: float
    max_pause: float
    max_paused: float
    max_requests: int | None
    retry_backoff: float
    cache_dir: PathLike | None
    cache_url: str | None
    cache_key_file: PathLike | None
    cache_key_in_store: bool
    quota_store: str | None
    no_cache: bool
    refresh: bool
    lang: Literal["fr", "en"] | None
    config: PathLike | None
    profile: str | None


#: options of ``check`` that mean nothing to a Python caller: what the terminal shows
#: (``quiet``, ``debug``) and ``--dry-run`` (command line only, exit 0 with no verdict)
COMMAND_LINE_ONLY = frozenset({"quiet", "debug", "dry_run"})


@dataclass(frozen=True)
class Report:
    """The JSON report (``--json-report``, CONTRACT §6), field for field, in its order:
    ``to_dict()`` is the very document the command line writes (ratios rounded the
    same way). The nested parts stay dictionaries, as in the JSON; the schema is
    ``docs/report.schema.json``."""

    schema_version: int
    tool: dict[str, Any]
    input: dict[str, Any]
    send_plan: dict[str, Any]
    counts: dict[str, int]
    reasons: dict[str, int]
    repaired: dict[str, int]
    operators: dict[str, int]
    operator_names: dict[str, str]
    operator_sources: dict[str, int]
    territories: dict[str, int]
    error_ratio: float
    error_ratio_upper: float
    threshold: float
    gate: str
    exit_code: int
    target_operator: str
    capability: str
    api: dict[str, Any]
    attribution: dict[str, Any]
    interval: dict[str, Any] | None
    warnings: list[str]
    notes: list[str]
    projection: dict[str, Any]
    examples: dict[str, list[str]]
    split_lists: dict[str, int]
    timings: dict[str, float]
    gate_mode: str
    gate_ratio: float
    decision: Decision
    bounds: dict[str, float]
    incomplete: bool
    failed_checks: dict[str, int]
    next_steps: list[dict[str, Any]]
    stale: list[str]
    portability: dict[str, Any]
    routes: dict[str, Any] | None

    @classmethod
    def from_json(cls, text: str) -> Report:
        """The report from the JSON text the run rendered (one renderer: the JSON
        format of ``report.formats``); a key it lacks or adds is a ``TypeError``, so
        this class cannot drift from the report unnoticed (a test renders one)."""
        return cls(**json.loads(text))

    def to_dict(self) -> dict[str, Any]:
        """The JSON report as a dictionary (a deep copy: changing it changes nothing
        here)."""
        return asdict(self)


@dataclass
class _Reporter:
    """The runner's ``Reporter`` for Python callers: progress to the callback, notices
    kept in order, nothing printed."""

    progress: ProgressCallback | None = None
    notices: list[str] = field(default_factory=list)

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def notify(self, message: str) -> None:
        self.notices.append(message)

    def note(self, message: str) -> None:
        self.notices.append(f"note: {message}")

    def running(self) -> contextlib.nullcontext[_Reporter]:
        return contextlib.nullcontext(self)


class Result:
    """What a run concluded: its report (``summary``, ``decision``, ``send_plan``), and
    the annotated rows and lists, built from the input when first read (so a caller
    who wants only the decision never pays for a DataFrame of a million rows).

    ``rows`` and ``lists()`` read the input again: a file changed since the run is an
    ``InputError`` (the rows would no longer match their verdicts)."""

    def __init__(self, run: CheckRun, notices: list[str]) -> None:
        from rcsqualify.report.formats import ReportFormat, format_report

        self._run = run
        #: the run's notices (HTTP 429 pauses, a bulk window closed, notes on how the
        #: input was read), which the command line prints on stderr
        self.notices: list[str] = list(notices)
        #: the JSON report's fields (``Report.to_dict()`` is the ``--json-report``)
        self.summary: Report = Report.from_json(format_report(ReportFormat.JSON,
                                                              run.summary))

    @property
    def decision(self) -> Decision:
        """``pass``, ``fail`` or ``undecided`` (CONTRACT §2 Gate): the command line's
        exit code 0, 1 or 3 (``summary.exit_code``)."""
        return self.summary.decision

    @property
    def exit_code(self) -> int:
        """What ``rcsqualify check`` would have exited with."""
        return self.summary.exit_code

    @property
    def send_plan(self) -> dict[str, Any]:
        """What to send and the error ratio it would give (CONTRACT §2 Send plan): the
        ``send_plan`` of the JSON report."""
        return self.summary.send_plan

    def __repr__(self) -> str:
        return (f"<rcsqualify.Result {self.decision}: error ratio "
                f"{self.summary.error_ratio:.2%} (upper {self.summary.error_ratio_upper:.2%})"
                f" of {self.summary.counts.get('messages', 0)} messages>")

    def _annotated(self) -> Iterator[pa.RecordBatch]:
        from rcsqualify.numbering.plan import load_plan
        from rcsqualify.report.writers import annotated_batches

        return annotated_batches(self._run.source, self._run.result, load_plan())

    @cached_property
    def _table(self) -> pa.Table:
        import pyarrow as pa

        batches = list(self._annotated())
        if not batches:
            return pa.table({})
        return pa.Table.from_batches(batches)

    @cached_property
    def rows(self) -> pd.DataFrame:
        """Every input row, in input order: the input's columns as text (as read), then
        the annotation columns of ``--output`` (``e164``, ``status``, ``reason``,
        ``operator``... as categoricals). Built on first access."""
        return self._table.to_pandas()

    def lists(self) -> dict[str, pd.DataFrame]:
        """The lists ``--split-dir`` writes (``send_rcs``, ``other_operators``,
        ``not_rcs``, ``unverified``, ``remove``, and ``send_rbm`` with a second route),
        each a DataFrame of its rows as in ``rows`` (a duplicate row is in no list, a
        contact on its first row only, as in the files)."""
        import numpy as np
        import pyarrow as pa

        from rcsqualify.report.split import list_codes, lists_of

        result, table = self._run.result, self._table
        codes = np.append(list_codes(result), np.full(
            self._run.source.info.footer_rows, -2, np.int8))
        out = {}
        for i, name in enumerate(lists_of(result)):
            part = table.filter(pa.array(codes == i)) if table.num_columns else table
            out[name] = part.to_pandas()
        return out


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
    when the command line would exit 2 or 4 (``exc.exit_code``); ``KeyboardInterrupt``
    as any Python code does. A failing or undecided gate is a ``Result``."""
    from rcsqualify.runner import run_check

    data, fmt, label = _source(source)
    settings, naming = _settings(label, dict(options), in_memory=data is not None)
    reporter = _Reporter(progress)
    try:
        run = run_check(settings, reporter, data, fmt)
    except RcsQualifyError as exc:
        naming(exc)
        raise
    return Result(run, reporter.notices)


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
        if getattr(param, "multiple", False) and isinstance(value, (str, os.PathLike)):
            value = [value]  # ``column="Tel"``: one value of a repeatable option
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        elif name == "sample" and value is not None:
            value = str(value)
        try:
            ctx.params[name] = param.process_value(ctx, value)
        except Exception as exc:  # Click's BadParameter: the message names no value
            flag = next((o for o in getattr(param, "opts", ()) if o.startswith("--")),
                        name)
            why = getattr(exc, "message", None) or type(exc).__name__
            raise InputError(f"{name} ({flag}): {' '.join(str(why).split())}") from None
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


def _declared_names() -> set[str]:
    from rcsqualify.settings import options_of

    return {name for name, _, _ in options_of()}


__all__ = ["COMMAND_LINE_ONLY", "QualifyOptions", "Report", "Result", "qualify"]
