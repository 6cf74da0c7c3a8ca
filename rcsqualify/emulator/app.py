"""A local emulator of the APIs rcsqualify talks to, for dry runs and the test suite.

It speaks Orange's token endpoint, BotHub's single and bulk capability endpoints,
Google RBM's token, per-number and ``users:batchGet`` endpoints, and a generic MNP
look-up, as APIS.md describes them, with:
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

Everything is in memory; ``/_emulator/config``, ``/_emulator/stats`` and
``/_emulator/reset`` let tests reconfigure and inspect a running emulator. It binds
127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import secrets
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rcsqualify import bulkwindow

PARIS = ZoneInfo("Europe/Paris")
FAULT_KINDS = ("http_500", "http_503", "timeout", "reset", "malformed", "token_expiry")
FEATURES = ["RICHCARD_STANDALONE", "RICHCARD_CAROUSEL", "ACTION_CREATE_CALENDAR_EVENT",
            "ACTION_DIAL", "ACTION_OPEN_URL", "ACTION_SHARE_LOCATION", "ACTION_VIEW_LOCATION",
            "FUTURE_FEATURE_X"]
MNP_DISTRIBUTION = [("20801", 40), ("20810", 25), ("20820", 20), ("20815", 15)]


@dataclass
class EmulatorConfig:
    seed: int = 0
    capable_share: float = 0.7
    quota: dict[str, float] = field(default_factory=lambda: {
        "bothub": 30.0, "rbm": 10.0, "mnp": 30.0})
    quota_grace: float = 0.02
    retry_after: float | None = None
    faults: dict[str, float] = field(default_factory=dict)
    fault_attempts: int = 1
    timeout_delay: float = 5.0
    latency: float = 0.0
    token_ttl: int = 3600
    token_expires_in: int | None = None  # what the token answer says, when not the truth
    client_id: str = "emulator-client"
    client_secret: str = "emulator-secret"
    mnp_token: str | None = None
    rbm_agent: str = "emulator-agent"
    rbm_launched_mccmnc: list[str] = field(default_factory=lambda: ["20801"])
    bulk_window: str = "always"  # always | never | clock (22:00-07:00 Paris)
    bulk_polls: int = 2  # GETs answered PENDING before DONE
    bulk_max: int = 10_000
    force_429: int = 0  # answer the next N requests (any family) with 429
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # -- hostile and misconfigured services (CONTRACT §10 tests) --------------------
    #: quota per interval ("spike arrest", burst 1): an arrival closer than
    #: 1/quota - quota_grace to the previous one of its family gets a 429
    spike_arrest: bool = False
    #: canned answers for the next requests of a family: [{"family", "status",
    #: "body" (text), "content_type", "count", "headers"}]
    inject: list[dict[str, Any]] = field(default_factory=list)
    capabilities: list[str] | None = None  # BotHub list for capable numbers
    bulk_status: str = "DONE"  # final job status (FAILED, WEIRD… to test)
    bulk_job_id: str | None = None  # a fixed (hostile) job id
    bulk_submit_body: dict[str, Any] | None = None  # replaces {"jobId": …}
    bulk_results: list[Any] | None = None  # replaces the DONE results
    slow_body: float = 0.0  # seconds between the bytes of a BotHub answer
    mnp_body: dict[str, Any] | None = None  # replaces the MNP 200 body

    def update(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if not hasattr(self, key):
                raise ValueError(f"unknown emulator setting {key!r}")
            if key == "quota" and isinstance(value, int | float):
                value = dict.fromkeys(("bothub", "rbm", "mnp"), float(value))
            elif key == "quota":
                value = {**self.quota, **value}
            setattr(self, key, value)


def load_numbers(path: Path) -> dict[str, dict[str, Any]]:
    """``number;capable;operator`` (E.164; yes/no/empty; MCC-MNC or code/empty)."""
    out: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh, delimiter=";"):
            if not row or row[0].lower() in ("number", "msisdn"):
                continue
            entry: dict[str, Any] = {}
            if len(row) > 1 and row[1].strip():
                entry["capable"] = row[1].strip().lower() in ("yes", "true", "1", "oui")
            if len(row) > 2 and row[2].strip():
                entry["operator"] = row[2].strip()
            out[row[0].strip()] = entry
    return out


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.tokens: dict[str, float] = {}
        self.rbm_tokens: dict[str, float] = {}
        self.arrivals: dict[str, deque[float]] = {}
        self.log: dict[str, list[float]] = {}
        self.requests: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.faults_sent: Counter[str] = Counter()
        self.asked: Counter[str] = Counter()  # per family:number, answered requests
        self.attempts: Counter[str] = Counter()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.jobs_submitted = 0
        self.batch_sizes: list[int] = []
        self.tokens_issued = 0
        self.request_ids: Counter[str] = Counter()
        self.last_arrival: dict[str, float] = {}

    # -- deterministic answers -------------------------------------------------------
    def _hash(self, *parts: object) -> float:
        text = ":".join(str(p) for p in (self.config.seed, *parts))
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64

    def capable(self, number: str) -> bool:
        entry = self.config.numbers.get(number, {})
        if "capable" in entry:
            return bool(entry["capable"])
        return self._hash("cap", number) < self.config.capable_share

    def mccmnc(self, number: str) -> str | None:
        entry = self.config.numbers.get(number, {})
        if "operator" in entry:
            return str(entry["operator"])
        x = self._hash("mnp", number) * 100
        for code, weight in MNP_DISTRIBUTION:
            if x < weight:
                return code
            x -= weight
        return MNP_DISTRIBUTION[-1][0]

    # -- quota and faults --------------------------------------------------------------
    def admit(self, family: str) -> bool:
        """Record an arrival; False when it is over the family's quota."""
        now = time.monotonic()
        self.requests[family] += 1
        self.log.setdefault(family, []).append(now)
        if self.config.force_429 > 0:
            self.config.force_429 -= 1
            self.throttled[family] += 1
            return False
        quota = self.config.quota.get(family, 30.0)
        if self.config.spike_arrest:
            last = self.last_arrival.get(family)
            if last is not None and now - last < 1.0 / quota - self.config.quota_grace:
                self.throttled[family] += 1
                return False
            self.last_arrival[family] = now
            return True
        window = self.arrivals.setdefault(family, deque())
        horizon = now - 1.0 + self.config.quota_grace
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= quota:
            self.throttled[family] += 1
            return False
        window.append(now)
        return True

    def fault_for(self, family: str, number: str) -> str | None:
        key = f"{family}:{number}"
        attempt = self.attempts[key]
        self.attempts[key] += 1
        if self.config.fault_attempts and attempt >= self.config.fault_attempts:
            return None
        # fault_attempts = 0: the same numbers fail on every request (a share p of them)
        draw = attempt if self.config.fault_attempts else 0
        for kind, p in self.config.faults.items():
            if p > 0 and self._hash("fault", kind, number, draw) < p:
                self.faults_sent[kind] += 1
                return kind
        return None

    def injected(self, family: str) -> Response | None:
        """The next canned answer for ``family``, if a test asked for one."""
        for item in self.config.inject:
            if item.get("family", family) == family and item.get("count", 1) > 0:
                item["count"] = item.get("count", 1) - 1
                return Response(str(item.get("body", "")).encode(),
                                status_code=int(item.get("status", 200)),
                                headers=dict(item.get("headers") or {}),
                                media_type=item.get("content_type", "text/plain"))
        return None

    def stats(self) -> dict[str, Any]:
        return {
            "duplicate_request_ids": sum(c - 1 for c in self.request_ids.values() if c > 1),
            "requests": dict(self.requests), "throttled": dict(self.throttled),
            "faults": dict(self.faults_sent), "asked": dict(self.asked),
            "jobs_submitted": self.jobs_submitted, "batch_sizes": self.batch_sizes,
            "tokens_issued": self.tokens_issued,
            "arrivals": {k: v[-200_000:] for k, v in self.log.items()},
            "max_in_window": {k: _max_in_window(v, 1.0 - self.config.quota_grace)
                              for k, v in self.log.items()},
        }


def _max_in_window(times: list[float], width: float) -> int:
    best = lo = 0
    for hi in range(len(times)):
        while times[hi] - times[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _error(status: int, message: str, reason: str = "") -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message,
                                   "status": reason or str(status)}}, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    """URL-encoded form body (without starlette's optional multipart dependency)."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


def _trickle(body: Any, delay: float) -> StreamingResponse:
    """A JSON answer sent one byte every ``delay`` seconds (a stuck proxy)."""
    import json

    data = json.dumps(body).encode()

    async def chunks() -> Any:
        for i in range(len(data)):
            await asyncio.sleep(delay)
            yield data[i:i + 1]

    return StreamingResponse(chunks(), media_type="application/json")


class _Reset(Exception):
    pass


async def _apply_fault(kind: str | None, state: EmulatorState) -> Response | None:
    if kind is None:
        return None
    if kind in ("http_500", "http_503"):
        return _error(int(kind[5:]), "injected server error", "UNAVAILABLE")
    if kind == "timeout":
        await asyncio.sleep(state.config.timeout_delay)
        return _error(504, "late answer after an injected timeout")
    if kind == "malformed":
        return Response(b'{"capabilities": ["chat", ', media_type="application/json")
    if kind == "reset":
        raise _Reset()
    return None


def build_app(config: EmulatorConfig | None = None) -> Starlette:
    state = EmulatorState(config or EmulatorConfig())

    def throttled() -> JSONResponse:
        headers = {}
        if state.config.retry_after is not None:
            headers["Retry-After"] = str(state.config.retry_after)
        return JSONResponse({"error": {"code": 429, "message": "Too Many Requests",
                                       "status": "RESOURCE_EXHAUSTED"}},
                            status_code=429, headers=headers)

    def bearer_ok(request: Request, tokens: dict[str, float]) -> str | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        token = auth[7:]
        exp = tokens.get(token)
        if exp is None or exp < time.time():
            return None
        return token

    async def guarded(request: Request, family: str, number: str,
                      tokens: dict[str, float] | None) -> Response | None:
        """Latency, quota, auth and faults, in that order. None = go on and answer."""
        if state.config.latency:
            await asyncio.sleep(state.config.latency)
        if not state.admit(family):
            return throttled()
        canned = state.injected(family)
        if canned is not None:
            return canned
        token = None
        if tokens is not None:
            token = bearer_ok(request, tokens)
            if token is None:
                return _error(401, "invalid or expired token", "UNAUTHENTICATED")
        fault = state.fault_for(family, number)
        if fault == "token_expiry" and token is not None:
            tokens.pop(token, None)  # type: ignore[union-attr]
            return _error(401, "token expired", "UNAUTHENTICATED")
        return await _apply_fault(fault, state)

    async def orange_token(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        expected = base64.b64encode(
            f"{state.config.client_id}:{state.config.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await _form(request)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        return issue_token(state.tokens)

    def issue_token(store: dict[str, float]) -> JSONResponse:
        token = secrets.token_urlsafe(24)
        store[token] = time.time() + state.config.token_ttl
        state.tokens_issued += 1
        advertised = state.config.token_expires_in
        return JSONResponse({"access_token": token, "token_type": "Bearer",
                             "expires_in": state.config.token_ttl if advertised is None
                             else advertised})

    async def bothub_single(request: Request) -> Response:
        number = request.query_params.get("userContact", "")
        early = await guarded(request, "bothub", number, state.tokens)
        if early is not None:
            return early
        if not number.startswith("+"):
            return _error(400, "userContact must be an E.164 number", "INVALID_ARGUMENT")
        state.asked[f"bothub:{number}"] += 1
        if state.capable(number):
            caps = state.config.capabilities
            body = {"capabilities": caps if caps is not None else [
                "chatBotCommunication", "chat", "fileTransfer"]}
            if state.config.slow_body:
                return _trickle(body, state.config.slow_body)
            return JSONResponse(body)
        return _error(404, "contact is not RCS capable", "NOT_FOUND")

    def window_open() -> bool:
        mode = state.config.bulk_window
        if mode == "always":
            return True
        if mode == "never":
            return False
        return bulkwindow.is_open(datetime.now(PARIS))  # the client's assumed window

    async def bothub_bulk(request: Request) -> Response:
        early = await guarded(request, "bothub", "bulk", state.tokens)
        if early is not None:
            return early
        if not window_open():
            return _error(405, "Method Not Allowed: bulk capability requests are accepted "
                          "from 22:00 to 07:00 Paris time", "METHOD_NOT_ALLOWED")
        if request.method == "POST":
            try:
                body = await request.json()
                contacts = list(body["userContacts"])
            except (ValueError, KeyError, TypeError):
                return _error(400, "body must be {\"userContacts\": [...]}",
                              "INVALID_ARGUMENT")
            if not contacts or len(contacts) > state.config.bulk_max:
                return _error(400, f"1 to {state.config.bulk_max} userContacts per job",
                              "INVALID_ARGUMENT")
            new_id = state.config.bulk_job_id or secrets.token_hex(8)
            state.jobs[new_id] = {"contacts": contacts, "polls": 0}
            state.jobs_submitted += 1
            for c in contacts:
                state.asked[f"bulk:{c}"] += 1
            if state.config.bulk_submit_body is not None:
                return JSONResponse(state.config.bulk_submit_body, status_code=202)
            return JSONResponse({"jobId": new_id}, status_code=202)
        job_id = request.query_params.get("jobId", "")
        job = state.jobs.get(job_id)
        if job is None:
            return _error(404, "unknown jobId", "NOT_FOUND")
        job["polls"] += 1
        if job["polls"] <= state.config.bulk_polls:
            return JSONResponse({"status": "PENDING"})
        if state.config.bulk_status != "DONE":
            return JSONResponse({"status": state.config.bulk_status})
        results = state.config.bulk_results
        if results is None:
            caps = state.config.capabilities or ["chatBotCommunication", "chat"]
            results = [{"userContact": c, "capabilities": caps if state.capable(c) else []}
                       for c in job["contacts"]]
        return JSONResponse({"status": "DONE", "results": results})

    async def rbm_token(request: Request) -> Response:
        form = await _form(request)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not \
                form.get("assertion"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return issue_token(state.rbm_tokens)

    def agent_error(agent: str | None) -> Response | None:
        if not agent:
            return _error(403, "Error looking up the RBM agent (ID: null)",
                          "PERMISSION_DENIED")
        if agent != state.config.rbm_agent:
            return _error(403, f"Error looking up the RBM agent (ID: {agent})",
                          "PERMISSION_DENIED")
        return None

    def rbm_reachable(number: str) -> bool:
        return state.capable(number) and (state.mccmnc(number) or "") in \
            state.config.rbm_launched_mccmnc

    async def rbm_capabilities(request: Request) -> Response:
        number = request.path_params["phone"]
        early = await guarded(request, "rbm", number, state.rbm_tokens)
        if early is not None:
            return early
        bad = agent_error(request.query_params.get("agentId"))
        if bad is not None:
            return bad
        if not request.query_params.get("requestId"):
            return _error(400, "requestId is required", "INVALID_ARGUMENT")
        state.request_ids[request.query_params["requestId"]] += 1
        state.asked[f"rbm:{number}"] += 1
        if rbm_reachable(number):
            return JSONResponse({"features": FEATURES})
        return _error(404, "Requested entity was not found.", "NOT_FOUND")

    async def rbm_batch(request: Request) -> Response:
        early = await guarded(request, "rbm", "batch", state.rbm_tokens)
        if early is not None:
            return early
        try:
            body = await request.json()
            users = list(body["users"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "body must be {\"users\": [...], \"agentId\": ...}",
                          "INVALID_ARGUMENT")
        bad = agent_error(body.get("agentId"))
        if bad is not None:
            return bad
        if len(users) > 10_000 or len(set(users)) != len(users):
            return _error(400, "up to 10,000 unique users", "INVALID_ARGUMENT")
        state.batch_sizes.append(len(users))
        for u in users:
            state.asked[f"batch:{u}"] += 1
        reachable = [u for u in users if rbm_reachable(u)]
        if len(users) < 500:
            sample: list[str] = []
        else:
            sample = [u for u in users if state._hash("sample", u) < 0.75]
        return JSONResponse({
            "reachableUsers": reachable,
            "totalRandomSampleUserCount": len(sample),
            "reachableRandomSampleUserCount": sum(1 for u in sample if state.capable(u)),
        })

    async def mnp_lookup(request: Request) -> Response:
        number = request.query_params.get("msisdn", "")
        early = await guarded(request, "mnp", number, None)
        if early is not None:
            return early
        if state.config.mnp_token and request.headers.get(
                "authorization") != f"Bearer {state.config.mnp_token}":
            return _error(401, "bad token", "UNAUTHENTICATED")
        state.asked[f"mnp:{number}"] += 1
        if state.config.mnp_body is not None:
            return JSONResponse(state.config.mnp_body)
        code = state.mccmnc(number)
        if code is None or code == "":
            return _error(404, "unknown number", "NOT_FOUND")
        return JSONResponse({"msisdn": number, "mccmnc": code, "ported": code != "20801"})

    async def portal(request: Request) -> Response:
        """A login page answering 200 to anything: what a wrong base URL often hits."""
        return HTMLResponse("<!doctype html><html><body><h1>Welcome</h1><form>"
                            "</form></body></html>")

    async def admin_stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def admin_config(request: Request) -> Response:
        if request.method == "POST":
            try:
                state.config.update(await request.json())
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(asdict(state.config) | {"numbers": len(state.config.numbers)})

    async def admin_reset(request: Request) -> Response:
        state.reset()
        if request.method == "POST" and (await request.body()):
            data = await request.json()
            state.config = EmulatorConfig()
            state.config.update(data)
        return JSONResponse({"ok": True})

    routes = [
        Route("/oauth/v3/token", orange_token, methods=["POST"]),
        Route("/bothub/v1/bot/v1/{bot}/contactCapabilities", bothub_single, methods=["GET"]),
        Route("/bothub/v1/bot/v2/{bot}/bulkContactCapabilities", bothub_bulk,
              methods=["GET", "POST"]),
        Route("/rbm/token", rbm_token, methods=["POST"]),
        Route("/rbm/v1/phones/{phone}/capabilities", rbm_capabilities, methods=["GET"]),
        Route("/rbm/v1/users:batchGet", rbm_batch, methods=["POST"]),
        Route("/mnp/lookup", mnp_lookup, methods=["GET"]),
        Route("/portal/{rest:path}", portal, methods=["GET", "POST"]),
        Route("/_emulator/stats", admin_stats, methods=["GET"]),
        Route("/_emulator/config", admin_config, methods=["GET", "POST"]),
        Route("/_emulator/reset", admin_reset, methods=["POST"]),
    ]
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
        except _Reset:
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
    actual = sock.getsockname()[1]
    app = build_app(config)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False,
                                           lifespan="off", timeout_keep_alive=30))
    announce(f"rcsqualify emulator listening on http://127.0.0.1:{actual}")
    server.run(sockets=[sock])
