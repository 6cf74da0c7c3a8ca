"""The cache at national scale (issue #15): 1 M answers written and read through each
back end, and a warm ``check`` of 1 M target numbers against the offline check.

- ``directory``: ``LookupCache`` on a fresh directory (diskcache + batched answers table)
- ``redis``: ``LookupCache`` on a local ``redis-server`` this script starts (a free port,
  a temp dir, no persistence), skipped when the binary or the client library is missing
- ``diskcache_per_key``: the previous layout (one diskcache key per answer, one
  transaction per batch), on 100 k answers, for the record
- a warm ``rcsqualify check`` of 1 M Orange mobiles with every answer fresh in the
  cache (BotHub against the emulator: 0 requests), and the offline check of the same
  file; both as subprocesses, wall time, the best of three

Targets: write ≤ 5 s and read ≤ 3 s per million in each back end; warm check ≤ 2×
offline. Usage: python benchmarks/bench_cache.py [--numbers 1000000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit
from bench_remote import EXE, redis_server, running_emulator

from rcsqualify.remote.cache import LookupCache, Scope

EMULATOR_BOT = "bench-bot"


def numbers(n: int) -> list[str]:
    return [f"+33607{i:06d}" for i in range(n)] if n <= 1_000_000 else \
        [f"+3360{i:07d}" for i in range(n)]


def write_read(cache: LookupCache, nums: list[str]) -> dict[str, Any]:
    ns = cache.scope(Scope("bothub", "https://bench.example/bothub/v1", "bot"))
    answers = [(n, "yes" if i % 3 else "no") for i, n in enumerate(nums)]
    t = time.perf_counter()
    cache.put_many("cap", ns, answers)
    write = time.perf_counter() - t
    t = time.perf_counter()
    got = cache.get_many("cap", ns, nums)
    read = time.perf_counter() - t
    assert got == [a for _, a in answers]
    return {"answers": len(nums), "write_s": round(write, 2), "read_s": round(read, 2),
            "write_us_per_answer": round(write / len(nums) * 1e6, 2),
            "read_us_per_answer": round(read / len(nums) * 1e6, 2)}


def diskcache_per_key(directory: Path, nums: list[str]) -> dict[str, Any]:
    import diskcache

    db = diskcache.Cache(str(directory))
    t = time.perf_counter()
    with db.transact():
        for n in nums:
            db.set(f"cap:x:{n}", ("yes", 0.0), expire=7_776_000)
    write = time.perf_counter() - t
    t = time.perf_counter()
    with db.transact():
        for n in nums:
            db.get(f"cap:x:{n}")
    read = time.perf_counter() - t
    db.close()
    return {"answers": len(nums), "write_us_per_answer": round(write / len(nums) * 1e6, 2),
            "read_us_per_answer": round(read / len(nums) * 1e6, 2)}


def timed_check(args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run([EXE, "check", *args, "-q"], env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t
    assert proc.returncode in (0, 1), proc.stderr
    return wall


def warm_check(tmp: Path, nums: list[str], cache_url: str | None) -> dict[str, Any]:
    """Offline check vs warm BotHub check of the same file (every answer cached)."""
    contacts = tmp / "contacts.csv"
    contacts.write_text("mobile\n" + "\n".join("0" + n[3:] for n in nums) + "\n")
    env = {**os.environ, "RCSQUALIFY_BOTHUB_CLIENT_ID": "emulator-client",
           "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "emulator-secret",
           "RCSQUALIFY_QUOTA_DIR": str(tmp / "quota")}
    out: dict[str, Any] = {}
    with running_emulator(1000) as base:
        url = f"{base}/bothub/v1"
        where = cache_url or str(tmp / "warm-cache")
        cache = LookupCache(url=where)
        ns = cache.scope(Scope("bothub", url, EMULATOR_BOT))
        cache.put_many("cap", ns, [(n, "yes") for n in nums])
        cache.close()
        report = tmp / "warm.json"
        warm_args = [str(contacts), "--capability", "bothub", "--bot-id", EMULATOR_BOT,
                     "--bothub-url", url, "--bothub-token-url", f"{base}/oauth/v3/token",
                     "--cache-url", where, "--threshold", "1", "--json-report", str(report)]
        # the best of three of each: one run of either on a shared machine
        # varies by a factor of two
        offline = min(timed_check([str(contacts)], env) for _ in range(3))
        warm = min(timed_check(warm_args, env) for _ in range(3))
        rep = json.loads(report.read_text())
        out = {"numbers": len(nums), "offline_check_s": round(offline, 2),
               "warm_check_s": round(warm, 2), "ratio": round(warm / offline, 2),
               "warm_requests": rep["api"]["requests"],
               "warm_cache_hits": rep["api"]["cache_hits"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    # a Redis cache needs its key kept outside it (remote/cachekey.py): one for the
    # caches made here and the runs they start
    os.environ.setdefault("RCSQUALIFY_CACHE_KEY", os.urandom(32).hex())
    nums = numbers(args.numbers)
    figures: dict[str, Any] = {"numbers": args.numbers, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache = LookupCache(tmp / "dir")
        figures["directory"] = write_read(cache, nums)
        cache.close()
        figures["diskcache_per_key_100k"] = diskcache_per_key(tmp / "dc", nums[:100_000])
        with redis_server(tmp) as url:
            if url is None:
                figures["redis"] = "skipped: redis-server or the redis library is missing"
            else:
                cache = LookupCache(tmp / "jobs", url=url)
                figures["redis"] = write_read(cache, nums)
                cache.close()
                figures["warm_check_redis"] = warm_check(tmp, nums, url)
        figures["warm_check_directory"] = warm_check(tmp, nums, None)
    emit(figures, args.out)


if __name__ == "__main__":
    main()
