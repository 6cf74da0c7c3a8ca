"""The persistent cache of what remote look-ups learned (CONTRACT §8, §10, §11).

Where it lives is a store (``remote/store.py``): a directory (the user cache directory
by default: diskcache for the scope records, a batched SQLite table for the answers)
or a Redis server shared by several hosts (``--cache-url redis://…``). This module owns
what does not depend on the store. Keys are HMAC-SHA256 of the E.164 number with a
per-cache secret (``secret.key``, or ``rcsq:secret`` in Redis: exactly 32 random bytes,
created atomically), so the cache holds no phone number in clear and a copied cache
cannot be probed for a number without the secret. The store keeps the first 16 bytes.

**Scopes.** An answer is only valid for the service that gave it: every entry lives in
a namespace ``provider@<hash of provider, base URL, bot/agent id>``, described once in
the cache (``cache info`` lists them). Answers learned from the emulator or a staging
bot therefore never serve a production run. Entries written before scopes existed
(``cap:bothub:…``) are simply never read again; ``cache prune``/``clear`` remove them.

Every answer is written the moment it arrives, so a run stopped at any point re-asks
nothing already answered. Failures are never cached.

**Storage failures.** A cache that cannot be opened (or whose secret is damaged, or
whose layout version is not this one's) stops the run at start (exit 2). One that fails
mid-run (disk full, Redis gone) is *degraded*: answers are kept in memory for the rest
of the run, ``degraded`` says why, and the run reports it and exits 3 at best; the
SQLite file stays consistent (each batch is one transaction).

Freshness follows Orange's re-check advice: capable 90 days, not capable 60 days,
operator look-ups 7 days (configurable), checked on every read against the date the
answer was learned; ``cache prune`` removes what is stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache
import numpy as np
import platformdirs

from rcsqualify.errors import ConfigurationError
from rcsqualify.remote.store import (
    DIGEST_BYTES,
    SECRET_BYTES,
    AnswerStore,
    DirectoryStore,
    Entries,
    RedisStore,
    is_redis_url,
    load_or_create_secret,
)
from rcsqualify.textsafe import safe_text

__all__ = ["SECRET_BYTES", "Freshness", "LookupCache", "Scope", "load_or_create_secret"]

DAY = 86_400.0
JOB_DIR = "bulk_jobs"
#: a bulk job file rcsqualify wrote: the SHA-256 of the job id (never the id itself)
JOB_FILE = re.compile(r"[0-9a-f]{32}\.json")


def job_files(directory: Path) -> list[Path]:
    """The bulk job files rcsqualify wrote in a cache directory: maintenance never
    touches any other file there (CONTRACT §11)."""
    job_dir = directory / JOB_DIR
    if not job_dir.is_dir():
        return []
    return sorted(p for p in job_dir.iterdir() if JOB_FILE.fullmatch(p.name))
_STORAGE_ERRORS = (OSError, sqlite3.Error, diskcache.Timeout)


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

    @property
    def longest(self) -> float:
        return max(self.positive_days, self.negative_days, self.operator_days) * DAY


@dataclass(frozen=True)
class Scope:
    """The service an answer came from: provider family, base URL, bot/agent id."""

    provider: str
    url: str
    ident: str = ""

    @property
    def namespace(self) -> str:
        digest = hashlib.sha256(f"{self.provider}\n{self.url.rstrip('/')}\n{self.ident}"
                                .encode()).hexdigest()[:12]
        return f"{self.provider}@{digest}"

    def describe(self) -> dict[str, str]:
        from rcsqualify.remote.http import mask_url

        return {"provider": self.provider, "url": mask_url(self.url) if "://" in self.url
                else safe_text(self.url), "id": safe_text(self.ident, 80)}


class LookupCache:
    """Answers per (kind, namespace, number); ``kind`` is ``cap`` or ``op``.

    ``url``: a directory (default: ``directory``, else the user cache directory) or a
    ``redis://``/``rediss://`` URL (``remote/store.py``). ``directory`` stays the local
    directory of the persisted bulk jobs whatever the store.
    """

    def __init__(self, directory: Path | None = None, *, url: str | None = None,
                 freshness: Freshness | None = None, refresh: bool = False,
                 enabled: bool = True, clock: Any = time.time) -> None:
        self.enabled = enabled
        self.refresh = refresh
        self.freshness = freshness or Freshness()
        self.clock = clock
        if url and not is_redis_url(url):  # a directory URL wins over --cache-dir
            if "://" in url.removeprefix("file://") or url != url.strip() or (
                    ":/" in url and not url.startswith("file://")):
                # a mistyped URL must never become a directory named after it (with
                # the password in its name, printed by every message)
                raise ConfigurationError(
                    "--cache-url must be a directory, file://DIR, redis://host:port/db or "
                    "rediss://…; got something else (not shown: it may hold a password)")
            directory = Path(url.removeprefix("file://"))
        self.directory = directory or default_cache_dir()
        self.location = str(self.directory)
        self._store: AnswerStore | None = None
        self._errors: tuple[type[BaseException], ...] = _STORAGE_ERRORS
        secret = secrets.token_bytes(SECRET_BYTES)  # --no-cache: keys never stored
        #: why the cache stopped working mid-run (None while healthy)
        self.degraded: str | None = None
        self._memory: dict[tuple[str, bytes], tuple[str, float]] = {}
        if enabled:
            if url and is_redis_url(url):
                self._store = RedisStore(url)
            else:
                try:
                    self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                    self._store = DirectoryStore(self.directory)
                except ConfigurationError:
                    raise
                except _STORAGE_ERRORS as exc:
                    raise ConfigurationError(f"cannot open the cache in {self.directory}: "
                                             f"{safe_text(exc)}") from exc
            self.location = self._store.location
            self._errors = self._store.errors
            secret = self._store.secret()
        self._secret = secret
        #: the run's quota store (remote/pacing.py QuotaStore), set by the wiring
        self.quota: Any = None
        block = secret.ljust(64, b"\0")  # HMAC's padded key (RFC 2104), hashed once
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    @property
    def backend(self) -> str:
        return self._store.kind if self._store is not None else "none"

    # -- keys and scopes ---------------------------------------------------------------
    def digest(self, e164: str) -> str:
        """HMAC-SHA256 of the number, hex (the bulk job files' keys)."""
        return hmac.new(self._secret, e164.encode(), hashlib.sha256).hexdigest()

    def digests(self, numbers: Iterable[str]) -> list[bytes]:
        """The store keys of many numbers: the first 16 bytes of their HMAC-SHA256,
        from the precomputed inner and outer states (0.75 µs a number instead of 1.9 µs
        through ``hmac.new``: a million numbers are hashed on every warm run)."""
        inner, outer = self._inner.copy, self._outer.copy
        out: list[bytes] = []
        append = out.append
        for n in numbers:
            h = inner()
            h.update(n.encode())
            o = outer()
            o.update(h.digest())
            append(o.digest()[:DIGEST_BYTES])
        return out

    def key(self, kind: str, namespace: str, e164: str) -> str:
        return f"{kind}:{namespace}:{self.digest(e164)}"

    def scope(self, scope: Scope) -> str:
        """Register ``scope`` (for ``cache info``) and return its namespace."""
        ns = scope.namespace
        if self._store is not None and self.degraded is None:
            try:
                self._store.register_scope(ns, scope.describe())
            except self._errors as exc:
                self._degrade(exc)
        return ns

    # -- reading and writing -------------------------------------------------------------
    def _degrade(self, exc: BaseException) -> None:
        if self.degraded is None:
            self.degraded = safe_text(f"{type(exc).__name__}: {exc}", 160)

    def _fresh_mask(self, kind: str, answers: list[str | None], learned: np.ndarray
                    ) -> np.ndarray:
        ttl_of: dict[str | None, float] = {a: self.freshness.ttl(kind, a)
                                           for a in set(answers) if a is not None}
        ttl_of[None] = -1.0
        ttls = np.array([ttl_of[a] for a in answers], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return np.asarray((self.clock() - learned) <= ttls)

    def get(self, kind: str, namespace: str, e164: str) -> str | None:
        """The cached answer if fresh (and not --refresh), else None."""
        return self.get_many(kind, namespace, [e164])[0]

    def get_many(self, kind: str, namespace: str, numbers: Iterable[str]) -> list[str | None]:
        """Fresh answers for many numbers, read in one batch (a bulk run reads a million
        entries: one transaction or one round trip each would dominate its time)."""
        numbers = list(numbers)
        if self.refresh or not self.enabled:
            return [None] * len(numbers)
        space = f"{kind}:{namespace}"
        keys = self.digests(numbers)
        answers: list[str | None] = [None] * len(keys)
        learned = np.full(len(keys), np.nan)
        if self._store is not None and self.degraded is None:
            try:
                answers, learned = self._store.get_many(space, keys)
            except self._errors as exc:
                self._degrade(exc)
        if self._memory:
            for i, k in enumerate(keys):
                if (held := self._memory.get((space, k))) is not None:
                    answers[i], learned[i] = held
        fresh = self._fresh_mask(kind, answers, learned)
        return [a if ok else None for a, ok in zip(answers, fresh.tolist(), strict=True)]

    def put(self, kind: str, namespace: str, e164: str, answer: str) -> None:
        self.put_many(kind, namespace, [(e164, answer)])

    def put_many(self, kind: str, namespace: str, answers: Iterable[tuple[str, str]]) -> None:
        """Store answers in one batch (all of a bulk job's results at once)."""
        if not self.enabled:
            return
        now = self.clock()
        pairs = list(answers)
        if not pairs:
            return
        space = f"{kind}:{namespace}"
        keys = self.digests(n for n, _ in pairs)
        values = [a for _, a in pairs]
        if self._store is not None and self.degraded is None:
            try:
                ttl_of = {a: self.freshness.ttl(kind, a) for a in set(values)}
                self._store.put_many(space, keys, values, now,
                                     [now + ttl_of[a] for a in values],
                                     self.freshness.longest)
                return
            except self._errors as exc:
                self._degrade(exc)
        for k, a in zip(keys, values, strict=True):
            self._memory[(space, k)] = (a, now)

    def close(self) -> None:
        if self.quota is not None:
            self.quota.close()
        if self._store is not None:
            with contextlib.suppress(*self._errors):
                self._store.close()

    # -- maintenance (cache info / prune / clear / forget) -------------------------------
    def info(self) -> dict[str, Any]:
        empty = {"directory": self.location, "store": self.backend, "entries": 0,
                 "size_bytes": 0, "ages": {}, "providers": {}, "scopes": {}}
        if self._store is None:
            return empty
        now = self.clock()
        per: dict[str, dict[str, Any]] = {}
        scopes = self._store.scopes()
        edges = [1, 7, 30, 60, 90]
        names = ["< 1 day", "1-7 days", "7-30 days", "30-60 days", "60-90 days", "> 90 days"]
        ages = dict.fromkeys(names, 0)
        total = 0
        for space, entries in self._store.spaces():
            answers, learned = entries.answers, entries.learned
            kind, _, namespace = space.partition(":")
            total += len(answers)
            values, counts = np.unique(answers.astype(str), return_counts=True)
            if "@" in namespace:
                stale = int((~self._fresh_mask(kind, answers.tolist(), learned)).sum())
            else:
                stale = len(answers)  # unscoped entries of older versions are never read
            per[space] = {"entries": len(answers),
                          "answers": {str(v): int(c) for v, c in zip(values, counts,
                                                                     strict=True)},
                          "stale": stale,
                          "scope": scopes.get(namespace, {
                              "provider": namespace, "url": "(before scopes: never read)"})}
            hist = np.bincount(np.searchsorted(edges, (now - learned) / DAY, side="right"),
                               minlength=len(names))
            for name, count in zip(names, hist.tolist(), strict=True):
                ages[name] += count
        return {**empty, "entries": total, "size_bytes": self._store.size_bytes(),
                "ages": ages, "providers": per, "scopes": scopes}

    def prune(self) -> int:
        """Remove expired entries (the freshness when they were written) and those of older
        versions (unscoped); how many."""
        if self._store is None:
            return 0
        now = self.clock()

        def keep(space: str, entries: Entries) -> np.ndarray:
            if "@" not in space.partition(":")[2]:
                return np.zeros(len(entries.answers), dtype=bool)
            return np.asarray(entries.expires >= now)

        return self._store.rewrite(keep)

    def clear(self) -> int:
        """Remove every cached answer and every persisted bulk job (the secret stays)."""
        if self._store is None:
            return 0
        removed = self._store.clear()
        for path in job_files(self.directory):
            path.unlink(missing_ok=True)
        return removed

    def forget(self, numbers: Iterable[str]) -> int:
        """Remove everything held about these E.164 numbers, in every scope and back end
        (a person's right to erasure, CONTRACT §11), including persisted bulk jobs."""
        numbers = list(numbers)
        if self._store is None:
            return 0
        digests = {self.digest(n) for n in numbers}
        gone = np.frombuffer(b"".join(self.digests(numbers)), dtype="<u8").reshape(-1, 2)

        def keep(space: str, entries: Entries) -> np.ndarray:
            held = entries.digests
            hit = np.zeros(len(held), dtype=bool)
            for hi, lo in gone.tolist():
                hit |= (held[:, 0] == hi) & (held[:, 1] == lo)
            return ~hit

        removed = self._store.rewrite(keep)
        for path in job_files(self.directory):
            try:
                job = json.loads(path.read_text())
                keys = job["keys"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            kept = [k for k in keys if k not in digests]
            if len(kept) != len(keys):
                removed += len(keys) - len(kept)
                if kept:
                    job["keys"] = kept
                    from rcsqualify.files import atomic_write

                    with atomic_write(path, mode=0o600) as tmp:
                        tmp.write_text(json.dumps(job))
                else:
                    path.unlink(missing_ok=True)
        return removed
