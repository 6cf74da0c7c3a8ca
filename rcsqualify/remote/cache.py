"""The persistent cache of what remote look-ups learned (CONTRACT §8, §10, §11).

diskcache (SQLite underneath) under the user cache directory. Keys are HMAC-SHA256 of
the E.164 number with a per-cache secret (``secret.key``: exactly 32 random bytes,
mode 0600, created atomically), so the cache holds no phone number in clear and a
copied cache cannot be probed for a number without the secret. Values are tiny tuples
``(answer, learned_at)``.

**Scopes.** An answer is only valid for the service that gave it: every entry lives in
a namespace ``provider@<hash of provider, base URL, bot/agent id>``, described once in
the cache (``cache info`` lists them). Answers learned from the emulator or a staging
bot therefore never serve a production run. Entries written before scopes existed
(``cap:bothub:…``) are simply never read again; ``cache prune``/``clear`` remove them.

Every answer is written the moment it arrives, so a run stopped at any point re-asks
nothing already answered. Failures are never cached.

**Storage failures.** A cache that cannot be opened (or whose secret is damaged) stops
the run at start (exit 2). One that fails mid-run (disk full) is *degraded*: answers are
kept in memory for the rest of the run, ``degraded`` says why, and the run reports it
and exits 3 at best; the SQLite file stays consistent (each write is one transaction).

Freshness follows Orange's re-check advice: capable 90 days, not capable 60 days,
operator look-ups 7 days (configurable). Entries also carry a diskcache expiry at the
same horizon, so ``cache prune`` removes what is stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache
import platformdirs

from rcsqualify.errors import ConfigurationError
from rcsqualify.textsafe import safe_text

DAY = 86_400.0
SECRET_BYTES = 32
JOB_DIR = "bulk_jobs"
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


def load_or_create_secret(directory: Path) -> bytes:
    """The cache's 32-byte HMAC secret, created atomically on first use.

    Written aside (``O_EXCL``, fsync) then *linked* into place: ``link`` fails if the
    name exists, so of many processes starting on a fresh directory exactly one secret
    wins and every process reads that one, whole. A secret of any other length (a
    full disk, a hand edit) is refused: keys made with it could be recomputed.
    """
    path = directory / "secret.key"
    if not path.exists():
        tmp = directory / f".secret.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                data = secrets.token_bytes(SECRET_BYTES)
                if os.write(fd, data) != SECRET_BYTES:
                    raise OSError("short write")
                os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileExistsError):  # another process won: use its
                os.link(tmp, path)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the cache secret in {directory}: "
                                     f"{exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the cache secret {path}: "
                                 f"{exc.strerror}") from exc
    if len(data) != SECRET_BYTES:
        raise ConfigurationError(
            f"the cache secret {path} is {len(data)} bytes, not {SECRET_BYTES}: the cache is "
            f"damaged; remove the directory {directory} (or use another --cache-dir) and run "
            "again")
    return data


class LookupCache:
    """Answers per (kind, namespace, number); ``kind`` is ``cap`` or ``op``."""

    def __init__(self, directory: Path | None = None, *, freshness: Freshness | None = None,
                 refresh: bool = False, enabled: bool = True,
                 clock: Any = time.time) -> None:
        self.enabled = enabled
        self.refresh = refresh
        self.freshness = freshness or Freshness()
        self.clock = clock
        self.directory = directory or default_cache_dir()
        self._cache: diskcache.Cache | None = None
        self._secret = secrets.token_bytes(SECRET_BYTES)  # --no-cache: keys never stored
        #: why the cache stopped working mid-run (None while healthy)
        self.degraded: str | None = None
        self._memory: dict[str, tuple[str, float]] = {}
        if enabled:
            try:
                self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._secret = load_or_create_secret(self.directory)
                self._cache = diskcache.Cache(str(self.directory / "db"),
                                              eviction_policy="none", size_limit=2**40)
            except ConfigurationError:
                raise
            except _STORAGE_ERRORS as exc:
                raise ConfigurationError(f"cannot open the cache in {self.directory}: "
                                         f"{safe_text(exc)}") from exc

    # -- keys and scopes ---------------------------------------------------------------
    def digest(self, e164: str) -> str:
        return hmac.new(self._secret, e164.encode(), hashlib.sha256).hexdigest()

    def key(self, kind: str, namespace: str, e164: str) -> str:
        return f"{kind}:{namespace}:{self.digest(e164)}"

    def scope(self, scope: Scope) -> str:
        """Register ``scope`` (for ``cache info``) and return its namespace."""
        ns = scope.namespace
        if self._cache is not None and self.degraded is None:
            try:
                if f"scope:{ns}" not in self._cache:
                    self._cache.set(f"scope:{ns}", scope.describe())
            except _STORAGE_ERRORS as exc:
                self._degrade(exc)
        return ns

    # -- reading and writing -------------------------------------------------------------
    def _degrade(self, exc: BaseException) -> None:
        if self.degraded is None:
            self.degraded = safe_text(f"{type(exc).__name__}: {exc}", 160)

    def _fresh(self, kind: str, value: Any) -> str | None:
        if value is None:
            return None
        answer, learned = value
        if self.clock() - learned > self.freshness.ttl(kind, answer):
            return None
        return str(answer)

    def get(self, kind: str, namespace: str, e164: str) -> str | None:
        """The cached answer if fresh (and not --refresh), else None."""
        return self.get_many(kind, namespace, [e164])[0]

    def get_many(self, kind: str, namespace: str, numbers: Iterable[str]) -> list[str | None]:
        """Fresh answers for many numbers, read in one SQLite transaction (a bulk run
        reads a million entries: one transaction each would dominate its time)."""
        numbers = list(numbers)
        if self.refresh or not self.enabled:
            return [None] * len(numbers)
        keys = [self.key(kind, namespace, n) for n in numbers]
        out: list[str | None] = [self._fresh(kind, self._memory.get(k)) for k in keys]
        if self._cache is None or self.degraded is not None:
            return out
        try:
            with self._cache.transact():
                for i, k in enumerate(keys):
                    if out[i] is None:
                        out[i] = self._fresh(kind, self._cache.get(k))
        except _STORAGE_ERRORS as exc:
            self._degrade(exc)
        return out

    def put(self, kind: str, namespace: str, e164: str, answer: str) -> None:
        self.put_many(kind, namespace, [(e164, answer)])

    def put_many(self, kind: str, namespace: str, answers: Iterable[tuple[str, str]]) -> None:
        """Store answers in one transaction (all of a bulk job's results at once)."""
        if not self.enabled:
            return
        now = self.clock()
        items = [(self.key(kind, namespace, n), a) for n, a in answers]
        if self._cache is not None and self.degraded is None:
            try:
                with self._cache.transact():
                    for k, a in items:
                        self._cache.set(k, (a, now), expire=self.freshness.ttl(kind, a))
                return
            except _STORAGE_ERRORS as exc:
                self._degrade(exc)
        for k, a in items:
            self._memory[k] = (a, now)

    def close(self) -> None:
        if self._cache is not None:
            with contextlib.suppress(*_STORAGE_ERRORS):
                self._cache.close()

    # -- maintenance (cache info / prune / clear / forget) -------------------------------
    def info(self) -> dict[str, Any]:
        if self._cache is None:
            return {"directory": str(self.directory), "entries": 0, "size_bytes": 0,
                    "ages": {}, "providers": {}, "scopes": {}}
        now = self.clock()
        per: dict[str, dict[str, Any]] = {}
        scopes: dict[str, Any] = {}
        buckets = [("< 1 day", 1), ("1-7 days", 7), ("7-30 days", 30), ("30-60 days", 60),
                   ("60-90 days", 90), ("> 90 days", 10**9)]
        ages = {name: 0 for name, _ in buckets}
        total = 0
        for key in self._cache.iterkeys():
            value = self._cache.get(key)
            if value is None:
                continue
            parts = str(key).split(":", 2)
            if parts[0] == "scope":
                scopes[parts[1]] = value
                continue
            if len(parts) != 3:
                continue
            total += 1
            kind, namespace, _ = parts
            answer, learned = value
            entry = per.setdefault(f"{kind}:{namespace}", {"entries": 0, "answers": {},
                                                           "stale": 0})
            entry["entries"] += 1
            entry["answers"][answer] = entry["answers"].get(answer, 0) + 1
            age_days = (now - learned) / DAY
            if "@" not in namespace or now - learned > self.freshness.ttl(kind, answer):
                entry["stale"] += 1  # unscoped entries of older versions are never read
            for name, limit in buckets:
                if age_days < limit:
                    ages[name] += 1
                    break
        for name, entry in per.items():
            namespace = name.split(":", 1)[1]
            entry["scope"] = scopes.get(namespace, {"provider": namespace,
                                                    "url": "(before scopes: never read)"})
        size = sum(f.stat().st_size for f in self.directory.rglob("*") if f.is_file())
        return {"directory": str(self.directory), "entries": total, "size_bytes": size,
                "ages": ages, "providers": per, "scopes": scopes}

    def prune(self) -> int:
        """Remove expired entries and those of older versions (unscoped); how many."""
        if self._cache is None:
            return 0
        removed = int(self._cache.expire(now=self.clock()))
        for key in list(self._cache.iterkeys()):
            parts = str(key).split(":", 2)
            if len(parts) == 3 and "@" not in parts[1] and self._cache.delete(key):
                removed += 1
        return removed

    def clear(self) -> int:
        """Remove every cached answer and every persisted bulk job (the secret stays)."""
        if self._cache is None:
            return 0
        removed = int(self._cache.clear())
        job_dir = self.directory / JOB_DIR
        if job_dir.is_dir():
            for path in job_dir.glob("*.json"):
                path.unlink(missing_ok=True)
        return removed

    def forget(self, numbers: Iterable[str]) -> int:
        """Remove everything held about these E.164 numbers, in every scope (a
        person's right to erasure, CONTRACT §11), including persisted bulk jobs."""
        digests = {self.digest(n) for n in numbers}
        removed = 0
        if self._cache is None:
            return 0
        for key in list(self._cache.iterkeys()):
            parts = str(key).split(":", 2)
            if len(parts) == 3 and parts[2] in digests and self._cache.delete(key):
                removed += 1
        job_dir = self.directory / JOB_DIR
        if job_dir.is_dir():
            for path in job_dir.glob("*.json"):
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
