"""What every emulated service shares: error envelopes, the guard every API request
passes (latency, quota, canned answers, auth, faults), tokens."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from rcsqualify.emulator.state import EmulatorState


class Reset(Exception):
    """An injected ``reset`` fault: the connection is cut mid-answer (see app.py)."""


def error(status: int, message: str, reason: str = "") -> JSONResponse:
    """Google's (and the GSMA MaaP) error envelope."""
    return JSONResponse({"error": {"code": status, "message": message,
                                   "status": reason or str(status)}}, status_code=status)


async def form(request: Request) -> dict[str, str]:
    """URL-encoded form body (without starlette's optional multipart dependency)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


def trickle(body: Any, delay: float) -> StreamingResponse:
    """A JSON answer sent one byte every ``delay`` seconds (a stuck proxy)."""
    data = json.dumps(body).encode()

    async def chunks() -> Any:
        for i in range(len(data)):
            await asyncio.sleep(delay)
            yield data[i:i + 1]

    return StreamingResponse(chunks(), media_type="application/json")


def throttled(state: EmulatorState) -> JSONResponse:
    headers = {}
    if state.config.retry_after is not None:
        headers["Retry-After"] = str(state.config.retry_after)
    return JSONResponse({"error": {"code": 429, "message": "Too Many Requests",
                                   "status": "RESOURCE_EXHAUSTED"}},
                        status_code=429, headers=headers)


def canned(item: dict[str, Any]) -> Response:
    return Response(str(item.get("body", "")).encode(), status_code=int(item.get("status", 200)),
                    headers=dict(item.get("headers") or {}),
                    media_type=item.get("content_type", "text/plain"))


def bearer_ok(request: Request, tokens: dict[str, float]) -> str | None:
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return None
    token = auth[7:]
    exp = tokens.get(token)
    if exp is None or exp < time.time():
        return None
    return token


def issue_token(state: EmulatorState, store: dict[str, float]) -> JSONResponse:
    token = secrets.token_urlsafe(24)
    store[token] = time.time() + state.config.token_ttl
    state.tokens_issued += 1
    advertised = state.config.token_expires_in
    return JSONResponse({"access_token": token, "token_type": "Bearer",
                         "expires_in": state.config.token_ttl if advertised is None
                         else advertised})


async def apply_fault(kind: str | None, state: EmulatorState) -> Response | None:
    if kind is None:
        return None
    if kind in ("http_500", "http_503"):
        return error(int(kind[5:]), "injected server error", "UNAVAILABLE")
    if kind == "timeout":
        await asyncio.sleep(state.config.timeout_delay)
        return error(504, "late answer after an injected timeout")
    if kind == "malformed":
        return Response(b'{"capabilities": ["chat", ', media_type="application/json")
    if kind == "reset":
        raise Reset()
    return None


async def guarded(state: EmulatorState, request: Request, family: str, number: str,
                  tokens: dict[str, float] | None) -> Response | None:
    """Latency, quota, canned answers, bearer auth and faults, in that order. None = go
    on and answer."""
    if state.config.latency:
        await asyncio.sleep(state.config.latency)
    if not state.admit(family):
        return throttled(state)
    item = state.injected(family)
    if item is not None:
        return canned(item)
    token = None
    if tokens is not None:
        token = bearer_ok(request, tokens)
        if token is None:
            return error(401, "invalid or expired token", "UNAUTHENTICATED")
    fault = state.fault_for(family, number)
    if fault == "token_expiry" and token is not None and tokens is not None:
        tokens.pop(token, None)
        return error(401, "token expired", "UNAUTHENTICATED")
    return await apply_fault(fault, state)
