"""Where the cache's answers live: a directory (default) or a Redis server (issue #15).

``LookupCache`` (``remote/cache.py``) owns the semantics — HMAC keys, scopes, freshness,
degraded mode; a store only keeps, per *space* (``kind:namespace``), a map from a
16-byte key digest (the first half of the HMAC-SHA256 of the number) to
``(answer, learned_at)``, in batches: every call reads or writes many entries at once,
never one transaction or one round trip per number.

**Directory** (``DirectoryStore``). diskcache keeps what it does well — a handful of
small records (the scope descriptions) — and the answers live in one SQLite table of
the same directory, ``answers.sqlite``, *one row per written batch*: the digests, the
dates and the answer codes of the batch as three packed arrays. Reading a million
answers is then reading a few blobs and one vectorized ``searchsorted`` (numpy), and
writing them is one INSERT. Measured on the 2-core CI machine (``bench_cache.py``):
diskcache's per-key API took 39 µs per answer written and 10 µs per answer read (a
million: 39 s and 10 s); a plain indexed SQLite table (one row per answer, 1 M rows in
one transaction, keys sorted) still took 4.4 s to write and 2-3 s to read before the
HMAC, too close to the 5 s / 3 s targets on a shared machine. The newest batch wins
when a number was written twice; small batches (answers stored one at a time as they
arrive) are merged once there are more than ``MERGE_SMALL`` of them, and ``cache
prune`` rewrites a space without its stale and superseded entries.

**Redis** (``RedisStore``). Each space is 256 hashes (``rcsq:a:<space>:<first byte>``,
field = digest, value = ``answer|learned``): a million answers are 256 ``HSET`` and 256
``HMGET`` in one pipeline. Each hash carries a native ``EXPIRE`` at the longest
freshness, renewed when written, so a space nobody writes to disappears by itself;
entries are dated and checked on read, and ``cache prune`` removes the stale ones
within a hash. (One key per answer with its own ``SET … EX`` took 4.9 s for a million
through a Lua loop and 15 s through a pipeline, before the HMAC: over the target.)
The per-cache secret is ``rcsq:secret`` (``SET NX``: of many first runs exactly one
wins), the layout version ``rcsq:layout``.

Both stores refuse a layout version they do not know (exit 2, the version found).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import numpy as np

from rcsqualify.errors import ConfigurationError
from rcsqualify.remote.pacing import LAYOUT  # the layout this version reads and writes
from rcsqualify.textsafe import safe_text

SECRET_BYTES = 32
DIGEST_BYTES = 16
#: merge the small batches of a space once there are more than this many
MERGE_SMALL = 64
SMALL_BATCH = 10_000
REDIS_PREFIX = "rcsq:"

#: answers of one space: (answer or None per key, learned_at per key — NaN when None)
Found = tuple[list[str | None], np.ndarray]
#: which entries of a space to keep: (space, entries) → boolean mask
KeepFn = Callable[[str, "Entries"], np.ndarray]


class Entries(NamedTuple):
    """The newest entry per key of one space, as arrays of one length."""

    digests: np.ndarray  # (n, 2) uint64: the 16-byte key digests
    answers: np.ndarray  # objects (str)
    learned: np.ndarray  # float64, epoch seconds
    expires: np.ndarray  # float64: learned + the freshness when written


def is_redis_url(url: str | None) -> bool:
    return bool(url) and str(url).split("://", 1)[0].lower() in ("redis", "rediss")


def redis_host(url: str) -> str:
    """``host:port/db`` of a Redis URL: what messages name (never a user or password)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 6379}{parts.path if parts.path not in ('', '/') else ''}"


def mask_redis_url(url: str) -> str:
    parts = urlsplit(url)
    user = f"{unquote(parts.username)}:***@" if parts.username else (
        "***@" if parts.password else "")
    return f"{parts.scheme}://{user}{redis_host(url)}"


def redis_client(url: str) -> Any:
    """A connected client for ``url`` (password from the URL or, better,
    ``RCSQUALIFY_REDIS_PASSWORD``); one line naming the host when it cannot be used."""
    try:
        import redis
    except ImportError:
        raise ConfigurationError(
            f"{mask_redis_url(url)} needs the Redis client library: "
            "pip install 'rcsqualify[redis]'") from None
    password = os.environ.get("RCSQUALIFY_REDIS_PASSWORD") or None
    kwargs: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0,
                              "retry_on_timeout": False}
    if password is not None:
        kwargs["password"] = password
    try:
        client = redis.Redis.from_url(url, **kwargs)
        client.ping()
    except redis.exceptions.AuthenticationError:
        raise ConfigurationError(f"the Redis at {redis_host(url)} refused the credentials "
                                 "(RCSQUALIFY_REDIS_PASSWORD or the URL's password)") from None
    except redis.exceptions.ResponseError as exc:
        text = str(exc)
        if "NOAUTH" in text or "WRONGPASS" in text or "auth" in text.lower():
            raise ConfigurationError(f"the Redis at {redis_host(url)} refused the "
                                     "credentials (RCSQUALIFY_REDIS_PASSWORD or the URL's "
                                     "password)") from None
        raise ConfigurationError(f"the Redis at {redis_host(url)}: "
                                 f"{safe_text(text, 120)}") from None
    except (redis.exceptions.RedisError, OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot reach the Redis at {redis_host(url)}: "
                                 f"{safe_text(type(exc).__name__ + ': ' + str(exc), 160)}"
                                 ) from None
    return client


def check_layout(found: str | None, where: str) -> None:
    if found is not None and found != LAYOUT:
        raise ConfigurationError(
            f"{where} has cache layout version {safe_text(found, 20)}; this rcsqualify "
            f"reads layout {LAYOUT}: use the rcsqualify that wrote it, or another cache")


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


class AnswerStore(ABC):
    """Batched answers per space; every method may raise one of ``errors``."""

    #: what the cache shows as its location (a directory, a masked URL)
    location: str
    kind: str
    errors: tuple[type[BaseException], ...]

    @abstractmethod
    def secret(self) -> bytes: ...

    @abstractmethod
    def register_scope(self, namespace: str, description: dict[str, str]) -> None: ...

    @abstractmethod
    def scopes(self) -> dict[str, Any]: ...

    @abstractmethod
    def get_many(self, space: str, digests: list[bytes]) -> Found: ...

    @abstractmethod
    def put_many(self, space: str, digests: list[bytes], answers: list[str],
                 learned: float, expires: list[float], ttl: float) -> None:
        """Store the answers; ``ttl``: the longest freshness (native expiry)."""

    @abstractmethod
    def spaces(self) -> Iterator[tuple[str, Entries]]:
        """Every space's entries, the newest per key."""

    @abstractmethod
    def rewrite(self, keep: KeepFn) -> int:
        """Keep only the entries ``keep`` selects (and drop superseded ones); removed."""

    @abstractmethod
    def clear(self) -> int: ...

    @abstractmethod
    def size_bytes(self) -> int: ...

    def close(self) -> None:  # noqa: B027 - optional
        pass


def _newest(hi: np.ndarray, order_key: np.ndarray) -> np.ndarray:
    """Indices of the newest entry per key, sorted by key."""
    if len(hi) < 2 or bool(np.all(hi[1:] > hi[:-1])):
        return np.arange(len(hi))  # one batch, written sorted (``_insert``): nothing to do
    idx = np.lexsort((order_key, hi))
    sorted_hi = hi[idx]
    last = np.ones(len(idx), dtype=bool)
    last[:-1] = sorted_hi[:-1] != sorted_hi[1:]
    return np.asarray(idx[last])


#: entries written since a view was read above which it is read again whole
VIEW_OVERLAY_MAX = 200_000


class _View:
    def __init__(self, base: Entries, last_id: int) -> None:
        self.base = base
        self.last_id = last_id
        self.overlay: dict[bytes, tuple[str, float]] = {}


class DirectoryStore(AnswerStore):
    kind = "directory"

    def __init__(self, directory: Path) -> None:
        import diskcache

        self.directory = directory
        self.location = str(directory)
        self.errors = (OSError, sqlite3.Error, diskcache.Timeout)
        self._views: dict[str, _View] = {}
        self._secret = load_or_create_secret(directory)
        self._db = diskcache.Cache(str(directory / "db"), eviction_policy="none",
                                   size_limit=2**40)
        self._sql = sqlite3.connect(str(directory / "answers.sqlite"), timeout=30.0,
                                    isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            self._sql.execute(f"PRAGMA {pragma}")
        with self._write():
            self._sql.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, "
                              "value TEXT NOT NULL)")
            self._sql.execute(
                "CREATE TABLE IF NOT EXISTS batches(id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "space TEXT NOT NULL, n INTEGER NOT NULL, digests BLOB NOT NULL, "
                "learned BLOB NOT NULL, expires BLOB NOT NULL, codes BLOB NOT NULL, "
                "vocab TEXT NOT NULL)")
            self._sql.execute("CREATE INDEX IF NOT EXISTS batches_space ON batches(space)")
            row = self._sql.execute("SELECT value FROM meta WHERE key='layout'").fetchone()
            check_layout(row[0] if row else None, f"the cache in {directory}")
            if row is None:
                self._sql.execute("INSERT INTO meta VALUES('layout', ?)", (LAYOUT,))
        self._migrate_layout_1()

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        self._sql.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._sql.execute("ROLLBACK")
            raise
        self._sql.execute("COMMIT")

    def _migrate_layout_1(self) -> None:
        """Answers that rcsqualify kept in diskcache before layout 2 (one key each,
        ``kind:namespace:<hex digest>``) move to the table once, then leave diskcache."""
        moved: dict[str, list[tuple[bytes, str, float, float]]] = {}
        old = []
        for key in self._db.iterkeys():
            parts = str(key).split(":", 2)
            if len(parts) != 3 or parts[0] == "scope":
                continue
            value, expire_time = self._db.get(key, expire_time=True)
            old.append(key)
            if isinstance(value, tuple) and len(value) == 2 and len(parts[2]) == 64:
                moved.setdefault(f"{parts[0]}:{parts[1]}", []).append(
                    (bytes.fromhex(parts[2])[:DIGEST_BYTES], str(value[0]), float(value[1]),
                     float(expire_time) if expire_time else float("inf")))
        if not old:
            return
        with self._write():
            for space, rows in moved.items():
                self._insert(space, [r[0] for r in rows], [r[1] for r in rows],
                             np.array([r[2] for r in rows], dtype="<f8"),
                             np.array([r[3] for r in rows], dtype="<f8"))
        for key in old:
            self._db.delete(key)

    def secret(self) -> bytes:
        return self._secret

    def register_scope(self, namespace: str, description: dict[str, str]) -> None:
        if f"scope:{namespace}" not in self._db:
            self._db.set(f"scope:{namespace}", description)

    def scopes(self) -> dict[str, Any]:
        out = {}
        for key in self._db.iterkeys():
            if str(key).startswith("scope:"):
                out[str(key)[6:]] = self._db.get(key)
        return out

    def _insert(self, space: str, digests: list[bytes], answers: Iterable[str],
                learned: np.ndarray, expires: np.ndarray) -> None:
        vocab: dict[str, int] = {}
        codes = np.fromiter((vocab.setdefault(a, len(vocab)) for a in answers),
                            dtype="<u2", count=len(digests))
        # sorted by key, the newest of duplicates only: a space read from one batch
        # needs no sort (``_newest``)
        d = np.frombuffer(b"".join(digests), dtype="<u8").reshape(-1, 2)
        keep = _newest(d[:, 0], np.arange(len(d)))
        if len(keep) != len(d) or not np.array_equal(keep, np.arange(len(d))):
            d, codes = d[keep], codes[keep]
            learned, expires = learned[keep], expires[keep]
        self._sql.execute(
            "INSERT INTO batches(space, n, digests, learned, expires, codes, vocab) "
            "VALUES(?,?,?,?,?,?,?)",
            (space, len(d), d.tobytes(), learned.astype("<f8").tobytes(),
             expires.astype("<f8").tobytes(), codes.tobytes(), json.dumps(list(vocab))))

    def _insert_entries(self, space: str, e: Entries) -> None:
        if len(e.answers):
            self._insert(space, [row.tobytes() for row in e.digests], e.answers, e.learned,
                         e.expires)

    def put_many(self, space: str, digests: list[bytes], answers: list[str],
                 learned: float, expires: list[float], ttl: float) -> None:
        if not digests:
            return
        with self._write():
            self._insert(space, digests, answers, np.full(len(digests), learned, "<f8"),
                         np.array(expires, dtype="<f8"))
            small = self._sql.execute("SELECT count(*) FROM batches WHERE space=? AND n<?",
                                      (space, SMALL_BATCH)).fetchone()[0]
            if small > MERGE_SMALL:
                ids, merged = self._load(space, "AND n<?", (SMALL_BATCH,))
                self._sql.execute(
                    f"DELETE FROM batches WHERE id IN ({','.join('?' * len(ids))})", ids)
                self._insert_entries(space, merged)

    def _load(self, space: str, where: str = "", args: tuple[Any, ...] = ()
              ) -> tuple[list[int], Entries]:
        """The batch ids of a space and its entries, the newest per key, sorted by key."""
        ids, digs, learned, expires, answers = [], [], [], [], []
        for bid, blob, dates, ends, codes, vocab in self._sql.execute(
                "SELECT id, digests, learned, expires, codes, vocab FROM batches "
                f"WHERE space=? {where} ORDER BY id", (space, *args)):
            ids.append(bid)
            digs.append(blob)
            learned.append(np.frombuffer(dates, dtype="<f8"))
            expires.append(np.frombuffer(ends, dtype="<f8"))
            answers.append(np.array(json.loads(vocab) or [""], dtype=object)[
                np.frombuffer(codes, dtype="<u2")])
        if not ids:
            return [], Entries(np.zeros((0, 2), "<u8"), np.array([], object),
                               np.array([], "<f8"), np.array([], "<f8"))
        d = np.frombuffer(b"".join(digs), dtype="<u8").reshape(-1, 2)
        newest = _newest(d[:, 0], np.arange(len(d)))
        return ids, Entries(d[newest], np.concatenate(answers)[newest],
                            np.concatenate(learned)[newest], np.concatenate(expires)[newest])

    def _view(self, space: str) -> _View:
        """This process's view of a space: the entries read once, sorted, plus the
        batches written since (by any process) in a dict, read by batch id. A stream
        run asks one number at a time: it must not re-read a million entries each
        time. Entries removed by another process's prune/forget after the first read
        stay in the view until the process ends."""
        view = self._views.get(space)
        self._sql.execute("BEGIN")
        try:
            if view is not None:
                new = self._sql.execute(
                    "SELECT coalesce(sum(n), 0) FROM batches WHERE space=? AND id>?",
                    (space, view.last_id)).fetchone()[0]
                if new > VIEW_OVERLAY_MAX:
                    view = None  # much was written since: read the whole space again
            if view is None:
                ids, e = self._load(space)
                view = _View(e, max(ids, default=0))
            else:
                for bid, blob, dates, codes, vocab in self._sql.execute(
                        "SELECT id, digests, learned, codes, vocab FROM batches "
                        "WHERE space=? AND id>? ORDER BY id", (space, view.last_id)):
                    words = json.loads(vocab)
                    keys = (blob[i:i + DIGEST_BYTES] for i in range(0, len(blob), DIGEST_BYTES))
                    for k, when, code in zip(keys, np.frombuffer(dates, "<f8").tolist(),
                                             np.frombuffer(codes, "<u2").tolist(),
                                             strict=True):
                        view.overlay[k] = (words[code], when)
                    view.last_id = bid
        finally:
            self._sql.execute("COMMIT")
        self._views[space] = view
        return view

    def get_many(self, space: str, digests: list[bytes]) -> Found:
        n = len(digests)
        view = self._view(space)
        e = view.base
        out = np.full(n, None, dtype=object)
        dates = np.full(n, np.nan)
        if len(e.answers) and n:
            hi, lo = e.digests[:, 0], e.digests[:, 1]
            q = np.frombuffer(b"".join(digests), dtype="<u8").reshape(-1, 2)
            order = np.argsort(q[:, 0])  # sorted queries walk the table once (3× faster)
            pos = np.empty(n, dtype=np.intp)
            pos[order] = np.minimum(np.searchsorted(hi, q[order, 0]), len(hi) - 1)
            hit = (hi[pos] == q[:, 0]) & (lo[pos] == q[:, 1])
            out[hit] = e.answers[pos[hit]]
            dates = np.where(hit, e.learned[pos], np.nan)
        answers: list[str | None] = out.tolist()
        if view.overlay:
            for i, k in enumerate(digests):
                if (held := view.overlay.get(k)) is not None:
                    answers[i], dates[i] = held
        return answers, dates

    def _space_names(self) -> list[str]:
        return [r[0] for r in self._sql.execute("SELECT DISTINCT space FROM batches")]

    def spaces(self) -> Iterator[tuple[str, Entries]]:
        for space in self._space_names():
            self._sql.execute("BEGIN")
            try:
                entries = self._load(space)[1]
            finally:
                self._sql.execute("COMMIT")
            yield space, entries

    def rewrite(self, keep: KeepFn) -> int:
        removed = 0
        self._views.clear()
        with self._write():
            for space in self._space_names():
                _, e = self._load(space)
                total = self._sql.execute("SELECT sum(n) FROM batches WHERE space=?",
                                          (space,)).fetchone()[0]
                mask = keep(space, e)
                if mask.all() and total == len(mask):
                    continue  # nothing to drop, nothing superseded: leave the batches
                removed += int((~mask).sum())
                self._sql.execute("DELETE FROM batches WHERE space=?", (space,))
                self._insert_entries(space, Entries(*(col[mask] for col in e)))
        return removed

    def clear(self) -> int:
        self._views.clear()
        with self._write():
            removed = sum(len(self._load(space)[1].answers) for space in self._space_names())
            self._sql.execute("DELETE FROM batches")
        self._db.clear()
        return removed

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.directory.rglob("*") if f.is_file())

    def close(self) -> None:
        with contextlib.suppress(*self.errors):
            self._sql.close()
        with contextlib.suppress(*self.errors):
            self._db.close()


class RedisStore(AnswerStore):
    kind = "redis"

    def __init__(self, url: str, *, client: Any = None) -> None:
        import redis

        self.location = mask_redis_url(url)
        self.host = redis_host(url)
        self.errors = (redis.exceptions.RedisError, OSError)
        self.r = client if client is not None else redis_client(url)
        p = REDIS_PREFIX
        try:
            self.r.set(f"{p}layout", LAYOUT, nx=True)
            check_layout(_text(self.r.get(f"{p}layout")), f"the Redis at {self.host}")
            self.r.set(f"{p}secret", secrets.token_bytes(SECRET_BYTES), nx=True)
            self._secret = self.r.get(f"{p}secret") or b""
        except self.errors as exc:
            raise ConfigurationError(f"cannot use the Redis at {self.host}: "
                                     f"{safe_text(exc, 160)}") from None
        if len(self._secret) != SECRET_BYTES:
            raise ConfigurationError(
                f"the cache secret in the Redis at {self.host} is {len(self._secret)} bytes, "
                f"not {SECRET_BYTES}: the cache is damaged (delete {p}secret and every "
                f"{p}a:* key, or use another database)")

    @staticmethod
    def _bucket(space: str, first: int) -> str:
        return f"{REDIS_PREFIX}a:{space}:{first:02x}"

    def secret(self) -> bytes:
        return bytes(self._secret)

    def register_scope(self, namespace: str, description: dict[str, str]) -> None:
        self.r.hsetnx(f"{REDIS_PREFIX}scopes", namespace, json.dumps(description))

    def scopes(self) -> dict[str, Any]:
        return {_decode(k): json.loads(v) for k, v in
                self.r.hgetall(f"{REDIS_PREFIX}scopes").items()}

    def _groups(self, digests: list[bytes]) -> Iterator[tuple[int, np.ndarray]]:
        first = np.frombuffer(b"".join(d[:1] for d in digests), dtype=np.uint8)
        order = np.argsort(first, kind="stable")
        bounds = np.searchsorted(first[order], np.arange(257))
        for b in range(256):
            if bounds[b] < bounds[b + 1]:
                yield b, order[bounds[b]:bounds[b + 1]]

    def get_many(self, space: str, digests: list[bytes]) -> Found:
        n = len(digests)
        out: list[str | None] = [None] * n
        dates = np.full(n, np.nan)
        if not n:
            return out, dates
        groups = list(self._groups(digests))
        pipe = self.r.pipeline(transaction=False)
        for b, idx in groups:
            pipe.hmget(self._bucket(space, b), [digests[i] for i in idx])
        parsed: dict[bytes, tuple[str, float, float]] = {}  # a batch shares its values
        for (_, idx), values in zip(groups, pipe.execute(), strict=True):
            for i, v in zip(idx.tolist(), values, strict=True):
                if v is not None:
                    if (p := parsed.get(v)) is None:
                        p = parsed[v] = _parse(v)
                    out[i] = p[0]
                    dates[i] = p[1]
        return out, dates

    def put_many(self, space: str, digests: list[bytes], answers: list[str],
                 learned: float, expires: list[float], ttl: float) -> None:
        if not digests:
            return
        pipe = self.r.pipeline(transaction=False)
        pipe.sadd(f"{REDIS_PREFIX}spaces", space)
        encoded = {(a, e): f"{a}|{learned:.3f}|{e:.0f}".encode()
                   for a, e in set(zip(answers, expires, strict=True))}
        for b, idx in self._groups(digests):
            args: list[Any] = [None] * (2 * len(idx))
            args[0::2] = [digests[i] for i in idx]
            args[1::2] = [encoded[(answers[i], expires[i])] for i in idx]
            key = self._bucket(space, b)
            pipe.execute_command("HSET", key, *args)
            pipe.expire(key, max(1, int(ttl)))
        pipe.execute()

    def _space_names(self) -> list[str]:
        return sorted(_decode(s) for s in self.r.smembers(f"{REDIS_PREFIX}spaces"))

    def spaces(self) -> Iterator[tuple[str, Entries]]:
        for space in self._space_names():
            yield space, self._read_space(space)

    def _read_space(self, space: str) -> Entries:
        pipe = self.r.pipeline(transaction=False)
        for b in range(256):
            pipe.hgetall(self._bucket(space, b))
        digs, answers, learned, expires = [], [], [], []
        for bucket in pipe.execute():
            for k, v in bucket.items():
                answer, when, end = _parse(v)
                digs.append(bytes(k))
                answers.append(answer)
                learned.append(when)
                expires.append(end)
        d = (np.frombuffer(b"".join(digs), dtype="<u8").reshape(-1, 2) if digs
             else np.zeros((0, 2), "<u8"))
        return Entries(d, np.array(answers, dtype=object), np.array(learned, dtype="<f8"),
                       np.array(expires, dtype="<f8"))

    def rewrite(self, keep: KeepFn) -> int:
        removed = 0
        for space in self._space_names():
            e = self._read_space(space)
            mask = keep(space, e)
            gone = [e.digests[i].tobytes() for i in np.flatnonzero(~mask)]
            if not gone:
                continue
            pipe = self.r.pipeline(transaction=False)
            for b, idx in self._groups(gone):
                pipe.hdel(self._bucket(space, b), *[gone[i] for i in idx])
            removed += sum(int(x) for x in pipe.execute())
        return removed

    def _each_bucket(self, space: str, command: Callable[[Any, str], Any]) -> list[Any]:
        """``command(pipe, key)`` on each of the space's 256 hashes in one round trip:
        the answers, bucket by bucket."""
        pipe = self.r.pipeline(transaction=False)
        for b in range(256):
            command(pipe, self._bucket(space, b))
        return list(pipe.execute())

    def clear(self) -> int:
        removed = 0
        for space in self._space_names():
            removed += sum(int(x) for x in self._each_bucket(space, lambda p, k: p.hlen(k)))
            self.r.delete(*[self._bucket(space, b) for b in range(256)])
        self.r.delete(f"{REDIS_PREFIX}spaces", f"{REDIS_PREFIX}scopes")
        return removed

    def size_bytes(self) -> int:
        return sum(int(x or 0) for space in self._space_names()
                   for x in self._each_bucket(space, lambda p, k: p.memory_usage(k)))

    def close(self) -> None:
        with contextlib.suppress(*self.errors):
            self.r.close()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse(value: bytes) -> tuple[str, float, float]:
    """``answer|learned|expires`` as stored in a Redis hash field."""
    answer, learned, expires = value.decode().rsplit("|", 2)
    return answer, float(learned), float(expires)
