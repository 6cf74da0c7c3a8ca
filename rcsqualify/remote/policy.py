"""The one HTTP policy (issue #11): every knob of the HTTP layer, with its default,
in one frozen object built once from the options. The options' defaults in ``cli`` and
``settings`` are read from ``DEFAULT_POLICY``, so a default is written once.

Kept apart from ``http.py`` (which imports httpx) so that reading a default costs no
import on the offline path.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


def paced_rate(rate: float, rate_margin: float) -> float:
    """Requests per second a pacer reserves its slots at: ``rate_margin`` under the
    rate, since the gateway counts arrivals and a request sent on time can arrive a few
    milliseconds late (``pacing.Pacer``). The one place this is computed: the plans of
    the dry run and the pacer's interval must agree."""
    return rate * (1 - rate_margin)


@dataclass(frozen=True)
class HttpPolicy:
    """Every knob of the HTTP layer, built once from the options (CONTRACT §9, §10)."""

    rate: float = 30.0
    rate_margin: float = 0.03  # pace this share under the rate (arrival jitter)
    timeout: float = 10.0  # whole request: connect + send + complete body
    max_attempts: int = 5
    deadline: float = 120.0  # per number: give up retrying after this many seconds
    retry_backoff: float = 0.5  # first wait before a retry (doubling)
    throttle_pause: float = 60.0
    max_pause: float = 900.0  # cap on Retry-After
    #: HTTP 429s in a row (no other answer in between, any request of the service)
    #: after which the service is given up for the run (also the bound per request)
    max_throttled: int = 30
    #: seconds a service may stay throttled (from the first of a row of 429s, counting
    #: the pause a new one would start) before it is given up for the run
    max_paused: float = 1800.0
    max_body: int = 1_000_000
    token_min_lifetime: float = 60.0
    max_requests: int | None = None  # budget per service and run
    concurrency: int = 64
    early_stop: int = 20  # same-kind failures before any recognized answer → exit 2

    def with_rate(self, rate: float) -> HttpPolicy:
        return replace(self, rate=min(self.rate, rate))

    @property
    def paced(self) -> float:
        """Requests per second the pacer actually sends at: ``rate_margin`` under the rate
        (``pacing.Pacer`` reserves its slots at this rate)."""
        return paced_rate(self.rate, self.rate_margin)

    def plan_single(self, numbers: int) -> RequestPlan:
        """One request per number, at the paced rate (BotHub single, RBM, MNP)."""
        return RequestPlan(numbers=numbers, requests=numbers,
                           seconds=numbers / self.paced, rate=self.paced)


@dataclass(frozen=True)
class RequestPlan:
    """What asking ``numbers`` numbers of one service takes: its HTTP requests (one per
    number, one per bulk job, one per batch call) and the seconds they take at the
    paced rate. Each provider says its own (the provider registry's ``plan``); the dry
    run, an undecided verdict's next steps and ``probe`` read it, so no one re-derives a
    provider's job size or batch rule."""

    numbers: int
    requests: int
    seconds: float
    rate: float
    mode: str = "single"  # single | bulk | batch
    #: what the mode adds (bulk: jobs, job_size, window; batch: batches)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The cost block of the dry run's JSON and of a next step."""
        return {"requests": self.requests, "seconds": self.seconds, "rate": self.rate,
                **self.details}


DEFAULT_POLICY = HttpPolicy()
