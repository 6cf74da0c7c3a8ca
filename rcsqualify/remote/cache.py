"""The persistent cache of what remote look-ups learned (CONTRACT §8).

diskcache (SQLite underneath) under the user cache directory. Keys are HMAC-SHA256 of
the E.164 number with a per-cache secret (``secret.key``, mode 0600, created on first
use), so the cache holds no phone number in clear and a copied cache cannot be probed
for a number without the secret. Values are tiny tuples ``(answer, learned_at)``.

Every answer is written the moment it arrives (one SQLite transaction each), so a run
stopped at any point, even by kill -9, re-asks nothing already answered. Failures
(``capability_error``) are never cached: they are re-asked next time.

Freshness follows Orange's re-check advice: capable 90 days, not capable 60 days,
operator look-ups 7 days (configurable). Entries also carry a diskcache expiry at the
same horizon, so ``cache prune`` (diskcache's ``expire``) removes what is stale.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache
import platformdirs

DAY = 86_400.0


def default_cache_dir() -> Path:
    env = os.environ.get("RCSQUALIFY_CACHE_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_cache_dir("rcsqualify")) / "lookups"


@dataclass(frozen=True)
class Freshness:
    positive_days: float = 90.0
    negative_days: float = 60.0
    operator_days: float = 7.0

    def ttl(self, kind: str, answer: str) -> float:
        if kind == "op":
            return self.operator_days * DAY
        return (self.positive_days if answer == "yes" else self.negative_days) * DAY


def _load_or_create_secret(directory: Path) -> bytes:
    path = directory / "secret.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return path.read_bytes()


class LookupCache:
    """Answers per (kind, provider, number); ``kind`` is ``cap`` or ``op``."""

    def __init__(self, directory: Path | None = None, *, freshness: Freshness | None = None,
                 refresh: bool = False, enabled: bool = True,
                 clock: Any = time.time) -> None:
        self.enabled = enabled
        self.refresh = refresh
        self.freshness = freshness or Freshness()
        self.clock = clock
        self.directory = directory or default_cache_dir()
        self._cache: diskcache.Cache | None = None
        self._secret = b""
        if enabled:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._secret = _load_or_create_secret(self.directory)
            self._cache = diskcache.Cache(str(self.directory / "db"), eviction_policy="none",
                                          size_limit=2**40)

    def key(self, kind: str, provider: str, e164: str) -> str:
        digest = hmac.new(self._secret, e164.encode(), hashlib.sha256).hexdigest()
        return f"{kind}:{provider}:{digest}"

    def get(self, kind: str, provider: str, e164: str) -> str | None:
        """The cached answer if fresh (and not --refresh), else None."""
        if self._cache is None or self.refresh:
            return None
        value = self._cache.get(self.key(kind, provider, e164))
        if value is None:
            return None
        answer, learned = value
        if self.clock() - learned > self.freshness.ttl(kind, answer):
            return None
        return str(answer)

    def get_many(self, kind: str, provider: str, numbers: Iterable[str]) -> list[str | None]:
        """Fresh answers for many numbers, read in one SQLite transaction (a bulk run
        reads a million entries: one transaction each would dominate its time)."""
        numbers = list(numbers)
        if self._cache is None or self.refresh:
            return [None] * len(numbers)
        with self._cache.transact():
            return [self.get(kind, provider, n) for n in numbers]

    def put_many(self, kind: str, provider: str, answers: Iterable[tuple[str, str]]) -> None:
        """Store many answers in one transaction (all of a bulk job's results at once)."""
        if self._cache is None:
            return
        with self._cache.transact():
            for number, answer in answers:
                self.put(kind, provider, number, answer)

    def put(self, kind: str, provider: str, e164: str, answer: str) -> None:
        if self._cache is None:
            return
        ttl = self.freshness.ttl(kind, answer)
        self._cache.set(self.key(kind, provider, e164), (answer, self.clock()), expire=ttl)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()

    # -- maintenance (cache info / prune / clear) ------------------------------------
    def info(self) -> dict[str, Any]:
        if self._cache is None:
            return {"directory": str(self.directory), "entries": 0}
        now = self.clock()
        per: dict[str, dict[str, Any]] = {}
        buckets = [("< 1 day", 1), ("1-7 days", 7), ("7-30 days", 30), ("30-60 days", 60),
                   ("60-90 days", 90), ("> 90 days", 10**9)]
        ages = {name: 0 for name, _ in buckets}
        total = 0
        for key in self._cache.iterkeys():
            value = self._cache.get(key)
            if value is None:
                continue
            total += 1
            kind, provider, _ = str(key).split(":", 2)
            answer, learned = value
            entry = per.setdefault(f"{kind}:{provider}", {"entries": 0, "answers": {},
                                                          "stale": 0})
            entry["entries"] += 1
            entry["answers"][answer] = entry["answers"].get(answer, 0) + 1
            age_days = (now - learned) / DAY
            if now - learned > self.freshness.ttl(kind, answer):
                entry["stale"] += 1
            for name, limit in buckets:
                if age_days < limit:
                    ages[name] += 1
                    break
        size = sum(f.stat().st_size for f in self.directory.rglob("*") if f.is_file())
        return {"directory": str(self.directory), "entries": total, "size_bytes": size,
                "ages": ages, "providers": per}

    def prune(self) -> int:
        """Remove expired entries; returns how many."""
        if self._cache is None:
            return 0
        return int(self._cache.expire(now=self.clock()))

    def clear(self) -> int:
        if self._cache is None:
            return 0
        return int(self._cache.clear())
