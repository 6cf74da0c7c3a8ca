"""The bound and the decision of ``--sample auto`` (issue #22 §2–3, rcsqualify/sequential.py).

Properties of the confidence sequence checked against an independent O(N) enumeration
with ``math.lgamma``; its coverage by simulation; the gate's decision on hand-built counts
(every boundary, ratio == threshold, empty base, nothing unresolved, all unknown)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcsqualify.sequential import (
    FAIL,
    NONE,
    PASS,
    FinitePopulationCS,
    SequentialGate,
    allowed_failures,
    excluded_above,
    excluded_below,
    log_gamma,
    plan_lookups,
)


def test_log_gamma_matches_math_lgamma() -> None:
    xs = np.concatenate([np.linspace(0.05, 30, 600), np.logspace(1.5, 7, 600)])
    ours = log_gamma(xs)
    theirs = np.array([math.lgamma(x) for x in xs])
    assert np.all(np.abs(ours - theirs) <= 1e-10 * np.maximum(1.0, np.abs(theirs)))


def enumerated_set(population: int, drawn: int, ones: int, confidence: float,
                   slack: float = 0.0) -> list[int]:
    """{m : R_t(m) < 1/α} by brute force, from the formula in the module docstring;
    ``slack`` moves the level in log space, to tell exact ties ``R_t(m) = 1/α`` apart
    (e.g. N = 6, t = 2, S = 0, m = 4 at 80 %: R = 15 · 1/3 = 5) from real differences."""
    def log_choose(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    def log_beta(a: float, b: float) -> float:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    level = math.log(1 / (1 - confidence)) + slack
    inside = []
    for m in range(ones, ones + population - drawn + 1):
        log_r = (log_choose(population, m) - log_choose(population - drawn, m - ones)
                 + log_beta(1 + ones, 1 + drawn - ones) - log_beta(1, 1))
        if log_r < level:
            inside.append(m)
    return inside


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_bounds_are_the_enumerated_interval(data: st.DataObject) -> None:
    population = data.draw(st.integers(0, 400))
    drawn = data.draw(st.integers(0, population))
    ones = data.draw(st.integers(0, drawn))
    confidence = data.draw(st.sampled_from([0.8, 0.9, 0.95, 0.99]))
    cs = FinitePopulationCS(population, confidence)
    for i in range(drawn):
        cs.update(i < ones)
    low, high = cs.bounds()
    assert ones <= low <= high <= ones + population - drawn
    inside = enumerated_set(population, drawn, ones, confidence)
    assert inside == list(range(inside[0], inside[-1] + 1))  # an interval
    # equal to the enumerated interval, except that a count whose ratio ties the level
    # exactly (float noise decides it either way) may stay in: the wider, safe side
    strict = enumerated_set(population, drawn, ones, confidence, slack=-1e-9)
    loose = enumerated_set(population, drawn, ones, confidence, slack=1e-9)
    assert loose[0] <= low <= strict[0] and strict[-1] <= high <= loose[-1]
    # the vectorized tests the gate uses agree with the bisection, at every count
    counts = np.arange(0, population + 2)
    assert np.array_equal(excluded_above(population, drawn, ones, counts, cs.log_level),
                          counts > high)
    assert np.array_equal(excluded_below(population, drawn, ones, counts, cs.log_level),
                          counts < low)


@pytest.mark.parametrize("population", [0, 1, 7, 1000])
def test_zero_width_once_everything_is_drawn(population: int) -> None:
    cs = FinitePopulationCS(population)
    for i in range(population):
        cs.update(i % 3 == 0)
    assert cs.bounds() == (cs.ones, cs.ones)
    with pytest.raises(ValueError):
        cs.update(1)


def test_a_million_population_costs_no_population_sized_work() -> None:
    cs = FinitePopulationCS(1_000_000)
    for i in range(300):
        cs.update(i % 7 == 0)
    low, high = cs.bounds()
    assert cs.ones <= low < 143_000 < high < 300_000  # 1/7 ≈ 142,857 inside


def test_coverage_holds_uniformly_over_time() -> None:
    """The true count leaves the sequence, at any step of a whole run, in at most α of
    runs (each side on its own): 2,000 seeded runs through a population of 600."""
    population, true_ones, trials = 600, 90, 2000
    rng = np.random.default_rng(20201206)
    paths = np.zeros((trials, population), dtype=np.int64)
    paths[:, :true_ones] = 1
    paths = rng.permuted(paths, axis=1)
    cumulative = np.cumsum(paths, axis=1)
    t = np.arange(1, population + 1)[None, :]
    level = math.log(1 / 0.05)
    high_missed = excluded_below(population, t, cumulative, true_ones, level).any(axis=1)
    low_missed = excluded_above(population, t, cumulative, true_ones, level).any(axis=1)
    assert high_missed.mean() <= 0.05 and low_missed.mean() <= 0.05
    assert (high_missed | low_missed).mean() <= 0.05  # the two-sided set too


@pytest.mark.parametrize(("exact_fail", "total", "unresolved", "threshold", "allowed"), [
    (15, 100, 0, 0.15, 0),      # ratio == threshold passes
    (16, 100, 0, 0.15, -1),     # one more fails
    (0, 100, 100, 0.15, 15),
    (0, 100, 100, 0.29, 29),    # 0.29 * 100 is 28.999…: the ratio is compared, not that
    (0, 100, 10, 0.5, 10),      # even all unresolved failing passes
    (0, 100, 100, 0.0, 0),
    (0, 0, 0, 0.15, 0),         # empty base: ratio 0
])
def test_allowed_failures(exact_fail: int, total: int, unresolved: int, threshold: float,
                          allowed: int) -> None:
    assert allowed_failures(exact_fail, total, unresolved, threshold) == allowed


@pytest.mark.parametrize(("exact_fail", "exact_total", "decision", "ratio"), [
    (15, 100, "pass", 0.15),   # exactly at the threshold: pass
    (16, 100, "fail", 0.16),
    (0, 0, "pass", 0.0),       # empty base
    (0, 100, "pass", 0.0),
    (100, 100, "fail", 1.0),
])
def test_nothing_unresolved_decides_at_once_on_the_exact_ratio(
        exact_fail: int, exact_total: int, decision: str, ratio: float) -> None:
    gate = SequentialGate(exact_fail=exact_fail, exact_total=exact_total, unresolved=0,
                          threshold=0.15)
    assert gate.decision == decision
    assert gate.bounds() == (ratio, ratio)
    with pytest.raises(ValueError):
        gate.observe("ok")


def test_decided_before_any_draw_when_the_exact_stratum_settles_it() -> None:
    over = SequentialGate(exact_fail=20, exact_total=100, unresolved=50, threshold=0.1)
    assert over.decision == "fail" and over.drawn == 0
    under = SequentialGate(exact_fail=0, exact_total=1000, unresolved=100, threshold=0.15)
    assert under.decision == "pass"  # all 100 failing would be 100/1100 = 9.1 %


def feed(gate: SequentialGate, outcomes: list[str]) -> str | None:
    for outcome in outcomes:
        if gate.observe(outcome) is not None:
            break
    return gate.decision


def test_all_unknown_never_decides() -> None:
    gate = SequentialGate(exact_fail=0, exact_total=0, unresolved=100, threshold=0.15)
    assert feed(gate, ["unknown"] * 100) is None
    assert gate.drawn == 100
    assert gate.bounds() == (0.0, 1.0)  # unknown: a success for the low end, a failure high
    with pytest.raises(ValueError):
        gate.observe("unknown")


def test_unknown_is_a_failure_for_pass_and_a_success_for_fail() -> None:
    def run(first: str, rest: str, n: int = 400) -> tuple[str | None, int]:
        gate = SequentialGate(exact_fail=0, exact_total=0, unresolved=10_000,
                              threshold=0.5)
        return feed(gate, [first] + [rest] * n), gate.drawn

    assert run("ok", "ok")[0] == "pass"
    assert run("ok", "unknown")[0] is None
    assert run("fail", "fail")[0] == "fail"
    assert run("fail", "unknown")[0] is None
    # an unknown is never skipped: it costs draws as a failure would, on the pass side
    all_ok = run("ok", "ok")[1]
    assert all_ok < run("unknown", "ok")[1] == run("fail", "ok")[1] <= 2 * all_ok


def test_a_decision_sticks_and_refuses_more_draws() -> None:
    gate = SequentialGate(exact_fail=0, exact_total=0, unresolved=1000, threshold=0.5)
    assert feed(gate, ["ok"] * 100) == "pass"
    with pytest.raises(ValueError, match="already decided"):
        gate.observe("fail")
    with pytest.raises(ValueError):
        SequentialGate(exact_fail=0, exact_total=0, unresolved=10,
                       threshold=0.5).observe("maybe")


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_the_decision_is_the_bounds_against_the_threshold(data: st.DataObject) -> None:
    """At every step: pass iff high ≤ threshold, fail iff low > threshold, and an
    undrawn-free run always ends decided, on the exact ratio when it gets that far."""
    unresolved = data.draw(st.integers(1, 60))
    exact_total = data.draw(st.integers(0, 60))
    exact_fail = data.draw(st.integers(0, exact_total))
    threshold = data.draw(st.sampled_from([0.0, 0.1, 0.15, 0.29, 0.5, 1.0]))
    outcomes = data.draw(st.lists(st.sampled_from(["ok", "fail", "unknown"]),
                                  min_size=unresolved, max_size=unresolved))
    gate = SequentialGate(exact_fail=exact_fail, exact_total=exact_total,
                          unresolved=unresolved, threshold=threshold, confidence=0.9)

    def check() -> None:
        low, high = gate.bounds()
        assert low <= high
        expected = "pass" if high <= threshold else "fail" if low > threshold else None
        assert gate.decision == expected

    check()
    for outcome in outcomes:
        if gate.decision is not None:
            break
        gate.observe(outcome)
        check()
    if "unknown" not in outcomes:
        assert gate.decision is not None
        if gate.drawn == unresolved:
            fails = exact_fail + outcomes.count("fail")
            truth = fails / (exact_total + unresolved) <= threshold
            assert gate.decision == ("pass" if truth else "fail")


def test_decide_at_is_vectorized_and_matches_observe() -> None:
    gate = SequentialGate(exact_fail=50, exact_total=500, unresolved=2000, threshold=0.15)
    rng = np.random.default_rng(7)
    outcomes = rng.random(2000) < 0.30
    codes = gate.decide_at(np.arange(1, 2001), np.cumsum(outcomes), np.cumsum(outcomes))
    first = int(np.argmax(codes != NONE))
    step = SequentialGate(exact_fail=50, exact_total=500, unresolved=2000, threshold=0.15)
    feed(step, ["fail" if x else "ok" for x in outcomes])
    assert step.drawn == first + 1
    assert {PASS: "pass", FAIL: "fail"}[int(codes[first])] == step.decision == "fail"


def test_plan_lookups_is_seeded_quick_and_orders_the_cases() -> None:
    common = {"exact_total": 400_000, "unresolved": 600_000, "threshold": 0.15,
              "sample_max": 2000}
    near = plan_lookups(exact_fail=72_000, guess=0.18, **common)
    far = plan_lookups(exact_fail=80_000, guess=0.20, **common)
    assert near == plan_lookups(exact_fail=72_000, guess=0.18, **common)  # seeded
    assert set(near) == {"median", "p95", "decided_share"}
    assert far["median"] < near["median"] <= near["p95"] <= 2000
    assert far["decided_share"] == 1.0
    # no guess: the exact stratum's share (here 18 %, the same as `near`)
    assert plan_lookups(exact_fail=72_000, **common) == near
    nothing = plan_lookups(exact_fail=0, exact_total=10, unresolved=0, threshold=0.15)
    assert nothing == {"median": 0, "p95": 0, "decided_share": 1.0}
    capped = plan_lookups(exact_fail=0, exact_total=0, unresolved=1_000_000, threshold=0.15,
                          sample_max=50)
    assert capped["p95"] <= 50 and capped["decided_share"] < 1.0
