"""The one HTTP layer every provider goes through: pacing, 429 pauses, retries, tokens.

- Pacing: each request reserves the next slot on the clock, 1/rate after the previous
  slot. Two requests of one provider therefore leave 1/rate seconds apart (a gateway's
  "spike arrest" counts per interval, so a burst of 30 at the top of each second can be
  refused), and slots are taken on the clock, not after the previous answer: with
  enough requests in flight, latency does not lower the rate.
- HTTP 429: the whole provider pauses ``throttle_pause`` seconds (a longer
  ``Retry-After`` wins); no request of that provider leaves during the pause, including
  those already waiting for a slot. The request is then sent again; 429s do not use up
  the retry budget (Orange asks for a pause, not for giving up).
- 5xx, timeouts, connection resets and unreadable JSON: retried by tenacity with
  exponential backoff and jitter, until ``max_attempts`` or the per-request
  ``deadline``; then the caller gets ``Unresolved`` and records the number as data.
- Tokens: fetched once, shared by all requests, refreshed shortly before expiry and once
  on a 401 (then a second 401 is a configuration error: the credentials are wrong).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from rcsqualify import __version__
from rcsqualify.capability.interface import ProviderStats
from rcsqualify.errors import ConfigurationError

USER_AGENT = f"rcsqualify/{__version__}"
Notify = Callable[[str], None]


class Transient(Exception):
    """A failure worth retrying (5xx, timeout, reset, malformed JSON)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class Unresolved(Exception):
    """Retries exhausted: the caller records the number as unresolved."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Pacer:
    """Smooth pacing on the clock, plus a provider-wide pause after a 429.

    Slots are reserved on the clock at ``rate × (1 − margin)``: slot k is due at
    t0 + k·interval whatever the answers' latency. Two rules keep it smooth:
    - no two sends are ever closer than 1/rate (the configured quota), even when the
      event loop woke a waiter late and the schedule is catching up: no bursts;
    - a late wake-up does not push the whole schedule back: the lost time is made up
      at up to the full rate. (aiolimiter's leaky bucket, tried first, drains from the
      moment a late waiter finally acquires, so each late wake-up is capacity lost for
      good: it achieved 93 % of a 30/s quota against the emulator.)

    ``margin`` (default 3 %) paces a little under the quota: the gateway counts
    *arrivals*, and a request that leaves on time can reach it a few milliseconds late,
    right before the next one. Without a margin a client at exactly the quota collects
    the occasional 429, and each one costs a one-minute pause.
    """

    def __init__(self, rate: float, *, margin: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = 1.0 / rate
        self.rate = rate * (1.0 - margin)
        self.interval = 1.0 / self.rate
        self._next = 0.0
        self._last_sent = -1e9
        self._paused_until = 0.0
        self._clock = clock
        # the latest send times (monotonic), for tests and benchmarks; bounded
        self.sent_at: deque[float] = deque(maxlen=100_000)

    def pause(self, seconds: float) -> bool:
        """Pause the provider; True if this call started (or lengthened) the pause."""
        until = self._clock() + seconds
        if until > self._paused_until + 0.001:
            self._paused_until = until
            self._next = max(self._next, until)  # slots resume after the pause
            return True
        return False

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    async def slot(self) -> None:
        """Wait for this caller's slot on the clock, never inside a pause."""
        while True:
            while (wait := self.paused_for) > 0:
                await asyncio.sleep(wait)
            now = self._clock()
            due = max(self._next, now)
            self._next = due + self.interval  # reserved synchronously: no two share it
            if due > now:
                await asyncio.sleep(due - now)
            # a waiter woken late must still keep 1/rate from the previous send
            while (gap := self._last_sent + self.min_interval - self._clock()) > 0:
                await asyncio.sleep(gap)
            if self.paused_for <= 0:
                self._last_sent = self._clock()
                self.sent_at.append(self._last_sent)
                return


class TokenSource:
    """Something that hands out bearer tokens and can be told one was refused."""

    async def token(self, client: httpx.AsyncClient) -> str:
        raise NotImplementedError

    def invalidate(self, token: str) -> None:
        raise NotImplementedError


class ClientCredentialsToken(TokenSource):
    """OAuth2 client_credentials with HTTP Basic (Orange's API gateway)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *,
                 margin: float = 60.0, stats: ProviderStats | None = None) -> None:
        self.token_url = token_url
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._token: str | None = None
        self._expires = 0.0
        self._margin = margin
        self._lock = asyncio.Lock()
        self.fetched = 0
        self.stats = stats
        self.failed: str | None = None

    async def token(self, client: httpx.AsyncClient) -> str:
        """A valid token; ``Unresolved`` at once for every caller once fetching failed
        after its own retries (no point in each number retrying a dead endpoint)."""
        async with self._lock:
            if self.failed:
                raise Unresolved(self.failed)
            if self._token and time.monotonic() < self._expires:
                return self._token
            try:
                self._token, lifetime = await self._fetch(client)
            except Transient as exc:
                self.failed = exc.kind
                raise Unresolved(exc.kind) from exc
            # renew a little before expiry: 60 s, or a tenth of a short lifetime
            self._expires = time.monotonic() + lifetime - min(self._margin, lifetime / 10)
            return self._token

    def invalidate(self, token: str) -> None:
        if token == self._token:
            self._token = None

    async def _fetch(self, client: httpx.AsyncClient) -> tuple[str, float]:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(5),
            wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2),
            retry=retry_if_exception_type(Transient), reraise=True,
        ):
            with attempt:
                try:
                    resp = await client.post(
                        self.token_url, data={"grant_type": "client_credentials"},
                        headers={"Authorization": f"Basic {self._basic}",
                                 "Accept": "application/json"})
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    raise Transient("token_transport", type(exc).__name__) from exc
                if resp.status_code >= 500 or resp.status_code == 429:
                    raise Transient("token_http", str(resp.status_code))
                if resp.status_code in (400, 401, 403):
                    raise ConfigurationError(
                        f"the token endpoint refused the client credentials (HTTP "
                        f"{resp.status_code}); check RCSQUALIFY_BOTHUB_CLIENT_ID and "
                        "RCSQUALIFY_BOTHUB_CLIENT_SECRET")
                try:
                    data = resp.json()
                    token = str(data["access_token"])
                    lifetime = float(data.get("expires_in", 3600))
                except (ValueError, KeyError, TypeError) as exc:
                    raise Transient("token_malformed") from exc
                self.fetched += 1
                return token, lifetime
        raise AssertionError("unreachable")


class StaticToken(TokenSource):
    """A bearer token given by the user (MNP providers)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self, client: httpx.AsyncClient) -> str:
        return self._token

    def invalidate(self, token: str) -> None:
        pass


@dataclass
class Answer:
    status: int
    body: Any  # parsed JSON, or None


class HttpLayer:
    """One per provider: an httpx client, a pacer, a token source, counters."""

    def __init__(
        self,
        name: str,
        *,
        rate: float,
        throttle_pause: float,
        timeout: float = 10.0,
        max_attempts: int = 5,
        deadline: float = 120.0,
        max_throttled: int = 30,
        token: TokenSource | None = None,
        extra_headers: Callable[[], dict[str, str]] | None = None,
        stats: ProviderStats | None = None,
        notify: Notify | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_initial: float = 0.5,
        rate_margin: float = 0.03,
    ) -> None:
        self.name = name
        self.pacer = Pacer(rate, margin=rate_margin)
        self.throttle_pause = throttle_pause
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.max_throttled = max_throttled
        self.token_source = token
        self.extra_headers = extra_headers
        self.stats = stats or ProviderStats()
        self.notify = notify
        self.backoff_initial = backoff_initial
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._refused_tokens: set[str] = set()

    @contextlib.asynccontextmanager
    async def session(self) -> Any:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits,
                                     transport=self._transport,
                                     headers={"User-Agent": USER_AGENT}) as client:
            self._client = client
            try:
                yield self
            finally:
                self._client = None

    async def request(self, method: str, url: str, *, ok: tuple[int, ...] = (200,),
                      expected: tuple[int, ...] = (), **kwargs: Any) -> Answer:
        """Send with pacing and retries. ``ok`` statuses have a JSON body to parse;
        ``expected`` statuses are answers too (e.g. 404 = not capable). Anything else
        after retries raises ``Unresolved``."""

        def count_retry(state: RetryCallState) -> None:
            self.stats.retries += 1

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.deadline),
                wait=wait_exponential_jitter(multiplier=self.backoff_initial, max=10,
                                            jitter=self.backoff_initial),
                retry=retry_if_exception_type(Transient), reraise=True,
                before_sleep=count_retry,
            ):
                with attempt:
                    return await self._once(method, url, ok, expected, kwargs)
        except Transient as exc:
            self._count_error(exc.kind)
            raise Unresolved(exc.kind) from exc
        except Unresolved as exc:
            self._count_error(exc.kind)
            raise
        raise AssertionError("unreachable")

    def _count_error(self, kind: str) -> None:
        self.stats.errors += 1
        self.stats.error_kinds[kind] = self.stats.error_kinds.get(kind, 0) + 1

    async def _once(self, method: str, url: str, ok: tuple[int, ...],
                    expected: tuple[int, ...], kwargs: dict[str, Any]) -> Answer:
        assert self._client is not None, "use inside session()"
        refreshes = 0
        throttled = 0
        base_headers = dict(kwargs.get("headers") or {})
        send_kwargs = {k: v for k, v in kwargs.items() if k != "headers"}
        while True:
            # the slot first, then the token: a token taken before a long wait for a
            # slot could expire on the way
            await self.pacer.slot()
            headers = dict(base_headers)
            token = None
            if self.token_source is not None:
                token = await self.token_source.token(self._client)
                headers["Authorization"] = f"Bearer {token}"
            if self.extra_headers is not None:
                headers.update(self.extra_headers())
            self.stats.requests += 1
            try:
                resp = await self._client.request(method, url, headers=headers, **send_kwargs)
            except httpx.TimeoutException as exc:
                raise Transient("timeout", type(exc).__name__) from exc
            except httpx.TransportError as exc:  # resets, refused, protocol errors
                raise Transient("connection", type(exc).__name__) from exc
            if resp.status_code == 429:
                self.stats.throttled += 1
                throttled += 1
                pause = max(self.throttle_pause, _retry_after(resp))
                if self.pacer.pause(pause) and self.notify:
                    self.notify(f"{self.name}: HTTP 429 from the gateway, pausing all "
                                f"requests for {pause:.0f} s")
                if throttled > self.max_throttled:
                    raise Transient("throttled", "too many 429s")
                continue
            if resp.status_code == 401:
                # Expired or revoked: drop the token (once for all requests that held it)
                # and send again. Several *different* tokens refused with no success in
                # between means the credentials are not allowed on this API at all (many
                # requests in flight with one revoked token are a single refusal).
                self._refused_tokens.add(token or "")
                if len(self._refused_tokens) >= 5:
                    raise ConfigurationError(
                        f"{self.name}: the API keeps refusing fresh tokens (HTTP 401); check "
                        "the credentials, the bot/agent id and the API subscription")
                if token is not None and refreshes < 3:
                    assert self.token_source is not None
                    self.token_source.invalidate(token)
                    refreshes += 1
                    continue
                raise Transient("unauthorized")
            self._refused_tokens.clear()
            if resp.status_code >= 500:
                raise Transient(f"http_{resp.status_code}")
            if resp.status_code in ok or resp.status_code in expected:
                body = None
                if resp.content:
                    try:
                        body = resp.json()
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        if resp.status_code in ok:
                            raise Transient("malformed_json") from exc
                elif resp.status_code in ok and method == "GET":
                    body = {}
                return Answer(resp.status_code, body)
            raise Transient(f"http_{resp.status_code}")


def _retry_after(resp: httpx.Response) -> float:
    value = resp.headers.get("Retry-After")
    if not value:
        return 0.0
    try:
        return float(value)
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return 0.0


async def run_all(items: list[Any], worker: Callable[[Any], Awaitable[None]],
                  concurrency: int) -> None:
    """Run ``worker`` over ``items`` with at most ``concurrency`` in flight.

    Pacing happens inside the HTTP layer, so this only needs enough workers to keep
    the quota busy while answers are on their way (rate × latency).
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

    tasks = [asyncio.create_task(loop()) for _ in range(max(1, min(concurrency, len(items))))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
