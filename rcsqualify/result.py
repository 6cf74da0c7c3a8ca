"""The one run of ``rcsqualify check`` and of ``rcsqualify.qualify`` (issue #27: one
path, not two): ``run(settings, reporter) -> Result``.

Settings and a source in, a ``Result`` out: the runner's check (``runner.run_check``,
which writes the outputs the settings name), its notices kept in order, and its report
as the frozen ``Report`` of the JSON report's fields. Nothing here prints, exits or
touches a signal: what the two callers do differently stays with them —

- the command line (``cli/check.py``, ``refresh``) calls ``execute_check``: ``run``
  with progress bars and notices on its console; then it renders the summary and exits
  with ``Result.exit_code``, and installs the signal handling of a terminal run;
- the Python API (``api.qualify``) calls ``run`` with a reporter that prints nothing,
  and hands the ``Result`` to its caller.

So a change to what a run concludes is made once, and a test (tests/test_api.py) holds
that both entries go through ``run``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from rich.console import Console

    from rcsqualify.runner import CheckRun, Reporter
    from rcsqualify.settings import Settings

Decision = Literal["pass", "fail", "undecided"]


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


class Result:
    """What a run concluded: its report (``summary``, ``decision``, ``send_plan``), and
    the annotated rows and lists, built from the input when first read (so a caller
    who wants only the decision never pays for a DataFrame of a million rows, and the
    command line, which renders ``checked.summary``, never renders the JSON).

    ``rows`` and ``lists()`` read the input again: a file changed since the run is an
    ``InputError`` (the rows would no longer match their verdicts)."""

    def __init__(self, checked: CheckRun, notices: list[str]) -> None:
        #: the runner's record of the run: the summary the terminal and the refresh log
        #: render, the verdicts, the source, the movement since the previous run. What
        #: the command line reads; a Python caller reads ``summary`` (stable) instead
        self.checked = checked
        #: the run's notices (HTTP 429 pauses, a bulk window closed, notes on how the
        #: input was read), in order; the command line printed them on stderr as they came
        self.notices: list[str] = list(notices)

    @cached_property
    def summary(self) -> Report:
        """The JSON report's fields (``Report.to_dict()`` is the ``--json-report``)."""
        from rcsqualify.report.formats import ReportFormat, format_report

        return Report.from_json(format_report(ReportFormat.JSON, self.checked.summary))

    @property
    def decision(self) -> Decision:
        """``pass``, ``fail`` or ``undecided`` (CONTRACT §2 Gate): the command line's
        exit code 0, 1 or 3 (``summary.exit_code``)."""
        return self.summary.decision

    @property
    def exit_code(self) -> int:
        """What ``rcsqualify check`` exits with."""
        return int(self.checked.summary.exit_code)

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

        return annotated_batches(self.checked.source, self.checked.result, load_plan())

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
        the annotation columns of ``--output`` (``msisdn_e164``, ``status``, ``reason``,
        ``operator``...), each a pandas ``string`` column. Built on first access."""
        return _frame(self._table)

    def lists(self) -> dict[str, pd.DataFrame]:
        """The lists ``--split-dir`` writes (``send_rcs``, ``other_operators``,
        ``not_rcs``, ``unverified``, ``remove``, and ``send_rbm`` with a second route),
        each a DataFrame of its rows as in ``rows`` (a duplicate row is in no list, a
        contact on its first row only, as in the files)."""
        import numpy as np
        import pyarrow as pa

        from rcsqualify.report.split import list_codes, lists_of

        result, table = self.checked.result, self._table
        codes = np.append(list_codes(result), np.full(
            self.checked.source.info.footer_rows, -2, np.int8))
        out = {}
        for i, name in enumerate(lists_of(result)):
            part = table.filter(pa.array(codes == i)) if table.num_columns else table
            out[name] = _frame(part)
        return out


def _frame(table: pa.Table) -> pd.DataFrame:
    """A table of text as pandas ``string`` columns (``pd.NA`` missing): pandas 3's
    default ``str`` columns hold a missing cell as the float NaN, which printed, written
    with ``str()`` or compared reads as the text ``nan`` — a DataFrame's ``pd.NA`` (a
    null cell of a Parquet file or an Arrow table) stays missing, as in the input. A
    CSV's blank cell is read as the empty text, as ``--output`` writes it."""
    import pandas as pd
    import pyarrow as pa

    text = pd.StringDtype("pyarrow")  # zero-copy over Arrow's strings
    return table.to_pandas(types_mapper={pa.string(): text, pa.large_string(): text}.get)


class _Kept:
    """The caller's reporter, passed through, keeping the notices for ``Result``."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.notices: list[str] = []

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        self.reporter(stage, done, total)

    def notify(self, message: str) -> None:
        self.notices.append(message)
        self.reporter.notify(message)

    def note(self, message: str) -> None:
        self.notices.append(f"note: {message}")
        self.reporter.note(message)

    def running(self) -> AbstractContextManager[Any]:
        return self.reporter.running()


def run(settings: Settings, reporter: Reporter, data: pa.Table | None = None,
        fmt: str | None = None) -> Result:
    """Run the check ``settings`` describe and write its outputs; the ``Result``.

    ``reporter`` hears the progress and the notices (``runner.Reporter``); ``data`` and
    ``fmt``: contacts in memory (the Python API), ``settings.input`` naming them.
    Raises what the run raises (``RcsQualifyError`` with its exit code, Ctrl-C): a
    failing or undecided gate is a ``Result``."""
    from rcsqualify.runner import run_check

    kept = _Kept(reporter)
    return Result(run_check(settings, kept, data, fmt), kept.notices)


def execute_check(settings: Settings, console: Console) -> Result:
    """The command line's run (``check``, ``refresh``): ``run`` with progress bars, when
    stderr is a terminal and the run is not quiet, and notices on ``console``."""
    from rcsqualify.display import ProgressReporter

    return run(settings, ProgressReporter(console, enabled=not settings.quiet,
                                          rate=settings.rate))


__all__ = ["Decision", "Report", "Result", "execute_check", "run"]
