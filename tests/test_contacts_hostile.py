"""Issue #25 attacked from outside (a hostile review): real files through the command
line, remote services on the emulator, each attack a test. What a user reads (the
annotated output, the JSON report, the split lists, stderr) is what is checked."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Emulator
from tests.helpers import check_json, e164, run_cli, write_csv

pytestmark = pytest.mark.usefixtures("quick_retries")

ORANGE, SFR = "20801", "20810"
FIXED = "01 45 67 89 10"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def offline(args: list[str], tmp_path: Path, name: str = "out.csv"
            ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    out = tmp_path / name
    result, report = check_json([*args, "--threshold", "1", "-o", str(out)])
    assert result.exit_code in (0, 3), result.stderr
    return report, read_rows(out)


def contacts_block(report: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = report["input"]["contacts"]
    return block


# -- the rule and the counting, offline -------------------------------------------------
def test_one_number_in_two_columns_of_one_contact_is_one_number_one_message(
        tmp_path: Path) -> None:
    """The same number written two ways in a contact's two columns: one number, one
    message, nobody rescued, the same verdict in both per-column statuses."""
    f = write_csv(tmp_path / "same.csv", [["nom", "a", "b"],
                                          ["x", "06 07 00 00 01", "+33607000001"],
                                          ["y", "06 07 00 00 02", ""]])
    report, rows = offline([str(f), "-c", "a", "-c", "b"], tmp_path)
    c = report["counts"]
    assert (c["contacts"], c["messages"], c["duplicates"], c["rescued"]) == (2, 2, 0, 0)
    block = contacts_block(report)
    assert block["numbers"] == 3 and block["distinct_numbers"] == 2
    assert rows[0]["chosen_column"] == "a" and rows[0]["a_status"] == rows[0]["b_status"]
    assert rows[0]["a_e164"] == rows[0]["b_e164"] == rows[0]["chosen_number"]


def test_a_number_shared_by_contacts_that_choose_differently(tmp_path: Path) -> None:
    """S (an SFR mobile) is A's second number and B's only one: A chooses its Orange
    mobile, B chooses S; S reads one verdict in both rows; two messages, no duplicate."""
    s = "06 10 00 00 01"  # SFR range
    f = write_csv(tmp_path / "shared.csv", [["nom", "a", "b"],
                                            ["A", "06 07 00 00 01", s],
                                            ["B", s, ""],
                                            ["C", "", s]])
    report, rows = offline([str(f), "-c", "a", "-c", "b"], tmp_path)
    by = {r["nom"]: r for r in rows}
    assert by["A"]["chosen_column"] == "a" and by["A"]["status"] == "unverified"
    assert by["B"]["chosen_number"] == by["C"]["chosen_number"] == e164("0610000001")
    assert by["A"]["b_status"] == by["B"]["a_status"] == by["C"]["b_status"] == "other_operator"
    c = report["counts"]
    # B and C share their chosen number: one message, one duplicate contact
    assert (c["contacts"], c["messages"], c["duplicates"]) == (3, 2, 1)
    assert c["unverified"] == 1 and c["other_operator"] == 1


def test_a_contact_whose_every_number_is_invalid(tmp_path: Path) -> None:
    """Every number invalid: the contact is one invalid message, its first number's
    reason; its other cells keep their own reasons in their columns."""
    f = write_csv(tmp_path / "bad.csv", [["nom", "a", "b", "c"],
                                         ["x", "N/A", "12", "06 07 00"],
                                         ["y", "N/A", "12", "06 07 00"]])
    report, rows = offline([str(f), "-c", "a", "-c", "b", "-c", "c"], tmp_path)
    assert [r["status"] for r in rows] == ["invalid", "invalid"]
    assert rows[0]["reason"] == "not_a_number" and rows[0]["chosen_column"] == "a"
    assert rows[0]["chosen_number"] == ""
    assert (rows[0]["a_status"], rows[0]["b_status"], rows[0]["c_status"]) == (
        "invalid", "invalid", "invalid")
    c = report["counts"]
    # invalid numbers are one message per contact each (as invalid rows are)
    assert (c["contacts"], c["messages"], c["duplicates"], c["invalid"]) == (2, 2, 0, 2)
    assert c["rescued"] == 0


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'one' if k in a else 'contacts'}")
            else:
                out += _diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


#: the keys a run grouped into contacts adds, and what legitimately differs per run
CONTACT_ONLY = {".counts.contacts", ".counts.rescued", ".input.contacts",
                ".input.contact_id", ".input.number_rank", ".input.phone_columns"}
PER_RUN = (".timings", ".run", ".generated", ".started", ".finished", ".duration",
           ".elapsed", ".input.read_s")


def test_one_column_with_a_contact_id_of_unique_ids_is_every_figure_as_before(
        tmp_path: Path, sample_contacts: Path) -> None:
    """The sample export read by the row path and, with a contact id unique per row,
    by the contact path: the JSON report compared key by key (every key, not a list of
    them), and every row's verdict."""
    text = sample_contacts.read_bytes().decode("cp1252").splitlines()
    with_id = [f"{line};id" if i == 0 else f"{line};{i}" for i, line in enumerate(text)]
    f = tmp_path / "ids.csv"
    f.write_text("\r\n".join(with_id) + "\r\n", encoding="utf-8")
    one, rows1 = offline([str(f), "-c", "Téléphone portable"], tmp_path, "one.csv")
    many, rows2 = offline([str(f), "-c", "Téléphone portable", "--contact-id", "id"],
                          tmp_path, "many.csv")
    diffs = [d for d in _diff(one, many)
             if not d.startswith(tuple(CONTACT_ONLY)) and not d.startswith(PER_RUN)]
    assert diffs == []
    assert many["counts"]["contacts"] == one["counts"]["rows"]
    assert len(rows1) == len(rows2)
    for before, after in zip(rows1, rows2, strict=True):
        assert {k: after[k] for k in before} == before


def test_a_long_file_whose_contact_rows_are_not_adjacent(tmp_path: Path) -> None:
    """Rows of one contact scattered through the file are still one contact; its
    numbers in file order; its rows all carry its chosen number."""
    f = write_csv(tmp_path / "long.csv", [["id", "tel"],
                                          ["1", FIXED],
                                          ["2", "06 07 00 00 02"],
                                          ["1", "06 10 00 00 01"],
                                          ["3", "06 07 00 00 03"],
                                          ["1", "06 07 00 00 01"]])
    report, rows = offline([str(f), "-c", "tel", "--contact-id", "id"], tmp_path)
    assert [r["chosen_number"] for r in rows] == [
        e164("0607000001"), e164("0607000002"), e164("0607000001"), e164("0607000003"),
        e164("0607000001")]
    c = report["counts"]
    assert (c["contacts"], c["messages"], c["rescued"]) == (3, 3, 1)


def test_contact_ids_compared_as_text_stripped_of_spaces(tmp_path: Path) -> None:
    """`7` and ` 7 ` are one contact; `007`, `7` and `AB`/`ab` are distinct (documented:
    the file decides what an id is)."""
    f = write_csv(tmp_path / "ids.csv", [["id", "tel"],
                                         ["7", "06 07 00 00 01"],
                                         [" 7 ", "06 07 00 00 02"],
                                         ["007", "06 07 00 00 03"],
                                         ["AB", "06 07 00 00 04"],
                                         ["ab", "06 07 00 00 05"]])
    report, _ = offline([str(f), "-c", "tel", "--contact-id", "id"], tmp_path)
    assert report["counts"]["contacts"] == 4


def test_numeric_contact_ids_of_a_sheet_are_one_contact_whatever_the_cell_kind(
        tmp_path: Path) -> None:
    """An XLSX id column where one cell is the number 7 and another the text "7" (a
    common mix: part typed, part pasted): a user sees 7 twice, one contact; 7.5 is
    another."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in (["id", "tel"], [7, "06 07 00 00 01"], ["7", "06 07 00 00 02"],
                [7.0, "06 07 00 00 03"], [7.5, "06 07 00 00 04"]):
        ws.append(row)
    f = tmp_path / "ids.xlsx"
    wb.save(f)
    report, rows = offline([str(f), "-c", "tel", "--contact-id", "id"], tmp_path)
    assert report["counts"]["contacts"] == 2
    assert rows[0]["id"] == "7"


def test_number_rank_ties_negatives_and_nan(tmp_path: Path) -> None:
    """Ties keep file order; negative ranks come first; NaN, `nan`, and blank ranks go
    after every number; never a traceback."""
    f = write_csv(tmp_path / "rank.csv", [["id", "tel", "rang"],
                                          ["1", "06 10 00 00 01", "1"],   # SFR, tie first
                                          ["1", "06 07 00 00 01", "1"],   # Orange, tie
                                          ["2", "06 10 00 00 02", "nan"],
                                          ["2", "06 07 00 00 02", "-3"],
                                          ["3", "06 07 00 00 03", ""],
                                          ["3", "06 10 00 00 03", "NaN"],
                                          ["3", "06 20 00 00 03", "-inf"]])
    report, rows = offline([str(f), "-c", "tel", "--contact-id", "id", "--number-rank",
                            "rang"], tmp_path)
    chosen = [r["chosen_number"] for r in rows]
    # every Orange mobile is unverified offline: the best tier; ties resolved by rank
    assert chosen[0] == e164("0607000001")  # rescued: SFR ranked first (file order)
    assert chosen[2] == e164("0607000002")  # -3 before nan: the first number
    assert chosen[4] == e164("0607000003")
    c = report["counts"]
    assert c["rescued"] == 2  # contact 1 (tie, file order) and 3 (-inf first)


@pytest.mark.parametrize("cap", ["0", "-1"])
def test_max_numbers_per_contact_below_one_is_a_one_line_error(tmp_path: Path,
                                                               cap: str) -> None:
    f = write_csv(tmp_path / "w.csv", [["a", "b"], ["06 07 00 00 01", "06 07 00 00 02"]])
    result = run_cli(["check", str(f), "-c", "a", "-c", "b", "--max-numbers-per-contact",
                      cap])
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr
    assert "max-numbers-per-contact" in result.stderr


def test_ten_thousand_numbers_for_one_contact_capped_at_one(tmp_path: Path) -> None:
    rows = [["id", "tel"], *[["1", f"06 07 {i // 10000:02d} {i % 10000:04d}"]
                             for i in range(10_000)], ["2", "06 10 00 00 01"]]
    f = write_csv(tmp_path / "big.csv", rows)
    report, out = offline([str(f), "-c", "tel", "--contact-id", "id",
                           "--max-numbers-per-contact", "1"], tmp_path)
    assert len(out) == 10_001
    block = contacts_block(report)
    assert block["numbers_dropped"] == 9_999 and block["contacts_capped"] == 1
    c = report["counts"]
    assert (c["contacts"], c["messages"], c["rescued"]) == (2, 2, 0)
    assert {r["chosen_number"] for r in out[:-1]} == {e164("0607000000")}
    said = [w for w in report["warnings"] if "past the cap" in w]
    assert said == ["contacts past the cap of --max-numbers-per-contact 1: 1; numbers past "
                    "it, neither chosen nor looked up: 9,999"]


def test_input_columns_named_like_output_columns_are_kept(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "names.csv", [
        ["tel1", "tel2", "chosen_number", "tel1_status", "status", "chosen_column"],
        ["06 07 00 00 01", "06 10 00 00 01", "mine", "theirs", "vip", "x"]])
    _, rows = offline([str(f), "-c", "tel1", "-c", "tel2"], tmp_path)
    r = rows[0]
    assert r["chosen_number_input"] == "mine" and r["tel1_status_input"] == "theirs"
    assert r["status_input"] == "vip" and r["chosen_column_input"] == "x"
    assert r["chosen_number"] == e164("0607000001") and r["tel1_status"] == "unverified"
    assert r["status"] == "unverified" and r["chosen_column"] == "tel1"


def test_split_lists_hold_each_contact_once_with_its_chosen_number(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "long.csv", [["id", "tel", "nom"],
                                          ["1", FIXED, "un"],
                                          ["1", "06 07 00 00 01", "un"],
                                          ["2", "06 10 00 00 02", "deux"],
                                          ["1", "06 07 00 00 09", "un"],
                                          ["3", "06 07 00 00 01", "trois"]])
    split = tmp_path / "lists"
    result = run_cli(["check", str(f), "-c", "tel", "--contact-id", "id", "--threshold",
                      "1", "--split-dir", str(split), "-q"])
    assert result.exit_code in (0, 3), result.stderr
    listed: dict[str, list[dict[str, str]]] = {}
    for p in sorted(split.glob("*.csv")):
        listed[p.name] = read_rows(p)
    everyone = [r for rows in listed.values() for r in rows]
    ids = [r["id"] for r in everyone]
    # contact 3 shares its chosen number with contact 1: a duplicate, listed once
    assert sorted(ids) == ["1", "2"], listed
    numbers = {r["id"]: r.get("msisdn_e164") or r.get("chosen_number") for r in everyone}
    assert numbers["1"] == e164("0607000001") and numbers["2"] == e164("0610000002")


# -- the wording -------------------------------------------------------------------------
@pytest.mark.parametrize(("fmt", "lang", "says", "never"), [
    ("md", "en", "1 contact rescued by a second number", "1 contacts"),
    ("md", "fr", "1 contact sauvé par un autre", "1 contacts"),
    ("html", "en", "1 contact rescued by a second number", "1 contacts"),
    ("html", "fr", "1 contact sauvé par un autre", "1 contacts"),
])
def test_one_rescued_contact_is_said_in_the_singular(tmp_path: Path, fmt: str, lang: str,
                                                     says: str, never: str) -> None:
    f = write_csv(tmp_path / "one.csv", [["a", "b"], [FIXED, "06 07 00 00 01"]])
    out = tmp_path / f"r.{fmt}"
    result = run_cli(["check", str(f), "-c", "a", "-c", "b", "--threshold", "1",
                      "--lang", lang, f"--{'html' if fmt == 'html' else 'markdown'}-report",
                      str(out), "-q"])
    assert result.exit_code in (0, 3), result.stderr
    text = out.read_text(encoding="utf-8")
    assert says in text and never not in text


# -- remote: cache, MNP, RBM, the dry run -------------------------------------------------
def _asked(emulator: Emulator) -> dict[str, int]:
    return dict(emulator.stats()["asked"])


def two_column_base(tmp_path: Path, emulator: Emulator, n: int = 6) -> Path:
    """n contacts: an Orange mobile not RCS-capable, then an Orange mobile capable (so
    every second number is asked, and rescues its contact)."""
    first = [f"0607{400 + i:06d}" for i in range(n)]
    second = [f"0607{500 + i:06d}" for i in range(n)]
    emulator.configure(numbers={**{e164(x): {"operator": ORANGE, "capable": False}
                                   for x in first},
                                **{e164(x): {"operator": ORANGE, "capable": True}
                                   for x in second}})
    return write_csv(tmp_path / "two.csv", [["nom", "m1", "m2"],
                                            *[[f"c{i}", a, b] for i, (a, b)
                                              in enumerate(zip(first, second, strict=True))]])


def test_a_second_run_asks_nothing_and_says_the_same(tmp_path: Path,
                                                     emulator: Emulator) -> None:
    f = two_column_base(tmp_path, emulator)
    args = [str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(), "--mnp-url",
            emulator.mnp_url(), "--rate", "300", "--threshold", "1", "--cache-dir",
            str(tmp_path / "cache")]
    r1, first = check_json(args)
    assert r1.exit_code == 0, r1.stderr
    assert first["counts"]["rescued"] == 6 and first["counts"]["reachable"] == 6
    before = _asked(emulator)
    assert sum(before.values()) == 24  # 12 MNP + 12 BotHub
    r2, second = check_json(args)
    assert r2.exit_code == 0, r2.stderr
    assert _asked(emulator) == before
    for key in ("counts", "reasons", "error_ratio", "error_ratio_upper", "decision",
                "send_plan", "operators"):
        assert second[key] == first[key], key


def test_mnp_garbage_for_the_second_numbers_only_is_never_a_verdict_nor_cached(
        tmp_path: Path, emulator: Emulator) -> None:
    """The first numbers' answers are cached by a first run of m1; the MNP service then
    answers garbage (a 500, then a 200 that is no answer) to every request: the second
    numbers are asked, fail, and stay unverified; nothing of theirs is cached, so the
    next run asks them again."""
    f = two_column_base(tmp_path, emulator, n=4)
    common = [*emulator.bothub_args(), "--mnp-url", emulator.mnp_url(), "--rate", "300",
              "--threshold", "0.5", "--cache-dir", str(tmp_path / "cache")]
    r0, _ = check_json([str(f), "-c", "m1", *common])
    assert r0.exit_code == 1, r0.stderr  # every first number: not RCS
    emulator.configure(inject=[{"family": "mnp", "status": 500, "body": "oops",
                                "count": 1000}])
    out = tmp_path / "o.csv"
    r1, rep = check_json([str(f), "-c", "m1", "-c", "m2", *common, "-o", str(out)])
    assert r1.exit_code == 3, r1.stderr
    rows = read_rows(out)
    assert all(r["m2_status"] == "unverified" for r in rows)
    assert all(r["status"] == "unverified" and r["chosen_column"] == "m2" for r in rows)
    assert rep["counts"]["reachable"] == 0
    emulator.configure(inject=[{"family": "mnp", "status": 200, "content_type":
                                "application/json", "body": '{"what": 1}', "count": 1000}])
    r2, rep2 = check_json([str(f), "-c", "m1", "-c", "m2", *common])
    assert r2.exit_code == 3, r2.stderr
    assert rep2["counts"]["reachable"] == 0
    emulator.configure(inject=[])
    before = _asked(emulator)
    r3, rep3 = check_json([str(f), "-c", "m1", "-c", "m2", *common])
    assert r3.exit_code == 0, r3.stderr
    assert rep3["counts"]["reachable"] == 4
    newly = {k for k, v in _asked(emulator).items() if v > before.get(k, 0)}
    assert {k for k in newly if k.startswith("mnp:")} == {
        f"mnp:{e164(f'0607{500 + i:06d}')}" for i in range(4)}


def test_other_route_rbm_down_never_a_verdict(tmp_path: Path, emulator: Emulator) -> None:
    """RBM answers 503 to everything: contacts whose first number is SFR and second
    fixed keep an unverified-free, honest answer: no route rbm, exit 3 (checks could
    not be done), no rbm answer cached."""
    from tests.helpers import service_account

    sfr = [f"0610{i:06d}" for i in range(3)]
    emulator.configure(numbers={e164(x): {"operator": SFR, "capable": True} for x in sfr},
                       rbm_launched_mccmnc=[SFR],
                       inject=[{"family": "rbm", "status": 503, "body": "down",
                                "count": 1000}])
    f = write_csv(tmp_path / "rbm.csv", [["nom", "m1", "m2"],
                                         *[[f"c{i}", x, FIXED] for i, x in enumerate(sfr)]])
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    out = tmp_path / "o.csv"
    result, _ = check_json([str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(),
                                 "--mnp-url", emulator.mnp_url(), "--other-route", "rbm",
                                 *emulator.rbm_args(sa), "--rate", "300", "--threshold",
                                 "1", "--cache-dir", str(tmp_path / "cache"), "-o",
                                 str(out)])
    assert result.exit_code in (0, 3), result.stderr
    rows = read_rows(out)
    assert all(r["route"] != "rbm" for r in rows)
    assert all(r["chosen_column"] == "m1" and r["status"] == "other_operator" for r in rows)
    assert not any(x in result.stderr for x in sfr + [e164(x) for x in sfr])
    emulator.configure(inject=[])
    before = _asked(emulator)
    r2, _ = check_json([str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(),
                        "--mnp-url", emulator.mnp_url(), "--other-route", "rbm",
                        *emulator.rbm_args(sa), "--rate", "300", "--threshold", "1",
                        "--cache-dir", str(tmp_path / "cache"), "-o", str(out)])
    assert r2.exit_code in (0, 3), r2.stderr
    newly = {k for k, v in _asked(emulator).items() if v > before.get(k, 0)}
    assert {k for k in newly if k.startswith("rbm:")} == {f"rbm:{e164(x)}" for x in sfr}
    assert all(r["route"] == "rbm" for r in read_rows(out))
    settled = _asked(emulator)
    r3, _ = check_json([str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(),
                        "--mnp-url", emulator.mnp_url(), "--other-route", "rbm",
                        *emulator.rbm_args(sa), "--rate", "300", "--threshold", "1",
                        "--cache-dir", str(tmp_path / "cache")])
    assert r3.exit_code == 0, r3.stderr
    assert _asked(emulator) == settled  # a third run asks nothing


def test_errors_never_show_a_number_in_clear(tmp_path: Path, emulator: Emulator) -> None:
    """BotHub down for every request: whatever the run says on stderr (warnings, the
    failed checks, the next step) names no number of the file."""
    f = two_column_base(tmp_path, emulator, n=3)
    emulator.configure(inject=[{"family": "bothub", "status": 500,
                                "body": "+33607000400 failed", "count": 1000}])
    result = run_cli(["check", str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(),
                      "--mnp-url", emulator.mnp_url(), "--rate", "300", "--threshold", "0.5",
                      "--no-cache"])
    assert result.exit_code == 3
    text = result.output + result.stderr
    for i in range(3):
        for national in (f"0607{400 + i:06d}", f"0607{500 + i:06d}"):
            assert national not in text and e164(national) not in text
            assert national[1:] not in text


def test_sample_auto_with_every_contact_decided_by_the_cache(tmp_path: Path,
                                                             emulator: Emulator) -> None:
    f = two_column_base(tmp_path, emulator, n=6)
    services = [*emulator.bothub_args(), "--mnp-url", emulator.mnp_url(), "--rate", "300",
                "--threshold", "0.5", "--cache-dir", str(tmp_path / "cache")]
    common = [str(f), "-c", "m1", "-c", "m2", *services]
    r1, full = check_json(common)
    assert r1.exit_code == 0, r1.stderr
    before = _asked(emulator)
    r2, sampled = check_json([*common, "--sample", "auto"])
    assert r2.exit_code == 0, r2.stderr
    assert _asked(emulator) == before  # nothing to draw
    assert sampled["counts"] == full["counts"]
    r_n, fixed = check_json([*common, "--sample", "3"])
    assert r_n.exit_code == 0, r_n.stderr
    assert _asked(emulator) == before
    assert fixed["counts"] == full["counts"]
    # one contact made undecided: its second number's answer dropped from a fresh base
    emulator.configure(numbers={**{e164(f"0607{400 + i:06d}"): {"operator": ORANGE,
                                                                "capable": False}
                                   for i in range(7)},
                                **{e164(f"0607{500 + i:06d}"): {"operator": ORANGE,
                                                                "capable": True}
                                   for i in range(7)}})
    g = write_csv(tmp_path / "seven.csv", [["nom", "m1", "m2"],
                                           *[[f"c{i}", f"0607{400 + i:06d}",
                                              f"0607{500 + i:06d}"] for i in range(7)]])
    r3, rep = check_json([str(g), "-c", "m1", "-c", "m2", *services, "--sample", "auto"])
    assert r3.exit_code in (0, 3), r3.stderr
    newly = {k for k, v in _asked(emulator).items() if v > before.get(k, 0)}
    assert newly <= {f"{s}:{e164(x)}" for s in ("mnp", "bothub")
                     for x in ("0607000406", "0607000506")}
    assert rep["counts"]["contacts"] == 7


def test_dry_run_up_to_never_exceeded_on_three_columns_every_service(
        tmp_path: Path, emulator: Emulator) -> None:
    """Three columns, nothing cached, every second and third number asked (the first
    ones not capable, the second ones not capable, the third capable): the announced
    'up to' per service holds the run's count of distinct numbers asked."""
    import re

    a = [f"0607{600 + i:06d}" for i in range(5)]
    b = [f"0607{700 + i:06d}" for i in range(5)]
    c = [f"0607{800 + i:06d}" for i in range(5)]
    emulator.configure(numbers={**{e164(x): {"operator": ORANGE, "capable": False}
                                   for x in a + b},
                                **{e164(x): {"operator": ORANGE, "capable": True}
                                   for x in c}})
    f = write_csv(tmp_path / "three.csv", [["m1", "m2", "m3"],
                                           *[list(t) for t in zip(a, b, c, strict=True)]])
    args = ["check", str(f), "-c", "m1", "-c", "m2", "-c", "m3", *emulator.bothub_args(),
            "--mnp-url", emulator.mnp_url(), "--rate", "300", "--threshold", "1",
            "--no-cache"]
    dry = run_cli([*args, "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    line = re.compile(r"^(\w+)(?: \(other route\))?: would ask (up to )?(\d+) of", re.M)
    announced = {m[1]: (bool(m[2]), int(m[3])) for m in line.finditer(dry.stderr)}
    assert set(announced) == {"mnp", "bothub"}, dry.stderr
    before = _asked(emulator)
    run = run_cli([*args, "-q"])
    assert run.exit_code == 0, run.stderr
    made: dict[str, int] = {}
    for key, count in _asked(emulator).items():
        if count > before.get(key, 0):
            made[key.split(":", 1)[0]] = made.get(key.split(":", 1)[0], 0) + 1
    assert made == {"mnp": 15, "bothub": 15}
    assert announced == {"mnp": (True, 15), "bothub": (True, 15)}


@pytest.mark.parametrize("extra", [[], ["--sample", "auto"], ["--sample", "3"],
                                   ["--dry-run"]])
def test_a_base_without_any_valid_number_with_remote_services(
        tmp_path: Path, emulator: Emulator, extra: list[str]) -> None:
    """No valid number anywhere (the rounds have nothing to ask): a verdict, never an
    IndexError, nothing asked."""
    f = write_csv(tmp_path / "bad.csv", [["a", "b"], ["N/A", "12"], ["", "06 07"]])
    result = run_cli(["check", str(f), "-c", "a", "-c", "b", *emulator.bothub_args(),
                      "--mnp-url", emulator.mnp_url(), "--no-cache", "-q", *extra])
    assert result.exit_code == (0 if extra == ["--dry-run"] else 1), result.stderr
    assert "Error" not in result.stderr
    assert _asked(emulator) == {}


def test_an_expired_answer_for_the_second_number_only_is_asked_again(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second numbers' answers were cached 400 days ago (past every TTL), the first
    numbers' today: the two-column run takes the first from the cache, asks the second
    again (an expired answer is no answer), and rescues every contact."""
    import time

    from rcsqualify.remote.cache import LookupCache

    f = two_column_base(tmp_path, emulator, n=4)
    # a capable first number too: a run of identical negatives only caches none of them
    # (capability/interface.py: they could be a wrong path's 404s)
    emulator.configure(numbers={**{e164(f"0607{400 + i:06d}"): {"operator": ORANGE,
                                                                "capable": i == 4}
                                   for i in range(5)},
                                **{e164(f"0607{500 + i:06d}"): {"operator": ORANGE,
                                                                "capable": True}
                                   for i in range(4)}})
    with f.open("a", encoding="utf-8") as fh:
        fh.write("c4;0607000404;\r\n")
    common = [*emulator.bothub_args(), "--mnp-url", emulator.mnp_url(), "--rate", "300",
              "--threshold", "0.5", "--cache-dir", str(tmp_path / "cache")]
    defaults = LookupCache.__init__.__kwdefaults__
    assert defaults is not None
    now = time.time()
    monkeypatch.setitem(defaults, "clock", lambda: now - 400 * 86400)
    _, old = check_json([str(f), "-c", "m2", *common])
    assert old["counts"]["reachable"] == 4
    monkeypatch.setitem(defaults, "clock", time.time)
    today, _ = check_json([str(f), "-c", "m1", *common])
    assert today.exit_code == 1, today.stderr
    before = _asked(emulator)
    result, report = check_json([str(f), "-c", "m1", "-c", "m2", *common])
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["reachable"] == 5 and report["counts"]["rescued"] == 4
    newly = sorted(k for k, v in _asked(emulator).items() if v > before.get(k, 0))
    assert newly == sorted(f"{s}:{e164(f'0607{500 + i:06d}')}" for s in ("mnp", "bothub")
                           for i in range(4))
    assert all(v - before.get(k, 0) == 1 for k, v in _asked(emulator).items()
               if k in newly)


def test_one_column_with_unique_contact_ids_over_mnp_and_bothub_key_by_key(
        tmp_path: Path, emulator: Emulator, sample_contacts: Path) -> None:
    """Item 4 with remote look-ups, through a user's own path (a contact id unique per
    row, no patch): every key of the JSON report the same as the row path's, but the
    keys only a contacts run has and per-run timings."""
    text = sample_contacts.read_bytes().decode("cp1252").splitlines()
    with_id = [f"{line};id" if i == 0 else f"{line};{i}" for i, line in enumerate(text)]
    f = tmp_path / "ids.csv"
    f.write_text("\r\n".join(with_id) + "\r\n", encoding="utf-8")
    services = [*emulator.bothub_args(), "--mnp-url", emulator.mnp_url(), "--rate", "300",
                "--no-cache", "-c", "Téléphone portable"]
    emulator.reset(quota=1000)
    r1, one = check_json([str(f), *services])
    emulator.reset(quota=1000)
    r2, many = check_json([str(f), *services, "--contact-id", "id"])
    assert r1.exit_code == r2.exit_code
    assert one["counts"]["reachable"] > 0
    diffs = [d for d in _diff(one, many)
             if not d.startswith(tuple(CONTACT_ONLY)) and not d.startswith(PER_RUN)]
    assert diffs == []


def test_sample_auto_interrupted_then_resumed_draws_in_the_same_order(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the first batch of drawn contacts, then a re-run: nothing asked
    twice, and the draws go on in the order of an uninterrupted run (whose draws are
    all among the interrupted + resumed runs' ones)."""
    from rcsqualify import contact_check

    first = [f"0607{100 + i:06d}" for i in range(300)]
    second = [f"0607{900 + i:06d}" for i in range(300)]
    emulator.configure(numbers={**{e164(x): {"capable": i % 2 == 0}
                                   for i, x in enumerate(first)},
                                **{e164(x): {"capable": False} for x in second}})
    f = write_csv(tmp_path / "s.csv", [["nom", "m1", "m2"],
                                       *[[f"c{i}", a, b] for i, (a, b)
                                         in enumerate(zip(first, second, strict=True))]])

    def args(cache: str) -> list[str]:
        return [str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(), "--rate", "30",
                "--threshold", "0.5", "--sample", "auto", "--sample-max", "90",
                "--cache-dir", str(tmp_path / cache)]

    def asked_since(before: dict[str, int]) -> set[str]:
        return {k for k, v in _asked(emulator).items() if v > before.get(k, 0)}

    before = _asked(emulator)
    r_full, full = check_json(args("full"))
    assert r_full.exit_code == 3, r_full.stderr
    full_asked = asked_since(before)
    assert full["interval"]["drawn"] == 90

    real = contact_check._Lookups.resolve
    calls = []

    def interrupted(self: Any, contacts: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(self, contacts)

    monkeypatch.setattr(contact_check._Lookups, "resolve", interrupted)
    before = _asked(emulator)
    stopped = run_cli(["check", *args("cut"), "-q"])
    assert stopped.exit_code == 130, stopped.stderr
    first_asked = asked_since(before)
    monkeypatch.setattr(contact_check._Lookups, "resolve", real)
    assert first_asked and first_asked <= full_asked
    before = _asked(emulator)
    r2, resumed = check_json(args("cut"))
    assert r2.exit_code == 3, r2.stderr
    again = asked_since(before)
    assert not again & first_asked  # nothing asked twice
    assert full_asked <= first_asked | again
    assert resumed["counts"]["contacts"] == 300


@pytest.mark.parametrize("cap", ["1", "3"])
def test_the_dry_run_counts_numbers_within_the_cap_only(tmp_path: Path, emulator: Emulator,
                                                        cap: str) -> None:
    """10,000 numbers for one contact, capped: the dry run announces at most the cap's
    numbers for it, and the run asks no more than announced."""
    import re

    many = [f"0607{i:06d}" for i in range(10_000)]
    emulator.configure(numbers={e164(x): {"operator": ORANGE, "capable": False}
                                for x in [*many[:5], "0607999999"]})
    f = write_csv(tmp_path / "big.csv", [["id", "tel"], *[["1", x] for x in many],
                                         ["2", "06 07 99 99 99"]])
    args = ["check", str(f), "-c", "tel", "--contact-id", "id", "--max-numbers-per-contact",
            cap, *emulator.bothub_args(), "--mnp-url", emulator.mnp_url(), "--rate", "300",
            "--threshold", "1", "--no-cache"]
    dry = run_cli([*args, "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    line = re.compile(r"^(\w+)(?: \(other route\))?: would ask (up to )?(\d+) of", re.M)
    announced = {m[1]: int(m[3]) for m in line.finditer(dry.stderr)}
    assert announced == {"mnp": int(cap) + 1, "bothub": int(cap) + 1}, dry.stderr
    before = _asked(emulator)
    run = run_cli([*args, "-q"])
    assert run.exit_code in (0, 3), run.stderr
    made: dict[str, int] = {}
    for key, count in _asked(emulator).items():
        if count > before.get(key, 0):
            made[key.split(":", 1)[0]] = made.get(key.split(":", 1)[0], 0) + 1
    assert made == {"mnp": int(cap) + 1, "bothub": int(cap) + 1}


def test_the_terminal_says_one_contact_in_the_singular(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "one.csv", [["id", "a", "b"], ["", FIXED, "06 07 00 00 01"]])
    result = run_cli(["check", str(f), "-c", "a", "-c", "b", "--contact-id", "id",
                      "--threshold", "1"])
    assert result.exit_code in (0, 3), result.stderr
    text = " ".join((result.output + result.stderr).split())
    assert "1 contact," in text and "1 row without a contact id" in text
    assert "1 contact = 1 message + 0 duplicate contacts" in text
    assert "1 contact rescued" in text and "1 contacts" not in text


def test_an_mnp_error_inside_a_200_for_second_numbers_is_asked_again_next_run(
        tmp_path: Path, emulator: Emulator) -> None:
    """In one run: the first numbers answer (Orange, not RCS), the second ones get the
    service's error inside a 200: unverified (operator_error), never cached; the next
    run asks MNP again for the second numbers only."""
    first = [f"0607{200 + i:06d}" for i in range(4)]
    second = [f"0607{250 + i:06d}" for i in range(4)]
    emulator.configure(numbers={**{e164(x): {"operator": ORANGE, "capable": i == 0}
                                   for i, x in enumerate(first)},
                                **{e164(x): {"operator": "error", "capable": True}
                                   for x in second}})
    f = write_csv(tmp_path / "e.csv", [["nom", "m1", "m2"],
                                       *[[f"c{i}", a, b] for i, (a, b)
                                         in enumerate(zip(first, second, strict=True))]])
    args = [str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(), "--mnp-url",
            emulator.mnp_url(), "--rate", "300", "--threshold", "0.5", "--cache-dir",
            str(tmp_path / "cache")]
    out = tmp_path / "o.csv"
    r1, rep1 = check_json([*args, "-o", str(out)])
    assert r1.exit_code == 3, r1.stderr
    rows = read_rows(out)
    assert [r["m2_status"] for r in rows[1:]] == ["unverified"] * 3
    assert [r["reason"] for r in rows[1:]] == ["operator_error"] * 3
    before = _asked(emulator)
    r2, rep2 = check_json(args)
    assert r2.exit_code == 3, r2.stderr
    newly = {k for k, v in _asked(emulator).items() if v > before.get(k, 0)}
    assert newly == {f"mnp:{e164(x)}" for x in second[1:]}
    assert rep2["counts"] == rep1["counts"]
