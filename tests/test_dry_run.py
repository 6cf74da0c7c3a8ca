"""An honest dry run (issue #26 item 4): what ``--dry-run`` announces is what the run
then asks, measured on the emulator (the numbers each service was asked).

Equal when nothing depends on answers not known yet; never above the announced "up to"
otherwise (capability behind MNP look-ups still to make). The cache is consulted for
every stage, MNP included: a base whose MNP answers are all cached announces no MNP
look-up, and capability only for the numbers those answers leave on the target
operator (the dry run announced 741 look-ups where the run made 0).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Emulator
from tests.helpers import frte_numbers, run_cli, write_csv

LINE = re.compile(r"^(\S+): would ask (up to )?(\d+) of (\d+) numbers", re.M)


def base(path: Path, numbers: list[str]) -> Path:
    """A French export: a header, the contacts, and a TOTAL footer row at the end."""
    write_csv(path, [["nom", "tel"], *[[f"client {i}", n] for i, n in enumerate(numbers)],
                     ["TOTAL", str(len(numbers))]])
    return path


def announced(args: list[str]) -> dict[str, tuple[bool, int]]:
    """service → (an upper bound?, numbers it would ask), from the dry run's lines."""
    result = run_cli([*args, "--dry-run"])
    assert result.exit_code == 0, result.stderr
    return {m[1]: (bool(m[2]), int(m[3])) for m in LINE.finditer(result.stderr)}


def asked(emulator: Emulator, args: list[str]) -> dict[str, int]:
    """service → distinct numbers the real run asked it (the emulator's counts)."""
    before = Counter(emulator.stats()["asked"])
    result = run_cli([*args, "-q"])
    assert result.exit_code in (0, 1, 3), result.stderr
    after = Counter(emulator.stats()["asked"])
    return dict(Counter(key.split(":")[0] for key in after if after[key] > before[key]))


def test_the_dry_run_counts_what_the_run_asks(tmp_path: Path, emulator: Emulator) -> None:
    emulator.reset(quota=1000)
    numbers = frte_numbers(240)
    cache = ["--cache-dir", str(tmp_path / "cache"), "--rate", "500", "--rate-margin", "0"]
    mnp = ["--mnp-url", emulator.mnp_url()]
    full = base(tmp_path / "full.csv", numbers)
    # every MNP answer cached, capability only for the first 80 numbers' targets
    assert asked(emulator, ["check", str(full), *mnp, *cache])["mnp"] == 240
    part = base(tmp_path / "part.csv", numbers[:80])
    assert asked(emulator, ["check", str(part), *mnp, *emulator.bothub_args(), *cache,
                            "--threshold", "1"]).get("mnp", 0) == 0
    args = ["check", str(full), *mnp, *emulator.bothub_args(), *cache, "--threshold", "1"]
    plan = announced(args)
    assert plan["mnp"] == (False, 0)  # MNP answers in the cache: no look-up
    up_to, capability = plan["bothub"]
    assert not up_to and capability > 0
    real = asked(emulator, args)
    assert real.get("mnp", 0) == 0
    assert real["bothub"] == capability  # exact: the numbers MNP left on Orange

    # new numbers: MNP exact, capability up to (their operators are not known yet)
    grown = base(tmp_path / "grown.csv", numbers + frte_numbers(60, start=5000))
    args = ["check", str(grown), *mnp, *emulator.bothub_args(), *cache, "--threshold", "1"]
    plan = announced(args)
    assert plan["mnp"] == (False, 60)
    up_to, bound = plan["bothub"]
    assert up_to
    real = asked(emulator, args)
    assert real["mnp"] == 60
    assert real.get("bothub", 0) <= bound


def test_a_fixed_sample_and_the_footer_are_counted_as_the_run_does(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.reset(quota=1000)
    f = base(tmp_path / "c.csv", frte_numbers(150))
    cache = ["--cache-dir", str(tmp_path / "cache"), "--rate", "500", "--rate-margin", "0",
             "--threshold", "1", *emulator.bothub_args()]
    asked(emulator, ["check", str(f), *cache, "--sample", "40", "--seed", "1"])
    args = ["check", str(f), *cache, "--sample", "40", "--seed", "0"]
    plan = announced(args)
    up_to, count = plan["bothub"]
    assert not up_to and 0 < count <= 40
    dry = run_cli([*args, "--dry-run"]).stderr
    assert "footer" in dry  # the TOTAL row is read as a footer, as the run reads it
    assert asked(emulator, args)["bothub"] == count
    report = tmp_path / "r.json"
    run_cli([*args, "-q", "--json-report", str(report)])
    rows = json.loads(report.read_text())["input"]["rows"]
    assert rows == 150 and f"{rows} rows" in dry.replace(",", "")


def test_refresh_dry_run_says_what_it_would_ask_and_writes_nothing(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.reset(quota=1000)
    f = base(tmp_path / "c.csv", frte_numbers(30))
    before = emulator.stats()["asked"]
    result = run_cli(["refresh", str(f), *emulator.bothub_args(), "--dry-run",
                      "--cache-dir", str(tmp_path / "cache"), "--log-file",
                      str(tmp_path / "log.jsonl")])
    assert result.exit_code == 0, result.stderr
    assert "bothub: would ask 30 of 30 numbers" in result.stderr
    assert "DRY RUN" in result.stderr
    assert emulator.stats()["asked"] == before
    assert not (tmp_path / "log.jsonl").exists() and not (tmp_path / "c_lists").exists()


def test_contacts_with_several_numbers_count_every_number_a_run_could_ask(
        tmp_path: Path, emulator: Emulator) -> None:
    """Two phone columns (issue #25): the run asks a contact's second number when its
    first is not reachable, so the dry run counts both columns, as an upper bound (it
    counted the first column only, exactly, and the run then asked more)."""
    emulator.reset(quota=1000)
    first, second = frte_numbers(60), frte_numbers(60, start=7000)
    f = tmp_path / "wide.csv"
    write_csv(f, [["nom", "tel1", "tel2"],
                  *[[f"client {i}", first[i], second[i]] for i in range(60)],
                  ["TOTAL", "", "60"]])
    args = ["check", str(f), "-c", "tel1", "-c", "tel2", *emulator.bothub_args(),
            "--cache-dir", str(tmp_path / "cache"), "--rate", "500", "--rate-margin", "0",
            "--threshold", "1"]
    up_to, bound = announced(args)["bothub"]
    assert up_to and bound == 120
    real = asked(emulator, args)["bothub"]
    assert 60 < real <= bound  # some first numbers were not reachable: seconds asked
    # the long format (one number a row, a contact id): every number, up to
    long = tmp_path / "long.csv"
    write_csv(long, [["id", "tel"], *[[str(i), a] for i, a in enumerate(first)],
                     *[[str(i), b] for i, b in enumerate(second)]])
    plan = announced(["check", str(long), "-c", "tel", "--contact-id", "id",
                      *emulator.bothub_args(), "--cache-dir", str(tmp_path / "fresh")])
    assert plan["bothub"] == (True, 120)


@pytest.mark.parametrize("sample", [["--sample", "7"], ["--sample", "auto"]])
def test_a_sample_over_contacts_is_counted_up_to_every_number(
        tmp_path: Path, emulator: Emulator, sample: list[str]) -> None:
    """A sample over contacts draws contacts, each asking what its choice needs (one
    number or two): the dry run counts every number, up to, never a draw of numbers."""
    first, second = frte_numbers(30), frte_numbers(30, start=7000)
    f = write_csv(tmp_path / "wide.csv", [["nom", "tel1", "tel2"],
                                          *[[f"c{i}", first[i], second[i]]
                                            for i in range(30)]])
    args = ["check", str(f), "-c", "tel1", "-c", "tel2", *emulator.bothub_args(),
            "--cache-dir", str(tmp_path / "cache"), "--threshold", "1", *sample]
    assert announced(args)["bothub"] == (True, 60)
    assert asked(emulator, args).get("bothub", 0) <= 60
