"""The Markdown report (``--markdown-report PATH``; GitHub's step summary in CI).

A short page for where CI users look: the verdict, the send plan, the ratio against
the threshold, messages by status, mobiles by operator, and the notes. Pure: it formats
the summary and computes nothing. Text from the input or a server (file and column
names, operator names, notes) goes through ``markdown_text``: no raw HTML, no table
break, no link; figures are ours and are written as they are.
"""

from __future__ import annotations

from collections.abc import Iterable

from rcsqualify.report.escape import markdown_text as md
from rcsqualify.report.summary import Summary
from rcsqualify.report.wording import send_plan_line, threshold_text, verdict_line
from rcsqualify.verdict import ERROR_STATUSES, REASON_STATUS, STATUSES

_TOP_OPERATORS = 12


def _table(header: tuple[str, ...], align: str, rows: Iterable[Iterable[object]]) -> str:
    """A GFM table; ``align`` has one ``l`` or ``r`` per column. Cells are already
    escaped or ours."""
    marks = {"l": ":--", "r": "--:"}
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def format_markdown(s: Summary) -> str:
    verdict = verdict_line(s)
    word, _, rest = verdict.partition(": ")
    icon = {"pass": "✅", "fail": "❌", "undecided": "⚠️"}[s.decision]
    thr = threshold_text(s.threshold)
    messages = s.counts["messages"]
    out = [f"## {icon} rcsqualify: {word}", "", f"**{word}**: {md(rest, 1000)}", ""]

    if s.send_plan:
        plan = s.send_plan
        send, more = plan["send_rcs"], plan["with_unverified"]
        line = send_plan_line(s)
        table = _table(("list", "messages", "error ratio"), "lrr", [
            ("send\\_rcs", send["messages"], f"{send['error_ratio']:.2%}"),
            ("send\\_rcs + unverified", more["messages"],
             f"up to {more['error_ratio_upper']:.2%}")])
        out += ["### Send plan", "", md(line[:1].upper() + line[1:]), "", table, ""]

    ratio_rows: list[tuple[str, str]] = [
        (f"decision (gate: {md(s.gate_mode)})", f"**{md(s.decision)}**"),
        ("known to fail (low end)", f"{s.bounds.get('low', s.error_ratio):.2%}"),
        ("at most (high end: every unresolved message a failure)",
         f"{s.bounds.get('high', s.error_ratio_upper):.2%}"),
        (f"gated ratio (gate: {md(s.gate_mode)})", f"**{s.gate_ratio:.2%}**"),
        ("threshold", thr),
        ("error ratio, whole base (diagnosis)", f"{s.error_ratio:.2%}"),
        ("upper bound (unverified counted as failures)", f"{s.error_ratio_upper:.2%}"),
    ]
    if s.interval:
        iv = s.interval
        ratio_rows.append((f"95 % interval ({md(iv.get('method', 'sample'))})",
                           f"{iv['error_ratio_low']:.2%} – {iv['error_ratio_high']:.2%}"))
    out += ["### Ratio against the threshold", "", _table(("", "ratio"), "lr", ratio_rows), ""]

    status_rows = []
    for st in STATUSES:
        name = str(st)
        reasons = ", ".join(f"{md(r)} {c}" for r, c in s.reasons.items()
                            if REASON_STATUS.get(r) == st)
        label = md(name) + (" (error)" if st in ERROR_STATUSES else "")
        status_rows.append((label, s.counts[name], _share(s.counts[name], messages),
                            reasons or "-"))
    out += ["### Messages by status", "",
            _table(("status", "messages", "share", "reasons"), "lrrl", status_rows), "",
            f"{s.counts['rows']} rows = {messages} messages + {s.counts['duplicates']} "
            "duplicate rows.", ""]

    if s.operators:
        items = list(s.operators.items())
        op_rows: list[tuple[str, str, object]] = []
        for code, count in items[:_TOP_OPERATORS]:
            shown = md(code)
            if code == s.target_operator:
                shown = f"**{shown}** (target)"
            op_rows.append((shown, md(s.operator_names.get(code, "")), count))
        if len(items) > _TOP_OPERATORS:
            op_rows.append(("…", f"{len(items) - _TOP_OPERATORS} more",
                            sum(c for _, c in items[_TOP_OPERATORS:])))
        out += ["### Mobiles by serving operator", "",
                _table(("operator", "name", "numbers"), "llr", op_rows), ""]

    notes = [md(w, 1000) for w in s.warnings] + [f"stale: {md(w, 1000)}" for w in s.stale]
    if notes:
        out += ["### Notes", "", *(f"- {n}" for n in notes), ""]

    info = s.input
    out.append(
        f"<sub>{md(info.get('path', ''))}: {s.counts['rows']} rows, column "
        f"{md(info.get('column', ''))}; target operator {md(s.target_operator)}; capability "
        f"{md(s.capability)}; rcsqualify {md(s.tool.get('version', ''))}, ARCEP plan "
        f"{md(s.tool.get('arcep_plan_date', ''))}</sub>")
    return "\n".join(out) + "\n"
