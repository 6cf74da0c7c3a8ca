"""The send plan and the gate modes (CONTRACT §2 "Send plan and routes", "Gate"; #16.1-2).

The send plan's ratios use each list's own messages as the denominator; the base-wide
ratio stays as the diagnosis. ``--gate upper`` gates on every unverified message
counted as a failure; exit 3 keeps its meaning in both modes.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcsqualify.report.summary import send_plan
from tests.conftest import Emulator
from tests.helpers import check_json, run_cli, write_csv

HEADER = ["id", "nom", "mobile"]


def _e164(national: str) -> str:
    return "+33" + national[1:]


def _base(tmp_path: Path, frte: list[str], extra: list[str]) -> Path:
    cells = [*frte, *extra, frte[0]]  # one duplicate row
    return write_csv(tmp_path / "base.csv",
                     [HEADER, *[[str(i), f"n{i}", c] for i, c in enumerate(cells)]])


@pytest.fixture
def fast_retries() -> Iterator[None]:
    os.environ["RCSQUALIFY_RETRY_BACKOFF"] = "0.01"
    try:
        yield
    finally:
        del os.environ["RCSQUALIFY_RETRY_BACKOFF"]


def test_send_plan_ratios_use_each_lists_own_messages() -> None:
    counts = {"messages": 100, "invalid": 10, "not_mobile": 5, "other_operator": 40,
              "not_rcs": 5, "unverified": 10, "reachable": 30}
    plan = send_plan(counts)
    assert plan["send_rcs"] == {"messages": 30, "error_ratio": 0.0}
    assert plan["with_unverified"]["messages"] == 40
    assert plan["with_unverified"]["error_ratio_upper"] == pytest.approx(10 / 40)
    assert plan["lists"] == {"send_rcs": 30, "other_operators": 40, "not_rcs": 5,
                             "unverified": 10, "remove": 15}
    # nothing to send: 0, not a division by zero
    empty = send_plan({"messages": 3, "invalid": 3})
    assert empty["send_rcs"]["error_ratio"] == 0.0
    assert empty["with_unverified"] == {"messages": 0, "error_ratio_upper": 0.0}


def test_send_plan_after_a_complete_check(tmp_path: Path, emulator: Emulator) -> None:
    """The diagnosis fails (other operators count as errors) while send_rcs is clean."""
    frte = [f"0607{i:06d}" for i in range(12)]
    emulator.configure(numbers={_e164(n): {"capable": i < 8} for i, n in enumerate(frte)})
    base = _base(tmp_path, frte, ["0601010101", "0651000001", "0145601234", "N/A"])
    lists = tmp_path / "lists"
    result, report = check_json([str(base), *emulator.bothub_args(), "--rate", "500",
                                 "--split-dir", str(lists)])
    assert report["counts"]["reachable"] == 8 and report["counts"]["not_rcs"] == 4
    assert report["gate"] == "fail" and result.exit_code == 1  # 8 errors of 16
    assert report["error_ratio"] == pytest.approx(8 / 16)
    plan = report["send_plan"]
    assert plan["send_rcs"] == {"messages": 8, "error_ratio": 0.0}
    assert plan["with_unverified"] == {"messages": 8, "error_ratio_upper": 0.0}
    # the plan's lists are the rows --split-dir wrote
    assert plan["lists"] == {k: v for k, v in report["split_lists"].items()
                             if k != "duplicates"}
    with (lists / "send_rcs.csv").open(encoding="utf-8-sig", newline="") as fh:
        assert len(list(csv.DictReader(fh, delimiter=";"))) == 8
    # JSON leads with what to do: send_plan comes before the diagnosis
    keys = list(report)
    assert keys.index("send_plan") < keys.index("counts") < keys.index("error_ratio")


def test_unverified_ratio_is_over_the_list_with_them(tmp_path: Path, emulator: Emulator,
                                                     fast_retries: None) -> None:
    frte = [f"0607{i:06d}" for i in range(20)]
    emulator.configure(numbers={_e164(n): {"capable": True} for n in frte},
                       faults={"http_503": 0.3}, fault_attempts=0)
    base = _base(tmp_path, frte, [])
    result, report = check_json([str(base), *emulator.bothub_args(), "--rate", "500"])
    unverified, reachable = report["counts"]["unverified"], report["counts"]["reachable"]
    assert unverified > 0 and reachable > 0 and unverified + reachable == 20
    plan = report["send_plan"]
    assert plan["send_rcs"] == {"messages": reachable, "error_ratio": 0.0}
    assert plan["with_unverified"]["messages"] == 20
    assert plan["with_unverified"]["error_ratio_upper"] == pytest.approx(unverified / 20,
                                                                         abs=1e-6)
    assert report["gate"] == "undecided" and report["incomplete"] and result.exit_code == 3


def test_terminal_leads_with_the_decision_then_the_send_plan(tmp_path: Path) -> None:
    """Issue #22 §1: the first line is one plain sentence (no list name, one range), the
    send plan follows with its words defined where first shown."""
    base = _base(tmp_path, [f"0607{i:06d}" for i in range(5)], ["0601010101"])
    result = run_cli(["check", str(base), "--threshold", "0.5"])
    assert result.exit_code == 3
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0] == ("UNDECIDED: between 16.67% and 100.00% of the 6 messages would "
                        "fail (5 messages not checked), against the 50% threshold. Check "
                        "them: --capability bothub (5 look-ups, ~1 s at 30/s)")
    assert "send_rcs" not in lines[0]
    assert lines[1].startswith("Send plan: send the send_rcs list, the messages confirmed "
                               "RCS-reachable (0 messages): projected error ratio 0.00%; "
                               "adding the unverified, those not confirmed either way "
                               "(5 more): up to 100.00%")
    assert "whole base (diagnosis): error ratio 16.67%" in result.stderr
    assert lines[-1] == lines[0]  # and the last line of a log says it again


def test_html_report_has_the_send_plan_before_the_verdict(tmp_path: Path) -> None:
    base = _base(tmp_path, [f"0607{i:06d}" for i in range(5)], ["0601010101"])
    out = tmp_path / "r.html"
    result = run_cli(["check", str(base), "--html-report", str(out), "-q", "--lang", "en"])
    assert result.exit_code == 1
    page = out.read_text(encoding="utf-8")
    assert 'id="send-plan"' in page
    assert page.index('id="send-plan"') < page.index('id="verdict"')
    assert "adding the unverified (5 more): up to 100.00%" in page
    assert 'id="next-step"' not in page  # a failed gate needs no next step to decide


# -- gate modes ------------------------------------------------------------------------
def test_offline_known_passes_and_says_how_much_is_unverified(tmp_path: Path) -> None:
    base = _base(tmp_path, [f"0607{i:06d}" for i in range(9)], ["0601010101"])
    result, report = check_json([str(base), "--gate", "known"])
    assert report["gate_mode"] == "known"
    assert report["gate"] == "pass" and result.exit_code == 0
    assert report["gate_ratio"] == pytest.approx(0.1)
    verdict = result.stderr.strip().splitlines()[-1]
    assert verdict.startswith("PASS: 10.00% of the 10 messages are known to fail, within "
                              "the 15% threshold (--gate known)")
    assert "9 of 10 messages (90.0%) are not checked for RCS (offline run)" in verdict
    assert "up to 100.00% if they all fail" in verdict


def test_offline_decide_is_undecided_and_names_the_next_step(tmp_path: Path) -> None:
    """The default gate does not pass on what nobody checked: exit 3, the bounds, and
    the next step costed at --rate, in every output."""
    base = _base(tmp_path, [f"0607{i:06d}" for i in range(9)], ["0601010101"])
    html, junit = tmp_path / "r.html", tmp_path / "j.xml"
    result, report = check_json([str(base), "--rate", "2", "--html-report", str(html),
                                 "--junit-xml", str(junit), "--lang", "en"])
    assert report["gate_mode"] == "decide" and result.exit_code == report["exit_code"] == 3
    assert report["gate"] == report["decision"] == "undecided"
    assert report["bounds"] == {"known": 0.1, "upper": 1.0, "low": 0.1, "high": 1.0}
    assert report["incomplete"] is False and report["failed_checks"] == {}
    assert report["next_steps"] == [{"kind": "check", "option": "--capability bothub",
                                     "lookups": 9, "seconds": pytest.approx(4.6, abs=0.1),
                                     "rate": 2.0}]
    verdict = result.stderr.strip().splitlines()[-1]
    assert verdict == ("UNDECIDED: between 10.00% and 100.00% of the 10 messages would fail "
                       "(9 messages not checked), against the 15% threshold. Check them: "
                       "--capability bothub (9 look-ups, ~5 s at 2/s)")
    page = html.read_text(encoding="utf-8")
    assert ("Next step: Check them: <code>--capability bothub</code> (9 look-ups, ~5 s at "
            "2/s).") in page
    assert 'id="verdict">UNDECIDED' in page
    assert 'type="undecided"' in junit.read_text(encoding="utf-8")


@pytest.mark.parametrize("how", ["option", "env"])
def test_gate_upper_fails_what_was_not_checked(tmp_path: Path, how: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    base = _base(tmp_path, [f"0607{i:06d}" for i in range(9)], ["0601010101"])
    args = [str(base)]
    if how == "option":
        args += ["--gate", "upper"]
    else:
        monkeypatch.setenv("RCSQUALIFY_GATE", "upper")
    result, report = check_json(args)
    assert report["gate_mode"] == "upper"
    assert report["gate_ratio"] == pytest.approx(1.0)
    assert report["error_ratio"] == pytest.approx(0.1)  # the diagnosis is unchanged
    assert report["gate"] == "fail" and result.exit_code == report["exit_code"] == 1
    assert "FAIL: up to 100.00% of the 10 messages would fail if the 9 not checked all " \
           "fail (--gate upper), over the 15% threshold" in result.stderr


def test_gate_upper_passes_when_everything_was_checked(tmp_path: Path,
                                                       emulator: Emulator) -> None:
    frte = [f"0607{i:06d}" for i in range(10)]
    emulator.configure(numbers={_e164(n): {"capable": True} for n in frte})
    result, report = check_json([str(_base(tmp_path, frte, [])), *emulator.bothub_args(),
                                 "--rate", "500", "--gate", "upper"])
    assert report["counts"]["unverified"] == 0
    assert report["gate"] == "pass" and result.exit_code == 0
    assert report["gate_ratio"] == 0


@pytest.mark.parametrize(("gate", "threshold", "code"), [
    ("known", "0.5", 3),   # known errors none, but known ignores the failed checks
    ("upper", "1", 0),     # the failed checks counted as failures, still ≤ 100 %: decided
    ("upper", "0.01", 1),  # worst case over the threshold: fail
    ("decide", "1", 0),    # incomplete but decided: exits with its decision
    ("decide", "0", 3),    # nothing known to fail, the failed checks could: undecided
])
def test_exit_3_keeps_its_meaning_in_every_mode(tmp_path: Path, emulator: Emulator,
                                                fast_retries: None, gate: str,
                                                threshold: str, code: int) -> None:
    frte = [f"0607{i:06d}" for i in range(20)]
    emulator.configure(numbers={_e164(n): {"capable": True} for n in frte},
                       faults={"http_503": 0.3}, fault_attempts=0)
    result, report = check_json([str(_base(tmp_path, frte, [])), *emulator.bothub_args(),
                                 "--rate", "500", "--gate", gate, "--threshold", threshold])
    assert report["counts"]["unverified"] > 0
    assert result.exit_code == report["exit_code"] == code
    assert report["gate"] == report["decision"] == {0: "pass", 3: "undecided", 1: "fail"}[code]
    assert report["incomplete"] and report["failed_checks"]["capability_error"] > 0


def test_bad_gate_is_one_line_exit_2(tmp_path: Path) -> None:
    base = _base(tmp_path, ["0607000001"], [])
    result = run_cli(["check", str(base), "--gate", "worst"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("rcsqualify: error: --gate must be one of decide, known, upper")


def test_one_message_is_one_message_in_the_verdict_and_the_plan(tmp_path: Path) -> None:
    """A base of one number says '1 message', never '1 messages' (a new user's first
    try is often a one-line file): the verdict, the count not checked, the send plan, and
    --gate known's unverified phrase."""
    base = write_csv(tmp_path / "one.csv", [HEADER, ["1", "a", "06 07 00 00 01"]])
    out = run_cli(["check", str(base)]).stderr
    verdict, plan = out.splitlines()[:2]
    assert "of the 1 message would fail (1 message not checked)" in verdict, out
    assert "(1 look-up, ~1 s at 30/s)" in verdict, out
    assert "RCS-reachable (0 messages)" in plan and "1 messages" not in verdict + plan, out
    known = run_cli(["check", str(base), "--gate", "known"]).stderr
    assert "1 of 1 message (100.0%) is not checked for RCS (offline run): up to " \
           "100.00% if it fails" in known, known
    big = run_cli(["check", str(_base(tmp_path, ["06 07 00 00 01", "06 07 00 00 02"], []))])
    assert "of the 2 messages would fail (2 messages not checked)" in big.stderr, big.stderr


def test_an_offline_failure_says_how_to_find_the_reachable_ones(tmp_path: Path) -> None:
    """Offline, nothing is known reachable (the send_rcs list is empty): the failing
    verdict says to check capability, not just to send the reachable ones."""
    base = write_csv(tmp_path / "other.csv", [HEADER, ["1", "a", "06 12 34 56 78"]])
    result = run_cli(["check", str(base), "-q"])
    assert result.exit_code == 1
    assert result.stderr.startswith("FAIL: at least 100.00% of the 1 message would fail"), \
        result.stderr
    assert "clean the base or check RCS capability (--capability) and send only the " \
           "reachable ones" in result.stderr, result.stderr
