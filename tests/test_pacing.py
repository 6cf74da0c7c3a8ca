"""The pacer on a simulated clock: every property asserted on the client's own send
times, with late wake-ups injected, so nothing depends on the machine's speed or load.
Plus the schedule shared by two processes through the quota file (real processes)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rcsqualify.remote.pacing import FileSchedule, MemorySchedule, Pacer, Schedule


class SimClock:
    """A discrete-event clock for asyncio code: ``sleep`` parks the caller until the
    simulated time reaches its wake-up, plus a seeded "late wake-up" of up to ``late``
    seconds (what a loaded event loop does)."""

    def __init__(self, late: float = 0.0, seed: int = 0) -> None:
        self.now = 0.0
        self.late = late
        self.rng = np.random.default_rng(seed)
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = self.now + max(0.0, seconds) + float(self.rng.uniform(0, self.late))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (wake, next(self._seq), fut))
        await fut

    def run(self, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        async def driver() -> Any:
            task = asyncio.ensure_future(main())
            while not task.done():
                for _ in range(20):  # let every runnable coroutine reach its next sleep
                    await asyncio.sleep(0)
                if self._heap and not task.done():
                    wake, _, fut = heapq.heappop(self._heap)
                    self.now = max(self.now, wake)
                    fut.set_result(None)
            return task.result()

        return asyncio.run(driver())


def run_callers(sim: SimClock, pacers: list[Pacer], n: int,
                pause_at: int | None = None, pause: float = 0.0) -> None:
    async def caller(i: int) -> None:
        pacer = pacers[i % len(pacers)]
        await pacer.reserve()
        await sim.sleep(0.004)  # taking a connection: an await between slot and write
        await pacer.confirm()
        pacer.written()  # the headers left at once
        if i == pause_at:
            pacer.pause(pause)

    async def main() -> None:
        await asyncio.gather(*(caller(i) for i in range(n)))

    sim.run(main)


def all_sends(pacers: list[Pacer]) -> np.ndarray:
    return np.sort(np.concatenate([np.array(p.sent_at) for p in pacers]))


def test_spacing_holds_at_the_write_with_late_wakeups() -> None:
    sim = SimClock(late=0.005, seed=1)  # every wake-up up to 5 ms late: a busy loop
    pacer = Pacer(30, rate_margin=0.03, clock=sim.clock, sleep=sim.sleep)
    run_callers(sim, [pacer], 600)
    sent = all_sends([pacer])
    assert len(sent) == 600
    assert np.diff(sent).min() >= 1 / 30 - 1e-9  # never two writes closer than 1/rate
    achieved = (len(sent) - 1) / (sent[-1] - sent[0])
    assert achieved >= 0.95 * 30  # late wake-ups are made up, not lost


def test_without_late_wakeups_the_rate_is_the_margin_below_the_quota() -> None:
    sim = SimClock()
    pacer = Pacer(30, rate_margin=0.03, clock=sim.clock, sleep=sim.sleep)
    run_callers(sim, [pacer], 300)
    sent = all_sends([pacer])
    achieved = (len(sent) - 1) / (sent[-1] - sent[0])
    assert abs(achieved - 30 * 0.97) < 0.01


def test_nothing_leaves_during_a_pause() -> None:
    sim = SimClock(late=0.005, seed=2)
    pacer = Pacer(50, clock=sim.clock, sleep=sim.sleep)
    run_callers(sim, [pacer], 200, pause_at=40, pause=60.0)
    sent = all_sends([pacer])
    gaps = np.diff(sent)
    assert len(sent) == 200 and gaps.min() >= 1 / 50 - 1e-9
    big = np.flatnonzero(gaps > 1.0)
    assert len(big) == 1 and gaps[big[0]] >= 60.0 - 0.2  # one pause, its full length


def test_two_processes_share_one_schedule(tmp_path: Path) -> None:
    """Two pacers on one quota file (as two processes would be) never write closer than
    1/rate together, and together reach the quota, not twice it."""
    sim = SimClock(late=0.01, seed=3)
    path = tmp_path / "q"
    schedules: list[Schedule] = [FileSchedule(path, clock=sim.clock),
                                 FileSchedule(path, clock=sim.clock)]
    pacers = [Pacer(30, rate_margin=0.03, schedule=s, clock=sim.clock, sleep=sim.sleep)
              for s in schedules]
    run_callers(sim, pacers, 400)
    sent = all_sends(pacers)
    assert len(sent) == 400
    assert np.diff(sent).min() >= 1 / 30 - 1e-9
    achieved = (len(sent) - 1) / (sent[-1] - sent[0])
    assert 0.95 * 30 <= achieved <= 30


def test_separate_schedules_would_double_the_rate() -> None:
    """The control: without a shared schedule two runs send at twice the quota."""
    sim = SimClock()
    pacers = [Pacer(30, schedule=MemorySchedule(), clock=sim.clock, sleep=sim.sleep)
              for _ in range(2)]
    run_callers(sim, pacers, 400)
    sent = all_sends(pacers)
    assert (len(sent) - 1) / (sent[-1] - sent[0]) > 55


class ConfirmAtInterval(MemorySchedule):
    """What several hosts on one Redis did before claims: a waiter asks again after its
    wait, and the write is confirmed one reservation interval after the last send."""

    def claim(self, now: float, interval: float, min_gap: float) -> float:
        wait = self.confirm(now, interval)
        return -wait if wait > 0 else 0.0


def hosts_on_one_schedule(schedule: Schedule, n_hosts: int, seed: int) -> np.ndarray:
    """``n_hosts`` pacers (as on separate hosts) sharing ``schedule``, every wake-up up
    to 5 ms late: every host's send times, merged."""
    sim = SimClock(late=0.005, seed=seed)
    pacers = [Pacer(30, rate_margin=0.03, schedule=schedule, clock=sim.clock, sleep=sim.sleep)
              for _ in range(n_hosts)]
    run_callers(sim, pacers, 600)
    return all_sends(pacers)


def test_hosts_sharing_one_claiming_schedule_reach_the_quota_less_the_margin() -> None:
    """Issue #15: 2 and 4 hosts on one schedule (Redis's steps, in memory). Confirming
    at the interval, each wait added its late wake-up to every later send (the combined
    rate fell to 93 % on the bench, 95 % here without round trips); a claim gives the
    waiter its own time one interval after the previous claim, and the 1/rate rule
    still holds at every write."""
    for n_hosts in (2, 4):
        sent = hosts_on_one_schedule(MemorySchedule(), n_hosts, seed=n_hosts)
        assert len(sent) == 600
        assert np.diff(sent).min() >= 1 / 30 - 1e-9
        achieved = (len(sent) - 1) / (sent[-1] - sent[0])
        assert 0.96 * 30 <= achieved <= 0.97 * 30 + 1e-6, achieved
        # the control: the same hosts, wake-ups and seed, confirming at the interval
        before = hosts_on_one_schedule(ConfirmAtInterval(), n_hosts, seed=n_hosts)
        assert (len(before) - 1) / (before[-1] - before[0]) < achieved - 0.01 * 30


def test_a_claimed_send_waits_out_a_pause_that_started_meanwhile() -> None:
    sched = MemorySchedule()
    assert sched.claim(0.0, 0.1, 0.09) == 0.0  # nobody before: recorded now
    assert sched.claim(0.0, 0.1, 0.09) == 0.1  # claimed 0.1 s ahead
    sched.pause(5.0)
    assert sched.sent(0.1, 0.09) == 4.9  # the pause holds it
    assert sched.claim(0.2, 0.1, 0.09) == -4.8  # nothing claimed during a pause
    assert sched.sent(5.0, 0.09) == 0.0 and sched.last == 5.0


def test_a_pause_seen_by_one_process_pauses_the_other(tmp_path: Path) -> None:
    sim = SimClock()
    a, b = (Pacer(20, schedule=FileSchedule(tmp_path / "q", clock=sim.clock),
                  clock=sim.clock, sleep=sim.sleep) for _ in range(2))
    assert a.pause(30.0) and not b.pause(10.0)  # b's shorter pause changes nothing
    assert b.paused_for == 30.0


def test_a_schedule_from_the_far_future_is_stale(tmp_path: Path) -> None:
    now = [1_000_000.0]
    sched = FileSchedule(tmp_path / "q", clock=lambda: now[0])
    sched.reserve(now[0] + 10 * 86_400, 0.1)  # a clock that was ahead, or a reboot
    now[0] += 1
    assert sched.reserve(now[0], 0.1) == now[0]


def test_real_processes_share_the_quota_file(tmp_path: Path) -> None:
    """Two OS processes reserve and confirm on one file at the same time: their writes,
    merged, keep 1/rate (the file lock makes each update atomic)."""
    script = textwrap.dedent("""
        import asyncio, sys
        from pathlib import Path
        from rcsqualify.remote.pacing import FileSchedule, Pacer
        pacer = Pacer(200, schedule=FileSchedule(Path(sys.argv[1])))
        async def main():
            for _ in range(100):
                await pacer.slot()
        asyncio.run(main())
        print(" ".join(repr(t) for t in pacer.sent_at))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "q")],
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
             for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    sent = np.sort(np.array([float(x) for out in outs for x in out.split()]))
    assert len(sent) == 200
    assert np.diff(sent).min() >= 1 / 200 - 1e-6


# -- issue #23: stalled pauses (item 19) and a clock that does not step (R2) -------------

def test_a_pause_longer_than_rcsqualify_ever_sets_is_damage_told_and_ignored(
        tmp_path: Path) -> None:
    """A pause 30 h ahead in the quota file (another tool, a bug): before, every run
    waited it out silently (anything under 48 h was believed)."""
    sim = SimClock()
    sched = FileSchedule(tmp_path / "q", clock=sim.clock)
    sched.pause(30 * 3600.0)
    told: list[str] = []
    pacer = Pacer(30, schedule=sched, clock=sim.clock, sleep=sim.sleep, name="bothub",
                  notify=told.append)
    run_callers(sim, [pacer], 10)
    assert all_sends([pacer])[-1] < 1.0  # sent at once, at the rate
    assert len(told) == 1 and "longer than rcsqualify ever sets" in told[0]
    assert told[0].startswith("bothub: ") and "ignored" in told[0]


def test_a_pause_another_run_set_is_told_and_capped_at_max_pause() -> None:
    """Run A pauses the service 2 h (its --max-pause allows it); run B, with
    --max-pause 900, says so and sends after 900 s, not 7,200 s; A says nothing of its
    own pause (the HTTP layer announces that one)."""
    sim = SimClock()
    shared = MemorySchedule()
    told: dict[str, list[str]] = {"a": [], "b": []}
    a = Pacer(30, schedule=shared, clock=sim.clock, sleep=sim.sleep, notify=told["a"].append)
    assert a.pause(7200.0)
    b = Pacer(30, schedule=_SharedView(shared), clock=sim.clock, sleep=sim.sleep,
              max_pause=900.0, notify=told["b"].append)
    run_callers(sim, [b], 3)
    sent = all_sends([b])
    assert 900.0 <= sent[0] < 901.0 and np.diff(sent).min() >= 1 / 30 - 1e-9
    assert len(told["b"]) == 1 and "7200 s more by another run" in told["b"][0]
    assert "900 s at most (--max-pause)" in told["b"][0]
    assert a.paused_for == 7200.0 - sim.now and told["a"] == []  # A keeps its own pause
    # a pause within B's bound is told, not capped
    other = MemorySchedule()
    Pacer(30, schedule=other, clock=sim.clock).pause(60.0)
    c = Pacer(30, schedule=_SharedView(other), clock=sim.clock, max_pause=900.0,
              notify=told["b"].append)
    assert c.paused_for == 60.0 and told["b"][-1].endswith("60 s more by another run of "
                                                          "rcsqualify (after a 429 it got)")


class _SharedView:
    """Another process's handle on one schedule: the same state, its own ``pause_cap``
    (which is per run, like a FileSchedule or RedisSchedule object)."""

    def __init__(self, inner: MemorySchedule) -> None:
        self.inner = inner
        self.pause_cap = float("inf")

    def _with_cap(self, op: Callable[..., float], *args: float) -> float:
        saved, self.inner.pause_cap = self.inner.pause_cap, self.pause_cap
        try:
            return op(*args)
        finally:
            self.inner.pause_cap = saved

    def reserve(self, now: float, interval: float) -> float:
        return self._with_cap(self.inner.reserve, now, interval)

    def confirm(self, now: float, min_gap: float) -> float:
        return self._with_cap(self.inner.confirm, now, min_gap)

    def claim(self, now: float, interval: float, min_gap: float) -> float:
        return self._with_cap(self.inner.claim, now, interval, min_gap)

    def sent(self, now: float, min_gap: float) -> float:
        return self._with_cap(self.inner.sent, now, min_gap)

    def written(self, now: float) -> None:
        self.inner.written(now)

    def pause(self, until: float) -> bool:
        return self.inner.pause(until)

    def paused_until(self) -> float:
        return self.inner.paused_until()


def test_the_quota_file_ignores_a_wall_clock_step(tmp_path: Path,
                                                  monkeypatch: Any) -> None:
    """The wall clock steps back an hour after a send: on the wall clock the next slot
    was an hour away (no request for an hour); the machine clock does not step."""
    import time

    from rcsqualify.remote.pacing import machine_clock

    sched = FileSchedule(tmp_path / "q")
    pacer = Pacer(10, schedule=sched)
    asyncio.run(pacer.slot())
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600.0)
    now = machine_clock()
    assert pacer.paused_for == 0.0
    assert sched.reserve(now, 0.1) - now <= 0.1 + 1e-6  # the next slot, not an hour away
    assert sched.confirm(machine_clock(), 0.0) == 0.0


def test_a_quota_file_from_before_a_reboot_or_on_the_wall_clock_is_forgotten(
        tmp_path: Path) -> None:
    """The machine clock restarts at a reboot: times written in the previous boot (10 h
    of uptime) would block the next boot's runs for 10 h; the file names its boot."""
    import struct
    import time

    path = tmp_path / "q"
    before = FileSchedule(path, clock=lambda: 36_000.0, boot=b"a" * 16)
    before.pause(36_600.0)
    before.reserve(36_000.0, 1000.0)
    after = FileSchedule(path, clock=lambda: 100.0, boot=b"b" * 16)
    assert after.paused_until() == 0.0 and after.reserve(100.0, 0.1) == 100.0
    again = FileSchedule(path, clock=lambda: 100.05, boot=b"b" * 16)
    assert again.reserve(100.05, 0.1) == pytest.approx(100.1)  # same boot: shared
    # the layout of earlier versions (24 bytes of wall-clock times) is forgotten too
    path.write_bytes(struct.pack("<3d", time.time() + 3600, time.time(), time.time() + 3600))
    old = FileSchedule(path, clock=lambda: 5.0, boot=b"b" * 16)
    assert old.paused_until() == 0.0 and old.reserve(5.0, 0.1) == 5.0


# -- issue #23 R1: the spacing counts from the actual write ------------------------------

def test_a_late_write_delays_what_follows_instead_of_squeezing_it(tmp_path: Path) -> None:
    """Two processes on one quota file; after its grant, a write is held up 44 ms now
    and then (a process descheduled on a loaded machine, measured at load 5-7). Before,
    the other process, granted 1/rate after that *grant*, wrote 0.7 ms behind the late
    write (a 429 at a strict gateway); now no grant is given while a write is pending,
    and the next send counts from when the late one was written."""
    sim = SimClock(late=0.002, seed=7)
    pacers = [Pacer(30, rate_margin=0.03, schedule=FileSchedule(tmp_path / "q", clock=sim.clock),
                    clock=sim.clock, sleep=sim.sleep) for _ in range(2)]
    writes: list[float] = []

    async def caller(i: int) -> None:
        pacer = pacers[i % 2]
        await pacer.reserve()
        await pacer.confirm()
        if i % 7 == 3:
            await sim.sleep(0.044)  # descheduled between the grant and the write
        writes.append(sim.now)
        pacer.written()

    async def main() -> None:
        await asyncio.gather(*(caller(i) for i in range(300)))

    sim.run(main)
    gaps = np.diff(np.sort(np.array(writes)))
    assert len(writes) == 300 and gaps.min() >= 1 / 30 - 1e-9, gaps.min()
    # the grants alone (what was checked before) would have allowed squeezed writes
    granted = np.sort(np.concatenate([np.array(p.sent_at) for p in pacers]))
    assert np.diff(granted).min() >= 1 / 30 - 1e-9
    achieved = (len(writes) - 1) / (max(writes) - min(writes))
    assert achieved >= 0.8 * 30  # delayed, not stalled


def test_a_grant_never_written_holds_the_others_a_bounded_time() -> None:
    from rcsqualify.remote.pacing import WRITE_BOUND

    sched = MemorySchedule()
    assert sched.confirm(10.0, 0.1) == 0.0  # granted, then its process died
    assert 0 < sched.confirm(10.5, 0.1) <= 0.002  # the others poll…
    assert sched.confirm(10.0 + WRITE_BOUND, 0.1) == 0.0  # …until the bound
    sched.written(11.2)
    assert sched.confirm(11.25, 0.1) == pytest.approx(0.05)  # from the write
