"""Orange BotHub single capability look-up (GSMA MaaP ``contactCapabilities``).

``GET {base}/bot/v1/{botId}/contactCapabilities?userContact=%2B336…`` with Orange's
bearer token: 200 with a non-empty ``capabilities`` list → reachable; 200 with an empty
list or ``{}``, or 404 → not RCS; anything unresolved after retries → the number stays
``unverified`` with reason ``capability_error``. Orange says this call is for testing at
low frequency: bases are qualified with ``bothub-bulk``; both share one cache namespace,
so what a nightly bulk run learned serves the single look-ups too.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from rcsqualify.capability.interface import CapabilityProvider, Progress
from rcsqualify.errors import ConfigurationError
from rcsqualify.remote.cache import LookupCache
from rcsqualify.remote.http import (
    ClientCredentialsToken,
    HttpLayer,
    Notify,
    Unresolved,
    run_all,
)
from rcsqualify.verdict import RCS_ERROR, RCS_NO, RCS_YES

CACHE_NAMESPACE = "bothub"


class GsmaJwt:
    """The bot owner's RS256 JWT (iss = bot id, scope "Chatbot message"), renewed hourly."""

    def __init__(self, key_file: Path, bot_id: str, audience: str) -> None:
        try:
            self._key = key_file.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the bot key file {key_file}: "
                                     f"{exc.strerror}") from exc
        self.bot_id = bot_id
        self.audience = audience
        self._token = ""
        self._exp = 0.0
        self.current()  # fail now, with a clear message, if the key is unusable

    def current(self) -> str:
        import jwt

        now = time.time()
        if now < self._exp - 300:
            return self._token
        claims = {"iss": self.bot_id, "scope": "Chatbot message", "aud": self.audience,
                  "iat": int(now), "exp": int(now) + 3600}
        try:
            self._token = jwt.encode(claims, self._key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigurationError("the bot key file is not a usable RSA private key "
                                     "(PEM)") from exc
        self._exp = now + 3600
        return self._token


class BotHubProvider(CapabilityProvider):
    name = "bothub"

    def __init__(self, *, base_url: str, token_url: str, client_id: str, client_secret: str,
                 bot_id: str, cache: LookupCache, rate: float = 30.0,
                 throttle_pause: float = 60.0, timeout: float = 10.0,
                 concurrency: int = 64, deadline: float = 120.0, max_attempts: int = 5,
                 jwt: GsmaJwt | None = None, jwt_header: str = "X-Bot-Authorization",
                 notify: Notify | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 backoff_initial: float = 0.5, rate_margin: float = 0.03) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.bot_id = bot_id
        self.cache = cache
        self.concurrency = concurrency
        self.token = ClientCredentialsToken(token_url, client_id, client_secret,
                                            stats=self.stats)
        extra = (lambda: {jwt_header: jwt.current()}) if jwt is not None else None
        self.http = HttpLayer(self.name, rate=rate, throttle_pause=throttle_pause,
                              timeout=timeout, token=self.token, extra_headers=extra,
                              stats=self.stats, notify=notify, transport=transport,
                              deadline=deadline, max_attempts=max_attempts,
                              backoff_initial=backoff_initial, rate_margin=rate_margin)

    def check_all(self, e164: list[str], progress: Progress | None = None) -> np.ndarray:
        out = np.full(len(e164), RCS_ERROR, dtype=np.uint8)
        todo = self.answers_from_cache(self.cache, CACHE_NAMESPACE, e164, out)
        done = len(e164) - len(todo)
        if progress:
            progress(done)
        if todo:
            asyncio.run(self._check(e164, todo, out, progress, done))
        return out

    async def _check(self, e164: list[str], todo: list[int], out: np.ndarray,
                     progress: Progress | None, done: int) -> None:
        url = f"{self.base_url}/bot/v1/{self.bot_id}/contactCapabilities"
        counter = {"done": done}

        async def one(i: int) -> None:
            number = e164[i]
            try:
                answer = await self.http.request("GET", url, params={"userContact": number},
                                                 expected=(404,))
            except Unresolved:
                out[i] = RCS_ERROR
            else:
                capable = answer.status == 200 and _has_capabilities(answer.body)
                out[i] = RCS_YES if capable else RCS_NO
                self.cache.put("cap", CACHE_NAMESPACE, number, "yes" if capable else "no")
            counter["done"] += 1
            if progress:
                progress(counter["done"])

        async with self.http.session():
            await run_all(todo, one, self.concurrency)


def _has_capabilities(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    caps = body.get("capabilities")
    return isinstance(caps, list) and len(caps) > 0
