"""Every report format, by name: each a pure ``format_x(summary) -> str``.

Only the runner writes what these return (files atomically, the step summary by
appending, annotations and ``--json-report -`` to stdout). A test loops over every
member of ``ReportFormat``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from rcsqualify.report.annotations import format_annotations
from rcsqualify.report.html import format_html
from rcsqualify.report.json_report import format_json
from rcsqualify.report.junit import format_junit
from rcsqualify.report.markdown import format_markdown
from rcsqualify.report.summary import Summary
from rcsqualify.report.terminal import format_terminal


class ReportFormat(StrEnum):
    TERMINAL = "terminal"
    JSON = "json"
    HTML = "html"
    MARKDOWN = "markdown"
    JUNIT = "junit"
    ANNOTATIONS = "annotations"


def _html(summary: Summary) -> str:
    return format_html(summary)


def _terminal(summary: Summary) -> str:
    return format_terminal(summary)


FORMATTERS: dict[ReportFormat, Callable[[Summary], str]] = {
    ReportFormat.TERMINAL: _terminal,
    ReportFormat.JSON: format_json,
    ReportFormat.HTML: _html,
    ReportFormat.MARKDOWN: format_markdown,
    ReportFormat.JUNIT: format_junit,
    ReportFormat.ANNOTATIONS: format_annotations,
}


def format_report(fmt: ReportFormat, summary: Summary) -> str:
    return FORMATTERS[fmt](summary)
