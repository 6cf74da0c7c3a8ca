"""The worker pool: run many requests with a bound on how many are in flight, and let
the first configuration error cancel the rest (no task outlives the call)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any


async def run_all(items: list[Any], worker: Callable[[Any], Awaitable[None]],
                  concurrency: int) -> None:
    """Run ``worker`` over ``items`` with at most ``concurrency`` in flight.

    Pacing happens inside the HTTP layer, so this only needs enough workers to keep
    the quota busy while answers are on their way (rate × latency). The first
    exception (a configuration error) cancels the rest.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def loop() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await worker(item)

    await gather_or_cancel([loop() for _ in range(max(1, min(concurrency, len(items))))])


async def gather_or_cancel(coroutines: list[Coroutine[Any, Any, None]]) -> None:
    """Run together; the first exception (a configuration error) cancels the others,
    and none outlives the call."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
