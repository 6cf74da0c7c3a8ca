"""A local emulator of the APIs rcsqualify talks to, for dry runs and the test suite.

It speaks Orange's token endpoint, BotHub's single and bulk capability endpoints
(``orange.py``), Google RBM's token, per-number and ``users:batchGet`` endpoints
(``google.py``), a generic MNP look-up and look-alikes of Twilio Lookup v2 and
hlr-lookups.com (``lookups.py``), as APIS.md and the services' public docs describe them,
with:
- a strict quota per API family (``bothub``, ``rbm``, ``mnp``): more than ``quota``
  requests in any one-second window get HTTP 429 (``quota_grace`` forgives a few
  milliseconds of network jitter on the arrival times);
- injectable faults per request (``http_500``, ``http_503``, ``timeout``, ``reset``,
  ``malformed``, ``token_expiry``), on the first ``fault_attempts`` requests for a number,
  each with probability p, or (``fault_attempts`` = 0) on every request of a share p of
  the numbers; chosen by a seeded hash, so runs are repeatable;
- deterministic answers: a number is capable when a seeded hash of it falls under
  ``capable_share``, its MNP operator is drawn the same way; a numbers file
  (``number;capable;operator``) overrides both.

Everything is in memory, in ``state.py`` (apart from the routes, which are here);
``/_emulator/config``, ``/_emulator/stats`` and ``/_emulator/reset`` let tests reconfigure
and inspect a running emulator. It binds 127.0.0.1 only. The emulator imports no client
code (only the neutral ``rcsqualify/bulkwindow.py``): it must not test the client
against itself.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from rcsqualify.emulator import campaign, google, lookups, orange
from rcsqualify.emulator.common import Reset
from rcsqualify.emulator.state import (
    FAULT_KINDS,
    EmulatorConfig,
    EmulatorState,
    load_numbers,
)

__all__ = ["FAULT_KINDS", "EmulatorConfig", "EmulatorState", "build_app", "load_numbers",
           "serve"]

Handler = Callable[[EmulatorState, Request], Awaitable[Response]]


async def portal(state: EmulatorState, request: Request) -> Response:
    """A login page answering 200 to anything: what a wrong base URL often hits."""
    return HTMLResponse("<!doctype html><html><body><h1>Welcome</h1><form>"
                        "</form></body></html>")


async def admin_stats(state: EmulatorState, request: Request) -> Response:
    return JSONResponse(state.stats())


async def admin_config(state: EmulatorState, request: Request) -> Response:
    if request.method == "POST":
        try:
            state.config.update(await request.json())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(asdict(state.config) | {"numbers": len(state.config.numbers)})


async def admin_reset(state: EmulatorState, request: Request) -> Response:
    state.reset()
    if request.method == "POST" and (await request.body()):
        data = await request.json()
        state.config = EmulatorConfig()
        state.config.update(data)
    return JSONResponse({"ok": True})


#: path, handler, methods: every route of the emulator in one table
ROUTES: list[tuple[str, Handler, list[str]]] = [
    ("/oauth/v3/token", orange.token, ["POST"]),
    ("/bothub/v1/bot/v1/{bot}/contactCapabilities", orange.single, ["GET"]),
    ("/bothub/v1/bot/v2/{bot}/bulkContactCapabilities", orange.bulk, ["GET", "POST"]),
    ("/rbm/token", google.token, ["POST"]),
    ("/rbm/v1/phones/{phone}/capabilities", google.capabilities, ["GET"]),
    ("/rbm/v1/users:batchGet", google.batch_get, ["POST"]),
    ("/mnp/lookup", lookups.generic, ["GET"]),
    ("/v2/PhoneNumbers/{number}", lookups.twilio, ["GET"]),  # Twilio Lookup v2
    ("/api/v2/hlr-lookup", lookups.hlr_lookups, ["POST"]),  # hlr-lookups.com
    ("/portal/{rest:path}", portal, ["GET", "POST"]),
    ("/_emulator/stats", admin_stats, ["GET"]),
    ("/_emulator/config", admin_config, ["GET", "POST"]),
    ("/_emulator/reset", admin_reset, ["POST"]),
    ("/_emulator/campaign", campaign.campaign, ["POST"]),  # rcsqualify learn's tests
]


def build_app(config: EmulatorConfig | None = None) -> Starlette:
    state = EmulatorState(config or EmulatorConfig())
    routes = [Route(path, functools.partial(handler, state), methods=methods)
              for path, handler, methods in ROUTES]
    app = Starlette(routes=routes)
    app.state.emulator = state
    return _ResetMiddleware(app)  # type: ignore[return-value]


class _ResetMiddleware:
    """Turns an injected ``reset`` fault into a connection cut mid-response."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Reset:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'{"capab', "more_body": True})
            raise ConnectionResetError("injected reset") from None


def serve(config: EmulatorConfig, port: int = 8787, host: str = "127.0.0.1",
          announce: Any = print) -> None:
    """Run the emulator until interrupted; ``port`` 0 picks a free port."""
    import socket

    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the emulator only binds to the loopback interface")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    # listening before the line that says so: a client that reads it and connects at
    # once (the tests' fixture) was refused while uvicorn started, on a loaded machine
    sock.listen(2048)
    actual = sock.getsockname()[1]
    app = build_app(config)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False,
                                           lifespan="off", timeout_keep_alive=30))
    announce(f"rcsqualify emulator listening on http://127.0.0.1:{actual}")
    server.run(sockets=[sock])
