"""How often `--sample auto` decides wrong, and how many look-ups it spends (issue #22 §3).

A seeded simulation, no HTTP, driving the shipped decision rule
(``SequentialGate.decide_at``, the code ``observe`` runs after every answer) on
thousands of runs at once. Each cell is a synthetic base of ``size`` messages whose true
error ratio is the threshold (15 %) plus ``offset`` points; ``unresolved share`` of its
messages need a look-up (the sampled stratum), the rest are cached or known offline (the
exact stratum).

How the failures are split between the strata: both have the true ratio, rounded,
``exact_fail = round(ratio × exact_total)`` and the unresolved hold the rest of
``round(ratio × size)``; the truth that decides right from wrong is the base's ratio.
Each trial draws the unresolved messages in a fresh random order, without replacement,
every look-up answered (no unknown), and stops at the first decision or at the cap
(`--sample-max`, 2,000 by default; undecided runs count the cap as their look-ups). The
close cells (±0.5 and ±1 point) run again with a cap of 20,000 (all of the unresolved
for the 10 k bases).

Beside it, the rule we do **not** use: the shipped fixed-sample Wilson interval (95 %,
``report.summary.wilson_interval``) recomputed after every answer, deciding as soon as it
lies on one side: same cells, same caps.

With ``--contacts`` (issue #25 item 6) the unit is a contact: synthetic bases of 10,000
contacts in three shapes (``SHAPES``: one number each; 1 to 3 numbers; two numbers whose
first is often another operator's mobile, so a third of the contacts are rescued by their
second), each number an Orange mobile (capable or not; 30 % of them answered by the
cache before the draw), another operator's mobile or a fixed line, the capable share set
by bisection so that the base's true contact error ratio is 10 %, 13 %, 14.5 %, 15.5 %,
17 % or 20 %. Each contact's outcome is given by the shipped choice rule
(``contacts.choice.next_lookups`` rounds, then ``choose``: a later number rescues a
contact whose first is not reachable), 1 % of look-ups failing (unverified). Each trial
runs the shipped ``contact_sample.draw`` (seeded draw order, batches of 30 contacts,
``SequentialGate``) over a stand-in for the look-ups, and ``--sample 400`` through the
same draw; both through the report's interval and gate (``summary.estimate_interval``,
``gate_from_counts``: the auto bound clamped to what the drawn contacts make
certain). It counts how often the bound at the stop misses the base's true error ratio
(every look-up answered, none failing), by how much at worst, and how often the gate
decides wrong (fail at or under the threshold, pass over it) or cannot decide.

Usage: nice python benchmarks/bench_sequential.py [--trials 1000] [--seed 22]
       [--out benchmarks/results_sequential.json] [--markdown]
       nice python benchmarks/bench_sequential.py --contacts [--trials 200]
       [--out benchmarks/results_sequential_contacts.json] [--markdown]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from _common import emit

from rcsqualify.report.summary import wilson_interval
from rcsqualify.sequential import FAIL, NONE, PASS, DecisionRule, SequentialGate, simulate

THRESHOLD = 0.15
CONFIDENCE = 0.95
SIZES = (10_000, 100_000, 1_000_000)
OFFSETS = (-5.0, -3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0, 5.0)  # points
SHARES = (0.2, 0.6, 1.0)
CAP = 2000
LARGE_CAP = 20_000
CLOSE = 1.0  # cells this close (points) run with LARGE_CAP too
WILSON_Z = 1.959964  # the shipped fixed-sample interval's 95 %


def wilson_rule(gate: SequentialGate) -> DecisionRule:
    """The peeking rule: Wilson bounds on the unresolved failure share, scaled to the base
    and compared with the threshold after every answer (vectorized form of the shipped
    ``wilson_interval``, checked against it below)."""
    def bounds(t: Any, fails: Any) -> tuple[npt.NDArray[np.float64], ...]:
        t = np.asarray(t, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.asarray(fails, dtype=np.float64) / t
            z2 = WILSON_Z * WILSON_Z
            denom = 1 + z2 / t
            centre = (p + z2 / (2 * t)) / denom
            half = WILSON_Z * np.sqrt(p * (1 - p) / t + z2 / (4 * t * t)) / denom
        low = np.where(t > 0, np.maximum(0.0, centre - half), 0.0)
        high = np.where(t > 0, np.minimum(1.0, centre + half), 1.0)
        return low, high

    for t, k in ((1, 0), (7, 3), (400, 61), (2000, 300)):
        low, high = bounds(t, k)
        assert np.allclose((low, high), wilson_interval(k, t), rtol=0, atol=1e-12)

    def decide(t: Any, fails_high: Any, fails_low: Any) -> npt.NDArray[np.int8]:
        low, high = bounds(t, fails_high)
        n, total = gate.unresolved, gate.total
        passed = (gate.exact_fail + high * n) / total <= THRESHOLD
        failed = (gate.exact_fail + low * n) / total > THRESHOLD
        return np.where(passed, PASS, np.where(failed, FAIL, NONE)).astype(np.int8)

    return decide


def cell(size: int, offset: float, share: float) -> dict[str, Any]:
    ratio = THRESHOLD + offset / 100
    total_fail = round(ratio * size)
    unresolved = round(share * size)
    exact_total = size - unresolved
    exact_fail = round(ratio * exact_total)
    return {"size": size, "offset_points": offset, "unresolved_share": share,
            "true_ratio": total_fail / size, "exact_fail": exact_fail,
            "exact_total": exact_total, "unresolved": unresolved,
            "unresolved_fails": total_fail - exact_fail}


def measure(decide: Any, c: dict[str, Any], cap: int, trials: int, seed: int
            ) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    decision, used = simulate(decide, c["unresolved"], c["unresolved_fails"],
                              steps=cap, trials=trials, rng=rng)
    wrong = FAIL if c["true_ratio"] <= THRESHOLD else PASS
    return {"cap": min(cap, c["unresolved"]),
            "wrong": float(np.mean(decision == wrong)),
            "undecided": float(np.mean(decision == NONE)),
            "median": int(np.median(used)), "p95": int(np.percentile(used, 95))}


def run(trials: int, seed: int) -> dict[str, Any]:
    cells = []
    started = time.perf_counter()
    for i, (size, share, offset) in enumerate(
            (s, u, o) for s in SIZES for u in SHARES for o in OFFSETS):
        c = cell(size, offset, share)
        gate = SequentialGate(exact_fail=c["exact_fail"], exact_total=c["exact_total"],
                              unresolved=c["unresolved"], threshold=THRESHOLD,
                              confidence=CONFIDENCE)
        caps = (CAP, LARGE_CAP) if abs(offset) <= CLOSE else (CAP,)
        for name, decide in (("auto", gate.decide_at), ("wilson", wilson_rule(gate))):
            c[name] = [measure(decide, c, cap, trials, seed + i) for cap in caps]
        cells.append(c)
    seconds = time.perf_counter() - started
    auto_wrong = max(r["wrong"] for c in cells for r in c["auto"])
    wilson_wrong = max(r["wrong"] for c in cells for r in c["wilson"])

    def median_at(offset: float) -> list[int]:
        return [c["auto"][0]["median"] for c in cells if c["size"] == 1_000_000
                and c["unresolved_share"] == 0.6 and abs(c["offset_points"]) == offset]

    return {
        "threshold": THRESHOLD, "confidence": CONFIDENCE, "trials": trials, "seed": seed,
        "cap": CAP, "large_cap": LARGE_CAP, "seconds": round(seconds, 1),
        "max_wrong_share_auto": auto_wrong, "max_wrong_share_wilson": wilson_wrong,
        "targets_1m_60pct": {"median_at_3_points": median_at(3.0), "target_3": 1500,
                             "median_at_5_points": median_at(5.0), "target_5": 600},
        "cells": cells,
    }


def markdown(figures: dict[str, Any]) -> str:
    """The README tables: worst wrong-decision share over the three sizes; per size,
    median / p95 look-ups and the undecided share."""
    def row_cells(cap_index: int, offsets: tuple[float, ...]) -> list[str]:
        lines = []
        for share in SHARES:
            for offset in offsets:
                group = [c for c in figures["cells"] if c["unresolved_share"] == share
                         and c["offset_points"] == offset]
                group.sort(key=lambda c: c["size"])
                auto = [c["auto"][cap_index] for c in group]
                wilson = [c["wilson"][cap_index] for c in group]
                ratio = 100 * (THRESHOLD + offset / 100)
                sizes = " | ".join(f"{r['median']:,} / {r['p95']:,} · {100 * r['undecided']:.0f} %"
                                   for r in auto)
                lines.append(
                    f"| {100 * share:.0f} % | {ratio:g} % | "
                    f"{100 * max(r['wrong'] for r in auto):.1f} % | "
                    f"{100 * max(r['wrong'] for r in wilson):.1f} % | {sizes} |")
        return lines

    head = ("| unresolved | true ratio | wrong decisions | Wilson, peeking: wrong | "
            "10 k base: median / p95 look-ups · undecided | 100 k | 1 M |\n"
            "|---|---|---|---|---|---|---|")
    close = tuple(o for o in OFFSETS if abs(o) <= CLOSE)
    return "\n".join([
        f"Cap {CAP:,} (the default `--sample-max`):", "", head, *row_cells(0, OFFSETS), "",
        f"Close cells with a cap of {LARGE_CAP:,} (the whole unresolved stratum of the 10 k "
        "bases):", "", head, *row_cells(1, close)])


CONTACT_SIZE = 10_000
CONTACT_RATIOS = (0.10, 0.13, 0.145, 0.155, 0.17, 0.20)  # true contact error ratios
FIXED_N = 400  # --sample N of the fixed-sample cells
LOOKUP_FAILS = 0.01
CACHED = 0.3  # share of the Orange mobiles answered by the cache (exact, never drawn)


class Shape:
    """How the contacts of a base hold their numbers: how many (``held``: the share of
    contacts with 1, 2, 3 numbers) and what the first and the later numbers are (the
    share of Orange mobiles, other operators' mobiles, fixed lines)."""

    def __init__(self, name: str, held: tuple[float, float, float],
                 first: tuple[float, float, float], later: tuple[float, float, float]
                 ) -> None:
        self.name, self.held, self.first, self.later = name, held, first, later


SHAPES = (
    Shape("1 number", (1.0, 0.0, 0.0), (0.94, 0.03, 0.03), (0.94, 0.03, 0.03)),
    Shape("1-3 numbers", (0.5, 0.3, 0.2), (0.90, 0.05, 0.05), (0.85, 0.08, 0.07)),
    # a first mobile often with another operator, an Orange second one: many rescues
    Shape("2 numbers, rescue-heavy", (0.0, 1.0, 0.0), (0.60, 0.35, 0.05),
          (0.75, 0.05, 0.20)),
)


class ContactBase:
    """A synthetic base of contacts and what the shipped rule makes of it."""

    def __init__(self, size: int, shape: Shape, capable: float, seed: int) -> None:
        from rcsqualify.contacts.grouping import Contacts

        rng = np.random.default_rng(seed)
        held = rng.choice([1, 2, 3], size=size, p=shape.held)
        start = np.concatenate([[0], np.cumsum(held)]).astype(np.int64)
        slots = int(start[-1])
        position = np.arange(slots) - np.repeat(start[:-1], held)
        contact = np.repeat(np.arange(size), held)
        self.grouping = Contacts(
            n_rows=size, n_columns=3, contact_of_row=np.arange(size), start=start,
            cell=position * size + contact, dropped=np.zeros(size, np.int64),
            all_blank=np.zeros(size, bool))
        kind = np.where(position == 0, rng.choice(3, size=slots, p=shape.first),
                        rng.choice(3, size=slots, p=shape.later))  # Orange, other, fixed
        self.true_tier = np.where(kind == 0, np.where(rng.random(slots) < capable, 0, 3),
                                  np.where(kind == 1, 3, 4)).astype(np.uint8)
        cached = rng.random(slots) < CACHED
        self.open = (kind == 0) & ~cached
        self.failing = rng.random(slots) < LOOKUP_FAILS
        truth, _, _ = self.resolve_all(np.zeros(slots, bool))
        self.truth_fail = truth != "ok"
        self.outcome, self.asks, self.population = self.resolve_all(self.failing)
        self.true_ratio = float(np.mean(self.truth_fail))

    def resolve_all(self, failing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every contact resolved by the shipped rounds: its outcome, the numbers it
        asked, and whether it needed any (the population)."""
        from rcsqualify.contacts.choice import TIER_UNVERIFIED, choose, next_lookups

        g = self.grouping
        tier = np.where(self.open, TIER_UNVERIFIED, self.true_tier).astype(np.uint8)
        open_ = self.open.copy()
        best = np.zeros(g.n_slots, np.uint8)
        asks = np.zeros(g.n_contacts, np.int64)
        population = None
        while True:
            ask = next_lookups(g, tier, open_, best)
            if population is None:
                population = np.bincount(g.contact[ask], minlength=g.n_contacts) > 0
            if not ask.any():
                break
            asks += np.bincount(g.contact[ask], minlength=g.n_contacts)
            tier[ask] = np.where(failing[ask], TIER_UNVERIFIED, self.true_tier[ask])
            open_[ask] = False
        chosen = choose(g, tier)
        self.rescued = float(np.mean(chosen != g.start[:-1]))
        chosen_tier = tier[chosen]
        outcome = np.where(chosen_tier == 0, "ok",
                           np.where(chosen_tier == TIER_UNVERIFIED, "unknown", "fail"))
        return outcome, asks, np.flatnonzero(population)


class _Lookups:
    """``contact_sample.Lookups`` over a :class:`ContactBase` (no HTTP)."""

    def __init__(self, base: ContactBase) -> None:
        self.base = base
        self.asked = 0

    def open_contacts(self) -> tuple[np.ndarray, np.ndarray]:
        pop = self.base.population
        return pop, 33_607_000_000 + pop.astype(np.int64)

    def resolve(self, contacts: np.ndarray) -> None:
        self.asked += int(self.base.asks[contacts].sum())

    def outcomes(self, contacts: np.ndarray) -> list[str]:
        return [str(o) for o in self.base.outcome[contacts]]

    def exact(self, population: np.ndarray) -> tuple[int, int]:
        exact = np.ones(len(self.base.outcome), bool)
        exact[population] = False
        return int(np.count_nonzero(self.base.outcome[exact] == "fail")), int(exact.sum())


def contact_base(size: int, shape: Shape, ratio: float, seed: int) -> ContactBase:
    """A base whose true contact error ratio is ``ratio`` (the capable share found by
    bisection, within 0.1 point)."""
    lo, hi = 0.0, 1.0
    for _ in range(30):
        base = ContactBase(size, shape, (lo + hi) / 2, seed)
        if abs(base.true_ratio - ratio) < 0.0005:
            break
        lo, hi = ((lo + hi) / 2, hi) if base.true_ratio > ratio else (lo, (lo + hi) / 2)
    if abs(base.true_ratio - ratio) > 0.001:
        raise SystemExit(f"{shape.name}: no base at {ratio} (got {base.true_ratio:.4f})")
    return base


def contact_trial(base: ContactBase, seed: int) -> dict[str, Any]:
    """One ``--sample auto`` run and one ``--sample N`` run over ``base``."""
    from rcsqualify.contact_sample import ContactSample, draw
    from rcsqualify.report.summary import estimate_interval, gate_from_counts
    from rcsqualify.sample_auto import AutoSample

    truth = base.true_ratio
    auto = AutoSample(threshold=THRESHOLD, sample_max=CAP, confidence=CONFIDENCE,
                      seed=seed, in_flight=30)
    lookups = _Lookups(base)
    sampled = draw(lookups, ContactSample(auto=auto, seed=seed))
    est = sampled.estimate
    # the report's bound and gate: the sequence's ends, clamped to what the drawn
    # contacts (those past the decision included) make certain
    messages = len(base.outcome)
    exact_fail = _Lookups(base).exact(sampled.population)[0]
    drawn = base.outcome[sampled.drawn]
    errors = exact_fail + int(np.count_nonzero(drawn == "fail"))
    unverified = len(sampled.population) - len(sampled.drawn) + int(
        np.count_nonzero(drawn == "unknown"))
    auto_iv = estimate_interval(est, errors, messages, unverified)
    auto_gate = gate_from_counts({"messages": messages, "not_rcs": errors,
                                  "unverified": unverified}, threshold=THRESHOLD,
                                 mode="decide", interval=auto_iv)
    low, high = auto_gate.bounds["low"], auto_gate.bounds["high"]
    out: dict[str, Any] = {
        "drawn": est["drawn"], "asked": lookups.asked, "decision": auto_gate.decision,
        "covered": low <= truth <= high, "miss": max(0.0, low - truth, truth - high)}
    fixed = draw(_Lookups(base), ContactSample(sample=FIXED_N, seed=seed,
                                               confidence=CONFIDENCE))
    drawn = base.outcome[fixed.drawn]
    exact_fail = _Lookups(base).exact(fixed.population)[0]
    errors = exact_fail + int(np.count_nonzero(drawn == "fail"))
    extrapolated = len(fixed.population) - len(fixed.drawn)
    interval = estimate_interval({**fixed.estimate, "extrapolated": extrapolated}, errors,
                                 messages)
    counts = {"messages": messages, "not_rcs": errors,
              "unverified": extrapolated + int(np.count_nonzero(drawn == "unknown"))}
    gate = gate_from_counts(counts, threshold=THRESHOLD, mode="decide", interval=interval)
    out["fixed_covered"] = gate.bounds["low"] <= truth <= gate.bounds["high"]
    out["fixed_miss"] = max(0.0, gate.bounds["low"] - truth, truth - gate.bounds["high"])
    out["fixed_decision"] = gate.decision
    return out


def run_contacts(trials: int, seed: int) -> dict[str, Any]:
    cells = []
    started = time.perf_counter()
    grid = [(shape, r) for shape in SHAPES for r in CONTACT_RATIOS]
    for i, (shape, ratio) in enumerate(grid):
        base = contact_base(CONTACT_SIZE, shape, ratio, seed + i)
        runs = [contact_trial(base, seed * 100_000 + t) for t in range(trials)]
        print(f"cell {i + 1}/{len(grid)}: {shape.name} at {base.true_ratio:.4f}, "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        wrong = "fail" if base.true_ratio <= THRESHOLD else "pass"
        drawn = np.array([r["drawn"] for r in runs])
        asked = np.array([r["asked"] for r in runs])
        cells.append({
            "shape": shape.name, "contacts": CONTACT_SIZE,
            "true_ratio": round(base.true_ratio, 5),
            "population": len(base.population),
            "population_fail_share": round(float(np.mean(base.truth_fail[base.population])),
                                           4),
            "rescued_share": round(base.rescued, 4),
            "auto_coverage": float(np.mean([r["covered"] for r in runs])),
            "auto_max_miss_points": round(100 * max(r["miss"] for r in runs), 3),
            "auto_wrong": float(np.mean([r["decision"] == wrong for r in runs])),
            "auto_undecided": float(np.mean([r["decision"] == "undecided" for r in runs])),
            "auto_median_drawn": int(np.median(drawn)),
            "numbers_per_drawn_contact": round(float(asked.sum() / max(drawn.sum(), 1)), 3),
            "fixed_coverage": float(np.mean([r["fixed_covered"] for r in runs])),
            "fixed_max_miss_points": round(100 * max(r["fixed_miss"] for r in runs), 3),
            "fixed_wrong": float(np.mean([r["fixed_decision"] == wrong for r in runs])),
            "fixed_undecided": float(np.mean([r["fixed_decision"] == "undecided"
                                              for r in runs]))})
    return {"unit": "contact", "threshold": THRESHOLD, "confidence": CONFIDENCE,
            "trials": trials, "seed": seed, "cap": CAP, "fixed_sample": FIXED_N,
            "lookup_failures": LOOKUP_FAILS, "cached": CACHED,
            "seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(time.process_time(), 1),
            "min_auto_coverage": min(c["auto_coverage"] for c in cells),
            "max_auto_wrong": max(c["auto_wrong"] for c in cells),
            "min_fixed_coverage": min(c["fixed_coverage"] for c in cells),
            "max_fixed_wrong": max(c["fixed_wrong"] for c in cells), "cells": cells}


def contacts_markdown(figures: dict[str, Any]) -> str:
    n = figures["fixed_sample"]
    head = ("| shape | rescued | true ratio | population · its failure share | "
            "auto: bound covers | auto: wrong | auto: undecided | auto: median contacts "
            f"drawn | look-ups per drawn contact | --sample {n}: interval covers · worst "
            f"miss | --sample {n}: wrong · undecided |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [f"| {c['shape']} | {100 * c['rescued_share']:.1f} % | "
            f"{100 * c['true_ratio']:.1f} % | {c['population']:,} · "
            f"{100 * c['population_fail_share']:.1f} % | "
            f"{100 * c['auto_coverage']:.1f} % | {100 * c['auto_wrong']:.1f} % | "
            f"{100 * c['auto_undecided']:.0f} % | {c['auto_median_drawn']:,} | "
            f"{c['numbers_per_drawn_contact']:.2f} | {100 * c['fixed_coverage']:.1f} % · "
            f"{c['fixed_max_miss_points']:.2f} pt | {100 * c['fixed_wrong']:.1f} % · "
            f"{100 * c['fixed_undecided']:.0f} % |"
            for c in figures["cells"]]
    return "\n".join([head, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--markdown", action="store_true",
                        help="print the README tables after the JSON")
    parser.add_argument("--contacts", action="store_true",
                        help="contacts as the unit (issue #25 item 6)")
    args = parser.parse_args()
    if args.contacts:
        figures = run_contacts(args.trials, args.seed)
        emit(figures, args.out)
        if args.markdown:
            print(contacts_markdown(figures))
        return
    figures = run(args.trials, args.seed)
    emit(figures, args.out)
    if args.markdown:
        print(markdown(figures))


if __name__ == "__main__":
    main()
