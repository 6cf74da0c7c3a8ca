"""Google RCS Business Messaging capability: per number and ``users:batchGet``.

Auth is a service account through google-auth (scope ``rcsbusinessmessaging``); the
file's ``token_uri`` is honoured, which is how the emulator issues tokens. google-auth
refreshes synchronously through a ``google.auth.transport.Request``; ``HttpxRequest``
below is that transport over httpx (the project's HTTP client), run in a thread so the
event loop keeps pacing other requests.

Per number: ``GET {base}/v1/phones/{E.164}/capabilities?agentId=…&requestId=<uuid>``
(a new ``requestId`` for every attempt: Google ignores a repeated one). Recognized
answers only (CONTRACT §10):
- 200 with a ``features`` list → reachable (names are not checked: the list grows over
  time; they are counted in the report). Proto3 JSON leaves an empty list out, so a 200
  ``{}`` is a capabilities message without features: reachable too, as ``features: []``
  is (``--require-feature`` is a BotHub rule). **Unknown fields beside a valid
  ``features`` list are ignored** (forward compatibility, as protobuf JSON clients do:
  Google adds fields to its messages, ``users.batchGet`` gained ``reachableUsersMap``);
  a known field missing or of the wrong type (``features`` not a list of strings, no
  ``features`` beside unknown fields, ``rbmEnabled`` not true), or a body that says it
  failed (an error key, a ``status`` object with a non-zero code), is not recognized.
  batchGet answers follow the same rule (``reachableUsers`` and the two counts).
- 404 with Google's error envelope → not RCS: Google's current reference answers so for
  no RCS, a network where the agent is not launched, and an unlaunched agent asking
  about a non-tester. The envelope must agree with the 404 (``code`` 404, ``status``
  NOT_FOUND; ``failures.agreeing_envelope``): one whose code says 503 or UNAUTHENTICATED
  is a failure, as is a 404 whose message is about the request ("Method not found.": a
  wrong ``--rbm-url`` path answers so).
- 403 whose message names testers → not RCS (older references answered a non-tester so),
  its envelope agreeing (``code`` 403, ``status`` PERMISSION_DENIED), else a failure.
  Every other 403 is a configuration error (exit 2, one line naming the cause, nothing
  cached): the agent (``agentId`` missing or unknown), the API not enabled in the
  project (``SERVICE_DISABLED``), the service account without permission
  (``PERMISSION_DENIED``, "The caller does not have permission").
Anything else is a failure, never cached.

batchGet: ``POST {base}/v1/users:batchGet``, paced at 600 calls/min. Listed numbers are
reachable; the others are ``not_rcs`` only when the user says the agent is launched on the
operator (``--agent-launched``), else ``unverified`` / ``batch_not_listed``. The
random-sample counts of every call are summed into ``sample_reach`` for the estimate.

How many numbers a call: Google's reference (``rbm.proto``) allows "up to 10.000
records" and sets no minimum, but its random-sample counts are 0 below 500 numbers;
Google's own bulk tool (rbm-api-examples, ``rbm-cap-check``) sends 499 a call, "Above
this number, results become a statistical average". By default a base is split into
balanced calls of 500 to 10,000 (they carry the sample estimate); ``--batch-size N``
(1 to 10,000) caps every call at N instead (499: Google's tool; the calls then carry no
sample counts). Either way a base under 500 numbers is checked per number, as before.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import ssl
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

from rcsqualify.capability.interface import CapabilityProvider, Tally
from rcsqualify.errors import ConfigurationError
from rcsqualify.files import read_secret_file
from rcsqualify.remote.answers import SUCCESS_WORDS, about_the_request, says_failed
from rcsqualify.remote.cache import LookupCache, Scope
from rcsqualify.remote.failures import (
    Unresolved,
    agreeing_envelope,
    client_error,
    error_envelope,
)
from rcsqualify.remote.http import Answer, HttpLayer, Notify
from rcsqualify.remote.pacing import QuotaStore, Schedule, schedule_of
from rcsqualify.remote.policy import HttpPolicy, RequestPlan
from rcsqualify.remote.tokens import TokenSource
from rcsqualify.remote.workers import run_all
from rcsqualify.textsafe import safe_text
from rcsqualify.verdict import RCS_NOT_LISTED

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
        try:
            self._client = httpx.Client(timeout=timeout)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise client_error(exc) from exc

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
            info = json.loads(read_secret_file(credentials_file))
            self.credentials = service_account.Credentials.from_service_account_info(
                info, scopes=[SCOPE])
        except (OSError, ValueError, TypeError, exceptions.GoogleAuthError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigurationError(f"cannot use the RBM service-account file "
                                     f"{credentials_file}: {why}") from exc
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


def _refusal(body: Any) -> str:
    """One line naming why RBM answered 403 (a configuration error, not a number's
    verdict): the agent, the API not enabled in the project, or the service account."""
    err = error_envelope(body) or {}
    message = safe_text(str(err.get("message", "")), 160)
    status = safe_text(str(err.get("status", "")), 40)
    reasons = {str(d.get("reason")) for d in err.get("details", [])
               if isinstance(d, dict)} if isinstance(err.get("details"), list) else set()
    said = f"HTTP 403{' ' + status if status else ''}: {message or 'no message'}"
    if "SERVICE_DISABLED" in reasons or re.search(r"has not been used in project|is "
                                                  r"disabled|not enabled", message, re.I):
        return (f"RBM: the RBM API is not enabled in the service account's Google Cloud "
                f"project (SERVICE_DISABLED; {said}); enable it for that project, or check "
                "--rbm-credentials")
    if "agent" in message.lower():
        return f"RBM refused the agent ({said}); check --agent-id (RCSQUALIFY_RBM_AGENT_ID)"
    return (f"RBM refused the service account ({said}); check that --rbm-credentials is "
            "a service account of the agent's project with access to the RBM API")


def google_failed(body: Any) -> bool:
    """A 200 that says it failed: an error key, an outcome word of failure
    (``answers.says_failed``), or a ``status`` that is not a success: a
    ``google.rpc.Status`` object (the shape Google's capability callback used to report a
    failed check beside its features) with a code other than 0 (OK; proto3 JSON leaves a
    0 out), a word other than a success word (a ``google.rpc.Code`` name such as
    ``NOT_FOUND`` or ``UNAUTHENTICATED`` is no word ``says_failed`` knows), anything
    else; or a top-level ``code`` other than 0 (a ``google.rpc.Status`` body itself)."""
    if says_failed(body):
        return True
    if not isinstance(body, dict):
        return False
    status = body.get("status")
    if isinstance(status, dict):
        return not _rpc_ok(status.get("code"))
    if status is not None and not (isinstance(status, str)
                                   and status.strip().lower() in SUCCESS_WORDS):
        return True
    return not _rpc_ok(body.get("code"))


def _rpc_ok(code: Any) -> bool:
    """A ``google.rpc.Status`` code that says OK: absent, 0 or "0" (not ``false``)."""
    return code is None or (type(code) is int and code == 0) or code == "0"


def capability_features(body: Any) -> list[str] | None:
    """The features of a 200 per-number answer, or None when it is not one we recognize.

    Recognized: ``{}`` (proto3 JSON leaves an empty list out: no features), or an object
    whose ``features`` is a list of strings, *whatever other fields it carries*: Google
    adds fields to its messages over time (``BatchGetUsersResponse`` gained
    ``reachableUsersMap``) and a protobuf JSON client ignores fields it does not know, so a
    new field must not turn every answer into a failure. Not recognized: a body that says
    it failed (``google_failed``), ``features`` missing beside other fields (an object of
    unknown fields only is some other message, e.g. a wrong path) or of the wrong type,
    ``rbmEnabled`` (a field of Google's capability messages) present and not true."""
    if not isinstance(body, dict) or google_failed(body):
        return None
    if not body:
        return []
    features = body.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        return None
    if body.get("rbmEnabled", True) is not True:
        return None
    return features


def _names_testers(body: Any) -> bool:
    """A 403 that may mean "this user is not a tester of the unlaunched agent"."""
    err = error_envelope(body)
    message = str(err.get("message", "")).lower() if err else ""
    return "tester" in message


def rbm_scope(base_url: str, agent_id: str) -> Scope:
    """The cache scope of an agent: per-number look-ups, ``batchGet`` and what ``rcsqualify
    learn`` learns from its campaigns all answer for one another."""
    return Scope("rbm", base_url.rstrip("/"), agent_id)


class _RbmBase(CapabilityProvider):
    def __init__(self, *, base_url: str, agent_id: str, credentials: Path,
                 cache: LookupCache, policy: HttpPolicy, notify: Notify | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 schedule: Schedule | None = None, quota: QuotaStore | None = None
                 ) -> None:
        self.base_url = base_url.rstrip("/")
        super().__init__(cache, rbm_scope(self.base_url, agent_id))
        self.agent_id = agent_id
        self.policy = policy
        self.token = ServiceAccountToken(credentials)
        self.http = HttpLayer(
            self.name, policy, token=self.token, stats=self.stats, notify=notify,
            transport=transport,
            schedule=schedule or schedule_of(quota, self.name, self.base_url, agent_id),
            url_hint="--rbm-url (RCSQUALIFY_RBM_URL) and --agent-id")

    def interpret(self, answer: Answer, url: str) -> str:
        """yes/no for a recognized per-number answer; raises otherwise."""
        assert self.http is not None
        body = answer.body
        if answer.status == 200:
            features = capability_features(body)
            if features is not None:
                self.stats.feature_names(features)
                self.http.accept(answer, "reachable" if features else "reachable_no_feature")
                return "yes"
            raise self.http.reject(answer, "no_feature_list", url)
        if error_envelope(body) is None:
            raise self.http.reject(answer, f"unrecognized_{answer.status}", url)
        err = agreeing_envelope(body, answer.status)
        if answer.status == 403:
            if _names_testers(body):
                if err is None:  # "tester" under an envelope saying another thing
                    raise self.http.reject(answer, "unrecognized_403", url)
                self.http.accept(answer, "not_tester")
                return self.negative(answer)
            raise ConfigurationError(_refusal(body))
        if err is None or about_the_request(str(err.get("message", ""))):
            raise self.http.reject(answer, "unrecognized_404", url)
        self.http.accept(answer, "not_found")
        return self.negative(answer)

    #: the statuses a per-number look-up answers with (403: not a tester; 404: not RCS)
    answer_statuses = (200, 403, 404)

    def request_parts(self, e164: str) -> tuple[str, str, dict[str, Any]]:
        """Method, URL and httpx keyword arguments of the look-up of one number (the
        token is added at the send; a retry gets a new ``requestId``): ``answer_one``
        and ``probe``."""
        return ("GET", f"{self.base_url}/v1/phones/{quote(e164, safe='+')}/capabilities",
                {"params": {"agentId": self.agent_id, "requestId": str(uuid.uuid4())}})

    async def answer_one(self, e164: str) -> str:
        assert self.http is not None
        method, url, kwargs = self.request_parts(e164)
        answer = await self.http.request(
            method, url, expected=(403, 404),
            fresh_params=lambda: {"requestId": str(uuid.uuid4())}, **kwargs)
        return self.interpret(answer, url)

    async def check_per_number(self, e164: Sequence[str], todo: list[int], out: np.ndarray,
                               tally: Tally) -> None:
        await CapabilityProvider.ask(self, e164, todo, out, tally)


class RbmProvider(_RbmBase):
    name = "rbm"
    per_number = True


def plan_batches(n: int, *, low: int = BATCH_MIN, high: int = BATCH_MAX,
                 size: int | None = None
                 ) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Split n numbers into batchGet calls of ``low``..``high``; balanced sizes. With
    ``size`` (``--batch-size``), balanced calls of at most ``size`` numbers instead.

    Returns the (start, stop) of each call, and the slice left for per-number checks
    when n < ``low`` (a base under 500 is checked per number, whatever ``size``).
    """
    if size is not None and not 1 <= size <= BATCH_MAX:
        raise ValueError(f"batch size must be 1 to {BATCH_MAX}, got {size}")
    if n < low:
        return [], (0, n) if n else None
    calls = math.ceil(n / (size if size is not None else high))
    base, extra = divmod(n, calls)
    out, start = [], 0
    for i in range(calls):
        size = base + (1 if i < extra else 0)
        out.append((start, start + size))
        start += size
    return out, None


def plan_batch_calls(n: int, policy: HttpPolicy, size: int | None = None,
                     batch_rate: float = BATCH_RATE) -> RequestPlan:
    """The requests ``rbm-batch`` makes for ``n`` numbers: its batchGet calls (at most
    ``batch_rate`` a second) and, under ``BATCH_MIN``, one per number."""
    batches, rest = plan_batches(n, size=size)
    single = rest[1] - rest[0] if rest else 0
    return RequestPlan(numbers=n, requests=len(batches) + single,
                       seconds=len(batches) / min(batch_rate, policy.paced)
                       + single / policy.paced,
                       rate=policy.paced, mode="batch",
                       details={"batches": len(batches)})


def _count(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key, 0)  # proto3 JSON leaves zero counts out
    if isinstance(value, str) and value.isdigit():  # int64 fields may come as strings
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


class RbmBatchProvider(_RbmBase):
    name = "rbm-batch"

    def __init__(self, *, agent_launched: bool = False, batch_size: int | None = None,
                 batch_rate: float = BATCH_RATE, **kwargs: Any) -> None:
        if batch_size is not None and not 1 <= batch_size <= BATCH_MAX:
            raise ConfigurationError(f"--batch-size must be 1 to {BATCH_MAX}, got "
                                     f"{batch_size}")
        kwargs["policy"] = kwargs["policy"].with_rate(batch_rate)  # 600 calls a minute
        super().__init__(**kwargs)
        self.agent_launched = agent_launched
        self.batch_size = batch_size
        self.sample_reach = (0, 0)  # summed over the calls' random samples
        #: (numbers asked, numbers listed) in the calls that carried a sample: the
        #: population the sample describes (pipeline.batch_estimate)
        self.sample_requests = (0, 0)

    async def ask(self, e164: Sequence[str], todo: list[int], out: np.ndarray,
                  tally: Tally) -> None:
        assert self.http is not None
        http = self.http
        batches, remainder = plan_batches(len(todo), size=self.batch_size)
        url = f"{self.base_url}/v1/users:batchGet"

        async def one(span: tuple[int, int]) -> None:
            idx = todo[span[0]:span[1]]
            users = [e164[i] for i in idx]
            try:
                answer = await http.request("POST", url, json={
                    "users": users, "agentId": self.agent_id}, expected=(403,))
                if answer.status == 403:
                    raise ConfigurationError(_refusal(answer.body))
                body = answer.body
                if google_failed(body):
                    raise http.reject(answer, "error_in_200", url)
                listed_raw = body.get("reachableUsers", []) if isinstance(body, dict) else None
                reach = _count(body, "reachableRandomSampleUserCount") \
                    if isinstance(body, dict) else None
                total = _count(body, "totalRandomSampleUserCount") \
                    if isinstance(body, dict) else None
                if (not isinstance(listed_raw, list)
                        or not all(isinstance(u, str) for u in listed_raw)
                        or reach is None or total is None):
                    raise http.reject(answer, "unrecognized_batch_answer", url)
                http.accept(answer, "batch")
            except Unresolved:
                tally.tick(len(idx))
                return  # these numbers stay RCS_ERROR
            listed = set(listed_raw)
            r, t = self.sample_reach or (0, 0)
            self.sample_reach = (r + reach, t + total)
            if total:  # the sample describes this whole request, listed numbers included
                n, k = self.sample_requests
                self.sample_requests = (n + len(users), k + sum(u in listed for u in users))
            learned = []
            for i, number in zip(idx, users, strict=True):
                if number in listed:
                    learned.append((i, number, "yes"))
                elif self.agent_launched:
                    learned.append((i, number, "no"))
                else:
                    out[i] = RCS_NOT_LISTED
            self.learned(out, learned)
            tally.tick(len(idx))

        await run_all(batches, one, self.policy.concurrency)
        if remainder:
            await self.check_per_number(e164, todo[remainder[0]:remainder[1]], out, tally)
