"""Writing a run's outputs: the annotated file, the lists (and the movement since the
previous run beside them), the alerts, then each report rendered through
``report.formats`` (language, date, history and movement decided once here), written
to standard output, appended (the CI step summary) or atomically."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rcsqualify.ci import (
    STDOUT,
    ReportOutput,
    report_lang,
    report_outputs,
)
from rcsqualify.contacts import ContactSource
from rcsqualify.files import cannot_write, make_folder
from rcsqualify.notes import note
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.pipeline import CheckResult
from rcsqualify.report.formats import RenderContext
from rcsqualify.report.summary import Summary
from rcsqualify.report.writers import (
    atomic_path,
    write_annotated,
)
from rcsqualify.settings import Settings
from rcsqualify.validation import dialect_choice


def render_context(s: Settings, summary: Summary,
                   movement: dict[str, Any] | None = None, started: float | None = None
                   ) -> RenderContext:
    """What the reports need beyond the summary: their language, the run's date and,
    for the HTML page, the ``--history`` log (its damaged lines said in the summary
    before any report is rendered, so every report carries the warning) and the
    movement since the previous run."""
    from datetime import UTC, datetime

    history: list[dict[str, Any]] = []
    if s.html_report:
        from rcsqualify.report.html import read_history

        history, damaged = read_history(s.history)
        if damaged:
            summary.warnings.append(note("history_damaged", count=damaged, path=s.history))
    from rcsqualify.alerting import run_labels

    labels = run_labels(s)
    return RenderContext(lang=report_lang(s), generated_at=datetime.now(UTC),
                         history=history, movement=movement,
                         metrics_labels=(labels.list_name, labels.profile),
                         duration_s=time.monotonic() - started if started else 0.0)


def write_report(report: ReportOutput, say: Callable[[str], None] | None = None) -> None:
    """A report to stdout, appended (the CI step summary) or written atomically."""
    if report.target == STDOUT:
        # annotations are the one output that may start a line with '::' (textsafe)
        out = getattr(sys.stdout, "raw", sys.stdout) if report.commands else sys.stdout
        sys.stdout.flush()  # what the guard holds goes first
        out.write(report.text)
        out.flush()
    elif report.append:
        with open(report.target, "a", encoding="utf-8") as fh:
            fh.write(report.text)
    else:
        output_folder(report.target, say)
        with atomic_path(report.target) as tmp:
            Path(tmp).write_text(report.text, encoding="utf-8")


def output_folder(path: str, say: Callable[[str], None] | None = None) -> None:
    """A user output's missing folder, created and said (``files.make_folder``)."""
    try:
        make_folder(Path(path).parent, say)
    except OSError as exc:
        raise cannot_write(Path(path), exc) from exc


def write_outputs(s: Settings, source: ContactSource, result: CheckResult,
                  plan: NumberingPlan, summary: Summary, started: float | None = None,
                  say: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """Every output of a finished run: the annotated file (``-o``), the lists
    (``--split-dir``, and the movement since the previous run beside them), the alerts,
    then every report. Returns the movement (None without lists or a previous run).
    ``say`` hears the folders created on the way (the run's reporter)."""
    if s.output:
        if s.output != STDOUT:
            output_folder(s.output, say)
        write_annotated(s.output, source, result, plan, csv_escape=s.csv_escape,
                        dialect=dialect_choice(s), warnings=summary.warnings)
    movement: dict[str, Any] | None = None
    if s.split_dir:
        from rcsqualify.report.split import write_split_lists

        summary.split_lists = write_split_lists(s.split_dir, source, result, plan,
                                                xlsx=s.split_xlsx,
                                                csv_escape=s.csv_escape,
                                                dialect=dialect_choice(s), say=say)
        if cleaned := summary.split_lists.get("xlsx_control_characters_removed"):
            summary.warnings.append(note("xlsx_control_characters", count=cleaned))
        from rcsqualify.report.movement import record_movement

        moved = record_movement(Path(s.split_dir), result.distinct.key,
                                result.distinct.reason)
        movement = moved.to_dict() if moved is not None else None
    context = render_context(s, summary, movement, started)
    if s.notify:  # before the reports: a failed post is a warning in every one
        from rcsqualify.alerting import alert_run, check_monitoring

        assert context.generated_at is not None
        alert_run(s, summary, check_monitoring(s), context.generated_at)
    for report in report_outputs(s, summary, context):
        write_report(report, say)  # "-": standard output
    return movement
