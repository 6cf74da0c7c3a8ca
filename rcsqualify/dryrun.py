"""``--dry-run`` (``check`` and ``refresh``): what a run would ask, and nothing asked.

It reads and normalizes as the run does (footer rows left out alike), attributes with
the offline sources, then consults the cache for **every** stage with the services'
own readers: MNP's fresh cached answers settle operators (``sample_auto.
attribute_cached``, as ``--sample auto`` does), the capability providers' cache says
which target numbers are answered (``answers_from_cache``), a fixed ``--sample`` draws
the very numbers the run will draw (``pipeline.fixed_sample``), and the provider
registry's ``plan`` turns numbers into requests and time.

Counts are of **numbers asked**. A count that depends on answers not known yet is an
upper bound (``"bound": "up to"``): capability behind MNP look-ups still to make (an
MNP answer may move a number to or away from the target operator), the second route
likewise, and ``--sample auto`` (it stops when decided). Otherwise it is exact: the
run asks exactly that many numbers of that service.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rcsqualify.costs import lookup_cost
from rcsqualify.display import ProgressReporter
from rcsqualify.numbering.plan import NumberingPlan, load_plan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.pipeline import CheckResult, run_check
from rcsqualify.runner import open_contacts
from rcsqualify.settings import Settings, input_notes
from rcsqualify.validation import validate_settings

if TYPE_CHECKING:
    from rich.console import Console

    from rcsqualify.capability.interface import CapabilityProvider
    from rcsqualify.remote.cache import LookupCache

EXACT = "exact"
UP_TO = "up to"


def execute_dry_run(s: Settings, console: Console) -> dict[str, Any]:
    """Read, normalize, attribute with the offline sources, consult the cache for every
    remote stage, and count what each service would be asked: numbers (exact, or up to),
    requests, and the time at the quota (bulk: jobs and the window). No request is
    made and no verdict given; nothing is written."""
    from rcsqualify.verdict import KIND, SOURCE

    validate_settings(s)
    plan = load_plan()
    source = open_contacts(s)
    try:
        for note in input_notes(s, source.format):
            console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
        offline: list[OperatorSource] = []
        if s.portability or s.portability_db:
            from rcsqualify.wiring import make_portability_source

            offline.append(make_portability_source(s, plan))
        reporter = ProgressReporter(console, enabled=not s.quiet, rate=s.rate)
        depends = False  # whether the numbers asked depend on a contact's other answers
        calls: int | None = 1  # calls a provider may get (rounds of look-ups; None: any)
        try:
            with reporter.running():
                if source.per_contact:
                    from rcsqualify.contact_check import run_contact_check

                    result = run_contact_check(
                        source, plan, target_operator=s.operator, operator_sources=offline,
                        progress=reporter, max_numbers=s.max_numbers_per_contact,
                        all_numbers=True)
                    assert result.contacts is not None
                    assert result.contacts.all_numbers is not None
                    # a sample over contacts draws contacts, each asking what its
                    # choice needs: counted as the run without a sample, up to
                    held = np.diff(result.contacts.grouping.start)
                    depends = bool((held > 1).any() or s.sample is not None
                                   or s.sample_auto)
                    # one call per round, a round per number a contact holds; --sample
                    # auto resolves each batch of contacts in rounds of its own
                    calls = None if s.sample_auto else max(1, int(held.max(initial=1)))
                    result = replace(result, distinct=result.contacts.all_numbers)
                else:
                    result = run_check(source, plan, target_operator=s.operator,
                                       operator_sources=offline, progress=reporter)
        finally:
            for src in offline:
                src.close()
        d = result.distinct
        mobile = d.kind == KIND["mobile"]
        out: dict[str, Any] = {"input": source.info.as_dict(), "mobiles": int(mobile.sum()),
                               "answered_offline": int(np.count_nonzero(
                                   mobile & (d.source == SOURCE["portability"]))),
                               "providers": {}}
        if not s.remote:
            return out
        from rcsqualify.wiring import make_cache

        cache = make_cache(s)
        try:
            # before the stages below settle operators in ``d`` (contacts: up to, below)
            if s.sample_auto and not source.per_contact:
                out["sample_auto"] = plan_sample_auto(s, result, plan, cache)
            out["providers"] = plan_services(s, result, plan, cache, depends=depends,
                                             calls=calls)
        finally:
            cache.close()
        return out
    finally:
        source.close()


def plan_services(s: Settings, result: CheckResult, plan: NumberingPlan,
                  cache: LookupCache, *, depends: bool = False, calls: int | None = 1
                  ) -> dict[str, Any]:
    """Each remote stage's numbers to ask, from the cache, in the run's order: MNP for
    the mobiles the offline sources left, then capability for the target operator's
    mobiles, then the second route for the others'. ``depends``: whether a contact's
    later numbers are asked only if its earlier ones' answers leave its choice open
    (every count an upper bound then). ``calls``: how many times the run may call a
    provider, each call with part of the numbers (contacts: a round per number a
    contact holds; None: no bound but the numbers), which a bulk or batch service's
    requests depend on (``_split_calls``)."""
    from rcsqualify.providers import make_mnp_source, make_other_route, make_provider
    from rcsqualify.sample_auto import attribute_cached
    from rcsqualify.verdict import KIND, OPERATOR_ERROR, OPERATOR_UNASSIGNED, SOURCE

    d = result.distinct
    mobile = d.kind == KIND["mobile"]
    pending = mobile & (d.source != SOURCE["portability"])
    providers: dict[str, Any] = {}
    streaming = make_mnp_source(s, plan, cache) if s.mnp_url else None
    try:
        # MNP: the pending mobiles without a fresh cached answer, exactly (a sample
        # auto run asks only those it draws: up to)
        unknown = attribute_cached(d, streaming, pending)
        if streaming is not None:
            numbers = int(np.count_nonzero(pending))
            ask = int(np.count_nonzero(unknown))
            providers["mnp"] = _entry(s, "mnp", numbers, numbers - ask, ask,
                                      UP_TO if s.sample_auto or depends else EXACT)
    finally:
        if streaming is not None:
            streaming.close()
    target = mobile & ~unknown & (d.operator == s.operator)
    if s.capability != "none":
        provider = make_provider(s, cache)
        assert provider is not None
        try:
            providers[s.capability] = _capability(s, provider, d.key, target, unknown,
                                                  depends=depends, calls=calls)
        finally:
            provider.close()
    if s.other_route:
        other = make_other_route(s, cache)
        assert other is not None
        known_other = mobile & ~unknown & ~target & ~np.isin(
            d.operator, ["", OPERATOR_ERROR, OPERATOR_UNASSIGNED])
        try:
            name = f"{s.other_route} (other route)"
            providers[name] = _capability(s, other, d.key, known_other, unknown,
                                          service=s.other_route, sample=False,
                                          depends=depends, calls=calls)
        finally:
            other.close()
    return providers


def _capability(s: Settings, provider: CapabilityProvider, keys: np.ndarray,
                known: np.ndarray, unknown: np.ndarray, *, service: str | None = None,
                sample: bool = True, depends: bool = False, calls: int | None = 1
                ) -> dict[str, Any]:
    """One capability stage: the ``known`` numbers it would check (operator known now)
    and, when MNP answers are still to come, the ``unknown`` ones it may check too."""
    from rcsqualify.pipeline import fixed_sample
    from rcsqualify.remote.keys import E164Numbers

    service = service or s.capability
    sample = sample and not depends  # contacts: a draw of N contacts is no draw of N numbers
    candidates = np.flatnonzero(known | unknown)
    bound = UP_TO if depends or unknown.any() or (sample and s.sample_auto) else EXACT
    if sample and s.sample is not None and not unknown.any():
        candidates = fixed_sample(candidates, s.sample, s.seed)  # the run's very draw
    codes = np.zeros(len(candidates), np.uint8)
    todo = provider.answers_from_cache(E164Numbers(keys[candidates]), codes)
    ask = len(todo)
    if sample and s.sample is not None and unknown.any():
        ask = min(ask, s.sample)
    if sample and s.sample_auto:
        ask = min(ask, s.sample_max)
    entry = _entry(s, service, len(candidates), len(candidates) - len(todo), ask, bound)
    return _split_calls(entry, ask, calls)


def _entry(s: Settings, service: str, numbers: int, cached: int, ask: int, bound: str
           ) -> dict[str, Any]:
    return {"numbers": numbers, "cached": cached, "to_ask": ask, "bound": bound,
            **lookup_cost(s, service, ask)}


def _split_calls(entry: dict[str, Any], ask: int, calls: int | None) -> dict[str, Any]:
    """A bulk or batch service's requests when the run may split the ``ask`` numbers
    over ``calls`` calls (contacts: each round of look-ups is one call, with a job or a
    batch of its own), as an upper bound: a per-number service makes one request a
    number however they are split.

    Bulk: each call adds at most one partly filled job. Batch (``users:batchGet``): a
    call under ``BATCH_MIN`` numbers is asked one number at a time, so each call adds
    at most ``BATCH_MIN - 1`` single requests and one partly filled batch. Never more
    requests than numbers. ``calls`` None: any number of calls (the numbers bound it)."""
    from rcsqualify.capability.rbm import BATCH_MIN

    if calls == 1 or not ask or ("jobs" not in entry and "batches" not in entry):
        return entry
    before = entry["requests"]
    bound = ask
    if calls is not None and "jobs" in entry:
        bound = min(ask, entry["jobs"] + calls - 1)
    elif calls is not None:
        bound = min(ask, min(ask, calls * (BATCH_MIN - 1)) + entry["batches"] + calls - 1)
    if bound <= before:
        return entry
    out = {**entry, "requests": bound, "bound": UP_TO,
           "seconds": entry["seconds"] * bound / max(before, 1)}
    if "jobs" in entry:
        out["jobs"] = bound
    else:  # the batchGet calls among them
        out["batches"] = min(bound, entry["batches"] + (bound if calls is None else calls - 1))
    return out


def plan_sample_auto(s: Settings, result: CheckResult, plan: NumberingPlan,
                     cache: LookupCache) -> dict[str, Any]:
    """``--dry-run --sample auto``: the strata as the run would freeze them (offline
    sources, cached MNP and capability answers; no request) and the planner's expected
    numbers to draw, assuming the unresolved fail as often as the exact messages."""
    from rcsqualify.providers import make_mnp_source, make_provider
    from rcsqualify.sample_auto import stratify
    from rcsqualify.sequential import SequentialGate, plan_lookups
    from rcsqualify.verdict import KIND, SOURCE

    d = result.distinct  # the attribution it settles is the one plan_services redoes
    pending = (d.kind == KIND["mobile"]) & (d.source != SOURCE["portability"])
    sources = [make_mnp_source(s, plan, cache)] if s.mnp_url else []
    provider = make_provider(s, cache)
    assert provider is not None
    try:
        strata = stratify(d, int(np.count_nonzero(result.rows.key == 0)), sources, provider,
                          s.operator, s.seed, pending=pending)
    finally:
        for src in sources:
            src.close()
        provider.close()
    counts = {"exact_fail": strata.exact_fail, "exact_total": strata.exact_total,
              "unresolved": len(strata.unresolved)}
    gate = SequentialGate(**counts, threshold=s.threshold, confidence=s.confidence)
    expected = plan_lookups(**counts, threshold=s.threshold, confidence=s.confidence,
                            sample_max=s.sample_max)
    return {**counts, "sample_max": s.sample_max, "confidence": s.confidence,
            "decided_without_drawing": gate.decision, **expected}
