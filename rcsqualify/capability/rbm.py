"""Google RCS Business Messaging capability: per number and ``users:batchGet``.

Auth is a service account through google-auth (scope ``rcsbusinessmessaging``); the
file's ``token_uri`` is honoured, which is how the emulator issues tokens. google-auth
refreshes synchronously through a ``google.auth.transport.Request``; ``HttpxRequest``
below is that transport over httpx (the project's HTTP client), run in a thread so the
event loop keeps pacing other requests.

Per number: ``GET {base}/v1/phones/{E.164}/capabilities?agentId=…&requestId=<uuid>``:
200 → reachable (feature names are not checked: the list grows over time), 404 → not
RCS, 403 naming a non-tester → not RCS, 403 about the agent itself → configuration
error (exit 2).

batchGet: ``POST {base}/v1/users:batchGet`` with 500 to 10,000 unique numbers, paced at
600 calls/min. Listed numbers are reachable; the others are ``not_rcs`` only when the
user says the agent is launched on the operator (``--agent-launched``), else
``unverified`` / ``batch_not_listed``. A remainder under 500 is never sent short (Google
answers inconsistently below 500): it is checked per number instead. The random-sample
counts of every call are summed into ``sample_reach`` for the estimate.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

from rcsqualify.capability.interface import CapabilityProvider, Progress
from rcsqualify.errors import ConfigurationError
from rcsqualify.remote.cache import LookupCache
from rcsqualify.remote.http import HttpLayer, Notify, TokenSource, Unresolved, run_all
from rcsqualify.verdict import RCS_ERROR, RCS_NO, RCS_NOT_LISTED, RCS_YES

SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"
CACHE_NAMESPACE = "rbm"
BATCH_MIN, BATCH_MAX = 500, 10_000
BATCH_RATE = 10.0  # 600 calls a minute


class _GoogleResponse:
    """The three attributes google.auth.transport.Response asks for."""

    def __init__(self, resp: httpx.Response) -> None:
        self.status = resp.status_code
        self.headers = dict(resp.headers)
        self.data = resp.content


class HttpxRequest:
    """google.auth.transport.Request over a synchronous httpx client."""

    def __init__(self, timeout: float = 30.0) -> None:
        self._client = httpx.Client(timeout=timeout)

    def __call__(self, url: str, method: str = "GET", body: Any = None,
                 headers: Any = None, timeout: Any = None, **kwargs: Any) -> _GoogleResponse:
        from google.auth import exceptions

        try:
            resp = self._client.request(method, url, content=body, headers=headers,
                                        timeout=timeout or self._client.timeout)
        except httpx.HTTPError as exc:
            raise exceptions.TransportError(str(exc)) from exc
        return _GoogleResponse(resp)


class ServiceAccountToken(TokenSource):
    def __init__(self, credentials_file: Path) -> None:
        from google.auth import exceptions
        from google.oauth2 import service_account

        try:
            self.credentials = service_account.Credentials.from_service_account_file(
                str(credentials_file), scopes=[SCOPE])
        except (OSError, ValueError, exceptions.GoogleAuthError) as exc:
            raise ConfigurationError(f"cannot use the RBM service-account file "
                                     f"{credentials_file}: {type(exc).__name__}") from exc
        self._lock = asyncio.Lock()
        self._transport = HttpxRequest()
        self.failed: str | None = None

    async def token(self, client: httpx.AsyncClient) -> str:
        from google.auth import exceptions

        async with self._lock:
            if self.failed:
                raise Unresolved(self.failed)
            if not self.credentials.valid:
                try:
                    await asyncio.to_thread(self.credentials.refresh, self._transport)
                except exceptions.RefreshError as exc:
                    raise ConfigurationError("the RBM token endpoint refused the service "
                                             "account; check --rbm-credentials") from exc
                except exceptions.TransportError as exc:
                    self.failed = "token_transport"
                    raise Unresolved("token_transport") from exc
            return str(self.credentials.token)

    def invalidate(self, token: str) -> None:
        if self.credentials.token == token:
            self.credentials.token = None


def _agent_problem(body: Any) -> str | None:
    """A 403 about the agent itself (missing/unknown), not about the number."""
    message = ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message", ""))
    if "agent" in message.lower() and "tester" not in message.lower():
        return message
    return None


class _RbmBase(CapabilityProvider):
    def __init__(self, *, base_url: str, agent_id: str, credentials: Path,
                 cache: LookupCache, rate: float, throttle_pause: float = 60.0,
                 timeout: float = 10.0, concurrency: int = 64, deadline: float = 120.0,
                 notify: Notify | None = None, backoff_initial: float = 0.5,
                 rate_margin: float = 0.03,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.agent_id = agent_id
        self.cache = cache
        self.concurrency = concurrency
        self.token = ServiceAccountToken(credentials)
        self.http = HttpLayer(self.name, rate=rate, throttle_pause=throttle_pause,
                              timeout=timeout, token=self.token, stats=self.stats,
                              notify=notify, transport=transport, deadline=deadline,
                              backoff_initial=backoff_initial, rate_margin=rate_margin)

    def _from_cache(self, e164: list[str], out: np.ndarray) -> list[int]:
        return self.answers_from_cache(self.cache, CACHE_NAMESPACE, e164, out)

    async def _per_number(self, e164: list[str], todo: list[int], out: np.ndarray,
                          progress: Progress | None, counter: dict[str, int]) -> None:
        async def one(i: int) -> None:
            number = e164[i]
            url = f"{self.base_url}/v1/phones/{quote(number, safe='+')}/capabilities"
            params = {"agentId": self.agent_id, "requestId": str(uuid.uuid4())}
            try:
                answer = await self.http.request("GET", url, params=params,
                                                 expected=(403, 404))
            except Unresolved:
                out[i] = RCS_ERROR
            else:
                if answer.status == 403 and (problem := _agent_problem(answer.body)):
                    raise ConfigurationError(f"RBM refused the agent: {problem}; check "
                                             "--agent-id (RCSQUALIFY_RBM_AGENT_ID)")
                capable = answer.status == 200
                out[i] = RCS_YES if capable else RCS_NO
                self.cache.put("cap", CACHE_NAMESPACE, number, "yes" if capable else "no")
            counter["done"] += 1
            if progress:
                progress(counter["done"])

        await run_all(todo, one, self.concurrency)


class RbmProvider(_RbmBase):
    name = "rbm"

    def check_all(self, e164: list[str], progress: Progress | None = None) -> np.ndarray:
        out = np.full(len(e164), RCS_ERROR, dtype=np.uint8)
        todo = self._from_cache(e164, out)
        counter = {"done": len(e164) - len(todo)}

        async def main() -> None:
            async with self.http.session():
                await self._per_number(e164, todo, out, progress, counter)

        if todo:
            asyncio.run(main())
        return out


def plan_batches(n: int, *, low: int = BATCH_MIN, high: int = BATCH_MAX
                 ) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Split n numbers into batchGet calls of ``low``..``high``; balanced sizes.

    Returns the (start, stop) of each call, and the slice left for per-number checks
    when n < ``low`` (never sent short).
    """
    if n < low:
        return [], (0, n) if n else None
    calls = math.ceil(n / high)
    base, extra = divmod(n, calls)
    out, start = [], 0
    for i in range(calls):
        size = base + (1 if i < extra else 0)
        out.append((start, start + size))
        start += size
    return out, None


class RbmBatchProvider(_RbmBase):
    name = "rbm-batch"

    def __init__(self, *, agent_launched: bool = False, **kwargs: Any) -> None:
        kwargs["rate"] = min(kwargs.get("rate", BATCH_RATE), BATCH_RATE)
        super().__init__(**kwargs)
        self.agent_launched = agent_launched
        self.sample_reach = (0, 0)  # summed over the calls' random samples
        self.calls: list[int] = []  # sizes sent, for tests and benchmarks

    def check_all(self, e164: list[str], progress: Progress | None = None) -> np.ndarray:
        out = np.full(len(e164), RCS_ERROR, dtype=np.uint8)
        todo = self._from_cache(e164, out)
        counter = {"done": len(e164) - len(todo)}
        if todo:
            asyncio.run(self._run(e164, todo, out, progress, counter))
        return out

    async def _run(self, e164: list[str], todo: list[int], out: np.ndarray,
                   progress: Progress | None, counter: dict[str, int]) -> None:
        batches, remainder = plan_batches(len(todo))
        url = f"{self.base_url}/v1/users:batchGet"

        async def one(span: tuple[int, int]) -> None:
            idx = todo[span[0]:span[1]]
            users = [e164[i] for i in idx]
            self.calls.append(len(users))
            try:
                answer = await self.http.request("POST", url, json={
                    "users": users, "agentId": self.agent_id}, expected=(403,))
            except Unresolved:
                out[idx] = RCS_ERROR
            else:
                if answer.status == 403:
                    raise ConfigurationError(
                        f"RBM refused the agent: {_agent_problem(answer.body) or 'HTTP 403'}"
                        "; check --agent-id (RCSQUALIFY_RBM_AGENT_ID)")
                body = answer.body if isinstance(answer.body, dict) else {}
                listed = set(body.get("reachableUsers") or [])
                r, t = self.sample_reach or (0, 0)
                self.sample_reach = (r + int(body.get("reachableRandomSampleUserCount", 0)),
                                     t + int(body.get("totalRandomSampleUserCount", 0)))
                learned = []
                for i, number in zip(idx, users, strict=True):
                    if number in listed:
                        out[i] = RCS_YES
                        learned.append((number, "yes"))
                    elif self.agent_launched:
                        out[i] = RCS_NO
                        learned.append((number, "no"))
                    else:
                        out[i] = RCS_NOT_LISTED
                self.cache.put_many("cap", CACHE_NAMESPACE, learned)
            counter["done"] += len(idx)
            if progress:
                progress(counter["done"])

        async with self.http.session():
            await run_all(batches, one, self.concurrency)
            if remainder:
                rest = todo[remainder[0]:remainder[1]]
                await self._per_number(e164, rest, out, progress, counter)
