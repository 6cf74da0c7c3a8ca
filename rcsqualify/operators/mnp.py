"""Per-number MNP/HLR look-up over HTTP (CONTRACT §4 step 2, §10).

A generic client for the look-up services aggregators buy: a URL template with a
``{msisdn}`` placeholder (E.164, URL-encoded), a bearer token from
``RCSQUALIFY_MNP_TOKEN`` (optional), and an answer field holding an MCC-MNC or an
operator code (``--mnp-field``; by default ``mccmnc``, then ``operator``). Only mobiles
that no extract answered are asked, paced and cached like the capability providers.

Recognized answers only:
- 200 with the field holding an MCC-MNC (5-6 digits) or a known ARCEP code → that
  operator (an MCC-MNC we cannot name is still "not the target");
- a JSON 404 → the service does not know the number: the range holder answers;
- a 200 carrying an error (``error``, ``error_text``, a non-zero ``status``), a 200
  without the field, a value of another shape (text, markup, control characters), a
  non-JSON 404: a failure. The number is ``unverified`` / ``operator_error``, nothing is
  cached, and the gate is ``incomplete`` (exit 3).
"""

from __future__ import annotations

import asyncio
import os
import re
from urllib.parse import quote

import httpx
import numpy as np

from rcsqualify.errors import InputError
from rcsqualify.numbering.normalize import format_e164
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.operators.portability import operator_mapper
from rcsqualify.remote.cache import LookupCache, Scope
from rcsqualify.remote.http import (
    Answer,
    HttpLayer,
    HttpPolicy,
    Notify,
    StaticToken,
    Unresolved,
    run_all,
)
from rcsqualify.remote.pacing import Schedule, shared_schedule
from rcsqualify.remote.stats import ProviderStats
from rcsqualify.verdict import OPERATOR_ERROR

_UNKNOWN = "-"  # cached "the service does not know this number"
_MCCMNC = re.compile(r"\d{5,6}")
_CODE = re.compile(r"[A-Z0-9]{2,10}")
_OK_STATUS = (0, "0", "ok", "OK", "success", "SUCCESS", None)


class MnpSource(OperatorSource):
    label = "mnp"

    def __init__(self, *, url_template: str, plan: NumberingPlan, cache: LookupCache,
                 policy: HttpPolicy, token: str | None = None, field: str | None = None,
                 notify: Notify | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 schedule: Schedule | None = None) -> None:
        super().__init__()
        if "{msisdn}" not in url_template:
            raise InputError("--mnp-url must contain the {msisdn} placeholder")
        self.url_template = url_template
        self.mapping = operator_mapper(plan)
        self.cache = cache
        self.namespace = cache.scope(Scope("mnp", url_template, field or ""))
        self.fields = [field] if field else ["mccmnc", "operator"]
        self.policy = policy
        self.counts = ProviderStats()  # HTTP counts for the report's api block
        self.api = self.counts
        service = url_template.split("{msisdn}")[0]
        self.http = HttpLayer(
            "mnp", policy, token=StaticToken(token) if token else None, stats=self.counts,
            notify=notify, transport=transport,
            schedule=schedule or shared_schedule("mnp", service),
            url_hint="--mnp-url (RCSQUALIFY_MNP_URL)")

    def interpret(self, answer: Answer, url: str) -> str:
        """Operator code, or "" when the service does not know the number; raises
        ``Unresolved`` for anything it did not recognize."""
        body = answer.body
        if answer.status == 404:
            if isinstance(body, dict):
                self.http.accept(answer, "unknown")
                return ""
            raise self.http.reject(answer, "unrecognized_404", url)
        if not isinstance(body, dict):
            raise self.http.reject(answer, "not_an_object", url)
        status = body.get("status")
        if body.get("error") or body.get("error_text") or body.get("errors") or (
                "status" in body and status not in _OK_STATUS
                and not isinstance(status, dict)):
            raise self.http.reject(answer, "error_in_body", url)
        for name in self.fields:
            value = body.get(name)
            if value in (None, ""):
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise self.http.reject(answer, "bad_operator_code", url)
            raw = str(value).strip().upper().replace("-", "").replace(" ", "")
            code = self.mapping.get(raw)
            if code is not None:
                self.http.accept(answer, "operator")
                return code
            if _MCCMNC.fullmatch(raw):
                # a network we cannot name: still not the target operator
                self.http.accept(answer, "unnamed_network")
                self.stats.unmapped += 1
                if len(self.stats.unmapped_examples) < 5:
                    self.stats.unmapped_examples.append(raw)
                return raw
            raise self.http.reject(answer, "bad_operator_code", url)
        raise self.http.reject(answer, "missing_field", url)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        numbers = format_e164(keys).to_pylist()
        out = np.full(len(numbers), "", dtype=object)
        todo: list[int] = []
        for i, cached in enumerate(self.cache.get_many("op", self.namespace, numbers)):
            if cached is not None:
                out[i] = "" if cached == _UNKNOWN else cached
                self.counts.cache_hits += 1
            else:
                todo.append(i)
        self.stats.asked += len(numbers)
        if todo:
            asyncio.run(self._ask(numbers, todo, out))
        self.stats.answered += int(np.count_nonzero((out != "") & (out != OPERATOR_ERROR)))
        return out

    async def _ask(self, numbers: list[str], todo: list[int], out: np.ndarray) -> None:
        async def one(i: int) -> None:
            url = self.url_template.replace("{msisdn}", quote(numbers[i], safe=""))
            try:
                answer = await self.http.request("GET", url, expected=(404,))
                code = self.interpret(answer, url)
            except Unresolved:
                self.stats.errors += 1
                out[i] = OPERATOR_ERROR
                return
            out[i] = code
            self.cache.put("op", self.namespace, numbers[i], code or _UNKNOWN)

        async with self.http.session():
            await run_all(todo, one, self.policy.concurrency)
        if self.http.notes:
            self.stats.extra["notes"] = list(self.http.notes)


def mnp_token_from_env() -> str | None:
    return os.environ.get("RCSQUALIFY_MNP_TOKEN") or None
