"""The HTML report for managers (issue #16 item 9): both languages, human labels, the
send plan first, a gauge, a dated trend including this run, de-duplicated masked
examples, repairs apart, no flag in the prose, and no label wider than its box in
headless Chromium."""

from __future__ import annotations

import html as htmllib
import json
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from rcsqualify.report.html import TEXT, default_lang, format_html
from tests.conftest import ROOT, SAMPLE
from tests.helpers import check_json, run_cli

AT = datetime.fromisoformat("2026-03-12T14:05:00+01:00")


def _summary(tmp_path: Path) -> object:
    """A real summary of the sample base, with a long operator name and hostile text."""
    from rcsqualify.contacts import ContactSource
    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.pipeline import run_check
    from rcsqualify.report.summary import summarize

    plan = load_plan()
    with ContactSource(str(SAMPLE / "contacts.csv")) as source:
        result = run_check(source, plan)
        summary = summarize(result, plan, input_info=source.info.as_dict(), threshold=0.15)
    summary.operator_names["FRTE"] = "Orange " + "Télécommunications" * 4  # one long word
    summary.examples["too_short"] = ["06 07 12", "06 07 12", "06 07 12"]
    summary.warnings.append("<b>note</b> from a server")
    return summary


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_page_in_each_language(tmp_path: Path, lang: str) -> None:
    s = _summary(tmp_path)
    page = format_html(s, [{"at": "2026-03-10T02:00:00", "error_ratio": 0.2}],  # type: ignore[arg-type]
                       lang=lang, generated_at=AT)
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", page))
    assert f'<html lang="{lang}">' in page
    # the run's date and the input's name
    assert ("12/03/2026 à 14:05" if lang == "fr" else "2026-03-12 14:05") in text
    assert "contacts.csv" in text
    # human labels, operator names, no snake_case status, no ARCEP code as a name
    labels = ("Numéro invalide", "Non vérifié", "Pas un mobile") if lang == "fr" else (
        "Invalid number", "Not verified", "Not a mobile")
    assert all(label in text for label in labels)
    prose = text.split(TEXT[lang]["howto_h"])[0]  # the footnote names the list files
    for raw in ("not_mobile", "other_operator", "not_rcs", "excel_scientific"):
        assert raw not in prose
    assert "Bouygues Telecom" in text and ">BOUY<" not in page
    # the send plan before the decision, the gauge
    gauge = page.index('<div class="gauge"')
    assert page.index('id="send-plan"') < page.index('id="verdict"') < gauge
    # the trend includes this run, dated
    assert ("10/03/2026" if lang == "fr" else "2026-03-10") in text
    assert ("12/03/2026" if lang == "fr" else "2026-03-12") in text.split(
        TEXT[lang]["trend_h"])[1]
    # masked examples de-duplicated; repairs in their own table, before the invalid ones
    assert text.count("06 07 12") == 1
    repaired, invalid = TEXT[lang]["repaired_h"], TEXT[lang]["invalid_h"]
    between = text.split(repaired)[1].split(invalid)[0]
    assert ("0 initial rétabli" if lang == "fr" else "leading 0 restored") in between
    assert ("trop court" if lang == "fr" else "too short") not in between
    # no flag in the prose: only in the "how to" footnote
    mine = re.sub(r"<style>.*?</style>", "", page, flags=re.S).split(
        f"<h2>{TEXT[lang]['notes_h']}")[0]  # the technical notes quote other modules
    assert not re.search(r"--[a-z]", htmllib.unescape(re.sub(r"<[^>]+>", " ", mine)))
    assert "--gate upper" in page.split("<footer>")[1]
    # text from a server is escaped
    assert "<b>note</b>" not in page and "&lt;b&gt;note&lt;/b&gt;" in page
    # every sentence exists in both languages
    assert set(TEXT["fr"]) == set(TEXT["en"])


def test_default_language_follows_the_locale() -> None:
    assert default_lang({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert default_lang({"LC_ALL": "en_US.UTF-8", "LANG": "fr_FR.UTF-8"}) == "en"
    assert default_lang({}) == "fr"  # cron's locale: the product's readers are French


def test_lang_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    out = tmp_path / "r.html"
    run_cli(["check", str(SAMPLE / "contacts.csv"), "--html-report", str(out), "-q"])
    assert '<html lang="fr">' in out.read_text(encoding="utf-8")
    run_cli(["check", str(SAMPLE / "contacts.csv"), "--html-report", str(out), "-q",
             "--lang", "en"])
    assert '<html lang="en">' in out.read_text(encoding="utf-8")
    bad = run_cli(["check", str(SAMPLE / "contacts.csv"), "--html-report", str(out),
                   "--lang", "de"])
    assert bad.exit_code == 2 and "--lang must be fr or en" in bad.stderr


#: measures every label-like element and writes what overflows into the DOM
_MEASURE = """<script>
const out = [];
for (const el of document.querySelectorAll(
    '.label, .num, .kpi, .key, .date, td, th, h1, h2, .verdict, .meta, .plan, li')) {
  if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== 'none')
    out.push(el.className + ':' + el.textContent.trim().slice(0, 40) + ':' +
             el.scrollWidth + '>' + el.clientWidth);
}
document.body.setAttribute('data-overflow', JSON.stringify(out));
document.body.setAttribute('data-measured', String(document.querySelectorAll('.label').length));
</script>"""


def _chromium(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("width", [1000, 600])
def test_no_label_overflows_in_chromium(tmp_path: Path, chromium: str, lang: str,
                                        width: int) -> None:
    s = _summary(tmp_path)
    history = [{"at": f"2026-03-0{i}T02:00:00", "error_ratio": r}
               for i, r in enumerate([0.21, 0.18, 0.16, 0.14], start=1)]
    page = format_html(s, history, lang=lang, generated_at=AT)  # type: ignore[arg-type]
    assert "<script" not in page  # the report itself has none; the test adds one
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = _chromium(chromium, tmp_path, f"--window-size={width},2000",
                    "--virtual-time-budget=3000", "--dump-dom", probe.as_uri()).stdout
    found = re.search(r'data-overflow="([^"]*)"', dom)
    assert found, dom[:500]
    overflow = json.loads(htmllib.unescape(found.group(1)))
    assert overflow == [], overflow
    measured = re.search(r'data-measured="(\d+)"', dom)
    assert measured and int(measured.group(1)) > 10  # the labels were there to measure


@pytest.mark.browser
def test_screenshots_in_docs_are_current(tmp_path: Path, chromium: str) -> None:
    """Renders the README's screenshots (docs/report_fr.png, docs/report_en.png) from the
    sample base with its extract, in both languages."""
    log = tmp_path / "cron.log"
    log.write_text("\n".join(json.dumps({"at": f"2026-03-0{i}T02:00:00", "error_ratio": r})
                             for i, r in enumerate([0.19, 0.16, 0.14], start=1)) + "\n")
    for lang in ("fr", "en"):
        page = tmp_path / f"report_{lang}.html"
        check_json([str(SAMPLE / "contacts.csv"), "--portability",
                                str(SAMPLE / "portability.csv"), "--html-report", str(page),
                                "--history", str(log), "--lang", lang])
        shot = tmp_path / f"report_{lang}.png"
        _chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1000,2700",
                  "--hide-scrollbars", page.as_uri())
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        kept = ROOT / "docs" / f"report_{lang}.png"
        assert kept.is_file(), f"copy {shot} to {kept}"
