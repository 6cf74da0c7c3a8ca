"""Anytime-valid bounds for ``--sample auto`` (issue #22 §2, CONTRACT §2 Gate).

A gate asks "is the base over the threshold?", not "what is each number?". The tool
resolves *unresolved* messages (numbers whose status needs a remote answer) one by one
in a seeded random order and stops as soon as the answer is known. Looking at the
running result after every answer and stopping when it looks decided is exactly what a
fixed-sample interval (Wilson) forbids: its error rate inflates with every peek
(``benchmarks/bench_sequential.py`` measures it). What is used instead is a
**confidence sequence**: bounds valid simultaneously at every sample size, hence at any
stopping time the data chooses.

The one used is the prior-posterior-ratio confidence sequence for sampling *without
replacement* from a finite population of binary values (Waudby-Smith & Ramdas,
"Confidence sequences for sampling without replacement", NeurIPS 2020, §3). With a
beta-binomial prior on the number ``m`` of ones among ``N``, the ratio of the prior to
the posterior mass of ``m`` after ``t`` draws holding ``S`` ones,

    R_t(m) = C(N, m) · B(a + S, b + t − S) / (C(N − t, m − S) · B(a, b)),

is a non-negative martingale of initial value 1 under the true ``m``; by Ville's
inequality it ever reaches ``1/α`` with probability at most ``α``, so
``{m : R_t(m) < 1/α}`` covers the true count at every ``t`` at once with probability at
least ``1 − α`` (Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric,
nonasymptotic confidence sequences", Annals of Statistics 2021, give the general
martingale argument). ``R_t(m)`` is the marginal likelihood over the likelihood of
``m``, and the hypergeometric likelihood is log-concave in ``m``: the set is an interval
around the maximum-likelihood count, found by bisection in ``O(log N)`` evaluations of
closed forms (log-gamma), never ``O(N)`` work, so a million-message base costs nothing.

Choices where the papers leave one:

- **Each side at the full confidence.** The set above misses the true count on *either*
  side with probability at most ``α``, so each end alone is valid at ``1 − α``. A gate's
  wrong decision is one-sided (a wrong PASS needs the high end below the truth, a wrong
  FAIL the low end above it), so its error rate is at most ``α``, not ``2α``.
- **Uniform prior** (``a = b = 1``), the paper's default: no assumption on the share of
  failures, the cost being a ``½·log(n)`` term over a fixed-sample bound.
- **A look-up that fails or is not recognized is never skipped** (skipping it would bias
  the sample towards the numbers that answer): :class:`SequentialGate` keeps two
  sequences, one counting it as a failure (its high end is the gate's high end) and one
  counting it as a success (its low end is the gate's low end). Each is a valid bound
  on a population that dominates, or is dominated by, the true one.
- **No point estimate** is offered: under data-chosen stopping the running share is
  biased; only the bounds at the stop are reported.

numpy has no log-gamma and scipy is not a dependency for one function: :func:`log_gamma`
is Stirling's series after an 8-step shift (absolute error below 1e-11, tested against
``math.lgamma``), vectorized so the planner and the benchmark evaluate thousands of
simulated runs at once through the same code the gate uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from rcsqualify.defaults import CONFIDENCE

__all__ = ["FAIL", "NONE", "PASS", "FinitePopulationCS", "SequentialGate", "log_gamma",
           "log_prior_posterior_ratio", "plan_lookups"]

IntArray = npt.NDArray[np.int64]
#: decision codes of :meth:`SequentialGate.decide_at` (vectorized runs)
NONE, PASS, FAIL = 0, 1, 2
OUTCOMES = ("fail", "ok", "unknown")
#: the uniform prior of Waudby-Smith & Ramdas (beta-binomial with a = b = 1)
UNIFORM = (1.0, 1.0)

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_SHIFT = 8


def log_gamma(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``ln Γ(x)`` element-wise for ``x > 0``.

    ``Γ(x) = Γ(x + 8) / (x (x + 1) … (x + 7))`` moves every argument to at least 8, where
    Stirling's series to the ``y⁻⁷`` term is within ``1/(1188 y⁹)`` < 1e-11."""
    x = np.asarray(x, dtype=np.float64)
    product = x.copy()
    for k in range(1, _SHIFT):
        product *= x + k
    y = x + _SHIFT
    inv = 1.0 / y
    inv2 = inv * inv
    series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
    result: npt.NDArray[np.float64] = (
        (y - 0.5) * np.log(y) - y + _HALF_LOG_2PI + series - np.log(product))
    return result


_factorials: list[npt.NDArray[np.float64]] = [log_gamma(np.arange(1, 4097, dtype=np.float64))]


def _log_factorial(k: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``ln k!`` for integer counts: a table gather (grown to the largest count seen,
    computed once by :func:`log_gamma`), which makes a simulated cell of a million
    draws several times cheaper than the series; anything else goes to the series."""
    k = np.asarray(k)
    if k.dtype.kind not in "iu":
        return log_gamma(k.astype(np.float64) + 1.0)
    if k.size == 0:
        return np.zeros(k.shape)
    top = int(k.max())
    table = _factorials[0]
    if top >= table.size:
        size = max(top + 1, 2 * table.size)
        table = _factorials[0] = log_gamma(np.arange(1, size + 1, dtype=np.float64))
    result: npt.NDArray[np.float64] = table[k]
    return result


def log_prior_posterior_ratio(population: npt.ArrayLike, drawn: npt.ArrayLike,
                              ones: npt.ArrayLike, m: npt.ArrayLike,
                              prior: tuple[float, float] = UNIFORM
                              ) -> npt.NDArray[np.float64]:
    """``ln R_t(m)`` (module docstring), element-wise with numpy broadcasting.

    Defined for ``ones ≤ m ≤ ones + population − drawn``; the caller keeps ``m`` there."""
    n, t, s, m_ = (np.asarray(v, dtype=np.int64) for v in (population, drawn, ones, m))
    a, b = prior
    log_binomials = (_log_factorial(n) - _log_factorial(m_) - _log_factorial(n - m_)
                     - _log_factorial(n - t) + _log_factorial(m_ - s)
                     + _log_factorial(n - t - m_ + s))
    if prior == UNIFORM:  # B(1 + S, 1 + t − S) = S! (t − S)! / (t + 1)!
        log_betas = _log_factorial(s) + _log_factorial(t - s) - _log_factorial(t + 1)
    else:
        log_betas = (log_gamma(a + s) + log_gamma(b + t - s) - log_gamma(a + b + t)
                     - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)))
    result: npt.NDArray[np.float64] = log_binomials + log_betas
    return result


def _log_level(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
    return math.log(1.0 / (1.0 - confidence))


def excluded_above(population: npt.ArrayLike, drawn: npt.ArrayLike, ones: npt.ArrayLike,
                   m: npt.ArrayLike, log_level: float,
                   prior: tuple[float, float] = UNIFORM) -> npt.NDArray[np.bool_]:
    """Where every count ``≥ m`` lies outside the sequence, i.e. its high end is ``< m``.

    ``m`` is above the likelihood's mode when ``m·t > S·(N + 1)`` (the hypergeometric
    likelihood in ``m`` falls from ``m − 1`` to ``m`` exactly then); above the mode
    ``ln R`` only grows, so one evaluation at ``m`` settles all larger counts."""
    n, t, s, m_ = (np.asarray(v, dtype=np.int64) for v in (population, drawn, ones, m))
    most = s + n - t
    beyond = m_ > most
    inside = np.clip(m_, s, most)
    upper_side = inside * t > s * (n + 1)
    log_r = log_prior_posterior_ratio(n, t, s, inside, prior)
    result: npt.NDArray[np.bool_] = beyond | (upper_side & (log_r >= log_level))
    return result


def excluded_below(population: npt.ArrayLike, drawn: npt.ArrayLike, ones: npt.ArrayLike,
                   m: npt.ArrayLike, log_level: float,
                   prior: tuple[float, float] = UNIFORM) -> npt.NDArray[np.bool_]:
    """Where every count ``≤ m`` lies outside the sequence, i.e. its low end is ``> m``
    (the mirror of :func:`excluded_above`: below the mode when ``(m + 1)·t < S·(N + 1)``)."""
    n, t, s, m_ = (np.asarray(v, dtype=np.int64) for v in (population, drawn, ones, m))
    most = s + n - t
    below = m_ < s
    inside = np.clip(m_, s, most)
    lower_side = (inside + 1) * t < s * (n + 1)
    log_r = log_prior_posterior_ratio(n, t, s, inside, prior)
    result: npt.NDArray[np.bool_] = below | (lower_side & (log_r >= log_level))
    return result


class FinitePopulationCS:
    """Anytime-valid confidence sequence for the number of ones in a finite population of
    ``population`` binary values drawn without replacement (Waudby-Smith & Ramdas 2020).

    Feed the observations in draw order with :meth:`update`; :meth:`bounds` is valid at
    every step at once, so it may be read after each one and the sampling stopped on it.
    """

    def __init__(self, population: int, confidence: float = CONFIDENCE,
                 prior: tuple[float, float] = UNIFORM) -> None:
        if population < 0:
            raise ValueError(f"population must be ≥ 0, not {population}")
        if min(prior) <= 0:
            raise ValueError(f"the beta prior needs positive parameters, not {prior}")
        self.population = int(population)
        self.confidence = confidence
        self.prior = prior
        self.log_level = _log_level(confidence)
        self.drawn = 0
        self.ones = 0

    def update(self, x: bool | int) -> None:
        """One more draw; ``x`` true (or 1) for a one."""
        if self.drawn >= self.population:
            raise ValueError("the whole population has been drawn already")
        self.drawn += 1
        self.ones += 1 if x else 0

    def _excluded(self, m: int) -> bool:
        log_r = log_prior_posterior_ratio(self.population, self.drawn, self.ones, m,
                                          self.prior)
        return bool(log_r >= self.log_level)

    def bounds(self) -> tuple[int, int]:
        """``(low, high)`` on the count of ones in the population.

        ``ones ≤ low ≤ high ≤ ones + (population − drawn)``; each end is valid on its own
        at ``confidence``, uniformly over time; ``low == high == ones`` once all is drawn.
        """
        least, most = self.ones, self.ones + self.population - self.drawn
        if self.drawn == 0 or least == most:
            return least, most
        # the likelihood's mode: R there is at most 1, so it is always inside
        mode = min(max(self.ones * (self.population + 1) // self.drawn, least), most)
        lo, hi = least, mode  # first count inside, on the rising side
        while lo < hi:
            mid = (lo + hi) // 2
            if self._excluded(mid):
                lo = mid + 1
            else:
                hi = mid
        low = lo
        lo, hi = mode, most  # last count inside, on the falling side
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._excluded(mid):
                hi = mid - 1
            else:
                lo = mid
        return low, lo


def allowed_failures(exact_fail: int, total: int, unresolved: int, threshold: float) -> int:
    """The most failures among the unresolved with which the base still passes.

    The largest ``k`` in ``[-1, unresolved]`` with ``(exact_fail + k) / total ≤ threshold``
    (``-1``: the exact stratum alone is over). The comparison is the ratio's, in floats,
    as the gate's own (``15 / 100 ≤ 0.15`` holds, whereas ``0.15 * 100`` is a hair over
    15); an empty base has the ratio 0, as elsewhere."""
    if total == 0:
        return unresolved if threshold >= 0 else -1

    def passes(k: int) -> bool:
        return (exact_fail + k) / total <= threshold

    k = min(max(math.floor(threshold * total) - exact_fail, -1), unresolved)
    while k < unresolved and passes(k + 1):
        k += 1
    while k >= 0 and not passes(k):
        k -= 1
    return k


class SequentialGate:
    """A base = an exact stratum (cached / offline-known messages) + a sampled stratum of
    ``unresolved`` messages. Decides pass / fail against ``threshold`` at ``confidence``.

    PASS when the high end of the base's error ratio is ≤ ``threshold``, FAIL when its
    low end is > ``threshold``; the first decision sticks (the run stops drawing). Each
    side is valid at ``confidence`` on its own, uniformly over the draws, so the chance of
    a wrong decision is at most ``1 − confidence`` whatever the stopping.
    """

    def __init__(self, *, exact_fail: int, exact_total: int, unresolved: int,
                 threshold: float, confidence: float = CONFIDENCE) -> None:
        if not 0 <= exact_fail <= exact_total or unresolved < 0:
            raise ValueError("need 0 ≤ exact_fail ≤ exact_total and unresolved ≥ 0")
        self.exact_fail, self.exact_total = int(exact_fail), int(exact_total)
        self.unresolved, self.threshold = int(unresolved), float(threshold)
        self.confidence = confidence
        self.total = self.exact_total + self.unresolved
        self.allowed = allowed_failures(self.exact_fail, self.total, self.unresolved,
                                        self.threshold)
        #: "unknown" answers count as failures here (the high end) ...
        self._high = FinitePopulationCS(self.unresolved, confidence)
        #: ... and as successes here (the low end)
        self._low = FinitePopulationCS(self.unresolved, confidence)
        self.log_level = self._high.log_level
        self.decision: str | None = None
        self._decide()

    @property
    def drawn(self) -> int:
        return self._high.drawn

    def decide_at(self, drawn: npt.ArrayLike, fails_high: npt.ArrayLike,
                  fails_low: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """The decision after ``drawn`` draws of which ``fails_high`` counted as failures
        with unknowns included and ``fails_low`` without: :data:`PASS`, :data:`FAIL` or
        :data:`NONE`, element-wise. :meth:`observe` uses it on one run; the planner and
        the benchmark on thousands of simulated runs at once."""
        n, k = self.unresolved, self.allowed
        passed = excluded_above(n, drawn, fails_high, k + 1, self.log_level) if k >= 0 \
            else np.zeros(np.shape(drawn), dtype=bool)
        failed = excluded_below(n, drawn, fails_low, k, self.log_level) if k >= 0 \
            else np.ones(np.shape(drawn), dtype=bool)
        result: npt.NDArray[np.int8] = np.where(
            passed, PASS, np.where(failed, FAIL, NONE)).astype(np.int8)
        return result

    def _decide(self) -> None:
        code = int(self.decide_at(self.drawn, self._high.ones, self._low.ones))
        self.decision = {PASS: "pass", FAIL: "fail"}.get(code)

    def observe(self, outcome: str) -> str | None:
        """The next drawn message's outcome, in draw order: ``"fail"``, ``"ok"`` or
        ``"unknown"`` (look-up failed or not recognized: a failure for the high end, a
        success for the low end). Returns ``"pass"`` / ``"fail"`` once decided."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        if self.decision is not None:
            raise ValueError(f"already decided ({self.decision}): stop drawing")
        self._high.update(outcome != "ok")
        self._low.update(outcome == "fail")
        self._decide()
        return self.decision

    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of the base's error ratio (exact failures + the bounds on the
        unresolved ones, over all messages); ``(0, 0)`` for an empty base."""
        if self.total == 0:
            return 0.0, 0.0
        low = self._low.bounds()[0]
        high = self._high.bounds()[1]
        return (self.exact_fail + low) / self.total, (self.exact_fail + high) / self.total

    def fail_bounds(self) -> tuple[int, int]:
        """``(low, high)`` on the count of failures among the unresolved messages."""
        return self._low.bounds()[0], self._high.bounds()[1]


#: a decision rule over (draws, failures with unknowns, failures without), element-wise
DecisionRule = Callable[[Any, Any, Any], npt.NDArray[np.int8]]


def simulate(decide: DecisionRule, population: int, fails: npt.ArrayLike, *, steps: int,
             trials: int, rng: np.random.Generator, block: int = 256
             ) -> tuple[npt.NDArray[np.int8], IntArray]:
    """Run ``trials`` simulated draws through a decision rule at once (the gate's
    :meth:`SequentialGate.decide_at`, or another rule to compare it with).

    ``fails`` is the true number of failures among the ``population`` unresolved (one
    per trial, or one for all); the draws are without replacement, in random order, with
    no unknown answer. Returns each trial's decision code and draws used (``steps`` when
    undecided). Work is by blocks of draws on the trials still undecided, so a cell
    whose runs stop early costs little."""
    n = population
    steps = min(steps, n)
    remaining_fail = np.broadcast_to(np.asarray(fails, dtype=np.int64), (trials,)).copy()
    decision = np.full(trials, NONE, dtype=np.int8)
    used = np.full(trials, steps, dtype=np.int64)
    initial = int(decide(0, 0, 0))
    if initial != NONE or steps == 0:
        decision[:] = initial
        used[:] = 0 if initial != NONE else steps
        return decision, used
    active = np.arange(trials)
    ones = np.zeros(trials, dtype=np.int64)
    done = 0
    while done < steps and active.size:
        size = min(block, steps - done)
        left = n - done
        fail_left = remaining_fail[active]
        # this block's draws: how many fail (hypergeometric), then in a random order
        count = rng.hypergeometric(fail_left, left - fail_left, size)
        rank = np.argsort(rng.random((active.size, size)), axis=1).argsort(axis=1)
        draws = rank < count[:, None]
        cumulative = ones[active, None] + np.cumsum(draws, axis=1)
        t = done + 1 + np.arange(size)
        codes = decide(t[None, :], cumulative, cumulative)
        decided = codes != NONE
        hit = decided.any(axis=1)
        first = decided.argmax(axis=1)
        rows = active[hit]
        decision[rows] = codes[hit, first[hit]]
        used[rows] = done + 1 + first[hit]
        remaining_fail[active] -= count
        ones[active] = cumulative[:, -1]
        active = active[~hit]
        done += size
    return decision, used


def plan_lookups(*, exact_fail: int, exact_total: int, unresolved: int, threshold: float,
                 confidence: float = CONFIDENCE, guess: float | None = None,
                 sample_max: int | None = None, trials: int = 200, seed: int = 0
                 ) -> dict[str, Any]:
    """Expected numbers to resolve with ``--sample auto``: median, 95th percentile and
    the share of runs that decide within ``sample_max`` (undecided runs count as
    ``sample_max``).

    ``guess`` is the assumed failure share among the unresolved; ``None`` takes the
    exact stratum's share (the messages already known are the best guess of the
    others), or the threshold itself when nothing is known (the slowest case). A
    simulation of the shipped rule (seeded: the same inputs give the same figures), not a
    formula: ``sample_max`` and the finite population change the answer. Each drawn
    number is one request to each service it needs (MNP and/or capability)."""
    if guess is None:
        guess = exact_fail / exact_total if exact_total else threshold
    guess = min(max(float(guess), 0.0), 1.0)
    gate = SequentialGate(exact_fail=exact_fail, exact_total=exact_total,
                          unresolved=unresolved, threshold=threshold, confidence=confidence)
    steps = unresolved if sample_max is None else min(sample_max, unresolved)
    rng = np.random.default_rng(seed)
    decision, used = simulate(gate.decide_at, unresolved, round(guess * unresolved),
                              steps=steps, trials=trials, rng=rng)
    return {"median": int(np.median(used)), "p95": int(np.percentile(used, 95)),
            "decided_share": float(np.mean(decision != NONE))}
