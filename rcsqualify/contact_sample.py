"""``--sample N`` and ``--sample auto`` over contacts (issue #25 item 6; docs/contacts.md).

With several numbers per contact the unit of a sample is the **contact whose choice
depends on a remote answer**: one with a number a look-up could still turn into a better
choice than what is known (``choice.next_lookups``), once the offline sources and the
fresh cache have answered. Every other contact is *exact*: its chosen number and verdict
are known without asking, so it is never drawn. The population is frozen before the
first draw.

A drawn contact is **resolved fully**: every look-up its choice needs, in its priority
order, stopping as soon as no later number could beat the best one known (the same
rounds as a run without a sample, limited to the drawn contacts). Its outcome is its
chosen number's status: reachable (``ok``), an error status (``fail``), or unverified
(``unknown``: a look-up failed; a failure for the high end of the bound, a success for
the low end, never skipped).

- ``--sample N`` draws N contacts of the population with the same seeded generator as
  one column (``pipeline.fixed_sample``), resolves them, and the summary extrapolates
  the contacts not drawn at the drawn contacts' failure share (the Wilson interval of
  ``report.summary.estimate_interval``, as for one column).
- ``--sample auto`` draws them in the order of a keyed hash of (seed, the number each
  would ask first) (``sample_auto.draw_order``: independent of the cache, so a re-run
  finds its first draws cached), resolves them ``in_flight`` contacts at a time and
  feeds their outcomes **in draw order** to ``sequential.SequentialGate``, the same
  anytime-valid bound as one column, until it decides or ``--sample-max`` contacts were
  drawn. A batch started before the decision is finished (its answers are cached and
  reported), none after it.

A contact not drawn reads as its best open number, ``not_sampled`` (unverified): what a
look-up would have said is exactly what is not known. The exact stratum counts
*messages* (contacts sharing a chosen number once, as the report does); each contact of
the population counts as one message in the bound, so with population contacts sharing
a chosen number the bound is over a few more messages than the report counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rcsqualify.defaults import CONFIDENCE
from rcsqualify.pipeline import fixed_sample
from rcsqualify.sequential import SequentialGate

if TYPE_CHECKING:
    from rcsqualify.sample_auto import AutoSample

Progress = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class ContactSample:
    """The sample a run over contacts draws: ``sample`` contacts (``--sample N``) or
    ``auto`` (``--sample auto``)."""

    sample: int | None = None
    auto: AutoSample | None = None
    seed: int = 0
    confidence: float = CONFIDENCE


class Lookups(Protocol):
    """What the sampler needs of a run's look-ups (``contact_check``)."""

    def open_contacts(self) -> tuple[np.ndarray, np.ndarray]:
        """The contacts whose choice a look-up could still change, and per such contact
        the E.164 key of the number it would ask first."""

    def resolve(self, contacts: np.ndarray) -> None:
        """Every look-up the choice of ``contacts`` needs."""

    def outcomes(self, contacts: np.ndarray) -> list[str]:
        """``ok``, ``fail`` or ``unknown`` per (resolved) contact."""

    def exact(self, population: np.ndarray) -> tuple[int, int]:
        """Failing messages and messages among the contacts not in ``population``."""


@dataclass
class Drawn:
    """What the sample did: the contacts of the population, those drawn, and the
    estimate for the report (``CheckResult.estimate``; ``fixed`` fills its counts once
    the run has classified everything: ``fixed_estimate``)."""

    population: np.ndarray
    drawn: np.ndarray
    estimate: dict[str, Any]


def draw(lookups: Lookups, spec: ContactSample, progress: Progress | None = None
         ) -> Drawn:
    """Freeze the population, draw and resolve contacts as ``spec`` says."""
    population, first_key = lookups.open_contacts()
    if spec.auto is not None:
        return _auto(lookups, spec.auto, population, first_key, progress)
    assert spec.sample is not None
    drawn = fixed_sample(population, spec.sample, spec.seed)
    lookups.resolve(drawn)
    outcomes = np.asarray(lookups.outcomes(drawn) if len(drawn) else [], dtype=object)
    failures = int(np.count_nonzero(outcomes == "fail"))
    estimate: dict[str, Any] = {
        "method": "sample", "unit": "contact", "seed": spec.seed,
        "sampled": len(drawn), "confidence": spec.confidence, "unresolved": len(population),
        "failures": failures, "trials": failures + int(np.count_nonzero(outcomes == "ok"))}
    return Drawn(population=population, drawn=drawn, estimate=estimate)


def _auto(lookups: Lookups, auto: AutoSample, population: np.ndarray,
          first_key: np.ndarray, progress: Progress | None) -> Drawn:
    from rcsqualify.sample_auto import auto_estimate, draw_order

    order = population[draw_order(first_key, auto.seed)]
    exact_fail, exact_total = lookups.exact(population)
    gate = SequentialGate(exact_fail=exact_fail, exact_total=exact_total,
                          unresolved=len(order), threshold=auto.threshold,
                          confidence=auto.confidence)
    limit = min(auto.sample_max, len(order)) if gate.decision is None else 0
    window = max(1, auto.in_flight)
    launched = unknown = 0
    while launched < limit and gate.decision is None:
        batch = order[launched:min(limit, launched + window)]
        lookups.resolve(batch)
        launched += len(batch)
        for outcome in lookups.outcomes(batch):  # in draw order
            unknown += outcome == "unknown"
            if gate.decision is None:
                gate.observe(outcome)
        if progress:
            progress("sample auto", gate.drawn, limit)
    estimate = auto_estimate(gate, auto, exact_total=exact_total, exact_fail=exact_fail,
                             drawn=launched, unknown=unknown)
    estimate["unit"] = "contact"
    return Drawn(population=population, drawn=order[:launched], estimate=estimate)
