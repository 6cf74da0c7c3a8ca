"""The notes a run leaves in its reports, worded once in English and in French.

A note (a warning, why a check could not be done, data past its freshness) is made
where it happens, deep in the remote, capability or operator layers, but it is read in
the report's language (issue #26 item 6: a French report is entirely French). So a
note is a *code and its parameters*, and :data:`NOTES` holds the one English and the
one French sentence of each code. A :class:`Note` is a ``str`` (its English text): the
terminal, the JSON report, JUnit, CI annotations and alerts keep reading the English
line they always read, unchanged; the HTML and Markdown reports render
``note.code``/``note.params`` in their language through :func:`render`.

Placeholders name a parameter and, optionally, how to write it in the reader's
language (:mod:`rcsqualify.l10n`):

- ``{n}``: an ``int`` is a count (``6,001`` / ``6 001``), anything else as given
  (a file name, a server's words: data, never translated, escaped by each report);
- ``{n:raw}``: as given (an option's value, which the reader types back: ``6000``);
- ``{r:pct1}``, ``{r:pct2}``: a share as a percentage with 1 or 2 decimals;
- ``{x:dec}``: a measure (seconds, hours) with at most one decimal;
- ``{d:date}``: an ISO date, written ``12/03/2026`` in French;
- ``{t:when}``: a ``datetime``, in Paris time with its offset.

French sentences name no command-line option in prose: they say what the option does
(the terminal, in English, names the option to type).
"""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any

#: code -> (English, French). English sentences are the ones the terminal always printed.
NOTES: dict[str, tuple[str, str]] = {
    # the attribution (report/summary.py)
    "range_only_unnamed": (
        "{count} mobile numbers rest on the range holder alone (ARCEP plan), correct only "
        "for numbers never ported: no portability source named them",
        "{count} numéros mobiles reposent sur le seul opérateur attributaire de leur "
        "tranche (plan ARCEP), juste uniquement pour les numéros jamais portés : aucune "
        "source de portabilité ne les cite"),
    "range_only": (
        "{count} mobile numbers rest on the range holder alone (ARCEP plan), correct only "
        "for numbers never ported: give --portability or --mnp-url to know who serves "
        "them today",
        "{count} numéros mobiles reposent sur le seul opérateur attributaire de leur "
        "tranche (plan ARCEP), juste uniquement pour les numéros jamais portés : donnez un "
        "fichier de portabilité ou un service de portabilité (MNP) pour savoir quel "
        "opérateur les sert aujourd'hui"),
    "offline_unverified": (
        "{count} target-operator mobiles are unverified (no capability check was run): "
        "the ratio could reach {upper:pct1} if none of them is RCS-reachable",
        "{count} mobiles de l'opérateur visé ne sont pas vérifiés (aucune vérification "
        "RCS n'a été faite) : le taux d'erreur pourrait atteindre {upper:pct1} si aucun "
        "n'est joignable en RCS"),
    "plan_stale": (
        "the ARCEP numbering plan is {age} days old ({plan_date}): numbers in blocks "
        "allocated since then read as unallocated; install a newer MAJNUM with "
        "'rcsqualify plan update'",
        "le plan de numérotation ARCEP date de {age} jours ({plan_date:date}) : les "
        "numéros des tranches attribuées depuis sont lus comme non attribués ; installez "
        "un fichier MAJNUM plus récent (rcsqualify plan update)"),
    # the portability extracts (operators/portability.py)
    "port_no_dates": (
        "portability: {name} has no port dates: its age is unknown; {answered} mobile "
        "numbers rest on it",
        "portabilité : {name} n'a pas de dates de portage, son âge est inconnu ; "
        "{answered} numéros mobiles reposent sur ce fichier"),
    "port_stale": (
        "portability: {name} is {age} days old (newest port date {newest}, over "
        "--portability-max-age {max_age:raw}): {answered} mobile numbers rest on it and "
        "ports since then are not known",
        "portabilité : {name} date de {age} jours (portage le plus récent le "
        "{newest:date}, au-delà de l'âge maximal de {max_age} jours) : {answered} numéros "
        "mobiles reposent sur ce fichier et les portages depuis ne sont pas connus"),
    "port_unmapped": (
        "portability: {name}: {unmapped} operator values map to no operator (e.g. "
        "{examples}) ({share:pct2} of its rows); those numbers fall back to the next source",
        "portabilité : {name} : {unmapped} valeurs d'opérateur ne correspondent à aucun "
        "opérateur (par exemple {examples}) ({share:pct2} de ses lignes) ; ces numéros "
        "passent à la source suivante"),
    "port_fixed_prefix": (
        "portability: {name}: {fixed} mobile numbers carry a fixed-line routing prefix "
        "(not used) ({share:pct2} of its rows); those numbers fall back to the next source",
        "portabilité : {name} : {fixed} numéros mobiles portent un préfixe de routage de "
        "ligne fixe (non utilisé) ({share:pct2} de ses lignes) ; ces numéros passent à la "
        "source suivante"),
    "port_unmapped_fixed_prefix": (
        "portability: {name}: {unmapped} operator values map to no operator (e.g. "
        "{examples}); {fixed} mobile numbers carry a fixed-line routing prefix (not used) "
        "({share:pct2} of its rows); those numbers fall back to the next source",
        "portabilité : {name} : {unmapped} valeurs d'opérateur ne correspondent à aucun "
        "opérateur (par exemple {examples}) ; {fixed} numéros mobiles portent un préfixe "
        "de routage de ligne fixe (non utilisé) ({share:pct2} de ses lignes) ; ces "
        "numéros passent à la source suivante"),
    "port_unparsed_dates": (
        "portability: {name}: {count} port dates do not parse; those rows took the "
        "file's date",
        "portabilité : {name} : {count} dates de portage illisibles ; ces lignes ont pris "
        "la date du fichier"),
    # sampling and contacts (pipeline.py, contact_check.py)
    "fixed_sample": (
        "--sample {sample:raw}: a fixed-sample interval, valid for one sample of "
        "{sample:raw} chosen in advance, not if one looks at it and re-runs until it "
        "passes; --sample auto gives a bound valid whenever it stops",
        "échantillon fixe de {sample} numéros : son intervalle ne vaut que pour un "
        "échantillon choisi à l'avance, pas si l'on regarde le résultat et relance "
        "jusqu'à ce qu'il passe ; l'échantillonnage automatique donne une borne valable "
        "où qu'il s'arrête"),
    # worded so that no noun agrees with a count (one contact, one value: never "1 contacts")
    "contacts_capped": (
        "contacts past the cap of --max-numbers-per-contact {cap:raw}: {capped}; numbers "
        "past it, neither chosen nor looked up: {dropped}",
        "contacts au-delà du plafond de numéros par contact ({cap}) : {capped} ; numéros "
        "au-delà, ni choisis ni vérifiés : {dropped}"),
    "ranks_not_numbers": (
        "values of the --number-rank column {column} that are not numbers: {count}; they "
        "rank after every number, among themselves in text order",
        "valeurs de la colonne de rang des numéros {column} qui ne sont pas des nombres : "
        "{count} ; elles passent après tous les nombres, entre elles dans l'ordre du "
        "texte"),
    # outputs (outputs.py, report/writers.py)
    "history_damaged": (
        "{count} lines of the history {path} are not run records (damaged, or another "
        "tool's): skipped",
        "{count} lignes de l'historique {path} ne sont pas des relevés d'exécution "
        "(abîmées, ou d'un autre outil) : ignorées"),
    "xlsx_control_characters": (
        "{count} cells of the .xlsx lists held control characters XLSX cannot store or "
        "more than 32,767 characters: they were removed or cut (the CSV lists keep them)",
        "{count} cellules des listes Excel contenaient des caractères de contrôle que le "
        "format Excel ne peut pas stocker, ou plus de 32\u202f767 caractères : ils ont été "
        "retirés ou coupés (les listes CSV les gardent)"),
    "xlsx_output_cells": (
        "{count} cells of {name} held control characters XLSX cannot store or more than "
        "32,767 characters: they were removed or cut (a .csv output keeps them)",
        "{count} cellules de {name} contenaient des caractères de contrôle que le format "
        "Excel ne peut pas stocker, ou plus de 32\u202f767 caractères : ils ont été retirés ou "
        "coupés (une sortie .csv les garde)"),
    # alerts (alerting.py)
    "alert_undelivered": (
        "notify: the alert to {target} was not delivered ({why}); the exit code is the "
        "check's",
        "alerte : l'alerte vers {target} n'a pas été remise ({why}) ; le code de sortie "
        "reste celui de la vérification"),
    "alert_state_unwritable": (
        "notify: cannot record this run in {path}: the next alert compares with an older "
        "run",
        "alerte : impossible d'enregistrer cette exécution dans {path} : la prochaine "
        "alerte se comparera à une exécution plus ancienne"),
    "alert_state_locked": (
        "notify: cannot record this run in {path} (another run held it for {wait:dec} s): "
        "the next alert compares with an older run",
        "alerte : impossible d'enregistrer cette exécution dans {path} (une autre "
        "exécution l'a tenu pendant {wait:dec} s) : la prochaine alerte se comparera à "
        "une exécution plus ancienne"),
    # storage (runner.py, remote/pacing.py)
    "cache_failed": (
        "the cache in {location} failed mid-run ({why}); answers since then were kept "
        "in memory only and will be asked again next time",
        "le cache ({location}) a échoué en cours d'exécution ({why}) ; les réponses "
        "obtenues depuis n'ont été gardées qu'en mémoire et seront redemandées la "
        "prochaine fois"),
    "quota_lost": (
        "quota no longer shared across hosts: the quota store (Redis at {host}) failed "
        "mid-run ({why}); this machine's runs kept pacing together, other hosts may have "
        "sent at the same time",
        "quota plus partagé entre machines : le stockage du quota (Redis sur {host}) a "
        "échoué en cours d'exécution ({why}) ; les exécutions de cette machine ont gardé "
        "leur cadence commune, d'autres machines ont pu envoyer en même temps"),
    "cache_key_stored": (
        "the cache key is also stored inside the cache at {location}, where anyone who "
        "can read the cache finds it: remove that copy with 'rcsqualify cache move-key'",
        "la clé du cache est aussi enregistrée dans le cache ({location}), où quiconque "
        "peut lire le cache la trouve : retirez cette copie (rcsqualify cache move-key)"),
    "redis_evicts": (
        "the Redis at {host} evicts keys when full (maxmemory-policy {policy}): answers, "
        "the shared 429 pause and the cache key can vanish without a word; use "
        "maxmemory-policy noeviction, or a Redis dedicated to rcsqualify",
        "le Redis sur {host} efface des clés quand il est plein (politique {policy}) : "
        "des réponses, la pause commune après un HTTP 429 et la clé du cache peuvent "
        "disparaître sans prévenir ; configurez-le pour ne rien effacer (noeviction), ou "
        "utilisez un Redis réservé à rcsqualify"),
    # the HTTP layer (remote/http.py, remote/tokens.py)
    "token_failed": (
        "cannot get a token from {url}: {why} (after {attempts:raw} attempts); every "
        "number of the service stays unverified: retry later, or check --bothub-token-url",
        "impossible d'obtenir un jeton d'accès de {url} (après {attempts} tentatives) ; "
        "aucun numéro de ce service n'est vérifié : réessayez plus tard, ou vérifiez "
        "l'adresse du service de jetons"),
    "throttled_gave_up": (
        "{service}: given up after {what}; what was learned is kept, the rest stays "
        "unverified: re-run later, or with a lower --rate",
        "{service} : abandon après {count} réponses HTTP 429 d'affilée en {seconds:dec} s "
        "; ce qui a été appris est gardé, le reste n'est pas vérifié : relancez plus "
        "tard, ou avec un débit plus bas"),
    "max_requests": (
        "{service}: stopped at --max-requests {limit:raw}; the rest stays unverified",
        "{service} : arrêt au nombre maximal de requêtes ({limit}) ; le reste n'est pas "
        "vérifié"),
    # BotHub (capability/bothub.py, capability/bothub_bulk.py)
    "single_lookups": (
        "bothub: {count} numbers to ask one by one (more than --single-warn "
        "{limit:raw}); Orange limits this call to testing at very low frequency: use "
        "--capability bothub-bulk for a base",
        "BotHub : {count} numéros à vérifier un par un (plus que le seuil d'alerte de "
        "{limit}) ; Orange réserve cet appel aux tests, à très basse fréquence : pour une "
        "base, utilisez la vérification en masse de BotHub"),
    "bulk_contradictory": (
        "a BotHub bulk job listed {count} number(s) more than once with different "
        "capabilities; they stay unverified (nothing cached) and the next run asks again",
        "une tâche de vérification en masse BotHub a donné {count} numéro(s) plusieurs "
        "fois avec des capacités différentes ; ils restent non vérifiés (rien n'est mis "
        "en cache) et la prochaine exécution les redemande"),
    "bulk_done_missing": (
        "a BotHub bulk job finished (DONE) without a usable result for {missing} of "
        "its {total} numbers; they stay unverified and the next run asks again",
        "une tâche de vérification en masse BotHub s'est terminée sans résultat "
        "exploitable pour {missing} de ses {total} numéros ; ils restent non vérifiés et "
        "la prochaine exécution les redemande"),
    "bulk_failed": (
        "a BotHub bulk job ended without results (status other than DONE); its numbers "
        "stay unverified",
        "une tâche de vérification en masse BotHub s'est terminée sans résultat (en "
        "échec) ; ses numéros restent non vérifiés"),
    "bulk_unrecognized": (
        "a BotHub bulk job answered in a shape rcsqualify does not know; its numbers stay "
        "unverified",
        "une tâche de vérification en masse BotHub a répondu sous une forme inconnue de "
        "rcsqualify ; ses numéros restent non vérifiés"),
    "bulk_no_job_id": (
        "BotHub accepted a bulk job without a usable jobId; its numbers stay unverified",
        "BotHub a accepté une tâche de vérification en masse sans identifiant "
        "exploitable ; ses numéros restent non vérifiés"),
    "bulk_forgotten": (
        "BotHub forgot {count} bulk job(s) just submitted, twice (HTTP 404 when "
        "polled); their numbers stay unverified",
        "BotHub a oublié deux fois {count} tâche(s) de vérification en masse tout juste "
        "soumise(s) (HTTP 404 à l'interrogation) ; leurs numéros restent non vérifiés"),
    "bulk_poll_failed": (
        "{count} BotHub bulk job poll(s) failed ({kinds}); their numbers stay "
        "unverified and the jobs stay saved: the next run polls them again",
        "{count} interrogation(s) de tâches de vérification en masse BotHub ont échoué "
        "({kinds}) ; leurs numéros restent non vérifiés et les tâches restent "
        "enregistrées : la prochaine exécution les interroge à nouveau"),
    "bulk_unfinished": (
        "{count} BotHub bulk job(s) not finished by the deadline (--bulk-deadline, "
        "or the end of the bulk window); their numbers stay unverified and the next run "
        "polls them again",
        "{count} tâche(s) de vérification en masse BotHub non terminée(s) à l'échéance "
        "(le délai maximal, ou la fin de la plage horaire des tâches en masse) ; leurs "
        "numéros restent non vérifiés et la prochaine exécution les interroge à nouveau"),
    "bulk_refused_inside": (
        "BotHub refused the bulk job (HTTP 405) inside the assumed window ({window}): it "
        "may keep other hours; set --bulk-hours, or re-run with --wait-for-window",
        "BotHub a refusé la tâche en masse (HTTP 405) pendant la plage horaire supposée "
        "({window}) : ses horaires sont peut-être autres ; indiquez les bons horaires, "
        "ou relancez en attendant l'ouverture de la plage"),
    "bulk_refused_outside": (
        "BotHub refused the bulk job (HTTP 405: outside its window, {window}); it opens "
        "at {opening:when}: re-run then, or use --wait-for-window",
        "BotHub a refusé la tâche en masse (HTTP 405 : hors de sa plage horaire, "
        "{window}) ; elle ouvre le {opening:when} : relancez à ce moment, ou en attendant "
        "l'ouverture de la plage"),
    "bulk_refused_all_window": (
        "BotHub refused bulk jobs (HTTP 405) all through the assumed window; check "
        "--bulk-hours; the numbers stay unverified",
        "BotHub a refusé les tâches en masse (HTTP 405) pendant toute la plage horaire "
        "supposée ; vérifiez les horaires indiqués ; les numéros restent non vérifiés"),
    "bulk_refused_retry": (
        "BotHub answered 405 inside the assumed bulk window; trying again in "
        "{minutes:raw} min",
        "BotHub a répondu 405 pendant la plage horaire supposée des tâches en masse ; "
        "nouvel essai dans {minutes} min"),
    "bulk_window_wait": (
        "bulk window closed: waiting until {opening:when} ({hours:dec} h)",
        "plage horaire des tâches en masse fermée : attente jusqu'au {opening:when} "
        "({hours:dec} h)"),
}


class Note(str):
    """A note's English text (what every English reader prints), carrying its
    ``code`` and ``params`` for the reports that word it in another language.

    A ``str`` so the lists of notes stay lists of lines for every caller; copies,
    pickles and ``json.dumps`` keep working (JSON writes the English text)."""

    code: str
    params: dict[str, Any]

    def __new__(cls, text: str, code: str = "", params: dict[str, Any] | None = None
                ) -> Note:
        self = super().__new__(cls, text)
        self.code, self.params = code, dict(params or {})
        return self


class _Wording(string.Formatter):
    """Writes each placeholder by the rules of one language (the module docstring)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        from rcsqualify import l10n

        lang = self.lang
        if format_spec == "raw":
            return str(value)
        if format_spec in ("pct1", "pct2"):
            return l10n.percent(float(value), lang, int(format_spec[-1]))
        if format_spec == "dec":
            return l10n.decimal(float(value), lang, 1)
        if format_spec == "date":
            return l10n.day(value, lang)
        if format_spec == "when":
            assert isinstance(value, datetime)
            return f"{value:%Y-%m-%d %H:%M %Z}" if lang == "en" else l10n.when(value, lang)
        if format_spec:
            raise ValueError(f"unknown note format {format_spec!r}")
        if isinstance(value, int) and not isinstance(value, bool):
            return l10n.number(value, lang)
        return str(value)


def render(code: str, params: dict[str, Any], lang: str) -> str:
    """The sentence of ``code`` in ``lang`` (``en`` or ``fr``) with its parameters."""
    english, french = NOTES[code]
    return _Wording(lang).format(french if lang == "fr" else english, **params)


def note(code: str, **params: Any) -> Note:
    """A note of :data:`NOTES` (a ``KeyError`` for an unknown code: a test reads every
    code in both languages)."""
    return Note(render(code, params, "en"), code, params)


def in_language(text: str, lang: str) -> str:
    """A line of a report in ``lang``: a :class:`Note` worded in it; any other line
    (a server's or a store's own words) as it came."""
    if isinstance(text, Note) and text.code:
        return render(text.code, text.params, lang)
    return str(text)
