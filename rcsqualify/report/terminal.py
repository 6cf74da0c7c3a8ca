"""The terminal summary (CONTRACT §6): tables per status, operator and territory, the ratio
against the threshold and a one-line verdict. Rendered on stderr by the CLI, so stdout
stays free for ``--json-report -``."""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from rcsqualify.report.escape import plain_line
from rcsqualify.report.summary import Summary
from rcsqualify.report.wording import send_plan_line, threshold_text, verdict_line
from rcsqualify.verdict import ERROR_STATUSES, REASON_STATUS, STATUSES

_STATUS_STYLE = {
    "invalid": "red", "not_mobile": "red", "other_operator": "red", "not_rcs": "red",
    "unverified": "yellow", "reachable": "green",
}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s"


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def render_summary(s: Summary) -> RenderableType:
    messages = s.counts["messages"]
    status = Table(title="Messages by status", title_justify="left", expand=False)
    status.add_column("status")
    status.add_column("messages", justify="right")
    status.add_column("share", justify="right")
    status.add_column("reasons")
    for st in STATUSES:
        name = str(st)
        reasons = ", ".join(f"{r} {c}" for r, c in s.reasons.items()
                            if REASON_STATUS.get(r) == st)
        mark = " (error)" if st in ERROR_STATUSES else ""
        status.add_row(Text(name + mark, style=_STATUS_STYLE[name]), str(s.counts[name]),
                       _pct(s.counts[name], messages), reasons)
    status.caption = (f"{s.counts['rows']} rows = {messages} messages + "
                      f"{s.counts['duplicates']} duplicate rows")

    ops = Table(title="Mobiles by serving operator", title_justify="left")
    ops.add_column("operator")
    ops.add_column("name")
    ops.add_column("numbers", justify="right")
    total_mobiles = sum(s.operators.values())
    for code, count in list(s.operators.items())[:12]:
        style = "bold" if code == s.target_operator else ""
        ops.add_row(Text(code, style=style), s.operator_names.get(code, ""), str(count))
    if len(s.operators) > 12:
        rest = sum(list(s.operators.values())[12:])
        ops.add_row("…", f"{len(s.operators) - 12} more", str(rest))
    if s.operator_sources:
        ops.caption = "source: " + ", ".join(f"{k} {v}" for k, v in s.operator_sources.items())
    ops.add_row("total", "", str(total_mobiles))

    terr = Table(title="Numbers by territory", title_justify="left")
    terr.add_column("territory")
    terr.add_column("numbers", justify="right")
    for name, count in s.territories.items():
        terr.add_row(name, str(count))

    parts: list[RenderableType] = []
    if s.send_plan:
        parts.append(Text("Send plan: " + send_plan_line(s), style="bold"))
    parts += [status, ops, terr]
    att = s.attribution
    for label, st in att.get("sources", {}).items():
        line = (f"{label}: answered {st['answered']} of {st['asked']} mobiles; "
                f"ported in {att.get('ported_in', 0)}, ported out {att.get('ported_out', 0)} "
                f"(vs range holder); {st['conflicts']} conflicting numbers")
        if st.get("unmapped"):
            line += (f"; {st['unmapped']} operator values mapped to nothing, e.g. "
                     + ", ".join(st["unmapped_examples"][:3]))
        if st.get("errors"):
            line += f"; {st['errors']} look-ups failed"
        if label == "portability" and s.portability:
            pb = s.portability
            line += (f"; newest port date {pb['newest_date']}, {pb['age_days']} days old"
                     if pb.get("newest_date") else "; age unknown (no port dates)")
        parts.append(Text(line))
    if s.repaired:
        parts.append(Text("repaired cells: " + ", ".join(f"{k} {v}"
                                                         for k, v in s.repaired.items())))
    if s.api.get("providers"):
        api = s.api
        parts.append(Text(f"API: {api['requests']} requests, {api['cache_hits']} cache hits, "
                          f"{api['retries']} retries, {api['throttled']} throttled (429)"))
    if s.interval:
        iv = s.interval
        parts.append(Text(
            f"estimate ({iv['method']}): error ratio {iv['error_ratio_estimate']:.2%}, 95 % "
            f"interval [{iv['error_ratio_low']:.2%}, {iv['error_ratio_high']:.2%}] from "
            f"{iv['trials']} answers extrapolated to {iv['extrapolated']} numbers; the gate "
            "uses the upper end"))
    pr = s.projection
    if pr:
        line = (f"campaign: {pr['messages']} RCS messages to send "
                f"(up to {pr['messages_upper']} with the unverified), "
                f"{_duration(pr['send_seconds'])} at {pr['send_rate']:g}/s")
        if "cost" in pr:
            line += (f"; cost {pr['cost']:.2f} € (up to {pr['cost_upper']:.2f} €) at "
                     f"{pr['reply_rate']:.0%} replies")
        else:
            line += "; cost: give " + ", ".join(pr["missing"])
        parts.append(Text(line))
    if s.split_lists:
        parts.append(Text("lists: " + ", ".join(f"{k} {v}" for k, v in s.split_lists.items())))
    for w in s.warnings:  # may quote a server: one plain line each
        parts.append(Text("note: " + plain_line(w, 1000), style="yellow"))
    for w in s.stale:
        parts.append(Text("stale: " + plain_line(w, 1000), style="yellow"))
    parts.append(Text(
        f"whole base (diagnosis): error ratio {s.error_ratio:.2%} (upper bound "
        f"{s.error_ratio_upper:.2%}) vs threshold {threshold_text(s.threshold)}, target "
        f"operator {s.target_operator}; gate {s.gate_mode}: {s.gate_ratio:.2%}"))
    style = {"pass": "bold green", "fail": "bold red", "incomplete": "bold yellow"}[s.gate]
    parts.append(Text(verdict_line(s), style=style))
    return Group(*parts)


def print_summary(s: Summary, console: Console) -> None:
    console.print(render_summary(s))


def format_terminal(s: Summary, width: int = 120) -> str:
    """The terminal summary as plain text (no colour), e.g. for a log file."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False,
                      force_terminal=False)
    console.print(render_summary(s))
    return buffer.getvalue()
