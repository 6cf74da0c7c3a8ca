"""Pacing of every request to one service, shared by every process that uses it.

CONTRACT §5 and §10: two requests to one service leave at least 1/rate apart *at the
moment they are written to the network*, a 429 pauses every request of the service,
and concurrent runs of rcsqualify for one aggregator share one quota.

A send happens in two steps, so that nothing that can wait sits between the slot and
the write:

1. ``reserve()`` (before the connection is taken): a place on the schedule, due
   1/(rate × (1 − margin)) after the previous one, whatever the latency of the
   answers; the caller sleeps until it is due. This keeps throughput at the quota.
2. ``confirm()`` (called by the HTTP layer right before the request line is written,
   after the token was fetched and the connection opened): the send is allowed only
   if the last send of *any* process left at least 1/rate ago and no pause is on;
   otherwise the caller waits the difference and asks again. This is what makes the
   spacing hold at the write, even when an event loop woke a waiter late or a new TLS
   connection took longer than one interval. A schedule that *claims* (Redis, and the
   in-memory one) first gives a caller that must wait a send time of its own, one
   reservation interval after the previous claim, so that waiting does not add the
   waiter's late wake-up and round trips to every later send (which cost several
   hosts on one Redis 4 % of the quota); right before the write, the 1/rate rule is
   checked again (``sent``).

3. ``written()`` (called when the request headers have left, httpcore's
   ``send_request_headers.complete``): the send's time becomes the moment it was
   actually written, and until then no other send is granted (issue #23 R1: on a
   loaded machine a process was descheduled up to 44 ms between its grant and its
   write; another process, granted 1/rate after the first *grant*, wrote 0.7 ms
   behind the late write, and got a 429). A late write now delays what follows. A
   grant never written (a crash) holds the others ``WRITE_BOUND`` at most.

The state (next reservation, last send, pause end) lives in a ``Schedule``: in memory
for one process, or in a small file under a fixed per-user directory, locked with
``flock`` for the few microseconds of each update, so that a second run on the same
machine joins the schedule instead of doubling the rate. Across machines it lives in
Redis (``RedisSchedule``, ``--quota-store redis://…``): one Lua script does each step
atomically on the server's clock (``TIME``), so hosts whose clocks disagree still
share one schedule; a Redis that goes away mid-run leaves the run on the local
schedule at the same rate.

Times are on ``machine_clock()``, a clock every process of the machine shares and
that never steps (issue #23 R2: on the wall clock, a step back of an hour stopped every
request for an hour, and a run made with the clock ahead blocked later runs); the file
records the boot it was written in, since that clock restarts at a reboot. A value
further ahead than anything rcsqualify sets (``STALE_AHEAD``) is stale: a pause that
long is damage (another tool, a bug), told once and ignored; a pause another run set
that is longer than this run's ``--max-pause`` is announced and waited at most that
long (issue #23 item 19).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import os
import struct
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from rcsqualify.remote.policy import paced_rate

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

#: the longest pause any rcsqualify sets (--throttle-pause and --max-pause ≤ 1 day)
MAX_PAUSE_EVER = 86_400.0
#: a stored "next slot" or "pause end" further than this ahead of now is stale: no
#: rcsqualify could have set it (a pause that long is damage, warned about and ignored)
STALE_AHEAD = MAX_PAUSE_EVER + 60.0
#: two pause ends read this close are one pause (Redis answers relative to its clock)
SAME_PAUSE = 1.0
#: a granted send not reported written after this long no longer holds the others
WRITE_BOUND = 1.0
#: how often a send waiting for another one's write asks again (seconds, at most)
WRITE_POLL = 0.002
#: "no send being written"
NONE = -1e18


def write_wait(writing: float, now: float, min_gap: float) -> float:
    """How long to wait for a send granted at ``writing`` and not yet written (0.0:
    none, or its bound passed)."""
    if now - writing < WRITE_BOUND:
        return min(WRITE_POLL, max(min_gap, 1e-4))
    return 0.0


def machine_clock() -> float:
    """Seconds on a clock that every process of this machine shares and that never
    steps: ``CLOCK_BOOTTIME`` on Linux (it counts a suspend too), else
    ``time.monotonic`` (system-wide on macOS and Windows). It restarts at a reboot:
    what is stored on it is kept with ``boot_id()``."""
    if _BOOTTIME is None:  # pragma: no cover - not Linux
        return time.monotonic()
    return time.clock_gettime(_BOOTTIME)


_BOOTTIME: int | None = getattr(time, "CLOCK_BOOTTIME", None)


def boot_id() -> bytes:
    """16 bytes naming this boot of the machine: a ``machine_clock`` time written before
    a reboot means nothing after it. Linux names each boot; elsewhere the wall-clock
    time of the boot to ten minutes stands in (a wall-clock step then forgets the
    schedule once: at worst one request follows the previous one early)."""
    try:
        text = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii")
        return uuid.UUID(text.strip()).bytes
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return struct.pack("<q8x", int((time.time() - machine_clock()) // 600))


class Schedule(Protocol):
    """The shared state of one service's pacing; every method is atomic.

    ``pause_cap`` (the caller's clock; infinite by default): ``reserve``, ``confirm``,
    ``claim`` and ``sent`` treat a pause as ending then at the latest (a pause another
    run set beyond this run's ``--max-pause``); ``pause`` and ``paused_until`` see the
    stored pause.
    """

    pause_cap: float

    def reserve(self, now: float, interval: float) -> float:
        """Reserve the next slot at or after ``now`` (and after any pause); its time."""

    def confirm(self, now: float, min_gap: float) -> float:
        """0.0 and record a send at ``now`` if allowed; else the seconds to wait."""

    def claim(self, now: float, interval: float, min_gap: float) -> float:
        """0.0: a send at ``now`` is recorded. > 0: a send time is claimed that many
        seconds ahead (``interval`` after the previous claim); sleep, then ``sent``.
        < 0: nothing recorded; wait minus that and ask again."""

    def sent(self, now: float, min_gap: float) -> float:
        """After a claimed wait: ``confirm`` (the 1/rate rule at the write)."""

    def written(self, now: float) -> None:
        """The send granted last was written at ``now``: its time, and the others go."""

    def pause(self, until: float) -> bool:
        """Pause sends until ``until``; True if this call started or lengthened it."""

    def paused_until(self) -> float:
        """When the current pause ends (0.0 when none)."""


class MemorySchedule:
    """One process's schedule (tests, and platforms without ``fcntl``)."""

    def __init__(self) -> None:
        self.next = 0.0
        self.last = -1e18
        self.paused = 0.0
        self.claimed = -1e18
        self.writing = NONE
        self.pause_cap = math.inf

    def reserve(self, now: float, interval: float) -> float:
        due = max(self.next, now, min(self.paused, self.pause_cap))
        self.next = due + interval
        return due

    def confirm(self, now: float, min_gap: float) -> float:
        wait = max(self.last + min_gap - now, min(self.paused, self.pause_cap) - now,
                   write_wait(self.writing, now, min_gap))
        if wait > 0:
            return wait
        self.last = self.writing = now
        return 0.0

    def written(self, now: float) -> None:
        self.last = max(self.last, now)
        self.writing = NONE

    def claim(self, now: float, interval: float, min_gap: float) -> float:
        # the same steps as the Redis script's 'claim'
        paused = min(self.paused, self.pause_cap)
        if paused > now:
            return now - paused
        at = max(self.claimed + interval, now)
        if at > now:
            self.claimed = at
            return at - now
        wait = max(self.last + min_gap - now, write_wait(self.writing, now, min_gap))
        if wait > 0:
            return -wait
        self.claimed = self.last = self.writing = now
        return 0.0

    def sent(self, now: float, min_gap: float) -> float:
        return self.confirm(now, min_gap)

    def pause(self, until: float) -> bool:
        # the next slot is not moved: every reservation takes the pause into account,
        # so a pause capped by --max-pause (or ignored as damage) leaves no trace
        if until > self.paused + 0.001:
            self.paused = until
            return True
        return False

    def paused_until(self) -> float:
        return self.paused


#: next slot, last send, pause end, send being written (machine_clock), and the boot
#: they were written in
_RECORD = struct.Struct("<4d16s")


class FileSchedule:
    """A schedule shared by the processes of one user through a locked 24-byte file."""

    def __init__(self, path: Path, clock: Clock = machine_clock,
                 boot: bytes | None = None) -> None:
        import fcntl  # POSIX; callers fall back to MemorySchedule without it

        self._fcntl = fcntl
        self.path = path
        self._clock = clock
        self._boot = boot if boot is not None else boot_id()
        self.pause_cap = math.inf
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    @contextlib.contextmanager
    def _locked(self, stale: bool = True) -> Iterator[list[float]]:
        """The record, locked; with ``stale``, values no rcsqualify could have set read
        as none. A record of another boot (or of the wall-clock layout, 24 bytes) is
        none: its times are on another clock."""
        self._fcntl.flock(self._fd, self._fcntl.LOCK_EX)
        try:
            raw = os.pread(self._fd, _RECORD.size, 0)
            values = [0.0, -1e18, 0.0, NONE]
            if len(raw) == _RECORD.size:
                *stored, boot = _RECORD.unpack(raw)
                if boot == self._boot:
                    values = [float(x) for x in stored]
            now = self._clock()
            if stale:
                if values[0] > now + STALE_AHEAD:
                    values[0] = 0.0
                if values[2] > now + STALE_AHEAD:
                    values[2] = 0.0
                if values[1] > now + STALE_AHEAD:
                    values[1] = -1e18
                if values[3] > now + STALE_AHEAD:
                    values[3] = NONE
            before = list(values)
            yield values
            if values != before:
                os.pwrite(self._fd, _RECORD.pack(*values, self._boot), 0)
        finally:
            self._fcntl.flock(self._fd, self._fcntl.LOCK_UN)

    def reserve(self, now: float, interval: float) -> float:
        with self._locked() as v:
            due = max(v[0], now, min(v[2], self.pause_cap))
            v[0] = due + interval
            return due

    def confirm(self, now: float, min_gap: float) -> float:
        with self._locked() as v:
            wait = max(v[1] + min_gap - now, min(v[2], self.pause_cap) - now,
                       write_wait(v[3], now, min_gap))
            if wait > 0:
                return wait
            v[1] = v[3] = now
            return 0.0

    def written(self, now: float) -> None:
        with self._locked() as v:
            v[1] = max(v[1], now)
            v[3] = NONE

    def claim(self, now: float, interval: float, min_gap: float) -> float:
        """Confirms at 1/rate, claiming nothing: processes on one machine wake with
        the same jitter, and the reservation margin absorbs the late ones (97 %)."""
        wait = self.confirm(now, min_gap)
        return -wait if wait > 0 else 0.0

    def sent(self, now: float, min_gap: float) -> float:
        return self.confirm(now, min_gap)

    def pause(self, until: float) -> bool:
        with self._locked() as v:
            if until > v[2] + 0.001:
                v[2] = until
                return True
            return False

    def paused_until(self) -> float:
        with self._locked(stale=False) as v:  # as stored: the Pacer tells damage
            return v[2]


#: one step of a Redis schedule, atomically, on the server's clock. Times are kept in
#: server seconds; what goes back is relative (seconds from the server's now), so the
#: client never compares its clock with the server's.
_REDIS_STEP = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'next', 'last', 'paused', 'claimed', 'writing')
local nxt = tonumber(v[1]) or 0
local last = tonumber(v[2]) or -1e18
local paused = tonumber(v[3]) or 0
local claimed = tonumber(v[4]) or -1e18
local writing = tonumber(v[5]) or -1e18
local ahead = tonumber(ARGV[3])
local stored = paused
if nxt > now + ahead then nxt = 0 end
if paused > now + ahead then paused = 0 end
if last > now + ahead then last = -1e18 end
if claimed > now + ahead then claimed = -1e18 end
if writing > now + ahead then writing = -1e18 end
-- a send granted and not yet written holds the others (WRITE_BOUND, WRITE_POLL)
local inflight = 0
if now - writing < tonumber(ARGV[6]) then inflight = tonumber(ARGV[7]) end
local held = math.min(paused, now + tonumber(ARGV[5]))
local op = ARGV[1]
local x = tonumber(ARGV[2])
local out = 0
if op == 'reserve' then
  local due = math.max(nxt, now, held)
  redis.call('HSET', KEYS[1], 'next', string.format('%.6f', due + x))
  out = due - now
elseif op == 'confirm' then
  out = math.max(last + x - now, held - now, inflight)
  if out <= 0 then
    redis.call('HSET', KEYS[1], 'last', string.format('%.6f', now),
               'writing', string.format('%.6f', now))
    out = 0
  end
elseif op == 'written' then
  redis.call('HSET', KEYS[1], 'last', string.format('%.6f', math.max(last, now - x)),
             'writing', '-1e18')
elseif op == 'claim' then
  local hard = tonumber(ARGV[4])
  if held > now then
    out = now - held
  else
    local at = math.max(claimed + x, now)
    if at > now then
      redis.call('HSET', KEYS[1], 'claimed', string.format('%.6f', at))
      out = at - now
    elseif last + hard > now or inflight > 0 then
      out = -math.max(last + hard - now, inflight)
    else
      redis.call('HSET', KEYS[1], 'claimed', string.format('%.6f', now),
                 'last', string.format('%.6f', now), 'writing', string.format('%.6f', now))
      out = 0
    end
  end
elseif op == 'pause' then
  local till = now + x
  if till > paused + 0.001 then
    redis.call('HSET', KEYS[1], 'paused', string.format('%.6f', till))
    out = 1
  end
else
  out = stored - now
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return string.format('%.6f', out)
"""


class RedisSchedule:
    """One service's schedule in Redis, shared by every host (issue #15), layered on the
    machine's local schedule of the same service (``local``).

    The Pacer passes ``now`` from its own clock; Redis ignores it for the shared state
    (the server's ``TIME`` orders every host's steps) and answers in the caller's
    frame: a reservation due ``d`` seconds after the server's now is returned as
    ``now + d``. A pause is sent as a length (``until`` minus this clock) and read back
    as one. A send that must wait is given its own time one reservation interval
    (``1/(rate × (1 − margin))``) after the previous one, whichever host it is on
    (``claim``); ``sent`` checks 1/rate at the write.

    Every step also goes through ``local`` (issue #23 R6): runs on one machine share
    the local schedule whatever store they use, so a run on Redis and a run on this
    machine's file, for one service, keep 1/rate between them and see each other's
    pauses (before, they paced apart: 39 × 429 in 1,176 requests). Redis adds the other
    hosts. On a Redis error the schedule goes on with ``local`` alone, for the rest of
    the run (which already holds this host's sends), and ``on_failure`` is told once:
    the quota is no longer shared across hosts.
    """

    def __init__(self, client: Any, key: str, local: Schedule, *,
                 clock: Clock = machine_clock,
                 on_failure: Callable[[BaseException], None] | None = None) -> None:
        import redis

        self._errors = (redis.exceptions.RedisError, OSError)
        self._step = client.register_script(_REDIS_STEP)
        self.key = key
        self.local = local
        self._clock = clock
        self._on_failure = on_failure
        #: why the schedule left Redis (None while it is on Redis)
        self.failed: str | None = None
        self._gap = 0.0
        self.pause_cap = math.inf

    @property
    def pause_cap(self) -> float:
        return self._pause_cap

    @pause_cap.setter
    def pause_cap(self, value: float) -> None:
        self._pause_cap = value
        self.local.pause_cap = value

    def _call(self, op: str, value: float, hard: float = 0.0) -> float | None:
        if self.failed is not None:
            return None
        try:
            # the cap goes relative, like every time sent: no two clocks are compared
            cap = min(self._pause_cap - self._clock(), STALE_AHEAD)
            out = float(self._step(keys=[self.key], args=[
                op, f"{value:.6f}", int(STALE_AHEAD), f"{hard:.6f}", f"{cap:.6f}",
                f"{WRITE_BOUND:.6f}", f"{WRITE_POLL:.6f}"]))
        except self._errors as exc:
            self.failed = f"{type(exc).__name__}: {exc}"
            if self._on_failure is not None:
                self._on_failure(exc)
            return None
        return out

    def reserve(self, now: float, interval: float) -> float:
        self._gap = interval
        here = self.local.reserve(now, interval)
        ahead = self._call("reserve", interval)
        return here if ahead is None else max(here, now + ahead)

    def confirm(self, now: float, min_gap: float) -> float:
        # Across hosts the write spacing keeps the reservation's margin too: what one
        # host confirmed reaches the gateway with that host's latency, another host's
        # with its own (measured: 4 processes at 30/s confirmed 33.3 ms apart arrived
        # 30.7 ms apart, a 429 at a burst-1 gateway; at 1/(rate × 0.97) none did).
        return self._both(now, min_gap, max(min_gap, self._gap))

    def _both(self, now: float, min_gap: float, shared_gap: float) -> float:
        """The write rule on this machine, then across hosts: 0.0 when both recorded a
        send at ``now``, else the wait (a send recorded on one side only stands for one
        that was not made: it delays the next by at most 1/rate)."""
        wait = self.local.confirm(now, min_gap)
        if wait > 0:
            return wait
        shared = self._call("confirm", shared_gap)
        if shared is None or shared <= 0:
            return 0.0
        self.local.written(now)  # not sent after all: the local grant holds no one
        return shared

    def claim(self, now: float, interval: float, min_gap: float) -> float:
        # Across hosts, a send that must wait gets its own time, one reservation
        # interval after the previous claim, on the server's clock: the waits of
        # every host no longer add their late wake-ups and round trips to the
        # spacing (measured: 4 hosts confirming at the interval reached 93 % of the
        # quota, each wait adding ~1.5 ms), and the spacing of claims keeps the
        # reservation's margin for the hosts' different latencies to the gateway
        # (confirmed at only 1/rate apart, 4 processes at 30/s arrived 30.7 ms apart).
        # At the write, across hosts, half the margin is kept on top of 1/rate (the
        # hosts' latencies to the gateway differ more than one machine's processes');
        # the other half lets a late wake-up be made up. A send Redis lets go now
        # must pass this machine's schedule too (the next claim then comes after it).
        self._gap = interval
        out = self._call("claim", interval, self._hard(min_gap))
        if out is None:
            return self.local.claim(now, interval, min_gap)
        if out != 0.0:
            return out
        wait = self.local.confirm(now, min_gap)
        if wait <= 0:
            return 0.0
        self._call("written", 0.0)  # not sent after all: the Redis grant holds no one
        return -wait

    def _hard(self, min_gap: float) -> float:
        return max(min_gap, (min_gap + self._gap) / 2)

    def sent(self, now: float, min_gap: float) -> float:
        return self._both(now, min_gap, self._hard(min_gap))

    def written(self, now: float) -> None:
        self.local.written(now)
        self._call("written", max(0.0, self._clock() - now))  # how long ago, on Redis

    def pause(self, until: float) -> bool:
        here = self.local.pause(until)
        started = self._call("pause", max(0.0, until - self._clock()))
        return here if started is None else started > 0

    def paused_until(self) -> float:
        here = self.local.paused_until()
        left = self._call("paused", 0.0)
        if left is None or left <= 0:
            return here
        return max(here, self._clock() + left)


def default_quota_dir() -> Path:
    """Fixed per user: it does not follow ``--cache-dir`` or ``--no-cache``, because the
    quota belongs to the aggregator, not to one cache. ``RCSQUALIFY_QUOTA_DIR`` moves it
    (tests, or a shared directory for several users of one application)."""
    env = os.environ.get("RCSQUALIFY_QUOTA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_state_dir("rcsqualify")) / "quota"


def service_key(*identity: str) -> str:
    """A file-safe name for one service: provider + base URL + client id / agent id."""
    return hashlib.sha256("\n".join(identity).encode()).hexdigest()[:32]


def _local_schedule(*identity: str, directory: Path | None = None) -> Schedule:
    try:
        return FileSchedule((directory or default_quota_dir()) / f"{service_key(*identity)}.q")
    except ImportError:  # pragma: no cover - Windows
        return MemorySchedule()


def schedule_of(quota: QuotaStore | None, *identity: str) -> Schedule:
    """The schedule of one service, from the run's quota store (Redis when shared, this
    machine's files otherwise), or machine-wide when the caller has none (a test, or a
    provider built alone). The store is an argument, never found in the background:
    whoever builds a provider says which quota it paces against."""
    return quota.schedule(*identity) if quota is not None else _local_schedule(*identity)


class QuotaStore:
    """Where the schedules of a run come from (CONTRACT §10 "Shared quota"): the local
    per-user store, or a Redis server (``--quota-store``, default the ``--cache-url``
    when that is Redis) shared by every host and CI runner, on top of the local one.

    A Redis that fails mid-run fails the quota store alone (issue #23 R5: it used to
    degrade the cache too, which then stopped writing answers): ``lost`` says why,
    ``notify`` (set by the runner) is told once, and the run goes on with this
    machine's schedule.
    """

    def __init__(self, url: str | None = None, *, directory: Path | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.directory = directory
        self.notify = notify
        #: why the shared schedule was lost mid-run (None while it holds)
        self.lost: str | None = None
        #: said at the end of the run (an evicting Redis)
        self.warnings: list[str] = []
        self.client: Any = None
        self.schedules: list[RedisSchedule] = []
        if url:
            from rcsqualify.errors import ConfigurationError
            from rcsqualify.masking import redis_host
            from rcsqualify.remote.redis_conn import (
                redis_client,
                redis_eviction_warning,
                redis_layout,
            )
            from rcsqualify.textsafe import safe_text

            try:
                self.client = redis_client(url)
            except ConfigurationError as exc:
                # say what it was for: with --no-cache the cache's Redis still holds the
                # quota schedule, which surprises a user who turned the cache off
                raise ConfigurationError(
                    f"{exc} (for the shared quota schedule: --quota-store, or the "
                    "--cache-url when it is Redis, --no-cache included; without either, "
                    "the schedule is this machine's)") from None
            import redis

            try:
                redis_layout(self.client, redis_host(url))
            except (redis.exceptions.RedisError, OSError) as exc:
                raise ConfigurationError(f"cannot use the Redis at {redis_host(url)}: "
                                         f"{safe_text(exc, 160)}") from None
            warning = redis_eviction_warning(self.client, redis_host(url))
            if warning:
                self.warnings.append(warning)

    @property
    def shared(self) -> bool:
        return self.client is not None

    def _lose(self, exc: BaseException) -> None:
        if self.lost is None:
            from rcsqualify.textsafe import safe_text

            self.lost = safe_text(f"{type(exc).__name__}: {exc}", 160)
            if self.notify is not None:
                self.notify(self.lost_message())

    def lost_message(self) -> str:
        """What the run says when the shared schedule was lost (terminal and report)."""
        from rcsqualify.masking import redis_host
        from rcsqualify.notes import note

        return note("quota_lost", host=redis_host(self.url or ""), why=self.lost)

    def schedule(self, *identity: str) -> Schedule:
        local = _local_schedule(*identity, directory=self.directory)
        if self.client is None:
            return local
        sched = RedisSchedule(self.client, f"rcsq:q:{service_key(*identity)}", local,
                              on_failure=self._lose)
        self.schedules.append(sched)
        return sched

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()


class Pacer:
    """Smooth pacing on the clock, plus a service-wide pause after a 429.

    Slots are reserved at ``rate × (1 − margin)``: the gateway counts *arrivals*, and a
    request that leaves on time can reach it a few milliseconds late, right before the
    next one; without a margin a client at exactly the quota collects the occasional 429
    (a one-minute pause each). The hard rule, checked at the write, is 1/rate.
    """

    def __init__(self, rate: float, *, rate_margin: float = 0.0, schedule: Schedule | None = None,
                 clock: Clock | None = None, sleep: Sleep | None = None,
                 max_pause: float = MAX_PAUSE_EVER, name: str = "",
                 notify: Callable[[str], None] | None = None) -> None:
        self.min_interval = 1.0 / rate
        self.interval = 1.0 / paced_rate(rate, rate_margin)
        self.schedule = schedule if schedule is not None else MemorySchedule()
        self._clock = clock or machine_clock
        self._sleep = sleep or asyncio.sleep
        #: the longest this run waits for a pause another run set (--max-pause)
        self.max_pause = max_pause
        self._name = name
        self._notify = notify
        self._own_pause = 0.0  # the end of the latest pause this pacer set
        self._seen_pause = 0.0  # the end of the pause last looked at
        self._damage_told = False
        #: the latest send times (this process), for tests and benchmarks; bounded
        self.sent_at: deque[float] = deque(maxlen=100_000)
        #: when those sends were reported written (``written``)
        self.written_at: deque[float] = deque(maxlen=100_000)

    def now(self) -> float:
        """The time on this pacer's clock."""
        return self._clock()

    def pause(self, seconds: float) -> bool:
        """Pause the service; True if this call started (or lengthened) the pause."""
        until = self._clock() + seconds
        started = self.schedule.pause(until)
        if started:
            self._own_pause = until
        return started

    @property
    def paused_for(self) -> float:
        """Seconds this run still waits for the service's pause: a pause no rcsqualify
        could have set is damage (told once, ignored); one another run set is told,
        and waited ``max_pause`` at most from when this run first saw it."""
        now = self._clock()
        until = self.schedule.paused_until()
        left = until - now
        if left <= 0:
            return 0.0
        if left > STALE_AHEAD:
            if not self._damage_told:
                self._damage_told = True
                self._tell(f"the shared quota schedule holds a pause of {left / 3600:.0f} h, "
                           "longer than rcsqualify ever sets (damaged, or written by "
                           "another tool): ignored")
            return 0.0
        if abs(until - self._seen_pause) > SAME_PAUSE:  # a pause not looked at yet
            self._seen_pause = until
            capped = left > self.max_pause + SAME_PAUSE
            self.schedule.pause_cap = now + self.max_pause if capped else math.inf
            if capped or abs(until - self._own_pause) > SAME_PAUSE:
                self._tell(f"the service is paused for {left:.0f} s more by another run "
                           "of rcsqualify (after a 429 it got)" + (
                               f"; this run waits {self.max_pause:.0f} s at most "
                               "(--max-pause)" if capped else ""))
        return max(0.0, min(until, self.schedule.pause_cap) - now)

    def _tell(self, text: str) -> None:
        if self._notify is not None:
            self._notify(f"{self._name}: {text}" if self._name else text)

    async def reserve(self) -> None:
        """Wait for this caller's place on the schedule (never inside a pause)."""
        while (wait := self.paused_for) > 0:
            await self._sleep(wait)
        now = self._clock()
        due = self.schedule.reserve(now, self.interval)
        if due > now:
            await self._sleep(due - now)

    async def confirm(self) -> float:
        """Wait until a send is allowed now, record it, and return its time. Called
        right before the request is written; nothing awaits between this and the write."""
        while True:
            if self.paused_for > 0:  # a 429 arrived while we waited: a new place after it
                await self.reserve()
            # the hard rule is 1/rate: the margin between it and the reservation
            # interval lets a late wake-up be made up (every wait for the gap wakes late
            # again on a busy machine, which would otherwise pile up). A claiming
            # schedule (Redis) hands a waiter its own send time instead, one interval
            # after the previous claim, and the rule is checked again at the write.
            now = self._clock()
            wait = self.schedule.claim(now, self.interval, self.min_interval)
            if wait >= 0:
                break
            await self._sleep(-wait)
        if wait > 0:
            await self._sleep(wait)
            while (wait := self.schedule.sent(now := self._clock(), self.min_interval)) > 0:
                await self._sleep(wait)
        self.sent_at.append(now)  # the time the schedule recorded
        return now

    def written(self) -> None:
        """The request confirmed last has left (its headers are written): its send
        time is now, and the next send of the service may be granted."""
        now = self._clock()
        self.schedule.written(now)
        self.written_at.append(now)

    async def slot(self) -> float:
        """The three steps at once, for callers whose write follows immediately."""
        await self.reserve()
        at = await self.confirm()
        self.written()
        return at
