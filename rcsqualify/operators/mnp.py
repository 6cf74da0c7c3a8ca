"""Per-number MNP/HLR look-up over HTTP (CONTRACT §4 step 2, §10).

One client for every look-up service; what differs between services is a *profile*
(``operators/mnp_profiles.py``): method, path, body, auth scheme, where the serving
network is in the answer, and how the service says "unknown" and "error". ``generic``
(the default) keeps the original meaning of ``--mnp-url``, a URL template with
``{msisdn}``; for a named profile ``--mnp-url`` is the service's base URL. Only mobiles
that no extract answered are asked, paced and cached like the capability providers.

Recognized answers only:
- an answer matching one of the profile's error rules → a failure: retried when the rule
  says the error is transient, never cached, never "unknown";
- whatever the profile, a body that says it failed at its top level (``"result":
  "failed"``, ``"success": false``, a non-empty error key: ``remote/answers.py``) → a
  failure, even when it also names a network;
- an answer matching an unassigned rule (hlr-lookups' ``INVALID_MSISDN``: "not currently
  assigned to any subscriber") → ``OPERATOR_UNASSIGNED``: the number is ``invalid`` /
  ``unassigned`` (a message to it would fail), cached;
- an answer matching an unknown rule, or a JSON object with one of the profile's unknown
  statuses (``generic``: 404) → the service does not know the number: cached, the range
  holder answers (an answer that says nothing about the number);
- the network field(s) holding an MCC-MNC (5-6 digits, MCC and MNC joined when split) or
  a known ARCEP code → that operator (an MCC-MNC we cannot name is still "not the target");
- anything else (a missing field, a value of another shape — text, markup, control
  characters —, a non-JSON answer): a failure. The number is ``unverified`` /
  ``operator_error``, nothing is cached, and the gate is ``incomplete`` (exit 3).
Every answer is counted by kind in ``api.providers.mnp.answers`` (CONTRACT §10).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import numpy as np

from rcsqualify.errors import ConfigurationError, InputError
from rcsqualify.masking import mask_url
from rcsqualify.numbering.normalize import format_e164
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.operators.mnp_profiles import (
    Credentials,
    Profile,
    Rule,
    dig,
    digest_signature,
    is_missing,
    load_profile,
)
from rcsqualify.operators.vocabulary import operator_mapper
from rcsqualify.remote.answers import says_failed
from rcsqualify.remote.cache import LookupCache, Scope
from rcsqualify.remote.failures import Unresolved
from rcsqualify.remote.http import Answer, HttpLayer, Notify
from rcsqualify.remote.pacing import QuotaStore, Schedule, schedule_of
from rcsqualify.remote.policy import HttpPolicy
from rcsqualify.remote.stats import ProviderStats
from rcsqualify.remote.tokens import StaticToken
from rcsqualify.remote.transport import Raw
from rcsqualify.remote.workers import run_all
from rcsqualify.textsafe import safe_text
from rcsqualify.verdict import OPERATOR_ERROR, OPERATOR_UNASSIGNED

_UNKNOWN = "-"  # cached "the service does not know this number"
# ASCII digits only: a full-width or Arabic-Indic "20801" must not pass as a network
_MCCMNC = re.compile(r"[0-9]{5,6}")
_MCC = re.compile(r"[0-9]{3}")
_MNC = re.compile(r"[0-9]{2,3}")
def _plausible_network(mccmnc: str) -> bool:
    """An MCC-MNC no table names may still be a real network (abroad); MCC 000-199 and
    800-999 are not country codes, and French MNCs have two digits."""
    mcc = int(mccmnc[:3])
    return 200 <= mcc <= 799 and not (mcc == 208 and len(mccmnc) == 6)


#: "unknown" answers in a row at the start of a run that stop it (see ``_remember``)
UNKNOWN_AT_START = 20
#: seconds between this machine's clock and a service's ``Date`` that a refused signed
#: request blames on the clock (a Date has whole seconds, and the answer took a while)
CLOCK_TOLERANCE = 30.0


def clock_skew(date: str | None, now: float) -> float | None:
    """Seconds this machine's clock (``now``, Unix time) is ahead of an HTTP ``Date``
    header (negative: behind); None when there is no usable one."""
    if not date:
        return None
    try:
        server = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return None
    if server.tzinfo is None:
        return None
    return now - server.timestamp()
@dataclass(frozen=True)
class Verdict:
    """What one answer means: an operator code, "" (unknown), or None (retry)."""

    code: str | None
    kind: str


class _TransientAnswer(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class MnpSource(OperatorSource):
    label = "mnp"

    def __init__(self, *, url: str, plan: NumberingPlan, cache: LookupCache,
                 policy: HttpPolicy, profile: Profile | None = None,
                 credentials: Credentials | None = None, field: str | None = None,
                 notify: Notify | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 schedule: Schedule | None = None, quota: QuotaStore | None = None,
                 now: Any = time.time) -> None:
        super().__init__()
        self.profile = (profile or load_profile("generic")).with_field(field)
        p = self.profile
        if p.is_template:
            if "{msisdn}" not in url:
                raise InputError("--mnp-url must contain the {msisdn} placeholder")
            service = url.split("{msisdn}")[0]
            scope = Scope("mnp", url, field or "")  # the scope the cache always had
        else:
            if "{msisdn}" in url or not url.startswith(("http://", "https://")):
                raise InputError(f"--mnp-url is the base URL of the service for "
                                 f"--mnp-profile {p.name} (e.g. {p.url or 'https://…'}), "
                                 "without {msisdn}")
            service = url.rstrip("/")
            # answers are only valid under the rules that read them: a user's file (or
            # an edited one) never shares a scope with the built-in profile of its name
            scope = Scope("mnp", service, f"profile:{p.name}"
                          + ("" if p.source == "built-in" else f"#{profile_fingerprint(p)}"))
        self.url = url
        self.credentials = credentials or Credentials("none")
        self._now = now
        self.mapping = operator_mapper(plan)
        self._codes = frozenset(self.mapping.values())
        self.cache = cache
        self.namespace = cache.scope(scope)
        # "unknown" answers before the first operator answer are held, not cached: a
        # wrong path answering a JSON 404 looks exactly like "unknown number"
        self._operators_seen = 0
        self._held: list[tuple[str, str]] = []  # (number, cached value)
        self.policy = policy
        self.counts = ProviderStats()  # HTTP counts for the report's api block
        self.api = self.counts
        token = (StaticToken(self.credentials.values[0])
                 if self.credentials.scheme == "bearer" and self.credentials.values else None)
        hint = ("--mnp-url (RCSQUALIFY_MNP_URL)" if p.is_template else
                f"--mnp-url (RCSQUALIFY_MNP_URL) and --mnp-profile {p.name}")
        self.http = HttpLayer(
            f"mnp ({p.name})" if not p.is_template else "mnp", policy, token=token,
            stats=self.counts, notify=notify, transport=transport,
            schedule=schedule or schedule_of(quota, "mnp", service, self.credentials.identity),
            url_hint=hint)

    # -- requests ---------------------------------------------------------------------
    def request_parts(self, msisdn: str) -> tuple[str, str, dict[str, Any]]:
        """Method, URL and httpx keyword arguments of the look-up of one number (the
        digest headers are added at the send, see ``signer``)."""
        p = self.profile
        kwargs: dict[str, Any] = {}
        headers = {"Accept": "application/json"}
        params = p.params_for(msisdn)
        if params:
            kwargs["params"] = params
        body = p.body_for(msisdn)
        if body is not None:
            kwargs["content"] = body
            headers["Content-Type"] = "application/json"
        if self.credentials.scheme == "basic":
            user, password = self.credentials.values
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{user}:{password}".encode()).decode()
        kwargs["headers"] = headers
        return p.method, p.url_for(self.url, msisdn), kwargs

    def auth_headers(self, msisdn: str) -> dict[str, str]:
        """The headers the auth scheme adds at the send (bearer, digest)."""
        if self.credentials.scheme == "bearer" and self.credentials.values:
            return {"Authorization": f"Bearer {self.credentials.values[0]}"}
        if self.credentials.scheme == "digest":
            return self._digest(self.profile.signed_path(msisdn),
                                self.profile.body_for(msisdn))
        return {}

    def _digest(self, path: str, body: bytes | None) -> dict[str, str]:
        key, secret = self.credentials.values
        stamp = int(self._now())
        return {"X-Digest-Key": key, "X-Digest-Timestamp": str(stamp),
                "X-Digest-Signature": digest_signature(secret, path, stamp,
                                                       self.profile.method, body)}

    def signer(self, msisdn: str) -> Callable[[], dict[str, str]] | None:
        """The digest headers of ``msisdn``'s look-up, made anew for every attempt right
        before its send (``HttpLayer.request``'s ``fresh_headers``), so a retry never
        carries a stale timestamp; None unless the scheme is digest. Passed with the
        request, not through a context variable beside it (issue #24)."""
        if self.credentials.scheme != "digest":
            return None
        path, body = self.profile.signed_path(msisdn), self.profile.body_for(msisdn)
        return lambda: self._digest(path, body)

    # -- answers ----------------------------------------------------------------------
    def judge(self, answer: Answer) -> Verdict:
        """What an answer means under the profile, without counting it: an operator
        code, "" for unknown; raises ``_TransientAnswer`` for a transient error and
        ``_Failure`` for anything not recognized."""
        p = self.profile
        body = answer.body
        for rule, message in p.stop:
            if rule.matches(body):  # a misconfiguration the service names (Twilio 60614)
                raise ConfigurationError(f"{self.http.name}: {message}")
        if answer.status in p.stop_statuses and answer.status not in p.ok + \
                p.unknown_statuses:
            said = body.get("message") if isinstance(body, dict) else None
            raise ConfigurationError(
                f"{self.http.name}: HTTP {answer.status} "
                f"{safe_text(str(said or 'without a message'), 120)}; check "
                f"{self.http.url_hint}")
        if answer.status in p.unknown_statuses and answer.status not in p.ok:
            if isinstance(body, dict):
                return Verdict("", "unknown")
            raise _Failure(f"unrecognized_{answer.status}")
        if not isinstance(body, dict):
            raise _Failure("not_an_object")
        for rule in p.errors:
            if rule.matches(body):
                kind = _error_kind(rule)
                if rule.transient:
                    raise _TransientAnswer(kind)
                raise _Failure(kind)
        if says_failed(body):  # whatever the profile: {"mccmnc": …, "result": "failed"}
            raise _Failure("error_in_body")
        if any(rule.matches(body) for rule in p.unassigned):
            return Verdict(OPERATOR_UNASSIGNED, "unassigned")
        if any(rule.matches(body) for rule in p.unknown):
            return Verdict("", "unknown")
        raw = self._network(body)
        code = self.mapping.get(raw)
        if code is not None:
            return Verdict(code, "operator")
        if _MCCMNC.fullmatch(raw) and _plausible_network(raw):
            return Verdict(raw, "unnamed_network")
        raise _Failure("bad_operator_code")

    def _network(self, body: dict[str, Any]) -> str:
        p = self.profile
        if p.mcc:
            mcc, mnc = dig(body, p.mcc), dig(body, p.mnc)
            if is_missing(mcc) or is_missing(mnc):
                raise _Failure("missing_field")
            # an MNC sent as a number has lost its leading zero ("01" or "001"?): refuse
            if not (isinstance(mcc, str) and isinstance(mnc, str)
                    and _MCC.fullmatch(mcc.strip()) and _MNC.fullmatch(mnc.strip())):
                raise _Failure("bad_operator_code")
            return mcc.strip() + mnc.strip()
        for path in p.network:
            value = dig(body, path)
            if is_missing(value):
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise _Failure("bad_operator_code")
            return str(value).strip().upper().replace("-", "").replace(" ", "")
        raise _Failure("missing_field")

    def interpret(self, answer: Answer, url: str) -> str:
        """Operator code, or "" when the service does not know the number; counts the
        answer; raises ``Unresolved`` for anything it did not recognize."""
        try:
            verdict = self.judge(answer)
        except _Failure as exc:
            raise self.http.reject(answer, exc.kind, url) from None
        self.http.accept(answer, verdict.kind)
        if verdict.kind == "unnamed_network":
            assert verdict.code is not None
            self.stats.unmapped += 1
            if len(self.stats.unmapped_examples) < 5:
                self.stats.unmapped_examples.append(verdict.code)
        return verdict.code or ""

    def explain(self, answer: Answer) -> tuple[bool, str]:
        """(recognized, what rcsqualify makes of it) for one answer, counting nothing
        (``rcsqualify probe``)."""
        try:
            verdict = self.judge(answer)
        except _TransientAnswer as exc:
            return False, f"an error the profile calls transient ({exc.kind}): asked again, " \
                "then a failure, never cached"
        except _Failure as exc:
            return False, f"not recognized ({exc.kind}): a failure (operator_error), " \
                "never cached"
        if verdict.kind == "unknown":
            return True, "the service does not know the number: cached, the range holder " \
                "answers"
        if verdict.kind == "unassigned":
            return True, "no subscriber holds the number: invalid / unassigned (cached)"
        if verdict.kind == "unnamed_network":
            return True, f"network {verdict.code}, no ARCEP operator known for it (not the " \
                "target operator)"
        return True, f"operator {verdict.code}"

    def _remember(self, msisdn: str, code: str) -> None:
        """Cache an answer the moment it arrives, except "unknown" and "unassigned"
        answers while no number of the run has had an operator: held, and if the first
        ``UNKNOWN_AT_START`` answers are all such, the run stops (exit 2)."""
        value = code or _UNKNOWN
        if code and code != OPERATOR_UNASSIGNED:
            self._operators_seen += 1
            held, self._held = self._held, []
            self.cache.put_many("op", self.namespace, [(msisdn, code), *held])
            return
        if self._operators_seen:
            self.cache.put("op", self.namespace, msisdn, value)
            return
        self._held.append((msisdn, value))
        if len(self._held) >= UNKNOWN_AT_START:
            raise ConfigurationError(
                f"mnp: the first {len(self._held)} answers from "
                f"{mask_url(self.request_parts(msisdn)[1])} all said the number is unknown "
                "to the service (or held by no subscriber); a wrong path answering 404, or "
                "numbers sent in a form the service does not read, look like this: check "
                "--mnp-url (RCSQUALIFY_MNP_URL) and --mnp-profile")

    def _from_cache(self, cached: str | None) -> str | None:
        """A cached answer as a code ("" for unknown), held to what a live answer may be:
        an ARCEP code or a plausible MCC-MNC. Anything else (a shared store is written by
        anyone who can reach it: markup, escape sequences) is asked again, never shown."""
        if cached is None:
            return None
        if cached == _UNKNOWN:
            return ""
        if cached == OPERATOR_UNASSIGNED:
            return cached
        if cached in self._codes or (_MCCMNC.fullmatch(cached) is not None
                                     and _plausible_network(cached)):
            return cached
        return None

    # -- the batch --------------------------------------------------------------------
    def lookup(self, keys: np.ndarray) -> np.ndarray:
        numbers = format_e164(keys).to_pylist()
        out = np.full(len(numbers), "", dtype=object)
        todo: list[int] = []
        for i, raw in enumerate(self.cache.get_many("op", self.namespace, numbers)):
            if (cached := self._from_cache(raw)) is not None:
                out[i] = cached
                self.counts.cache_hits += 1
            else:
                todo.append(i)
        self.stats.asked += len(numbers)
        if todo:
            asyncio.run(self._ask(numbers, todo, out))
        self.stats.answered += int(np.count_nonzero((out != "") & (out != OPERATOR_ERROR)))
        return out

    async def send_once(self, msisdn: str) -> tuple[Raw, dict[str, str]]:
        """The look-up of one number sent once as a run sends it (signed, paced), the
        answer not read (``probe``); the headers sent, for masking."""
        method, url, kwargs = self.request_parts(msisdn)
        return await self.http.send_once(method, url, fresh_headers=self.signer(msisdn),
                                         **kwargs)

    async def ask_one(self, msisdn: str) -> str:
        """The operator of one number ("" unknown); ``Unresolved`` on a failure.

        A transient error inside an answer is asked again, with the policy's back-off,
        up to its attempts and per-number deadline (then a failure)."""
        method, url, kwargs = self.request_parts(msisdn)
        signed = self.signer(msisdn)
        p = self.policy
        started = time.monotonic()
        attempt = 0
        while True:
            answer = await self.http.request(
                method, url, ok=self.profile.ok,
                expected=self.profile.unknown_statuses + self.profile.stop_statuses,
                fresh_headers=signed, **kwargs)
            attempt += 1
            try:
                return self.interpret(answer, url)
            except _TransientAnswer as exc:
                wait = min(p.retry_backoff * 2 ** (attempt - 1), 10.0)
                if attempt >= p.max_attempts or \
                        time.monotonic() - started + wait > p.deadline:
                    raise self.http.reject(answer, exc.kind, url) from None
                self.counts.retries += 1
                self.counts.answer(answer.status, False, exc.kind)
                await asyncio.sleep(wait)

    streams = True

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[object]:
        """The HTTP session; a refusal of the credentials (HTTP 401) is told in the
        profile's words on the way out, whichever path (stream or batch) met it."""
        try:
            async with self.http.session() as opened:
                yield opened
        except ConfigurationError as exc:
            raise self._refusal(exc) from None

    def _refusal(self, exc: ConfigurationError) -> ConfigurationError:
        """A 401 names the profile's variables; with a signed (digest) request, a clock
        off from the service's ``Date`` is named first: the signature carries a
        timestamp the service checks (hlr-lookups' SDK reads the server's time first)."""
        if "HTTP 401" not in str(exc):
            return exc
        if self.credentials.scheme == "digest":
            skew = clock_skew(self.http.refused_date, self._now())
            if skew is not None and abs(skew) > CLOCK_TOLERANCE:
                return ConfigurationError(
                    f"{self.http.name}: the service refused the signed request (HTTP 401): "
                    f"clock off by {abs(skew):.0f} s ({'ahead of' if skew > 0 else 'behind'} "
                    "the service's Date header); the signature carries a timestamp: set "
                    "this machine's clock right (NTP) and run again")
        names = self.profile.credential_names
        if names:
            return ConfigurationError(f"{exc}; for --mnp-profile {self.profile.name} "
                                      f"check {' and '.join(names)}")
        return exc

    def cached(self, e164: Sequence[str]) -> list[str | None]:
        out = [self._from_cache(raw)
               for raw in self.cache.get_many("op", self.namespace, list(e164))]
        hits = [code for code in out if code is not None]
        self.stats.asked += len(hits)  # the others are counted if ``resolve`` asks them
        self.counts.cache_hits += len(hits)
        self.stats.answered += sum(1 for code in hits if code)
        return out

    async def resolve(self, e164: str) -> str:
        """One number, cache first (for the stream of issue #14: see ``stages.py``)."""
        self.stats.asked += 1
        cached = self._from_cache(self.cache.get_many("op", self.namespace, [e164])[0])
        if cached is not None:
            self.counts.cache_hits += 1
            code = cached
        else:
            try:
                code = await self.ask_one(e164)
            except Unresolved:
                self.stats.errors += 1
                return OPERATOR_ERROR
            self._remember(e164, code)
        if code:
            self.stats.answered += 1
        return code

    async def _ask(self, numbers: list[str], todo: list[int], out: np.ndarray) -> None:
        async def one(i: int) -> None:
            try:
                code = await self.ask_one(numbers[i])
            except Unresolved:
                self.stats.errors += 1
                out[i] = OPERATOR_ERROR
                return
            out[i] = code
            self._remember(numbers[i], code)

        async with self.session():
            await run_all(todo, one, self.policy.concurrency)
        if self.http.notes:
            self.stats.extra["notes"] = list(self.http.notes)


class _Failure(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _error_kind(rule: Rule) -> str:
    return f"error_{rule.kind}" if rule.kind else "error_in_body"


def profile_fingerprint(profile: Profile) -> str:
    """A short hash of everything in a profile that decides what an answer means."""
    import dataclasses
    import hashlib

    return hashlib.sha256(repr(dataclasses.asdict(profile)).encode()).hexdigest()[:10]
