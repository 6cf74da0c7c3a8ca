"""Issue #25 on the command line: ``-c`` repeated, ``--columns auto``, ``--contact-id``,
``--max-numbers-per-contact``; remote look-ups limited to the numbers that could change
a contact's choice, counted on the emulator over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Emulator
from tests.helpers import check_json, e164, emulator_truth, frte_numbers, run_cli, write_csv

FIXED = "01 45 67 89 10"


def test_remote_lookups_only_where_they_could_change_a_choice(tmp_path: Path,
                                                             emulator: Emulator) -> None:
    numbers = frte_numbers(120)
    truth = dict(zip(numbers, emulator_truth(numbers), strict=True))
    yes = [n for n in numbers if truth[n]]
    no = [n for n in numbers if not truth[n]]
    assert len(yes) >= 40 and len(no) >= 20
    rows = [["nom", "mobile", "autre"]]
    expected: set[str] = set()
    # reachable first number: the second is never asked
    for i in range(15):
        rows.append([f"a{i}", yes[i], yes[20 + i]])
        expected.add(yes[i])
    # not reachable first number: the second is asked, and rescues the contact
    for i in range(10):
        rows.append([f"b{i}", no[i], yes[40 + i] if 40 + i < len(yes) else yes[i]])
        expected |= {no[i], rows[-1][2]}
    # a fixed line first: only the mobile is asked
    for i in range(5):
        rows.append([f"c{i}", FIXED, no[10 + i]])
        expected.add(no[10 + i])
    f = write_csv(tmp_path / "two.csv", rows)
    result, report = check_json([str(f), "-c", "mobile", "-c", "autre",
                                 *emulator.bothub_args(), "--threshold", "1", "--no-cache"])
    assert result.exit_code == 0, result.output
    asked = {k.split(":", 1)[1] for k in emulator.stats()["asked"] if k.startswith("bothub:")}
    assert asked == {e164(n) for n in expected}
    c = report["counts"]
    assert c["contacts"] == 30 == c["messages"] + c["duplicates"]
    assert c["reachable"] == 25 and c["rescued"] == 15
    assert report["input"]["contacts"]["looked_up"] == len(expected)
    assert report["input"]["contacts"]["rescued_by_status"] == {"reachable": 10,
                                                                "not_rcs": 5}


def test_one_column_and_no_id_reports_as_before(tmp_path: Path,
                                                sample_contacts: Path) -> None:
    plain, before = check_json([str(sample_contacts)])
    again, after = check_json([str(sample_contacts), "-c", before["input"]["column"]])
    assert plain.exit_code == again.exit_code
    for key in ("counts", "reasons", "operators", "error_ratio", "error_ratio_upper",
                "send_plan", "gate", "exit_code"):
        assert after[key] == before[key], key
    assert "contacts" not in after["counts"]


def test_repeated_column_options_and_the_long_format(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "long.csv", [
        ["id", "tel", "rang"], ["1", FIXED, "2"], ["1", "06 07 00 00 01", "1"],
        ["", "06 12 34 56 78", ""]])
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--contact-id", "id", "--number-rank", "rang",
                                 "-o", str(out)])
    assert result.exit_code in (0, 1, 3), result.output
    assert report["counts"]["contacts"] == 2 and report["counts"]["rows"] == 3
    assert report["input"]["contacts"]["blank_ids"] == 1
    text = out.read_text(encoding="utf-8-sig")
    assert "chosen_number" in text.splitlines()[0] and "+33607000001" in text
    twice = run_cli(["check", str(f), "-c", "tel", "-c", "tel"])
    assert twice.exit_code == 2 and "given twice" in twice.output
    assert "Traceback" not in twice.output


def test_max_numbers_per_contact_and_columns_auto(tmp_path: Path) -> None:
    rows = [["id", "tel"], *[["X", f"06 07 00 {i // 100:02d} {i % 100:02d}"]
                             for i in range(30)]]
    f = write_csv(tmp_path / "many.csv", rows)
    _, report = check_json([str(f), "--contact-id", "id", "--max-numbers-per-contact", "5"])
    assert report["input"]["contacts"]["numbers_dropped"] == 25
    wide = write_csv(tmp_path / "wide.csv", [
        ["nom", "fixe", "portable"],
        *[[f"n{i}", FIXED, f"06 07 00 01 {i:02d}"] for i in range(10)]])
    _, auto = check_json([str(wide), "--columns", "auto"])
    assert auto["input"]["phone_columns"] == ["portable", "fixe"]
    _, plain = check_json([str(wide)])
    assert plain["input"]["other_phone_columns"] == ["fixe"]
    assert json.dumps(plain["counts"]).count("contacts") == 0


def test_phone_columns_from_a_profile(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "two.csv", [["nom", "mobile", "autre"],
                                         ["a", FIXED, "06 07 00 00 01"]])
    cfg = tmp_path / "rcsqualify.toml"
    cfg.write_text('[profiles.two]\ncolumn = ["mobile", "autre"]\n'
                   '[profiles.one]\ncolumn = "autre"\n', encoding="utf-8")
    _, two = check_json([str(f), "--config", str(cfg), "--profile", "two"])
    assert two["input"]["phone_columns"] == ["mobile", "autre"]
    assert two["counts"]["rescued"] == 1
    _, one = check_json([str(f), "--config", str(cfg), "--profile", "one"])
    assert one["input"]["column"] == "autre" and "contacts" not in one["counts"]
