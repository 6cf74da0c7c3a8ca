"""The three-valued gate on hand-built counts (issue #22 §1, CONTRACT §2 Gate, §7).

``decide`` (the default): pass when even every unresolved message failing keeps the
ratio at or under the threshold, fail when the known errors are already over it,
undecided otherwise (exit 3). ``known`` is the lenient rule, ``upper`` the strict one.
"""

from __future__ import annotations

from typing import Any

import pytest

from rcsqualify.errors import ExitCode
from rcsqualify.report.summary import (
    GATE_MODES,
    Gate,
    Summary,
    decide_gate,
    estimate_interval,
    gate_from_counts,
)

STATUSES = ("invalid", "not_mobile", "other_operator", "not_rcs", "unverified", "reachable")


def counts(**by_status: int) -> dict[str, int]:
    out = {s: by_status.get(s, 0) for s in STATUSES}
    out["messages"] = sum(out.values())
    return out


def gate(c: dict[str, int], mode: str = "decide", threshold: float = 0.15,
         **kw: Any) -> Gate:
    return gate_from_counts(c, threshold=threshold, mode=mode, **kw)


# 100 messages: known = invalid / 100, upper = (invalid + unverified) / 100
@pytest.mark.parametrize(("invalid", "unverified", "decision"), [
    (10, 0, "pass"),        # nothing unresolved, under
    (15, 0, "pass"),        # known == threshold: not over, nothing unresolved
    (16, 0, "fail"),        # just over
    (10, 5, "pass"),        # upper == threshold: every unresolved failing still passes
    (10, 6, "undecided"),   # upper just over, known under
    (15, 1, "undecided"),   # known == threshold, one unresolved could tip it
    (16, 50, "fail"),       # known over: the unresolved cannot save it
    (0, 100, "undecided"),  # nothing known
])
def test_decide_at_every_boundary(invalid: int, unverified: int, decision: str) -> None:
    g = gate(counts(invalid=invalid, unverified=unverified,
                    reachable=100 - invalid - unverified))
    assert g.decision == decision
    assert g.exit_code == {"pass": ExitCode.PASS, "fail": ExitCode.FAIL,
                           "undecided": ExitCode.UNDECIDED}[decision]
    assert int(g.exit_code) == {"pass": 0, "fail": 1, "undecided": 3}[decision]
    assert g.bounds == pytest.approx({"known": invalid / 100, "upper": (invalid + unverified)
                                      / 100, "low": invalid / 100,
                                      "high": (invalid + unverified) / 100})


@pytest.mark.parametrize(("mode", "decision", "ratio"), [
    ("decide", "undecided", 0.30), ("known", "pass", 0.10), ("upper", "fail", 0.30)])
def test_the_three_modes_on_the_same_counts(mode: str, decision: str, ratio: float) -> None:
    g = gate(counts(invalid=10, unverified=20, reachable=70), mode)
    assert (g.decision, g.mode) == (decision, mode)
    assert g.gate_ratio == pytest.approx(ratio)


def test_the_ratio_that_decided() -> None:
    assert gate(counts(invalid=20, unverified=10, reachable=70)).gate_ratio == \
        pytest.approx(0.20)  # a fail rests on the known errors
    assert gate(counts(invalid=5, unverified=5, reachable=90)).gate_ratio == \
        pytest.approx(0.10)  # a pass on the high end


def test_an_empty_base_passes_in_every_mode() -> None:
    for mode in GATE_MODES:
        g = gate(counts(), mode)
        assert g.decision == "pass" and g.bounds["upper"] == 0.0


def test_all_invalid_fails_in_every_mode() -> None:
    for mode in GATE_MODES:
        g = gate(counts(invalid=7), mode)
        assert g.decision == "fail" and g.gate_ratio == 1.0


def test_threshold_zero_and_one() -> None:
    assert gate(counts(reachable=10), threshold=0.0).decision == "pass"
    assert gate(counts(invalid=1, reachable=9), threshold=0.0).decision == "fail"
    assert gate(counts(invalid=10), threshold=1.0).decision == "pass"


def test_incomplete_but_decided_keeps_its_decision() -> None:
    """Checks that failed are unresolved (in upper, not in known): bounds that still
    decide keep the decision; under --gate known, which ignores them, it is open."""
    small = counts(invalid=5, unverified=3, reachable=92)  # upper 8 %: decided pass
    assert gate(small, incomplete=True).decision == "pass"
    assert gate(small, "upper", incomplete=True).decision == "pass"
    assert gate(small, "known", incomplete=True).decision == "undecided"
    over = counts(invalid=20, unverified=3, reachable=77)  # known 20 %: decided fail
    for mode in GATE_MODES:
        assert gate(over, mode, incomplete=True).decision == "fail"
    open_ = counts(invalid=10, unverified=30, reachable=60)
    assert gate(open_, incomplete=True).decision == "undecided"


def test_a_degraded_cache_never_passes() -> None:
    """CONTRACT §10: answers kept in memory only are asked again next time: exit 3 at
    best, as before; a fail stays a fail."""
    clean = counts(invalid=1, reachable=99)
    for mode in GATE_MODES:
        assert gate(clean, mode, degraded=True).decision == "undecided"
        assert gate(counts(invalid=50, reachable=50), mode, degraded=True).decision == "fail"


def test_a_sampled_interval_gives_the_bounds() -> None:
    """A fixed sample: low/high are the interval's ends; --gate known compares the high
    end (as before), --gate upper the high end of the bound; a failed check among the
    sampled adds to the high end only."""
    c = counts(invalid=10, not_rcs=5, unverified=85, reachable=0)
    interval = estimate_interval({"trials": 40, "failures": 4, "extrapolated": 80,
                                  "sampled": 45}, errors=15, messages=100)
    g = gate(c, interval=interval)
    assert g.bounds["low"] == pytest.approx(interval["error_ratio_low"])
    assert g.bounds["high"] == pytest.approx(interval["error_ratio_high"] + 5 / 100)
    assert g.bounds["low"] < 0.15 + 0.8 * 0.1 < g.bounds["high"]
    assert gate(c, "known", interval=interval).gate_ratio == \
        pytest.approx(interval["error_ratio_high"])
    # --gate upper compares the high end of the bound (CONTRACT §2), not every
    # unsampled message counted as a failure (that ignored the sample altogether)
    assert gate(c, "upper", interval=interval).gate_ratio == pytest.approx(g.bounds["high"])


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        decide_gate(known=0, upper=0, low=0, high=0, known_gated=0, threshold=0.15,
                    mode="lenient")


def test_a_batch_sample_describes_the_whole_request() -> None:
    """Issue #22 §2: 1,000 numbers asked, 500 listed (reachable), Google's sample of 750
    finds 600 reachable (80 %): 200 of the 1,000 fail, all among the 500 unlisted —
    40 % of them, not the 20 % the request's own rate would say."""
    from rcsqualify.pipeline import batch_estimate

    est = batch_estimate(600, 750, requested=1000, listed=500, unlisted=500)
    iv = estimate_interval(est, errors=0, messages=1000)
    assert iv["failure_share"] == pytest.approx(0.40)
    assert iv["error_ratio_estimate"] == pytest.approx(0.20)
    assert iv["failure_share_low"] < 0.40 < iv["failure_share_high"] <= 1.0
    # every number listed: no unlisted number to extrapolate to, the scale stays 1
    assert batch_estimate(600, 750, requested=1000, listed=1000, unlisted=0)["scale"] == 1.0
    # a share the sample makes impossible is capped (a sample's noise)
    capped = estimate_interval(batch_estimate(0, 750, requested=1000, listed=900,
                                              unlisted=100), errors=0, messages=1000)
    assert capped["failure_share"] == 1.0 and capped["failure_share_high"] == 1.0


# -- the undecided line: next steps costed by the dry run's planner --------------------
def _summary(c: dict[str, int], *, threshold: float = 0.15, mode: str = "decide",
             capability: str = "none", **extra: Any) -> Summary:
    g = gate(c, mode, threshold)
    messages = c["messages"]
    errors = sum(c[s] for s in STATUSES[:4])
    return Summary(tool={}, input={}, counts=c, reasons={}, repaired={}, operators={},
                   operator_names={}, operator_sources={}, territories={},
                   error_ratio=errors / messages, error_ratio_upper=g.bounds["upper"],
                   threshold=threshold, gate=g.decision, exit_code=int(g.exit_code),
                   target_operator="FRTE", capability=capability, gate_mode=mode,
                   gate_ratio=g.gate_ratio, decision=g.decision, bounds=g.bounds, **extra)


def test_a_large_undecided_base_names_the_bulk_job() -> None:
    from rcsqualify.costs import lookup_cost, next_steps
    from rcsqualify.report.wording import verdict_line
    from rcsqualify.sequential import plan_lookups
    from rcsqualify.settings import Settings

    s = _summary(counts(invalid=98_000, unverified=512_000, reachable=390_000))
    settings = Settings(rate=30.0)
    s.next_steps = next_steps(settings, s)
    assert [step["kind"] for step in s.next_steps] == ["sample_auto", "check", "bulk"]
    auto, check = s.next_steps[0], s.next_steps[1]
    assert check["lookups"] == 512_000
    assert check["seconds"] == lookup_cost(settings, "bothub", 512_000)["seconds"]
    # the planner of --dry-run --sample auto, the unchecked assumed at the threshold
    expected = plan_lookups(exact_fail=98_000, exact_total=488_000, unresolved=512_000,
                            threshold=0.15, guess=0.15, sample_max=settings.sample_max)
    assert auto["lookups"] == expected["median"] < 2_000
    assert auto["seconds"] == lookup_cost(settings, "bothub", auto["lookups"])["seconds"]
    assert verdict_line(s) == (
        "UNDECIDED: between 9.80% and 61.00% of the 1,000,000 messages would fail "
        "(512,000 messages not checked), against the 15% threshold. Decide with "
        f"--capability bothub --sample auto (about {auto['lookups']} look-ups, ~14 s at "
        "30/s), check them: --capability bothub (512,000 look-ups, ~4 h 54 min at 30/s), "
        "or tonight's bulk job (--capability bothub-bulk)")


def test_a_small_base_is_told_to_check_them_all() -> None:
    """Under a minute to check every unresolved message: exact answers, no sample."""
    from rcsqualify.costs import next_steps
    from rcsqualify.settings import Settings

    s = _summary(counts(invalid=19, unverified=129))
    assert [st["kind"] for st in next_steps(Settings(), s)] == ["check"]


def test_only_an_undecided_gate_has_next_steps() -> None:
    from rcsqualify.costs import next_steps
    from rcsqualify.settings import Settings

    for c in (counts(invalid=50, unverified=10, reachable=40),  # fail
              counts(invalid=5, unverified=5, reachable=90)):   # pass
        assert next_steps(Settings(), _summary(c)) == []


def test_a_run_that_asked_and_failed_is_told_to_re_run() -> None:
    from rcsqualify.costs import next_steps
    from rcsqualify.report.wording import verdict_line
    from rcsqualify.settings import Settings

    s = _summary(counts(invalid=10, unverified=20, reachable=70), capability="bothub",
                 incomplete=True, failed_checks={"capability_error": 20},
                 notes=["bothub: 20 look-ups failed after 3 attempts"])
    s.next_steps = next_steps(Settings(capability="bothub", rate=10.0, rate_margin=0.0), s)
    assert s.next_steps[0]["kind"] == "retry"
    line = verdict_line(s)
    assert line.startswith("UNDECIDED: between 10.00% and 30.00% of the 100 messages "
                           "would fail (20 messages not checked), against the 15% "
                           "threshold; some checks could not be done: bothub: 20 look-ups")
    assert line.endswith("Re-run to finish (answers so far are cached): 20 look-ups, ~2 s "
                         "at 10/s")
    s.answers_kept = False  # none read back from the cache: never claimed (#23 R8)
    assert "answers so far are cached" not in verdict_line(s)


def test_a_decided_incomplete_run_says_what_failed() -> None:
    from rcsqualify.report.wording import verdict_line

    s = _summary(counts(invalid=5, unverified=3, reachable=92), capability="bothub",
                 incomplete=True, failed_checks={"capability_error": 3},
                 notes=["bothub: 3 look-ups failed"])
    assert s.decision == "pass"
    assert verdict_line(s) == ("PASS: at most 8.00% of the 100 messages would fail, even "
                               "if the 3 not checked all fail, within the 15% threshold; "
                               "some checks could not be done: bothub: 3 look-ups failed")
