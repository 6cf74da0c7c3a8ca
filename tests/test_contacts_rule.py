"""Issue #25 items 1, 3 and 5 end to end, over real HTTP against the emulator: the
chosen-number rule on every one of its branches in one run (MNP, BotHub and, or not, a
second route), and the read line of a run without ``-c`` naming the other phone-like
columns. The rule's unit tests (``tests/test_contacts_core.py``) read tiers; these read
what a user reads: ``chosen_column``, ``status``, ``route`` in the annotated output."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import Emulator
from tests.helpers import (
    check_json,
    e164,
    frte_numbers,
    run_cli,
    service_account,
    write_csv,
)

pytestmark = pytest.mark.usefixtures("quick_retries")

ORANGE, SFR, BOUYGUES, ERROR = "20801", "20810", "20820", "error"
FIXED = "01 45 67 89 10"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def branch_base(tmp_path: Path, emulator: Emulator) -> tuple[Path, dict[str, str]]:
    """One contact per branch of the rule, three phone columns each. Per national
    number, what MNP answers (an MCC-MNC, or an error) and whether it is RCS-capable."""
    n = [f"0607{300 + i:06d}" for i in range(10)]
    answers = {
        n[0]: (ORANGE, False), n[1]: (SFR, True), n[2]: (ORANGE, True),   # reachable 3rd
        n[3]: (ORANGE, False), n[4]: (ERROR, True), n[5]: (SFR, True),    # RBM 3rd
        n[6]: (BOUYGUES, True), n[7]: (ERROR, True),                      # unverified 3rd
        n[8]: (ORANGE, False), n[9]: (BOUYGUES, True),                    # first mobile
    }
    emulator.configure(numbers={e164(k): {"operator": op, "capable": cap}
                                for k, (op, cap) in answers.items()},
                       rbm_launched_mccmnc=[SFR])
    f = write_csv(tmp_path / "branches.csv", [
        ["nom", "m1", "m2", "m3"],
        ["reachable", n[0], n[1], n[2]],
        ["other_route", n[3], n[4], n[5]],
        ["unverified", FIXED, n[6], n[7]],
        ["mobile", FIXED, n[8], n[9]],
        ["number", "", "pas de numéro", FIXED],
        ["blank", "", "", ""],
    ])
    return f, {"n4": e164(n[4]), "n5": e164(n[5])}


@pytest.mark.parametrize("other_route", [True, False])
def test_the_chosen_number_on_every_branch_of_the_rule(tmp_path: Path, emulator: Emulator,
                                                       other_route: bool) -> None:
    """The first number, in priority order, that is: an RCS-reachable target mobile; else
    (with --other-route) an RBM-reachable mobile; else an unverified target mobile (here
    one whose operator look-up failed); else a valid mobile; else a number; else none."""
    f, keys = branch_base(tmp_path, emulator)
    route: list[str] = []
    if other_route:
        sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
        route = ["--other-route", "rbm", *emulator.rbm_args(sa)]
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "-c", "m1", "-c", "m2", "-c", "m3",
                                 *emulator.bothub_args(), "--mnp-url", emulator.mnp_url(),
                                 *route, "--rate", "300", "--no-cache", "--threshold", "1",
                                 "-o", str(out)])
    assert result.exit_code in (0, 3), result.stderr
    by = {r["nom"]: r for r in read_rows(out)}
    chosen = {name: (r["chosen_column"], r["status"]) for name, r in by.items()}
    assert chosen == {
        "reachable": ("m3", "reachable"),  # beats the RBM-reachable m2 before it
        # with a second route, its RBM-reachable m3 beats the unverified m2
        "other_route": ("m3", "other_operator") if other_route else ("m2", "unverified"),
        "unverified": ("m3", "unverified"),  # beats the Bouygues mobile m2
        "mobile": ("m2", "not_rcs"),  # the first valid mobile (m3 is one too)
        "number": ("m2", "invalid"),  # the first number, valid or not
        "blank": ("", "invalid"),
    }
    assert by["unverified"]["reason"] == "operator_error"
    assert by["number"]["reason"] == "not_a_number" and by["blank"]["reason"] == "empty"
    assert by["mobile"]["m3_status"] == "other_operator"
    if other_route:
        assert by["other_route"]["route"] == "rbm"
        assert by["other_route"]["chosen_number"] == keys["n5"]
        assert by["reachable"]["route"] == "bothub"
    else:
        assert by["other_route"]["chosen_number"] == keys["n4"]
    c = report["counts"]
    assert c["contacts"] == 6 == c["messages"] + c["duplicates"]
    assert sum(c[s] for s in ("invalid", "not_mobile", "other_operator", "not_rcs",
                              "unverified", "reachable")) == c["messages"]
    # rescued: every contact whose chosen number is not its first one (a blank cell
    # is no number: "number"'s first is m2)
    first = {name: next((m for m in ("m1", "m2", "m3") if r[m]), "")
             for name, r in by.items()}
    assert c["rescued"] == sum(1 for name, r in by.items()
                               if r["chosen_column"] != first[name]) == 4


def test_without_columns_the_read_line_names_the_other_phone_columns(
        tmp_path: Path) -> None:
    """Detection picks one column as before (the figures of that column alone), and the
    read line, on the terminal, names the other phone-like columns with the way to use
    them."""
    f = write_csv(tmp_path / "two.csv", [
        ["Nom", "Tél. portable", "Fixe", "Ville"],
        *[[f"n{i}", f"06 07 00 01 {i:02d}", FIXED, "Lyon"] for i in range(8)]])
    result = run_cli(["check", str(f)])
    assert result.exit_code in (0, 1, 3), result.stderr
    text = " ".join((result.stdout + result.stderr).split())
    assert "column 'Tél. portable', other phone-like columns: 'Fixe' (" in text
    assert "--columns auto" in text and "Ville" not in text.split("other phone-like")[1][:40]
    _, report = check_json([str(f)])
    assert report["input"]["column"] == "Tél. portable"
    assert report["input"]["other_phone_columns"] == ["Fixe"]
    assert report["counts"]["messages"] == 8 and "contacts" not in report["counts"]


DRY_LINE = re.compile(r"^(\w+)(?: \(other route\))?: would ask (up to )?(\d+) of", re.M)


def test_the_dry_run_never_announces_fewer_lookups_than_the_run_makes(
        tmp_path: Path, emulator: Emulator) -> None:
    """Three phone columns with MNP, BotHub and a second route, part of the answers
    cached by an earlier run of the first column: each service's announced count is an
    upper bound ("up to": a later number is asked only when the earlier ones leave the
    choice open) of the numbers the run then asks it."""
    f, _ = branch_base(tmp_path, emulator)
    sa = service_account(tmp_path, f"{emulator.base}/rbm/token")
    common = [*emulator.bothub_args(), "--mnp-url", emulator.mnp_url(), "--other-route",
              "rbm", *emulator.rbm_args(sa), "--cache-dir", str(tmp_path / "cache"),
              "--rate", "300", "--threshold", "1"]
    first = run_cli(["check", str(f), "-c", "m1", *common, "-q"])
    assert first.exit_code in (0, 3), first.stderr
    args = ["check", str(f), "-c", "m1", "-c", "m2", "-c", "m3", *common]
    dry = run_cli([*args, "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    announced = {m[1]: (bool(m[2]), int(m[3])) for m in DRY_LINE.finditer(dry.stderr)}
    assert set(announced) == {"mnp", "bothub", "rbm"}, dry.stderr
    before = dict(emulator.stats()["asked"])
    run = run_cli([*args, "-q"])
    assert run.exit_code in (0, 3), run.stderr
    after = emulator.stats()["asked"]
    made: dict[str, int] = {}
    for key, count in after.items():
        if count > before.get(key, 0):
            service = key.split(":", 1)[0]
            made[service] = made.get(service, 0) + 1
    assert made.get("mnp", 0) > 0 and made.get("bothub", 0) > 0  # the run did ask
    for service, (up_to, count) in announced.items():
        assert up_to, service
        assert made.get(service, 0) <= count, (service, made, announced)


def test_one_column_through_the_contacts_path_gives_every_figure_as_before(
        tmp_path: Path, emulator: Emulator, sample_contacts: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 4 with remote look-ups: the sample export, one phone column, checked over
    MNP and BotHub by the row path and then forced through the contact path (each row
    its own contact): every figure of the report, and every row's verdict, the same."""
    from rcsqualify.contacts.source import ContactSource

    def run(name: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        emulator.reset(quota=1000)
        out = tmp_path / f"{name}.csv"
        result, report = check_json([str(sample_contacts), *emulator.bothub_args(),
                                     "--mnp-url", emulator.mnp_url(), "--rate", "300",
                                     "--no-cache", "-o", str(out)])
        assert result.exit_code in (0, 1, 3), result.stderr
        return report, read_rows(out)

    rows_report, rows_out = run("rows")
    assert "contacts" not in rows_report["counts"]
    monkeypatch.setattr(ContactSource, "per_contact", property(lambda self: True))
    contacts_report, contacts_out = run("contacts")
    counts = dict(contacts_report["counts"])
    assert counts.pop("contacts") == counts["rows"] and counts.pop("rescued") == 0
    assert counts == rows_report["counts"]
    assert rows_report["counts"]["reachable"] > 0 and rows_report["counts"]["messages"] > 100
    for key in ("reasons", "repaired", "operators", "operator_sources", "territories",
                "error_ratio", "error_ratio_upper", "send_plan", "gate", "decision",
                "bounds", "exit_code", "projection", "routes", "failed_checks"):
        assert contacts_report[key] == rows_report[key], key
    assert len(contacts_out) == len(rows_out)
    for before, after in zip(rows_out, contacts_out, strict=True):
        assert {k: after[k] for k in before} == before


@pytest.mark.parametrize(("lang", "words"), [("en", "2 contacts rescued by a second number"),
                                             ("fr", "2 contacts sauvés par un autre")])
def test_every_report_says_how_many_contacts_were_rescued(tmp_path: Path, lang: str,
                                                          words: str) -> None:
    """Item 5: JSON, HTML and Markdown say how many contacts their second number
    rescued (here A, a fixed line then an Orange mobile, and B, an SFR mobile then an
    Orange one; C's first number is already its best)."""
    f = write_csv(tmp_path / "r.csv", [["Nom", "m1", "m2"],
                                        ["A", FIXED, "06 07 00 00 01"],
                                        ["B", "06 12 34 56 78", "06 07 00 00 02"],
                                        ["C", "06 07 00 00 03", FIXED]])
    md, html = tmp_path / "r.md", tmp_path / "r.html"
    _, report = check_json([str(f), "-c", "m1", "-c", "m2", "--lang", lang,
                            "--markdown-report", str(md), "--html-report", str(html)])
    assert report["counts"]["rescued"] == report["input"]["contacts"]["rescued"] == 2
    assert report["input"]["contacts"]["rescued_by_status"] == {"unverified": 2}
    for path in (md, html):
        assert words in " ".join(path.read_text(encoding="utf-8").split()), path.name


def test_a_bulk_dry_run_counts_a_job_per_round_of_lookups(tmp_path: Path,
                                                           emulator: Emulator) -> None:
    """Two phone columns with bothub-bulk: the run submits a job per round (the second
    numbers only once the first ones' answers are in), so the dry run's jobs are an
    upper bound of the jobs submitted (it announced one job where the run made two)."""
    first, second = frte_numbers(30), frte_numbers(30, start=7000)
    f = write_csv(tmp_path / "wide.csv", [["nom", "tel1", "tel2"],
                                          *[[f"c{i}", first[i], second[i]]
                                            for i in range(30)]])
    args = ["check", str(f), "-c", "tel1", "-c", "tel2", "--capability", "bothub-bulk",
            "--bot-id", "b", "--bothub-url", f"{emulator.base}/bothub/v1",
            "--bothub-token-url", f"{emulator.base}/oauth/v3/token", "--poll-interval",
            "0.2", "--bulk-hours", "server", "--threshold", "1",
            "--cache-dir", str(tmp_path / "cache")]
    dry = run_cli([*args, "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    line = next(x for x in dry.stderr.splitlines() if x.startswith("bothub-bulk: "))
    jobs = re.search(r"up to (\d+) requests", line)
    assert jobs is not None, line
    before = emulator.stats()["jobs_submitted"]
    run = run_cli([*args, "-q"])
    assert run.exit_code == 0, run.stderr
    submitted = emulator.stats()["jobs_submitted"] - before
    assert submitted == 2  # some first numbers are not reachable: a second round
    assert submitted <= int(jobs[1])


@given(st.integers(1, 40_000), st.lists(st.integers(0, 40_000), min_size=1, max_size=5),
       st.sampled_from(["bulk", "batch"]))
@settings(max_examples=300, deadline=None)
def test_split_calls_bounds_the_requests_of_every_split(ask: int, weights: list[int],
                                                        mode: str) -> None:
    """Whatever the run's rounds make of ``ask`` numbers (``calls`` parts, any sizes),
    the requests the provider's own planner gives the parts add up to no more than the
    dry run's bound."""
    from datetime import UTC, datetime

    from rcsqualify import bulkwindow
    from rcsqualify.capability.bothub_bulk import plan_jobs
    from rcsqualify.capability.rbm import plan_batch_calls
    from rcsqualify.dryrun import _split_calls
    from rcsqualify.remote.policy import DEFAULT_POLICY

    def plan(n: int) -> dict[str, Any]:
        if mode == "bulk":
            return plan_jobs(n, DEFAULT_POLICY, bulkwindow.ASSUMED,
                             datetime(2026, 1, 1, tzinfo=UTC)).as_dict()
        return plan_batch_calls(n, DEFAULT_POLICY).as_dict()

    total = sum(weights) or 1
    parts = [ask * w // total for w in weights]
    parts[0] += ask - sum(parts)
    made = sum(plan(n)["requests"] for n in parts if n)
    entry = {"bound": "exact", **plan(ask)}
    bound = _split_calls(entry, ask, len(weights))
    assert made <= bound["requests"] <= max(ask, entry["requests"])
    assert _split_calls(entry, ask, None)["requests"] >= made


def test_a_number_shared_by_two_contacts_keeps_one_verdict(tmp_path: Path,
                                                           emulator: Emulator) -> None:
    """Item 4 (CONTRACT §2: one verdict per number): a number asked for one contact (X's
    first, not RCS) is the same verdict in the column of another contact that never
    needed it (Y, reachable on its first number), and asked once."""
    x1, y1, z2 = (f"0607{400 + i:06d}" for i in range(3))
    emulator.configure(numbers={e164(x1): {"operator": ORANGE, "capable": False},
                                e164(y1): {"operator": ORANGE, "capable": True},
                                e164(z2): {"operator": ORANGE, "capable": True}})
    f = write_csv(tmp_path / "shared.csv", [["nom", "m1", "m2"], ["X", x1, z2],
                                            ["Y", y1, x1], ["Z", FIXED, z2]])
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "-c", "m1", "-c", "m2", *emulator.bothub_args(),
                                 "--no-cache", "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    by = {r["nom"]: r for r in read_rows(out)}
    assert by["X"]["m1_status"] == by["Y"]["m2_status"] == "not_rcs"
    assert by["Y"]["chosen_column"] == "m1" and by["Y"]["status"] == "reachable"
    # X and Z both choose z2: one message, a duplicate contact
    assert by["X"]["chosen_number"] == by["Z"]["chosen_number"] == e164(z2)
    c = report["counts"]
    assert (c["contacts"], c["messages"], c["duplicates"]) == (3, 2, 1)
    asked = {k: v for k, v in emulator.stats()["asked"].items() if k.startswith("bothub:")}
    assert asked == {f"bothub:{e164(n)}": 1 for n in (x1, y1, z2)}
