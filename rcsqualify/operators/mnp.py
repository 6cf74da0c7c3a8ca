"""Per-number MNP/HLR look-up over HTTP (CONTRACT §4 step 2).

A generic client for the look-up services aggregators buy: a URL template with a
``{msisdn}`` placeholder (E.164, URL-encoded), a bearer token from
``RCSQUALIFY_MNP_TOKEN`` (optional), and an answer field holding an MCC-MNC or an
operator code (``--mnp-field``; by default ``mccmnc``, then ``operator``). Only mobiles
that no extract answered are asked, paced and cached like the capability providers.
An HTTP 404 means the service does not know the number: the range holder answers. A
look-up unresolved after retries falls back to the range holder too, and makes the
gate ``incomplete`` (exit 3).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

from rcsqualify.capability.interface import ProviderStats
from rcsqualify.errors import InputError
from rcsqualify.numbering.normalize import format_e164
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.operators.portability import operator_mapper
from rcsqualify.remote.cache import LookupCache
from rcsqualify.remote.http import HttpLayer, Notify, StaticToken, Unresolved, run_all
from rcsqualify.settings import Settings

CACHE_NAMESPACE = "mnp"
_UNKNOWN = "-"  # cached "the service does not know this number"


class MnpSource(OperatorSource):
    label = "mnp"

    def __init__(self, *, url_template: str, plan: NumberingPlan, cache: LookupCache,
                 token: str | None = None, field: str | None = None, rate: float = 30.0,
                 throttle_pause: float = 60.0, timeout: float = 10.0, concurrency: int = 64,
                 deadline: float = 120.0, notify: Notify | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 backoff_initial: float = 0.5, rate_margin: float = 0.03) -> None:
        super().__init__()
        if "{msisdn}" not in url_template:
            raise InputError("--mnp-url must contain the {msisdn} placeholder")
        self.url_template = url_template
        self.mapping = operator_mapper(plan)
        self.cache = cache
        self.fields = [field] if field else ["mccmnc", "operator"]
        self.concurrency = concurrency
        self.api = ProviderStats()  # HTTP counts for the report's api block
        self.http = HttpLayer("mnp", rate=rate, throttle_pause=throttle_pause, timeout=timeout,
                              token=StaticToken(token) if token else None, stats=self.api,
                              notify=notify, transport=transport, deadline=deadline,
                              backoff_initial=backoff_initial, rate_margin=rate_margin)

    def _code(self, body: Any) -> str:
        if not isinstance(body, dict):
            return ""
        for name in self.fields:
            value = body.get(name)
            if value not in (None, ""):
                raw = str(value).strip().upper().replace("-", "").replace(" ", "")
                code = self.mapping.get(raw)
                if code is None:
                    self.stats.unmapped += 1
                    if len(self.stats.unmapped_examples) < 5:
                        self.stats.unmapped_examples.append(raw)
                    return raw  # a network we cannot name: still not the target
                return code
        return ""

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        numbers = format_e164(keys).to_pylist()
        out = np.full(len(numbers), "", dtype=object)
        todo: list[int] = []
        for i, cached in enumerate(self.cache.get_many("op", CACHE_NAMESPACE, numbers)):
            if cached is not None:
                out[i] = "" if cached == _UNKNOWN else cached
                self.http.stats.cache_hits += 1
            else:
                todo.append(i)
        self.stats.asked += len(numbers)
        if todo:
            asyncio.run(self._ask(numbers, todo, out))
        self.stats.answered += int(np.count_nonzero(out != ""))
        return out

    async def _ask(self, numbers: list[str], todo: list[int], out: np.ndarray) -> None:
        async def one(i: int) -> None:
            url = self.url_template.replace("{msisdn}", quote(numbers[i], safe=""))
            try:
                answer = await self.http.request("GET", url, expected=(404,))
            except Unresolved:
                self.stats.errors += 1
                return
            code = self._code(answer.body) if answer.status == 200 else ""
            out[i] = code
            self.cache.put("op", CACHE_NAMESPACE, numbers[i], code or _UNKNOWN)

        async with self.http.session():
            await run_all(todo, one, self.concurrency)


def build_mnp_source(s: Settings, plan: NumberingPlan, cache: LookupCache,
                     notify: Notify | None = None) -> MnpSource:
    assert s.mnp_url
    return MnpSource(url_template=s.mnp_url, plan=plan, cache=cache,
                     token=os.environ.get("RCSQUALIFY_MNP_TOKEN") or None, field=s.mnp_field,
                     rate=s.rate, throttle_pause=s.throttle_pause, timeout=s.timeout,
                     concurrency=s.concurrency, deadline=s.deadline, notify=notify,
                     backoff_initial=s.retry_backoff, rate_margin=s.rate_margin)
