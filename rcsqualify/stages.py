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
from typing import TYPE_CHECKING

import numpy as np

from rcsqualify.capability.interface import CapabilityProvider, Tally
from rcsqualify.numbering.normalize import format_e164
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.remote.http import run_all
from rcsqualify.verdict import KIND, RCS_UNKNOWN, SOURCE

if TYPE_CHECKING:
    from rcsqualify.pipeline import Distinct

Progress = Callable[[str, int, int | None], None]


def can_stream(sources: Sequence[OperatorSource], provider: CapabilityProvider | None,
               sample: int | None) -> bool:
    """A stream pays off when a per-number source and a provider both ask a service
    (a sample must know every target number before it draws, so it cannot stream)."""
    return provider is not None and sample is None and any(s.streams for s in sources)


def attribute_and_check(distinct: Distinct, sources: Sequence[OperatorSource],
                        provider: CapabilityProvider, target: str,
                        progress: Progress | None = None) -> np.ndarray:
    """Fill ``distinct.operator``/``source``/``rcs``; return the indices that went to
    the capability provider (target-operator mobiles)."""
    mobile = distinct.kind == KIND["mobile"]
    pending = mobile.copy()
    streaming = [s for s in sources if s.streams]
    for src in sources:
        if src.streams or not pending.any():
            continue
        idx = np.flatnonzero(pending)
        answers = src.lookup(distinct.key[idx])
        hit = answers != ""
        distinct.operator[idx[hit]] = answers[hit]
        distinct.source[idx[hit]] = SOURCE[src.label]
        pending[idx[hit]] = False
    e164 = np.array(format_e164(distinct.key).to_pylist(), dtype=object)
    asked: list[int] = []
    asyncio.run(_stream(distinct, e164, np.flatnonzero(mobile & ~pending),
                        np.flatnonzero(pending), streaming, provider, target, asked,
                        progress))
    return np.array(sorted(asked), dtype=np.int64)


async def _stream(distinct: Distinct, e164: np.ndarray, settled: np.ndarray,
                  pending: np.ndarray, streaming: list[OperatorSource],
                  provider: CapabilityProvider, target: str, asked: list[int],
                  progress: Progress | None) -> None:
    queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()

    def send(i: int) -> None:
        asked.append(i)
        queue.put_nowait((i, str(e164[i])))

    for i in settled:
        if distinct.operator[i] == target:
            send(int(i))
    distinct.rcs[:] = RCS_UNKNOWN

    def sink(i: int, code: int) -> None:
        distinct.rcs[i] = code

    mnp_done = [0]

    def settle(i: int, code: str, src: OperatorSource) -> None:
        if code == "":  # unknown to the service: the range holder answers
            distinct.operator[i] = distinct.range_operator[i]
            distinct.source[i] = SOURCE["range"]
        else:
            distinct.operator[i] = code
            distinct.source[i] = SOURCE[src.label]
        if distinct.operator[i] == target:
            send(i)
        mnp_done[0] += 1
        if progress:
            progress(src.label, mnp_done[0], len(pending))

    src = streaming[0]  # one per-number source: the MNP look-up (``can_stream``)

    async def operators() -> None:
        try:
            async with src.session():
                async def one(i: int) -> None:
                    settle(i, await src.resolve(str(e164[i])), src)

                # enough look-ups in flight to keep a 30/s quota busy at 2 s latency
                await run_all([int(i) for i in pending], one, 64)
        finally:
            await queue.put(None)  # the capability stage ends when the stream does

    def tick(done: int) -> None:
        if progress:
            progress("capability", done, None)

    async def capability() -> None:
        tally = Tally(0, tick)
        if provider.http is None:
            await provider.consume(queue, sink, tally)
            return
        try:
            async with provider.http.session():
                await provider.consume(queue, sink, tally)
        finally:
            provider.notes.extend(provider.http.notes)

    tasks = [asyncio.create_task(operators()), asyncio.create_task(capability())]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
