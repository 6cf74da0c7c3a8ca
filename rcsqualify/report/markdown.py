"""The Markdown report (``--markdown-report PATH``; GitHub's step summary in CI).

A short page for where CI users look: the verdict, the send plan, the ratio against
the threshold, messages by status, mobiles by operator, and the notes, in French or
English (``lang``, chosen as the HTML report's: ``report/l10n.py``), every figure by that
language's rules and the run's time in Paris. The English page keeps the terminal's
verdict sentence and the status codes; the French one says the HTML report's sentences
and human labels. Pure: it formats the summary and computes nothing. Text from the
input or a server (file and column names, operator names, notes) goes through
``markdown_text``: no raw HTML, no table break, no link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from rcsqualify.notes import in_language
from rcsqualify.report.escape import markdown_text as md
from rcsqualify.report.html import REASON_LABELS, STATUS_LABELS, TEXT, verdict_sentences
from rcsqualify.report.l10n import day, number, percent, threshold, when
from rcsqualify.report.summary import Summary, confidence_of
from rcsqualify.report.wording import (
    contacts_line,
    phone_columns_text,
    send_plan_line,
    verdict_line,
)
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


#: the page's fixed words; English keeps the terminal's verdict wording and the status
#: codes CI users grep for, French says everything in French (issue #26 item 6)
_WORDS: dict[str, dict[str, str]] = {
    "en": {"colon": ":", "plan_h": "Send plan", "list": "list", "messages": "messages",
           "error_ratio": "error ratio", "with_unverified": "send\\_rcs + unverified",
           "send_rcs": "send\\_rcs", "up_to": "up to {r}",
           "decision": "decision (gate: {g})", "low": "known to fail (low end)",
           "high": "at most (high end: every unresolved message a failure)",
           "gated": "gated ratio (gate: {g})", "threshold": "threshold",
           "whole": "error ratio, whole base (diagnosis)",
           "upper": "upper bound (unverified counted as failures)",
           "interval": "{c} interval ({m})", "ratio_h": "Ratio against the threshold",
           "ratio": "ratio", "status_h": "Messages by status", "status": "status",
           "share": "share", "reasons": "reasons", "error": " (error)",
           "rows": "{r} rows = {m} messages + {d} duplicate rows.",
           "ops_h": "Mobiles by serving operator", "operator": "operator", "name": "name",
           "numbers": "numbers", "target": " (target)", "more": "{n} more",
           "notes_h": "Notes", "stale": "stale",
           "footer": "{path}: {rows} rows, column {column}; target operator {op}; "
                     "capability {cap}; rcsqualify {v}, ARCEP plan {plan}; run of {at}"},
    "fr": {"colon": "\u00a0:", "plan_h": "Ce qu'il faut envoyer", "list": "liste",
           "messages": "messages", "error_ratio": "taux d'erreur",
           "with_unverified": "joignables + non vérifiés", "send_rcs": "joignables en RCS",
           "up_to": "jusqu'à {r}", "decision": "décision (règle : {g})",
           "low": "échecs connus (borne basse)",
           "high": "au plus (borne haute : chaque message non vérifié en échec)",
           "gated": "taux retenu par la règle ({g})", "threshold": "seuil",
           "whole": "taux d'erreur de toute la base (diagnostic)",
           "upper": "pire cas (non vérifiés comptés en échec)",
           "interval": "intervalle à {c} ({m})", "ratio_h": "Taux face au seuil",
           "ratio": "taux", "status_h": "Messages par statut", "status": "statut",
           "share": "part", "reasons": "motifs", "error": " (erreur)",
           "rows": "{r} lignes = {m} messages + {d} lignes en double.",
           "ops_h": "Mobiles par opérateur", "operator": "opérateur", "name": "nom",
           "numbers": "numéros", "target": " (visé)", "more": "{n} autres",
           "notes_h": "Notes", "stale": "données anciennes",
           "footer": "{path} : {rows} lignes, colonne {column} ; opérateur visé {op} ; "
                     "vérification de capacité {cap} ; rcsqualify {v}, plan ARCEP du "
                     "{plan} ; exécution du {at}"},
}
_GATES = {"fr": {"decide": "trancher", "known": "connus seulement", "upper": "pire cas"},
          "en": {}}
#: how an interval was drawn (``Summary.interval["method"]``), in words
_METHODS = {"fr": {"sample": "échantillon fixe", "sample auto": "échantillonnage automatique",
                   "batchGet random sample": "échantillon aléatoire de RBM"},
            "en": {}}
_DECISIONS = {"fr": {"pass": "conforme", "fail": "non conforme", "undecided": "non tranché"},
              "en": {}}


def _share(part: int, whole: int, lang: str) -> str:
    return percent(part / whole, lang, 1) if whole else "-"


def _verdict(s: Summary, lang: str) -> tuple[str, str]:
    """(the decision's word, the sentence): the terminal's line in English, the HTML
    report's sentences (tags dropped) in French."""
    if lang == "en":
        word, _, rest = verdict_line(s).partition(": ")
        return word, rest
    return TEXT[lang][f"verdict_{s.decision}"], " ".join(verdict_sentences(s, lang))


def format_markdown(s: Summary, *, lang: str = "en", generated_at: datetime | None = None
                    ) -> str:
    """The page in ``lang`` (fr or en), its figures by that language's rules and the
    run's time (``generated_at``, default now) in Paris."""
    w = _WORDS[lang]
    gate = _GATES[lang].get(s.gate_mode, s.gate_mode)
    word, rest = _verdict(s, lang)
    icon = {"pass": "✅", "fail": "❌", "undecided": "⚠️"}[s.decision]
    messages = s.counts["messages"]
    out = [f"## {icon} rcsqualify{w['colon']} {word}", "",
           f"**{word}**{w['colon']} {md(rest, 1000)}", ""]

    if s.send_plan:
        plan = s.send_plan
        send, more = plan["send_rcs"], plan["with_unverified"]
        if lang == "en":
            line = send_plan_line(s)
        else:
            added = more["messages"] - send["messages"]
            line = re.sub(r"</?b>", "", TEXT[lang]["plan"].format(
                n=number(send["messages"], lang), r=percent(send["error_ratio"], lang)))
            line += (TEXT[lang]["plan_more"].format(
                m=number(added, lang), u=percent(more["error_ratio_upper"], lang))
                if added else TEXT[lang]["plan_none"])
        table = _table((w["list"], w["messages"], w["error_ratio"]), "lrr", [
            (w["send_rcs"], number(send["messages"], lang),
             percent(send["error_ratio"], lang)),
            (w["with_unverified"], number(more["messages"], lang),
             w["up_to"].format(r=percent(more["error_ratio_upper"], lang)))])
        out += [f"### {w['plan_h']}", "", md(line[:1].upper() + line[1:]), "", table, ""]

    ratio_rows: list[tuple[str, str]] = [
        (w["decision"].format(g=md(gate)),
         f"**{md(_DECISIONS[lang].get(s.decision, s.decision))}**"),
        (w["low"], percent(s.bounds.get("low", s.error_ratio), lang)),
        (w["high"], percent(s.bounds.get("high", s.error_ratio_upper), lang)),
        (w["gated"].format(g=md(gate)), f"**{percent(s.gate_ratio, lang)}**"),
        (w["threshold"], threshold(s.threshold, lang)),
        (w["whole"], percent(s.error_ratio, lang)),
        (w["upper"], percent(s.error_ratio_upper, lang)),
    ]
    if s.interval:
        iv = s.interval
        method = str(iv.get("method", "sample"))
        ratio_rows.append((w["interval"].format(c=threshold(confidence_of(iv), lang),
                                                m=md(_METHODS[lang].get(method, method))),
                           f"{percent(iv['error_ratio_low'], lang)} – "
                           f"{percent(iv['error_ratio_high'], lang)}"))
    out += [f"### {w['ratio_h']}", "", _table(("", w["ratio"]), "lr", ratio_rows), ""]

    status_rows = []
    for st in STATUSES:
        name = str(st)
        reasons = ", ".join(
            f"{md(r if lang == 'en' else REASON_LABELS[lang].get(r, r))} {number(c, lang)}"
            for r, c in s.reasons.items() if REASON_STATUS.get(r) == st)
        label = md(name if lang == "en" else STATUS_LABELS[lang][name]) + (
            w["error"] if st in ERROR_STATUSES else "")
        status_rows.append((label, number(s.counts[name], lang),
                            _share(s.counts[name], messages, lang), reasons or "-"))
    out += [f"### {w['status_h']}", "",
            _table((w["status"], w["messages"], w["share"], w["reasons"]), "lrrl",
                   status_rows), "",
            contacts_line(s, lang) or w["rows"].format(
                r=number(s.counts["rows"], lang), m=number(messages, lang),
                d=number(s.counts["duplicates"], lang)), ""]

    if s.operators:
        items = list(s.operators.items())
        op_rows: list[tuple[str, str, object]] = []
        for code, count in items[:_TOP_OPERATORS]:
            shown = md(code)
            if code == s.target_operator:
                shown = f"**{shown}**{w['target']}"
            op_rows.append((shown, md(s.operator_names.get(code, "")), number(count, lang)))
        if len(items) > _TOP_OPERATORS:
            op_rows.append(("…", w["more"].format(n=number(len(items) - _TOP_OPERATORS,
                                                           lang)),
                            number(sum(c for _, c in items[_TOP_OPERATORS:]), lang)))
        out += [f"### {w['ops_h']}", "",
                _table((w["operator"], w["name"], w["numbers"]), "llr", op_rows), ""]

    notes = [md(in_language(n, lang), 1000) for n in s.warnings] + [
        f"{w['stale']}{w['colon']} {md(in_language(n, lang), 1000)}" for n in s.stale]
    if notes:
        out += [f"### {w['notes_h']}", "", *(f"- {n}" for n in notes), ""]

    info = s.input
    out.append("<sub>" + w["footer"].format(
        path=md(info.get("path", "")), rows=number(s.counts["rows"], lang),
        column=md(phone_columns_text(info)), op=md(s.target_operator),
        cap=md(s.capability) if s.capability != "none" else TEXT[lang]["no_check"],
        v=md(s.tool.get("version", "")), plan=md(day(s.tool.get("arcep_plan_date", ""), lang)),
        at=when(generated_at or datetime.now(UTC), lang)) + "</sub>")
    return "\n".join(out) + "\n"
