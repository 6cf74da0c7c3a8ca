"""A self-contained HTML report for people (``--html-report PATH``).

One file, no script, no font, no request to the network: charts are inline SVG drawn
here, styles are inline. It shows the verdict, the ratio against the threshold, the
statuses, operators and territories, the repaired and invalid reasons with examples
masked (``+33 6 12 ** ** 78``: the number's owner is not identifiable from the report),
the campaign projection, and, from the cron log (``--history``), the trend of the ratio
over past runs. It is a pure function of the summary: it computes nothing.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from rcsqualify.report.summary import Summary
from rcsqualify.report.wording import send_plan_line, verdict_line
from rcsqualify.verdict import ERROR_STATUSES, STATUSES

_COLORS = {"invalid": "#b91c1c", "not_mobile": "#dc2626", "other_operator": "#f97316",
           "not_rcs": "#f59e0b", "unverified": "#9ca3af", "reachable": "#16a34a"}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _bars(items: list[tuple[str, int, str]], width: int = 560) -> str:
    """A horizontal bar chart as inline SVG."""
    if not items:
        return "<p>none</p>"
    top = max(v for _, v, _ in items) or 1
    row, label_w = 26, 170
    height = row * len(items) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img">']
    for i, (label, value, color) in enumerate(items):
        y = 4 + i * row
        w = max(1, int((width - label_w - 70) * value / top)) if value else 0
        parts.append(f'<text x="0" y="{y + 17}" font-size="13">{_esc(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="18" '
                     f'fill="{color}"/><text x="{label_w + w + 6}" y="{y + 17}" '
                     f'font-size="13">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _pct(share: float) -> str:
    """A threshold as people wrote it: 15 %, 12.5 %, never rounded to a wrong figure."""
    return f"{share * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _trend(history: list[dict[str, Any]], threshold: float, width: int = 560,
           height: int = 160) -> str:
    points = [(h.get("at", ""), float(h["error_ratio"])) for h in history
              if "error_ratio" in h]
    if len(points) < 2:
        return "<p>Not enough past runs in the log for a trend yet.</p>"
    top = max(max(v for _, v in points), threshold) * 1.15 or 1.0
    step = (width - 40) / (len(points) - 1)

    def y(v: float) -> float:
        return height - 20 - (height - 30) * v / top

    path = " ".join(f"{'M' if i == 0 else 'L'}{20 + i * step:.1f},{y(v):.1f}"
                    for i, (_, v) in enumerate(points))
    dots = "".join(f'<circle cx="{20 + i * step:.1f}" cy="{y(v):.1f}" r="3" fill="#1d4ed8">'
                   f"<title>{_esc(at)}: {v:.2%}</title></circle>"
                   for i, (at, v) in enumerate(points))
    ty = y(threshold)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img"><line x1="20" x2="{width - 20}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'stroke="#b91c1c" stroke-dasharray="4"/><text x="{width - 150}" y="{ty - 4:.1f}" '
            f'font-size="12" fill="#b91c1c">threshold {_pct(threshold)}</text>'
            f'<path d="{path}" fill="none" stroke="#1d4ed8" stroke-width="2"/>{dots}</svg>'
            f"<p>{len(points)} runs, latest {points[-1][1]:.2%}.</p>")


def read_history(path: Path | None) -> list[dict[str, Any]]:
    """The runs of a cron log that have a ratio to draw. A line that is not a JSON
    object, or whose ``error_ratio`` is not a finite number (``null``: a run that stopped
    with exit 2), is skipped: a damaged log never costs the report."""
    if path is None or not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        ratio = entry.get("error_ratio") if isinstance(entry, dict) else None
        if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) \
                and math.isfinite(ratio):
            out.append(entry)
    return out


def format_html(s: Summary, history: list[dict[str, Any]] | None = None) -> str:
    messages = s.counts["messages"] or 1
    verdict = {"pass": ("PASS", "#16a34a"), "fail": ("FAIL", "#b91c1c"),
               "incomplete": ("INCOMPLETE", "#d97706")}[s.gate]
    statuses = [(str(st) + (" (error)" if st in ERROR_STATUSES else ""),
                 s.counts[str(st)], _COLORS[str(st)]) for st in STATUSES]
    operators = [(f"{code} {s.operator_names.get(code, '')}"[:24], n,
                  "#1d4ed8" if code == s.target_operator else "#6b7280")
                 for code, n in list(s.operators.items())[:12]]
    territories = [(name[:24], n, "#0f766e") for name, n in s.territories.items()]
    ex_rows = "".join(
        f"<tr><td>{_esc(reason)}</td><td>{s.reasons.get(reason, s.repaired.get(reason, 0))}"
        f"</td><td>{', '.join(_esc(e) for e in examples) or '-'}</td></tr>"
        for reason, examples in s.examples.items())
    pr = s.projection or {}
    cost = (f"{pr['cost']:.2f} € (up to {pr['cost_upper']:.2f} €)" if "cost" in pr
            else "missing " + ", ".join(pr.get("missing", [])))
    warnings = "".join(f"<li>{_esc(w)}</li>" for w in s.warnings)
    warnings += "".join(f"<li>stale: {_esc(w)}</li>" for w in s.stale)
    send_plan = ""
    if s.send_plan:
        sp = s.send_plan
        send_plan = (
            f'<h2>Send plan</h2><p id="send-plan"><b>{_esc(send_plan_line(s))}</b></p>'
            f"<p>send_rcs: <b id=\"send-rcs-messages\">{sp['send_rcs']['messages']}</b> "
            f"messages, error ratio <b>{sp['send_rcs']['error_ratio']:.2%}</b>; with the "
            f"unverified: {sp['with_unverified']['messages']} messages, up to "
            f"<b>{sp['with_unverified']['error_ratio_upper']:.2%}</b>.</p>")
    interval = ""
    if s.interval:
        iv = s.interval
        interval = (f"<p>Estimate ({_esc(iv['method'])}): 95 % interval "
                    f"<b>[{iv['error_ratio_low']:.2%}, {iv['error_ratio_high']:.2%}]</b>; "
                    "the gate uses the upper end.</p>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>rcsqualify report: {_esc(s.input.get('path', ''))}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#111}}
h1{{font-size:1.5em}}.verdict{{font-size:1.4em;font-weight:bold;padding:.6em;color:#fff;
background:{verdict[1]}}}table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;
padding:4px 8px;text-align:left}}.kpi{{display:inline-block;margin-right:2em}}
.kpi b{{font-size:1.6em;display:block}}</style></head><body>
<h1>RCS campaign qualification</h1>
<p>{_esc(s.input.get('path', ''))}: {s.counts['rows']} rows, column
<code>{_esc(s.input.get('column', ''))}</code>; target operator {_esc(s.target_operator)};
capability check: {_esc(s.capability)}. rcsqualify {_esc(s.tool['version'])}, ARCEP plan
{_esc(s.tool['arcep_plan_date'])}, phonenumbers {_esc(s.tool['phonenumbers'])}.</p>
{send_plan}
<div class="verdict" id="verdict">{verdict[0]}: error ratio
<span id="error-ratio">{s.error_ratio:.2%}</span> against a threshold of
<span id="threshold">{_pct(s.threshold)}</span></div>
<p id="verdict-line">{_esc(verdict_line(s))} (gate: {_esc(s.gate_mode)})</p>
<p><span class="kpi">messages<b id="messages">{s.counts['messages']}</b></span>
<span class="kpi">duplicate rows<b>{s.counts['duplicates']}</b></span>
<span class="kpi">reachable<b id="reachable">{s.counts['reachable']}</b></span>
<span class="kpi">upper bound<b id="error-ratio-upper">{s.error_ratio_upper:.2%}</b></span></p>
{interval}
<h2>Messages by status</h2>{_bars(statuses)}
<p>{sum(s.counts[str(x)] for x in ERROR_STATUSES)} of {messages} messages would fail.</p>
<h2>Mobiles by serving operator</h2>{_bars(operators)}
<h2>Numbers by territory</h2>{_bars(territories)}
<h2>Repaired and invalid cells (examples masked)</h2>
<table><tr><th>reason</th><th>count</th><th>examples</th></tr>{ex_rows}</table>
<h2>Campaign projection</h2>
<p>{pr.get('messages', 0)} RCS messages to send (up to {pr.get('messages_upper', 0)} with the
unverified), {pr.get('send_seconds', 0) or 0:.0f} s at {pr.get('send_rate', 30):g}
messages/s; cost: {cost}.</p>
<h2>Trend over past runs</h2>{_trend(history or [], s.threshold)}
<h2>Notes</h2><ul>{warnings}</ul>
</body></html>
"""
