"""What asking costs, and an undecided verdict's next steps: the provider registry's
request plans (``providers.lookup_plan``) and the ``--sample auto`` planner
(``sequential.plan_lookups``) on a finished run's counts."""

from __future__ import annotations

from typing import Any

from rcsqualify.defaults import SAMPLE_MAX
from rcsqualify.report.summary import Summary
from rcsqualify.settings import Settings


def lookup_cost(s: Settings, service: str, n: int) -> dict[str, Any]:
    """What asking ``n`` numbers of ``service`` costs at the configured quota: requests,
    seconds and the paced rate (bulk: jobs and the window; RBM batch: batchGet calls),
    as the provider registry's ``plan`` says. The one planner of ``--dry-run`` and of an
    undecided verdict's next steps."""
    from rcsqualify.providers import lookup_plan

    return lookup_plan(s, service, n).as_dict()


#: a base whose unresolved messages take longer than this to check one by one at the
#: quota is pointed to the nightly bulk job as well (Orange reserves the single look-up
#: for tests; the bulk job runs 22:00–07:00 Paris time)
BULK_ADVICE_SECONDS = 3600.0


#: under this, checking every unresolved message is cheap enough to be the next step:
#: exact answers for everyone beat a bound for the same minute
SAMPLE_ADVICE_SECONDS = 60.0


def next_steps(s: Settings, summary: Summary) -> list[dict[str, Any]]:
    """An undecided run's next steps, cheapest first, costed by ``lookup_cost``.

    - ``check``: every unresolved message asked one by one with the run's per-number
      provider (the registry's for the target operator: BotHub for Orange, else RBM); a
      number whose operator look-up failed needs that look-up again too;
    - ``retry`` instead when the run did ask and some checks failed: the answers so far
      are cached, so the re-run asks only what is still unresolved;
    - ``sample_auto`` when checking them all takes over a minute and ``--sample auto``
      expects fewer look-ups (``sample_auto_lookups``);
    - ``bulk``: the provider's nightly bulk job (BotHub's), when checking one by one
      takes over an hour.
    """
    if summary.decision != "undecided":
        return []
    unresolved = summary.counts.get("unverified", 0)
    if not unresolved:
        return []
    from rcsqualify.providers import CAPABILITY, per_number_for

    chosen = CAPABILITY.get(s.capability)
    capability = (s.capability if chosen is not None and chosen.per_number
                  else per_number_for(s.operator))
    lookups = unresolved + summary.reasons.get("operator_error", 0)
    cost = lookup_cost(s, capability, lookups)
    kind = "retry" if summary.incomplete and s.capability == capability else "check"
    steps: list[dict[str, Any]] = [{"kind": kind, "option": f"--capability {capability}",
                                    "lookups": lookups, "seconds": cost["seconds"],
                                    "rate": s.rate}]
    auto = (sample_auto_lookups(s, summary)
            if cost["seconds"] > SAMPLE_ADVICE_SECONDS and not s.sample_auto else None)
    if auto is not None and auto < lookups:
        option = "--sample auto" if s.capability == capability else \
            f"--capability {capability} --sample auto"
        steps.insert(0, {"kind": "sample_auto", "option": option, "lookups": auto,
                         "seconds": lookup_cost(s, capability, auto)["seconds"],
                         "rate": s.rate})
    more = more_sampling(s, summary, lookups) if s.sample_auto else None
    if more is not None:
        steps.insert(0, {**more, "seconds": lookup_cost(s, capability, more["lookups"])[
            "seconds"], "rate": s.rate})
    bulk = CAPABILITY[capability].bulk
    if bulk is not None and cost["seconds"] > BULK_ADVICE_SECONDS:
        steps.append({"kind": "bulk", "option": f"--capability {bulk}",
                      "lookups": lookups, "seconds": None, "rate": s.rate})
    return steps


def plan_from_summary(s: Settings, summary: Summary, *, guess: float | None,
                      sample_max: int) -> dict[str, Any]:
    """The planner (``sequential.plan_lookups``) on a finished run's counts: what is
    known is exact, the unverified messages are the population to draw from."""
    from rcsqualify.sequential import plan_lookups

    unresolved = summary.counts.get("unverified", 0)
    messages = summary.counts.get("messages", 0)
    return plan_lookups(exact_fail=round(summary.error_ratio * messages),
                        exact_total=messages - unresolved, unresolved=unresolved,
                        threshold=summary.threshold, confidence=s.confidence, guess=guess,
                        sample_max=sample_max, seed=s.seed)


def more_sampling(s: Settings, summary: Summary, lookups: int) -> dict[str, Any] | None:
    """A ``--sample auto`` run that stopped at its cap: the cap that would decide it in
    95 % of the planner's runs, from where it stopped (what it drew is now cached, hence
    exact), assuming the rest fail as often as the messages now known. None when a cap
    of ten times the default (or the current one) would still leave over 5 % of runs
    undecided, or when it would cost more than checking them all."""
    unresolved = summary.counts.get("unverified", 0)
    expected = plan_from_summary(s, summary, guess=None, sample_max=min(
        unresolved, 10 * max(s.sample_max, SAMPLE_MAX)))
    if expected["decided_share"] < 0.95 or expected["median"] >= lookups:
        return None
    return {"kind": "sample_auto", "lookups": int(expected["median"]),
            "option": f"--sample auto --sample-max {max(expected['p95'], 1)}"}


def sample_auto_lookups(s: Settings, summary: Summary) -> int | None:
    """Median numbers ``--sample auto`` would draw to decide this base (the planner of
    ``--dry-run --sample auto``, ``sequential.plan_lookups``), or None when most of its
    simulated runs would not decide within ``--sample-max``: then it is no next step.

    The unresolved are assumed to fail at the threshold's rate, the planner's slowest
    guess when nothing is known about them: the known messages are no guide (they are
    the invalid, non-mobile and other-operator ones, which is why they are known), and a
    cost must not be promised lower than it may be."""
    expected = plan_from_summary(s, summary, guess=summary.threshold,
                                 sample_max=s.sample_max)
    return int(expected["median"]) if expected["decided_share"] >= 0.5 else None
