"""Counts, ratios and the gate (CONTRACT §2 Counting and Ratio, §7).

Counting is per *message*: one per distinct normalized number plus one per invalid
row (each would be one failed message). ``rows = messages + duplicates`` and the six
status counts add up to ``messages``. The summary is a plain dict-shaped dataclass:
the terminal, JSON and HTML renderers format it, none of them computes anything.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from rcsqualify import __version__, dependency_version
from rcsqualify.contacts.columns import DATE_CELL
from rcsqualify.defaults import CONFIDENCE, GATE, GATE_MODES, SEND_RATE
from rcsqualify.distinct import Distinct
from rcsqualify.errors import ExitCode
from rcsqualify.notes import note
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.pipeline import CheckResult
from rcsqualify.report.masking import mask_cell
from rcsqualify.report.routes import routes_block
from rcsqualify.verdict import (
    ERROR_STATUSES,
    KIND,
    RCS_ERROR,
    REASON_TO_STATUS,
    REASONS,
    REPAIRS,
    SOURCE,
    SOURCES,
    STATUSES,
    Status,
)


@dataclass
class Summary:
    tool: dict[str, Any]
    input: dict[str, Any]
    counts: dict[str, int]
    reasons: dict[str, int]
    repaired: dict[str, int]
    operators: dict[str, int]
    operator_names: dict[str, str]
    operator_sources: dict[str, int]
    territories: dict[str, int]
    error_ratio: float
    error_ratio_upper: float
    threshold: float
    gate: str
    exit_code: int
    target_operator: str
    capability: str
    api: dict[str, Any] = field(default_factory=dict)
    attribution: dict[str, Any] = field(default_factory=dict)
    interval: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why checks could not be done
    projection: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)  # masked
    split_lists: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: ``decide``, ``known`` or ``upper`` (CONTRACT §2 Gate) and the ratio that decided
    gate_mode: str = GATE
    gate_ratio: float = 0.0
    #: ``pass`` | ``fail`` | ``undecided``: what the exit code says (``gate`` is the same)
    decision: str = "pass"
    #: the ratios the decision rests on (``Gate.bounds``)
    bounds: dict[str, float] = field(default_factory=dict)
    #: checks that could not be done (after retries): the decision may still stand
    incomplete: bool = False
    failed_checks: dict[str, int] = field(default_factory=dict)
    #: an undecided run's next steps, cheapest first, each costed at the quota
    #: (filled by the runner, which knows the options: ``costs.next_steps``)
    next_steps: list[dict[str, Any]] = field(default_factory=list)
    #: what to send and what it would cost in errors (CONTRACT §2 Send plan)
    send_plan: dict[str, Any] = field(default_factory=dict)
    #: data past its freshness, one line each (CI annotations make each a warning)
    stale: list[str] = field(default_factory=list)
    #: extracts and store: newest_date, age_days, unmapped/fixed-line/date counts, sources
    portability: dict[str, Any] = field(default_factory=dict)
    #: messages per route with a second route (--other-route), else None
    routes: dict[str, Any] | None = None
    #: whether this run's answers were read back from the cache (terminal wording only:
    #: "answers so far are cached" is said only then)
    answers_kept: bool = True

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("answers_kept")
        return data


def _count(codes: np.ndarray, vocabulary: tuple[str, ...], skip_blank: bool = True
           ) -> dict[str, int]:
    counts = np.bincount(codes.astype(np.int64), minlength=len(vocabulary))
    return {name: int(counts[i]) for i, name in enumerate(vocabulary)
            if not (skip_blank and name == "")}


def _value_counts(values: np.ndarray) -> dict[str, int]:
    """Count per distinct string, most frequent first, ties in order of first appearance.

    ``Counter`` hashes (np.unique on a million Python strings would sort them, slowly)
    and ``most_common`` sorts stably, which is the order pandas' ``value_counts`` gave,
    without importing pandas on the check path (pyarrow's conversion of Python objects
    would import it too)."""
    return {str(k): int(v) for k, v in Counter(values.tolist()).most_common()}


def _moves(d: Distinct, mobile: np.ndarray, target: str) -> dict[str, int]:
    """Mobiles served by another operator than their range holder: into the target
    operator, out of it, in all. A number whose look-up failed has no operator: not
    "moved" (it is unverified)."""
    operator = d.operator[mobile]
    holder = d.block_operator[d.block[mobile]]  # each mobile's range holder
    moved = (operator != holder) & (operator != "")
    return {"ported_in": int(np.count_nonzero(moved & (operator == target))),
            "ported_out": int(np.count_nonzero(moved & (holder == target))),
            "moved": int(np.count_nonzero(moved))}


def z_score(confidence: float) -> float:
    """The normal quantile of a two-sided interval at ``confidence`` (1.96 at 95 %)."""
    return statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def confidence_of(interval: dict[str, Any]) -> float:
    """The confidence an interval was drawn at (``--confidence``, recorded by each
    estimate), so that no report says 95 % of an interval drawn at 99 %."""
    return float(interval.get("confidence", CONFIDENCE))


def wilson_interval(successes: int, n: int, z: float | None = None) -> tuple[float, float]:
    """Wilson score interval of a proportion (good at small n and near 0 or 1), at the
    normal quantile ``z`` (default: ``--confidence``'s default, 95 %)."""
    if z is None:
        z = z_score(CONFIDENCE)
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate_interval(estimate: dict[str, Any], errors: int, messages: int,
                      unverified: int = 0) -> dict[str, Any]:
    """Error ratio with its interval (at ``--confidence``) when part of the capability
    was estimated.

    The numbers not checked (``extrapolated``) are assumed to fail in the proportion
    seen among the checked ones (``failures`` / ``trials``); the Wilson interval of that
    proportion gives the interval of the ratio. The gate compares its upper end.

    A ``--sample auto`` run keeps its confidence sequence's ends, narrowed to what is
    certain: the numbers drawn past the decision (in flight when it came) were answered
    but never fed to the sequence, so ``errors`` (every message known to fail, those
    included) can be above its low end, and ``errors + unverified`` (every message that
    could fail) below its high end. The truth is inside both, so clamping loses no
    coverage, and the report never says "at least" less than it knows for certain.
    """
    if "error_ratio_low" in estimate:  # --sample auto: the confidence sequence's ends
        out = dict(estimate)
        if messages:
            known, upper = errors / messages, (errors + unverified) / messages
            low = max(float(out["error_ratio_low"]), known)
            high = max(min(float(out["error_ratio_high"]), upper), low)
            out["error_ratio_low"], out["error_ratio_high"] = low, high
            if "exact_failures" in out:  # the same floor on the unresolved stratum's count
                out["failures_low"] = max(int(out["failures_low"]),
                                          errors - int(out["exact_failures"]))
        return out
    trials, failures = int(estimate["trials"]), int(estimate["failures"])
    z = z_score(confidence_of(estimate))
    # a batchGet sample describes the whole request: ``scale`` turns its failure share
    # into the unlisted numbers' own (pipeline.batch_estimate)
    scale = float(estimate.get("scale", 1.0))
    low, high = (min(1.0, v * scale) for v in wilson_interval(failures, trials, z))
    point = min(1.0, failures / trials * scale) if trials else 1.0
    n = int(estimate["extrapolated"])
    return {
        **estimate,
        "failure_share": point, "failure_share_low": low, "failure_share_high": high,
        "error_ratio_estimate": (errors + point * n) / messages,
        "error_ratio_low": (errors + low * n) / messages,
        "error_ratio_high": (errors + high * n) / messages,
    }


def campaign_projection(counts: dict[str, int], *, send_rate: float = SEND_RATE,
                        price_message: float | None = None,
                        price_conversation: float | None = None,
                        reply_rate: float | None = None) -> dict[str, Any]:
    """Messages to send, time at the send rate, and cost under Orange's structure.

    Orange bills a Single Message per message nobody answers and a Conversation when
    the user answers within 24 h (9.5 euro cents in Orange's published example of
    2021-10-01). No price is assumed: what is missing is listed instead of a cost.
    ``messages`` are the reachable numbers; ``messages_upper`` adds the unverified ones
    (all of them would be sent if they turned out reachable).
    """
    sure = counts.get("reachable", 0)
    upper = sure + counts.get("unverified", 0)
    out: dict[str, Any] = {
        "messages": sure, "messages_upper": upper, "send_rate": send_rate,
        "send_seconds": sure / send_rate if send_rate else None,
        "send_seconds_upper": upper / send_rate if send_rate else None,
        "price_message": price_message, "price_conversation": price_conversation,
        "reply_rate": reply_rate, "currency": "EUR",
    }
    missing = [name for name, value in (("--price-message", price_message),
                                        ("--price-conversation", price_conversation),
                                        ("--reply-rate", reply_rate)) if value is None]
    out["missing"] = missing
    if not missing:
        assert price_message is not None and price_conversation is not None
        assert reply_rate is not None

        def cost(n: int) -> float:
            return n * (1 - reply_rate) * price_message + n * reply_rate * price_conversation

        out["cost"] = round(cost(sure), 4)
        out["cost_upper"] = round(cost(upper), 4)
    return out


DECISIONS = ("pass", "fail", "undecided")
_EXIT = {"pass": ExitCode.PASS, "fail": ExitCode.FAIL, "undecided": ExitCode.UNDECIDED}


@dataclass(frozen=True)
class Gate:
    """The gate's answer (CONTRACT §2 Gate, §7).

    ``low`` is what is known to fail (``error_ratio``, or the low end of a sampled
    bound), ``high`` the same with every unresolved message a failure
    (``error_ratio_upper``, or the high end of the bound). ``decide`` (the default) says
    **pass** when ``high`` ≤ threshold, **fail** when ``low`` > threshold and
    **undecided** otherwise: the truth when the unresolved messages could tip it either
    way. ``known`` is today's lenient rule on one ratio (a sampled run compares the high
    end of its interval), ``upper`` the strict one (undecided counts as fail: ``high``,
    the bound's high end on a sampled run, over the threshold fails).

    Checks that could not be done count as unresolved: they are in ``high``, not in
    ``low``, so a run whose bounds still decide keeps its decision (and says what
    failed); under ``known``, which ignores the unresolved, they leave it undecided. A
    degraded cache (answers kept in memory only) never passes: undecided at best, as
    before, because the next run asks again what this one learned.
    """

    decision: str
    mode: str
    gate_ratio: float
    bounds: dict[str, float]

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT[self.decision]


def decide_gate(*, known: float, upper: float, low: float, high: float, known_gated: float,
                threshold: float, mode: str, incomplete: bool = False,
                degraded: bool = False) -> Gate:
    """The decision from the ratios; ``known_gated`` is what ``--gate known`` compares
    (``known``, or the high end of a fixed-sample interval)."""
    bounds = {"known": known, "upper": upper, "low": low, "high": high}
    if mode == "known":
        ratio = known_gated
        decision = ("fail" if ratio > threshold
                    else "undecided" if incomplete or degraded else "pass")
    elif mode == "upper":
        # ``high`` is ``upper`` unless the run sampled: then the bound's high end
        # (CONTRACT §2), so ``upper`` is ``decide`` with undecided counted as a failure
        ratio = high
        decision = "fail" if ratio > threshold else "undecided" if degraded else "pass"
    elif mode == "decide":
        if low > threshold:
            decision, ratio = "fail", low
        else:
            ratio = high
            decision = "pass" if high <= threshold and not degraded else "undecided"
    else:
        raise ValueError(f"gate mode must be one of {GATE_MODES}, got {mode!r}")
    return Gate(decision=decision, mode=mode, gate_ratio=ratio, bounds=bounds)
#: The lists of ``--split-dir`` (report/split.py) and the statuses each one takes: one
#: row per message, so a list's rows are its statuses' message counts.
LIST_STATUSES: dict[str, tuple[Status, ...]] = {
    "send_rcs": (Status.REACHABLE,),
    "other_operators": (Status.OTHER_OPERATOR,),
    "not_rcs": (Status.NOT_RCS,),
    "unverified": (Status.UNVERIFIED,),
    "remove": (Status.INVALID, Status.NOT_MOBILE),
}
#: An ARCEP plan older than this is reported as stale: blocks allocated since then read
#: as ``unallocated`` (ARCEP updates MAJNUM several times a month).
PLAN_MAX_AGE_DAYS = 180


def send_plan(counts: dict[str, int], *, stale_in_send_rcs: int = 0) -> dict[str, Any]:
    """What to send, with each list's own messages as the denominator (CONTRACT §2).

    ``send_rcs`` holds the ``reachable`` messages: its known errors are only answers
    that went stale since they were given (``stale_in_send_rcs``, 0 today: a stale
    answer is re-asked before it is used). ``with_unverified`` adds the ``unverified``
    messages counted as failures: the worst case of sending them too. An empty list has
    a ratio of 0 (nothing sent, nothing failed), as the base-wide ratio does.
    """
    reachable = counts.get(str(Status.REACHABLE), 0)
    unverified = counts.get(str(Status.UNVERIFIED), 0)
    with_unverified = reachable + unverified
    return {
        "send_rcs": {"messages": reachable,
                     "error_ratio": stale_in_send_rcs / reachable if reachable else 0.0},
        "with_unverified": {
            "messages": with_unverified,
            "error_ratio_upper": ((stale_in_send_rcs + unverified) / with_unverified
                                  if with_unverified else 0.0)},
        "lists": {name: sum(counts.get(str(st), 0) for st in statuses)
                  for name, statuses in LIST_STATUSES.items()},
    }


def stale_data(plan_date: date, today: date) -> list[str]:
    """One line per input past its freshness (the ARCEP plan today)."""
    age = (today - plan_date).days
    if age > PLAN_MAX_AGE_DAYS:
        return [note("plan_stale", age=age, plan_date=plan_date)]
    return []


def gate_from_counts(counts: dict[str, int], *, threshold: float, mode: str,
                     interval: dict[str, Any] | None = None, incomplete: bool = False,
                     degraded: bool = False) -> Gate:
    """The gate from the status counts (and a sampled run's interval).

    With an interval, ``low``/``high`` are its ends; the unverified messages it does
    not extrapolate to (a check that failed among the sampled ones) are unresolved and
    go into ``high`` only. An empty base has nothing that could fail: it passes (the
    runner refuses an export that came out empty before it gets here)."""
    messages = counts.get("messages", 0)
    errors = sum(counts.get(str(s), 0) for s in ERROR_STATUSES)
    unverified = counts.get(str(Status.UNVERIFIED), 0)
    known = errors / messages if messages else 0.0
    upper = (errors + unverified) / messages if messages else 0.0
    low, high, known_gated = known, upper, known
    if interval is not None and messages:
        unresolved = max(0, unverified - int(interval.get("extrapolated", 0)))
        # never below what is known to fail, nor above every message that could fail
        low = max(float(interval["error_ratio_low"]), known)
        high = max(min(1.0, float(interval["error_ratio_high"]) + unresolved / messages,
                       upper), low)
        known_gated = float(interval["error_ratio_high"])
    return decide_gate(known=known, upper=upper, low=low, high=high,
                       known_gated=known_gated, threshold=threshold, mode=mode,
                       incomplete=incomplete, degraded=degraded)


def failed_checks(result: CheckResult, reasons: dict[str, int]) -> dict[str, int]:
    """What could not be done after retries, by kind (empty when everything was): the
    messages whose capability or operator look-up failed, a source's failed look-ups,
    the second route's failed checks, and a cache that failed mid-run (1)."""
    out = {"capability_error": reasons.get("capability_error", 0),
           "operator_error": reasons.get("operator_error", 0),
           **{f"{label}_errors": int(s.errors) for label, s in result.source_stats.items()},
           "other_route_error": (int(np.count_nonzero(result.other_rcs == RCS_ERROR))
                                 if result.other_rcs is not None else 0),
           "cache": int(result.storage_degraded is not None)}
    return {k: v for k, v in out.items() if v}


def api_block(per_provider: dict[str, Any]) -> dict[str, Any]:
    """Totals over providers (CONTRACT §6 keys) plus each provider's own counts."""
    providers = {k: v for k, v in per_provider.items() if not k.startswith("_")}
    totals = {key: sum(int(p.get(key, 0)) for p in providers.values())
              for key in ("requests", "cache_hits", "retries", "throttled", "errors")}
    return {**totals, "providers": providers}


def contacts_block(result: CheckResult) -> dict[str, Any]:
    """JSON ``input.contacts`` of a run grouped into contacts: the per-contact count,
    the contacts rescued by a later number (by the status of that number) and the
    per-number figures beside them (docs/contacts.md)."""
    c = result.contacts
    assert c is not None
    per_status = np.bincount(REASON_TO_STATUS[: len(REASONS)].astype(np.int64),
                             weights=c.number_reason_counts, minlength=len(STATUSES))
    by_status = {str(s): int(per_status[i]) for i, s in enumerate(STATUSES)}
    return {"contacts": c.count.contacts, "messages": c.count.messages,
            "duplicate_contacts": c.count.duplicate_contacts,
            "rescued": c.count.rescued, "rescued_by_status": dict(c.count.rescued_by_status),
            **c.numbers, "numbers_by_status": by_status}


def summarize(
    result: CheckResult,
    plan: NumberingPlan,
    *,
    input_info: dict[str, Any],
    threshold: float,
    remote_asked: bool = False,
    gate_mode: str = GATE,
    today: date | None = None,
) -> Summary:
    rows = result.rows
    d = result.distinct
    n_rows = len(rows.key)
    per_contact: dict[str, int] = {}
    if result.contacts is not None:  # one message per contact (docs/contacts.md)
        count = result.contacts.count
        message_reasons = count.message_reasons
        messages, duplicates = count.messages, count.duplicate_contacts
        per_contact = {"contacts": count.contacts, "rescued": count.rescued}
        input_info = {**input_info, "contacts": contacts_block(result)}
    else:
        invalid_rows = np.flatnonzero(rows.key == 0)
        messages = len(d.key) + len(invalid_rows)
        duplicates = n_rows - messages
        message_reasons = np.concatenate([d.reason, rows.reason[invalid_rows]])
    reasons = _count(message_reasons, REASONS)
    status_codes = REASON_TO_STATUS[message_reasons] if len(message_reasons) else np.zeros(
        0, np.uint8)
    counts_by_status = _count(status_codes, tuple(str(s) for s in STATUSES), skip_blank=False)
    counts: dict[str, int] = {"rows": n_rows, **per_contact, "duplicates": duplicates,
                              "messages": messages, **counts_by_status}

    errors = sum(counts[str(s)] for s in ERROR_STATUSES)
    unverified = counts[str(Status.UNVERIFIED)]
    ratio = errors / messages if messages else 0.0
    upper = (errors + unverified) / messages if messages else 0.0

    mobile = d.kind == KIND["mobile"]
    operators = _value_counts(d.operator[mobile])
    terr_counts = np.bincount(plan.block_territory[d.block], minlength=len(plan.territories))
    order = np.argsort(-terr_counts, kind="stable")
    territories = {plan.territories[i]: int(terr_counts[i]) for i in order if terr_counts[i]}
    source_counts = _count(d.source[mobile], SOURCES)

    warnings: list[str] = []
    range_only = int(np.count_nonzero(d.source[mobile] == SOURCE["range"]))
    if range_only:
        warnings.append(note("range_only_unnamed" if result.source_stats else "range_only",
                             count=range_only))
    if unverified and result.capability == "none":
        warnings.append(note("offline_unverified", count=unverified, upper=upper))

    warnings.extend(result.notes)
    port_stats = result.source_stats.get("portability")
    portability: dict[str, Any] = dict(port_stats.extra) if port_stats is not None else {}
    warnings.extend(portability.get("warnings", []))  # Notes: worded per report
    interval = None
    if result.estimate is not None and messages:
        interval = estimate_interval(result.estimate, errors, messages, unverified)
    failed = failed_checks(result, reasons) if remote_asked else {}
    gate = gate_from_counts(counts, threshold=threshold, mode=gate_mode, interval=interval,
                            incomplete=bool(failed),
                            degraded=remote_asked and result.storage_degraded is not None)

    attribution: dict[str, Any] = {"sources": {
        label: asdict(stats) for label, stats in result.source_stats.items()}}
    if mobile.any():
        attribution.update(_moves(d, mobile, result.target_operator))
        attribution["range_only"] = range_only

    routes = routes_block(result)
    plan_of_sends = send_plan(counts)
    if routes is not None:  # send_rbm.csv takes those numbers out of other_operators.csv
        rbm = routes["messages"].get("rbm", 0)
        plan_of_sends["lists"]["send_rbm"] = rbm
        plan_of_sends["lists"]["other_operators"] -= rbm
    return Summary(
        tool={"name": "rcsqualify", "version": __version__,
              "phonenumbers": dependency_version("phonenumbers"),
              "arcep_plan_date": plan.snapshot.isoformat(), "arcep_plan_source": plan.source},
        input=input_info,
        counts=counts,
        reasons={k: v for k, v in reasons.items() if v},
        repaired={k: v for k, v in _count(rows.repaired, REPAIRS).items() if v},
        operators=operators,
        operator_names={o: plan.operator_name(o) for o in operators},
        operator_sources={k: v for k, v in source_counts.items() if v},
        territories=territories,
        error_ratio=ratio,
        error_ratio_upper=upper,
        threshold=threshold,
        gate=gate.decision,
        gate_mode=gate_mode,
        gate_ratio=gate.gate_ratio,
        decision=gate.decision,
        bounds=gate.bounds,
        incomplete=bool(failed),
        failed_checks=failed,
        exit_code=int(gate.exit_code),
        target_operator=result.target_operator,
        capability=result.capability,
        api=api_block(result.provider_stats),
        attribution=attribution,
        interval=interval,
        warnings=warnings,
        notes=list(result.notes),
        examples={reason: [c if c == DATE_CELL else mask_cell(c) for c in cells]
                  for reason, cells in result.examples.items()},
        timings=result.timings,
        send_plan=plan_of_sends,
        stale=stale_data(plan.snapshot, today or datetime.now(UTC).date())
        + list(portability.get("stale_lines", [])),
        portability=portability,
        routes=routes,
    )
