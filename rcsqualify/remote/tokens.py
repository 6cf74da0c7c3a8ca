"""Bearer tokens for the HTTP layer: OAuth2 client credentials (BotHub) and a static
token (MNP providers).

A token is fetched before a request takes its pacing slot, shared by every request of a
service, renewed before expiry, and a dead token endpoint fails every caller at once
(one line naming it) instead of each number retrying it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
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
    describe_transport,
    server_message,
    transport_kind,
)
from rcsqualify.remote.pacing import Sleep
from rcsqualify.remote.policy import HttpPolicy
from rcsqualify.remote.transport import content_label, fetch, is_json_type, parse_retry_after


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
                self.failure = note("token_failed", url=mask_url(self.token_url),
                                    why=_token_failure(exc.kind), attempts=self._attempts)
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
        except Unrecognized as exc:
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
            if is_json_type(raw.headers):
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

