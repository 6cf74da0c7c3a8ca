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
from rcsqualify.learn.wording import STATUS_FR, TEXT
from rcsqualify.report.l10n import number, percent


class Words:
    """The words and figures of one rendering: ``lang`` None is the terminal (English,
    figures as they always were); ``fr``/``en`` the reports (``report/l10n.py``)."""

    def __init__(self, lang: str | None) -> None:
        self.lang = lang
        self.t = TEXT[lang or "en"]

    def __call__(self, key: str, **values: object) -> str:
        return self.t[key].format(**values)

    def n(self, value: int) -> str:
        return str(value) if self.lang is None else number(value, self.lang)

    def p(self, share: float | None) -> str:
        if share is None:
            return self.t["na"]
        return f"{100 * share:.1f} %" if self.lang is None else percent(share, self.lang, 1)

    def status(self, name: str) -> str:
        return STATUS_FR.get(name, name) if self.lang == "fr" else name


TERMINAL = Words(None)


def pct(x: float | None) -> str:
    return TERMINAL.p(x)


def _scope(r: LearnResult) -> str:
    s = r.scope
    return " ".join(p for p in (s.get("provider", ""), s.get("url", ""),
                                s.get("id", "")) if p)


def verdict(r: LearnResult, w: Words = TERMINAL) -> str:
    """One sentence: actual against projected (for the list sent when the check run's
    verdicts were given, else the whole send list's, said so)."""
    a = r.actual
    line = w("v_actual", r=w.p(a["error_ratio"]), f=w.n(a["not_rcs"]), m=w.n(a["messages"]))
    q, p = r.projected_sent, r.projection
    if q is not None:
        line += w("v_sent", r=w.p(q["error_ratio"]), u=w.p(q["error_ratio_upper"]),
                  k=w.n(q["matched"]), m=w.n(q["messages"]), x=w.n(q["unmatched"]))
    elif p is not None:
        upper = (w("v_whole_upper", u=w.p(p["error_ratio_upper"]))
                 if p.get("error_ratio_upper") is not None else "")
        line += w("v_whole", r=w.p(p["error_ratio"]), m=w.n(p["messages"]), upper=upper)
    if p is not None and p.get("threshold") is not None:
        line += w("v_threshold", t=w.p(p["threshold"]))
    return line


def _rows(r: LearnResult, w: Words) -> list[tuple[str, str, str]]:
    """The actual-against-projected table: (what, actual, projected)."""
    a, p, q = r.actual, r.projection, r.projected_sent
    if q is not None:
        rows = [(w("r_sent"), w.n(a["messages"]), w.n(q["messages"])),
                (w("r_matched"), "", f"{w.n(q['matched'])} / {w.n(q['unmatched'])}"),
                (w("r_failed"), w.n(a["not_rcs"]), w.n(q["known_errors"])),
                (w("r_ratio_sent"), w.p(a["error_ratio"]), w.p(q["error_ratio"])),
                (w("r_bound"), "", w.p(q["error_ratio_upper"]))]
        if q.get("error_ratio_estimate") is not None:
            rows.append((w("r_estimate"), "", w.p(q["error_ratio_estimate"])))
        if p is not None:
            rows.append((w("r_whole_report"), "", w.p(p["error_ratio"])))
        return rows
    rows = [(w("r_sent"), w.n(a["messages"]),
             w("r_whole", v=w.n(p["messages"])) if p else w("na")),
            (w("r_ratio"), w.p(a["error_ratio"]),
             w("r_whole", v=w.p(p["error_ratio"])) if p else w("na"))]
    if p and p.get("error_ratio_upper") is not None:
        rows.append((w("r_unverified"), "", w.p(p["error_ratio_upper"])))
    return rows


def sent_warning(sent: dict[str, int], w: Words = TERMINAL) -> str:
    """One line when the --sent file listed message ids more than once (counts only)."""
    if not sent.get("duplicate_ids"):
        return ""
    return w("l_sent_dup", d=w.n(sent["duplicate_ids"]), c=w.n(sent["conflicting_ids"]))


def terminal_lines(r: LearnResult, w: Words = TERMINAL) -> list[str]:
    """What was read, learned and compared, the verdict next to last; in the reports'
    language when ``w`` is theirs (their "details")."""
    rd, t = r.read, r.tally
    ev = t["events"]
    events = (w("l_events", reach=w.n(ev["reachable"]), no=w.n(ev["not_rcs"]),
                failed=w.n(ev["failed"]), other=w.n(ev["other"]), bad=w.n(rd["bad"]))
              + (w("l_first_bad", where=rd["first_bad"]) if rd["first_bad"] else "")
              + w("l_invalid", invalid=w.n(t["invalid"]), none=w.n(t["no_number"]))
              + (w("l_unknown_ids", n=w.n(t["unknown_ids"])) if t["unknown_ids"] else "")
              + (w("l_ids_only", n=w.n(t["ids_without_sent"]))
                 if t.get("ids_without_sent") else "")
              + (w("l_undated", n=w.n(t["undated"])) if t["undated"] else ""))
    o = r.outcomes
    lines = [
        w("l_learned", e=w.n(rd["events"]), files=", ".join(r.files), p=r.profile,
          s=_scope(r)),
        events,
        w("l_numbers", n=w.n(r.numbers), reach=w.n(o.get("reachable", 0)),
          no=w.n(o.get("not_rcs", 0)), failed=w.n(o.get("failed", 0)),
          other=w.n(o.get("no_outcome", 0)), both=w.n(r.contradictions)),
        w("l_cache", reach=w.n(r.learned.get("reachable", 0)),
          no=w.n(r.learned.get("not_rcs", 0)), kept=w.n(r.kept_newer)),
    ]
    if r.sent is not None and (line := sent_warning(r.sent, w)):
        lines.append(line)
    was_yes = r.contradicted.get("yes", {})
    was_no = r.contradicted.get("no", {})
    if was_yes.get("not_rcs") or was_no.get("reachable"):
        lines.append(w("l_wrong", yes_no=w.n(was_yes.get("not_rcs", 0)),
                       no_yes=w.n(was_no.get("reachable", 0))))
    if r.by_age:
        lines.append(w("l_ages", rows="; ".join(
            w("l_age_row", age=w(b["age"]), r=w.p(b["error_ratio"]), m=w.n(b["messages"]))
            for b in r.by_age)))
    q = r.projected_sent
    if q is not None:
        statuses = ", ".join(f"{w.status(k)} {w.n(v)}" for k, v in q["by_status"].items()
                             if v)
        lines.append(w("l_projection", files=", ".join(q["checked_files"]),
                       m=w.n(q["messages"]), k=w.n(q["matched"]),
                       statuses=statuses or w("l_none"), x=w.n(q["unmatched"]),
                       known=w.n(q["known_errors"]), stale=w.n(q["stale"]),
                       unv=w.n(q["unverified"]), ns=w.n(q["not_sampled"]),
                       how=w("l_by_interval") if q.get("bound") else ""))
        if q["messages"] and not q["matched"]:
            # --checked of another list (another campaign, another base): its projection
            # is the bound alone, and says nothing of this campaign
            lines.append(w("l_no_match", m=w.n(q["messages"]),
                           files=", ".join(q["checked_files"])))
    lines.append(verdict(r, w))
    if r.degraded:
        lines.append(w("l_degraded", why=r.degraded))
    if r.interrupted:
        lines.append(w("l_interrupted"))
    return lines


def to_json(r: LearnResult, lang: str = "en") -> str:
    return json.dumps(r.as_json(), indent=2, ensure_ascii=False) + "\n"


def _md(text: object) -> str:
    return "".join("\\" + c if c in "\\`*_[]<>|#" else c for c in str(text))


def _details(r: LearnResult, w: Words) -> list[str]:
    """The detail lines of a report: every line but the verdict (said above them)."""
    verdict_line = verdict(r, w)
    return [line for line in terminal_lines(r, w) if line != verdict_line]


def to_markdown(r: LearnResult, lang: str = "en") -> str:
    w = Words(lang)
    out = [f"# {_md(w('title'))}", "", _md(verdict(r, w)), "",
           f"| | {w('actual')} | {w('projected')} |", "|---|---:|---:|",
           *[f"| {_md(k)} | {_md(v)} | {_md(x)} |" for k, v, x in _rows(r, w)], ""]
    if r.by_age:
        out += [f"| {_md(w('age'))} | {w('messages')} | {w('not_rcs')} | {w('ratio')} |",
                "|---|---:|---:|---:|",
                *[f"| {_md(w(b['age']))} | {w.n(b['messages'])} | {w.n(b['not_rcs'])} | "
                  f"{_md(w.p(b['error_ratio']))} |" for b in r.by_age], ""]
    out += [f"- {_md(line)}" for line in _details(r, w)]
    return "\n".join(out) + "\n"


def to_html(r: LearnResult, lang: str = "en") -> str:
    e = html.escape
    w = Words(lang)
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td><td>{e(x)}</td></tr>"
                   for k, v, x in _rows(r, w))
    ages = "".join(f"<tr><th>{e(w(b['age']))}</th><td>{e(w.n(b['messages']))}</td>"
                   f"<td>{e(w.n(b['not_rcs']))}</td><td>{e(w.p(b['error_ratio']))}</td></tr>"
                   for b in r.by_age)
    notes = "".join(f"<li>{e(line)}</li>" for line in _details(r, w))
    return (f"<!doctype html><html lang=\"{e(lang)}\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\"><title>rcsqualify learn</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;"
            "text-align:right}th{text-align:left}</style></head><body>"
            f"<h1>{e(w('title'))}</h1>"
            f"<p>{e(verdict(r, w))}</p><table><tr><th></th><th>{e(w('actual'))}</th>"
            f"<th>{e(w('projected'))}</th></tr>{rows}</table>"
            + (f"<h2>{e(w('ages_h'))}</h2><table><tr><th>{e(w('age'))}</th>"
               f"<th>{e(w('messages'))}</th><th>{e(w('not_rcs'))}</th>"
               f"<th>{e(w('ratio'))}</th></tr>{ages}</table>" if ages else "")
            + f"<h2>{e(w('details_h'))}</h2><ul>{notes}</ul></body></html>\n")


def render(fmt: str, r: LearnResult, lang: str = "en") -> str:
    """``fmt``'s text; HTML and Markdown in ``lang`` (``ci.report_lang``: check's rule),
    JSON keys and codes as they are."""
    renderers: dict[str, Any] = {"json": to_json, "markdown": to_markdown, "html": to_html}
    text: str = renderers[fmt](r, lang)
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
