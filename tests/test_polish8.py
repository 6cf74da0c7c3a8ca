"""Polish of session 8: what a new user met on the README's tour and in the reports.

1. ``--sample auto``'s bound never says less than is known for certain: the numbers
   drawn past the decision are answered (their failures are in ``known``) but were never
   fed to the confidence sequence, so its low end could sit below ``known``.
2. Counted nouns agree with their count on the terminal (``1 row``, ``2 rows``).
3. ``rcsqualify plan`` groups its counts (``19,729 blocks``) as the check's terminal does.
4. ``portability info`` off a terminal never cuts a sentence at 80 columns.
5. doctor on a new Redis cache with a key given says that key will be used.
6. The Markdown report escapes what is Markdown where it is, and a plain sentence's
   ``: . ( )`` stay as typed in the raw page.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from rcsqualify.l10n import noun
from rcsqualify.report.escape import markdown_text
from rcsqualify.report.summary import estimate_interval, gate_from_counts
from rcsqualify.report.terminal import dry_run_lines, read_line
from tests.conftest import Emulator
from tests.helpers import check_json, run_cli, write_csv

ROOT = Path(__file__).resolve().parents[1]


def test_the_auto_bound_is_clamped_to_what_is_known_on_the_tour_base(
        tmp_path: Path, emulator: Emulator) -> None:
    """The README tour's step-4 gate on a cold cache: MNP and capability per drawn
    number, a decision after a few answers while a window more were in flight."""
    result, report = check_json([
        str(ROOT / "sample_data" / "contacts.csv"), *emulator.bothub_args(),
        "--mnp-url", emulator.mnp_url(), "--sample", "auto", "--sample-max", "300",
        "--cache-dir", str(tmp_path / "cache")])
    b, iv = report["bounds"], report["interval"]
    assert iv["drawn"] > iv["observed"]  # the situation the clamp is for
    assert b["known"] <= b["low"] <= b["high"] <= b["upper"], b
    assert iv["error_ratio_low"] >= b["known"] - 1e-6
    assert iv["error_ratio_high"] <= b["upper"] + 1e-6
    assert report["decision"] == "fail" and result.exit_code == 1


def test_the_clamp_itself() -> None:
    """Known 35 of 148 fail, 106 unverified; the sequence said 30..148."""
    estimate = {"method": "sample auto", "error_ratio_low": 30 / 148,
                "error_ratio_high": 1.0, "exact_failures": 12, "failures_low": 18,
                "failures_high": 136, "extrapolated": 106}
    iv = estimate_interval(estimate, 35, 148, 106)
    assert (iv["error_ratio_low"], iv["error_ratio_high"]) == (35 / 148, 141 / 148)
    assert iv["failures_low"] == 23
    counts = {"messages": 148, "not_rcs": 35, "unverified": 106, "reachable": 7}
    gate = gate_from_counts(counts, threshold=0.15, mode="decide", interval=estimate)
    assert gate.bounds["low"] == gate.bounds["known"] == 35 / 148
    assert gate.bounds["high"] == gate.bounds["upper"] == 141 / 148
    assert gate.decision == "fail"


# -- 2. counted nouns ----------------------------------------------------------------------

#: a count followed by a plural noun where the count is 1, or a "(s)" noun
WRONG = re.compile(r"(?<![\d,.])1 (rows|messages|conflicts|numbers|requests|entries|blocks"
                   r"|warnings|failures|cells|contacts|mobiles)\b|\w\(s\)")


@pytest.mark.parametrize("n", [1, 2])
def test_a_one_and_a_two_row_base_read_in_the_right_number(tmp_path: Path, n: int) -> None:
    base = write_csv(tmp_path / "c.csv", [["phone"], *[[f"061234567{i}"] for i in range(n)]])
    result = run_cli(["check", str(base), "--cache-dir", str(tmp_path / "cache")])
    said = result.stderr
    assert not WRONG.search(said), WRONG.search(said)
    if n == 1:
        assert "(csv): 1 row, column" in said
        assert "1 row = 1 message + 0 duplicate rows" in said
    else:
        assert "(csv): 2 rows, column" in said
        assert "2 rows = 2 messages + 0 duplicate rows" in said


def test_the_read_line_and_the_dry_run_agree_with_each_count() -> None:
    for n, words in ((1, ("1 row,", "1 footer row (", "1 formula cell without",
                          "1 short row (", "1 long row (")),
                     (2, ("2 rows,", "2 footer rows (", "2 formula cells without",
                          "2 short rows (", "2 long rows ("))):
        line = read_line({"path": "c.csv", "format": "csv", "rows": n, "column": "phone",
                          "footer_rows": n, "formulas_without_value": n, "short_rows": n,
                          "long_rows": n})
        assert all(w in line for w in words), line
    plan = {"input": {"rows": 1}, "mobiles": 1, "answered_offline": 0, "providers": {
        "bothub": {"to_ask": 1, "numbers": 1, "cached": 0, "requests": 1, "seconds": 1,
                   "rate": 30, "jobs": 1, "job_size": 1, "window": "22:00-06:00",
                   "window_open": False, "batches": 1}}}
    text = "\n".join(dry_run_lines(plan))
    assert not WRONG.search(text) and "1 distinct mobile," in text, text
    assert "1 request," in text and "1 bulk job of up to 1 number," in text, text
    assert noun(0, "row") == "0 rows" and noun(2000, "entry", "entries") == "2,000 entries"


def test_doctor_and_cache_forget_count_in_the_right_number(tmp_path: Path) -> None:
    doctor = run_cli(["doctor"])  # today the shipped plan is old: "1 warning"
    summary = doctor.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"doctor: \d+ ok, (1 warning|(?!1 )\d+ warnings), "
                        r"(1 failure|(?!1 )\d+ failures)", summary), summary
    forget = run_cli(["cache", "forget", "0612345678", "--cache-dir", str(tmp_path / "c")])
    assert forget.exit_code == 0 and "forgot 1 number: 0 cache entries removed" in forget.stdout


# -- 3. plan counts grouped ----------------------------------------------------------------

def test_plan_groups_its_counts() -> None:
    out = run_cli(["plan"]).stdout
    first = out.splitlines()[0]
    assert re.search(r"; \d{1,3}(,\d{3})+ blocks\.", first), first
    assert not re.search(r"\d{4,}", re.sub(r"\d{4}-\d\d-\d\d", "", out)), out


# -- 4. portability info off a terminal ----------------------------------------------------

def test_portability_info_keeps_each_sentence_on_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("TERMINAL_WIDTH", raising=False)
    day = (date.today() - timedelta(days=3)).isoformat()
    folder = tmp_path / "a-folder-name-long-enough-to-push-the-line-past-eighty-columns"
    folder.mkdir()
    ext = write_csv(folder / "p.csv", [["msisdn", "op", "date"], ["0612345678", "SFR0", day],
                                       ["0612345679", "SFR0", day]])
    store = folder / "store.parquet"
    assert run_cli(["portability", "import", str(ext), "--into", str(store)]).exit_code == 0
    info = run_cli(["portability", "info", str(store)])  # CliRunner: not a terminal
    assert info.exit_code == 0, info.output
    lines = info.stdout.splitlines()
    assert any(re.search(r"store\.parquet: 2 numbers from 2 extract rows, imported "
                         r"\d{4}-\d\d-\d\d", line) for line in lines), info.stdout
    assert any(re.search(r"p\.csv \(2 rows, newest port date .* date column 'date'\)$",
                         line) for line in lines), info.stdout


# -- 5. doctor: a new shared cache and the key given -----------------------------------------

def test_doctor_says_the_given_key_will_key_a_new_redis_cache(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    monkeypatch.setenv("RCSQUALIFY_CACHE_URL", redis_url)  # the fixture set the key
    result = run_cli(["doctor"])
    line = next(x for x in result.stdout.splitlines() if x.split(":")[0].endswith(" cache"))
    assert line.startswith("OK cache: ") and "no key yet" not in line, line
    assert ("no key recorded yet: the first write uses the key from RCSQUALIFY_CACHE_KEY "
            "and records its fingerprint") in line, line
    assert "5e5e" not in result.stdout
    assert redis.Redis.from_url(redis_url).keys("*") == [b"rcsq:layout"]  # nothing written


# -- 6. Markdown escaping ------------------------------------------------------------------

def test_a_plain_sentence_stays_as_typed_in_markdown() -> None:
    for text in ("Le taux d'erreur (voir plus bas) : 80,67 %. Fin.",
                 "FAIL: at least 23.65% of the 148 messages would fail (the bound).",
                 "12:30, 3.5 (ok); a/b? yes! {x} = y"):
        assert markdown_text(text) == text


def test_markdown_injection_stays_inert() -> None:
    cases = {
        "**gras** _x_ ~~y~~ `z` $m$": "\\*\\*gras\\*\\* \\_x\\_ \\~\\~y\\~\\~ \\`z\\` \\$m\\$",
        "[lien](http://evil.example)": "\\[lien\\](http\\://evil.example)",
        "![i](x)": "!\\[i\\](x)",
        "see HTTPS://evil.example/x": "see HTTPS\\://evil.example/x",
        "go to www.evil.example now": "go to www\\.evil.example now",
        "mail x@evil.example": "mail x\\@evil.example",
        "<script>alert(1)</script>": "&lt;script&gt;alert(1)&lt;/script&gt;",
        "a | b": "a \\| b",
        "# title": "\\# title", "- item": "\\- item", "+ item": "\\+ item",
        "=== ": "\\===", "> quote": "&gt; quote",
        "1. item": "1\\. item", "12) item": "12\\) item", "2.": "2\\.",
        "0.1.0": "0.1.0", "--capability bothub": "--capability bothub", "---": "\\---",
        "#123": "#123", "-5 %": "-5 %",
        "a\\*b": "a\\\\\\*b",  # a backslash in the data cannot undo ours
    }
    for raw, escaped in cases.items():
        assert markdown_text(raw) == escaped, (raw, markdown_text(raw))


def test_the_markdown_report_of_a_run_reads_raw(tmp_path: Path) -> None:
    base = write_csv(tmp_path / "c.csv", [["phone"], ["0612345678"], ["0142000000"]])
    page = tmp_path / "r.md"
    run_cli(["check", str(base), "--markdown-report", str(page), "--lang", "en", "-q"])
    text = page.read_text(encoding="utf-8")
    assert "**FAIL**: at least" in text and "(" in text and "rcsqualify 0.1" in text
    for over in ("\\:", "\\.", "\\(", "\\)", "\\,", "\\%", "\\'"):
        assert over not in text, (over, text)
