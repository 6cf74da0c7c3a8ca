"""The emulator's state, apart from its routes: configuration, deterministic answers,
quota accounting, injected faults and canned answers, and the counters tests read.

Nothing here knows HTTP routes; ``app.py`` and the service modules (``orange.py``,
``google.py``, ``lookups.py``) answer requests from it. Unit-testable on its own (the
quota accounting takes an injected clock).
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAULT_KINDS = ("http_500", "http_503", "timeout", "reset", "malformed", "token_expiry")
FEATURES = ["RICHCARD_STANDALONE", "RICHCARD_CAROUSEL", "ACTION_CREATE_CALENDAR_EVENT",
            "ACTION_DIAL", "ACTION_OPEN_URL", "ACTION_SHARE_LOCATION", "ACTION_VIEW_LOCATION",
            "FUTURE_FEATURE_X"]
MNP_DISTRIBUTION = [("20801", 40), ("20810", 25), ("20820", 20), ("20815", 15)]
#: what a numbers-file operator may say instead of an MCC-MNC: the service's documented
#: "unknown number" answer, or an error inside a 200
UNKNOWN, ERROR = "unknown", "error"


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
    #: after this many requests of a family were let through, answer 429 for ever
    throttle_after: int | None = None
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
    # -- look-alikes of real MNP/HLR services (lookups.py) ----------------------------
    twilio_user: str = "ACemulator"  # Account SID (HTTP Basic user)
    twilio_password: str = "emulator-twilio-token"  # auth token
    twilio_body: dict[str, Any] | None = None  # replaces Twilio's 200 body
    hlr_key: str = "emulator-hlr-key"
    hlr_secret: str = "emulator-hlr-secret"
    hlr_max_skew: float = 300.0  # seconds an X-Digest-Timestamp may be off
    hlr_body: dict[str, Any] | None = None  # replaces hlr-lookups' 200 body

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
    """Everything the emulator remembers between requests; ``clock`` (monotonic seconds)
    is injectable so the quota accounting can be tested without waiting."""

    def __init__(self, config: EmulatorConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
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
    def draw(self, *parts: object) -> float:
        """A seeded, repeatable number in [0, 1) for these parts."""
        text = ":".join(str(p) for p in (self.config.seed, *parts))
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64

    def capable(self, number: str) -> bool:
        entry = self.config.numbers.get(number, {})
        if "capable" in entry:
            return bool(entry["capable"])
        return self.draw("cap", number) < self.config.capable_share

    def mccmnc(self, number: str) -> str | None:
        entry = self.config.numbers.get(number, {})
        if "operator" in entry:
            return str(entry["operator"])
        x = self.draw("mnp", number) * 100
        for code, weight in MNP_DISTRIBUTION:
            if x < weight:
                return code
            x -= weight
        return MNP_DISTRIBUTION[-1][0]

    # -- quota and faults --------------------------------------------------------------
    def admit(self, family: str) -> bool:
        """Record an arrival; False when it is over the family's quota."""
        now = self.clock()
        self.requests[family] += 1
        self.log.setdefault(family, []).append(now)
        if self.config.force_429 > 0:
            self.config.force_429 -= 1
            self.throttled[family] += 1
            return False
        after = self.config.throttle_after
        if after is not None and self.requests[family] - 1 - self.throttled[family] >= after:
            self.throttled[family] += 1  # a gateway whose quota ran out for the day
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
            if p > 0 and self.draw("fault", kind, number, draw) < p:
                self.faults_sent[kind] += 1
                return kind
        return None

    def injected(self, family: str) -> dict[str, Any] | None:
        """The next canned answer for ``family`` (status, body, content_type, headers),
        if a test asked for one."""
        for item in self.config.inject:
            if item.get("family", family) == family and item.get("count", 1) > 0:
                item["count"] = item.get("count", 1) - 1
                return item
        return None

    def sampled(self, number: str) -> bool:
        """In batchGet's random sample (about 75 % of a call of 500 or more)."""
        return self.draw("sample", number) < 0.75

    def stats(self) -> dict[str, Any]:
        return {
            "duplicate_request_ids": sum(c - 1 for c in self.request_ids.values() if c > 1),
            "requests": dict(self.requests), "throttled": dict(self.throttled),
            "faults": dict(self.faults_sent), "asked": dict(self.asked),
            "jobs_submitted": self.jobs_submitted, "batch_sizes": self.batch_sizes,
            "tokens_issued": self.tokens_issued,
            "arrivals": {k: v[-200_000:] for k, v in self.log.items()},
            "max_in_window": {k: max_in_window(v, 1.0 - self.config.quota_grace)
                              for k, v in self.log.items()},
        }


def max_in_window(times: list[float], width: float) -> int:
    """The most arrivals in any window of ``width`` seconds."""
    best = lo = 0
    for hi in range(len(times)):
        while times[hi] - times[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
