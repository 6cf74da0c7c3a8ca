"""The cache's semantics are the same in both back ends (issue #15): a directory
(diskcache + the batched answers table) and a real Redis. Each test runs on both."""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rcsqualify.errors import ConfigurationError
from rcsqualify.remote.cache import DAY, Freshness, LookupCache, Scope

BOTHUB = Scope("bothub", "https://api.example/bothub/v1", "bot")
MNP = Scope("mnp", "https://hlr.example/{msisdn}")


@pytest.fixture(params=["directory", "redis"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return str(tmp_path / "cache")


def opened(where: str, tmp_path: Path, **kw: object) -> LookupCache:
    return LookupCache(tmp_path / "jobs", url=where, **kw)  # type: ignore[arg-type]


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+3361{start + i:07d}" for i in range(n)]


def test_batched_round_trip_newest_wins_and_scopes_are_separate(where: str, tmp_path: Path
                                                                  ) -> None:
    cache = opened(where, tmp_path)
    ns = cache.scope(BOTHUB)
    other = cache.scope(Scope("bothub", "http://127.0.0.1:1/bothub/v1", "bot"))
    nums = numbers(5000)
    cache.put_many("cap", ns, [(n, "yes" if i % 3 else "no") for i, n in enumerate(nums)])
    cache.put("cap", ns, nums[0], "yes")  # asked again: the newest answer wins
    got = cache.get_many("cap", ns, [*nums, "+33699999999"])
    assert got[0] == "yes" and got[3] == "no" and got[1] == "yes" and got[-1] is None
    assert cache.get_many("cap", other, nums[:3]) == [None] * 3  # another service
    assert cache.get_many("op", ns, nums[:3]) == [None] * 3  # another kind
    cache.close()
    again = opened(where, tmp_path)  # persisted, same secret
    assert again.get("cap", ns, nums[3]) == "no"
    assert again.info()["entries"] == 5000
    again.close()


def test_many_small_writes_stay_readable(where: str, tmp_path: Path) -> None:
    """Answers stored one at a time as they arrive (small batches are merged)."""
    cache = opened(where, tmp_path)
    ns = cache.scope(MNP)
    nums = numbers(200)
    for i, n in enumerate(nums):
        cache.put("op", ns, n, f"OP{i % 7}")
    assert cache.get_many("op", ns, nums) == [f"OP{i % 7}" for i in range(200)]
    assert cache.info()["providers"][f"op:{ns}"]["entries"] == 200
    cache.close()


def test_a_stream_reads_and_writes_one_number_at_a_time(where: str, tmp_path: Path
                                                        ) -> None:
    """The MNP + capability stream: a look-up, then the answer stored, number after
    number; what this process wrote since it first read the space answers every later
    look-up, one number at a time or all at once."""
    cache = opened(where, tmp_path)
    ns = cache.scope(MNP)
    nums = numbers(300)
    cache.put("op", ns, nums[0], "OP0")
    for i, n in enumerate(nums[1:], start=1):
        assert cache.get_many("op", ns, [n, nums[i - 1]]) == [None, f"OP{(i - 1) % 5}"]
        cache.put("op", ns, n, f"OP{i % 5}")
    assert [cache.get("op", ns, n) for n in nums[::37]] == [
        f"OP{i % 5}" for i in range(0, 300, 37)]
    assert cache.get_many("op", ns, [*nums, "+33699999999"]) == [
        *[f"OP{i % 5}" for i in range(300)], None]
    cache.close()


def test_the_newest_answer_wins_across_merged_batches(where: str, tmp_path: Path) -> None:
    """An answer stored one at a time, then the same number answered again in a large
    batch (a refresh), then many small batches merged: the merged batch is written last
    but holds the older answer; the newer learned still wins (in the process that wrote
    them and in another)."""
    from rcsqualify.remote.store import MERGE_SMALL, SMALL_BATCH

    now = time.time()
    clock = {"t": now - 100}
    cache = opened(where, tmp_path, clock=lambda: clock["t"])
    ns = cache.scope(BOTHUB)
    assert cache.get("cap", ns, "+33607000001") is None  # this process reads the space
    cache.put("cap", ns, "+33607000001", "no")
    clock["t"] = now - 50
    cache.put_many("cap", ns, [("+33607000001", "yes")] + [
        (f"+336072{i:05d}", "yes") for i in range(SMALL_BATCH)])
    clock["t"] = now
    for i in range(MERGE_SMALL + 2):
        cache.put("cap", ns, f"+336073{i:05d}", "no")
    assert cache.get("cap", ns, "+33607000001") == "yes"
    assert cache.get_many("cap", ns, [f"+336073{i:05d}" for i in range(MERGE_SMALL + 2)]
                          + ["+33607000001"]) == ["no"] * (MERGE_SMALL + 2) + ["yes"]
    again = opened(where, tmp_path)  # read whole, by another process
    assert again.get_many("cap", ns, ["+33607000001", "+33607300001"]) == ["yes", "no"]
    assert again.info()["providers"][f"cap:{ns}"]["entries"] == SMALL_BATCH + MERGE_SMALL + 3
    cache.close()
    again.close()


def test_two_writers_interleaved_see_each_other_through_merges(where: str, tmp_path: Path
                                                               ) -> None:
    """Two processes' caches (two views) store answers in turn in one space while small
    batches are merged: each sees the other's answers and its own at every step (a
    merge of batches a view has seen is skipped, its own batches folded in)."""
    a, b = opened(where, tmp_path), opened(where, tmp_path)
    ns = a.scope(MNP)
    b.scope(MNP)
    nums = numbers(400)
    for i, n in enumerate(nums):
        me, other = (a, b) if i % 3 else (b, a)
        me.put("op", ns, n, f"OP{i % 5}")
        assert other.get("op", ns, n) == f"OP{i % 5}"
        assert me.get("op", ns, nums[i // 2]) == f"OP{(i // 2) % 5}"
    for cache in (a, b):
        assert cache.get_many("op", ns, nums) == [f"OP{i % 5}" for i in range(400)]
    a.put("op", ns, nums[7], "LATER")  # a newer answer, seen by the other view
    assert b.get("op", ns, nums[7]) == "LATER"
    a.close()
    b.close()


def test_freshness_info_prune_clear_forget(where: str, tmp_path: Path) -> None:
    cache = opened(where, tmp_path, freshness=Freshness(positive_days=0.5 / DAY))
    bothub, mnp = cache.scope(BOTHUB), cache.scope(MNP)
    cache.put("cap", bothub, "+33607000001", "yes")  # stale after half a second
    cache.put("cap", bothub, "+33607000002", "no")
    cache.put("op", mnp, "+33607000003", "SFR0")
    cache.put("op", mnp, "+33607000002", "FRTE")
    cache.put("cap", "bothub", "+33607000004", "no")  # an entry from before scopes
    info = cache.info()
    assert info["entries"] == 5
    assert info["providers"][f"cap:{bothub}"]["scope"]["id"] == "bot"
    assert info["providers"]["cap:bothub"]["stale"] == 1
    assert info["providers"][f"op:{mnp}"]["answers"] == {"SFR0": 1, "FRTE": 1}
    cache.close()
    later = opened(where, tmp_path, clock=lambda: time.time() + 1.0)
    assert later.get("cap", bothub, "+33607000001") == "yes"  # 90 days when read now
    assert later.prune() == 2  # expired at the freshness it was written with + unscoped
    assert later.info()["entries"] == 3
    assert later.forget(["+33607000002"]) == 2  # both scopes
    assert later.get("op", mnp, "+33607000002") is None
    assert later.get("op", mnp, "+33607000003") == "SFR0"
    assert later.clear() == 1
    assert later.info()["entries"] == 0
    later.close()


def test_a_store_of_an_unknown_layout_is_refused_with_its_version(where: str, tmp_path: Path
                                                                  ) -> None:
    opened(where, tmp_path).close()
    if where.startswith("redis"):
        import redis

        redis.Redis.from_url(where).set("rcsq:layout", "7")
    else:
        with sqlite3.connect(Path(where) / "answers.sqlite") as db:
            db.execute("UPDATE meta SET value='7' WHERE key='layout'")
    with pytest.raises(ConfigurationError, match="layout version 7"):
        opened(where, tmp_path)


def test_the_store_holds_no_number_in_clear(where: str, tmp_path: Path) -> None:
    cache = opened(where, tmp_path)
    ns = cache.scope(BOTHUB)
    nums = numbers(50, start=4242)
    cache.put_many("cap", ns, [(n, "yes") for n in nums])
    cache.close()
    if where.startswith("redis"):
        import redis

        r = redis.Redis.from_url(where)

        def held(key: Any) -> bytes:  # a key's name and everything it holds
            kind = r.type(key)
            parts: list[Any] = (
                [r.get(key)] if kind == b"string" else
                [*itertools.chain(*r.hgetall(key).items())] if kind == b"hash" else
                list(r.zrange(key, 0, -1)) if kind == b"zset" else list(r.smembers(key)))
            return bytes(key) + b"".join(parts)

        blob = b"".join(held(k) for k in r.keys("rcsq:*"))
        assert r.keys("rcsq:b:*")  # the packed batches are in what was searched
    else:
        blob = b"".join(p.read_bytes() for p in Path(where).rglob("*") if p.is_file())
    assert blob
    for n in nums:
        assert n.encode() not in blob and n[3:].encode() not in blob


def test_layout_1_entries_move_to_the_answers_table(tmp_path: Path) -> None:
    """A directory written by the previous version (one diskcache key per answer) keeps
    its answers after the upgrade."""
    import diskcache

    first = LookupCache(tmp_path / "c")
    ns = first.scope(BOTHUB)
    key = first.key("cap", ns, "+33607000009")
    first.close()
    (tmp_path / "c" / "answers.sqlite").unlink()
    old = diskcache.Cache(str(tmp_path / "c" / "db"))
    old.set(key, ("no", time.time()), expire=60 * DAY)
    old.close()
    cache = LookupCache(tmp_path / "c")
    assert cache.get("cap", ns, "+33607000009") == "no"
    assert cache.info()["entries"] == 1
    cache.close()


def test_a_layout_2_store_is_upgraded_and_its_answers_move_to_the_new_keys(
        where: str, tmp_path: Path) -> None:
    """Layout 2 keyed answers by HMAC-SHA256; layout 3 by SipHash (remote/keys.py). An
    old store keeps its answers: found by the old key when the new one misses, moved
    under the new key by a batch read, forgotten by ``cache forget`` wherever they are."""
    import numpy as np

    from rcsqualify.remote.layout import LEGACY

    cache = opened(where, tmp_path)
    ns = cache.scope(BOTHUB)
    nums = numbers(300)
    assert cache._store is not None
    now = time.time()  # written as layout 2 did: its keys, its space names
    write = (cache._store.legacy.put_many  # type: ignore[attr-defined]
             if where.startswith("redis") else cache._store.put_many)  # (Redis: hashes)
    write(f"cap:{ns}", cache._legacy_digests(nums), ["yes" if i % 2 else "no"
                                                     for i in range(300)],
          np.full(300, now), np.full(300, now + 60 * DAY), 90 * DAY)
    cache.close()
    if where.startswith("redis"):
        import redis

        redis.Redis.from_url(where).set("rcsq:layout", "2")
    else:
        with sqlite3.connect(Path(where) / "answers.sqlite") as db:
            db.execute("UPDATE meta SET value='2' WHERE key='layout'")
    cache = opened(where, tmp_path)  # upgraded: the old answers wait under LEGACY
    assert set(cache.info()["providers"]) == {f"{LEGACY}cap:{ns}"}
    assert cache.get("cap", ns, nums[1]) == "yes"  # one number: found, left in place
    assert cache.get_many("cap", ns, nums[:10]) == ["no", "yes"] * 5  # moved
    info = cache.info()
    assert info["entries"] == 300
    assert info["providers"][f"cap:{ns}"]["entries"] == 10
    assert cache.forget([nums[0], nums[20]]) == 2  # one moved, one not yet
    assert cache.get_many("cap", ns, nums) == [
        None if i in (0, 20) else "yes" if i % 2 else "no" for i in range(300)]
    assert cache.info()["providers"][f"cap:{ns}"]["entries"] == 298
    assert f"{LEGACY}cap:{ns}" not in cache.info()["providers"]  # all moved
    cache.close()


def test_the_layout_2_reader_is_gone_by_the_release_its_docstring_names() -> None:
    """``remote/store_redis_legacy.py`` names the release that removes it: this fails
    once ``__version__`` reaches that release while the module is still there."""
    import re

    from rcsqualify import __version__
    from rcsqualify.remote import store_redis_legacy

    named = re.search(r"removed in rcsqualify (\d+)\.(\d+)\.(\d+)",
                      store_redis_legacy.__doc__ or "")
    assert named is not None
    current = tuple(int(x) for x in re.findall(r"\d+", __version__)[:3])
    assert current < tuple(int(x) for x in named.groups()), \
        "remove remote/store_redis_legacy.py and the LEGACY branches of RedisStore"


def test_store_keys_are_siphash_2_4_of_the_number() -> None:
    """The reference vector of SipHash-2-4 (key 00..0f, message 00..07), and the
    integer form of the numbers the cache is given as strings."""
    import numpy as np

    from rcsqualify.remote.keys import E164Numbers, e164_keys, siphash24

    key = tuple(np.frombuffer(bytes(range(16)), "<u8").tolist())
    message = np.frombuffer(bytes(range(8)), "<u8")
    # one number (Python integers) and many (numpy): both give the reference vector
    for m in (message, np.repeat(message, 40)):
        out = siphash24(key, m)  # type: ignore[arg-type]
        assert set(out.tolist()) == {int.from_bytes(bytes.fromhex("6224939a79f5f593"),
                                                    "little")}
    rng = np.random.default_rng(7)
    many = rng.integers(0, 10**15, 3000, dtype=np.int64).astype(np.uint64)
    one_by_one = np.concatenate([siphash24(key, many[i:i + 1])  # type: ignore[arg-type]
                                 for i in range(len(many))])
    assert np.array_equal(siphash24(key, many), one_by_one)  # type: ignore[arg-type]
    nums = E164Numbers(np.array([33612345678, 33700000001]))
    assert list(nums) == ["+33612345678", "+33700000001"] and nums[1] == "+33700000001"
    assert e164_keys(["+33612345678"]).tolist() == [33612345678]
    cache = LookupCache(enabled=False)
    assert np.array_equal(cache.digests(nums), cache.digests(list(nums)))


# -- several writers, and a writer killed (real processes) --------------------------------

_WRITER = """
import sys
from pathlib import Path
from rcsqualify.remote.cache import LookupCache, Scope
where, first, count, bulk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cache = LookupCache(Path(where + ".jobs"), url=where)
ns = cache.scope(Scope("mnp", "https://hlr.example/{msisdn}"))
for i in range(first, first + count):
    if bulk == "1" and i % 50 == 0:  # now and then a batch of 10,000 (not merged)
        cache.put_many("op", ns, [(f"+3362{i:03d}{j:04d}", "BULK") for j in range(10_000)])
    cache.put("op", ns, f"+3361{i:07d}", f"OP{i % 7}")
    print(i, flush=True)
"""


def _writer(where: str, first: int, count: int, bulk: bool = False
            ) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _WRITER, where, str(first), str(count),
                             "1" if bulk else "0"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_hosts_storing_answers_at_once_lose_none(where: str, tmp_path: Path) -> None:
    """Four processes store answers one at a time in one space, at once: their small
    batches are merged while the others append theirs (and read, and merge too)."""
    where = where if where.startswith("redis") else str(tmp_path / "cache")
    procs = [_writer(where, k * 150, 150) for k in range(4)]
    for p in procs:
        assert p.wait(timeout=240) == 0
    cache = opened(where, tmp_path)
    ns = cache.scope(MNP)
    nums = [f"+3361{i:07d}" for i in range(600)]
    assert cache.get_many("op", ns, nums) == [f"OP{i % 7}" for i in range(600)]
    assert cache.info()["providers"][f"op:{ns}"]["entries"] == 600
    cache.close()


def test_a_writer_killed_mid_run_loses_only_what_was_in_flight(where: str, tmp_path: Path
                                                               ) -> None:
    """kill -9 while answers (and batches of 10,000) are being stored: every answer
    whose storing returned is there, and the store reads, writes and prunes as before."""
    where = where if where.startswith("redis") else str(tmp_path / "cache")
    proc = _writer(where, 0, 100_000, bulk=True)
    assert proc.stdout is not None
    done = [int(proc.stdout.readline()) for _ in range(160)]
    proc.kill()
    proc.wait(timeout=30)
    cache = opened(where, tmp_path)
    ns = cache.scope(MNP)
    got = cache.get_many("op", ns, [f"+3361{i:07d}" for i in done])
    assert got == [f"OP{i % 7}" for i in done]
    cache.put("op", ns, "+33619999999", "AFTER")
    assert cache.get("op", ns, "+33619999999") == "AFTER"
    assert cache.prune() == 0
    assert cache.info()["providers"][f"op:{ns}"]["entries"] >= 160 + 3 * 10_000
    cache.close()
