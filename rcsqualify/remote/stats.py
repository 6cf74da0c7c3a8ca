"""Counts of what every HTTP provider did, for the report's ``api`` block (CONTRACT §6, §10).

They live here, at the bottom of the remote layer, because the HTTP layer fills them
and every stage above reads them; nothing here imports a stage.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rcsqualify.textsafe import safe_text

#: distinct feature names / answer kinds kept per provider (a hostile server could
#: send a million different names; the report stays small)
MAX_DISTINCT = 50


@dataclass
class ProviderStats:
    """What one service answered, counted as the answers arrive."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    throttled: int = 0  # HTTP 429 answers
    errors: int = 0  # numbers left unresolved (after retries, or an unrecognized answer)
    error_kinds: Counter[str] = field(default_factory=Counter)
    #: "200" → {"recognized": n, "unrecognized": m}; transport failures as "connect" etc.
    by_status: dict[str, Counter[str]] = field(default_factory=dict)
    #: capability feature names seen in positive answers (BotHub, RBM)
    features: Counter[str] = field(default_factory=Counter)
    #: answer kinds (MNP: operator, unknown, error_in_body, bad_operator_code…)
    kinds: Counter[str] = field(default_factory=Counter)

    def answer(self, status: int | str, recognized: bool, kind: str | None = None) -> None:
        bucket = self.by_status.setdefault(str(status), Counter())
        bucket["recognized" if recognized else "unrecognized"] += 1
        if kind:
            _bounded_add(self.kinds, kind)

    def feature_names(self, names: list[str]) -> None:
        for name in names:
            _bounded_add(self.features, safe_text(str(name), 64))

    def error(self, kind: str) -> None:
        self.errors += 1
        _bounded_add(self.error_kinds, kind)

    def as_dict(self) -> dict[str, object]:
        return {"requests": self.requests, "cache_hits": self.cache_hits,
                "retries": self.retries, "throttled": self.throttled, "errors": self.errors,
                "error_kinds": dict(self.error_kinds),
                "answers": {"by_status": {k: dict(v) for k, v in sorted(self.by_status.items())},
                            "features": dict(self.features.most_common()),
                            "kinds": dict(self.kinds)}}


def _bounded_add(counter: Counter[str], key: str) -> None:
    if key in counter or len(counter) < MAX_DISTINCT:
        counter[key] += 1
    else:
        counter["(other)"] += 1
