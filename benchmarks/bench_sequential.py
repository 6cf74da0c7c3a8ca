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

Usage: nice python benchmarks/bench_sequential.py [--trials 1000] [--seed 22]
       [--out benchmarks/results_sequential.json] [--markdown]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--markdown", action="store_true",
                        help="print the README tables after the JSON")
    args = parser.parse_args()
    figures = run(args.trials, args.seed)
    emit(figures, args.out)
    if args.markdown:
        print(markdown(figures))


if __name__ == "__main__":
    main()
