"""The remote stages as one stream (issue #14): operator look-ups and capability checks
at the same time.

Run one after the other, a base that needs both an MNP look-up and a capability check
takes the *sum* of the two quota-bound times. Here a number's capability check leaves
as soon as its operator is known, so the run takes about the time of the slower stage:

- offline sources (extracts, the store) answer first, at once, for every number;
- the numbers they settled on the target operator go straight into the capability
  queue; the others that are mobiles wait for the streaming source (MNP), whose answers
  put each target-operator number on the queue the moment it arrives;
- each service keeps its own pacing, quota and cache; only necessary calls are made
  (a number goes to capability only once its operator says it should); answers are
  cached the moment they arrive, so interruption and resume work as before.

Everything here only decides *which* numbers go where and in what order; asking,
pacing and caching stay in the sources and providers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np

from rcsqualify.capability.interface import CapabilityProvider, Tally, ask_order
from rcsqualify.distinct import Distinct, Progress, apply_sources, settle_operator
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.remote.keys import E164Numbers
from rcsqualify.remote.workers import gather_or_cancel, run_all
from rcsqualify.verdict import KIND, OPERATOR_ERROR, OPERATOR_UNASSIGNED, RCS_UNKNOWN


def can_stream(sources: Sequence[OperatorSource], provider: CapabilityProvider | None,
               sample: int | None, other: CapabilityProvider | None = None) -> bool:
    """A stream pays off when a per-number source and a provider both ask a service,
    or when two routes are checked at once (a sample must know every target number
    before it draws, so it cannot stream)."""
    if sample is not None:
        return False
    return other is not None or (provider is not None and any(s.streams for s in sources))


def attribute_and_check(distinct: Distinct, sources: Sequence[OperatorSource],
                        provider: CapabilityProvider | None, target: str,
                        progress: Progress | None = None,
                        other: CapabilityProvider | None = None,
                        other_rcs: np.ndarray | None = None) -> np.ndarray:
    """Fill ``distinct.operator``/``source``/``rcs`` (and ``other_rcs``, the second
    route's answers for other operators' mobiles); return the indices that went to
    ``provider`` (target-operator mobiles)."""
    mobile = distinct.kind == KIND["mobile"]
    streaming = [s for s in sources if s.streams]
    pending = apply_sources(distinct, [s for s in sources if not s.streams], mobile.copy())
    return stream_numbers(distinct, np.flatnonzero(mobile & ~pending),
                          np.flatnonzero(pending), streaming[0] if streaming else None,
                          provider, target, progress, other, other_rcs)


def stream_numbers(distinct: Distinct, settled: np.ndarray, pending: np.ndarray,
                   src: OperatorSource | None, provider: CapabilityProvider | None,
                   target: str, progress: Progress | None = None,
                   other: CapabilityProvider | None = None,
                   other_rcs: np.ndarray | None = None) -> np.ndarray:
    """The stream itself: the ``settled`` mobiles (operator known) go to their check at
    once, the ``pending`` ones to ``src`` (None: their range holder), each to its check
    the moment its operator arrives. ``distinct.rcs`` starts unknown for all. Returns
    the indices that went to ``provider``. Contacts mode streams one round's numbers
    through here (``contact_check._Rounds.resolve``)."""
    e164 = E164Numbers(distinct.key)  # a number's string made when it is routed
    asked: list[int] = []
    routes = _Routes(distinct, e164, target, provider, other, asked,
                     other_rcs if other_rcs is not None else np.zeros(0, np.uint8))
    asyncio.run(routes.run(settled, pending, src, progress))
    return np.array(sorted(asked), dtype=np.int64)


class _Routes:
    """The queues between the operator stage and the capability stage(s)."""

    def __init__(self, distinct: Distinct, e164: E164Numbers, target: str,
                 provider: CapabilityProvider | None, other: CapabilityProvider | None,
                 asked: list[int], other_rcs: np.ndarray) -> None:
        self.d, self.e164, self.target = distinct, e164, target
        self.provider, self.other = provider, other
        self.asked, self.other_rcs = asked, other_rcs
        self.queues: dict[str, asyncio.Queue[tuple[int, str] | None]] = {}
        if provider is not None:
            self.queues["capability"] = asyncio.Queue()
        if other is not None:
            self.queues["other"] = asyncio.Queue()

    def route(self, i: int) -> None:
        """Send a number whose operator is now known to the check its operator needs."""
        op = self.d.operator[i]
        if op == self.target:
            if "capability" in self.queues:
                self.asked.append(i)
                self.queues["capability"].put_nowait((i, self.e164[i]))
        elif op not in ("", OPERATOR_ERROR, OPERATOR_UNASSIGNED) and "other" in self.queues:
            self.queues["other"].put_nowait((i, self.e164[i]))

    def settle(self, i: int, code: str, label: str) -> None:
        settle_operator(self.d, i, code, label)  # "" (unknown, or no service): the range
        self.route(i)

    async def run(self, settled: np.ndarray, pending: np.ndarray,
                  src: OperatorSource | None, progress: Progress | None) -> None:
        self.d.rcs[:] = RCS_UNKNOWN
        for i in settled:
            self.route(int(i))

        async def operators() -> None:
            try:
                if src is None:
                    for i in pending:
                        self.settle(int(i), "", "range")
                    return
                done = [0]
                async with src.session():
                    async def one(i: int) -> None:
                        self.settle(i, await src.resolve(self.e164[i]), src.label)
                        done[0] += 1
                        if progress:
                            progress(src.label, done[0], len(pending))

                    # enough look-ups in flight to keep a 30/s quota busy at 2 s latency
                    # in a random order, as capability asks (``ask_order``): the first
                    # answers judged by the early guards are a sample, not one block
                    await run_all(ask_order(pending), one, 64)
            finally:
                for queue in self.queues.values():  # the checks end when the stream does
                    await queue.put(None)

        def sink_target(i: int, code: int) -> None:
            self.d.rcs[i] = code

        def sink_other(i: int, code: int) -> None:
            self.other_rcs[i] = code

        stages = [operators()]
        if self.provider is not None:
            stages.append(_check(self.provider, self.queues["capability"], sink_target,
                                 "capability", progress))
        if self.other is not None:
            stages.append(_check(self.other, self.queues["other"], sink_other,
                                 f"{self.other.name} (other operators)", progress))
        await gather_or_cancel(stages)


async def _check(provider: CapabilityProvider, queue: asyncio.Queue[tuple[int, str] | None],
                 sink: Callable[[int, int], None], stage: str,
                 progress: Progress | None) -> None:
    def tick(done: int) -> None:
        if progress:
            progress(stage, done, None)

    async with provider.session():
        await provider.consume(queue, sink, Tally(0, tick))
