"""The one HTTP layer every provider goes through: pacing, pauses, retries, tokens, bounds.

Policy (CONTRACT §5, §10), in one place for every service:
- **Pacing at the write.** A request reserves its place on the service's schedule
  (``remote/pacing.py``) before it takes a connection, and confirms the slot from
  httpcore's ``send_request_headers`` trace event, i.e. after the token was fetched
  and the connection opened, right before the request line leaves. Two requests of one
  service (of any process on this machine) are never written closer than 1/rate.
- **HTTP 429** pauses the whole service ``throttle_pause`` seconds (a longer valid
  ``Retry-After`` wins, capped at ``max_pause``); the request is then sent again.
- **Retried:** 5xx, 408, timeouts, resets and truncated JSON, with exponential back-off,
  until ``max_attempts`` or the per-number ``deadline``; then ``Unresolved``.
- **Never retried, never cached:** an answer the provider does not recognize (a 404
  that is not the service's JSON error, an HTML page, a body without the expected
  fields): ``Unresolved`` at once. 4xx other than 401/408/429 and the statuses a
  provider documents: ``ConfigurationError`` (exit 2) naming the service, the URL
  (numbers masked) and what came back.
- **Stopped early:** while no answer of a run has been recognized yet, ``early_stop``
  failures of one kind (connection refused, DNS, TLS, proxy, unrecognized answers)
  stop the run with exit 2 and one line, instead of spending the quota on every number.
- **Bounded:** ``timeout`` is the whole request (connect, send, complete body); bodies
  over ``max_body`` bytes are refused; a token lifetime under ``token_min_lifetime`` is
  taken as that minimum; ``max_requests`` caps what one run spends on a service.
- **Tokens:** fetched once before the slot, shared, renewed before expiry and on a 401
  (several *different* tokens refused in a row is a configuration error).

``HTTPS_PROXY``/``NO_PROXY`` and ``SSL_CERT_FILE`` are honoured by httpx itself
(``trust_env``); transport error messages name them.

``remote/failures.py`` (what went wrong, in words), ``remote/transport.py`` (one bounded
request), ``remote/tokens.py`` and ``remote/workers.py`` (the pool) sit beside it.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
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

from rcsqualify.errors import ConfigurationError
from rcsqualify.masking import mask_url
from rcsqualify.notes import note
from rcsqualify.remote.failures import (
    UNREACHABLE_KINDS,
    Transient,
    Unrecognized,
    Unresolved,
    client_error,
    describe_transport,
    server_message,
    transport_kind,
)
from rcsqualify.remote.pacing import Clock, Pacer, Schedule, Sleep
from rcsqualify.remote.policy import HttpPolicy
from rcsqualify.remote.stats import ProviderStats
from rcsqualify.remote.tokens import TokenSource
from rcsqualify.remote.transport import (
    USER_AGENT,
    Raw,
    WriteEvents,
    content_label,
    fetch,
    is_json_type,
    parse_retry_after,
)

Notify = Callable[[str], None]
#: one request's own parts made anew for every attempt: (query params, headers)
Fresh = tuple[Callable[[], dict[str, str]] | None, Callable[[], dict[str, str]] | None]

#: token renewals after 401s for one request (across its attempts)
MAX_REFRESHES = 15
#: 429s to every request of a run, before any answer: stop (exit 2) instead of pausing
#: for hours
THROTTLED_AT_START = 5


class _GivenUp(Exception):
    """The service was given up while this request waited for its slot."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # parsed JSON, or None for an empty body



class HttpLayer:
    """One per service: an httpx client, a pacer, a token source, counters, the policy."""

    def __init__(
        self,
        name: str,
        policy: HttpPolicy,
        *,
        token: TokenSource | None = None,
        extra_headers: Callable[[], dict[str, str]] | None = None,
        stats: ProviderStats | None = None,
        notify: Notify | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        schedule: Schedule | None = None,
        url_hint: str = "",
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self.pacer = Pacer(policy.rate, rate_margin=policy.rate_margin, schedule=schedule,
                           clock=clock, sleep=sleep, max_pause=policy.max_pause, name=name,
                           notify=notify)
        self.token_source = token
        self.extra_headers = extra_headers
        self.stats = stats if stats is not None else ProviderStats()
        self.notify = notify
        self.url_hint = url_hint
        self._transport = WriteEvents(transport) if transport is not None else None
        self._client: httpx.AsyncClient | None = None
        self._refused_tokens: set[str] = set()
        #: tokens a request went through with (recent ones): one refused later expired
        self._worked: deque[str] = deque(maxlen=16)
        self._recognized = 0
        self._streak: Counter[str] = Counter()
        self._spent = 0
        self._pauses = 0
        #: HTTP 429s in a row (no other answer since) and when the row began
        self._throttled_row = 0
        self._throttled_since = 0.0
        #: why the service was given up for the rest of the run (None while it is not)
        self.gave_up: str | None = None
        self.notes: list[str] = []
        #: the ``Date`` header of the 401 that stopped the run (a signing clock's check)
        self.refused_date: str | None = None

    @contextlib.asynccontextmanager
    async def session(self) -> Any:
        p = self.policy
        limits = httpx.Limits(max_connections=max(100, p.concurrency + 8),
                              max_keepalive_connections=max(100, p.concurrency + 8))
        try:
            client = httpx.AsyncClient(timeout=httpx.Timeout(p.timeout), limits=limits,
                                       transport=self._transport,
                                       headers={"User-Agent": USER_AGENT})
        except (ssl.SSLError, OSError, ValueError, httpx.InvalidURL) as exc:
            raise client_error(exc) from exc
        async with client:
            self._client = client
            try:
                yield self
            finally:
                self._client = None

    # -- what providers tell the layer about answers ----------------------------------
    def accept(self, answer: Answer, kind: str | None = None) -> None:
        """The provider recognized this answer (a verdict it may cache)."""
        self._recognized += 1
        self.stats.answer(answer.status, True, kind)

    def reject(self, answer: Answer, kind: str, url: str = "") -> Unresolved:
        """The provider did not recognize this answer: a failure, never a verdict.
        Returns the exception for the caller to raise or record."""
        self.stats.answer(answer.status, False, kind)
        self.stats.error(kind)
        what = (f"with a body over {self.policy.max_body} bytes" if kind == "body_too_large"
                else kind.replace("_", " "))
        self._early_failure(kind, url, f"HTTP {answer.status} {what}")
        return Unresolved(kind, counted=True)

    def _early_failure(self, kind: str, url: str, what: str) -> None:
        if self._recognized:
            return
        self._streak[kind] += 1
        if self._streak[kind] >= self.policy.early_stop:
            hint = f"; check {self.url_hint}" if self.url_hint else ""
            raise ConfigurationError(
                f"{self.name}: the first {self._streak[kind]} answers from "
                f"{mask_url(url) if url else 'the service'} were all failures: {what}{hint}")

    # -- sending ---------------------------------------------------------------------
    async def request(self, method: str, url: str, *, ok: tuple[int, ...] = (200,),
                      expected: tuple[int, ...] = (),
                      fresh_params: Callable[[], dict[str, str]] | None = None,
                      fresh_headers: Callable[[], dict[str, str]] | None = None,
                      **kwargs: Any) -> Answer:
        """Send with pacing and retries. ``ok`` and ``expected`` statuses are answers
        when their body is JSON (or empty); ``fresh_params`` and ``fresh_headers`` are
        made anew for every attempt, right before it (RBM's requestId, an MNP digest
        signature: a retry never carries a stale one). Anything else after retries
        raises ``Unresolved``; a misconfiguration raises ``ConfigurationError``."""

        def count_retry(state: RetryCallState) -> None:
            self.stats.retries += 1

        p = self.policy
        bounds = {"throttled": 0, "refreshes": 0}  # for this request, across attempts
        last_refused: dict[str, str] = {}
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(p.max_attempts) | stop_after_delay(p.deadline),
                wait=wait_exponential_jitter(multiplier=p.retry_backoff, max=10,
                                             jitter=p.retry_backoff),
                retry=retry_if_exception_type(Transient), reraise=True,
                before_sleep=count_retry,
            ):
                with attempt:
                    return await self._once(method, url, ok, expected,
                                            (fresh_params, fresh_headers), kwargs, bounds,
                                            last_refused)
        except Transient as exc:
            self.stats.error(exc.kind)
            raise Unresolved(exc.kind) from exc
        except Unresolved as exc:
            if not exc.counted:
                self.stats.error(exc.kind)
            raise
        raise AssertionError("unreachable")

    def _pause_seconds(self, headers: httpx.Headers) -> float:
        p = self.policy
        asked = parse_retry_after(headers)
        pause = p.throttle_pause if asked is None else max(p.throttle_pause, asked)
        return min(pause, p.max_pause)

    def _announce_pause(self, pause: float) -> None:
        """Every pause is told (the reporter collapses them: a log shows the first two,
        a terminal one updating line), so the closing count is every pause."""
        self._pauses += 1
        if self.notify is None:
            return
        if self._pauses == 1:
            self.notify(f"{self.name}: HTTP 429 from the gateway, pausing all requests "
                        f"for {pause:.0f} s")
        else:
            self.notify(f"{self.name}: HTTP 429 again ({self._pauses} pauses so far): the "
                        "gateway's quota is lower than --rate or shared with other "
                        "senders; consider a lower --rate")

    def _throttled(self, pause: float) -> None:
        """Count a 429 in the service's row of 429s; past ``max_throttled`` in a row,
        or when the row (with the pause this 429 would start) lasts over
        ``max_paused`` seconds, give the service up for the run: a gateway that answers
        429 for ever would otherwise pause every remaining number ~30 times (days at
        the defaults). Exit 2 when nothing was ever answered, else the numbers left
        stay unverified (exit 3) and what was learned is kept."""
        p = self.policy
        now = self.pacer.now()
        if self._throttled_row == 0:
            self._throttled_since = now
        self._throttled_row += 1
        spent = now - self._throttled_since + pause
        if self._throttled_row <= p.max_throttled and spent <= p.max_paused:
            return
        what = (f"HTTP 429 to {self._throttled_row} requests in a row over "
                f"{now - self._throttled_since:.0f} s (limits: {p.max_throttled} in a row, "
                f"--max-paused {p.max_paused:g} s)")
        if not self._recognized:
            raise ConfigurationError(
                f"{self.name}: the gateway answered {what} and nothing else; check the "
                "application's quota and that no other sender uses all of it, or lower "
                "--rate")
        if self.gave_up is None:
            self.gave_up = what
            gave_up = note("throttled_gave_up", service=self.name, what=what,
                           count=self._throttled_row, seconds=now - self._throttled_since)
            self.notes.append(gave_up)
            if self.notify is not None:
                self.notify(gave_up)
        raise Unresolved("throttled")

    async def send_once(self, method: str, url: str, *,
                        fresh_headers: Callable[[], dict[str, str]] | None = None,
                        **kwargs: Any) -> tuple[Raw, dict[str, str]]:
        """One request as every request of the service goes (its token and headers, its
        pacing slot, its deadline and body cap), with no retry and no reading of the
        answer: ``probe``'s send. Returns the answer as it came and the headers sent
        (for the caller to mask every secret they hold)."""
        assert self._client is not None, "use inside session()"
        base_headers = dict(kwargs.pop("headers", None) or {})
        raw, _, headers = await self._send(method, url, base_headers, kwargs,
                                           (None, fresh_headers))
        return raw, headers

    async def _send(self, method: str, url: str, base_headers: dict[str, str],
                    send_kwargs: dict[str, Any], fresh: Fresh
                    ) -> tuple[Raw, str | None, dict[str, str]]:
        """One attempt on the wire: the budget, the token, the headers (``fresh``: the
        request's own params and headers, made for this attempt), the pacing slot and
        the write. Returns the raw answer, the token it went with, the headers."""
        assert self._client is not None, "use inside session()"
        p = self.policy
        if self.gave_up is not None:
            raise Unresolved("throttled")  # the gateway refused for too long
        if p.max_requests is not None and self._spent >= p.max_requests:
            if not self.notes:
                self.notes.append(note("max_requests", service=self.name,
                                       limit=p.max_requests))
            raise Unresolved("budget")
        self._spent += 1
        # the token first: a token fetch must never sit between a slot and its write
        headers = dict(base_headers)
        token = None
        if self.token_source is not None:
            try:
                token = await self.token_source.token(self._client)
            except Unresolved:
                failure = getattr(self.token_source, "failure", None)
                if failure and failure not in self.notes:  # said once, named
                    self.notes.append(failure)
                    if self.notify is not None:
                        self.notify(f"{self.name}: {failure}")
                raise
            headers["Authorization"] = f"Bearer {token}"
        fresh_params, fresh_headers = fresh
        if self.extra_headers is not None:
            headers.update(self.extra_headers())
        if fresh_headers is not None:
            headers.update(fresh_headers())
        if fresh_params is not None:
            params = dict(send_kwargs.get("params") or {})
            params.update(fresh_params())
            send_kwargs["params"] = params
        await self.pacer.reserve()

        async def on_write() -> None:
            await self.pacer.confirm()
            if self.gave_up is not None:  # while this one waited out the last pause
                self.pacer.written()  # never sent: its grant holds no one
                raise _GivenUp()
            self.stats.requests += 1

        try:
            raw = await fetch(self._client, method, url, timeout=p.timeout,
                              max_body=p.max_body, on_write=on_write,
                              on_written=self.pacer.written, headers=headers,
                              **send_kwargs)
        except (httpx.LocalProtocolError, UnicodeEncodeError) as exc:
            # nothing left this machine: a header we built is not valid HTTP
            raise ConfigurationError(
                f"{self.name}: cannot send a request to {mask_url(url)}: a credential or "
                "header holds characters HTTP does not allow (control or non-ASCII "
                "characters); check the credentials' environment variables") from exc
        except (httpx.TransportError, TimeoutError) as exc:
            kind = transport_kind(exc)
            if kind in UNREACHABLE_KINDS:
                self._early_failure(kind, url, describe_transport(kind, url))
            raise Transient(kind, type(exc).__name__) from exc
        except Unrecognized as exc:
            raise self.reject(Answer(exc.status, None), exc.kind, url) from exc
        except _GivenUp:
            raise Unresolved("throttled") from None
        return raw, token, headers

    async def _once(self, method: str, url: str, ok: tuple[int, ...],
                    expected: tuple[int, ...], fresh: Fresh,
                    kwargs: dict[str, Any], bounds: dict[str, int],
                    last_refused: dict[str, str]) -> Answer:
        assert self._client is not None, "use inside session()"
        p = self.policy
        base_headers = dict(kwargs.get("headers") or {})
        send_kwargs = {k: v for k, v in kwargs.items() if k != "headers"}
        while True:
            raw, token, _ = await self._send(method, url, base_headers, send_kwargs,
                                             fresh)
            if raw.status == 429:
                self.stats.throttled += 1
                bounds["throttled"] += 1
                if not self._recognized and self.stats.throttled >= THROTTLED_AT_START:
                    # every request of the run refused for quota, not one answered: an
                    # application without quota (or another sender using all of it)
                    raise ConfigurationError(
                        f"{self.name}: the gateway answered HTTP 429 to the first "
                        f"{self.stats.throttled} requests and nothing else; check the "
                        "application's quota and that no other sender uses all of it, or "
                        "lower --rate")
                pause = self._pause_seconds(raw.headers)
                self._throttled(pause)
                if self.pacer.pause(pause):
                    self._announce_pause(pause)
                if bounds["throttled"] > p.max_throttled:
                    raise Unresolved("throttled")  # not retried: its bound is spent
                continue
            if raw.status == 401:
                # Expired or revoked: drop the token (once for all requests that held it)
                # and send again. Several *different* tokens refused with no success in
                # between means the credentials are not allowed on this API at all.
                # this request's token was refused, dropped, and the endpoint handed the
                # very same token back: the credentials are not allowed on this API
                reissued = token is not None and token == last_refused.get("token")
                last_refused["token"] = token or ""
                if (token or "") not in self._worked:
                    # only a token that never worked says the credentials are refused:
                    # one that worked and is refused now expired or was revoked (a storm
                    # of revocations under many requests in flight is not a refusal)
                    self._refused_tokens.add(token or "")
                if len(self._refused_tokens) >= 5 or token is None or reissued:
                    # fresh tokens refused again and again (or the same token handed out
                    # again by the token endpoint): the credentials are not allowed here
                    self.refused_date = raw.headers.get("date")
                    raise ConfigurationError(
                        f"{self.name}: {mask_url(url)} keeps refusing the credentials "
                        "(HTTP 401); check the credentials, the bot/agent id and the API "
                        "subscription")
                if bounds["refreshes"] >= MAX_REFRESHES:
                    raise Unresolved("unauthorized")  # not retried: its bound is spent
                assert self.token_source is not None
                self.token_source.invalidate(token)
                bounds["refreshes"] += 1
                continue
            self._throttled_row = 0  # the gateway answered: the row of 429s is over
            self._refused_tokens.clear()
            if token is not None and token not in self._worked:
                self._worked.append(token)
            if raw.status >= 500 or raw.status == 408:
                raise Transient(f"http_{raw.status}")
            if raw.status in ok or raw.status in expected:
                return self._parse(raw, url)
            raise ConfigurationError(
                f"{self.name}: {method} {mask_url(url)} answered HTTP {raw.status} "
                f"({content_label(raw)}) {server_message(raw.content, (token or '',))}"
                + (f"; check {self.url_hint}" if self.url_hint else ""))

    def _parse(self, raw: Raw, url: str) -> Answer:
        if not raw.content.strip():
            return Answer(raw.status, None)
        try:
            return Answer(raw.status, json.loads(raw.content))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if is_json_type(raw.headers):
                raise Transient("malformed_json") from exc  # cut short on the way: retry
            kind = f"not_json_{content_label(raw).replace(' ', '_')}"
            raise self.reject(Answer(raw.status, None), kind, url) from exc
        except (ValueError, RecursionError) as exc:
            # well-formed JSON no one can read: an integer past Python's digit limit,
            # nesting past the recursion limit. Not cut short on the way, so not
            # retried: a failure for this number, like any unrecognized answer
            raise self.reject(Answer(raw.status, None), "unreadable_json", url) from exc

