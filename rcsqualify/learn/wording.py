"""``learn``'s words, in English and French (issue #28 review, item 2d).

The HTML and Markdown reports follow the language rule of ``check``'s reports
(``report/l10n.py``: ``--lang`` > the profile's ``lang`` > ``RCSQUALIFY_LANG`` > the
locale, C/POSIX giving French), and a French report is French throughout: title,
tables, the verdict and every detail line. The terminal and the JSON report stay
English, as ``check``'s do. Kept apart from ``report/wording.py`` (the check reports'
notes): the two vocabularies do not share a sentence.
"""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Campaign outcome: actual against projected",
        "actual": "actual", "projected": "projected", "na": "n/a",
        "v_actual": "actual error ratio {r} ({f} of {m} messages failed as not RCS)",
        "v_sent": "; projected for the list sent {r}, up to {u} with the bound ({k} of "
                  "{m} messages matched to the check run, {x} unmatched)",
        "v_whole": "; projected for the whole send list {r} for {m} messages{upper}",
        "v_whole_upper": ", up to {u} with the unverified",
        "v_threshold": "; threshold {t}",
        "r_sent": "Messages sent",
        "r_matched": "matched to the check run / unmatched",
        "r_failed": "Failed (actual) / known errors (projected)",
        "r_ratio_sent": "Error ratio (list sent)",
        "r_bound": "With the bound (stale, unverified, unmatched)",
        "r_estimate": "Estimate (sample)",
        "r_whole_report": "Whole send list (report)",
        "r_ratio": "Error ratio (not RCS)",
        "r_whole": "{v} (whole send list)",
        "r_unverified": "With the unverified (bound)",
        "ages_h": "Not RCS by the age of the cached answer",
        "age": "age of the cached answer", "messages": "messages", "not_rcs": "not RCS",
        "ratio": "ratio", "details_h": "Details",
        "< 7 days": "< 7 days", "7-30 days": "7-30 days", "30-60 days": "30-60 days",
        "60-90 days": "60-90 days", "> 90 days": "> 90 days", "not cached": "not cached",
        "l_learned": "learned from {e} events ({files}; outcome profile {p}) into the cache "
                     "scope {s}",
        "l_events": "events: {reach} delivered/read, {no} not RCS, {failed} other "
                    "failures, {other} without conclusion; {bad} unreadable lines",
        "l_first_bad": " (first: {where})",
        "l_invalid": ", {invalid} not valid French numbers, {none} without a number",
        "l_unknown_ids": ", {n} message ids not in --sent",
        "l_ids_only": " ({n} carry only a message id: give --sent FILE mapping message "
                      "ids to numbers)",
        "l_undated": ", {n} undated (dated at the file's time)",
        "l_numbers": "numbers: {n}: {reach} reachable, {no} not RCS, {failed} failed (no "
                     "conclusion), {other} without outcome; {both} with contradictory "
                     "events (the latest won)",
        "l_cache": "cache: {reach} reachable and {no} not RCS learned (source delivery); "
                   "{kept} kept the newer answer the cache held",
        "l_sent_dup": "--sent lists {d} message ids more than once ({c} with another "
                      "number): the first line of each id counts, the others are not "
                      "messages",
        "l_wrong": "wrong statuses: {yes_no} numbers the cache held reachable failed as "
                   "not RCS; {no_yes} held not RCS were delivered",
        "l_ages": "messages not RCS by the age of the cached answer: {rows}",
        "l_age_row": "{age} {r} of {m} messages",
        "l_projection": "projection for the list sent ({files}): {m} messages, {k} matched "
                        "to the check run ({statuses}), {x} unmatched; {known} known "
                        "errors; in the bound: {stale} on answers past their freshness, "
                        "{unv} unverified ({ns} not sampled{how}), {x} unmatched",
        "l_by_interval": ", bound from the sample's interval",
        "l_no_match": "warning: none of the {m} messages sent is in {files}: give the "
                      "output of the check run that produced this send list",
        "l_none": "none",
        "l_degraded": "the cache failed while writing ({why}): not everything learned was "
                      "kept",
        "l_interrupted": "interrupted: what was read before the interruption was learned",
    },
    "fr": {
        "title": "Résultat de la campagne : réel et projeté",
        "actual": "réel", "projected": "projeté", "na": "n. d.",
        "v_actual": "taux d'erreur réel {r} ({f} messages sur {m} en échec : pas RCS)",
        "v_sent": " ; projeté pour la liste envoyée {r}, jusqu'à {u} avec la borne ({k} "
                  "messages sur {m} rapprochés de la vérification, {x} non rapprochés)",
        "v_whole": " ; projeté pour toute la liste d'envoi {r} pour {m} messages{upper}",
        "v_whole_upper": ", jusqu'à {u} avec les non vérifiés",
        "v_threshold": " ; seuil {t}",
        "r_sent": "Messages envoyés",
        "r_matched": "rapprochés de la vérification / non rapprochés",
        "r_failed": "En échec (réel) / erreurs connues (projeté)",
        "r_ratio_sent": "Taux d'erreur (liste envoyée)",
        "r_bound": "Avec la borne (réponses périmées, non vérifiés, non rapprochés)",
        "r_estimate": "Estimation (échantillon)",
        "r_whole_report": "Toute la liste d'envoi (rapport)",
        "r_ratio": "Taux d'erreur (pas RCS)",
        "r_whole": "{v} (toute la liste d'envoi)",
        "r_unverified": "Avec les non vérifiés (borne)",
        "ages_h": "Pas RCS selon l'âge de la réponse en cache",
        "age": "âge de la réponse en cache", "messages": "messages",
        "not_rcs": "pas RCS", "ratio": "taux", "details_h": "Détails",
        "< 7 days": "< 7 jours", "7-30 days": "7 à 30 jours", "30-60 days": "30 à 60 jours",
        "60-90 days": "60 à 90 jours", "> 90 days": "> 90 jours",
        "not cached": "absente du cache",
        "l_learned": "appris de {e} événements ({files} ; profil de résultats {p}) dans "
                     "la portée de cache {s}",
        "l_events": "événements : {reach} remis ou lus, {no} pas RCS, {failed} autres "
                    "échecs, {other} sans conclusion ; {bad} lignes illisibles",
        "l_first_bad": " (première : {where})",
        "l_invalid": ", {invalid} numéros français non valides, {none} sans numéro",
        "l_unknown_ids": ", {n} identifiants de message absents de --sent",
        "l_ids_only": " ({n} ne portent qu'un identifiant de message : donnez --sent "
                      "FICHIER, qui associe identifiants et numéros)",
        "l_undated": ", {n} sans date (datés de l'heure du fichier)",
        "l_numbers": "numéros : {n} : {reach} joignables, {no} pas RCS, {failed} en échec "
                     "(sans conclusion), {other} sans résultat ; {both} aux événements "
                     "contradictoires (le plus récent l'emporte)",
        "l_cache": "cache : {reach} joignables et {no} pas RCS appris (source : remise) ; "
                   "{kept} ont gardé la réponse plus récente du cache",
        "l_sent_dup": "--sent cite {d} identifiants de message plus d'une fois ({c} avec "
                      "un autre numéro) : la première ligne de chaque identifiant compte, "
                      "les autres ne sont pas des messages",
        "l_wrong": "statuts démentis : {yes_no} numéros joignables selon le cache ont "
                   "échoué (pas RCS) ; {no_yes} pas RCS selon le cache ont été remis",
        "l_ages": "messages pas RCS selon l'âge de la réponse en cache : {rows}",
        "l_age_row": "{age} {r} de {m} messages",
        "l_projection": "projection pour la liste envoyée ({files}) : {m} messages, {k} "
                        "rapprochés de la vérification ({statuses}), {x} non rapprochés ; "
                        "{known} erreurs connues ; dans la borne : {stale} sur des "
                        "réponses périmées, {unv} non vérifiés ({ns} hors échantillon"
                        "{how}), {x} non rapprochés",
        "l_by_interval": ", borne tirée de l'intervalle de l'échantillon",
        "l_no_match": "attention : aucun des {m} messages envoyés n'est dans {files} : "
                      "donnez la sortie de la vérification qui a produit cette liste "
                      "d'envoi",
        "l_none": "aucun",
        "l_degraded": "le cache a échoué à l'écriture ({why}) : tout ce qui a été appris "
                      "n'a pas été gardé",
        "l_interrupted": "interrompu : ce qui a été lu avant l'interruption est appris",
    },
}

#: check's status names as a French reader reads them (the values stay the codes'
#: meaning; the JSON keeps the codes)
STATUS_FR = {"invalid": "invalides", "not_mobile": "non mobiles",
             "other_operator": "autre opérateur", "not_rcs": "pas RCS",
             "unverified": "non vérifiés", "reachable": "joignables"}
