"""The terminal summary (CONTRACT §6): tables per status, operator and territory, the ratio
against the threshold and a one-line verdict. Rendered on stderr by the CLI, so stdout
stays free for ``--json-report -``."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.text import Text

from rcsqualify.l10n import noun, number, threshold
from rcsqualify.report.escape import plain_line
from rcsqualify.report.summary import Summary, confidence_of
from rcsqualify.report.wording import (
    contacts_line,
    duration_text,
    send_plan_line,
    threshold_text,
    verdict_line,
)
from rcsqualify.verdict import ERROR_STATUSES, REASON_STATUS, STATUSES

_STATUS_STYLE = {
    "invalid": "red", "not_mobile": "red", "other_operator": "red", "not_rcs": "red",
    "unverified": "yellow", "reachable": "green",
}


_VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "undecided": "bold yellow"}


def _n(count: int) -> str:
    """A count as every figure of the terminal writes it: ``6,000`` (issue #26: one
    rule for the verdict's "6,000 messages" and the send plan's "2,354 more")."""
    return number(count, "en")


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def read_line(info: dict[str, Any]) -> str:
    """What was read, in one line: file, format, rows, column, encoding, delimiter or
    sheet (issue #16 item 5)."""
    parts = [noun(info.get('rows', 0), "row"), f"column {info.get('column', '')!r}"]
    if info.get("phone_columns"):  # several numbers per contact (docs/contacts.md)
        parts[1] = "columns " + ", ".join(repr(c) for c in info["phone_columns"])
        contacts = info.get("contacts") or {}
        if info.get("contact_id"):
            parts.append(f"contact id {info['contact_id']!r}"
                         + (f" ranked by {info['number_rank']!r}" if info.get("number_rank")
                            else ""))
        if contacts:
            parts.insert(1, noun(contacts["contacts"], "contact"))
        if contacts.get("blank_ids"):
            parts.append(noun(contacts["blank_ids"], "row")
                         + " without a contact id (each its own contact)")
    elif info.get("other_phone_columns"):
        parts.append("other phone-like columns: "
                     + ", ".join(repr(c) for c in info["other_phone_columns"])
                     + " (give --column once per column, in priority order, or "
                     "--columns auto, to use them)")
    if info.get("encoding"):
        parts.append(f"encoding {info['encoding']}")
    if info.get("delimiter"):
        shown = {"\t": "TAB", " ": "space"}.get(info["delimiter"], info["delimiter"])
        parts.append(f"delimiter {shown!r}" if len(shown) == 1 else f"delimiter {shown}")
    if info.get("sheet"):
        parts.append(f"sheet {info['sheet']!r}")
    if info.get("title_row"):
        parts.append("title row above the header skipped (--skip-rows 0 to read it)")
    if info.get("header") is False:
        parts.append("no header row")
    if (info.get("header_row") or 1) > 1:  # rows as a spreadsheet numbers them
        above = noun(info.get("skipped_rows", 0), "row")
        parts.append(f"header on row {_n(info['header_row'])} ({above} above it skipped)"
                     if info.get("header") is not False else
                     f"contacts from row {_n(info['header_row'])} ({above} above skipped)")
    if info.get("short_rows"):
        parts.append(f"{noun(info['short_rows'], 'short row')} (missing cells read as empty)")
    if info.get("long_rows"):
        parts.append(f"{noun(info['long_rows'], 'long row')} (cells past the header kept in "
                     "column 'extra')")
    bad = (info.get("malformed_quotes") or {}).get("count")
    if bad:
        at = ", ".join(_n(n) for n in info["malformed_quotes"].get("lines", []))
        at += ", …" if bad > len(info["malformed_quotes"].get("lines", [])) else ""
        parts.append(f"{noun(bad, 'malformed quote')} "
                     f"(a quote never closed, line{'s' if bad > 1 else ''} {at}): "
                     "read as text, each line its own row")
    if info.get("footer_rows"):
        parts.append(f"{noun(info['footer_rows'], 'footer row')} (a total line: not a contact, "
                     "kept in the output with reason footer)")
    if info.get("formulas_without_value"):
        parts.append(f"{noun(info['formulas_without_value'], 'formula cell')} without a saved "
                     "result (read as missing: open and save the file in a spreadsheet "
                     "to compute them)")
    return plain_line(f"read {info.get('path', '')} ({info.get('format', '')}): "
                      + ", ".join(parts), 1000)


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def dry_run_lines(plan: dict[str, Any]) -> list[str]:
    """``--dry-run``: what the remote stages would ask, and no verdict."""
    lines = [read_line(plan["input"]),
             f"{noun(plan['mobiles'], 'distinct mobile')}, "
             f"{_n(plan['answered_offline'])} answered by the portability data"]
    for name, p in plan["providers"].items():
        up_to = p.get("bound") == "up to"
        line = (f"{name}: would ask {'up to ' if up_to else ''}{_n(p['to_ask'])} of "
                f"{noun(p['numbers'], 'number')} ({_n(p['cached'])} fresh in the cache): "
                f"{'up to ' if up_to else ''}{noun(p['requests'], 'request')}, "
                f"{_clock(p['seconds'])} at {p['rate']:.3g}/s")
        if "jobs" in p:
            line += (f"; {noun(p['jobs'], 'bulk job')} of up to "
                     f"{noun(p['job_size'], 'number')}, window {p['window']} "
                     f"({'open now' if p['window_open'] else 'closed now'})")
        if "batches" in p:
            line += f"; {noun(p['batches'], 'batchGet call')}"
        if up_to:
            line += ("; the count depends on answers not known yet (MNP look-ups to "
                     "make, a contact's earlier numbers, or --sample auto's stop)")
        lines.append(line)
    if auto := plan.get("sample_auto"):
        if auto["decided_without_drawing"]:
            lines.append(f"--sample auto: decided ({auto['decided_without_drawing']}) by "
                         f"the {noun(auto['exact_total'], 'exact message')} alone, nothing to draw")
        else:
            lines.append(
                f"--sample auto: {noun(auto['unresolved'], 'unresolved message')}, "
                f"{_n(auto['exact_total'])} exact ({_n(auto['exact_fail'])} failing); expected "
                f"numbers to draw: median {auto['median']}, 95th percentile {auto['p95']} "
                f"(decided within --sample-max {auto['sample_max']} in "
                f"{auto['decided_share']:.0%} of simulated runs, if the unresolved fail "
                "as often as the exact messages)")
    if not plan["providers"]:
        lines.append("no remote check asked (--capability, --mnp-url): a run makes no "
                     "request")
    lines.append("DRY RUN: no request was made, no verdict (exit 0)")
    return lines


def render_summary(s: Summary) -> RenderableType:
    from rich.table import Table  # not imported by a quiet check (~5 ms)

    messages = s.counts["messages"]
    status = Table(title="Messages by status", title_justify="left", expand=False)
    status.add_column("status")
    status.add_column("messages", justify="right")
    status.add_column("share", justify="right")
    status.add_column("reasons")
    for st in STATUSES:
        name = str(st)
        reasons = ", ".join(f"{r} {_n(c)}" for r, c in s.reasons.items()
                            if REASON_STATUS.get(r) == st)
        mark = " (error)" if st in ERROR_STATUSES else ""
        status.add_row(Text(name + mark, style=_STATUS_STYLE[name]), _n(s.counts[name]),
                       _pct(s.counts[name], messages), reasons)
    status.caption = (f"{noun(s.counts['rows'], 'row')} = {noun(messages, 'message')} + "
                      f"{noun(s.counts['duplicates'], 'duplicate row')}")
    if "contacts" in s.counts:  # one message per contact (docs/contacts.md)
        status.caption = contacts_line(s)

    ops = Table(title="Mobiles by serving operator", title_justify="left")
    ops.add_column("operator")
    ops.add_column("name")
    ops.add_column("numbers", justify="right")
    total_mobiles = sum(s.operators.values())
    for code, count in list(s.operators.items())[:12]:
        style = "bold" if code == s.target_operator else ""
        ops.add_row(Text(code, style=style), s.operator_names.get(code, ""), _n(count))
    if len(s.operators) > 12:
        rest = sum(list(s.operators.values())[12:])
        ops.add_row("…", f"{_n(len(s.operators) - 12)} more", _n(rest))
    if s.operator_sources:
        ops.caption = "source: " + ", ".join(f"{k} {_n(v)}"
                                             for k, v in s.operator_sources.items())
    ops.add_row("total", "", _n(total_mobiles))

    terr = Table(title="Numbers by territory", title_justify="left")
    terr.add_column("territory")
    terr.add_column("numbers", justify="right")
    for name, count in s.territories.items():
        terr.add_row(name, _n(count))

    # the decision first, in one plain sentence; then what to send, its words defined
    parts: list[RenderableType] = [Text(verdict_line(s), style=_VERDICT_STYLE[s.decision])]
    if s.send_plan:
        parts.append(Text("Send plan: " + send_plan_line(s), style="bold"))
    if s.routes:
        m = s.routes["messages"]
        parts.append(Text(f"Routes: bothub {_n(m.get('bothub', 0))}, "
                          f"{s.routes['other_route']} {_n(m.get('rbm', 0))} (send_rbm), "
                          f"sms {_n(m.get('sms', 0))}"
                          + (f", unverified {_n(m['unverified'])}" if m.get("unverified")
                             else "")
                          + f"; {s.routes['note']}"))
    if s.input:
        parts.append(Text(read_line(s.input)))
    parts += [status, ops, terr]
    att = s.attribution
    for label, st in att.get("sources", {}).items():
        # this source's own counts; the moves against the range holder are the
        # attribution's as a whole and get their own line below
        line = f"{label}: answered {_n(st['answered'])} of {noun(st['asked'], 'mobile')} asked"
        if st.get("conflicts"):
            line += f"; {noun(st['conflicts'], 'conflicting number')}"
        if st.get("unmapped"):
            line += (f"; {noun(st['unmapped'], 'operator value')} mapped to nothing, e.g. "
                     + ", ".join(st["unmapped_examples"][:3]))
        if st.get("errors"):
            line += f"; {noun(st['errors'], 'look-up')} failed"
        if label == "portability" and s.portability:
            pb = s.portability
            line += (f"; newest port date {pb['newest_date']}, {noun(pb['age_days'], 'day')} old"
                     if pb.get("newest_date") else "; age unknown (no port dates)")
        parts.append(Text(line))
    if att.get("sources") and "ported_in" in att:
        # the parts add up to the whole: 'ported out' alone read as the status table's
        # ported_out reason, which also counts ports between two other operators
        moved, port_in, port_out = (att.get("moved", 0), att["ported_in"],
                                    att.get("ported_out", 0))
        between = moved - port_in - port_out
        parts.append(Text(f"all sources: {noun(moved, 'mobile')} served by another operator "
                          f"than the range holder (ported in to {s.target_operator} "
                          f"{_n(port_in)}, ported out of {s.target_operator} "
                          f"{_n(port_out)}"
                          + (f", between other operators {_n(between)})" if between > 0
                             else ")")))
    if s.repaired:
        parts.append(Text("repaired cells: " + ", ".join(f"{k} {_n(v)}"
                                                         for k, v in s.repaired.items())))
    if s.api.get("providers"):
        api = s.api
        parts.append(Text(f"API: {noun(api['requests'], 'request')}, "
                          f"{noun(api['cache_hits'], 'cache hit')}, "
                          f"{noun(api['retries'], 'retry', 'retries')}, "
                          f"{_n(api['throttled'])} throttled (429)"))
    if s.interval and s.interval.get("method") == "sample auto":
        iv = s.interval
        parts.append(Text(
            f"--sample auto: bound at the stop {iv['error_ratio_low']:.2%} – "
            f"{iv['error_ratio_high']:.2%} ({threshold(confidence_of(iv), 'en')} each end, "
            "valid at any "
            f"stop; {_n(iv['observed'])} of {noun(iv['unresolved'], 'unresolved number')} "
            f"entered it, {_n(iv['drawn'])} resolved, cap {iv['sample_max']})"))
    elif s.interval:
        iv = s.interval
        parts.append(Text(
            f"estimate ({iv['method']}): error ratio {iv['error_ratio_estimate']:.2%}, "
            f"{threshold(confidence_of(iv), 'en')} interval [{iv['error_ratio_low']:.2%}, "
            f"{iv['error_ratio_high']:.2%}] from "
            f"{noun(iv['trials'], 'answer')} extrapolated to {noun(iv['extrapolated'], 'number')}; "
            "the gate uses the upper end"))
    pr = s.projection
    if pr:
        line = (f"campaign: {noun(pr['messages'], 'RCS message')} to send "
                f"(up to {_n(pr['messages_upper'])} with the unverified), "
                f"{duration_text(pr['send_seconds'])} at {pr['send_rate']:g}/s")
        if "cost" in pr:
            line += (f"; cost {pr['cost']:.2f} € (up to {pr['cost_upper']:.2f} €) at "
                     f"{pr['reply_rate']:.0%} replies")
        else:
            line += "; cost: give " + ", ".join(pr["missing"])
        parts.append(Text(line))
    if s.split_lists:
        parts.append(Text("lists: " + ", ".join(f"{k} {_n(v)}"
                                                for k, v in s.split_lists.items())))
    for w in s.warnings:  # may quote a server: one plain line each
        parts.append(Text("note: " + plain_line(w, 1000), style="yellow"))
    for w in s.stale:
        parts.append(Text("stale: " + plain_line(w, 1000), style="yellow"))
    parts.append(Text(
        f"whole base (diagnosis): error ratio {s.error_ratio:.2%} (upper bound "
        f"{s.error_ratio_upper:.2%}) vs threshold {threshold_text(s.threshold)}, target "
        f"operator {s.target_operator}; gate {s.gate_mode}: {s.gate_ratio:.2%}"))
    parts.append(Text(verdict_line(s), style=_VERDICT_STYLE[s.decision]))
    return Group(*parts)


def print_summary(s: Summary, console: Console) -> None:
    # lines are never wrapped (a log reader greps them); tables keep their layout
    console.print(render_summary(s), soft_wrap=True)


def format_terminal(s: Summary, width: int = 120) -> str:
    """The terminal summary as plain text (no colour), e.g. for a log file."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False,
                      force_terminal=False)
    console.print(render_summary(s))
    return buffer.getvalue()
