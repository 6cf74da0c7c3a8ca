"""A self-contained HTML report for managers (``--html-report PATH``; issue #16 item 9).

One file, no script, no font, no request to the network: charts are inline SVG and
CSS drawn here. In French or English (``lang``; every sentence exists in both), it
leads with what to do (the send plan), then the decision, a gauge of the ratio against
the threshold, messages by status with human labels, mobiles by operator *name*,
territories, repaired cells apart from invalid numbers (examples masked and
de-duplicated: ``+33 6 12 ** ** 78``), the campaign projection, and the trend of the
ratio over past runs *including this one*, each point dated.

Layout rules that a headless-Chromium test checks in both languages: every label
wraps (``overflow-wrap: anywhere``) or is cut with an ellipsis and its full text in a
``title``; no label is ever wider than its box. The prose names no command-line flag:
how to get more (prices, the trend, the stricter gate) is in a "how to" footnote.

It is a pure function of the summary: it computes nothing the summary does not hold.
"""

from __future__ import annotations

import html
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rcsqualify.defaults import LANGS
from rcsqualify.notes import in_language
from rcsqualify.report.escape import plain_line
from rcsqualify.report.l10n import (
    counted,
    day,
    decimal,
    default_lang,
    money,
    number,
    percent,
    short_when,
    when,
)
from rcsqualify.report.l10n import threshold as threshold_text
from rcsqualify.report.summary import Summary, confidence_of
from rcsqualify.report.wording import (
    approx_duration,
    contacts_line,
    duration_text,
    phone_columns_text,
)
from rcsqualify.verdict import ERROR_STATUSES, REASON_STATUS, STATUSES, Status

__all__ = ["LANGS", "default_lang", "format_html", "read_history"]

_COLORS = {"invalid": "#b91c1c", "not_mobile": "#dc2626", "other_operator": "#f97316",
           "not_rcs": "#f59e0b", "unverified": "#9ca3af", "reachable": "#16a34a"}
_VERDICT_COLORS = {"pass": "#15803d", "fail": "#b91c1c", "undecided": "#b45309"}

STATUS_LABELS: dict[str, dict[str, str]] = {
    "en": {"invalid": "Invalid number", "not_mobile": "Not a mobile",
           "other_operator": "Served by another operator", "not_rcs": "No RCS",
           "unverified": "Not verified", "reachable": "Reachable in RCS"},
    "fr": {"invalid": "Numéro invalide", "not_mobile": "Pas un mobile",
           "other_operator": "Servi par un autre opérateur", "not_rcs": "Sans RCS",
           "unverified": "Non vérifié", "reachable": "Joignable en RCS"},
}
REASON_LABELS: dict[str, dict[str, str]] = {
    "en": {"empty": "empty cell", "not_a_number": "not a number",
           "excel_scientific": "spreadsheet scientific notation (digits lost)",
           "multiple_numbers": "several numbers in one cell", "too_short": "too short",
           "too_long": "too long", "not_french": "not a French number",
           "unallocated": "number not allocated by ARCEP",
           "unassigned": "held by no subscriber (HLR)", "fixed_line": "fixed line",
           "voip": "VoIP (09)", "special": "special number (08…)",
           "m2m": "machine-to-machine (07 00)", "ported_out": "ported to another operator",
           "range_holder": "another operator's range",
           "leading_zero": "leading 0 restored", "overseas_code": "overseas code applied",
           "capability_negative": "not RCS (capability answer)",
           "no_chatbot_feature": "RCS without chatbot support",
           "not_checked": "not checked (no capability check)",
           "capability_error": "capability check failed",
           "not_sampled": "left out of the sample",
           "batch_not_listed": "missing from the RBM batch answer",
           "operator_error": "operator look-up failed",
           "capability_positive": "RCS-reachable (capability answer)"},
    "fr": {"empty": "cellule vide", "not_a_number": "pas un numéro",
           "excel_scientific": "notation scientifique du tableur (chiffres perdus)",
           "multiple_numbers": "plusieurs numéros dans la cellule",
           "too_short": "trop court", "too_long": "trop long",
           "not_french": "numéro non français",
           "unallocated": "numéro non attribué par l'ARCEP",
           "unassigned": "sans abonné (HLR)", "fixed_line": "fixe",
           "voip": "VoIP (09)", "special": "numéro spécial (08…)",
           "m2m": "machine à machine (07 00)", "ported_out": "porté chez un autre opérateur",
           "range_holder": "tranche d'un autre opérateur",
           "leading_zero": "0 initial rétabli",
           "overseas_code": "indicatif d'outre-mer appliqué",
           "capability_negative": "sans RCS (réponse de la vérification)",
           "no_chatbot_feature": "RCS sans prise en charge des chatbots",
           "not_checked": "non vérifié (aucune vérification RCS)",
           "capability_error": "échec de la vérification RCS",
           "not_sampled": "hors de l'échantillon",
           "batch_not_listed": "absent de la réponse groupée de RBM",
           "operator_error": "échec de la recherche de l'opérateur",
           "capability_positive": "joignable en RCS (réponse de la vérification)"},
}
TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "RCS campaign qualification", "colon": ":",
        "run": "Run of {date} on {input}: {rows} rows, phone column {column}.",
        "plan_h": "What to send",
        "plan": "<b>send to the RCS-reachable numbers</b> ({n} messages): projected error "
                "ratio {r}",
        "plan_more": "; adding the unverified ({m} more): up to {u} if they all fail.",
        "plan_none": "; no unverified message to add.",
        "verdict_pass": "PASS", "verdict_fail": "FAIL", "verdict_undecided": "UNDECIDED",
        "decision_h": "Decision on the whole base",
        "ratio": "error ratio {r} against a threshold of {t}",
        "s_pass": "The projected error ratio of the base, {g}, is under Orange's {t} "
                  "threshold.",
        "s_fail": "The projected error ratio of the base, {g}, is over Orange's {t} "
                  "threshold: send only to the RCS-reachable numbers, or clean the base "
                  "first.",
        "s_undecided": "Between {lo} and {hi} of the messages would fail ({n} not "
                       "checked): Orange's {t} threshold lies in between, so the gate "
                       "cannot decide yet.",
        "s_incomplete": "Some checks could not be done; the next run finishes them "
                        "(answers so far are cached).",
        "ratio_range": "error ratio between {lo} and {hi} against a threshold of {t}",
        "next_h": "Next step: ",
        "step_check": "check them: {o} ({n} look-ups, {d} at {r}/s)",
        "step_retry": "re-run to finish ({k}): {n} look-ups, {d} at {r}/s",
        "step_sample_auto": "decide with {o} (about {n} look-ups, {d} at {r}/s)",
        "step_bulk": "tonight's bulk job ({o})",
        "kept": "answers so far are cached",
        "not_kept": "this run's answers are not in the cache: a re-run asks them again",
        "or": ", or ",
        "s_upper": "The decision counts every unverified message as a failure (the "
                   "worst case).",
        "s_unverified": "{n} of {m} messages ({p}) were not verified: the ratio could "
                        "reach {u} if they all fail.",
        "s_offline": "{n} of {m} messages ({p}) were not checked for RCS (no capability "
                     "check): the ratio could reach {u} if they all fail.",
        "interval": "Estimated from a sample: {c} interval {lo} to {hi}; the decision "
                    "uses the upper end.",
        "gauge_ratio": "this run: {r}", "gauge_upper": "worst case: {u}",
        "gauge_threshold": "threshold: {t}",
        "k_messages": "messages", "k_duplicates": "duplicate rows",
        "k_reachable": "reachable in RCS", "k_upper": "worst case",
        "status_h": "Messages by status", "errors_of": "{e} of {m} messages would fail.",
        "(error)": "counts as an error",
        "ops_h": "Mobiles by serving operator", "terr_h": "Numbers by territory",
        "target": "target operator", "more": "{n} more operators",
        "repaired_h": "Repaired cells", "invalid_h": "Invalid and non-mobile numbers",
        "reason": "reason", "count": "count", "examples": "examples (masked)",
        "none": "none",
        "proj_h": "Campaign projection",
        "proj": "{n} RCS messages to send (up to {u} with the unverified), {d} at {rate} "
                "messages per second.",
        "cost": "Cost: {c} (up to {cu}) at {rr} of messages answered.",
        "no_cost": "Cost: prices not given (see how to, below).",
        "trend_h": "Trend of the error ratio",
        "trend_one": "Only this run so far: the trend appears from the second run.",
        "trend": "{n} runs before this one; this run: {r}.",
        "trend_single": "One run before this one; this run: {r}.",
        "trend_campaign": "campaign",
        "trend_projected": "projected for the list sent {r} (up to {u})",
        "trend_campaigns": "Orange squares: the actual error ratio of {n} "
                           "(rcsqualify learn).",
        "campaigns": ("sent campaign", "sent campaigns"),
        "movement": "Since the previous run: {added}, {removed}",
        "added": ("number added", "numbers added"), "removed": ("removed", "removed"),
        "movement_none": "Since the previous run: no number added or removed, no status "
                         "changed.",
        "notes_h": "Technical notes", "stale": "stale",
        "howto_h": "How to",
        "howto": [
            "Send only the reachable numbers: write the lists with "
            "<code>--split-dir DIR</code> (send_rcs.csv, not_rcs.csv…).",
            "Count an undecided gate as a failure: <code>--gate upper</code>.",
            "Draw the trend: <code>--history LOG</code> (the nightly "
            "<code>rcsqualify refresh</code> passes its <code>--log-file</code>).",
            "Costs: <code>--price-message</code>, <code>--price-conversation</code>, "
            "<code>--reply-rate</code>.",
            "This report in French: <code>--lang fr</code>.",
        ],
        "footer": "rcsqualify {v}, ARCEP numbering plan of {plan}, phonenumbers {pn}; "
                  "target operator {op}; capability check: {cap}.",
        "no_check": "none",
        "runs": "runs",
    },
    "fr": {
        "title": "Qualification de campagne RCS", "colon": "\u00a0:",
        "run": "Exécution du {date} sur {input} : {rows} lignes, colonne du téléphone "
               "{column}.",
        "plan_h": "Ce qu'il faut envoyer",
        "plan": "<b>envoyer aux numéros joignables en RCS</b> ({n} messages) : taux "
                "d'erreur projeté {r}",
        "plan_more": " ; en ajoutant les non vérifiés ({m} de plus) : jusqu'à {u} s'ils "
                     "échouent tous.",
        "plan_none": " ; aucun message non vérifié à ajouter.",
        "verdict_pass": "CONFORME", "verdict_fail": "NON CONFORME",
        "verdict_undecided": "NON TRANCHÉ",
        "decision_h": "Décision sur toute la base",
        "ratio": "taux d'erreur {r} pour un seuil de {t}",
        "s_pass": "Le taux d'erreur projeté de la base, {g}, est sous le seuil de {t} "
                  "fixé par Orange.",
        "s_fail": "Le taux d'erreur projeté de la base, {g}, dépasse le seuil de {t} "
                  "fixé par Orange : n'envoyez qu'aux numéros joignables en RCS, ou "
                  "nettoyez la base d'abord.",
        "s_undecided": "Entre {lo} et {hi} des messages échoueraient ({n} non "
                       "vérifiés) : le seuil de {t} fixé par Orange est entre les deux, "
                       "la décision reste à prendre.",
        "s_incomplete": "Certaines vérifications n'ont pas pu être faites ; la prochaine "
                        "exécution les termine (les réponses obtenues sont en cache).",
        "ratio_range": "taux d'erreur entre {lo} et {hi} pour un seuil de {t}",
        "next_h": "Étape suivante : ",
        "step_check": "les vérifier : {o} ({n} interrogations, {d} à {r}/s)",
        "step_retry": "relancer pour terminer ({k}) : {n} interrogations, {d} à {r}/s",
        "step_sample_auto": "décider avec {o} (environ {n} interrogations, {d} à {r}/s)",
        "step_bulk": "le traitement de masse de cette nuit ({o})",
        "kept": "les réponses obtenues sont en cache",
        "not_kept": "les réponses de cette exécution ne sont pas en cache : une nouvelle "
                    "exécution les redemande",
        "or": ", ou ",
        "s_upper": "La décision compte chaque message non vérifié comme un échec (le "
                   "pire cas).",
        "s_unverified": "{n} messages sur {m} ({p}) n'ont pas été vérifiés : le taux "
                        "pourrait atteindre {u} s'ils échouaient tous.",
        "s_offline": "{n} messages sur {m} ({p}) n'ont pas été vérifiés pour le RCS "
                     "(aucune vérification de capacité) : le taux pourrait atteindre "
                     "{u} s'ils échouaient tous.",
        "interval": "Estimation sur un échantillon : intervalle à {c} de {lo} à {hi} ; "
                    "la décision retient la borne haute.",
        "gauge_ratio": "cette exécution : {r}", "gauge_upper": "pire cas : {u}",
        "gauge_threshold": "seuil : {t}",
        "k_messages": "messages", "k_duplicates": "lignes en double",
        "k_reachable": "joignables en RCS", "k_upper": "pire cas",
        "status_h": "Messages par statut",
        "errors_of": "{e} messages sur {m} échoueraient.",
        "(error)": "compté comme une erreur",
        "ops_h": "Mobiles par opérateur", "terr_h": "Numéros par territoire",
        "target": "opérateur visé", "more": "{n} autres opérateurs",
        "repaired_h": "Cellules réparées", "invalid_h": "Numéros invalides et non mobiles",
        "reason": "motif", "count": "nombre", "examples": "exemples (masqués)",
        "none": "aucun",
        "proj_h": "Projection de la campagne",
        "proj": "{n} messages RCS à envoyer (jusqu'à {u} avec les non vérifiés), {d} à "
                "{rate} messages par seconde.",
        "cost": "Coût : {c} (jusqu'à {cu}) avec {rr} de messages suivis d'une réponse.",
        "no_cost": "Coût : prix non fournis (voir le mode d'emploi ci-dessous).",
        "trend_h": "Évolution du taux d'erreur",
        "trend_one": "Seulement cette exécution pour l'instant : l'évolution apparaît "
                     "dès la deuxième.",
        "trend": "{n} exécutions avant celle-ci ; cette exécution : {r}.",
        "trend_single": "Une exécution avant celle-ci ; cette exécution : {r}.",
        "trend_campaign": "campagne",
        "trend_projected": "projeté pour la liste envoyée {r} (jusqu'à {u})",
        "trend_campaigns": "Carrés orange : le taux d'erreur réel de {n} "
                           "(rcsqualify learn).",
        "campaigns": ("campagne envoyée", "campagnes envoyées"),
        "movement": "Depuis l'exécution précédente : {added}, {removed}",
        "added": ("numéro ajouté", "numéros ajoutés"), "removed": ("retiré", "retirés"),
        "movement_none": "Depuis l'exécution précédente : aucun numéro ajouté ni retiré, "
                         "aucun statut changé.",
        "notes_h": "Notes techniques", "stale": "données anciennes",
        "howto_h": "Mode d'emploi",
        "howto": [
            "N'envoyer qu'aux numéros joignables : écrire les listes avec "
            "<code>--split-dir DOSSIER</code> (send_rcs.csv, not_rcs.csv…).",
            "Compter une décision non tranchée comme un échec : "
            "<code>--gate upper</code>.",
            "Tracer l'évolution : <code>--history JOURNAL</code> (le "
            "<code>rcsqualify refresh</code> de chaque nuit passe son "
            "<code>--log-file</code>).",
            "Coûts : <code>--price-message</code>, <code>--price-conversation</code>, "
            "<code>--reply-rate</code>.",
            "Ce rapport en anglais : <code>--lang en</code>.",
        ],
        "footer": "rcsqualify {v}, plan de numérotation ARCEP du {plan}, phonenumbers "
                  "{pn} ; opérateur visé {op} ; vérification de capacité : {cap}.",
        "no_check": "aucune",
        "runs": "exécutions",
    },
}


def _esc(value: Any, limit: int = 300) -> str:
    """Text from the input or a server, as one line of escaped HTML."""
    return html.escape(plain_line(value, limit), quote=True)


def verdict_sentences(s: Summary, lang: str) -> list[str]:
    """The decision in ``lang``'s sentences (the HTML page's, and the French Markdown's):
    the decision with its bounds, then what was incomplete, the strict gate, and how many
    messages were not checked."""
    t = TEXT[lang]
    unverified, messages = s.counts.get("unverified", 0), s.counts.get("messages", 0)
    low = _ratio(s.bounds.get("low", s.error_ratio), lang)
    high = _ratio(s.bounds.get("high", s.error_ratio_upper), lang)
    sentences = [t[f"s_{s.decision}"].format(g=_ratio(s.gate_ratio, lang),
                                             t=_pct(s.threshold, lang), lo=low, hi=high,
                                             n=_int(unverified, lang))]
    if s.incomplete:
        sentences.append(t["s_incomplete"])
    if s.gate_mode == "upper":
        sentences.append(t["s_upper"])
    if unverified and messages:
        key = "s_offline" if s.capability == "none" else "s_unverified"
        sentences.append(t[key].format(n=_int(unverified, lang), m=_int(messages, lang),
                                       p=_ratio(unverified / messages, lang, 1),
                                       u=_ratio(s.error_ratio_upper, lang)))
    return sentences


def _ratio(share: float, lang: str, digits: int = 2) -> str:
    """``8.11%`` in English, ``8,11 %`` in French."""
    return percent(share, lang, digits)


def _pct(share: float, lang: str = "en") -> str:
    """A threshold as people wrote it: 15 %, 12.5 %, never rounded to a wrong figure."""
    return threshold_text(share, lang)


def _int(n: float, lang: str) -> str:
    """``6 001`` (fr) or ``6,001`` (en): every count of the page goes through here."""
    return number(n, lang)


def _day(text: str, lang: str, seconds: bool = False) -> str:
    """A log's ``at`` as a trend label in Paris, date and time (two runs of one day are
    two labels): 12/03/2026 14:05 (fr) or 2026-03-12 14:05 (en); with ``seconds`` when
    two runs of the chart share a minute."""
    try:
        at = datetime.fromisoformat(str(text))
    except ValueError:
        return _esc(text, 20)
    return short_when(at, lang, seconds)


def _bars(rows: list[tuple[str, str, int, str, bool]], total: int, lang: str) -> str:
    """Labelled bars as a CSS grid: label (wraps; full text in its title), bar (a small
    inline SVG), count and share. ``rows``: (label, title, value, color, bold)."""
    if not rows:
        return f"<p>{TEXT[lang]['none']}</p>"
    top = max(v for _, _, v, _, _ in rows) or 1
    out = ['<div class="bars">']
    for label, title, value, color, bold in rows:
        width = max(0.5, 100 * value / top) if value else 0
        share = _ratio(value / total, lang, 1) if total else "-"
        out.append(
            f'<div class="label{" strong" if bold else ""}" title="{title}">{label}</div>'
            f'<div class="bar"><svg xmlns="http://www.w3.org/2000/svg" width="100%" '
            f'height="18" role="img" aria-label="{value}"><rect x="0" y="1" '
            f'width="{width:.2f}%" height="16" rx="2" fill="{color}"/></svg></div>'
            f'<div class="num">{_int(value, lang)}</div><div class="num share">{share}</div>')
    out.append("</div>")
    return "".join(out)


def _gauge(s: Summary, lang: str) -> str:
    """The ratio (and its worst case) against the threshold on one scale."""
    t = TEXT[lang]
    top = min(1.0, max(s.threshold * 2, s.error_ratio_upper, s.gate_ratio) * 1.05) or 1.0

    def x(v: float) -> float:
        return 100 * min(v, top) / top

    color = _VERDICT_COLORS[s.decision]
    return (
        '<div class="gauge"><svg xmlns="http://www.w3.org/2000/svg" width="100%" '
        'height="34" role="img" aria-label="gauge">'
        '<rect x="0" y="8" width="100%" height="18" rx="3" fill="#e5e7eb"/>'
        f'<rect x="0" y="8" width="{x(s.error_ratio_upper):.2f}%" height="18" rx="3" '
        f'fill="{color}" fill-opacity="0.25"/>'
        f'<rect x="0" y="8" width="{x(s.error_ratio):.2f}%" height="18" rx="3" '
        f'fill="{color}"/>'
        f'<rect x="{x(s.threshold):.2f}%" y="0" width="3" height="34" fill="#111"/>'
        "</svg>"
        f'<div class="legend"><span class="key" style="--c:{color}">'
        f'{t["gauge_ratio"].format(r=_ratio(s.error_ratio, lang))}</span>'
        f'<span class="key light" style="--c:{color}">'
        f'{t["gauge_upper"].format(u=_ratio(s.error_ratio_upper, lang))}</span>'
        f'<span class="key mark">{t["gauge_threshold"].format(t=_pct(s.threshold, lang))}'
        "</span></div></div>")


def _movement(m: dict[str, Any] | None, lang: str) -> str:
    """A run's movement since the one before (refresh log ``movement``) in words, status
    moves with their human labels: ``+12 / −3; Reachable in RCS → Not RCS 4``. Empty
    when the run had nothing to compare with or the logged value is not one."""
    from rcsqualify.report.movement import logged

    found = logged(m)
    if found is None:
        return ""
    labels = STATUS_LABELS[lang]
    added, removed = found.added, found.removed
    moves = [(labels.get(a, "?"), labels.get(b, "?"), n) for a, b, n in found.moves]
    if not (added or removed or moves):
        return TEXT[lang]["movement_none"]
    t = TEXT[lang]
    text = t["movement"].format(added=counted(added, lang, *t["added"]),
                                removed=counted(removed, lang, *t["removed"]))
    if moves:
        text += " ; " if lang == "fr" else "; "
        text += ", ".join(f"{_esc(a)} → {_esc(b)} : {_int(n, lang)}" if lang == "fr" else
                          f"{_esc(a)} → {_esc(b)}: {_int(n, lang)}" for a, b, n in moves[:6])
    return text + "."


def _trend(history: list[dict[str, Any]], s: Summary, lang: str,
           generated_at: datetime | None, movement: dict[str, Any] | None = None) -> str:
    """The ratio of past runs and of this one, each point dated (in its title and
    under the chart), the threshold as a dashed line; what changed since the run before
    (``movement``, the refresh log's) in each point's title and under the chart."""
    t = TEXT[lang]
    # past runs and campaigns (the actual ratio ``rcsqualify learn`` measured) in time
    # order, this run last; a campaign is a square beside the projections' line; each
    # run carries what changed since the one before (its log line's ``movement``)
    past = sorted(((str(h.get("at", "")), float(h["error_ratio"]), False,
                    _movement(h.get("movement"), lang)) for h in history
                   if "error_ratio" in h), key=lambda p: _order(p[0]))
    campaigns = [(str(h.get("at", "")), float(h["actual_error_ratio"]), True,
                  _projected_sent(h, lang)) for h in history if "actual_error_ratio" in h]
    this_moved = _movement(movement, lang)
    timeline = [*sorted([*past, *campaigns], key=lambda p: _order(p[0])),
                ((generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
                 s.error_ratio, False, this_moved)]
    points = [(at, v) for at, v, campaign, _ in timeline if not campaign]
    # two points of one minute would share a label: then every label gives the seconds
    precise = len({_day(at, lang) for at, *_ in timeline}) < len(
        {at for at, *_ in timeline})

    def day(at: str) -> str:
        return _day(at, lang, precise)

    this_run = f'<p class="movement">{this_moved}</p>' if this_moved else ""
    if len(timeline) < 2:
        return f"<p>{t['trend_one']}</p>{this_run}"
    width, height = 600, 170
    top = max(max(v for _, v, _, _ in timeline), s.threshold) * 1.15 or 1.0
    step = (width - 40) / (len(timeline) - 1)

    def y(v: float) -> float:
        return height - 14 - (height - 28) * v / top

    runs = [(i, v) for i, (_, v, campaign, _) in enumerate(timeline) if not campaign]
    path = " ".join(f"{'M' if k == 0 else 'L'}{20 + i * step:.1f},{y(v):.1f}"
                    for k, (i, v) in enumerate(runs))
    last = len(timeline) - 1
    dots = "".join(
        (f'<rect x="{20 + i * step - 4:.1f}" y="{y(v) - 4:.1f}" width="8" height="8" '
         f'fill="#ea580c"><title>{t["trend_campaign"]} {day(at)}{t["colon"]} '
         f"{_ratio(v, lang)}{(' — ' + moved) if moved else ''}</title></rect>")
        if campaign else
        (f'<circle cx="{20 + i * step:.1f}" cy="{y(v):.1f}" r="{5 if i == last else 3}"'
         f' fill="{"#111" if i == last else "#1d4ed8"}"><title>'
         f"{day(at)}{t['colon']} {_ratio(v, lang)}{(' — ' + moved) if moved else ''}"
         "</title></circle>")
        for i, (at, v, campaign, moved) in enumerate(timeline))
    ty = y(s.threshold)
    shown = points if len(points) <= 8 else [points[0], points[len(points) // 2], points[-1]]
    dates = "".join(f'<span class="date">{day(at)}<br>{_ratio(v, lang, 1)}</span>'
                    for at, v in shown)
    before = len(points) - 1  # one run before: singular ("1 exécutions" is wrong French)
    summary_line = t["trend_single" if before == 1 else "trend"].format(
        n=_int(before, lang), r=_ratio(s.error_ratio, lang))
    if campaigns:
        summary_line += " " + t["trend_campaigns"].format(
            n=counted(len(campaigns), lang, *t["campaigns"]))
    return (f'<div class="trend"><svg xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="trend">'
            f'<line x1="20" x2="{width - 20}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#b91c1c" '
            f'stroke-dasharray="5"/><path d="{path}" fill="none" stroke="#1d4ed8" '
            f'stroke-width="2"/>{dots}</svg><div class="dates">{dates}</div></div>'
            f'<p>{summary_line}</p>{this_run}')


def _projected_sent(entry: dict[str, Any], lang: str) -> str:
    """A campaign's projection for the list it sent (``learn --checked``), for its
    square's title; empty when the log line has none or it is not two finite ratios."""
    try:
        r = float(entry["projected_sent_error_ratio"])
        u = float(entry["projected_sent_error_ratio_upper"])
    except (KeyError, TypeError, ValueError):
        return ""
    if not (math.isfinite(r) and math.isfinite(u)):
        return ""
    return TEXT[lang]["trend_projected"].format(r=_ratio(r, lang), u=_ratio(u, lang))


def _order(at: str) -> tuple[int, float | str]:
    """A log's ``at`` for sorting: its instant when it parses, else after them as text."""
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return (1, at)
    return (0, (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def read_history(path: Path | None) -> tuple[list[dict[str, Any]], int]:
    """The runs of a cron log that have a ratio to draw, and the count of lines skipped
    as damaged. A run that stopped with exit 2 (``error_ratio`` null) is skipped
    silently; a line that is not a JSON object, or whose ratio is not a finite number
    (a 400-digit integer raised OverflowError, and every later report failed: issue #23
    item 9), is skipped and counted: a damaged log never costs the report."""
    if path is None or not path.is_file():
        return [], 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], 0
    out = []
    damaged = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            ratio = entry.get("error_ratio", None) if isinstance(entry, dict) else False
            key = "error_ratio"
            if ratio is None and "actual_error_ratio" in entry:  # a campaign (learn)
                ratio, key = entry["actual_error_ratio"], "actual_error_ratio"
                entry.pop("error_ratio", None)
            if ratio is None:
                continue  # a run without a ratio (exit 2)
            if isinstance(ratio, bool) or not math.isfinite(float(ratio)):
                raise ValueError("not a finite ratio")
        except (ValueError, TypeError, OverflowError, RecursionError):
            damaged += 1
            continue
        out.append({**entry, key: float(ratio)})
    return out, damaged


def _examples_table(rows: list[tuple[str, int, list[str]]], lang: str) -> str:
    t = TEXT[lang]
    if not rows:
        return f"<p>{t['none']}</p>"
    body = "".join(
        f'<tr><td class="label">{label}</td><td class="num">{_int(count, lang)}</td>'
        f'<td class="label">{", ".join(_esc(e, 40) for e in dict.fromkeys(examples)) or "-"}'
        "</td></tr>" for label, count, examples in rows)
    return (f'<table><tr><th>{t["reason"]}</th><th class="num">{t["count"]}</th>'
            f'<th>{t["examples"]}</th></tr>{body}</table>')


_ROUTES_TEXT = {
    "en": ("Routes: {b} through BotHub, {r} through {o} (other operators' mobiles it "
           "reaches), {sms} by SMS{u}. The second route has no threshold of its own: "
           "Orange's threshold concerns BotHub.", ", {n} not checked on the second route"),
    "fr": ("Routes : {b} via BotHub, {r} via {o} (mobiles d'autres opérateurs qu'il "
           "atteint), {sms} par SMS{u}. La seconde route n'a pas de seuil propre : le "
           "seuil d'Orange concerne BotHub.", ", {n} non vérifiés sur la seconde route"),
}


def _routes(s: Summary, lang: str) -> str:
    """With a second route (--other-route): messages per route, under the send plan."""
    if not s.routes:
        return ""
    m = s.routes["messages"]
    text, unchecked = _ROUTES_TEXT[lang]
    u = unchecked.format(n=_int(m["unverified"], lang)) if m.get("unverified") else ""
    return '<p id="routes">' + text.format(
        b=_int(m.get("bothub", 0), lang), r=_int(m.get("rbm", 0), lang),
        o=_esc(str(s.routes["other_route"]).upper(), 20), sms=_int(m.get("sms", 0), lang),
        u=u) + "</p>"


def _next_steps(s: Summary, lang: str) -> list[str]:
    """The terminal's next step (``wording.next_step_text``), in ``lang``, options as
    code: the first item of the "how to" when the gate is undecided."""
    t = TEXT[lang]
    texts = []
    for step in s.next_steps:
        texts.append(t[f"step_{step['kind']}"].format(
            o=f"<code>{html.escape(step['option'])}</code>",
            n=_int(int(step["lookups"]), lang),
            d=approx_duration(step["seconds"]) if step.get("seconds") is not None else "",
            r=decimal(step["rate"], lang), k=t["kept"] if s.answers_kept else t["not_kept"]))
    if not texts:
        return []
    line = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + t["or"] + texts[-1]
    return [f'<span id="next-step">{t["next_h"]}{line[:1].upper() + line[1:]}.</span>']


def format_html(s: Summary, history: list[dict[str, Any]] | None = None, *,
                lang: str = "en", generated_at: datetime | None = None,
                movement: dict[str, Any] | None = None) -> str:
    """The report in ``lang`` (fr or en); ``generated_at`` is the run's date;
    ``movement`` what changed since the previous run of the list (``report.movement``)."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}")
    t = TEXT[lang]
    labels, reasons_text = STATUS_LABELS[lang], REASON_LABELS[lang]
    at = generated_at or datetime.now(UTC)
    messages = s.counts.get("messages", 0)
    path = str(s.input.get("path", ""))
    name = Path(path).name if path not in ("", "-") else path or "-"

    # the send plan, first
    plan = ""
    if s.send_plan:
        send, more = s.send_plan["send_rcs"], s.send_plan["with_unverified"]
        added = more["messages"] - send["messages"]
        plan = (f'<h2>{t["plan_h"]}</h2><div class="plan" id="send-plan"><p>'
                + t["plan"].format(n=f'<span id="send-rcs-messages">{_int(send["messages"], lang)}'
                                     "</span>", r=_ratio(send["error_ratio"], lang))
                + (t["plan_more"].format(m=_int(added, lang),
                                               u=_ratio(more["error_ratio_upper"], lang))
                         if added else t["plan_none"]) + "</p>" + _routes(s, lang) + "</div>")

    # the decision
    verdict_word = t[f"verdict_{s.decision}"]
    low = _ratio(s.bounds.get("low", s.error_ratio), lang)
    high = _ratio(s.bounds.get("high", s.error_ratio_upper), lang)
    sentences = verdict_sentences(s, lang)
    if s.interval:
        sentences.append(t["interval"].format(c=threshold_text(confidence_of(s.interval), lang),
                                              lo=_ratio(s.interval["error_ratio_low"], lang),
                                              hi=_ratio(s.interval["error_ratio_high"], lang)))

    statuses = [(labels[str(st)] + (" *" if st in ERROR_STATUSES else ""),
                 labels[str(st)] + (f" ({t['(error)']})" if st in ERROR_STATUSES else ""),
                 s.counts.get(str(st), 0), _COLORS[str(st)], False) for st in STATUSES]
    ops = list(s.operators.items())
    operators = [(_esc(s.operator_names.get(code) or code, 80),
                  _esc(f"{s.operator_names.get(code) or code} ({code})"
                       + (f", {t['target']}" if code == s.target_operator else ""), 120),
                  n, "#1d4ed8" if code == s.target_operator else "#6b7280",
                  code == s.target_operator) for code, n in ops[:12]]
    if len(ops) > 12:
        rest = t["more"].format(n=_int(len(ops) - 12, lang))
        operators.append((rest, rest, sum(n for _, n in ops[12:]), "#9ca3af", False))
    territories = [(_esc(n, 80), _esc(n, 120), c, "#0f766e", False)
                   for n, c in s.territories.items()]

    repaired = [(reasons_text.get(r, _esc(r)), c, s.examples.get(r, []))
                for r, c in s.repaired.items()]
    invalid = [(f"{reasons_text.get(r, _esc(r))} <small>({labels[str(REASON_STATUS[r])]})"
                "</small>", c, s.examples.get(r, []))
               for r, c in s.reasons.items()
               if REASON_STATUS.get(r) in (Status.INVALID, Status.NOT_MOBILE)]

    pr = s.projection or {}
    projection = ""
    if pr:
        projection = "<p>" + t["proj"].format(
            n=_int(pr.get("messages", 0), lang), u=_int(pr.get("messages_upper", 0), lang),
            d=duration_text(pr.get("send_seconds") or 0),
            rate=decimal(pr.get("send_rate", 30), lang)) + " "
        projection += (t["cost"].format(c=money(pr["cost"], lang),
                                        cu=money(pr["cost_upper"], lang),
                                        rr=_ratio(pr.get("reply_rate") or 0, lang, 0))
                       if "cost" in pr else t["no_cost"]) + "</p>"

    # the run's notes are among the warnings (summarize): each said once, in ``lang``
    notes = "".join(f"<li>{_esc(in_language(w, lang), 600)}</li>"
                    for w in dict.fromkeys([*s.warnings, *s.notes]))
    notes += "".join(f"<li>{t['stale']}{t['colon']} {_esc(in_language(w, lang), 600)}</li>"
                     for w in s.stale)
    notes_block = f'<h2>{t["notes_h"]}</h2><ul class="notes">{notes}</ul>' if notes else ""
    errors = sum(s.counts.get(str(x), 0) for x in ERROR_STATUSES)
    tool = s.tool
    footer = t["footer"].format(
        v=_esc(tool.get("version", "")), plan=_esc(day(tool.get("arcep_plan_date", ""), lang)),
        pn=_esc(tool.get("phonenumbers", "")),
        op=_esc(s.operator_names.get(s.target_operator) or s.target_operator),
        cap=_esc(s.capability) if s.capability != "none" else t["no_check"])
    howto = "".join(f"<li>{item}</li>" for item in [*_next_steps(s, lang), *t["howto"]])
    color = _VERDICT_COLORS[s.decision]
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t['title']}{t['colon']} {_esc(name)}</title>
<style>
*{{box-sizing:border-box}}
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:980px;
margin:1.5em auto;padding:0 1em;color:#111;line-height:1.4}}
h1{{font-size:1.5em;margin-bottom:.2em}} h2{{font-size:1.15em;margin-top:1.6em}}
.meta{{color:#374151;overflow-wrap:anywhere}}
.plan{{border-left:6px solid #1d4ed8;background:#eff6ff;padding:.4em 1em}}
.verdict{{font-size:1.3em;font-weight:bold;padding:.5em .8em;color:#fff;
background:{color};overflow-wrap:anywhere}}
.gauge{{margin:.8em 0}} .legend{{display:flex;flex-wrap:wrap;gap:.4em 1.5em}}
.key{{overflow-wrap:anywhere}} .key::before{{content:"";display:inline-block;width:.9em;
height:.9em;margin-right:.35em;vertical-align:-.1em;background:var(--c,#111)}}
.key.light::before{{opacity:.3}} .key.mark::before{{width:3px;background:#111}}
.kpis{{display:flex;flex-wrap:wrap;gap:1em 2.5em;margin:1em 0}}
.kpi{{min-width:0;overflow-wrap:anywhere}} .kpi b{{font-size:1.5em;display:block}}
.bars{{display:grid;grid-template-columns:minmax(0,16em) minmax(4em,1fr) auto auto;
gap:.25em .6em;align-items:center}}
.label{{min-width:0;overflow-wrap:anywhere}} .strong{{font-weight:bold}}
.num{{text-align:right;white-space:nowrap}} .share{{color:#4b5563}}
.bar svg{{display:block}}
table{{border-collapse:collapse;width:100%;table-layout:fixed}}
td,th{{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}} th.num,td.num{{width:7em;text-align:right}}
.trend svg{{display:block;max-height:200px}}
.dates{{display:flex;justify-content:space-between;gap:.5em;font-size:.85em;
color:#374151}} .date{{min-width:0;overflow-wrap:anywhere;text-align:center}}
.notes li{{overflow-wrap:anywhere}}
footer{{margin-top:2em;border-top:1px solid #ddd;color:#4b5563;font-size:.9em}}
footer li{{overflow-wrap:anywhere}} code{{white-space:normal;overflow-wrap:anywhere}}
</style></head><body>
<h1>{t['title']}</h1>
<p class="meta" id="run">{t['run'].format(date=when(at, lang),
                                         input=f"<b>{_esc(name)}</b>",
                                         rows=_int(s.counts.get('rows', 0), lang),
                                         column=f"<b>{_esc(phone_columns_text(s.input))}</b>")}</p>
{plan}
<h2>{t['decision_h']}</h2>
<div class="verdict" id="verdict">{verdict_word}{t['colon']} {(
    t['ratio_range'].format(lo=f'<span id="error-ratio">{low}</span>', hi=high,
                            t=f'<span id="threshold">{_pct(s.threshold, lang)}</span>')
    if s.decision == "undecided" else t['ratio'].format(
        r=f'<span id="error-ratio">{_ratio(s.error_ratio, lang)}</span>',
        t=f'<span id="threshold">{_pct(s.threshold, lang)}</span>'))}</div>
{_gauge(s, lang)}
<p id="verdict-line">{' '.join(sentences)}</p>
<div class="kpis"><span class="kpi">{t['k_messages']}<b id="messages">{_int(messages, lang)}</b>
</span><span class="kpi">{t['k_duplicates']}<b>{_int(s.counts.get('duplicates', 0), lang)}</b>
</span><span class="kpi">{t['k_reachable']}<b id="reachable">{
    _int(s.counts.get('reachable', 0), lang)}</b></span>
<span class="kpi">{t['k_upper']}<b id="error-ratio-upper">{_ratio(s.error_ratio_upper, lang)}</b>
</span></div>
<h2>{t['status_h']}</h2>{_bars(statuses, messages, lang)}
{f'<p id="contacts">{_esc(contacts_line(s, lang))}</p>' if contacts_line(s, lang) else ''}
<p>* {t['errors_of'].format(e=_int(errors, lang), m=_int(messages, lang))}</p>
<h2>{t['ops_h']}</h2>{_bars(operators, sum(s.operators.values()), lang)}
<h2>{t['terr_h']}</h2>{_bars(territories, sum(s.territories.values()), lang)}
<h2>{t['repaired_h']}</h2>{_examples_table(repaired, lang)}
<h2>{t['invalid_h']}</h2>{_examples_table(invalid, lang)}
<h2>{t['proj_h']}</h2>{projection}
<h2>{t['trend_h']}</h2>{_trend(history or [], s, lang, at, movement)}
{notes_block}
<footer><h2>{t['howto_h']}</h2><ul class="howto">{howto}</ul><p>{footer}</p></footer>
</body></html>
"""
