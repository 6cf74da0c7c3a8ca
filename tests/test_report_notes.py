"""The notes of a run are entirely French in the French reports (issue #26 item 6).

A note is a code and its parameters (rcsqualify/notes.py); the HTML and Markdown
reports word it in their language, the terminal and the JSON keep the English line.
Every code has both sentences, every code made anywhere in the package is in the table
(and every entry of the table is made somewhere), and a French page carries none of
the English sentences, nor English prose or a command-line identifier in its notes."""

from __future__ import annotations

import html as htmllib
import json
import re
import string
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rcsqualify.notes import NOTES, Note, in_language, note, render
from rcsqualify.report.html import format_html
from rcsqualify.report.markdown import format_markdown
from tests.helpers import frte_numbers, run_cli, write_csv

PACKAGE = Path(__file__).resolve().parent.parent / "rcsqualify"
OPENING = datetime(2026, 1, 15, 7, 0, tzinfo=UTC)

#: one set of parameters per code: a new code without its sample fails the first test
SAMPLES: dict[str, dict[str, Any]] = {
    "range_only_unnamed": {"count": 2354},
    "range_only": {"count": 2354},
    "offline_unverified": {"count": 6000, "upper": 0.4321},
    "plan_stale": {"age": 120, "plan_date": date(2026, 1, 2)},
    "port_no_dates": {"name": "portage.csv", "answered": 1200},
    "port_stale": {"name": "portage.csv", "age": 45, "newest": "2026-01-02",
                   "max_age": 30, "answered": 1200},
    "port_unmapped": {"name": "portage.csv", "unmapped": 3, "fixed": 0,
                      "examples": "XFRTE", "share": 0.01},
    "port_fixed_prefix": {"name": "portage.csv", "unmapped": 0, "fixed": 4,
                          "examples": "", "share": 0.02},
    "port_unmapped_fixed_prefix": {"name": "portage.csv", "unmapped": 3, "fixed": 4,
                                   "examples": "XFRTE", "share": 0.03},
    "port_unparsed_dates": {"name": "portage.csv", "count": 7},
    "fixed_sample": {"sample": 6000},
    "contacts_capped": {"capped": 12, "cap": 3, "dropped": 1500},
    "ranks_not_numbers": {"count": 2, "column": "rang"},
    "history_damaged": {"count": 2, "path": "historique.ndjson"},
    "xlsx_control_characters": {"count": 5},
    "xlsx_output_cells": {"count": 5, "name": "annotated.xlsx"},
    "alert_undelivered": {"target": "https://hooks.example/…", "why": "HTTP 500"},
    "alert_state_unwritable": {"path": "/var/lib/rcsqualify/alerts.json"},
    "alert_state_locked": {"path": "/var/lib/rcsqualify/alerts.json", "wait": 10.0},
    "cache_failed": {"location": "/var/cache/rcsqualify", "why": "disk full"},
    "quota_lost": {"host": "redis.example:6379", "why": "connection reset"},
    "throttled_gave_up": {"service": "BotHub", "what": "HTTP 429 to 20 requests in a row",
                          "count": 20, "seconds": 61.5},
    "max_requests": {"service": "BotHub", "limit": 5000},
    "token_failed": {"url": "https://auth.example/token", "why": "HTTP 503", "attempts": 4},
    "cache_key_stored": {"location": "/var/cache/rcsqualify"},
    "redis_evicts": {"host": "redis.example:6379", "policy": "allkeys-lru"},
    "single_lookups": {"count": 6000, "limit": 100},
    "bulk_contradictory": {"count": 3},
    "bulk_done_missing": {"missing": 3, "total": 1000},
    "bulk_failed": {},
    "bulk_unrecognized": {},
    "bulk_no_job_id": {},
    "bulk_forgotten": {"count": 2},
    "bulk_poll_failed": {"count": 4, "kinds": "HTTP 503 × 4"},
    "bulk_unfinished": {"count": 2},
    "bulk_refused_inside": {"window": "20:00-06:00"},
    "bulk_refused_outside": {"window": "20:00-06:00", "opening": OPENING},
    "bulk_refused_all_window": {},
    "bulk_refused_retry": {"minutes": "15"},
    "bulk_window_wait": {"opening": OPENING, "hours": 3.5},
}

#: English prose and command-line identifiers a French note must not hold
_ENGLISH = re.compile(
    r"--[a-z]|\b(the|is|are|of|and|not|numbers?|stays?|unverified|rest|run|with|"
    r"given|up|after|send_rcs|ported_out|range_holder|capability_negative)\b"
    r"|\b[a-z]+_[a-z_]+\b")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_note_has_both_sentences_and_a_sample() -> None:
    assert set(SAMPLES) == set(NOTES)
    for code, (english, french) in NOTES.items():
        assert english.strip() and french.strip(), code
        assert english != french, code
        assert _fields(english) | _fields(french) <= set(SAMPLES[code]), code
        render(code, SAMPLES[code], "en")  # every placeholder's format is known
        render(code, SAMPLES[code], "fr")


@pytest.mark.parametrize("code", sorted(NOTES))
def test_a_french_note_is_french(code: str) -> None:
    text = render(code, SAMPLES[code], "fr")
    # the data a note quotes (file names, a server's words) is not prose to check
    prose = text
    for value in SAMPLES[code].values():
        if isinstance(value, str):
            prose = prose.replace(value, " ")
    assert not _ENGLISH.search(prose), (code, _ENGLISH.search(prose), text)
    assert "6000" not in text and "2354" not in text  # counts by the French rules


def test_note_codes_made_in_the_package_are_in_the_table() -> None:
    made: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        made |= set(re.findall(r'\bnote\(\s*"([a-z_0-9]+)"', path.read_text("utf-8")))
        made |= set(re.findall(r'"((?:range_only)(?:_unnamed)?)"', path.read_text("utf-8")))
        made |= set(re.findall(r'"(port_[a-z_]+)"', path.read_text("utf-8")))
    assert made - set(NOTES) == set()
    assert set(NOTES) - made == set(), "a sentence of the table nobody says"


def test_a_note_is_its_english_line_everywhere_else() -> None:
    n = note("offline_unverified", count=6000, upper=0.4321)
    assert n == ("6,000 target-operator mobiles are unverified (no capability check was "
                 "run): the ratio could reach 43.2% if none of them is RCS-reachable")
    assert json.dumps([n]) == json.dumps([str(n)])
    import copy
    import pickle

    for same in (copy.deepcopy(n), pickle.loads(pickle.dumps(n))):
        assert isinstance(same, Note) and same.code == n.code and same.params == n.params
    assert in_language(n, "fr").startswith("6\u202f000 mobiles de l'opérateur visé")
    assert in_language("a server's own words", "fr") == "a server's own words"


def _page_text(page: str) -> str:
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_every_note_in_the_french_pages_is_french() -> None:
    """A summary carrying every kind of note: the French HTML and Markdown hold each
    French sentence and no English one; the English pages the reverse."""
    from tests.test_report_l10n import _big_summary

    s = _big_summary()
    notes = [note(code, **params) for code, params in SAMPLES.items()]
    s.warnings[:] = notes[::2]
    s.stale[:] = notes[1::2]
    at = datetime(2026, 3, 12, 13, 5, tzinfo=UTC)
    for lang, other in (("fr", "en"), ("en", "fr")):
        pages = {"html": " ".join(_page_text(format_html(s, lang=lang, generated_at=at))
                                  .split()),
                 "md": " ".join(format_markdown(s, lang=lang, generated_at=at).split())}
        for kind, page in pages.items():
            for n in notes:
                said = " ".join(render(n.code, n.params, lang).split())
                unsaid = " ".join(render(n.code, n.params, other).split())
                shown = said if kind == "html" else said.replace("*", r"\*")
                assert shown in page or _md_unescaped(said) in _md_unescaped(page), \
                    (lang, kind, n.code)
                assert unsaid not in page and _md_unescaped(unsaid) not in _md_unescaped(
                    page), (lang, kind, n.code)


def _md_unescaped(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def test_a_real_run_writes_its_notes_in_french(tmp_path: Path) -> None:
    """An offline run with two portability extracts (one stale with an unmapped operator
    and an unparsed date, one without dates): the French HTML and Markdown say each
    note in French and hold none of the English lines the JSON keeps."""
    numbers = frte_numbers(240, start=100)
    old = (datetime.now(UTC).date() - timedelta(days=60)).isoformat()
    rows = [[n, "SFR0", old] for n in numbers[:200]]  # one unmapped value: 0.5 %
    rows[3][1], rows[4][2] = "XFRTE", "pas une date"
    stale = write_csv(tmp_path / "portage.csv", [["msisdn", "operateur", "date"], *rows])
    undated = write_csv(tmp_path / "sans_dates.csv",
                        [["msisdn", "operateur"], *[[n, "FRTE"] for n in numbers[200:205]]])
    contacts = write_csv(tmp_path / "contacts.csv",
                         [["mobile"], *[[n] for n in numbers[190:]]])
    out = {k: tmp_path / f"r.{k}" for k in ("json", "html", "md")}
    result = run_cli(["check", str(contacts), "--portability", str(stale),
                      "--portability", str(undated), "--threshold", "1", "--lang", "fr",
                      "--json-report", str(out["json"]), "--html-report", str(out["html"]),
                      "--markdown-report", str(out["md"])])
    assert result.exit_code == 0, result.stderr
    report = json.loads(out["json"].read_text("utf-8"))
    english = [*report["warnings"], *report["stale"]]
    joined = " ".join(english)
    for expected in ("operator values map to no operator", "port dates do not parse",
                     "days old", "has no port dates", "no capability check was run"):
        assert expected in joined, expected  # every kind this run makes is there
    html = " ".join(_page_text(out["html"].read_text("utf-8")).split())
    md = _md_unescaped(" ".join(out["md"].read_text("utf-8").split()))
    section = {"html": html[html.index("Notes techniques"):],
               "md": md[md.index("### Notes"):]}
    for kind, text in section.items():
        for line in english:
            assert " ".join(line.split()) not in text, (kind, line)
        prose = re.sub(r"\S+\.csv|XFRTE", " ", text.split("rcsqualify ")[0])
        assert not _ENGLISH.search(prose), (kind, _ENGLISH.search(prose))
        for french in ("valeurs d'opérateur ne correspondent à aucun opérateur",
                       "dates de portage illisibles", "date de 60 jours",
                       "n'a pas de dates de portage", "aucune vérification RCS"):
            assert french in text, (kind, french)


def test_the_terminal_writes_every_count_one_way() -> None:
    """The terminal (English) groups thousands in every figure: the verdict's
    "6,000 messages" beside the send plan's "(2,354 more)", never "2354"."""
    from rcsqualify.report.terminal import format_terminal
    from tests.test_report_l10n import _big_summary

    s = _big_summary()
    s.warnings[:] = [note("range_only", count=2354)]
    text = format_terminal(s, width=200)
    assert "more):" in text and "2,354 mobile numbers" in text
    # a run of 4+ digits not part of a date, a time, a version or a decimal figure
    bare = [m.group() for m in re.finditer(r"(?<![\d.,:/-])\d{4,}(?![\d.,:/-])", text)]
    assert bare == [], bare


def test_no_report_line_is_written_as_an_english_string() -> None:
    """A line appended to a run's notes, warnings or stale lines is a ``note(code, …)``:
    a literal English sentence there would reach the French reports untranslated.
    (``learn`` writes its own reports, in its package.)"""
    literal = re.compile(r"\b(?:notes|warnings|stale_lines|stale)\s*\.\s*(?:append|insert)"
                         r"\(\s*(?:0\s*,\s*)?f?[\"']")
    found = [f"{path.relative_to(PACKAGE)}:{text[:m.start()].count(chr(10)) + 1}"
             for path in PACKAGE.rglob("*.py") if "learn" not in path.parts
             for text in [path.read_text("utf-8")] for m in literal.finditer(text)]
    assert found == []


def test_the_french_pages_have_no_code_iso_date_or_unformatted_figure() -> None:
    """Issue #26 item 6, the rest of the French page: every reason has a French label
    (the Markdown table named ``not_checked``), dates are written the French way (the
    ARCEP plan's was ``2026-04-17``), an offline run's capability is "aucune" (not
    ``none``), one run before is singular, and every count groups its thousands."""
    from rcsqualify.report.html import REASON_LABELS
    from rcsqualify.verdict import REASONS
    from tests.test_report_l10n import _big_summary

    for lang in ("fr", "en"):
        assert set(REASONS) - {""} <= set(REASON_LABELS[lang]), lang
    s = _big_summary()
    s.reasons["capability_error"] = 1234
    s.interval = {"method": "sample auto", "error_ratio_low": 0.1, "error_ratio_high": 0.2}
    at = datetime(2026, 3, 12, 13, 5, tzinfo=UTC)
    history = [{"at": "2026-03-10T08:00:00+00:00", "error_ratio": 0.1, "decision": "pass",
                "messages": 6001}]
    page = format_html(s, history, lang="fr", generated_at=at)
    html_text = _page_text(page)
    md = _md_unescaped(format_markdown(s, lang="fr", generated_at=at))
    assert "<title>Qualification de campagne RCS\u00a0: " in page
    assert "Une exécution avant celle-ci" in html_text
    for text in (html_text, md):
        prose = re.sub(r"--[a-z-]+(?: [A-Z]+)?|\S+\.(?:csv|html)|rcsqualify \S+ \S+|"
                       r"phonenumbers \S+", " ", text)  # how-to hints, file names, versions
        assert "17/04/2026" in text and not re.search(r"\d{4}-\d\d-\d\d", prose), prose
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", prose), re.search(
            r"\b[a-z]+_[a-z_]+\b", prose)
        bare = re.findall(r"(?<![\d,/:.\u202f])\d{4,}(?![\d/:.\u202f])", prose)
        assert bare == [], bare
    assert "vérification de capacité aucune" in md
    assert "(échantillonnage automatique)" in md and "sample auto" not in md


def test_a_count_in_a_note_is_grouped_and_an_option_value_is_as_typed() -> None:
    """The terminal groups its counts (``2,082``) since 72480a1: a note's counts too
    (a 6,000-row base printed 'bothub: 2082 numbers to ask one by one' beside
    '6,000 rows'); an option's value stays as the reader types it back."""
    line = str(note("single_lookups", count=2082, limit=1000))
    assert line.startswith("bothub: 2,082 numbers") and "--single-warn 1000)" in line
    assert str(note("bulk_unfinished", count=1234)).startswith("1,234 BotHub bulk job(s)")
    assert "for 1,500 of its 3,000 numbers" in str(
        note("bulk_done_missing", missing=1500, total=3000))


def test_one_conflicting_number_is_singular_on_the_terminal() -> None:
    sample = PACKAGE.parent / "sample_data"
    result = run_cli(["check", str(sample / "contacts.csv"), "--portability",
                      str(sample / "portability.csv")])
    said = result.stdout + result.stderr
    assert "1 conflicting number" in said and "1 conflicting numbers" not in said
