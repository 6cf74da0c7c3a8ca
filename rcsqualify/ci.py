"""Which CI reports a run produces, and where (``--markdown-report``, ``--junit-xml``,
GitHub's step summary and annotations). Decisions only: the runner writes.

- ``--markdown-report PATH`` writes the Markdown page; without it, under GitHub Actions
  (``GITHUB_STEP_SUMMARY`` set) the page is *appended* to the step summary (other steps
  write there too), unless ``--no-ci-summary``.
- ``--junit-xml PATH`` writes the JUnit report.
- Annotations go to stdout under GitHub Actions (``GITHUB_ACTIONS=true``), except when
  stdout carries the JSON report (``--json-report -``): that stream must stay JSON.

Every report path is checked before anything is read or asked of a server: a path that
cannot be written is an input error (exit 2), not a surprise after an hour of look-ups.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rcsqualify.errors import InputError
from rcsqualify.report.formats import FILE_REPORTS, FORMATTERS, RenderContext, ReportFormat
from rcsqualify.report.l10n import default_lang
from rcsqualify.report.summary import Summary
from rcsqualify.settings import Settings

STDOUT = "-"


@dataclass(frozen=True)
class ReportOutput:
    target: str  # a path, or STDOUT
    text: str
    append: bool = False  # add to the file (the step summary) instead of replacing it
    commands: bool = False  # the tool's own workflow commands (annotations): never defused


def step_summary_path(s: Settings) -> str | None:
    """The step summary to append to, when no Markdown path was given."""
    if s.markdown_report or not s.ci_summary or not s.step_summary:
        return None
    return s.step_summary


def _report_options(s: Settings) -> list[tuple[str, str | None]]:
    """(option, path or ``-`` or None) of every report option (``report.formats``)."""
    return [(f.option, getattr(s, f.field)) for f in FILE_REPORTS
            if f.option is not None and f.field is not None]


def report_paths(s: Settings) -> list[tuple[str, str]]:
    """(option, path) of every report file this run will write."""
    paths = [*_report_options(s), ("GITHUB_STEP_SUMMARY", step_summary_path(s))]
    return [(option, path) for option, path in paths if path and path != STDOUT]


def stdout_reports(s: Settings) -> list[str]:
    """The options whose report (or, ``--output -``, the annotated CSV) goes to standard
    output (``-``)."""
    return [option for option, path in [("--output", s.output), *_report_options(s)]
            if path == STDOUT]


def check_report_paths(s: Settings) -> None:
    """Exit 2 now for a report that could not be written at the end."""
    if len(on_stdout := stdout_reports(s)) > 1:  # two documents in one stream: neither
        raise InputError(f"{' and '.join(on_stdout)} cannot both go to standard output "
                         "(-): give one of them a file")
    if s.split_dir == STDOUT:  # the lists are several files: '-' would be a folder named '-'
        raise InputError("--split-dir takes a folder (the lists are several files), not - "
                         "(standard output): give a folder name")
    if s.output and s.output != STDOUT and Path(s.output).is_dir():
        # before the run, as for a report (the write ended in 'unexpected OSError');
        # the other checks below would refuse a device (/dev/stdout) -o writes to
        raise InputError(f"--output {s.output}: is a directory, give a file name")
    for option, path in report_paths(s):
        target = Path(path)
        parent = target.parent
        hint = " (or --no-ci-summary)" if option == "GITHUB_STEP_SUMMARY" else ""
        if target.is_dir():
            raise InputError(f"{option} {path}: is a directory, give a file name")
        if option == "GITHUB_STEP_SUMMARY" and not parent.is_dir():
            raise InputError(f"{option} {path}: directory {parent} does not exist{hint}")
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent  # a missing folder is created when written (files.py)
        if not parent.is_dir():
            raise InputError(f"{option} {path}: {parent} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK) or (
                target.exists() and not os.access(target, os.W_OK)):
            raise InputError(f"{option} {path}: not writable{hint}")


def report_lang(s: Settings) -> str:
    """The HTML and Markdown reports' language: ``--lang`` (or the profile's ``lang``, or
    ``RCSQUALIFY_LANG``, which Click already put there), else the locale's."""
    return s.lang or default_lang(os.environ)


def report_outputs(s: Settings, summary: Summary, context: RenderContext
                   ) -> list[ReportOutput]:
    """Every report this run writes, rendered: each format a path option asks for
    (``report.formats.FILE_REPORTS``), then the step summary and the annotations."""
    outputs = []
    for fmt in FILE_REPORTS:
        assert fmt.field is not None
        if target := getattr(s, fmt.field):
            outputs.append(ReportOutput(target, fmt.render(summary, context)))
    if (path := step_summary_path(s)) is not None:
        page = FORMATTERS[ReportFormat.MARKDOWN].render(summary, context)
        outputs.append(ReportOutput(path, page, append=True))
    if s.github_actions and not stdout_reports(s):  # stdout carries a document: no mix
        text = FORMATTERS[ReportFormat.ANNOTATIONS].render(summary, context)
        if text:
            outputs.append(ReportOutput(STDOUT, text, commands=True))
    return outputs
