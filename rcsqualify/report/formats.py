"""Every report format, by name: how the runner writes every report (issue #24 item 2).

Each entry is a pure ``render(summary, context) -> str`` and, for a report the user
asks for by path, the option that names it and the settings field holding that path.
The runner loops over ``FILE_REPORTS`` (and the CI decisions in ``ci.py`` add the step
summary and annotations): a new format is its module, one entry here and its option.
Formatter modules are imported when a report is rendered, never before (an offline
run that writes no report imports none of them).

Only the runner writes what these return (files atomically, the step summary by
appending, annotations and ``--json-report -`` to stdout). A test loops over every
member of ``ReportFormat``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from rcsqualify.report.summary import Summary


class ReportFormat(StrEnum):
    TERMINAL = "terminal"
    JSON = "json"
    HTML = "html"
    MARKDOWN = "markdown"
    JUNIT = "junit"
    ANNOTATIONS = "annotations"
    METRICS = "metrics"


@dataclass(frozen=True)
class RenderContext:
    """What a format may need beyond the summary, decided once by the runner."""

    lang: str = "en"  # the HTML and Markdown reports' language (ci.report_lang)
    generated_at: datetime | None = None  # the run's date (written in Paris time)
    history: Sequence[dict[str, Any]] = field(default_factory=list)  # --history
    #: what changed since the previous run (``report.movement``; refresh with lists)
    movement: dict[str, Any] | None = None
    #: the metrics' ``list`` and ``profile`` labels, and how long the run took
    metrics_labels: tuple[str, str] = ("", "")
    duration_s: float = 0.0


@dataclass(frozen=True)
class Format:
    """One report format: how to render it and, when a path option asks for it, which."""

    name: ReportFormat
    render: Callable[[Summary, RenderContext], str]
    option: str | None = None  # the option naming its file (``-``: standard output)
    field: str | None = None  # the settings field holding that option's value


def _terminal(s: Summary, c: RenderContext) -> str:
    from rcsqualify.report.terminal import format_terminal

    return format_terminal(s)


def _json(s: Summary, c: RenderContext) -> str:
    from rcsqualify.report.json_report import format_json

    return format_json(s)


def _html(s: Summary, c: RenderContext) -> str:
    from rcsqualify.report.html import format_html

    return format_html(s, list(c.history), lang=c.lang, generated_at=c.generated_at,
                       movement=c.movement)


def _markdown(s: Summary, c: RenderContext) -> str:
    from rcsqualify.report.markdown import format_markdown

    return format_markdown(s, lang=c.lang, generated_at=c.generated_at)


def _junit(s: Summary, c: RenderContext) -> str:
    from rcsqualify.report.junit import format_junit  # xml.etree: for this report only

    return format_junit(s)


def _annotations(s: Summary, c: RenderContext) -> str:
    from rcsqualify.report.annotations import format_annotations

    return format_annotations(s)


def _metrics(s: Summary, c: RenderContext) -> str:
    from datetime import UTC

    from rcsqualify.report.metrics import RunLabels, format_metrics

    return format_metrics(s, RunLabels(*c.metrics_labels),
                          now=c.generated_at or datetime.now(UTC), duration_s=c.duration_s)


FORMATTERS: dict[ReportFormat, Format] = {f.name: f for f in (
    Format(ReportFormat.TERMINAL, _terminal),
    Format(ReportFormat.JSON, _json, "--json-report", "json_report"),
    Format(ReportFormat.HTML, _html, "--html-report", "html_report"),
    Format(ReportFormat.MARKDOWN, _markdown, "--markdown-report", "markdown_report"),
    Format(ReportFormat.JUNIT, _junit, "--junit-xml", "junit_xml"),
    Format(ReportFormat.ANNOTATIONS, _annotations),
    Format(ReportFormat.METRICS, _metrics, "--metrics-file", "metrics_file"),
)}
#: the reports a path option asks for, in the order they are written
FILE_REPORTS: tuple[Format, ...] = tuple(f for f in FORMATTERS.values() if f.option)


def format_report(fmt: ReportFormat, summary: Summary,
                  context: RenderContext | None = None) -> str:
    return FORMATTERS[fmt].render(summary, context or RenderContext())
