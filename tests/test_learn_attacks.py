"""``rcsqualify learn`` (issue #28) under hostile input: what a careless export or a
malicious events file does to it. Each test reproduces an attack that broke it (a
crash, a silently dropped row, a figure read from a file it should have refused)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rcsqualify.errors import InputError
from rcsqualify.learn.profiles import parse_outcome_profile
from tests.helpers import run_cli

BOT = ["--capability", "bothub", "--bot-id", "b1", "--bothub-url", "https://bothub.test/v1"]
GOOD = '{"number": "0607000001", "outcome": "read"}\n'


def _learn(args: list[str]) -> tuple[int, dict, str]:
    result = run_cli(["learn", *args, "--json-report", "-"])
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report, result.stderr


def test_deeply_nested_json_lines_are_counted_never_a_crash(tmp_path: Path) -> None:
    """A line nesting 50,000 objects made Arrow's JSON reader overflow its stack (the
    process died of SIGSEGV, nothing said); one nesting 200,000 lists raised an
    unexpected RecursionError in the line-by-line path. Both are bad lines now, counted,
    and the good lines around them are learned. Run as a subprocess: a crash must fail
    this test, not the test runner."""
    nd = tmp_path / "ev.ndjson"
    deep_object = '{"a":' * 50_000 + "1" + "}" * 50_000
    deep_list = "[" * 200_000 + "]" * 200_000
    nd.write_text(GOOD + deep_object + "\n" + deep_list + "\n"
                  + '{"number": "0607000002", "outcome": "not_rcs"}\n')
    # the same inside a Pub/Sub push (rbm profile: the event is base64 in message.data)
    pushed = tmp_path / "push.ndjson"
    inner = base64.b64encode(deep_object.encode()).decode()
    user_event = base64.b64encode(json.dumps({
        "senderPhoneNumber": "+33607000003", "eventType": "READ",
        "sendTime": "2026-11-01T10:00:00Z"}).encode()).decode()
    pushed.write_text(json.dumps({"message": {"data": user_event}}) + "\n"
                      + json.dumps({"message": {"data": inner}}) + "\n")
    env = {**os.environ, "COLUMNS": "200"}
    for path, profile, bad, numbers in ((nd, "generic", 2, 2), (pushed, "rbm", 1, 1)):
        done = subprocess.run(
            [sys.executable, "-m", "rcsqualify", "learn", str(path), "--outcomes", profile,
             *BOT, "--json-report", "-"], capture_output=True, text=True, env=env,
            timeout=300, check=False)
        assert done.returncode == 0, (done.returncode, done.stderr[-500:])
        report = json.loads(done.stdout)
        assert report["read"]["bad"] == bad and report["numbers"] == numbers


def test_a_profile_nested_too_deep_is_one_line_naming_the_file() -> None:
    """tomllib recurses: 3,000 nested arrays were an 'unexpected RecursionError'."""
    text = "number = " + "[" * 3000 + "]" * 3000 + '\noutcome = ["outcome"]\n'
    with pytest.raises(InputError, match=r"^mine.toml: not valid TOML"):
        parse_outcome_profile(text, "mine.toml")


def test_a_cp1252_csv_with_an_ascii_header_keeps_its_accented_rows(tmp_path: Path) -> None:
    """Excel on French Windows: ';', cp1252, a plain ASCII header. The encoding was
    guessed from the first two lines only, so every later row holding an accent or a
    no-break space (0xA0 between the digits) was dropped as 'not UTF-8'. The whole file
    decides now, as for contact files."""
    ev = tmp_path / "ev.csv"
    profile = tmp_path / "fr.toml"
    profile.write_text('number = ["numero"]\noutcome = ["statut"]\n'
                       'reachable = ["Délivré", "Lu"]\nnot_rcs = ["Non RCS"]\n',
                       encoding="utf-8")
    ev.write_bytes(("numero;statut;note\r\n"
                    "0607000001;Lu;ok\r\n"
                    "06\xa007\xa000\xa000\xa002;Délivré;relancé\r\n"
                    "0607000003;Non RCS;ok\r\n").encode("cp1252"))
    code, report, err = _learn([str(ev), "--outcomes", str(profile), *BOT])
    assert code == 0, err
    assert report["read"] == {"events": 3, "bad": 0, "first_bad": ""}
    assert report["outcomes"]["reachable"] == 2 and report["outcomes"]["not_rcs"] == 1


def _report(tmp_path: Path, **changes: object) -> Path:
    data = {"schema_version": 2, "send_plan": {"send_rcs": {"messages": 10,
                                                            "error_ratio": 0.1}},
            "threshold": 0.15}
    data.update(changes)
    path = tmp_path / "first.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("changes, message", [
    ({"schema_version": 99}, "written by a newer rcsqualify"),
    ({"send_plan": {"send_rcs": {"messages": 10, "error_ratio": 7}}}, "is not a JSON report"),
    ({"send_plan": {"send_rcs": {"messages": -3, "error_ratio": 0.1}}},
     "is not a JSON report"),
    ({"threshold": 40}, "is not a JSON report"),
])
def test_a_projection_the_tool_cannot_vouch_for_is_refused(
        tmp_path: Path, changes: dict, message: str) -> None:
    """A report of a future version (its keys may mean something else) or with figures
    no check writes (a ratio of 700 %, -3 messages) was shown as the projection."""
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n")
    result = run_cli(["learn", str(ev), *BOT, "--projection",
                      str(_report(tmp_path, **changes))])
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_a_current_projection_still_reads(tmp_path: Path) -> None:
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n")
    code, report, err = _learn([str(ev), *BOT, "--projection", str(_report(tmp_path))])
    assert code == 0, err
    assert report["projection"]["error_ratio"] == 0.1


@pytest.mark.parametrize("url", ["not a url", "ftp://bothub.test/v1", "https://"])
def test_a_service_url_check_would_refuse_is_refused(tmp_path: Path, url: str) -> None:
    """Learning into the scope of a URL no check can use wrote answers nobody would
    ever read, and said 'learned'."""
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n")
    result = run_cli(["learn", str(ev), "--capability", "bothub", "--bot-id", "b1",
                      "--bothub-url", url])
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--bothub-url must be an http:// or https:// URL" in lines[0]


@pytest.mark.parametrize("name, content, message", [
    ("ev.ndjson", "", "is empty"),
    ("ev.csv", "", "is empty"),
    ("ev.csv", "\r\n \n", "is empty"),
    ("ev.csv", "number,outcome\r\n", "no delivery events"),
    ("ev.ndjson", "\n\n", "is empty"),
])
def test_an_events_file_with_no_event_is_exit_2_as_contact_files(
        tmp_path: Path, name: str, content: str, message: str) -> None:
    """An empty NDJSON said 'learned from 0 events' (exit 0) while an empty CSV said its
    header had no column: contact files say 'is empty' / 'a header but no rows',
    exit 2 — the same file rules."""
    ev = tmp_path / name
    ev.write_text(content)
    result = run_cli(["learn", str(ev), *BOT])
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_an_interrupted_run_counts_only_the_events_it_learned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C between reading a block and reducing it: 'learned from N events' counted
    the block that was never learned."""
    from rcsqualify.learn import apply, events

    monkeypatch.setattr(events, "BLOCK", 64)
    real = apply.read_events

    def interrupted(*args: object, **kw: object):  # type: ignore[no-untyped-def]
        chunks = real(*args, **kw)  # type: ignore[arg-type]
        yield next(chunks)
        next(chunks)  # read (and counted) but never reduced
        raise KeyboardInterrupt

    monkeypatch.setattr(apply, "read_events", interrupted)
    ev = tmp_path / "ev.ndjson"
    ev.write_text("".join(f'{{"number": "06070000{i:02d}", "outcome": "read"}}\n'
                          for i in range(10)))
    code, report, _ = _learn([str(ev), *BOT])
    assert code == 130
    assert 0 < report["read"]["events"] == sum(report["tally"]["events"].values()) < 10


def test_a_csv_row_over_a_block_names_the_cause(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A field longer than a CSV block (32 MiB; 1 KiB here) said 'not a readable CSV'."""
    from rcsqualify.learn import events

    monkeypatch.setattr(events, "BLOCK", 1024)
    ev = tmp_path / "ev.csv"
    ev.write_text('number,outcome,pad\n0607000001,read,x\n0607000002,read,"'
                  + "x" * 5000 + '"\n')
    result = run_cli(["learn", str(ev), *BOT])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "a row longer than" in lines[0], result.stderr


def test_learn_never_calls_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead port, a wrong host: learn asks no service anything (the scope is a name),
    so no socket is ever connected (the file cache is local)."""
    import socket

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError(f"learn connected a socket: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n0607000002,not_rcs\n")
    for scope in (["--capability", "bothub", "--bot-id", "b1", "--bothub-url",
                   "http://127.0.0.1:9/v1"],
                  ["--capability", "rbm-batch", "--agent-id", "a1", "--rbm-url",
                   "https://rbm.nowhere.invalid"]):
        code, report, err = _learn([str(ev), *scope])
        assert code == 0, err
        assert report["learned"] == {"reachable": 1, "not_rcs": 1}


def test_checked_files_of_another_list_are_said_to_match_nothing(tmp_path: Path) -> None:
    """--checked and --projection of another check run: the projection was shown as
    '0.0 %, up to 100 %' with nothing to say it described another list."""
    other = tmp_path / "other.csv"
    other.write_text("mobile\n0607000051\n0607000052\n")
    out, report = tmp_path / "other_out.csv", tmp_path / "other.json"
    run_cli(["check", str(other), "--capability", "none", "-o", str(out),
             "--json-report", str(report), "-q"])
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n0607000002,not_rcs\n")
    result = run_cli(["learn", str(ev), *BOT, "--projection", str(report),
                      "--checked", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "warning: none of the 2 messages sent is in other_out.csv" in result.stdout
    md = tmp_path / "r.md"
    run_cli(["learn", str(ev), *BOT, "--checked", str(out), "--markdown-report", str(md),
             "--lang", "fr"])
    assert "aucun des 2 messages envoyés n'est dans other\\_out.csv" in md.read_text()


def test_french_dates_and_micro_or_nanosecond_epochs_are_dates() -> None:
    """'01/12/2026 10:00' (what Excel shows in France) did not parse: the event was
    dated at the file's time — the export's, after the campaign — so a delivery answer
    weeks old could win over a newer look-up. An epoch in micro- or nanoseconds was read
    as milliseconds: a date in the year 55,000, learned as 'now'."""
    from rcsqualify.learn.outcomes import epoch_seconds

    at = 1796119200.0  # 2026-12-01T10:00:00Z
    got = epoch_seconds(["01/12/2026 10:00", "1/12/2026 10:00:00", " 01/12/2026 10h00 ",
                         "01/12/2026", "1796119200000000", 1796119200000000000,
                         "31/02/2026 10:00", "12/01/26"])
    assert list(got[:3]) == [at, at, at]
    assert got[3] == at - 10 * 3600
    assert got[4] == got[5] == at
    assert np.isnan(got[6]) and np.isnan(got[7])


def test_an_old_campaign_with_french_dates_does_not_beat_a_newer_look_up(
        tmp_path: Path) -> None:
    from rcsqualify.capability.bothub import bothub_scope
    from rcsqualify.remote.cache import LookupCache

    cache = LookupCache(Path(os.environ["RCSQUALIFY_CACHE_DIR"]))
    cache.put_many("cap", cache.scope(bothub_scope("https://bothub.test/v1", "b1")),
                   [("+33607000001", "yes")])  # a look-up made now
    cache.close()
    ev = tmp_path / "ev.csv"
    ev.write_bytes("numéro;résultat;date\r\n0607000001;not_rcs;03/11/2026 09:30\r\n"
                   .encode("cp1252"))
    profile = tmp_path / "fr.toml"
    profile.write_text('number = ["numéro"]\noutcome = ["résultat"]\ntime = ["date"]\n'
                       'not_rcs = ["not_rcs"]\n', encoding="utf-8")
    code, report, err = _learn([str(ev), "--outcomes", str(profile), *BOT])
    assert code == 0, err
    assert report["tally"]["undated"] == 0
    assert report["learned"] == {"reachable": 0, "not_rcs": 0} and report["kept_newer"] == 1


def test_a_utf16_export_is_read_as_contact_files_are(tmp_path: Path) -> None:
    """Excel's 'Unicode text' (UTF-16 with a BOM, tab-separated) was refused as binary
    (its NUL bytes), though a contact file in it is read."""
    ev = tmp_path / "ev.txt"
    ev.write_bytes("numéro\tstatut\r\n0607000001\tread\r\n06 07 00 00 02\tnot_rcs\r\n"
                   .replace("numéro", "number").replace("statut", "outcome")
                   .encode("utf-16"))
    code, report, err = _learn([str(ev), *BOT])
    assert code == 0, err
    assert report["read"]["bad"] == 0
    assert report["outcomes"]["reachable"] == 1 and report["outcomes"]["not_rcs"] == 1


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the --sent file"),
    ("message_id,number\r\n", "has a header but no messages"),
])
def test_a_sent_file_that_is_missing_or_lists_nothing_is_one_line(
        tmp_path: Path, content: str | None, message: str) -> None:
    """A missing --sent said 'cannot read the events file'; one with a header only gave
    'actual error ratio 0.0 % (0 of 0 messages)', exit 0."""
    nd = tmp_path / "ev.ndjson"
    nd.write_text('{"message_id": "m1", "outcome": "read"}\n')
    sent = tmp_path / "sent.csv"
    if content is not None:
        sent.write_text(content)
    result = run_cli(["learn", str(nd), "--sent", str(sent), *BOT])
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_a_sigterm_keeps_what_was_read_and_exits_143(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (a CI job cancelled, a container stopped) reaches learn as the signal
    handler's Interrupted: it was said 'interrupted' with exit 130, where every other
    command says 'terminated', 143."""
    import signal

    from rcsqualify.files import Interrupted
    from rcsqualify.learn import apply

    real = apply.read_events

    def terminated(*args: object, **kw: object):  # type: ignore[no-untyped-def]
        chunks = real(*args, **kw)  # type: ignore[arg-type]
        yield next(chunks)
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(apply, "read_events", terminated)
    ev = tmp_path / "ev.csv"
    ev.write_text("number,outcome\n0607000001,read\n0607000002,not_rcs\n")
    code, report, err = _learn([str(ev), *BOT])
    assert code == 143
    assert "terminated" in err.strip().splitlines()[-1]
    assert report["interrupted"] and report["learned"] == {"reachable": 1, "not_rcs": 1}


def test_a_hostile_workbook_is_refused_with_the_contact_files_bounds(tmp_path: Path) -> None:
    """learn read XLSX with openpyxl's read-only mode, which contact files stopped using
    (issue #23): a cell inflating to 64 MiB (a 65 KB file; 1 GiB took 23 GB of memory)
    was built whole, and a document type declaration (an entity bomb's home) was
    parsed. The contact files' streaming reader and its bounds apply now."""
    from tests.test_hostile_xlsx import _NS, _bomb, _workbook

    head = (f'<worksheet {_NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>number'
            '</t></is></c><c r="B1" t="inlineStr"><is><t>outcome</t></is></c></row>'
            '<row r="2"><c r="A2" t="inlineStr"><is><t>').encode()
    bomb = _workbook(tmp_path / "bomb.xlsx", _bomb(head, 64 << 20, b"</t></is></c></row>"
                                                   b"</sheetData></worksheet>"))
    dtd = _workbook(tmp_path / "dtd.xlsx", [
        b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "0607000001">]>'
        + f'<worksheet {_NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>number'
          '</t></is></c><c r="B1" t="inlineStr"><is><t>outcome</t></is></c></row>'
          '<row r="2"><c r="A2" t="inlineStr"><is><t>&a;</t></is></c><c r="B2" '
          't="inlineStr"><is><t>read</t></is></c></row></sheetData></worksheet>'.encode()])
    for path, message in ((bomb, "32,767 characters"), (dtd, "document type declaration")):
        result = run_cli(["learn", str(path), *BOT])
        assert result.exit_code == 2, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr


def test_a_workbook_of_several_sheets_is_read_from_its_first(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Number", "Outcome", "Time"])
    book.active.append([607000001, "READ", "01/11/2026 10:00"])
    book.create_sheet("Notes").append(["rien"])
    book.save(tmp_path / "ev.xlsx")
    code, report, err = _learn([str(tmp_path / "ev.xlsx"), *BOT])
    assert code == 0, err
    assert report["outcomes"]["reachable"] == 1 and report["tally"]["undated"] == 0


def _arrow_spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], int]]:
    """Every call to Arrow's JSON reader: the schema it was given (refused at once when
    none: inferring, it is quadratic in distinct keys) and the columns it built."""
    import pyarrow.json as pj

    real = pj.read_json
    calls: list[tuple[list[str], int]] = []

    def read_json(source: object, read_options: object = None,
                  parse_options: pj.ParseOptions | None = None, **kw: object) -> object:
        assert parse_options is not None and parse_options.explicit_schema is not None, (
            "Arrow's JSON reader left to infer a column of every key")
        assert parse_options.unexpected_field_behavior == "ignore"
        table = real(source, read_options=read_options, parse_options=parse_options, **kw)
        calls.append((parse_options.explicit_schema.names, table.num_columns))
        return table

    monkeypatch.setattr(pj, "read_json", read_json)
    return calls


def test_lines_of_unique_keys_build_only_the_profile_columns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """20,000 events each carrying 20 keys no other line has (7.8 MB): Arrow's JSON
    reader, left to infer, made a column of each of the 400,000 keys at a cost growing
    with the columns already made (2,000 such lines took 12 s of CPU, 4,000 took 31 s
    and 3 GB; this file, minutes and more memory than the machine has), deaf to
    SIGTERM. It is given the profile's fields now and ignores every other key."""
    calls = _arrow_spy(monkeypatch)
    ev = tmp_path / "ev.ndjson"
    with ev.open("w") as fh:
        for i in range(20_000):
            fh.write(json.dumps({"number": f"0607{i % 100:06d}", "outcome": "read",
                                 **{f"k{i}_{j}": "x" for j in range(20)}}) + "\n")
    code, report, err = _learn([str(ev), *BOT])
    assert code == 0, err
    assert report["read"]["events"] == 20_000 and report["read"]["bad"] == 0
    assert report["learned"]["reachable"] == 100
    assert calls and all(sorted(names) == ["message_id", "number", "outcome", "time"]
                         and columns == 4 for names, columns in calls)


def test_a_pushed_event_of_unique_keys_builds_only_the_profile_columns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same inside Pub/Sub pushes (rbm: the event is base64 JSON in message.data):
    the decoded events were given to Arrow's reader to infer too."""
    calls = _arrow_spy(monkeypatch)
    ev = tmp_path / "push.ndjson"
    with ev.open("w") as fh:
        for i in range(2_000):
            inner = {"senderPhoneNumber": f"+33607{i % 100:06d}", "eventType": "READ",
                     "sendTime": "2026-11-01T10:00:00Z",
                     **{f"k{i}_{j}": "x" for j in range(20)}}
            fh.write(json.dumps({"message": {"data": base64.b64encode(
                json.dumps(inner).encode()).decode(), f"o{i}": 1}}) + "\n")
    code, report, err = _learn([str(ev), "--outcomes", "rbm", *BOT])
    assert code == 0, err
    assert report["learned"]["reachable"] == 100 and report["read"]["bad"] == 0
    assert len(calls) == 2 and max(columns for _, columns in calls) <= 8


def test_a_number_where_text_was_expected_is_read_typed_or_line_by_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a schema of text fields, a MaaP send log's ``"httpStatus": 404`` made Arrow
    refuse the block: it is read again with that field as integers (still by Arrow);
    a field holding numbers on some lines and text on others goes line by line. Either
    way every event is learned."""
    from rcsqualify.learn import events

    calls = _arrow_spy(monkeypatch)
    by_lines: list[int] = []
    real_rows = events._ndjson_rows

    def rows(block: bytes, *args: object) -> object:
        by_lines.append(block.count(b"\n"))
        return real_rows(block, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(events, "_ndjson_rows", rows)
    sends = tmp_path / "sends.ndjson"
    sends.write_text("".join(json.dumps({
        "messageContact": {"userContact": f"+3360700000{i}"}, "httpStatus": 404,
        "timestamp": "2026-11-01T10:00:00Z"}) + "\n" for i in range(5)))
    code, report, err = _learn([str(sends), "--outcomes", "maap", *BOT])
    assert code == 0, err
    assert report["learned"] == {"reachable": 0, "not_rcs": 5}
    assert by_lines == [] and len(calls) == 1  # read by Arrow, once typed
    mixed = tmp_path / "mixed.ndjson"
    mixed.write_text('{"number": 33607000001, "outcome": "read"}\n'
                     '{"number": "0607000002", "outcome": "read"}\n')
    code, report, err = _learn([str(mixed), *BOT])
    assert code == 0, err
    assert report["learned"]["reachable"] == 2 and report["read"]["bad"] == 0
    assert by_lines == [2]
