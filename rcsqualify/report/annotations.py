"""GitHub Actions annotations: workflow commands the runner reads from stdout.

``::error`` for a failed gate, ``::warning`` for an undecided or incomplete one and for
each input past its freshness; nothing when the gate passes on fresh, complete data.
Messages and properties are escaped as GitHub's actions/toolkit does (``%``, CR, LF;
and ``:`` ``,`` in properties), so text from a file or a server can neither end the
command early nor start another one. The runner prints these only under GitHub
Actions, and never when stdout carries the JSON report.
"""

from __future__ import annotations

from rcsqualify.report.escape import workflow_data, workflow_property
from rcsqualify.report.summary import Summary
from rcsqualify.report.wording import verdict_line


def _command(level: str, title: str, message: str) -> str:
    return f"::{level} title={workflow_property(title)}::{workflow_data(message)}"


def format_annotations(s: Summary) -> str:
    lines = []
    if s.gate == "fail":
        lines.append(_command("error", "rcsqualify gate", verdict_line(s)))
    elif s.gate == "undecided" or s.incomplete:
        lines.append(_command("warning", "rcsqualify gate", verdict_line(s)))
    lines += [_command("warning", "rcsqualify: stale data", w) for w in s.stale]
    return "".join(line + "\n" for line in lines)
