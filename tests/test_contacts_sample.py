"""``--sample N`` and ``--sample auto`` over contacts (issue #25 item 6), over real HTTP
against the emulator: the unit is the contact whose choice depends on a remote answer,
a drawn contact is resolved fully (its second number asked exactly when its first is not
reachable), no number of a contact not drawn is asked, every row is in the output, and
one column without a contact id is today's sample."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rcsqualify.pipeline import fixed_sample
from tests.conftest import Emulator
from tests.helpers import check_json, e164, emulator_truth, frte_numbers, write_csv

SFR = "06 12 34 56 78"  # an SFR-range mobile: other_operator offline, nothing to ask
FIXED = "01 45 67 89 10"


def wide_rows(numbers: list[str], exact: int) -> list[list[str]]:
    """Contacts of two Orange-range mobiles each (the population: both could be asked)
    first, then ``exact`` contacts decided offline (an SFR mobile and a fixed line)."""
    half = len(numbers) // 2
    rows = [["nom", "mobile", "autre"]]
    rows += [[f"p{i}", numbers[i], numbers[half + i]] for i in range(half)]
    rows += [[f"x{i}", SFR, FIXED] for i in range(exact)]
    return rows


def long_rows(wide: list[list[str]]) -> list[list[str]]:
    """The same contacts one number a row (``--contact-id id``)."""
    rows = [["id", "tel"]]
    for r in wide[1:]:
        rows += [[r[0], r[1]], [r[0], r[2]]]
    return rows


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def asked_numbers(emulator: Emulator) -> set[str]:
    return {k.split(":", 1)[1] for k in emulator.stats()["asked"] if k.startswith("bothub:")}


def check_drawn_are_resolved(rows: list[dict[str, str]], truth: dict[str, bool],
                             pairs: dict[str, tuple[str, str]], asked: set[str]
                             ) -> list[str]:
    """Each drawn contact (its reason is not ``not_sampled``) had its first number asked,
    and its second exactly when the first is not reachable; nothing else was asked.
    Returns the drawn contacts' names."""
    reason = {}
    for r in rows:
        name = r.get("nom") or r["id"]
        reason.setdefault(name, r["reason"])
    drawn = [name for name, why in reason.items() if name in pairs and why != "not_sampled"]
    need: set[str] = set()
    for name in drawn:
        first, second = pairs[name]
        need.add(e164(first))
        if not truth[first]:
            need.add(e164(second))
        assert reason[name] == ("capability_positive" if truth[first] or truth[second]
                                else "capability_negative"), name
    assert asked == need
    return drawn


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_a_fixed_sample_draws_contacts_and_resolves_each(tmp_path: Path, emulator: Emulator,
                                                         layout: str) -> None:
    numbers = frte_numbers(80)
    truth = dict(zip(numbers, emulator_truth(numbers), strict=True))
    wide = wide_rows(numbers, exact=10)
    pairs = {r[0]: (r[1], r[2]) for r in wide[1:41]}
    if layout == "wide":
        f = write_csv(tmp_path / "w.csv", wide)
        cols = ["-c", "mobile", "-c", "autre"]
    else:
        f = write_csv(tmp_path / "l.csv", long_rows(wide))
        cols = ["-c", "tel", "--contact-id", "id"]
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), *cols, *emulator.bothub_args(), "--sample", "12",
                                 "--seed", "7", "--no-cache", "--threshold", "1",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    iv = report["interval"]
    assert (iv["method"], iv["unit"], iv["sampled"], iv["unresolved"]) == (
        "sample", "contact", 12, 40)
    rows = read_rows(out)
    assert len(rows) == len(wide) - 1 if layout == "wide" else 2 * (len(wide) - 1)
    drawn = check_drawn_are_resolved(rows, truth, pairs, asked_numbers(emulator))
    # the population's contacts are the first 40, drawn as one column draws numbers
    assert sorted(int(n[1:]) for n in drawn) == fixed_sample(np.arange(40), 12, 7).tolist()
    c = report["counts"]
    # the exact stratum: 10 contacts sharing one SFR number, one message
    assert (c["contacts"], c["messages"], c["other_operator"]) == (50, 41, 1)
    assert c["unverified"] == iv["extrapolated"] == 28  # the contacts not drawn
    assert iv["trials"] == 12 and c["reachable"] == 12 - iv["failures"]
    assert iv["error_ratio_low"] <= iv["error_ratio_estimate"] <= iv["error_ratio_high"]
    assert any(w.startswith("--sample 12: a fixed-sample interval") for w in report["warnings"])


def test_sample_auto_draws_contacts_until_decided(tmp_path: Path,
                                                  emulator: Emulator) -> None:
    emulator.reset(quota=1000, capable_share=0.7)  # a contact fails at about 9 %
    numbers = frte_numbers(4000)
    truth = dict(zip(numbers, emulator_truth(numbers), strict=True))
    wide = wide_rows(numbers, exact=100)
    pairs = {r[0]: (r[1], r[2]) for r in wide[1:2001]}
    f = write_csv(tmp_path / "long.csv", long_rows(wide))
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "-c", "tel", "--contact-id", "id",
                                 *emulator.bothub_args(), "--sample", "auto", "--rate",
                                 "400", "--threshold", "0.2", "--no-cache", "-o", str(out)])
    iv: dict[str, Any] = report["interval"]
    assert (iv["method"], iv["unit"], iv["decision"], result.exit_code) == (
        "sample auto", "contact", "pass", 0), result.output
    assert (iv["unresolved"], iv["exact_messages"], iv["exact_failures"]) == (2000, 1, 1)
    assert iv["observed"] <= iv["drawn"] < 2000
    rows = read_rows(out)
    assert len(rows) == 2 * 2100  # every input row
    drawn = check_drawn_are_resolved(rows, truth, pairs, asked_numbers(emulator))
    assert len(drawn) == iv["drawn"]
    c = report["counts"]
    assert c["unverified"] == iv["extrapolated"] == 2000 - iv["drawn"]
    assert report["bounds"]["high"] == pytest.approx(iv["error_ratio_high"], abs=1e-4)
    assert iv["error_ratio_high"] <= 0.2


def test_cached_contacts_are_exact_not_drawn(tmp_path: Path, emulator: Emulator) -> None:
    """A contact decided from the cache is known: out of the population."""
    numbers = frte_numbers(40)
    f = write_csv(tmp_path / "w.csv", wide_rows(numbers, exact=0))
    args = [str(f), "-c", "mobile", "-c", "autre", *emulator.bothub_args(),
            "--cache-dir", str(tmp_path / "cache"), "--threshold", "1"]
    _, first = check_json([*args, "--sample", "5"])
    assert first["interval"]["unresolved"] == 20
    _, second = check_json([*args, "--sample", "5", "--seed", "1"])
    assert second["interval"]["unresolved"] == 15  # the 5 drawn first are known now


def test_one_column_samples_as_before(tmp_path: Path, emulator: Emulator) -> None:
    numbers = frte_numbers(60)
    f = write_csv(tmp_path / "one.csv", [["nom", "mobile"],
                                         *[[f"n{i}", x] for i, x in enumerate(numbers)]])
    common = [*emulator.bothub_args(), "--sample", "10", "--no-cache", "--threshold", "1"]
    _, plain = check_json([str(f), *common])
    asked_plain = asked_numbers(emulator)
    emulator.reset(quota=1000)
    _, named = check_json([str(f), "-c", "mobile", *common])
    assert asked_numbers(emulator) == asked_plain and len(asked_plain) == 10
    assert named["interval"] == plain["interval"] and "unit" not in plain["interval"]
    for key in ("counts", "reasons", "error_ratio", "error_ratio_upper", "gate"):
        assert named[key] == plain[key], key


def test_mnp_and_a_second_route_are_asked_for_drawn_contacts_only(
        tmp_path: Path, emulator: Emulator) -> None:
    """With MNP and --other-route rbm, a drawn contact's numbers go to every service its
    choice needs; no service hears of a contact not drawn."""
    from tests.helpers import service_account

    emulator.configure(rbm_launched_mccmnc=["20810", "20820", "20815"])
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    numbers = frte_numbers(60)
    f = write_csv(tmp_path / "w.csv", wide_rows(numbers, exact=0))
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "-c", "mobile", "-c", "autre",
                                 *emulator.bothub_args(), "--mnp-url", emulator.mnp_url(),
                                 "--other-route", "rbm", *emulator.rbm_args(sa),
                                 "--sample", "8", "--no-cache", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert report["interval"]["sampled"] == 8
    rows = read_rows(out)
    assert len(rows) == 30
    drawn = {e164(n) for r in rows if r["reason"] != "not_sampled"
             for n in (r["mobile"], r["autre"])}
    assert len({r["nom"] for r in rows if r["reason"] != "not_sampled"}) == 8
    asked = emulator.stats()["asked"]
    for service in ("mnp", "bothub", "rbm"):
        numbers_asked = {k.split(":", 1)[1] for k in asked if k.startswith(service + ":")}
        assert numbers_asked <= drawn, service
    assert {k.split(":", 1)[1] for k in asked if k.startswith("mnp:")}  # MNP was asked
