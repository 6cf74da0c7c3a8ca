"""The persistent cache of what remote look-ups learned (CONTRACT §8, §10, §11).

Where it lives is a store (``remote/store_directory.py``, ``remote/store_redis.py``): a
directory (the user cache directory by default: diskcache for the scope records, a
batched SQLite table for the answers)
or a Redis server shared by several hosts (``--cache-url redis://…``). This module owns
what does not depend on the store. Keys are a keyed pseudo-random function of the E.164
number (two SipHash-2-4, ``remote/keys.py``, computed for a whole batch at once) with a
per-cache key of 32 random bytes, so the cache holds no phone number in clear and a
copied cache cannot be probed for a number without the key. The key is best kept apart
from the cache (``remote/cachekey.py``: a key holder with the cache can enumerate the
number space in minutes); a store records its fingerprint and refuses another key.
Answers stored by the previous layout (keyed by HMAC-SHA256) are found by that key when
the new one misses, and moved.

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
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import diskcache
import numpy as np
import platformdirs

from rcsqualify.defaults import TTL_NEGATIVE_DAYS, TTL_OPERATOR_DAYS, TTL_POSITIVE_DAYS
from rcsqualify.errors import ConfigurationError
from rcsqualify.files import create_exclusive
from rcsqualify.remote.cachekey import (
    KeyOptions,
    Need,
    fingerprint,
    read_key_file,
    settle_key,
)
from rcsqualify.remote.keys import E164Numbers, KeyMaker, e164_keys
from rcsqualify.remote.layout import LEGACY
from rcsqualify.remote.redis_conn import is_redis_url
from rcsqualify.remote.store import (
    DIGEST_BYTES,
    SECRET_BYTES,
    AnswerStore,
    Entries,
    digest_fields,
    load_or_create_secret,
)
from rcsqualify.remote.store_directory import DirectoryStore
from rcsqualify.textsafe import safe_text

__all__ = ["SECRET_BYTES", "Freshness", "LookupCache", "Scope", "answer_of",
           "load_or_create_secret"]

DAY = 86_400.0
_T = TypeVar("_T")
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


#: an answer's source follows it after this mark (``yes|delivery``: learned from a
#: campaign's delivery events by ``rcsqualify learn``); a look-up answer has none
SOURCE_MARK = "|"


def answer_of(stored: str) -> str:
    """The answer of a stored value, without its source (``yes|delivery`` → ``yes``):
    every reader sees the same answers whatever taught them, and ``cache info`` still
    counts them per source."""
    return stored.partition(SOURCE_MARK)[0]


def _key_in(path: Path) -> bytes | None:
    """The cache key a key file holds, or None (absent, unreadable, not a key)."""
    try:
        return read_key_file(path)
    except ConfigurationError:
        return None


def _our_stopped_move(to: Path, key: bytes) -> bool:
    """``to`` is what a move-key stopped after writing left: a regular file (not a
    symlink to one) that only its owner can read, holding ``key``. A file some other way
    holding the key (a copy made readable by others, a link to another file) is not
    ours to adopt: the key would leave the cache for a file the move never made private."""
    try:
        st = to.lstat()
    except OSError:
        return False
    return (stat.S_ISREG(st.st_mode) and not st.st_mode & 0o077
            and _key_in(to) == key)


def default_cache_dir() -> Path:
    env = os.environ.get("RCSQUALIFY_CACHE_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_cache_dir("rcsqualify")) / "lookups"


@dataclass(frozen=True)
class Freshness:
    positive_days: float = TTL_POSITIVE_DAYS
    negative_days: float = TTL_NEGATIVE_DAYS
    operator_days: float = TTL_OPERATOR_DAYS

    def ttl(self, kind: str, answer: str) -> float:
        if kind == "op":
            return self.operator_days * DAY
        return (self.positive_days if answer_of(answer) == "yes"
                else self.negative_days) * DAY

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
        from rcsqualify.masking import mask_url

        return {"provider": self.provider, "url": mask_url(self.url) if "://" in self.url
                else safe_text(self.url), "id": safe_text(self.ident, 80)}


def _maintenance(method: Callable[..., _T]) -> Callable[..., _T]:
    """``cache info/prune/clear/forget``: a store that fails (Redis gone, a damaged
    batch) is one line naming the cache, exit 2, not an unexpected error."""

    @functools.wraps(method)
    def wrapper(self: LookupCache, *args: Any, **kw: Any) -> _T:
        try:
            return method(self, *args, **kw)
        except self._errors as exc:
            raise ConfigurationError(
                f"the cache at {self.location} failed: "
                f"{safe_text(f'{type(exc).__name__}: {exc}', 160)}") from None

    return wrapper


class LookupCache:
    """Answers per (kind, namespace, number); ``kind`` is ``cap`` or ``op``.

    ``url``: a directory (default: ``directory``, else the user cache directory) or a
    ``redis://``/``rediss://`` URL (``remote/store_redis.py``). ``directory`` stays the local
    directory of the persisted bulk jobs whatever the store.
    """

    def __init__(self, directory: Path | None = None, *, url: str | None = None,
                 freshness: Freshness | None = None, refresh: bool = False,
                 enabled: bool = True, clock: Any = time.time,
                 key: KeyOptions | None = None, need: Need = "create") -> None:
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
        #: the first answer this run wrote to the store (space, its digest), read back
        #: by ``kept()``
        self._witness: tuple[str, np.ndarray] | None = None
        #: what every run must be told about this cache (a key stored inside a shared one)
        self.notes: list[str] = []
        #: where the key is: "inside" (stored in the cache), "outside", "none" (no key yet)
        self.key_place = "none"
        self._key_given = False
        self._memory: dict[tuple[str, bytes], tuple[str, float]] = {}
        #: spaces with answers of the previous layout still to move (``LEGACY``)
        self._legacy: dict[str, bool] = {}
        if enabled:
            if url and is_redis_url(url):
                from rcsqualify.remote.store_redis import RedisStore  # only when used

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
            try:
                settled = settle_key(
                    self._store, key or KeyOptions(), need,
                    cache_dir=None if self._store.kind == "redis" else self.directory)
                self.key_place = ("inside" if self._store.stored_secret() is not None
                                  else "outside" if self._store.key_fingerprint()
                                  else "none")
            except self._errors as exc:
                self._store.close()
                raise ConfigurationError(f"cannot open the cache at {self.location}: "
                                         f"{safe_text(exc)}") from None
            except BaseException:
                self._store.close()
                raise
            self.notes, self._key_given = settled.notes, settled.given
            self.notes = [*self.notes, *getattr(self._store, "warnings", [])]  # evicting
            if settled.key is not None:
                secret = settled.key
        self._secret = secret
        self._keys = KeyMaker(secret)

    @property
    def backend(self) -> str:
        return self._store.kind if self._store is not None else "none"

    # -- keys and scopes ---------------------------------------------------------------
    def digest(self, e164: str) -> str:
        """HMAC-SHA256 of the number, hex (the bulk job files' keys)."""
        return hmac.new(self._secret, e164.encode(), hashlib.sha256).hexdigest()

    def digests(self, numbers: Sequence[str]) -> np.ndarray:
        """The store keys of many numbers, ``(n, 2)`` uint64, computed as arrays."""
        return self._keys.digests(e164_keys(numbers))

    def _legacy_digests(self, numbers: Iterable[str]) -> np.ndarray:
        """The keys of layout 2: the first 16 bytes of the HMAC-SHA256 of the number
        (from the precomputed inner and outer states of RFC 2104: 0.75 µs a number
        instead of 1.9 µs through ``hmac.new``)."""
        block = self._secret.ljust(64, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in block)).copy
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in block)).copy
        out = bytearray()
        for n in numbers:
            h = inner()
            h.update(n.encode())
            o = outer()
            o.update(h.digest())
            out += o.digest()[:DIGEST_BYTES]
        return np.frombuffer(bytes(out), dtype="<u8").reshape(-1, 2)

    def key(self, kind: str, namespace: str, e164: str) -> str:
        return f"{kind}:{namespace}:{self.digest(e164)}"

    def scope(self, scope: Scope) -> str:
        """Register ``scope`` (for ``cache info``) and return its namespace."""
        ns = scope.namespace
        if self._store is not None and self.degraded is None:
            try:
                self._store.register_scope(ns, scope.describe())
                if not self.refresh:  # its answers read in the background from now
                    self._store.prefetch([f"cap:{ns}", f"op:{ns}"])
            except self._errors as exc:
                self._degrade(exc)
        return ns

    # -- reading and writing -------------------------------------------------------------
    def _degrade(self, exc: BaseException) -> None:
        if self.degraded is None:
            self.degraded = safe_text(f"{type(exc).__name__}: {exc}", 160)

    def _fresh_mask(self, kind: str, codes: np.ndarray, vocab: list[str],
                    learned: np.ndarray) -> np.ndarray:
        """Which entries are fresh (an answer ``vocab[code]`` learned at ``learned``);
        a code of -1 is no entry."""
        ttls = np.array([self.freshness.ttl(kind, a) for a in vocab] + [-1.0])
        with np.errstate(invalid="ignore"):
            return np.asarray((self.clock() - learned) <= ttls[codes])

    def _ttls(self, kind: str, answers: list[str]) -> np.ndarray:
        """The freshness of each answer, in seconds (its expiry: learned + this)."""
        ttl_of = {a: self.freshness.ttl(kind, a) for a in set(answers)}
        return np.array([ttl_of[a] for a in answers])

    def get(self, kind: str, namespace: str, e164: str) -> str | None:
        """The cached answer if fresh (and not --refresh), else None."""
        return self.get_many(kind, namespace, [e164])[0]

    def get_many(self, kind: str, namespace: str, numbers: Sequence[str]
                 ) -> list[str | None]:
        """Fresh answers for many numbers, read in one batch."""
        codes, vocab = self.lookup(kind, namespace, numbers)
        words = np.array([*vocab, None], dtype=object)
        return list(words[codes].tolist())

    def lookup(self, kind: str, namespace: str, numbers: Sequence[str]
               ) -> tuple[np.ndarray, list[str]]:
        """Fresh answers for many numbers, read in one batch, as codes into a vocabulary
        (-1: none). A warm run reads a million entries: keys, reads and freshness are
        array operations, with no Python object per number."""
        n = len(numbers)
        if self.refresh or not self.enabled or not n:
            return np.full(n, -1, dtype=np.int32), []
        space = f"{kind}:{namespace}"
        keys = self.digests(numbers)
        codes = np.full(n, -1, dtype=np.int32)
        vocab: list[str] = []
        learned = np.full(n, np.nan)
        if self._store is not None and self.degraded is None:
            try:
                codes, vocab, learned = self._store.get_many(space, keys)
                self._from_legacy(kind, space, numbers, keys, codes, vocab, learned)
            except self._errors as exc:
                self._degrade(exc)
        if self._memory:
            index = {w: i for i, w in enumerate(vocab)}
            for i, k in enumerate(digest_fields(keys)):
                if (held := self._memory.get((space, k))) is not None:
                    codes[i] = index.setdefault(held[0], len(index))
                    learned[i] = held[1]
            vocab = list(index)
        codes[~self._fresh_mask(kind, codes, vocab, learned)] = -1
        return codes, [answer_of(w) for w in vocab]

    def put_learned(self, kind: str, namespace: str, keys: np.ndarray,
                    answers: Sequence[str | None], learned: np.ndarray, source: str
                    ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Store first-hand answers (``rcsqualify learn``: a campaign's delivery events)
        for the E.164 integer ``keys``, each learned at its own date (never after now),
        marked ``answer|source``. An answer the cache holds learned at the same date or
        later wins (a look-up made after the campaign knows better); only the newer
        ones are written (an answer of None is only read). Returns what the cache held
        before, read in the same batch
        (answer codes, -1 for none, their answers, their dates), so the caller can say
        which answers the campaign contradicted and how old they were."""
        n = len(keys)
        held: tuple[np.ndarray, list[str], np.ndarray] = (
            np.full(n, -1, dtype=np.int32), [], np.full(n, np.nan))
        if not self.enabled or not n:
            return held
        now = self.clock()
        learned = np.minimum(np.asarray(learned, dtype=np.float64), now)
        space = f"{kind}:{namespace}"
        digests = self._keys.digests(keys)
        if self._store is not None and self.degraded is None:
            try:
                codes, vocab, dates = self._store.get_many(space, digests)
                held = (codes, [answer_of(w) for w in vocab], dates)
                given = np.array([a is not None for a in answers], dtype=bool)
                with np.errstate(invalid="ignore"):
                    newer = given & ~(dates >= learned)  # NaN (nothing held): newer
                at = np.flatnonzero(newer)
                if len(at):
                    values = [f"{answers[i]}{SOURCE_MARK}{source}" for i in at.tolist()]
                    self._store.put_many(space, digests[at], values, learned[at],
                                         learned[at] + self._ttls(kind, values),
                                         self.freshness.longest)
                    if self._witness is None:
                        self._witness = (space, digests[at[:1]].copy())
                return held
            except self._errors as exc:
                self._degrade(exc)
        return held

    def _from_legacy(self, kind: str, space: str, numbers: Sequence[str], keys: np.ndarray,
                     codes: np.ndarray, vocab: list[str], learned: np.ndarray) -> None:
        """Answers of the previous layout for the numbers the new keys miss (filled in
        place); moved under the new keys when many numbers are read at once (a stream
        reading one number at a time leaves them for the next batch run)."""
        assert self._store is not None
        if (has := self._legacy.get(space)) is None:
            has = self._legacy[space] = self._store.has_space(LEGACY + space)
        miss = np.flatnonzero(codes < 0)
        if not has or not len(miss):
            return
        old = self._legacy_digests(E164Numbers(numbers.keys[miss])
                                   if isinstance(numbers, E164Numbers)
                                   else [numbers[int(i)] for i in miss])
        old_codes, old_vocab, old_learned = self._store.get_many(LEGACY + space, old)
        found = old_codes >= 0
        if not found.any():
            return
        index = {w: i for i, w in enumerate(vocab)}
        remap = np.array([index.setdefault(w, len(index)) for w in old_vocab], np.int32)
        vocab[:] = list(index)
        at = miss[found]
        codes[at] = remap[old_codes[found]]
        learned[at] = old_learned[found]
        if len(numbers) > 1:
            answers = [vocab[c] for c in codes[at].tolist()]
            self._store.put_many(space, keys[at], answers, learned[at],
                                 learned[at] + self._ttls(kind, answers),
                                 self.freshness.longest)
            self._store.delete(LEGACY + space, old[found])

    def kept(self) -> bool:
        """Whether this run's answers are in the store: the first one written is read
        back (a Redis evicting keys under ``maxmemory`` drops answers silently, and the
        oldest first). False with no cache, a degraded one, or that answer gone."""
        if not self.enabled or self._store is None or self.degraded is not None:
            return False
        if self._witness is None:
            return True  # nothing was written: nothing to lose
        space, key = self._witness
        try:
            codes, _, _ = self._store.read_back(space, key)
        except self._errors as exc:
            self._degrade(exc)
            return False
        return bool(codes[0] >= 0)

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
        keys = self.digests([n for n, _ in pairs])
        values = [a for _, a in pairs]
        if self._store is not None and self.degraded is None:
            try:
                self._store.put_many(space, keys, values, np.full(len(values), now),
                                     now + self._ttls(kind, values),
                                     self.freshness.longest)
                if self._witness is None:
                    self._witness = (space, keys[:1].copy())
                return
            except self._errors as exc:
                self._degrade(exc)
        for k, a in zip(digest_fields(keys), values, strict=True):
            self._memory[(space, k)] = (a, now)

    def close(self) -> None:
        if self._store is not None:
            with contextlib.suppress(*self._errors):
                self._store.close()

    # -- maintenance (cache info / prune / clear / forget) -------------------------------
    @_maintenance
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
                codes = np.searchsorted(values, answers.astype(str)).astype(np.int32)
                stale = int((~self._fresh_mask(kind.removeprefix(LEGACY), codes,
                                               values.tolist(), learned)).sum())
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
        return {**empty, "key": self.key_place, "entries": total,
                "size_bytes": self._store.size_bytes(),
                "ages": ages, "providers": per, "scopes": scopes}

    @_maintenance
    def move_key(self, to: Path | None) -> str:
        """Take the key stored inside the cache out of it: written to ``to`` (a new file,
        mode 0600, 64 hexadecimal characters), or only removed when the run was given
        the same key; the store keeps its fingerprint. What to say next.

        The key leaves the cache only once ``to`` holds it whole, on disk: written to a
        temporary in ``to``'s folder, synced, linked into place (never over an existing
        file), the folder synced, read back (``files.create_exclusive``). Stopped at any
        step, the key is still in the cache and ``to`` is absent or whole; a ``to`` that
        already holds this very key (a private regular file) is the move stopped after
        writing it, and a new run with the same ``--to`` finishes it."""
        if self._store is None:
            raise ConfigurationError("the cache is off: no key to move")
        stored = self._store.stored_secret()
        if stored is None:
            raise ConfigurationError(f"no cache key is stored inside the cache at "
                                     f"{self.location}: nothing to move")
        self._store.claim_fingerprint(fingerprint(stored))
        if to is None:
            if not self._key_given:
                raise ConfigurationError("give --to FILE (a file outside the cache) to "
                                         "receive the key before it leaves the cache")
        else:
            self._key_to_file(stored, to)
        self._store.drop_secret()
        where = (f"--cache-key-file {safe_text(to)} (or RCSQUALIFY_CACHE_KEY set to the "
                 "file's content, e.g. a CI secret)" if to is not None
                 else "the key this run was given")
        return (f"the cache key left the cache at {self.location}; from now on every run "
                f"needs {where}")

    def _key_to_file(self, key: bytes, to: Path) -> None:
        """``to`` holds ``key`` whole and on disk, or ``ConfigurationError`` (the key
        stays in the cache)."""
        if self._store is not None and self._store.kind != "redis" and \
                to.resolve().is_relative_to(self.directory.resolve()):
            raise ConfigurationError(f"--to {safe_text(to)} is inside the cache "
                                     "directory: keep the key elsewhere")
        try:
            created = create_exclusive(to, key.hex().encode() + b"\n")
        except OSError as exc:
            tilde = ("; '~' is not expanded here (the shell expands it only at a word's "
                     "start, not after '='): give the path in full"
                     if str(to).startswith("~") else "")
            raise ConfigurationError(f"--to {safe_text(to)}: cannot create it "
                                     f"({exc.strerror or type(exc).__name__}){tilde}; the "
                                     "key stays in the cache") from None
        if not created and not _our_stopped_move(to, key):
            raise ConfigurationError(f"--to {safe_text(to)} exists: refusing to "
                                     "overwrite it; choose a new file")
        if _key_in(to) != key:  # read back: what the runs will read
            raise ConfigurationError(f"--to {safe_text(to)} does not read back as the key "
                                     "written; the key stays in the cache")

    @_maintenance
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

    @_maintenance
    def clear(self) -> int:
        """Remove every cached answer and every persisted bulk job (the secret stays)."""
        if self._store is None:
            return 0
        removed = self._store.clear()
        for path in job_files(self.directory):
            path.unlink(missing_ok=True)
        return removed

    @_maintenance
    def forget(self, numbers: Iterable[str]) -> int:
        """Remove everything held about these E.164 numbers, in every scope and back end
        (a person's right to erasure, CONTRACT §11), including persisted bulk jobs."""
        numbers = list(numbers)
        if self._store is None:
            return 0
        digests = {self.digest(n) for n in numbers}
        gone = digest_fields(self.digests(numbers))
        gone_before = digest_fields(self._legacy_digests(numbers))  # layout 2's keys

        def keep(space: str, entries: Entries) -> np.ndarray:
            held = np.ascontiguousarray(entries.digests, "<u8").view("V16").ravel()
            return ~np.isin(held, np.array(gone_before if space.startswith(LEGACY)
                                           else gone, dtype="V16"))

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
