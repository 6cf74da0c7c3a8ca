"""The Redis spaces of cache layout 2, read until their answers have moved.

**To be removed in rcsqualify 0.2.0**, the first release after 0.1.0: a store written by
a pre-0.1.0 rcsqualify (layout 2, answers keyed by HMAC-SHA256) is upgraded to layout 3
when 0.1.0 opens it (``redis_conn.redis_layout`` renames its spaces under ``LEGACY``),
and ``LookupCache`` moves each answer under its new key as the number is looked up
again. From 0.2.0 a ``LEGACY`` space is no longer read: its answers are asked again, as
any answer not in the cache. Everything layout 2 needs in the Redis store is here, so
that removal is this module, its tests and the ``LEGACY`` branches of ``RedisStore``.

Layout 2 kept a space in 256 hashes ``rcsq:a:<space>:<first byte of the digest>``, field =
the 16-byte digest, value = ``answer|learned|expires``; they keep their native expiry.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from rcsqualify.remote.redis_conn import REDIS_PREFIX
from rcsqualify.remote.store import Entries, Found, KeepFn, digest_fields


class Layout2Hashes:
    """The layout-2 spaces of one Redis (``client``): read, rewritten, emptied."""

    def __init__(self, client: Any) -> None:
        self.r = client

    @staticmethod
    def _bucket(space: str, first: int) -> str:
        return f"{REDIS_PREFIX}a:{space}:{first:02x}"

    @staticmethod
    def _groups(d: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """The digests' order by hash (their first byte) and each hash's ``(byte, start,
        end)`` in that order."""
        first = (d[:, 0] & 0xFF).astype(np.uint8)
        order = np.argsort(first, kind="stable")
        bounds = np.searchsorted(first[order], np.arange(257)).tolist()
        return order, [(b, bounds[b], bounds[b + 1]) for b in range(256)
                       if bounds[b] < bounds[b + 1]]

    def get_many(self, space: str, d: np.ndarray) -> Found:
        n = len(d)
        codes = np.full(n, -1, dtype=np.int32)
        dates = np.full(n, np.nan)
        if not n:
            return codes, [], dates
        order, groups = self._groups(d)
        values = list(itertools.chain.from_iterable(
            self._hmget([(self._bucket(space, b), lo, hi) for b, lo, hi in groups],
                        d[order])))
        # a batch shares its values (answer|learned|expires): each distinct one is
        # parsed once, and the replies become codes at C speed
        distinct = list(dict.fromkeys(values))
        raw = np.fromiter(map({v: i for i, v in enumerate(distinct)}.__getitem__, values),
                          dtype=np.int32, count=n)
        vocab: dict[str, int] = {}
        code_of = np.full(len(distinct), -1, dtype=np.int32)
        when_of = np.full(len(distinct), np.nan)
        for i, v in enumerate(distinct):
            if v is not None:
                answer, when, _ = _parse(v)
                code_of[i] = vocab.setdefault(answer, len(vocab))
                when_of[i] = when
        codes[order] = code_of[raw]
        dates[order] = when_of[raw]
        return codes, list(vocab), dates

    def _hmget(self, groups: list[tuple[str, int, int]], d: np.ndarray) -> list[Any]:
        """``HMGET key d[lo:hi]`` for each group, in one round trip, the commands
        written as RESP by numpy: the client library's packing of a million fields
        took longer than Redis's answer to them."""
        rows = np.empty((len(d), 23), dtype=np.uint8)  # $16 CR LF, the digest, CR LF
        rows[:, :5] = np.frombuffer(b"$16\r\n", np.uint8)
        rows[:, 5:21] = np.ascontiguousarray(d, "<u8").view(np.uint8).reshape(-1, 16)
        rows[:, 21:] = np.frombuffer(b"\r\n", np.uint8)
        parts = []
        for key, lo, hi in groups:
            k = key.encode()
            parts.append(b"*%d\r\n$5\r\nHMGET\r\n$%d\r\n%s\r\n" % (hi - lo + 2, len(k), k))
            parts.append(rows[lo:hi].tobytes())
        pool = self.r.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_packed_command([b"".join(parts)])
            return [conn.read_response() for _ in groups]
        except BaseException:
            conn.disconnect()  # replies may be left unread: never reuse it
            raise
        finally:
            pool.release(conn)

    def put_many(self, space: str, d: np.ndarray, answers: list[str],
                       learned: np.ndarray, expires: np.ndarray, ttl: float) -> None:
        """Answers written as layout 2 wrote them (hash fields): what a layout-2 store
        holds, for the tests of its upgrade (layout 3 never writes here)."""
        fields = digest_fields(d)
        order, groups = self._groups(d)
        values = [f"{a}|{w:.3f}|{e:.0f}".encode() for a, w, e in
                  zip(answers, np.asarray(learned).tolist(), np.asarray(expires).tolist(),
                      strict=True)]
        pipe = self.r.pipeline(transaction=False)
        pipe.sadd(f"{REDIS_PREFIX}spaces", space)
        for b, lo, hi in groups:
            args: list[Any] = []
            for i in order[lo:hi].tolist():
                args += [fields[i], values[i]]
            key = self._bucket(space, b)
            pipe.execute_command("HSET", key, *args)
            pipe.expire(key, max(1, int(ttl)))
        pipe.execute()

    def entries(self, space: str) -> Entries:
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

    def rewrite(self, space: str, keep: KeepFn) -> int:
        e = self.entries(space)
        gone = e.digests[~keep(space, e)]
        if not len(gone):
            return 0
        order, groups = self._groups(gone)
        fields = digest_fields(gone[order])
        pipe = self.r.pipeline(transaction=False)
        for b, lo, hi in groups:
            pipe.hdel(self._bucket(space, b), *fields[lo:hi])
        removed = sum(int(x) for x in pipe.execute())
        if len(gone) == len(e.digests):  # nothing left: no longer a space
            self.r.srem(f"{REDIS_PREFIX}spaces", space)
        return removed

    def size_bytes(self, space: str) -> int:
        """The memory the space's 256 hashes use."""
        return sum(int(x or 0) for x in self._each_bucket(
            space, lambda p, k: p.memory_usage(k)))

    def _each_bucket(self, space: str, command: Callable[[Any, str], Any]) -> list[Any]:
        """``command(pipe, key)`` on each of the space's 256 hashes in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        for b in range(256):
            command(pipe, self._bucket(space, b))
        return list(pipe.execute())


def _parse(value: bytes) -> tuple[str, float, float]:
    """``answer|learned|expires`` as stored in a Redis hash field."""
    answer, learned, expires = value.decode().rsplit("|", 2)
    return answer, float(learned), float(expires)
