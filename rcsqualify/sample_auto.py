"""``--sample auto``: decide the gate with the fewest look-ups (issue #22 §2).

The unit is an **unresolved message**: a distinct number whose status needs a remote
answer (an MNP look-up when its operator is unknown offline and not cached, then a
capability check when it turns out to be a target-operator mobile; or only the
capability check of a target-operator mobile not in the cache). Everything else is
exact: invalid and non-mobile messages, operators known offline or cached, cached
capability answers. The unresolved population is frozen before the first draw.

Unresolved numbers are drawn in the order of a keyed hash of (seed, number): it does
not depend on what is cached, so a run killed (even with ``kill -9``) and re-run
continues the same order and finds its first draws in the cache. Each drawn number is
resolved completely and its outcome enters the bound **in draw order** (numbers needing
MNP finish later and fail more often: completion order would lean towards PASS), held
back until the earlier draws are in. About one second of quota is kept in flight
(``in_flight`` numbers), so the quota stays busy; numbers already drawn when the bound
decides are finished (their answers are cached and reported), no new one is drawn.
Drawing stops at a decision or after ``sample_max`` numbers, so no service is asked
more than ``sample_max`` numbers (retries excluded).

The bound and the decision are ``sequential.SequentialGate``'s (see its module for the
statistics): a drawn number whose look-up failed or was not recognized is never
skipped, it counts as a failure for the high end and a success for the low end.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rcsqualify.defaults import CONFIDENCE
from rcsqualify.distinct import Distinct, Progress, apply_sources, settle_operator
from rcsqualify.remote.keys import E164Numbers, siphash24
from rcsqualify.remote.workers import gather_or_cancel
from rcsqualify.sequential import SequentialGate
from rcsqualify.verdict import (
    KIND,
    OPERATOR_ERROR,
    RCS_NO,
    RCS_NO_FEATURE,
    RCS_NOT_SAMPLED,
    RCS_UNKNOWN,
    RCS_YES,
    SOURCE,
)

if TYPE_CHECKING:
    from rcsqualify.capability.interface import CapabilityProvider
    from rcsqualify.operators.interface import OperatorSource

@dataclass(frozen=True)
class AutoSample:
    """The options of ``--sample auto``."""

    threshold: float
    sample_max: int  # numbers drawn at most (``--sample-max``)
    confidence: float = CONFIDENCE
    seed: int = 0
    #: numbers resolved at once: about a second of quota (the wiring sets it)
    in_flight: int = 30


def draw_order(keys: np.ndarray, seed: int) -> np.ndarray:
    """Positions of ``keys`` (int64 E.164 digits) in draw order: sorted by SipHash-2-4
    of the number under a key derived from the seed (ties, which need a 64-bit
    collision, by number). Independent of the cache and of the file's order."""
    material = hashlib.sha256(f"rcsqualify --sample auto, seed {seed}".encode()).digest()
    words = np.frombuffer(material[:16], dtype="<u8").tolist()
    hashes = siphash24((int(words[0]), int(words[1])), np.asarray(keys).astype(np.uint64))
    order: np.ndarray = np.lexsort((keys, hashes))
    return order


@dataclass
class Strata:
    """The base split before any draw: exact counts and the unresolved numbers."""

    exact_fail: int
    exact_total: int
    #: distinct indices of the unresolved numbers, in draw order
    unresolved: np.ndarray
    #: per distinct number: its operator needs the streaming source (MNP)
    needs_operator: np.ndarray


def attribute_cached(d: Distinct, streaming: OperatorSource | None, pending: np.ndarray
                     ) -> np.ndarray:
    """Attribute the ``pending`` mobiles without asking: the streaming source's (MNP's)
    fresh cached answers, else the range holder. Returns which numbers still need the
    streaming source (no cached answer): their operator is known only once it answers.
    ``--sample auto`` and the dry run start from here."""
    needs_operator = np.zeros(len(d.key), dtype=bool)
    idx = np.flatnonzero(pending)
    if streaming is not None and len(idx):
        answers = streaming.cached(E164Numbers(d.key[idx]))
        cached = np.array(["" if a is None else a for a in answers], dtype=object)
        answered = np.array([a is not None for a in answers], dtype=bool)
        needs_operator[idx[~answered]] = True
        named = answered & (cached != "")
        d.operator[idx[named]] = cached[named]
        d.source[idx[named]] = SOURCE[streaming.label]
        idx = idx[answered & ~named]  # the service does not know them: the range holder
    d.operator[idx] = d.block_operator[d.block[idx]]
    d.source[idx] = SOURCE["range"]
    return needs_operator


def stratify(distinct: Distinct, invalid_messages: int,
             sources: Sequence[OperatorSource], provider: CapabilityProvider,
             target: str, seed: int, pending: np.ndarray | None = None) -> Strata:
    """Attribute what is known without asking (offline sources, then the streaming
    source's cache, else the range holder) and read the capability cache: fills
    ``distinct`` for the exact messages and returns the strata. No request is made (the
    dry run uses it too, with ``pending``: the mobiles its offline sources left)."""
    d = distinct
    mobile = d.kind == KIND["mobile"]
    streaming = next((s for s in sources if s.streams), None)
    if pending is None:
        pending = apply_sources(d, [s for s in sources if not s.streams], mobile.copy())
    needs_operator = attribute_cached(d, streaming, pending)
    known_target = np.flatnonzero(mobile & ~needs_operator & (d.operator == target))
    codes = np.full(len(known_target), RCS_UNKNOWN, dtype=np.uint8)
    todo = provider.answers_from_cache(E164Numbers(d.key[known_target]), codes)
    d.rcs[known_target] = codes
    uncached = known_target[todo]
    unresolved = np.union1d(np.flatnonzero(needs_operator), uncached)
    unresolved = unresolved[draw_order(d.key[unresolved], seed)]
    cached_negative = np.count_nonzero((codes == RCS_NO) | (codes == RCS_NO_FEATURE))
    exact_fail = (invalid_messages
                  + int(np.count_nonzero(d.kind != KIND["mobile"]))
                  + int(np.count_nonzero(mobile & ~needs_operator & (d.operator != target)))
                  + int(cached_negative))
    exact_total = invalid_messages + len(d.key) - len(unresolved)
    return Strata(exact_fail=exact_fail, exact_total=exact_total, unresolved=unresolved,
                  needs_operator=needs_operator)


class _Draws:
    """The draws of one run: resolve, buffer, feed the gate in draw order."""

    def __init__(self, d: Distinct, strata: Strata, gate: SequentialGate,
                 streaming: OperatorSource | None, provider: CapabilityProvider,
                 target: str, limit: int, progress: Progress | None) -> None:
        self.d, self.strata, self.gate = d, strata, gate
        self.streaming, self.provider, self.target = streaming, provider, target
        self.limit, self.progress = limit, progress
        self.e164 = E164Numbers(d.key)
        self.launched = 0  # numbers drawn
        self.fed = 0  # outcomes entered into the bound
        self.outcomes: dict[int, str] = {}
        self.unknown = 0  # drawn numbers left unresolved (a look-up failed)

    async def one(self, i: int) -> str:
        """Resolve number ``i`` completely: ``fail``, ``ok`` or ``unknown``."""
        d = self.d
        if self.strata.needs_operator[i]:
            assert self.streaming is not None
            code = await self.streaming.resolve(self.e164[i])
            if code == OPERATOR_ERROR:
                d.operator[i] = OPERATOR_ERROR
                return "unknown"
            settle_operator(d, i, code, self.streaming.label)
        if d.operator[i] != self.target:
            return "fail"
        rcs = await self.provider.resolve(self.e164[i])
        d.rcs[i] = rcs
        if rcs == RCS_YES:
            return "ok"
        return "fail" if rcs in (RCS_NO, RCS_NO_FEATURE) else "unknown"

    def feed(self) -> None:
        while self.gate.decision is None and self.fed in self.outcomes:
            self.gate.observe(self.outcomes.pop(self.fed))
            self.fed += 1

    async def worker(self, window: int, fed: asyncio.Condition) -> None:
        """Draw the next number while undecided, at most ``window`` draws ahead of the
        bound (an answer held back behind a slow earlier one counts): the numbers drawn
        past the decision are at most ``window``."""
        order = self.strata.unresolved
        while True:
            async with fed:
                await fed.wait_for(lambda: self.launched - self.fed < window
                                   or self.gate.decision is not None)
            if self.gate.decision is not None or self.launched >= self.limit:
                return
            k = self.launched
            self.launched += 1
            outcome = self.outcomes[k] = await self.one(int(order[k]))
            self.unknown += outcome == "unknown"
            self.feed()
            async with fed:
                fed.notify_all()
            if self.progress:
                self.progress("sample auto", self.fed, self.limit)

    async def run(self, in_flight: int) -> None:
        window = max(1, in_flight)
        fed = asyncio.Condition()
        async with AsyncExitStack() as stack:
            if self.streaming is not None and self.strata.needs_operator.any():
                await stack.enter_async_context(self.streaming.session())
            await stack.enter_async_context(self.provider.session())
            await gather_or_cancel([self.worker(window, fed) for _ in range(window)])


def sample_auto(distinct: Distinct, invalid_messages: int,
                sources: Sequence[OperatorSource], provider: CapabilityProvider,
                target: str, auto: AutoSample, progress: Progress | None = None
                ) -> tuple[dict[str, Any], np.ndarray]:
    """Run ``--sample auto`` on ``distinct`` (operators, capability answers filled for
    what was learned). Returns the estimate for the report and the mask of unresolved
    numbers never drawn (``not_sampled``, whatever their operator would be)."""
    strata = stratify(distinct, invalid_messages, sources, provider, target, auto.seed)
    population = len(strata.unresolved)
    gate = SequentialGate(exact_fail=strata.exact_fail, exact_total=strata.exact_total,
                          unresolved=population, threshold=auto.threshold,
                          confidence=auto.confidence)
    limit = min(auto.sample_max, population) if gate.decision is None else 0
    streaming = next((s for s in sources if s.streams), None)
    draws = _Draws(distinct, strata, gate, streaming, provider, target, limit, progress)
    if limit:
        asyncio.run(draws.run(auto.in_flight))
    undrawn = strata.unresolved[draws.launched:]
    not_sampled = np.zeros(len(distinct.key), dtype=bool)
    not_sampled[undrawn] = True
    distinct.rcs[undrawn] = RCS_NOT_SAMPLED
    estimate = auto_estimate(gate, auto, exact_total=strata.exact_total,
                             exact_fail=strata.exact_fail, drawn=draws.launched,
                             unknown=draws.unknown)
    return estimate, not_sampled


def auto_estimate(gate: SequentialGate, auto: AutoSample, *, exact_total: int,
                  exact_fail: int, drawn: int, unknown: int) -> dict[str, Any]:
    """The report's ``interval`` of a ``--sample auto`` run at its stop (numbers, or
    contacts: ``contact_sample.py``): ``drawn`` units resolved, ``unknown`` of them left
    unverified by a failed look-up."""
    low, high = gate.bounds()
    fail_low, fail_high = gate.fail_bounds()
    return {
        "method": "sample auto", "seed": auto.seed, "confidence": auto.confidence,
        "sample_max": auto.sample_max, "decision": gate.decision or "undecided",
        "exact_messages": exact_total, "exact_failures": exact_fail,
        "unresolved": gate.unresolved, "drawn": drawn, "observed": gate.drawn,
        "failures_low": fail_low, "failures_high": fail_high,
        "error_ratio_low": low, "error_ratio_high": high,
        # the unverified messages (never drawn, or a look-up failed): all inside the
        # unresolved stratum, so inside the bound already
        "extrapolated": gate.unresolved - drawn + unknown,
    }
