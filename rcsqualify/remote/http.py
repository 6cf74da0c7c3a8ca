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
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import os
import re
import socket
import ssl
import time
import zlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

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
from rcsqualify.errors import ConfigurationError
from rcsqualify.remote.pacing import Clock, Pacer, Schedule, Sleep
from rcsqualify.remote.policy import HttpPolicy
from rcsqualify.remote.stats import ProviderStats
from rcsqualify.textsafe import mask_secrets, safe_text

USER_AGENT = f"rcsqualify/{__version__}"
Notify = Callable[[str], None]

#: token renewals after 401s for one request (across its attempts)
MAX_REFRESHES = 15
#: 429s to every request of a run, before any answer: stop (exit 2) instead of pausing
#: for hours
THROTTLED_AT_START = 5
#: transport failures that say "this address is wrong or unreachable", not "busy"
CONNECT_KINDS = ("refused", "dns", "tls", "proxy", "connect_timeout", "connect")
#: transport failures that no number can get past (they stop a run early, and a token
#: endpoint failing so is a configuration error)
UNREACHABLE_KINDS = (*CONNECT_KINDS, "timeout", "unsupported")
_DESCRIBE = {
    "refused": "connection refused",
    "dns": "the host name does not resolve (DNS)",
    "tls": "TLS handshake failed (certificate or protocol)",
    "proxy": "the proxy refused or failed the connection",
    "connect_timeout": "no answer to the connection attempt (timeout)",
    "connect": "cannot connect",
    "timeout": "no complete answer within --timeout",
    "unsupported": "the URL is not an http:// or https:// address",
}


class Transient(Exception):
    """A failure worth retrying (5xx, 408, timeout, reset, truncated JSON)."""

    def __init__(self, kind: str, detail: str = "", retry_after: float | None = None
                 ) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.retry_after = retry_after  # a valid Retry-After that came with it


class Unresolved(Exception):
    """No usable answer for this request: the caller records the number as data."""

    def __init__(self, kind: str, *, counted: bool = False) -> None:
        super().__init__(kind)
        self.kind = kind
        self.counted = counted  # already in the provider's error counts


class _Unrecognized(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = 0  # the answer's status, once known (fetch sets it)


class _OverBudget(Exception):
    pass


class _GivenUp(Exception):
    """The service was given up while this request waited for its slot."""


@dataclass(frozen=True)
class Raw:
    status: int
    headers: httpx.Headers
    content: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # parsed JSON, or None for an empty body


def mask_url(url: str | httpx.URL) -> str:
    """A URL fit for a message: no user info, no query, digit runs (numbers) masked."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    path = re.sub(r"(%2B|\+)?\d{6,}", "<number>", parts.path)
    return safe_text(f"{parts.scheme}://{host}{path}", 160)


def transport_kind(exc: BaseException) -> str:
    """What a transport exception says about the address (refused, DNS, TLS…)."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "unsupported"
    if isinstance(exc, httpx.ProxyError):
        return "proxy"
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        chain = _chain(exc)
        if any(isinstance(e, ssl.SSLError) for e in chain):
            return "tls"
        if any(isinstance(e, socket.gaierror) for e in chain):
            return "dns"
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            return "refused"
        text = " ".join(str(e).lower() for e in chain)
        if "ssl" in text or "certificate" in text or "tls" in text:
            return "tls"
        if any(s in text for s in ("name or service not known", "nodename nor servname",
                                   "name resolution", "getaddrinfo", "no address")):
            return "dns"
        if "refused" in text:
            return "refused"
        return "connect"
    return "connection"


def _chain(exc: BaseException) -> list[BaseException]:
    out, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def proxy_settings(url: str) -> list[str]:
    """The proxy variables httpx would use for ``url``, masked (``NAME=scheme://host``)."""
    scheme = urlsplit(url).scheme.lower()
    names = (["HTTPS_PROXY", "https_proxy"] if scheme == "https" else
             ["HTTP_PROXY", "http_proxy"]) + ["ALL_PROXY", "all_proxy"]
    for name in names:
        if os.environ.get(name):
            return [f"{name.upper()}={mask_url(os.environ[name])}"]
    return []


def describe_transport(kind: str, url: str = "") -> str:
    """What went wrong, naming the settings that decide it (a corporate proxy or CA)."""
    text = _DESCRIBE.get(kind, kind)
    env = []
    if kind == "tls":
        env.append(f"SSL_CERT_FILE={os.environ.get('SSL_CERT_FILE') or '(not set)'}")
    if kind in CONNECT_KINDS:
        env += proxy_settings(url or "https://")
    return text + (f" ({', '.join(env)}; via the proxy)" if any(
        "PROXY" in e for e in env) else f" ({', '.join(env)})" if env else "")


def client_error(exc: Exception) -> ConfigurationError:
    """httpx could not even build a client: the CA bundle or the proxy URL is unusable."""
    cert = os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")
    if isinstance(exc, ssl.SSLError | OSError) and cert:
        return ConfigurationError(f"cannot load the CA certificates named by SSL_CERT_FILE/"
                                  f"SSL_CERT_DIR ({safe_text(cert)}): {safe_text(exc, 120)}")
    return ConfigurationError(f"cannot set up HTTP ({type(exc).__name__}); check "
                              "HTTPS_PROXY/HTTP_PROXY/NO_PROXY and SSL_CERT_FILE")


def error_envelope(body: Any) -> dict[str, Any] | None:
    """The error envelope GSMA MaaP and Google share, ``{"error": {"code"|"message"|
    "status": …}}``, if ``body`` is one (a provider's documented negatives use it)."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and {"code", "message", "status"} & set(err):
        return err
    return None


def server_message(content: bytes, hide: tuple[str, ...] = ()) -> str:
    """The server's own words from an error body, made safe, for a one-line message:
    numbers, token-like strings and the secrets in ``hide`` masked (a server may echo
    the request back)."""
    words = _server_words(content)
    for secret in hide:
        if secret:
            words = words.replace(secret, "<redacted>")
    return mask_secrets(words)


def _server_words(content: bytes) -> str:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        text = content[:300].decode("utf-8", "replace")
        return safe_text(re.sub(r"<[^>]*>", " ", text), 120)
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            return safe_text(err.get("message") or err.get("status") or "", 120)
        for key in ("message", "error_description", "error", "detail"):
            if isinstance(data.get(key), str):
                return safe_text(data[key], 120)
    return ""


def _is_json_type(headers: httpx.Headers) -> bool:
    ctype = headers.get("content-type", "").lower()
    return "json" in ctype


def content_label(raw: Raw) -> str:
    ctype = raw.headers.get("content-type", "").split(";")[0].strip().lower()
    if "html" in ctype:
        return "html"
    if "json" in ctype:
        return "json"
    if ctype.startswith("text/"):
        return "text"
    return "no content type" if not ctype else "other"


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from a valid ``Retry-After`` (number or HTTP date); None when invalid."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, seconds)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


async def fetch(client: httpx.AsyncClient, method: str, url: str, *, timeout: float,
                max_body: int, on_write: Callable[[], Awaitable[None]] | None = None,
                on_written: Callable[[], None] | None = None, **kwargs: Any) -> Raw:
    """One request with a total deadline and a body cap.

    ``on_write`` runs right before the request line is written (httpcore's trace
    event); the deadline is suspended while it waits, so a wait for a pacing slot is
    never counted as the server's slowness. ``on_written`` runs once the request
    headers have left (the next trace event), or when the request failed before: the
    moment the request was actually written, as close to the socket as httpx tells.
    """
    loop = asyncio.get_running_loop()
    pending = [False]  # on_write ran and on_written did not yet

    def written() -> None:
        if pending[0]:
            pending[0] = False
            if on_written is not None:
                on_written()

    async with asyncio.timeout(timeout) as deadline:
        extensions: dict[str, Any] = {}
        if on_write is not None:
            async def trace(name: str, info: Mapping[str, Any]) -> None:
                if name.endswith("send_request_headers.started"):
                    deadline.reschedule(None)
                    await on_write()
                    pending[0] = True
                    deadline.reschedule(loop.time() + timeout)
                elif name.endswith("send_request_headers.complete"):
                    written()

            extensions["trace"] = trace
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Accept-Encoding", "gzip, deflate")  # what we can bound
        request = client.build_request(method, url, extensions=extensions, headers=headers,
                                       **kwargs)
        try:
            response = await client.send(request, stream=True)
        finally:
            written()  # a transport without the event, or a failed write
        try:
            body = await _bounded_body(response, max_body)
        except _Unrecognized as exc:
            exc.status = response.status_code  # "HTTP 200 answer over …", not "HTTP 0"
            raise
        finally:
            await response.aclose()
    return Raw(response.status_code, response.headers, body)


async def _bounded_body(response: httpx.Response, max_body: int) -> bytes:
    """The whole body, decoded, never more than ``max_body`` bytes in memory: gzip and
    deflate are inflated step by step with a cap (httpx would inflate a whole chunk,
    which a hostile server can make a gigabyte); any other encoding is refused."""
    if response.is_stream_consumed or hasattr(response, "_content"):
        # built in memory (httpx test transports): nothing left to stream
        if len(response.content) > max_body:
            raise _Unrecognized("body_too_large")
        return response.content
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflate: Any = None
    if encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflate = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise _Unrecognized("unsupported_encoding")
    out = bytearray()
    async for chunk in response.aiter_raw():
        data = chunk
        while data:
            if inflate is None:
                piece, data = data, b""
            else:
                try:
                    piece = inflate.decompress(data, max_body + 1 - len(out))
                except zlib.error as exc:
                    raise _Unrecognized("bad_encoding") from exc
                data = inflate.unconsumed_tail
            out += piece
            if len(out) > max_body:
                raise _Unrecognized("body_too_large")
            if inflate is not None and not piece:
                break
    return bytes(out)


class WriteEvents(httpx.AsyncBaseTransport):
    """Gives transports that emit no httpcore trace (httpx's MockTransport and
    ASGITransport, in tests) the same ``send_request_headers`` event, so they are
    paced exactly like the network transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trace = request.extensions.get("trace")
        if trace is not None:
            await trace("http11.send_request_headers.started", {})
            await trace("http11.send_request_headers.complete", {})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class TokenSource:
    """Something that hands out bearer tokens and can be told one was refused."""

    async def token(self, client: httpx.AsyncClient) -> str:
        raise NotImplementedError

    def invalidate(self, token: str) -> None:
        raise NotImplementedError


class ClientCredentialsToken(TokenSource):
    """OAuth2 client_credentials with HTTP Basic (Orange's API gateway)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *,
                 policy: HttpPolicy | None = None, margin: float = 60.0,
                 env_names: str = "RCSQUALIFY_BOTHUB_CLIENT_ID and "
                 "RCSQUALIFY_BOTHUB_CLIENT_SECRET",
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Sleep | None = None) -> None:
        self.token_url = token_url
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._token: str | None = None
        self._expires = 0.0
        self._margin = margin
        self._policy = policy or HttpPolicy()
        self._lock = asyncio.Lock()
        self._env_names = env_names
        self._clock = clock
        self._sleep = sleep or asyncio.sleep
        self.failed: str | None = None
        #: one line naming the token endpoint and what it did, once fetching failed
        self.failure: str | None = None
        self._attempts = 0

    async def token(self, client: httpx.AsyncClient) -> str:
        """A valid token; ``Unresolved`` at once for every caller once fetching failed
        after its own retries (no point in each number retrying a dead endpoint)."""
        async with self._lock:
            if self.failed:
                raise Unresolved(self.failed)
            if self._token and self._clock() < self._expires:
                return self._token
            try:
                self._token, lifetime = await self._fetch(client)
            except Transient as exc:
                if exc.kind in UNREACHABLE_KINDS:
                    # no token at all: nothing can be checked; say which endpoint
                    raise ConfigurationError(
                        f"cannot get a token from {mask_url(self.token_url)}: "
                        f"{describe_transport(exc.kind, self.token_url)}; check "
                        "--bothub-token-url "
                        "(RCSQUALIFY_BOTHUB_TOKEN_URL)") from exc
                self.failed = exc.kind
                self.failure = (f"cannot get a token from {mask_url(self.token_url)}: "
                                f"{_token_failure(exc.kind)} (after "
                                f"{self._attempts} attempts); every number of the service "
                                "stays unverified: retry later, or check --bothub-token-url")
                raise Unresolved(exc.kind) from exc
            # a lifetime of 0 (or 5 s) would mean one token request per look-up
            lifetime = max(lifetime, self._policy.token_min_lifetime)
            # renew a little before expiry: 60 s, or a tenth of a short lifetime
            self._expires = self._clock() + lifetime - min(self._margin, lifetime / 10)
            return self._token

    def invalidate(self, token: str) -> None:
        if token == self._token:
            self._token = None

    async def _fetch(self, client: httpx.AsyncClient) -> tuple[str, float]:
        """Up to 5 attempts; a ``Retry-After`` (429, 503) is honoured, each wait and all
        of them together bounded by ``max_pause`` (a token endpoint answering 429 made
        5 requests in 4 s despite ``Retry-After: 999999``)."""
        backoff = wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2)
        waited = [0.0, 0.0]  # slept so far, the next sleep (tenacity: wait, then stop)
        cap = self._policy.max_pause

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome is not None else None
            seconds = backoff(state)
            asked = getattr(exc, "retry_after", None)
            if asked is not None:
                seconds = max(seconds, asked)
            waited[1] = max(0.0, min(seconds, cap - waited[0]))
            return waited[1]

        def stop(state: RetryCallState) -> bool:
            self._attempts = state.attempt_number
            if state.attempt_number >= 5 or (waited[0] >= cap and waited[1] <= 0):
                return True
            waited[0] += waited[1]
            return False

        async for attempt in AsyncRetrying(
            stop=stop, wait=wait, sleep=self._sleep,
            retry=retry_if_exception_type(Transient), reraise=True,
        ):
            with attempt:
                return await self._fetch_once(client)
        raise AssertionError("unreachable")

    async def _fetch_once(self, client: httpx.AsyncClient) -> tuple[str, float]:
        where = mask_url(self.token_url)
        try:
            raw = await fetch(client, "POST", self.token_url, timeout=self._policy.timeout,
                              max_body=self._policy.max_body,
                              data={"grant_type": "client_credentials"},
                              headers={"Authorization": f"Basic {self._basic}",
                                       "Accept": "application/json"})
        except (httpx.TransportError, TimeoutError) as exc:
            raise Transient(transport_kind(exc)) from exc
        except _Unrecognized as exc:
            raise ConfigurationError(f"the token endpoint {where} sent an answer over "
                                     f"{self._policy.max_body} bytes") from exc
        if raw.status >= 500 or raw.status in (408, 429):
            raise Transient(f"token_http_{raw.status}",
                            retry_after=parse_retry_after(raw.headers))
        if raw.status in (400, 401, 403):
            raise ConfigurationError(
                f"the token endpoint {where} refused the client credentials (HTTP "
                f"{raw.status}); check {self._env_names}")
        if raw.status != 200:
            raise ConfigurationError(
                f"the token endpoint {where} answered HTTP {raw.status} "
                f"({content_label(raw)}) {server_message(raw.content)}; check "
                "--bothub-token-url (RCSQUALIFY_BOTHUB_TOKEN_URL)")
        try:
            data = json.loads(raw.content)
            token = data["access_token"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            if _is_json_type(raw.headers):
                raise Transient("token_malformed") from exc
            raise ConfigurationError(
                f"the token endpoint {where} answered HTTP 200 without a token "
                f"({content_label(raw)}); check --bothub-token-url") from exc
        if not isinstance(token, str) or not token or \
                not token.isascii() or not token.isprintable():
            raise ConfigurationError(f"the token endpoint {where} answered without a "
                                     "usable access_token")
        return token, _lifetime(data.get("expires_in", 3600))


#: what a token endpoint that failed did, for the line naming it
_TOKEN_FAILURES = {
    "token_http_429": "HTTP 429 (its Retry-After honoured up to --max-pause)",
    "token_http_408": "HTTP 408",
    "token_malformed": "answers that are not valid JSON with an access_token",
    **{k: describe_transport(k) for k in ("timeout", "connection")},
}


def _token_failure(kind: str) -> str:
    if kind in _TOKEN_FAILURES:
        return _TOKEN_FAILURES[kind]
    return f"HTTP {kind[len('token_http_'):]}" if kind.startswith("token_http_") else kind


def _lifetime(value: Any) -> float:
    """A token's ``expires_in`` in seconds; one that is not a usable number (a string,
    null, negative, infinite) counts as 0, i.e. the minimum lifetime: the token is
    renewed early, never kept for ever."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if math.isfinite(seconds) and seconds >= 0 else 0.0


class StaticToken(TokenSource):
    """A bearer token given by the user (MNP providers)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self, client: httpx.AsyncClient) -> str:
        return self._token

    def invalidate(self, token: str) -> None:
        pass


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
        self.pacer = Pacer(policy.rate, margin=policy.margin, schedule=schedule,
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
                      **kwargs: Any) -> Answer:
        """Send with pacing and retries. ``ok`` and ``expected`` statuses are answers
        when their body is JSON (or empty); ``fresh_params`` are made anew for every
        attempt (RBM's requestId). Anything else after retries raises ``Unresolved``;
        a misconfiguration raises ``ConfigurationError``."""

        def count_retry(state: RetryCallState) -> None:
            self.stats.retries += 1

        p = self.policy
        bounds = {"throttled": 0, "refreshes": 0}  # for this request, across attempts
        last_refused: dict[str, str] = {}
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(p.max_attempts) | stop_after_delay(p.deadline),
                wait=wait_exponential_jitter(multiplier=p.backoff_initial, max=10,
                                             jitter=p.backoff_initial),
                retry=retry_if_exception_type(Transient), reraise=True,
                before_sleep=count_retry,
            ):
                with attempt:
                    return await self._once(method, url, ok, expected, fresh_params, kwargs,
                                            bounds, last_refused)
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
            note = (f"{self.name}: given up after {what}; what was learned is kept, the "
                    "rest stays unverified: re-run later, or with a lower --rate")
            self.notes.append(note)
            if self.notify is not None:
                self.notify(note)
        raise Unresolved("throttled")

    async def _once(self, method: str, url: str, ok: tuple[int, ...],
                    expected: tuple[int, ...],
                    fresh_params: Callable[[], dict[str, str]] | None,
                    kwargs: dict[str, Any], bounds: dict[str, int],
                    last_refused: dict[str, str]) -> Answer:
        assert self._client is not None, "use inside session()"
        p = self.policy
        base_headers = dict(kwargs.get("headers") or {})
        send_kwargs = {k: v for k, v in kwargs.items() if k != "headers"}
        while True:
            if self.gave_up is not None:
                raise Unresolved("throttled")  # the gateway refused for too long
            if p.max_requests is not None and self._spent >= p.max_requests:
                if not self.notes:
                    self.notes.append(f"{self.name}: stopped at --max-requests "
                                      f"{p.max_requests}; the rest stays unverified")
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
            if self.extra_headers is not None:
                headers.update(self.extra_headers())
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
            except _Unrecognized as exc:
                raise self.reject(Answer(exc.status, None), exc.kind, url) from exc
            except _GivenUp:
                raise Unresolved("throttled") from None
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
            if _is_json_type(raw.headers):
                raise Transient("malformed_json") from exc  # cut short on the way: retry
            kind = f"not_json_{content_label(raw).replace(' ', '_')}"
            raise self.reject(Answer(raw.status, None), kind, url) from exc
        except (ValueError, RecursionError) as exc:
            # well-formed JSON no one can read: an integer past Python's digit limit,
            # nesting past the recursion limit. Not cut short on the way, so not
            # retried: a failure for this number, like any unrecognized answer
            raise self.reject(Answer(raw.status, None), "unreadable_json", url) from exc


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
