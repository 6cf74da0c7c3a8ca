"""The Redis store: answers as packed batches shared by every host (issue #15).

**Redis** (``RedisStore``). The same packed batches, one Redis string each
(``rcsq:b:<space>:<id>``: sorted digests, answer codes, one learned date and one expiry
per answer when a write shares them), listed in a sorted set per space
(``rcsq:i:<space>``, ids from the counter ``rcsq:seq``). Each batch carries a native
``EXPIRE`` at the longest freshness when written (a space nobody writes to disappears by
itself); entries are dated and checked on read. A warm read of a million answers is one
``GET`` of 18 MB and one ``searchsorted``: 256 hashes of one field per answer (``HMGET``
of a million fields) took twice as long, most of it Redis answering a million fields and
the client making a million objects, and one key per answer with its own ``SET … EX``
4.9 s a million through a Lua loop. Writes append a batch with one Lua script, so hosts
writing at once each add their own; merges, ``cache prune``/``forget``/``clear`` replace
exactly the batches they read, with one script, or nothing when another host changed
them meanwhile; a read that finds a batch replaced under it reads again. The cache key
is best kept outside (``remote/cachekey.py``); when stored it is ``rcsq:secret`` (``SET
NX``: of many first runs exactly one wins); its fingerprint is ``rcsq:keyid``, the layout
version ``rcsq:layout``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

import numpy as np

from rcsqualify.errors import ConfigurationError
from rcsqualify.masking import mask_redis_url, redis_host
from rcsqualify.remote.layout import LEGACY
from rcsqualify.remote.redis_conn import (
    REDIS_PREFIX,
    redis_client,
    redis_eviction_warning,
    redis_layout,
    text_of,
)
from rcsqualify.remote.store import (
    DIGEST_BYTES,
    MERGE_SMALL,
    SECRET_BYTES,
    SMALL_BATCH,
    VIEW_OVERLAY_MAX,
    AnswerStore,
    Entries,
    Found,
    KeepFn,
    SpaceView,
    answer_codes,
    as_digests,
    find_sorted,
    newest_entries,
)
from rcsqualify.remote.store_redis_legacy import Layout2Hashes
from rcsqualify.textsafe import safe_text

#: a packed batch of Redis layout 3: the header (magic, entries, vocabulary bytes, 0),
#: the vocabulary (JSON, padded to 8 bytes), then the columns
_MAGIC = b"RQB3"
#: entries per packed batch at most (~68 MB: under Redis's 512 MB string limit); a
#: larger write is split by key range, so its batches read one after another are still
#: sorted and distinct
BATCH_MAX = 2_000_000
#: the fingerprint of the cache key (remote/cachekey.py); never the key itself
KEY_ID = f"{REDIS_PREFIX}keyid"
_R = TypeVar("_R")
#: attempts of a read that finds a batch replaced under it (a merge, a prune)
READ_ATTEMPTS = 5

#: append batches to a space, atomically: ids from one counter (hosts writing at once
#: never collide and never lose a batch), each batch with its native expiry, the index
#: kept at least as long as its longest-lived batch; returns how many batches the space has
#: and the last id; refused when the key's fingerprint is gone (a FLUSHALL under a
#: running check: later answers would be written under a key no later run could match)
_PUT = """
if redis.call('EXISTS', KEYS[4]) == 0 then
  return redis.error_reply('the store was emptied under this run (its key fingerprint is gone)')
end
local ttl = tonumber(ARGV[2])
for i = 4, #ARGV, 2 do
  local id = redis.call('INCR', KEYS[1])
  redis.call('SET', ARGV[1] .. id, ARGV[i + 1], 'EX', ttl)
  redis.call('ZADD', KEYS[2], id, id .. ':' .. ARGV[i] .. ':0')
end
if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end
redis.call('SADD', KEYS[3], ARGV[3])
return {redis.call('ZCARD', KEYS[2]), redis.call('GET', KEYS[1])}
"""

#: the batches of a space written after batch ARGV[2], atomically, in one round trip (a
#: stream's look-up): members and blobs (false: expired; empty: a merge or rewrite of
#: batches all up to ARGV[2], nothing the reader has not seen); only the members when
#: the others hold more than ARGV[3] entries (the space is then read whole)
_SINCE = """
local after = tonumber(ARGV[2])
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, '+inf')
local seen, total = {}, 0
for i, m in ipairs(members) do
  local upto = tonumber(string.match(m, ':(%d+)$')) or 0
  seen[i] = upto > 0 and upto <= after
  if not seen[i] then
    total = total + (tonumber(string.match(m, '^%d+:(%d+)')) or 0)
  end
end
if total > tonumber(ARGV[3]) then return {members} end
local out = {members}
for i, m in ipairs(members) do
  if seen[i] then
    out[#out + 1] = ''
  else
    out[#out + 1] = redis.call('GET', ARGV[1] .. (string.match(m, '^(%d+):') or ''))
  end
end
return out
"""

#: replace batches of a space by others (a merge, a prune, a forget), atomically, only
#: if every batch read is still there (else -1: another host changed them, read again);
#: the new batches live as long as the longest-lived of those they replace
_REPLACE = """
local k = tonumber(ARGV[3])
for i = 4, 3 + k do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then return -1 end
end
local ttl, upto = 0, 0
for i = 4, 3 + k do
  local id = string.match(ARGV[i], '^(%d+):')
  local key = ARGV[1] .. id
  if tonumber(id) > upto then upto = tonumber(id) end
  local left = redis.call('PTTL', key)
  if left > ttl then ttl = left end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[2], ARGV[i])
end
if ttl > 0 then
  for i = 4 + k, #ARGV, 2 do
    local id = redis.call('INCR', KEYS[1])
    redis.call('SET', ARGV[1] .. id, ARGV[i + 1], 'PX', ttl)
    redis.call('ZADD', KEYS[2], id, id .. ':' .. ARGV[i] .. ':' .. upto)
  end
  if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
end
local left = redis.call('ZCARD', KEYS[2])
if left == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return left
"""


class _Batch(NamedTuple):
    """One packed batch: sorted distinct digests, dates, answer codes into ``vocab``
    (``expires`` None when not read: a look-up does not need them)."""

    digests: np.ndarray
    learned: np.ndarray
    expires: np.ndarray | None
    codes: np.ndarray
    vocab: list[str]

    def entries(self) -> Entries:
        return Entries(self.digests, np.array(self.vocab or [""], dtype=object)[self.codes],
                       self.learned, _ends(self))


#: flags of a packed batch: one learned date for all its entries; one expiry per answer
_ONE_DATE, _EXPIRY_PER_ANSWER = 1, 2


def _pack(d: np.ndarray, codes: np.ndarray, vocab: list[str], learned: np.ndarray,
          expires: np.ndarray) -> bytes:
    """A batch as one string: the header (magic, entries, vocabulary bytes, flags), the
    vocabulary (JSON, padded to 8 bytes), the learned dates (one when the batch shares
    it: the usual ``put_many``), the expiries (one per answer when they follow it), the
    digests, the answer codes. A million answers of one write: 18 MB."""
    words = json.dumps(vocab).encode()
    words += b" " * (-len(words) % 8)
    codes = np.asarray(codes).astype("<u2")
    learned = np.asarray(learned, "<f8")
    expires = np.asarray(expires, "<f8")
    flags = 0
    if len(learned) and bool(np.all(learned == learned[0])):
        flags, learned = flags | _ONE_DATE, learned[:1]
    per = np.zeros(len(vocab), "<f8")
    per[codes] = expires  # any of each answer's; all of them when they agree
    if np.array_equal(per[codes], expires):
        flags, expires = flags | _EXPIRY_PER_ANSWER, per
    head = _MAGIC + np.array([len(d), len(words), flags], dtype="<u4").tobytes()
    return b"".join((head, words, learned.tobytes(), expires.tobytes(),
                     np.ascontiguousarray(d, "<u8").tobytes(), codes.tobytes()))


def _unpack(blob: bytes, *, with_expires: bool = True) -> _Batch:
    """A packed batch as arrays over the blob (no copy but a shared date's)."""
    import redis

    if len(blob) < 16 or blob[:4] != _MAGIC:
        raise redis.exceptions.DataError("a cache batch in Redis is damaged (not a batch)")
    n, size, flags = np.frombuffer(blob, "<u4", 3, 4).tolist()
    try:
        vocab = json.loads(blob[16:16 + size])
    except (ValueError, RecursionError):  # a deeply nested document is damage too
        vocab = None
    if not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab):
        raise redis.exceptions.DataError("a cache batch in Redis is damaged (its answers)")
    n_dates = 1 if flags & _ONE_DATE else n
    n_ends = len(vocab) if flags & _EXPIRY_PER_ANSWER else n
    at = 16 + size
    if len(blob) != at + 8 * (n_dates + n_ends) + 18 * n:
        raise redis.exceptions.DataError("a cache batch in Redis is damaged (its length)")
    learned = np.frombuffer(blob, "<f8", n_dates, at)
    ends = np.frombuffer(blob, "<f8", n_ends, at + 8 * n_dates)
    at += 8 * (n_dates + n_ends)
    d = np.frombuffer(blob, "<u8", 2 * n, at).reshape(-1, 2)
    codes = np.frombuffer(blob, "<u2", n, at + 16 * n)
    if n and int(codes.max()) >= len(vocab):
        raise redis.exceptions.DataError("a cache batch in Redis is damaged (its codes)")
    if flags & _ONE_DATE:
        learned = np.full(n, learned[0] if n else 0.0)
    expires = None
    if with_expires:
        expires = ends[codes] if flags & _EXPIRY_PER_ANSWER else ends
    return _Batch(d, learned, expires, codes, vocab)


def _combine(batches: list[_Batch]) -> _Batch:
    """Batches (in the order written) as one: the newest entry per key, sorted
    (``expires`` as the batches have them)."""
    if not batches:
        return _Batch(np.zeros((0, 2), "<u8"), np.zeros(0, "<f8"), np.zeros(0, "<f8"),
                      np.zeros(0, np.int32), [])
    vocab: dict[str, int] = {}
    codes = []
    for b in batches:
        remap = np.array([vocab.setdefault(w, len(vocab)) for w in b.vocab] or [0],
                         dtype=np.int32)
        codes.append(remap[b.codes])
    if len(batches) == 1:
        b = batches[0]
        return _Batch(b.digests, b.learned, b.expires, codes[0], list(vocab))
    d = np.concatenate([b.digests for b in batches])
    learned = np.concatenate([b.learned for b in batches])
    ends = [b.expires for b in batches if b.expires is not None]
    expires = np.concatenate(ends) if len(ends) == len(batches) else None
    code = np.concatenate(codes)
    keep = newest_entries(d[:, 0], learned)
    if keep is not None:
        d, learned, code = d[keep], learned[keep], code[keep]
        expires = expires[keep] if expires is not None else None
    return _Batch(d, learned, expires, code, list(vocab))


def _members(raw: Iterable[Any]) -> list[str]:
    """A space's index members (``<id>:<entries>:<upto>``), checked: a shared Redis is
    written by anyone who can reach it, and what is not ours is a damaged cache."""
    import redis

    members = [_decode(m) for m in raw]
    if not all(_MEMBER.fullmatch(m) for m in members):
        raise redis.exceptions.DataError("a cache index in Redis is damaged")
    return members


_MEMBER = re.compile(r"[0-9]{1,19}:[0-9]{1,10}:[0-9]{1,19}")


def _entries(member: str) -> int:
    """How many entries the batch of an index member holds."""
    return int(member.split(":")[1])


def _ends(b: _Batch) -> np.ndarray:
    assert b.expires is not None, "read without the expiries"
    return b.expires


class _Pending:
    """A view read in a background thread (``RedisStore.prefetch``): its result, or
    the error it raised, for the first look-up."""

    def __init__(self, read: Callable[[], SpaceView]) -> None:
        import threading

        self._view: SpaceView | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(read,), daemon=True,
                                        name="rcsqualify-cache-read")
        self._thread.start()

    def _run(self, read: Callable[[], SpaceView]) -> None:
        try:
            self._view = read()
        except BaseException as exc:  # raised again by result(), in the caller's thread
            self._error = exc

    def result(self) -> SpaceView:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._view is not None
        return self._view


class RedisStore(AnswerStore):
    """Answers in Redis (cache layout 3): a space is a set of *packed batches*, as in
    the directory store. ``rcsq:b:<space>:<id>`` is one batch — its sorted digests,
    dates and answer codes as packed arrays in one string, with a native ``EXPIRE`` at
    the longest freshness when written — and ``rcsq:i:<space>`` the sorted set of the
    space's batches (member ``<id>:<entries>:<upto>``, score ``id``; ids from the
    counter ``rcsq:seq``; ``upto``: the highest id of the batches a merge or rewrite
    replaced, 0 for a write). A warm read of a million answers is one ``GET`` of 18 MB
    and one ``searchsorted``, where 256 ``HMGET`` of a million hash fields had Redis
    answer a million fields and the client make a million objects. Writes append a batch
    (one Lua script: hosts writing at once each add their own); small batches are
    merged, and ``cache prune``/``forget`` rewrite a space, by one script that replaces
    exactly the batches read (or nothing, when another host changed them meanwhile). A
    process's view reads only the batches written since (one script), and skips a merge
    of batches it has all seen. Of two entries for one key the newest learned wins.

    Spaces of layout 2 (``LEGACY``, renamed by ``redis_layout``) stay as they were
    written, read and emptied as the answers move (``remote/store_redis_legacy.py``).
    """

    kind = "redis"

    def __init__(self, url: str, *, client: Any = None) -> None:
        import redis

        self.location = mask_redis_url(url)
        self.host = redis_host(url)
        self.errors = (redis.exceptions.RedisError, OSError)
        self.r = client if client is not None else redis_client(url)
        self._views: dict[str, SpaceView] = {}
        self._pending: dict[str, _Pending] = {}
        self._put_script = self.r.register_script(_PUT)
        self._replace_script = self.r.register_script(_REPLACE)
        self._since_script = self.r.register_script(_SINCE)
        #: the spaces of layout 2 (``LEGACY``), read as they were written
        self.legacy = Layout2Hashes(self.r)
        #: said at the end of the run (an evicting Redis)
        self.warnings: list[str] = []
        try:
            redis_layout(self.r, self.host)
            if (warning := redis_eviction_warning(self.r, self.host)) is not None:
                self.warnings.append(warning)
        except self.errors as exc:
            raise ConfigurationError(f"cannot use the Redis at {self.host}: "
                                     f"{safe_text(exc, 160)}") from None

    @staticmethod
    def _index(space: str) -> str:
        return f"{REDIS_PREFIX}i:{space}"

    @staticmethod
    def _batch_prefix(space: str) -> str:
        return f"{REDIS_PREFIX}b:{space}:"

    def _key_command(self, command: Callable[[], _R]) -> _R:
        try:
            return command()
        except self.errors as exc:
            raise ConfigurationError(f"cannot use the Redis at {self.host}: "
                                     f"{safe_text(exc, 160)}") from None

    def stored_secret(self) -> bytes | None:
        secret = self._key_command(lambda: self.r.get(f"{REDIS_PREFIX}secret"))
        if secret is not None and len(secret) != SECRET_BYTES:
            p = REDIS_PREFIX
            raise ConfigurationError(
                f"the cache secret in the Redis at {self.host} is {len(secret)} bytes, "
                f"not {SECRET_BYTES}: the cache is damaged (delete {p}secret, {p}keyid and "
                f"every {p}b:*, {p}i:* and {p}a:* key, or use another database)")
        return None if secret is None else bytes(secret)

    def create_secret(self) -> bytes:
        self._key_command(lambda: self.r.set(f"{REDIS_PREFIX}secret",
                                             secrets.token_bytes(SECRET_BYTES), nx=True))
        secret = self.stored_secret()
        if secret is None:
            raise ConfigurationError(f"the Redis at {self.host} lost the cache key just "
                                     "written (an eviction policy? see the documentation, "
                                     "Several hosts)")
        return secret

    def drop_secret(self) -> None:
        self._key_command(lambda: self.r.delete(f"{REDIS_PREFIX}secret"))

    def key_fingerprint(self) -> str | None:
        value = self._key_command(lambda: self.r.get(KEY_ID))
        if isinstance(value, bytes):  # bytes not UTF-8 are damage, said as such by the caller
            return value.decode(errors="replace")
        return text_of(value)

    def claim_fingerprint(self, fingerprint: str) -> str:
        self._key_command(lambda: self.r.set(KEY_ID, fingerprint, nx=True))
        return self.key_fingerprint() or fingerprint

    def register_scope(self, namespace: str, description: dict[str, str]) -> None:
        self.r.hsetnx(f"{REDIS_PREFIX}scopes", namespace, json.dumps(description))

    def scopes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.r.hgetall(f"{REDIS_PREFIX}scopes").items():
            try:
                description = json.loads(v)
            except (ValueError, RecursionError):
                description = None
            # a description that is not ours is shown as missing, never trusted
            out[_decode(k)] = description if isinstance(description, dict) else {}
        return out

    def has_space(self, space: str) -> bool:
        return bool(self.r.sismember(f"{REDIS_PREFIX}spaces", space))

    # -- packed batches (layout 3) -------------------------------------------------------
    def _batches(self, space: str, after: int = 0) -> list[tuple[str, bytes]]:
        """The space's batches written after batch ``after`` (``(member, blob)``, in the
        order written): the index, then the batches in one round trip. A batch that is
        gone when read was either replaced (a merge or prune by any process: read again)
        or expired (its member still listed: dropped from the index)."""
        import redis

        index, prefix = self._index(space), self._batch_prefix(space)
        for _ in range(READ_ATTEMPTS):
            members = _members(self.r.zrangebyscore(index, f"({after}", "+inf"))
            if not members:
                return []
            pipe = self.r.pipeline(transaction=False)
            for m in members:
                pipe.get(prefix + m.partition(":")[0])
            blobs = pipe.execute()
            gone = [m for m, b in zip(members, blobs, strict=True) if b is None]
            if not gone:
                return list(zip(members, blobs, strict=True))
            pipe = self.r.pipeline(transaction=False)
            for m in gone:
                pipe.zscore(index, m)
            if all(s is not None for s in pipe.execute()):  # expired, still listed
                self.r.zrem(index, *gone)
                return [(m, b) for m, b in zip(members, blobs, strict=True) if b is not None]
        raise redis.exceptions.DataError(
            f"the cache space {space} kept changing while read ({READ_ATTEMPTS} attempts)")

    def _since(self, space: str, after: int, limit: int
               ) -> list[tuple[str, bytes]] | None:
        """The batches written after batch ``after`` (one script, one round trip);
        None when they hold more than ``limit`` entries."""
        reply = self._since_script(keys=[self._index(space)],
                                   args=[self._batch_prefix(space), after, limit])
        members = _members(reply[0])
        if len(reply) == 1 and members:
            return None
        read = list(zip(members, reply[1:], strict=True))
        if gone := [m for m, b in read if b is None]:  # expired, still listed
            self.r.zrem(self._index(space), *gone)
        return [(m, b) for m, b in read if b is not None]

    def _packed(self, space: str, *, with_expires: bool = True
                ) -> tuple[list[str], _Batch]:
        """Every batch of a space (their index members) and its newest entries."""
        read = self._batches(space)
        return [m for m, _ in read], _combine([_unpack(b, with_expires=with_expires)
                                               for _, b in read])

    def _replace(self, space: str, members: list[str], batch: _Batch | None) -> int:
        """Replace the batches ``members`` by ``batch`` (None: remove them); -1 when
        another process changed them first."""
        args: list[Any] = [self._batch_prefix(space), space, len(members), *members]
        if batch is not None and len(batch.codes):
            args += self._packs(batch)
        return int(self._replace_script(
            keys=[f"{REDIS_PREFIX}seq", self._index(space), f"{REDIS_PREFIX}spaces"],
            args=args))

    @staticmethod
    def _packs(b: _Batch) -> list[Any]:
        """``entries, blob`` of each packed batch of ``b`` (sorted and distinct), split
        by key range at ``BATCH_MAX``."""
        out: list[Any] = []
        for lo in range(0, len(b.codes), BATCH_MAX):
            hi = lo + BATCH_MAX
            out += [len(b.codes[lo:hi]), _pack(b.digests[lo:hi], b.codes[lo:hi], b.vocab,
                                               b.learned[lo:hi], _ends(b)[lo:hi])]
        return out

    def prefetch(self, spaces: Iterable[str]) -> None:
        """Read these spaces in a background thread, from when their scope is known:
        a warm run's 18 MB per million answers then come while the contacts are read
        and normalized (Arrow and numpy release the GIL), not after."""
        for space in spaces:
            if space not in self._views and space not in self._pending \
                    and not space.startswith(LEGACY):
                self._pending[space] = _Pending(functools.partial(self._read_view, space))

    def _read_view(self, space: str) -> SpaceView:
        """A space read whole; compacted into one batch when more than half of what it
        holds is superseded (a refresh writes every answer again: a space written the
        same million answers every day would otherwise grow by a batch a day until
        ``cache prune``)."""
        members, b = self._packed(space)
        if sum(map(_entries, members)) > 2 * len(b.codes) + SMALL_BATCH:
            with contextlib.suppress(*self.errors):  # left for the next read if it fails
                self._replace(space, members, b)
        return SpaceView(b.digests, b.codes, b.learned, b.vocab,
                     max((int(m.partition(":")[0]) for m in members), default=0))

    def _view(self, space: str) -> SpaceView:
        """This process's view of a space (as ``DirectoryStore._view``): read once (or
        taken from ``prefetch``), then only the batches written since, by any process,
        kept by digest (``overlay``). Entries removed by another process after the first
        read stay in the view until the process ends."""
        if (pending := self._pending.pop(space, None)) is not None:
            self._views[space] = pending.result()
        view = self._views.get(space)
        if view is not None:
            new = self._since(space, view.last_id,
                              max(0, VIEW_OVERLAY_MAX - len(view.overlay)))
            if new is None:
                view = None  # much was written since: read the whole space again
            else:
                for member, blob in new:
                    view.last_id = max(view.last_id, int(member.partition(":")[0]))
                    if not blob:  # made of batches this view has seen
                        continue
                    self._fold(view, _unpack(blob, with_expires=False))
        if view is None:
            view = self._read_view(space)
        self._views[space] = view
        return view

    @staticmethod
    def _fold(view: SpaceView, b: _Batch) -> None:
        """A batch into a view's overlay (the newest learned wins)."""
        view.fold(np.ascontiguousarray(b.digests, "<u8").tobytes(),
                  np.asarray(b.learned).tolist(), np.asarray(b.codes).tolist(), b.vocab)

    def get_many(self, space: str, digests: np.ndarray) -> Found:
        d = as_digests(digests)
        if space.startswith(LEGACY):
            return self.legacy.get_many(space, d)
        n = len(d)
        codes = np.full(n, -1, dtype=np.int32)
        dates = np.full(n, np.nan)
        if not n:
            return codes, [], dates
        view = self._view(space)
        if len(view.codes):
            pos, hit = find_sorted(view.digests, d)
            codes[hit] = view.codes[pos[hit]]
            dates[hit] = view.learned[pos[hit]]
        if view.overlay:
            raw = np.ascontiguousarray(d, dtype="<u8").tobytes()
            if n <= len(view.overlay):  # a stream: one dict look-up per number asked
                at = [(i, f) for i in range(n) if (f := view.overlay.get(
                    raw[i * DIGEST_BYTES:(i + 1) * DIGEST_BYTES])) is not None]
            else:
                q = {raw[i * DIGEST_BYTES:(i + 1) * DIGEST_BYTES]: i for i in range(n)}
                at = [(i, f) for k, f in view.overlay.items() if (i := q.get(k)) is not None]
            for i, (code, when) in at:
                if not when < dates[i]:  # the newest learned wins (NaN: none yet)
                    codes[i], dates[i] = code, when
        return codes, list(view.vocab), dates

    def read_back(self, space: str, digests: np.ndarray) -> Found:
        """The space read again from the server (this process's view forgotten): what
        ``maxmemory`` eviction dropped is seen missing."""
        self._pending.pop(space, None)
        self._views.pop(space, None)
        return self.get_many(space, digests)

    def put_many(self, space: str, digests: np.ndarray, answers: list[str],
                 learned: np.ndarray, expires: np.ndarray, ttl: float) -> None:
        d = as_digests(digests)
        if not len(d):
            return
        if space.startswith(LEGACY):
            self.legacy.put_many(space, d, answers, learned, expires, ttl)
            return
        codes, vocab = answer_codes(answers, len(answers))
        learned = np.asarray(learned, dtype="<f8")
        expires = np.asarray(expires, dtype="<f8")
        keep = newest_entries(d[:, 0], learned)
        if keep is not None:
            d, codes, learned, expires = d[keep], codes[keep], learned[keep], expires[keep]
        batch = _Batch(d, learned, expires, codes, vocab)
        packs = self._packs(batch)
        count, last = self._put_script(
            keys=[f"{REDIS_PREFIX}seq", self._index(space), f"{REDIS_PREFIX}spaces",
                  KEY_ID],  # FLUSHALL mid-run: stop writing (degraded)
            args=[self._batch_prefix(space), max(1, int(ttl)), space, *packs])
        view = self._views.get(space)
        if view is not None and int(last) - len(packs) // 2 == view.last_id \
                and len(d) + len(view.overlay) <= VIEW_OVERLAY_MAX:
            # nobody wrote in between: this process's view takes its own batches (and
            # a merge of batches it has all seen is then skipped by the next read)
            self._fold(view, batch)
            view.last_id = int(last)
        if int(count) > MERGE_SMALL:
            self._merge_small(space)

    def _merge_small(self, space: str) -> None:
        """Merge the space's small batches (answers stored one at a time) into one; left
        for the next write when another process changed them meanwhile."""
        members = _members(self.r.zrange(self._index(space), 0, -1))
        small = [m for m in members if _entries(m) < SMALL_BATCH]
        if len(small) <= MERGE_SMALL:
            return
        # the largest is left out while it outweighs the others 4 to 1: a stream's
        # merged batch is not read and written again every MERGE_SMALL answers (sizes
        # then grow by tiers, each entry merged a few times)
        small.sort(key=_entries)
        while len(small) > 2 and _entries(small[-1]) >= 4 * sum(map(_entries, small[:-1])):
            small.pop()
        pipe = self.r.pipeline(transaction=False)
        for m in small:
            pipe.get(self._batch_prefix(space) + m.partition(":")[0])
        parts = [_unpack(b) for b in pipe.execute() if b is not None]
        self._replace(space, small, _combine(parts))

    def _space_names(self) -> list[str]:
        return sorted(_decode(s) for s in self.r.smembers(f"{REDIS_PREFIX}spaces"))

    def spaces(self) -> Iterator[tuple[str, Entries]]:
        for space in self._space_names():
            if space.startswith(LEGACY):
                yield space, self.legacy.entries(space)
            else:
                yield space, self._packed(space)[1].entries()

    def rewrite(self, keep: KeepFn, only: str | None = None) -> int:
        import redis

        removed = 0
        self._views.clear()
        self._pending.clear()  # read before this rewrite: left to finish, never used
        for space in [only] if only is not None else self._space_names():
            if space.startswith(LEGACY):
                removed += self.legacy.rewrite(space, keep)
                continue
            for _ in range(READ_ATTEMPTS):
                members, b = self._packed(space)
                if not members:  # gone by itself (expired): no longer a space
                    self._replace(space, [], None)
                    break
                mask = keep(space, b.entries())
                total = sum(_entries(m) for m in members)
                if mask.all() and total == len(mask):
                    break  # nothing to drop, nothing superseded: leave the batches
                kept = _Batch(b.digests[mask], b.learned[mask], _ends(b)[mask],
                              b.codes[mask], b.vocab)
                if self._replace(space, members, kept) >= 0:
                    removed += int((~mask).sum())
                    break
            else:
                raise redis.exceptions.DataError(
                    f"the cache space {space} kept changing while rewritten")
        return removed

    def clear(self) -> int:
        """Every answer removed, and every key that could hold one whatever its state: a
        batch whose index expired first, a batch that does not parse. Erasure does not
        depend on the store being whole; what could be read is what is counted."""
        import redis

        try:
            removed = self.rewrite(lambda space, e: np.zeros(len(e.answers), dtype=bool))
        except redis.exceptions.DataError:
            removed = 0
        for kind in ("b", "i", "a"):  # batches, their indexes, layout-2 hashes
            keys: list[Any] = []
            for key in self.r.scan_iter(match=f"{REDIS_PREFIX}{kind}:*", count=1000):
                keys.append(key)
                if len(keys) >= 1000:
                    self.r.unlink(*keys)
                    keys.clear()
            if keys:
                self.r.unlink(*keys)
        self.r.delete(f"{REDIS_PREFIX}scopes", f"{REDIS_PREFIX}spaces")
        return removed

    def size_bytes(self) -> int:
        total = 0
        for space in self._space_names():
            if space.startswith(LEGACY):
                total += self.legacy.size_bytes(space)
                continue
            members = _members(self.r.zrange(self._index(space), 0, -1))
            pipe = self.r.pipeline(transaction=False)
            pipe.memory_usage(self._index(space))
            for m in members:
                pipe.memory_usage(self._batch_prefix(space) + m.partition(":")[0])
            total += sum(int(x or 0) for x in pipe.execute())
        return total

    def close(self) -> None:
        with contextlib.suppress(*self.errors):
            self.r.close()


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

