"""Reports in the reader's time and language (issue #26 item 6): the language from
--lang > the profile > RCSQUALIFY_LANG > the locale (C/POSIX/unset: French), times in
Europe/Paris with the offset, every figure by the language's rules, no English label
in the French page, trend labels with the time, and the refresh log's keys."""

from __future__ import annotations

import html as htmllib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rcsqualify.report.html import TEXT, format_html
from rcsqualify.report.l10n import default_lang, number, percent, threshold, when
from rcsqualify.report.markdown import format_markdown
from tests.conftest import SAMPLE
from tests.helpers import run_cli

WINTER = datetime.fromisoformat("2026-01-15T13:05:00+00:00")
SUMMER = datetime.fromisoformat("2026-07-15T13:05:00+00:00")


@pytest.mark.parametrize(("environ", "lang"), [
    ({}, "fr"), ({"LANG": "C"}, "fr"), ({"LANG": "C.UTF-8"}, "fr"),
    ({"LC_ALL": "POSIX"}, "fr"), ({"LANG": "fr_FR.UTF-8"}, "fr"),
    ({"LANG": "en_US.UTF-8"}, "en"), ({"LANG": "de_DE.UTF-8"}, "en"),
    ({"LC_ALL": "C.UTF-8", "LANG": "en_US.UTF-8"}, "fr"),  # the first one set wins
    ({"LC_MESSAGES": "en_GB.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"),
])
def test_language_from_the_locale(environ: dict[str, str], lang: str) -> None:
    assert default_lang(environ) == lang


def test_numbers_by_the_language_rules() -> None:
    assert number(6001, "fr") == "6\u202f001" and number(6001, "en") == "6,001"
    assert percent(0.1284, "fr") == "12,84\u00a0%" and percent(0.1284, "en") == "12.84%"
    assert threshold(0.15, "fr") == "15\u00a0%" and threshold(0.125, "en") == "12.5%"
    assert number(1234567.5, "fr", 1) == "1\u202f234\u202f567,5"


def test_paris_time_with_its_offset_winter_and_summer() -> None:
    assert when(WINTER, "fr") == "15/01/2026 à 14:05 (heure de Paris, UTC+01:00)"
    assert when(SUMMER, "fr") == "15/07/2026 à 15:05 (heure de Paris, UTC+02:00)"
    assert when(SUMMER, "en") == "2026-07-15 15:05 (Paris time, UTC+02:00)"
    # a naive time (an old log line) is UTC
    assert when(datetime(2026, 1, 15, 13, 5), "en") == "2026-01-15 14:05 (Paris time, UTC+01:00)"


def _big_summary() -> Any:
    """The sample base's summary with every count in the thousands."""
    from rcsqualify.contacts import ContactSource
    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.pipeline import run_check
    from rcsqualify.report.summary import campaign_projection, summarize

    plan = load_plan()
    with ContactSource(str(SAMPLE / "contacts.csv")) as source:
        result = run_check(source, plan)
        s = summarize(result, plan, input_info=source.info.as_dict(), threshold=0.15)
    for table in (s.counts, s.operators, s.territories, s.reasons, s.repaired):
        for key in table:
            table[key] = table[key] * 1001 + 7
    for part in ("send_rcs", "with_unverified"):
        s.send_plan[part]["messages"] = s.send_plan[part]["messages"] * 1001 + 7
    s.projection = campaign_projection(s.counts, price_message=0.05,
                                        price_conversation=0.095, reply_rate=0.1)
    s.warnings.append("a server's note")
    s.stale.append("the portability extract is 40 days old")
    return s


def _text(page: str) -> str:
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_french_page_every_figure_and_label_french() -> None:
    s = _big_summary()
    history = [{"at": "2026-01-15T07:00:00+00:00", "error_ratio": 0.2}]
    page = format_html(s, history, lang="fr", generated_at=WINTER)
    text = _text(page)
    body = text.split(TEXT["fr"]["howto_h"])[0]  # the footer names versions and files
    assert "15/01/2026 à 14:05 (heure de Paris, UTC+01:00)" in body
    figures = body.split(TEXT["fr"]["notes_h"])[0]  # notes quote other text
    no_dates = re.sub(r"\d{2}/\d{2}/\d{4}( \d{2}:\d{2})?", "", figures)
    assert not re.search(r"\d{4}", no_dates), re.findall(r".{20}\d{4}.{5}", no_dates)
    assert not re.search(r"\d[.,]\d{3}\b", no_dates)  # no 6,001 nor 6.001
    assert not re.search(r"\d\.\d", no_dates)  # decimal comma
    assert number(s.counts["messages"], "fr") in body
    assert "€" in body and re.search(r"\d,\d{2}\u00a0€", body)
    # no English section label, no list identifier in the prose
    assert "(en anglais)" not in text and "English" not in text
    assert "send_rcs" not in body and "stale:" not in body
    assert "données anciennes\u00a0: the portability extract" in body


def test_english_page_figures() -> None:
    s = _big_summary()
    page = format_html(s, [], lang="en", generated_at=SUMMER)
    body = _text(page).split(TEXT["en"]["howto_h"])[0]
    assert "2026-07-15 15:05 (Paris time, UTC+02:00)" in body
    assert number(s.counts["messages"], "en") in body and "," in number(s.counts["messages"], "en")
    figures = body.split(TEXT["en"]["notes_h"])[0]  # notes quote other text
    no_dates = re.sub(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?", "", figures)
    assert not re.search(r"\d{4}", no_dates), re.findall(r".{20}\d{4}.{5}", no_dates)


def test_two_runs_on_one_day_have_distinct_trend_labels() -> None:
    s = _big_summary()
    history = [{"at": "2026-07-15T02:00:00+00:00", "error_ratio": 0.2},
               {"at": "2026-07-15T09:30:00+00:00", "error_ratio": 0.18}]
    page = format_html(s, history, lang="fr", generated_at=SUMMER)
    dates = re.findall(r'<span class="date">([^<]*)<br>', page)
    assert dates == ["15/07/2026 04:00", "15/07/2026 11:30", "15/07/2026 15:05"]


def test_two_runs_of_one_minute_have_distinct_trend_labels() -> None:
    """A refresh re-run at once (cron and a hand run, a retry): labels give the seconds
    when two points share a minute, and only then."""
    s = _big_summary()
    history = [{"at": "2026-07-15T13:05:00+00:00", "error_ratio": 0.2}]
    page = format_html(s, history, lang="fr",
                       generated_at=datetime.fromisoformat("2026-07-15T13:05:41+00:00"))
    dates = re.findall(r'<span class="date">([^<]*)<br>', page)
    titles = re.findall(r"<title>([^<]*)</title>", page)[1:]  # [0]: the page's
    assert dates == ["15/07/2026 15:05:00", "15/07/2026 15:05:41"]
    assert len(set(titles)) == len(titles) == 2
    page = format_html(s, history, lang="en", generated_at=SUMMER.replace(minute=6))
    assert re.findall(r'<span class="date">([^<]*)<br>', page) == [
        "2026-07-15 15:05", "2026-07-15 15:06"]


def _lang_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
             *args: str) -> str:
    for key in ("LC_ALL", "LC_MESSAGES", "LANG", "RCSQUALIFY_LANG"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "r.html"
    md = tmp_path / "r.md"
    result = run_cli(["check", str(SAMPLE / "contacts.csv"), "--html-report", str(out),
                      "--markdown-report", str(md), "-q", *args])
    assert result.exit_code in (0, 1, 3), result.stderr
    found = re.search(r'<html lang="(\w+)">', out.read_text(encoding="utf-8"))
    assert found
    page = md.read_text(encoding="utf-8")
    assert ("heure de Paris" in page) == (found.group(1) == "fr"), page  # the same language
    assert ("Paris time" in page) == (found.group(1) == "en"), page
    return found.group(1)


def test_report_language_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.en]\nlang = "en"\n[profiles.fr]\nlang = "fr"\n',
                      encoding="utf-8")
    assert _lang_of(tmp_path, monkeypatch, {"LANG": "C"}) == "fr"  # cron
    assert _lang_of(tmp_path, monkeypatch, {}) == "fr"
    assert _lang_of(tmp_path, monkeypatch, {"LANG": "en_US.UTF-8"}) == "en"
    assert _lang_of(tmp_path, monkeypatch, {"LANG": "C"}, "--lang", "en") == "en"
    assert _lang_of(tmp_path, monkeypatch, {"LANG": "C"}, "--config", str(config),
                    "--profile", "en") == "en"
    assert _lang_of(tmp_path, monkeypatch, {"LANG": "C", "RCSQUALIFY_LANG": "en"}) == "en"
    # the profile beats the environment variable; the option beats the profile
    assert _lang_of(tmp_path, monkeypatch, {"RCSQUALIFY_LANG": "en"}, "--config",
                    str(config), "--profile", "fr") == "fr"
    assert _lang_of(tmp_path, monkeypatch, {}, "--config", str(config), "--profile", "fr",
                    "--lang", "en") == "en"


def test_refresh_log_line_has_version_gate_mode_and_decision(tmp_path: Path) -> None:
    from rcsqualify import __version__

    log = tmp_path / "cron.log"
    result = run_cli(["refresh", str(SAMPLE / "contacts.csv"), "--split-dir",
                      str(tmp_path / "lists"), "--log-file", str(log), "--threshold", "1"])
    assert result.exit_code in (0, 3), result.stderr
    line = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert line["version"] == __version__
    assert line["gate_mode"] in ("decide", "known", "upper")
    assert line["decision"] in ("pass", "undecided")
    assert line["at"].endswith("+00:00")  # the log stays UTC


def test_french_markdown_every_figure_french() -> None:
    s = _big_summary()
    page = format_markdown(s, lang="fr", generated_at=SUMMER)
    assert "exécution du 15/07/2026 à 15:05 (heure de Paris, UTC+02:00)" in page
    figures = page.split("### Notes")[0]
    no_dates = re.sub(r"\d{2}/\d{2}/\d{4}", "", figures)
    assert not re.search(r"\d{4}", no_dates), re.findall(r".{20}\d{4}.{5}", no_dates)
    assert not re.search(r"\d\.\d", no_dates) and not re.search(r"\d,\d{3}\b", no_dates)
    assert number(s.counts["messages"], "fr") in page
    assert percent(s.error_ratio, "fr") in page
    for english in ("send_rcs", "send\\_rcs", "Send plan", "threshold", "stale:", "rows"):
        assert english not in page, english
    assert "Numéro invalide" in page and TEXT["fr"][f"verdict_{s.decision}"] in page
    # the raw page reads as French (a chat or mail shows it unrendered): no backslash
    # before an apostrophe, a decimal comma, a percent sign or a semicolon
    for escaped in ("\\'", "\\,", "\\%", "\\;", "\\/"):
        assert escaped not in page, escaped


def test_english_markdown_figures() -> None:
    s = _big_summary()
    page = format_markdown(s, lang="en", generated_at=WINTER)
    assert "run of 2026-01-15 14:05 (Paris time, UTC+01:00)" in page
    assert number(s.counts["messages"], "en") in page and "," in number(s.counts["messages"], "en")


@pytest.mark.parametrize("method", ["sample", "sample auto", "batchGet random sample"])
def test_every_report_gives_the_interval_at_the_confidence_it_was_drawn(method: str) -> None:
    """An estimate drawn at --confidence 0.99 is a 99 % interval in the HTML, the
    Markdown and the terminal, never the default's 95 % (a carry-over of issue #26)."""
    from rcsqualify.report.terminal import format_terminal

    s = _big_summary()
    s.interval = {"method": method, "confidence": 0.99, "error_ratio_estimate": 0.12,
                  "error_ratio_low": 0.1, "error_ratio_high": 0.2, "trials": 300,
                  "extrapolated": 5000, "observed": 300, "unresolved": 5000, "drawn": 300,
                  "sample_max": 500}
    at = datetime(2026, 3, 12, 13, 5, tzinfo=UTC)
    pages = {"fr html": _text(format_html(s, lang="fr", generated_at=at)),
             "en html": _text(format_html(s, lang="en", generated_at=at)),
             "fr md": format_markdown(s, lang="fr", generated_at=at),
             "en md": format_markdown(s, lang="en", generated_at=at),
             "terminal": format_terminal(s, width=400)}
    for where, page in pages.items():
        flat = " ".join(page.replace("\u00a0", " ").split())
        assert "99 %" in flat or "99%" in flat, where
        assert "95 %" not in flat and "95%" not in flat, where


def test_a_batchget_estimate_records_the_confidence_its_interval_uses() -> None:
    from rcsqualify.pipeline import batch_estimate
    from rcsqualify.report.summary import estimate_interval

    narrow, wide = (estimate_interval(batch_estimate(400, 500, requested=800, listed=300,
                                                     unlisted=500, confidence=c), 10, 1000)
                    for c in (0.9, 0.99))
    assert wide["confidence"] == 0.99
    assert wide["error_ratio_high"] > narrow["error_ratio_high"]


def test_counted_nouns_agree_with_their_number_in_each_language() -> None:
    """'1 numéros ajoutés, 0 retirés' / '1 numbers added' in the trend's movement line,
    '1 sent campaigns' under the chart: a count's noun follows the language's rule
    (French singular for 0 and 1)."""
    from rcsqualify.report.html import _movement

    fr = _movement({"added": 1, "removed": 0, "moves": []}, "fr")
    assert fr == "Depuis l'exécution précédente : 1 numéro ajouté, 0 retiré."
    en = _movement({"added": 1, "removed": 0, "moves": []}, "en")
    assert en == "Since the previous run: 1 number added, 0 removed."
    many = _movement({"added": 2, "removed": 3, "moves": []}, "fr")
    assert many == "Depuis l'exécution précédente : 2 numéros ajoutés, 3 retirés."
