"""``learn --checked`` (issue #28 item 3): the check run's projection rebuilt for the
messages actually sent, from its per-number verdicts, beside the campaign's actual
ratio; the whole send list's ``send_plan`` only as a labelled fallback."""

from __future__ import annotations

import csv
import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest

from rcsqualify.remote.cache import LookupCache
from tests.conftest import Emulator
from tests.helpers import check_json, contacts_file, e164, frte_numbers, run_cli

BOT = ["--capability", "bothub", "--bot-id", "b1", "--bothub-url", "https://bothub.test/v1"]
ERRORS = {"invalid", "not_mobile", "other_operator", "not_rcs"}


def _learn(args: list[str]) -> tuple[int, dict, str, str]:
    result = run_cli(["learn", *args, "--json-report", "-"])
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report, result.stdout, result.stderr


def _verdicts(annotated: Path) -> dict[str, tuple[str, str]]:
    """E.164 → (status, reason), read from the check's annotated CSV by hand."""
    with annotated.open(encoding="utf-8-sig", newline="") as fh:
        sample = fh.readline()
        fh.seek(0)
        rows = csv.DictReader(fh, delimiter=";" if sample.count(";") > sample.count(",")
                              else ",")
        return {r["msisdn_e164"]: (r["status"], r["reason"]) for r in rows
                if r["msisdn_e164"]}


def _expected(verdicts: dict[str, tuple[str, str]], sent: list[str],
              share_high: float | None) -> dict[str, float | int]:
    """The projection for ``sent`` (one message each), computed independently."""
    m = len(sent)
    known = sum(verdicts[n][0] in ERRORS for n in sent if n in verdicts)
    unmatched = sum(n not in verdicts for n in sent)
    sampled_out = sum(verdicts[n] == ("unverified", "not_sampled") for n in sent
                      if n in verdicts)
    other = sum(verdicts[n][0] == "unverified" for n in sent if n in verdicts) - sampled_out
    bound = other + unmatched + (sampled_out if share_high is None
                                 else share_high * sampled_out)
    return {"messages": m, "known_errors": known, "unmatched": unmatched,
            "matched": m - unmatched, "not_sampled": sampled_out,
            "error_ratio": known / m, "error_ratio_upper": min(1.0, (known + bound) / m)}


def test_the_projection_is_rebuilt_for_the_list_actually_sent(
        tmp_path: Path, emulator: Emulator) -> None:
    """check (sampled) → annotated output → a send list the sender changed (the
    reachable, the not-sampled, three known not-RCS and a number the check never saw)
    → campaign → learn --projection --checked: the projection is the one computed
    here from the annotated file; sending only part of the list changes it."""
    numbers = frte_numbers(120)
    contacts = contacts_file(tmp_path, numbers)
    annotated = tmp_path / "annotated.csv"
    _, first = check_json([str(contacts), *emulator.bothub_args(), "--rate", "500",
                           "--threshold", "1", "--sample", "60", "--seed", "3",
                           "-o", str(annotated)])
    report = tmp_path / "first.json"
    report.write_text(json.dumps(first))
    verdicts = _verdicts(annotated)
    by = {st: [n for n, (s, _) in verdicts.items() if s == st]
          for st in ("reachable", "unverified", "not_rcs")}
    assert by["reachable"] and by["unverified"] and len(by["not_rcs"]) >= 3
    never_checked = e164("0607999999")
    sent = [*by["reachable"], *by["unverified"], *by["not_rcs"][:3], never_checked]
    share_high = first["interval"]["failure_share_high"]

    def campaign(numbers: list[str], name: str) -> Path:
        answer = httpx.post(f"{emulator.base}/_emulator/campaign", timeout=60, json={
            "numbers": numbers, "shape": "generic", "service": "bothub",
            "switch_off": 0.2})
        answer.raise_for_status()
        path = tmp_path / name
        path.write_bytes(answer.content)
        return path

    scope = ["--capability", "bothub", "--bot-id", "test-bot",
             "--bothub-url", f"{emulator.base}/bothub/v1"]
    html, md = tmp_path / "out.html", tmp_path / "out.md"
    def learn(numbers: list[str], name: str, *more: str) -> tuple[dict, dict]:
        code, learned, _, err = _learn([str(campaign(numbers, name)), *scope,
                                        "--projection", str(report), "--checked",
                                        str(annotated), *more])
        assert code == 0, err
        got = learned["projected_sent"]
        want = _expected(verdicts, numbers, share_high)
        assert {k: got[k] for k in want} == pytest.approx(want)
        return learned, got

    learned, got = learn(sent, "ev.csv", "--html-report", str(html), "--markdown-report",
                         str(md), "--lang", "en")
    assert got["unmatched"] == 1 and got["known_errors"] == 3
    assert got["by_status"]["not_rcs"] == 3
    assert learned["actual"]["messages"] == len(sent)
    # the whole send list's figure is still there, labelled
    assert learned["projection"]["basis"] == "whole send list"
    for text in (html.read_text(), md.read_text()):
        assert "list sent" in text and "unmatched" in text
        assert "0607" not in text and "+33607" not in text

    # only part of the list went out: the projection follows it
    part = [*by["reachable"][: len(by["reachable"]) // 2], by["not_rcs"][0]]
    _, got2 = learn(part, "ev2.csv")
    assert got2["error_ratio"] != got["error_ratio"]
    assert got2["messages"] == len(part) and got2["unmatched"] == 0


def _annotated(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("mobile,msisdn_e164,status,reason\n"
                    + "".join(f"{n},{e164(n) if s != 'invalid' else ''},{s},{r}\n"
                              for n, s, r in rows))
    return path


def test_an_answer_past_its_freshness_when_sent_is_in_the_bound(tmp_path: Path) -> None:
    """A reachable verdict resting on a 'yes' the cache dated 100 days before the
    campaign (freshness 90 days) is in the bound; one of 10 days is not."""
    from rcsqualify.capability.bothub import bothub_scope

    now = time.time()
    day = 86_400.0
    for age, numbers in ((100, ["+33607000001"]), (10, ["+33607000002"])):
        cache = LookupCache(Path(os.environ["RCSQUALIFY_CACHE_DIR"]),
                            clock=lambda age=age: now - age * day)
        cache.put_many("cap", cache.scope(bothub_scope("https://bothub.test/v1", "b1")),
                       [(n, "yes") for n in numbers])
        cache.close()
    checked = _annotated(tmp_path / "a.csv", [("0607000001", "reachable", "capability_positive"),
                                              ("0607000002", "reachable", "capability_positive"),
                                              ("0607000003", "not_rcs", "capability_negative")])
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome,time\n" + "".join(
        f"060700000{i},{o},{now - day:.0f}\n" for i, o in ((1, "not_rcs"), (2, "delivered"),
                                                           (3, "not_rcs"))))
    code, report, _, err = _learn([str(ev), *BOT, "--checked", str(checked)])
    assert code == 0, err
    q = report["projected_sent"]
    assert (q["messages"], q["known_errors"], q["stale"], q["unmatched"]) == (3, 1, 1, 0)
    assert q["error_ratio"] == pytest.approx(1 / 3)
    assert q["error_ratio_upper"] == pytest.approx(2 / 3)
    assert report["projection"] is None


def test_with_sent_the_projection_counts_messages_and_invalid_numbers_are_unmatched(
        tmp_path: Path) -> None:
    """--sent: two messages to a known not-RCS number are two known errors; a message
    to a number that is not valid is unmatched (in the bound); a number sent without
    any event is still projected."""
    sent = tmp_path / "sent.csv"
    sent.write_text("message_id,number\nm1,0607000001\nm2,0607000001\nm3,0607000002\n"
                    "m4,12345\nm5,0607000004\n")
    checked = _annotated(tmp_path / "a.csv", [("0607000001", "not_rcs", "capability_negative"),
                                              ("0607000002", "reachable", "capability_positive"),
                                              ("0607000004", "unverified", "not_checked")])
    nd = tmp_path / "ev.ndjson"
    nd.write_text("".join(json.dumps({"message_id": m, "outcome": o,
                                      "time": "2026-12-01T10:00:00Z"}) + "\n"
                          for m, o in (("m1", "not_rcs"), ("m2", "not_rcs"),
                                       ("m3", "delivered"))))
    code, report, _, err = _learn([str(nd), "--sent", str(sent), *BOT, "--checked",
                                   str(checked)])
    assert code == 0, err
    q = report["projected_sent"]
    assert (q["messages"], q["matched"], q["unmatched"], q["known_errors"],
            q["unverified"]) == (5, 4, 1, 2, 1)
    assert q["error_ratio"] == pytest.approx(2 / 5)
    assert q["error_ratio_upper"] == pytest.approx(4 / 5)
    assert report["actual"] == {"messages": 5, "not_rcs": 2, "error_ratio": 0.4}


def test_only_the_json_report_is_the_whole_send_list_said_so(tmp_path: Path) -> None:
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n")
    proj = tmp_path / "p.json"
    proj.write_text(json.dumps({"send_plan": {"send_rcs": {"messages": 10,
                                                           "error_ratio": 0.0}},
                                "threshold": 0.15}))
    result = run_cli(["learn", str(ev), *BOT, "--projection", str(proj)])
    assert result.exit_code == 0, result.stderr
    assert "projected for the whole send list 0.0 %" in result.stdout


@pytest.mark.parametrize("content, message", [
    ("number,outcome\n0607000001,read\n", "not the annotated output of a check"),
    ("msisdn_e164,status\n+33607000001,maybe\n", "a status that is not one of check's"),
])
def test_a_checked_file_that_is_not_a_check_output_is_one_line_exit_2(
        tmp_path: Path, content: str, message: str) -> None:
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    result = run_cli(["learn", str(ev), *BOT, "--checked", str(bad)])
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "0607" not in lines[0]



@pytest.mark.parametrize("env, lang", [({"LANG": "C.UTF-8"}, "fr"),
                                       ({"LANG": "en_US.UTF-8"}, "en"),
                                       ({"LANG": "en_US.UTF-8", "RCSQUALIFY_LANG": "fr"}, "fr")])
def test_the_html_and_markdown_reports_follow_the_check_reports_language_rule(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
        lang: str) -> None:
    """--lang > profile > RCSQUALIFY_LANG > locale (C/POSIX → French), as check's
    reports; a French report has no English sentence left (the terminal stays English)."""
    from rcsqualify.learn.wording import TEXT

    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "RCSQUALIFY_LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    now = time.time()
    sent = tmp_path / "sent.csv"
    sent.write_text("message_id,number\nm1,0607000001\nm1,0607000001\nm2,0607000002\n"
                    "m3,0607000003\n")
    nd = tmp_path / "ev.ndjson"
    nd.write_text("not json\n" + "".join(
        json.dumps({"message_id": m, "outcome": o, "time": f"{now - 86_400:.0f}"}) + "\n"
        for m, o in (("m1", "not_rcs"), ("m2", "delivered"), ("m9", "read"))))
    checked = _annotated(tmp_path / "a.csv", [("0607000001", "reachable", "capability_positive"),
                                              ("0607000002", "unverified", "not_sampled")])
    proj = tmp_path / "p.json"
    proj.write_text(json.dumps({"send_plan": {"send_rcs": {"messages": 10,
                                                           "error_ratio": 0.0}},
                                "threshold": 0.15}))
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    result = run_cli(["learn", str(nd), *BOT, "--sent", str(sent), "--checked",
                      str(checked), "--projection", str(proj), "--html-report", str(html),
                      "--markdown-report", str(md)])
    assert result.exit_code == 0, result.stderr
    assert "actual error ratio" in result.stdout  # the terminal stays English
    page, text = html.read_text(), md.read_text()
    assert f'<html lang="{lang}">' in page
    other = "en" if lang == "fr" else "fr"
    for words in (TEXT[lang]["title"], TEXT[lang]["details_h"]):
        assert words in page
    assert TEXT[lang]["title"] in text
    # nothing of the other language's sentences (their fixed parts) is left
    for key, words in TEXT[other].items():
        for part in re.split(r"\{[a-z_]+\}", words):
            part = part.strip(" ;:,()")
            if len(part) > 12 and part not in TEXT[lang][key]:
                assert part not in page and part not in text, (key, part)
