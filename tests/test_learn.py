"""``rcsqualify learn`` (issue #28): delivery events → first-hand answers in the cache,
the campaign's actual error ratio beside the projection, and the whole loop over the
emulator: check → send list → campaign → learn → the next check asks nothing for the
learned numbers and matches the emulator's new truth, in single, bulk and batch modes.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from rcsqualify.errors import InputError
from rcsqualify.learn.events import MAX_LINE
from rcsqualify.learn.outcomes import epoch_seconds
from rcsqualify.learn.profiles import (
    FAILED,
    NOT_RCS,
    OTHER,
    REACHABLE,
    load_outcome_profile,
    parse_outcome_profile,
)
from rcsqualify.remote.cache import LookupCache
from tests.conftest import Emulator
from tests.helpers import (
    check_json,
    contacts_file,
    e164,
    frte_numbers,
    run_cli,
    service_account,
)

BOT = ["--capability", "bothub", "--bot-id", "b1", "--bothub-url", "https://bothub.test/v1"]


def _cache_answers(cache_dir: Path) -> dict[str, int]:
    cache = LookupCache(cache_dir, need="inspect")
    try:
        info = cache.info()
    finally:
        cache.close()
    out: dict[str, int] = {}
    for entry in info["providers"].values():
        for answer, count in entry["answers"].items():
            out[answer] = out.get(answer, 0) + count
    return out


def _learn(args: list[str]) -> tuple[int, dict, str, str]:
    result = run_cli(["learn", *args, "--json-report", "-"])
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report, result.stdout, result.stderr


# -- profiles --------------------------------------------------------------------------
def test_builtin_profiles_load_and_classify_case_insensitively() -> None:
    generic = load_outcome_profile("generic")
    assert [generic.classify(v) for v in ("Delivered", "READ", "not_rcs", "FAILED", "sent",
                                          None)] == [REACHABLE, REACHABLE, NOT_RCS, FAILED,
                                                     OTHER, OTHER]
    rbm = load_outcome_profile("rbm")
    assert rbm.classify("NOT_FOUND") == NOT_RCS and rbm.classify("IS_TYPING") == OTHER
    maap = load_outcome_profile("maap")
    assert maap.classify("displayed") == REACHABLE and maap.classify(404) == NOT_RCS


def test_a_bare_name_is_never_read_from_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.toml").write_text('number = ["n"]\noutcome = ["o"]\nreachable = ["ok"]\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="no such profile"):
        load_outcome_profile("mine")
    assert load_outcome_profile("./mine.toml").classify("OK") == REACHABLE


@pytest.mark.parametrize("text, why", [
    ('number = ["n"]\n', "outcome must name"),
    ('number = ["n"]\noutcome = ["o"]\nfailed = ["x"]\n', "reachable or not_rcs"),
    ('number = ["n"]\noutcome = ["o"]\nreachable = ["x"]\nnot_rcs = ["X"]\n', "in two"),
    ('number = ["n"]\noutcome = ["o"]\nreachable = ["x"]\nnumbre = 1\n', "unknown key"),
    ('number = [1.5]\noutcome = ["o"]\nreachable = ["x"]\n', "list of names"),
    ("number = [", "not valid TOML"),
])
def test_a_bad_profile_is_one_line_naming_the_key(text: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        parse_outcome_profile(text, "p.toml")


def test_event_dates_iso_epoch_seconds_and_milliseconds() -> None:
    got = epoch_seconds(["2026-12-01T10:00:00Z", "2026-12-01T11:00:00+01:00",
                         "1764583200", 1764583200000, "2014-10-02T15:01:23.045123456Z",
                         None, "yesterday"])
    assert got[0] == got[1] == 1796119200.0
    assert got[2] == got[3] == 1764583200.0
    assert got[4] == pytest.approx(1412262083.045123)
    assert np.isnan(got[5]) and np.isnan(got[6])


# -- reading, reducing, writing ---------------------------------------------------------
def test_generic_csv_and_ndjson_learn_into_the_scope_check_uses(tmp_path: Path) -> None:
    ev = tmp_path / "ev.csv"
    ev.write_text("Number;OUTCOME;time\n"
                  "06 07 00 00 01;delivered;2026-12-01T10:00:00Z\n"
                  "+33607000002;NOT_RCS;2026-12-01T10:00:00Z\n"
                  "0607000003;failed;2026-12-01T10:00:00Z\n"
                  "12345;read;2026-12-01T10:00:00Z\n"
                  ";read;\n")
    nd = tmp_path / "ev.ndjson"
    nd.write_text('{"number": "0607000004", "outcome": "read", "time": 1796119200}\n'
                  "not json\n\n"
                  '{"number": "0607000005", "outcome": "sent"}\n')
    code, report, _, err = _learn([str(ev), str(nd), *BOT])
    assert code == 0, err
    assert report["outcomes"] == {"reachable": 2, "not_rcs": 1, "failed": 1,
                                  "no_outcome": 1}
    assert report["learned"] == {"reachable": 2, "not_rcs": 1}
    assert report["read"]["bad"] == 1 and report["read"]["first_bad"] == "ev.ndjson line 2"
    assert report["tally"]["invalid"] == 1 and report["tally"]["no_number"] == 1
    assert report["scope"]["provider"] == "bothub" and report["scope"]["id"] == "b1"
    assert _cache_answers(Path(os.environ["RCSQUALIFY_CACHE_DIR"])) == {
        "yes|delivery": 2, "no|delivery": 1}
    # the scope is the one check names: its provider finds the answers
    from rcsqualify.capability.bothub import bothub_scope

    cache = LookupCache(Path(os.environ["RCSQUALIFY_CACHE_DIR"]))
    try:
        ns = cache.scope(bothub_scope("https://bothub.test/v1/", "b1"))
        assert cache.get_many("cap", ns, ["+33607000001", "+33607000002",
                                          "+33607000003"]) == ["yes", "no", None]
    finally:
        cache.close()


def test_duplicates_and_contradictions_resolve_by_event_time(tmp_path: Path) -> None:
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome,time\n"
                  "0607000001,not_rcs,2026-12-02T10:00:00Z\n"  # the latest: wins
                  "0607000001,delivered,2026-12-01T10:00:00Z\n"
                  "0607000001,delivered,2026-12-01T10:00:00Z\n"
                  "0607000002,delivered,2026-12-03T10:00:00Z\n"
                  "0607000002,not_rcs,2026-12-01T10:00:00Z\n"
                  "0607000002,failed,2026-12-05T10:00:00Z\n")  # no conclusion: ignored
    code, report, _, _ = _learn([str(ev), *BOT])
    assert code == 0
    assert report["outcomes"]["not_rcs"] == 1 and report["outcomes"]["reachable"] == 1
    assert report["contradictions"] == 2


def test_a_newer_look_up_wins_an_older_one_does_not(tmp_path: Path) -> None:
    from rcsqualify.capability.bothub import bothub_scope

    cache_dir = Path(os.environ["RCSQUALIFY_CACHE_DIR"])
    now = time.time()
    cache = LookupCache(cache_dir, clock=lambda: now - 3 * 86_400)
    ns = cache.scope(bothub_scope("https://bothub.test/v1", "b1"))
    cache.put_many("cap", ns, [("+33607000001", "yes"), ("+33607000002", "yes")])
    cache.close()
    ev = tmp_path / "ev.csv"
    day = 86_400
    ev.write_text("number,outcome,time\n"
                  f"0607000001,not_rcs,{now - 1 * day:.0f}\n"  # after the look-up: wins
                  f"0607000002,not_rcs,{now - 5 * day:.0f}\n"  # before it: the look-up stays
                  f"0607000003,delivered,{now + 30 * day:.0f}\n")  # future: dated now
    code, report, _, _ = _learn([str(ev), *BOT])
    assert code == 0
    assert report["kept_newer"] == 1 and report["learned"] == {"reachable": 1, "not_rcs": 1}
    assert report["contradicted"]["yes"]["not_rcs"] == 2
    cache = LookupCache(cache_dir)
    try:
        ns = cache.scope(bothub_scope("https://bothub.test/v1", "b1"))
        assert cache.get_many("cap", ns, ["+33607000001", "+33607000002",
                                          "+33607000003"]) == ["no", "yes", "yes"]
        _, _, dates = cache._store.get_many(  # type: ignore[union-attr]
            f"cap:{ns}", cache.digests(["+33607000003"]))
        assert dates[0] <= time.time()  # never newer than now
    finally:
        cache.close()


def test_rbm_profile_reads_pubsub_pushes_user_events_and_send_errors(tmp_path: Path) -> None:
    event = {"senderPhoneNumber": "+33607000001", "eventType": "DELIVERED",
             "eventId": "e1", "messageId": "m1", "sendTime": "2026-12-01T10:00:00.123456789Z",
             "agentId": "a"}
    push = {"message": {"data": base64.b64encode(json.dumps(event).encode()).decode(),
                        "messageId": "p1", "publishTime": "2026-12-01T10:00:01Z"},
            "subscription": "projects/x/subscriptions/y"}
    lines = [push,
             {**event, "senderPhoneNumber": "+33607000002", "eventType": "IS_TYPING"},
             {"phoneNumber": "+33607000003", "time": "2026-12-01T10:00:00Z",
              "error": {"code": 404, "message": "Requested entity was not found.",
                        "status": "NOT_FOUND"}},
             {"message": {"data": "!!notbase64!!"}}]
    nd = tmp_path / "rbm.ndjson"
    nd.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, report, _, err = _learn([str(nd), "--outcomes", "rbm", "--capability", "rbm",
                                   "--agent-id", "ag", "--rbm-url", "https://rbm.test"])
    assert code == 0, err
    assert report["outcomes"] == {"reachable": 1, "not_rcs": 1, "failed": 0,
                                  "no_outcome": 1}
    assert report["read"]["bad"] == 1
    assert report["scope"]["provider"] == "rbm"


def test_message_ids_are_mapped_to_numbers_by_the_sent_file(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text("message_id;number\nm1;0607000001\nm2;0607000002\n")
    nd = tmp_path / "ev.ndjson"
    nd.write_text('{"RCSMessage": {"msgId": "m1", "status": "delivered"}}\n'
                  '{"RCSMessage": {"msgId": "m9", "status": "delivered"}}\n')
    code, report, _, err = _learn([str(nd), "--outcomes", "maap", "--sent", str(sent), *BOT])
    assert code == 0, err
    assert report["outcomes"]["reachable"] == 1 and report["tally"]["unknown_ids"] == 1
    assert report["actual"]["messages"] == 2  # the --sent file's messages


def test_a_huge_line_is_counted_and_skipped(tmp_path: Path) -> None:
    nd = tmp_path / "ev.ndjson"
    with nd.open("w") as fh:
        fh.write('{"number": "0607000001", "outcome": "read"}\n')
        fh.write('{"x": "' + "a" * (MAX_LINE + 10) + '"}\n')
        fh.write('{"number": "0607000002", "outcome": "read"}\n')
    code, report, _, _ = _learn([str(nd), *BOT])
    assert code == 0 and report["read"]["bad"] == 1 and report["numbers"] == 2


@pytest.mark.parametrize("args, message", [
    (["missing.csv", *BOT], "no such events file"),
    (["EV", "--capability", "none"], "--capability must name the service"),
    (["EV", "--capability", "bothub"], "bot id is missing"),
    (["EV", *BOT, "--outcomes", "nope"], "no such profile"),
    (["EV", *BOT, "--html-report", "EV"], "would overwrite"),
    (["EV", *BOT, "--json-report", "EV"], "would overwrite"),
    (["EV", *BOT, "--projection", "PROJ"], "is not a JSON report"),
    (["EV2", *BOT], "no column for"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n")
    ev2 = tmp_path / "ev2.csv"
    ev2.write_text("phone,status\n0607000001,read\n")
    proj = tmp_path / "proj.json"
    proj.write_text('{"counts": {}}')
    paths = {"EV": str(ev), "EV2": str(ev2), "PROJ": str(proj),
             "missing.csv": str(tmp_path / "missing.csv")}
    result = run_cli(["learn", *[paths.get(a, a) for a in args]])
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_no_number_in_clear_in_the_cache_or_the_output(tmp_path: Path) -> None:
    ev = tmp_path / "ev.csv"
    numbers = [f"06070{i:05d}" for i in range(50)]
    ev.write_text("number,outcome\n" + "".join(f"{n},{'read' if i % 3 else 'not_rcs'}\n"
                                               for i, n in enumerate(numbers)))
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    result = run_cli(["learn", str(ev), *BOT, "--html-report", str(html),
                      "--markdown-report", str(md)])
    assert result.exit_code == 0, result.stderr
    cache_dir = Path(os.environ["RCSQUALIFY_CACHE_DIR"])
    blobs = [p.read_bytes() for p in cache_dir.rglob("*") if p.is_file()]
    texts = [result.stdout, result.stderr, html.read_text(), md.read_text()]
    for n in numbers[:10]:
        for form in (n, n[1:], "33" + n[1:]):
            assert not any(form.encode() in b for b in blobs)
            assert not any(form in t for t in texts)


# -- the loop over the emulator ----------------------------------------------------------
def _send_list(lists: Path) -> list[str]:
    with (lists / "send_rcs.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    return [e164(r["mobile"]) for r in rows]


@pytest.mark.parametrize("mode, shape", [("bothub", "generic"), ("bothub-bulk", "maap"),
                                         ("rbm-batch", "rbm")])
def test_check_send_campaign_learn_then_the_next_check_asks_nothing(
        tmp_path: Path, emulator: Emulator, mode: str, shape: str) -> None:
    rbm = mode.startswith("rbm")
    numbers = frte_numbers(600 if rbm else 80)
    contacts = contacts_file(tmp_path, numbers)
    if rbm:
        emulator.configure(numbers={e164(n): {"operator": "20801"} for n in numbers})
        sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
        check_args = ["--capability", mode, "--agent-launched", *emulator.rbm_args(sa)]
        scope = ["--capability", "rbm", "--rbm-url", f"{emulator.base}/rbm",
                 "--agent-id", "emulator-agent"]
        family = "rbm"
    else:
        check_args = [*emulator.bothub_args(), "--capability", mode, "--rate", "500",
                      "--threshold", "1", "--poll-interval", "0.05"]
        # learned under the other mode of the bot: one scope serves both
        scope = ["--capability", "bothub-bulk" if mode == "bothub" else "bothub",
                 "--bot-id", "test-bot", "--bothub-url", f"{emulator.base}/bothub/v1"]
        family = "bothub"
    lists = tmp_path / "lists"
    _, first = check_json([str(contacts), *check_args, "--split-dir", str(lists)])
    projection = tmp_path / "first.json"
    projection.write_text(json.dumps(first))
    send = _send_list(lists)
    assert len(send) == first["counts"]["reachable"] > 0
    # the campaign: some reachable users switched RCS off before it was sent
    answer = httpx.post(f"{emulator.base}/_emulator/campaign", timeout=60, json={
        "numbers": send, "shape": shape, "service": "rbm" if rbm else "bothub",
        "switch_off": 0.25})
    answer.raise_for_status()
    switched = int(answer.headers["X-Switched-Off"])
    assert 0 < switched < len(send)
    events = tmp_path / ("events.csv" if shape == "generic" else "events.ndjson")
    events.write_bytes(answer.content)
    code, learned, _, err = _learn([str(events), "--outcomes", shape, *scope,
                                    "--projection", str(projection)])
    assert code == 0, err
    assert learned["outcomes"]["not_rcs"] == switched
    assert learned["learned"] == {"reachable": len(send) - switched, "not_rcs": switched}
    assert learned["actual"] == {"messages": len(send), "not_rcs": switched,
                                 "error_ratio": switched / len(send)}
    assert learned["projection"]["error_ratio"] == first["send_plan"]["send_rcs"][
        "error_ratio"]
    assert learned["contradicted"]["yes"]["not_rcs"] == switched
    before = emulator.stats()["requests"].get(family, 0)
    out = tmp_path / "second.csv"
    _, second = check_json([str(contacts), *check_args, "-o", str(out)])
    assert emulator.stats()["requests"].get(family, 0) == before  # nothing asked
    assert second["counts"]["reachable"] == first["counts"]["reachable"] - switched
    assert second["counts"]["not_rcs"] == first["counts"]["not_rcs"] + switched
    # number by number: the ones the platform refused are not RCS now, the rest of the
    # list sent is reachable (counts alone would pass answers learned under the wrong
    # numbers of the list)
    refused = _refused(events, shape)
    assert len(refused) == switched
    with out.open(encoding="utf-8-sig", newline="") as fh:
        status = {r["msisdn_e164"]: r["status"] for r in csv.DictReader(fh, delimiter=";")}
    assert {n: status[n] for n in send} == {
        n: "not_rcs" if n in refused else "reachable" for n in send}


def _refused(events: Path, shape: str) -> set[str]:
    """The numbers a campaign's events say were refused as not RCS, read by hand (not by
    learn's readers): generic CSV rows, the MaaP's 404, RBM's NOT_FOUND (some inside a
    base64 Pub/Sub push)."""
    if shape == "generic":
        with events.open(newline="") as fh:
            return {r["number"] for r in csv.DictReader(fh) if r["outcome"] == "not_rcs"}
    out = set()
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if "message" in event:
            event = json.loads(base64.b64decode(event["message"]["data"]))
        if shape == "maap" and event.get("httpStatus") == 404:
            out.add(event["messageContact"]["userContact"])
        if shape == "rbm" and event.get("error", {}).get("status") == "NOT_FOUND":
            out.add(event["phoneNumber"])
    return out


def test_xlsx_and_parquet_exports(tmp_path: Path) -> None:
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Number", "Outcome", "Time"])
    sheet.append(["0607000001", "Delivered", "2026-12-01T10:00:00Z"])
    sheet.append([607000002, "not_rcs", None])  # a number as a number, no date
    book.save(tmp_path / "ev.xlsx")
    pq.write_table(pa.table({"number": ["+33607000003", None], "outcome": ["READ", "read"],
                             "time": [1796119200, 1796119200]}), tmp_path / "ev.parquet")
    code, report, _, err = _learn([str(tmp_path / "ev.xlsx"), str(tmp_path / "ev.parquet"),
                                   *BOT])
    assert code == 0, err
    assert report["outcomes"]["reachable"] == 2 and report["outcomes"]["not_rcs"] == 1
    assert report["tally"]["no_number"] == 1 and report["tally"]["undated"] == 1


def test_an_interruption_keeps_what_was_read_and_exits_130(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rcsqualify.learn import apply

    real = apply.read_events

    def interrupted(*args: object, **kw: object):  # type: ignore[no-untyped-def]
        chunks = real(*args, **kw)  # type: ignore[arg-type]
        yield next(chunks)
        raise KeyboardInterrupt

    monkeypatch.setattr(apply, "read_events", interrupted)
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n0607000002,not_rcs\n")
    result = run_cli(["learn", str(ev), *BOT])
    assert result.exit_code == 130
    assert "interrupted" in result.stderr.strip().splitlines()[-1]
    assert _cache_answers(Path(os.environ["RCSQUALIFY_CACHE_DIR"])) == {
        "yes|delivery": 1, "no|delivery": 1}


def test_the_html_trend_draws_each_campaign_beside_the_projections(
        tmp_path: Path, sample_contacts: Path) -> None:
    log = tmp_path / "runs.log"
    log.write_text(json.dumps({"at": "2026-11-01T02:00:00+00:00", "error_ratio": 0.04})
                   + "\n")
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n" + "".join(
        f"06070000{i:02d},{'not_rcs' if i < 3 else 'read'}\n" for i in range(20)))
    # the check run's verdicts (learn --checked): 2 known not RCS, 1 number unmatched
    checked = tmp_path / "annotated.csv"
    checked.write_text("msisdn_e164,status\n" + "".join(
        f"+336070000{i:02d},{'not_rcs' if i < 2 else 'reachable'}\n" for i in range(19)))
    result = run_cli(["learn", str(ev), *BOT, "--history", str(log), "--checked",
                      str(checked)])
    assert result.exit_code == 0, result.stderr
    line = json.loads(log.read_text().splitlines()[-1])
    assert line["kind"] == "campaign" and line["actual_error_ratio"] == 0.15
    assert line["projected_sent_error_ratio"] == 0.1  # 2 known of 20 messages
    assert line["projected_sent_error_ratio_upper"] == 0.15  # + 1 unmatched
    assert (line["matched"], line["unmatched"]) == (19, 1)
    assert "0607" not in log.read_text()
    for lang, words in (("en", "projected for the list sent 10"),
                        ("fr", "projeté pour la liste envoyée 10")):
        page = tmp_path / f"r-{lang}.html"
        result = run_cli(["check", str(sample_contacts), "--history", str(log),
                          "--html-report", str(page), "--lang", lang, "-q"])
        assert result.exit_code in (0, 1, 3), result.stderr  # the gate does not matter
        html = page.read_text()
        assert 'fill="#ea580c"' in html and words in html
    assert "actual error ratio of 1 sent campaign " in (tmp_path / "r-en.html").read_text()


def test_on_a_shared_redis_cache_a_delivery_answer_newer_than_the_look_up_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rcsqualify.capability.rbm import rbm_scope
    from rcsqualify.remote.cachekey import KeyOptions
    from tests.helpers import TEST_CACHE_KEY, start_redis

    proc, url = start_redis(tmp_path)
    try:
        monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", TEST_CACHE_KEY)
        now = time.time()
        cache = LookupCache(url=url, key=KeyOptions(), clock=lambda: now - 2 * 86_400)
        ns = cache.scope(rbm_scope("https://rbm.test", "ag"))
        cache.put_many("cap", ns, [("+33607000001", "yes"), ("+33607000002", "no")])
        cache.close()
        ev = tmp_path / "ev.csv"
        ev.write_text("number,outcome,time\n"
                      f"0607000001,not_rcs,{now - 86_400:.0f}\n"
                      f"0607000002,delivered,{now - 3 * 86_400:.0f}\n")
        code, report, _, err = _learn([str(ev), "--capability", "rbm-batch", "--agent-id",
                                       "ag", "--rbm-url", "https://rbm.test/",
                                       "--cache-url", url])
        assert code == 0, err
        assert report["learned"] == {"reachable": 0, "not_rcs": 1}
        assert report["kept_newer"] == 1
        cache = LookupCache(url=url, key=KeyOptions())
        try:
            ns = cache.scope(rbm_scope("https://rbm.test", "ag"))
            assert cache.get_many("cap", ns, ["+33607000001", "+33607000002"]) == [
                "no", "no"]
        finally:
            cache.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_scope_comes_from_the_environment_and_a_configuration_profile_as_for_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n")
    monkeypatch.setenv("RCSQUALIFY_BOTHUB_BOT_ID", "from-env")
    code, report, _, err = _learn([str(ev), "--capability", "bothub-bulk"])
    assert code == 0, err
    assert report["scope"] == {"provider": "bothub", "url": "https://api.orange.com/bothub/v1",
                               "id": "from-env"}
    config = tmp_path / "config.toml"
    config.write_text('[profiles.night]\ncapability = "rbm-batch"\nagent-id = "ag-9"\n'
                      'rbm-url = "https://rbm.test"\n')
    code, report, _, err = _learn([str(ev), "--config", str(config), "--profile", "night"])
    assert code == 0, err
    assert report["scope"] == {"provider": "rbm", "url": "https://rbm.test", "id": "ag-9"}


def test_csv_with_a_bom_quotes_ragged_rows_and_a_row_that_is_not_utf8(tmp_path: Path) -> None:
    ev = tmp_path / "ev.csv"
    ev.write_bytes(b'\xef\xbb\xbf"Number";"Outcome"\r\n"06 07 00 00 01";"Delivered"\r\n'
                   b"0607000002;not_rcs;extra;fields\r\n0607000003\r\n"
                   b'"0607000004";"read"\r\n0607000005;re\xffad\r\n0607000006;not_rcs\r\n')
    code, report, _, err = _learn([str(ev), *BOT])
    assert code == 0, err
    assert report["read"]["events"] == 3 and report["read"]["bad"] == 3
    assert report["outcomes"]["reachable"] == 2 and report["outcomes"]["not_rcs"] == 1


def test_a_cp1252_csv_with_semicolons_is_read_as_contact_files_are(tmp_path: Path) -> None:
    """What Excel writes on French Windows: cp1252, ``;``, an accented header (contact
    files are read in cp1252 when they are not UTF-8; so are events files)."""
    ev = tmp_path / "ev.csv"
    ev.write_bytes("Numéro;Libellé;number;outcome\n"
                   "x;Délivré;0607000001;delivered\n"
                   "y;Échec;0607000002;not_rcs\n".encode("cp1252"))
    code, report, _, err = _learn([str(ev), *BOT])
    assert code == 0, err
    assert report["outcomes"]["reachable"] == 1 and report["outcomes"]["not_rcs"] == 1
    assert report["read"]["bad"] == 0


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_title_row_above_the_header_is_skipped(tmp_path: Path, kind: str) -> None:
    """``Campagne de décembre`` above ``number;outcome``: the header is the second row
    (as contact files: a single cell above a row naming the profile's columns)."""
    rows = [["Campagne de décembre 2026", None], ["Number", "Outcome"],
            ["0607000001", "delivered"], ["0607000002", "not_rcs"]]
    if kind == "xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(tmp_path / "ev.xlsx")
    else:
        (tmp_path / "ev.csv").write_text("\n".join(";".join(c or "" for c in r)
                                                   for r in rows) + "\n")
    code, report, _, err = _learn([str(tmp_path / f"ev.{kind}"), *BOT])
    assert code == 0, err
    assert report["read"]["events"] == 2 and report["read"]["bad"] == 0
    assert report["outcomes"]["reachable"] == 1 and report["outcomes"]["not_rcs"] == 1


def test_the_actual_ratio_counts_messages_over_messages_by_hand(tmp_path: Path) -> None:
    """Orange's ratio is per message: a rich card and a text sent to one number that is
    not RCS are two failed messages. By hand: 5 messages (--sent), 2 to A (not RCS), 1
    to B (delivered), 1 to C (failed: no conclusion), 1 to D (no event) → 2 / 5."""
    sent = tmp_path / "sent.csv"
    sent.write_text("message_id,number\nm1,0607000001\nm2,0607000001\nm3,0607000002\n"
                    "m4,0607000003\nm5,0607000004\n")
    nd = tmp_path / "ev.ndjson"
    nd.write_text("".join(json.dumps({"message_id": m, "outcome": o,
                                      "time": "2026-12-01T10:00:00Z"}) + "\n"
                          for m, o in (("m1", "not_rcs"), ("m2", "not_rcs"),
                                       ("m3", "delivered"), ("m4", "failed"))))
    code, report, _, err = _learn([str(nd), "--sent", str(sent), *BOT])
    assert code == 0, err
    assert report["actual"] == {"messages": 5, "not_rcs": 2, "error_ratio": 0.4}


@pytest.mark.parametrize("name", ["ev.ndjson", "ev.csv", "ev"])
def test_binary_garbage_is_refused_as_contact_files_are(tmp_path: Path, name: str) -> None:
    """A binary file (a zip, an image) named as events is exit 2 in one line, not
    'learned from 0 events' with exit 0 (contact files: 'looks binary')."""
    ev = tmp_path / name
    ev.write_bytes(b'{"number": "0607000001"}\n' + bytes(range(256)) * 40)
    code, _, out, err = _learn([str(ev), *BOT])
    assert code == 2, out
    assert "binary" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_cp1252_sent_file_is_read_as_the_events_files_are(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_bytes("message_id;Libellé;number\nm1;Relancé;0607000001\n".encode("cp1252"))
    nd = tmp_path / "ev.ndjson"
    nd.write_text('{"message_id": "m1", "outcome": "not_rcs"}\n')
    code, report, _, err = _learn([str(nd), "--sent", str(sent), *BOT])
    assert code == 0, err
    assert report["outcomes"]["not_rcs"] == 1 and report["actual"]["messages"] == 1


def test_a_future_event_date_is_now_in_the_report_as_in_the_cache(tmp_path: Path) -> None:
    """An event dated in the future (a platform's clock, a typo) is learned as of now;
    the age of the answer it contradicts is measured from now too (the look-up of 10
    days ago is '7-30 days' old, not '> 90 days' because the event says 2099)."""
    from rcsqualify.capability.bothub import bothub_scope

    now = time.time()
    cache = LookupCache(Path(os.environ["RCSQUALIFY_CACHE_DIR"]),
                        clock=lambda: now - 10 * 86_400)
    cache.put_many("cap", cache.scope(bothub_scope("https://bothub.test/v1", "b1")),
                   [("+33607000001", "yes")])
    cache.close()
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome,time\n0607000001,not_rcs,2099-01-01T00:00:00Z\n")
    code, report, _, err = _learn([str(ev), *BOT])
    assert code == 0, err
    assert [(b["age"], b["messages"]) for b in report["by_age"]] == [("7-30 days", 1)]
    assert report["learned"] == {"reachable": 0, "not_rcs": 1}


def test_message_ids_without_a_sent_file_say_to_give_one(tmp_path: Path) -> None:
    """Events that carry only a message id, and no --sent: counted apart and the output
    says what to give (not a silent '2 without a number', nothing learned)."""
    nd = tmp_path / "ev.ndjson"
    nd.write_text('{"RCSMessage": {"msgId": "m1", "status": "delivered"}}\n'
                  '{"RCSMessage": {"msgId": "m2", "status": "displayed"}}\n{"x": 1}\n')
    result = run_cli(["learn", str(nd), "--outcomes", "maap", *BOT])
    assert result.exit_code == 0, result.stderr
    assert "2 carry only a message id: give --sent" in result.stdout
    _, report, _, _ = _learn([str(nd), "--outcomes", "maap", *BOT])
    assert report["tally"]["ids_without_sent"] == 2 and report["tally"]["no_number"] == 3


def test_by_age_counts_messages_not_numbers(tmp_path: Path) -> None:
    """The ratio by age is on messages (Orange's unit): two messages to a number the
    cache held reachable 10 days ago that failed are two of that row's three."""
    from rcsqualify.capability.bothub import bothub_scope

    now = time.time()
    cache = LookupCache(Path(os.environ["RCSQUALIFY_CACHE_DIR"]),
                        clock=lambda: now - 10 * 86_400)
    cache.put_many("cap", cache.scope(bothub_scope("https://bothub.test/v1", "b1")),
                   [("+33607000001", "yes"), ("+33607000002", "yes")])
    cache.close()
    sent = tmp_path / "sent.csv"
    sent.write_text("message_id,number\nm1,0607000001\nm2,0607000001\nm3,0607000002\n")
    nd = tmp_path / "ev.ndjson"
    nd.write_text("".join(json.dumps({"message_id": m, "outcome": o,
                                      "time": f"{now - 86_400:.0f}"}) + "\n"
                          for m, o in (("m1", "not_rcs"), ("m3", "delivered"))))
    code, report, _, err = _learn([str(nd), "--sent", str(sent), *BOT])
    assert code == 0, err
    assert report["by_age"] == [{"age": "7-30 days", "numbers": 2, "messages": 3,
                                 "not_rcs": 2, "error_ratio": 2 / 3}]


@pytest.mark.parametrize("name, text", [
    ("ev.ndjson", "not json\n[1, 2]\n{broken\n"),
    ("ev.csv", "number,outcome\n0607000001\n0607000002\n"),
])
def test_a_text_file_where_no_line_is_an_event_is_exit_2(tmp_path: Path, name: str,
                                                          text: str) -> None:
    ev = tmp_path / name
    ev.write_text(text)
    code, _, out, err = _learn([str(ev), *BOT])
    assert code == 2, out
    lines = err.strip().splitlines()
    bad = 3 if name.endswith("ndjson") else 2
    assert len(lines) == 1 and f"no line is an event ({bad} unreadable lines)" in lines[0]
    assert _cache_answers(Path(os.environ["RCSQUALIFY_CACHE_DIR"])) == {}
    # one good line among the bad ones: it learns, counting them
    ev.write_text(text + ('{"number": "0607000003", "outcome": "read"}\n'
                          if name.endswith("ndjson") else "0607000003,read\n"))
    code, report, _, err = _learn([str(ev), *BOT])
    assert code == 0, err
    assert report["read"]["events"] == 1 and report["read"]["bad"] >= 2


def test_duplicate_message_ids_in_sent_are_counted_and_warned_first_wins(
        tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text("message_id,number\nm1,0607000001\nm2,0607000002\n"
                    "m1,+33607000001\nm2,0607000009\n")
    nd = tmp_path / "ev.ndjson"
    nd.write_text('{"message_id": "m2", "outcome": "not_rcs"}\n')
    result = run_cli(["learn", str(nd), "--sent", str(sent), *BOT, "--json-report", "-"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sent"] == {"messages": 2, "duplicate_ids": 2, "conflicting_ids": 1}
    warning = [line for line in result.stderr.splitlines() if "more than once" in line]
    assert len(warning) == 1 and "0607" not in result.stderr
    assert "2 message ids more than once (1 with another number)" in warning[0]
    # the first line of m2 wins: 0607000002 is the number found not RCS
    assert report["actual"] == {"messages": 2, "not_rcs": 1, "error_ratio": 0.5}
    cache = LookupCache(Path(os.environ["RCSQUALIFY_CACHE_DIR"]))
    try:
        from rcsqualify.capability.bothub import bothub_scope

        ns = cache.scope(bothub_scope("https://bothub.test/v1", "b1"))
        assert cache.get_many("cap", ns, ["+33607000002", "+33607000009"]) == ["no", None]
    finally:
        cache.close()
