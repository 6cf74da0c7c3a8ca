"""``learn``'s renderings: terminal lines, JSON, Markdown and HTML (issue #28 item 3).

Pure functions of a ``LearnResult`` (counts only: no number is ever in it). Every
outside text (file names, the scope's URL and id, the profile's name) was made safe
when the result was built, and is escaped again for HTML and Markdown.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rcsqualify.learn.apply import LearnResult


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _scope(r: LearnResult) -> str:
    s = r.scope
    return " ".join(p for p in (s.get("provider", ""), s.get("url", ""),
                                s.get("id", "")) if p)


def verdict(r: LearnResult) -> str:
    """One sentence: actual against projected (for the list sent when the check run's
    verdicts were given, else the whole send list's, said so)."""
    a = r.actual
    line = (f"actual error ratio {pct(a['error_ratio'])} ({a['not_rcs']} of {a['messages']} "
            "messages failed as not RCS)")
    q, p = r.projected_sent, r.projection
    if q is not None:
        line += (f"; projected for the list sent {pct(q['error_ratio'])}, up to "
                 f"{pct(q['error_ratio_upper'])} with the bound ({q['matched']} of "
                 f"{q['messages']} messages matched to the check run, {q['unmatched']} "
                 "unmatched)")
    elif p is not None:
        upper = (f", up to {pct(p['error_ratio_upper'])} with the unverified"
                 if p.get("error_ratio_upper") is not None else "")
        line += (f"; projected for the whole send list {pct(p['error_ratio'])} for "
                 f"{p['messages']} messages{upper}")
    if p is not None and p.get("threshold") is not None:
        line += f"; threshold {pct(p['threshold'])}"
    return line


def _rows(r: LearnResult) -> list[tuple[str, str, str]]:
    """The actual-against-projected table: (what, actual, projected)."""
    a, p, q = r.actual, r.projection, r.projected_sent
    if q is not None:
        rows = [("Messages sent", str(a["messages"]), str(q["messages"])),
                ("matched to the check run / unmatched", "",
                 f"{q['matched']} / {q['unmatched']}"),
                ("Failed (actual) / known errors (projected)", str(a["not_rcs"]),
                 str(q["known_errors"])),
                ("Error ratio (list sent)", pct(a["error_ratio"]), pct(q["error_ratio"])),
                ("With the bound (stale, unverified, unmatched)", "",
                 pct(q["error_ratio_upper"]))]
        if q.get("error_ratio_estimate") is not None:
            rows.append(("Estimate (sample)", "", pct(q["error_ratio_estimate"])))
        if p is not None:
            rows.append(("Whole send list (report)", "", pct(p["error_ratio"])))
        return rows
    rows = [("Messages sent", str(a["messages"]),
             f"{p['messages']} (whole send list)" if p else "n/a"),
            ("Error ratio (not RCS)", pct(a["error_ratio"]),
             f"{pct(p['error_ratio'])} (whole send list)" if p else "n/a")]
    if p and p.get("error_ratio_upper") is not None:
        rows.append(("With the unverified (bound)", "", pct(p["error_ratio_upper"])))
    return rows


def sent_warning(sent: dict[str, int]) -> str:
    """One line when the --sent file listed message ids more than once (counts only)."""
    if not sent.get("duplicate_ids"):
        return ""
    return (f"--sent lists {sent['duplicate_ids']} message ids more than once "
            f"({sent['conflicting_ids']} with another number): the first line of each "
            "id counts, the others are not messages")


def terminal_lines(r: LearnResult) -> list[str]:
    rd, t = r.read, r.tally
    ev = t["events"]
    lines = [
        f"learned from {rd['events']} events ({', '.join(r.files)}; outcome profile "
        f"{r.profile}) into the cache scope {_scope(r)}",
        f"events: {ev['reachable']} delivered/read, {ev['not_rcs']} not RCS, "
        f"{ev['failed']} other failures, {ev['other']} without conclusion; "
        f"{rd['bad']} unreadable lines" + (f" (first: {rd['first_bad']})"
                                            if rd["first_bad"] else "")
        + f", {t['invalid']} not valid French numbers, {t['no_number']} without a number"
        + (f", {t['unknown_ids']} message ids not in --sent" if t["unknown_ids"] else "")
        + (f" ({t['ids_without_sent']} carry only a message id: give --sent FILE mapping "
           "message ids to numbers)" if t.get("ids_without_sent") else "")
        + (f", {t['undated']} undated (dated at the file's time)" if t["undated"] else ""),
        f"numbers: {r.numbers}: {r.outcomes.get('reachable', 0)} reachable, "
        f"{r.outcomes.get('not_rcs', 0)} not RCS, {r.outcomes.get('failed', 0)} failed "
        f"(no conclusion), {r.outcomes.get('no_outcome', 0)} without outcome; "
        f"{r.contradictions} with contradictory events (the latest won)",
        f"cache: {r.learned.get('reachable', 0)} reachable and {r.learned.get('not_rcs', 0)} "
        f"not RCS learned (source delivery); {r.kept_newer} kept the newer answer the "
        "cache held",
    ]
    if r.sent is not None and (line := sent_warning(r.sent)):
        lines.append(line)
    was_yes = r.contradicted.get("yes", {})
    was_no = r.contradicted.get("no", {})
    if was_yes.get("not_rcs") or was_no.get("reachable"):
        lines.append(f"wrong statuses: {was_yes.get('not_rcs', 0)} numbers the cache held "
                     f"reachable failed as not RCS; {was_no.get('reachable', 0)} held not "
                     "RCS were delivered")
    if r.by_age:
        lines.append("messages not RCS by the age of the cached answer: " + "; ".join(
            f"{b['age']} {pct(b['error_ratio'])} of {b['messages']} messages"
            for b in r.by_age))
    q = r.projected_sent
    if q is not None:
        statuses = ", ".join(f"{k} {v}" for k, v in q["by_status"].items() if v)
        lines.append(
            f"projection for the list sent ({', '.join(q['checked_files'])}): "
            f"{q['messages']} messages, {q['matched']} matched to the check run "
            f"({statuses or 'none'}), {q['unmatched']} unmatched; {q['known_errors']} "
            f"known errors; in the bound: {q['stale']} on answers past their freshness, "
            f"{q['unverified']} unverified ({q['not_sampled']} not sampled"
            + (", bound from the sample's interval" if q.get("bound") else "")
            + f"), {q['unmatched']} unmatched")
    lines.append(verdict(r))
    if r.degraded:
        lines.append(f"the cache failed while writing ({r.degraded}): not everything "
                     "learned was kept")
    if r.interrupted:
        lines.append("interrupted: what was read before the interruption was learned")
    return lines


def to_json(r: LearnResult) -> str:
    return json.dumps(r.as_json(), indent=2, ensure_ascii=False) + "\n"


def _md(text: object) -> str:
    return "".join("\\" + c if c in "\\`*_[]<>|#" else c for c in str(text))


def to_markdown(r: LearnResult) -> str:
    out = ["# Campaign outcome: actual against projected", "",
           _md(verdict(r)), "", "| | actual | projected |", "|---|---:|---:|",
           *[f"| {_md(k)} | {_md(v)} | {_md(w)} |" for k, v, w in _rows(r)], ""]
    if r.by_age:
        out += ["| age of the cached answer | messages | not RCS | ratio |",
                "|---|---:|---:|---:|",
                *[f"| {_md(b['age'])} | {b['messages']} | {b['not_rcs']} | "
                  f"{pct(b['error_ratio'])} |" for b in r.by_age], ""]
    out += [f"- {_md(line)}" for line in terminal_lines(r)[:-1]]
    return "\n".join(out) + "\n"


def to_html(r: LearnResult) -> str:
    e = html.escape
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td><td>{e(w)}</td></tr>"
                   for k, v, w in _rows(r))
    ages = "".join(f"<tr><th>{e(b['age'])}</th><td>{b['messages']}</td>"
                   f"<td>{b['not_rcs']}</td><td>{e(pct(b['error_ratio']))}</td></tr>"
                   for b in r.by_age)
    notes = "".join(f"<li>{e(line)}</li>" for line in terminal_lines(r)[:-1])
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\"><title>rcsqualify learn</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;"
            "text-align:right}th{text-align:left}</style></head><body>"
            "<h1>Campaign outcome: actual against projected</h1>"
            f"<p>{e(verdict(r))}</p><table><tr><th></th><th>actual</th><th>projected</th>"
            f"</tr>{rows}</table>"
            + (f"<h2>Not RCS by the age of the cached answer</h2><table><tr><th>age</th>"
               f"<th>messages</th><th>not RCS</th><th>ratio</th></tr>{ages}</table>"
               if ages else "")
            + f"<h2>Details</h2><ul>{notes}</ul></body></html>\n")


def render(fmt: str, r: LearnResult) -> str:
    renderers: dict[str, Any] = {"json": to_json, "markdown": to_markdown, "html": to_html}
    text: str = renderers[fmt](r)
    return text


def append_history(path: Path, r: LearnResult) -> None:
    """One line for the run log the HTML report's trend reads (``report/html.py``): the
    campaign's actual error ratio and what was projected (counts only, no number)."""
    from rcsqualify import __version__
    from rcsqualify.files import cannot_write

    p = r.projection or {}
    line = {"at": datetime.fromtimestamp(r.generated, UTC).isoformat(timespec="seconds"),
            "version": __version__, "kind": "campaign", "profile": r.profile,
            "scope": r.scope.get("provider", ""), "messages": r.actual["messages"],
            "not_rcs": r.actual["not_rcs"],
            "actual_error_ratio": round(r.actual["error_ratio"], 6),
            "projected_error_ratio": p.get("error_ratio"),
            "projected_messages": p.get("messages")}
    q = r.projected_sent
    if q is not None:  # the check run's projection for the messages actually sent
        line.update(projected_sent_error_ratio=round(q["error_ratio"], 6),
                    projected_sent_error_ratio_upper=round(q["error_ratio_upper"], 6),
                    matched=q["matched"], unmatched=q["unmatched"])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    except OSError as exc:
        raise cannot_write(path, exc) from None
