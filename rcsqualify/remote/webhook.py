"""Posting one JSON message to a webhook (``--notify``), bounded like every request.

Each attempt is one ``transport.fetch`` (a total deadline, a body cap) under the run's
``HttpPolicy``: at most ``NOTIFY_ATTEMPTS`` attempts (fewer if the policy allows
fewer), retried on a transport failure, a 5xx, 408 or 429, after the policy's backoff
doubling from ``retry_backoff``, or the server's ``Retry-After`` when longer — each
wait capped at ``NOTIFY_MAX_WAIT`` and all of them at ``NOTIFY_DEADLINE``: a
notification never holds a cron run for long. Any other answer (a 4xx: a revoked or
mistyped webhook) is final. Nothing is raised: the result says what happened, and the
caller turns a failure into a warning (a failed notification never changes an exit
code).

The URL is a credential (Slack's and Teams' webhook URLs carry their secret in the
path): ``PostResult.shown`` is what messages quote, scheme and host only
(``masking.mask_webhook_url``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from rcsqualify.masking import mask_webhook_url
from rcsqualify.remote.failures import Unrecognized, describe_transport, transport_kind
from rcsqualify.remote.policy import HttpPolicy
from rcsqualify.remote.transport import USER_AGENT, fetch, parse_retry_after

NOTIFY_ATTEMPTS = 3
NOTIFY_MAX_WAIT = 30.0
NOTIFY_DEADLINE = 60.0
_RETRIED = (408, 429)


@dataclass(frozen=True)
class PostResult:
    ok: bool
    attempts: int
    status: int | None  # the last HTTP status, None when none came back
    error: str  # empty when ok
    shown: str  # the URL as messages show it


async def post_json(url: str, body: bytes, policy: HttpPolicy, *,
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                    transport: httpx.AsyncBaseTransport | None = None) -> PostResult:
    shown = mask_webhook_url(url)
    attempts_max = max(1, min(NOTIFY_ATTEMPTS, policy.max_attempts))
    started = time.monotonic()
    wait = policy.retry_backoff
    status: int | None = None
    error = ""
    made = 0
    slept = 0.0  # the waits asked for (an injected sleep may not take real time)
    async with httpx.AsyncClient(transport=transport, follow_redirects=False,
                                 headers={"User-Agent": USER_AGENT}) as client:
        for attempt in range(1, attempts_max + 1):
            made = attempt
            retry_after: float | None = None
            try:
                raw = await fetch(client, "POST", url, timeout=policy.timeout,
                                  max_body=min(policy.max_body, 65_536), content=body,
                                  headers={"Content-Type": "application/json"})
                status, headers = raw.status, raw.headers
            except Unrecognized as exc:
                # an answer whose body we do not read (too large, an unknown encoding):
                # its status still says whether the message was taken, and a 2xx one
                # posted again would be a duplicate alert
                status, headers = exc.status or None, None
                error = f"{shown}: {describe_transport(transport_kind(exc), url)}"
            except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError) as exc:
                status, headers = None, None
                error = f"{shown}: {describe_transport(transport_kind(exc), url)}"
            if status is not None:
                if 200 <= status < 300:
                    return PostResult(True, attempt, status, "", shown)
                error = f"{shown} answered HTTP {status}"
                if status < 500 and status not in _RETRIED:
                    return PostResult(False, attempt, status, error, shown)
                retry_after = parse_retry_after(headers) if headers is not None else None
            if attempt == attempts_max:
                break
            pause = min(max(wait, retry_after or 0.0), NOTIFY_MAX_WAIT)
            spent = max(time.monotonic() - started, slept)
            if spent + pause + policy.timeout > NOTIFY_DEADLINE:
                break
            await sleep(pause)
            slept += pause
            wait *= 2
    return PostResult(False, made, status, error, shown)
