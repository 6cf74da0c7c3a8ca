"""Remote checks against the emulator (issue: remote checks).

Starts ``rcsqualify emulator`` (a real process on 127.0.0.1) with a strict quota,
builds a contact file (target-operator mobiles, other operators, fixed lines, invalid
cells, duplicate rows), then prints, measured in one run:
- the minimum number of requests: distinct target-operator mobiles (from an offline run)
- a cold ``check --capability bothub --rate QUOTA``: requests made, 429s, achieved
  request rate (emulator arrival times) as a share of the quota, wall time
- a warm re-run: requests made (should be 0) and cache hits
- the same cold run against a *burst-1* gateway (spike arrest: any two arrivals closer
  than 1/quota − 2 ms get a 429), and two concurrent runs (two processes, separate
  caches, one machine) sharing that gateway: 429s, violations and the combined rate.

Usage: python benchmarks/bench_remote.py [--quota 30] [--numbers 1000] [--json FILE]
       python benchmarks/bench_remote.py --redis-only --json benchmarks/results_redis_quota.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
from _common import emit

EXE = str(Path(sys.executable).with_name("rcsqualify"))


@contextlib.contextmanager
def running_emulator(quota: float) -> Iterator[str]:
    """``rcsqualify emulator`` on a free port for the block; yields its base URL."""
    proc = subprocess.Popen([EXE, "emulator", "--port", "0", "--quota", str(quota)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        yield line.strip().rsplit(" ", 1)[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_contacts(path: Path, n: int) -> None:
    rng = np.random.default_rng(1)
    rows = ["nom;mobile"]
    frte = [f"0607{i:06d}" for i in range(n)]
    others = [f"06010{i:05d}" for i in range(n // 4)]  # SFR range
    cells = frte + others + ["01 05 60 12 34", "N/A", "3.36E+10"] * (n // 50)
    cells += list(rng.choice(frte, n // 10))  # duplicate rows
    order = rng.permutation(len(cells))
    rows += [f"c{i};{cells[j]}" for i, j in enumerate(order)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def run_check(args: list[str], env: dict[str, str], report: Path) -> tuple[dict, float]:
    t = time.perf_counter()
    subprocess.run([EXE, "check", *args, "--json-report", str(report), "-q"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(report.read_text()), time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quota", type=float, default=30.0)
    ap.add_argument("--numbers", type=int, default=1000)
    ap.add_argument("--grace", type=float, default=0.005,
                    help="burst-1 gateway: arrival jitter it forgives, seconds")
    ap.add_argument("--stages", type=int, default=10_000,
                    help="numbers of the MNP + capability stream run (0: skip)")
    ap.add_argument("--redis-only", action="store_true",
                    help="only the runs sharing one Redis (issue #15)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    figures: dict[str, object] = {"quota_per_s": args.quota, "grace": args.grace,
                                  "load_average_at_start": os.getloadavg()[0]}
    if args.redis_only:
        with running_emulator(args.quota) as base, tempfile.TemporaryDirectory() as tmp:
            figures.update(redis_shared_quota(base, Path(tmp), args.quota, args.grace))
        figures["load_average_at_end"] = os.getloadavg()[0]
        emit(figures, args.json)
        return
    with running_emulator(args.quota) as base, tempfile.TemporaryDirectory() as tmp:
        contacts = Path(tmp) / "contacts.csv"
        make_contacts(contacts, args.numbers)
        env = {**os.environ, "RCSQUALIFY_CACHE_DIR": f"{tmp}/cache",
               "RCSQUALIFY_BOTHUB_CLIENT_ID": "emulator-client",
               "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "emulator-secret"}
        offline, _ = run_check([str(contacts), "--threshold", "1"], env,
                               Path(tmp) / "offline.json")
        minimum = offline["counts"]["unverified"]
        figures.update({"rows": offline["counts"]["rows"],
                        "minimum_requests": minimum})
        remote = [str(contacts), "--capability", "bothub", "--bot-id", "bench",
                  "--bothub-url", f"{base}/bothub/v1",
                  "--bothub-token-url", f"{base}/oauth/v3/token",
                  "--rate", str(args.quota), "--threshold", "1"]
        cold, wall = run_check(remote, env, Path(tmp) / "cold.json")
        stats = httpx.get(f"{base}/_emulator/stats", timeout=30).json()
        arrivals = np.array(stats["arrivals"].get("bothub", []))
        achieved = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(
            arrivals) > 1 else 0.0
        figures.update({
            "cold_requests": cold["api"]["requests"],
            "cold_requests_equal_minimum": cold["api"]["requests"] == minimum,
            "cold_429s_client": cold["api"]["throttled"],
            "cold_429s_emulator": sum(stats["throttled"].values()),
            "achieved_rate_per_s": round(achieved, 2),
            "achieved_share_of_quota": round(achieved / args.quota, 4),
            "max_requests_in_any_1s_window": stats["max_in_window"].get("bothub"),
            "cold_wall_s": round(wall, 1),
            "cold_unverified": cold["counts"]["unverified"],
        })
        httpx.post(f"{base}/_emulator/reset", timeout=10)
        warm, wall = run_check(remote, env, Path(tmp) / "warm.json")
        figures.update({"warm_requests": warm["api"]["requests"],
                        "warm_cache_hits": warm["api"]["cache_hits"],
                        "warm_wall_s": round(wall, 2),
                        "warm_counts_equal_cold": warm["counts"] == cold["counts"]})
        figures.update(spike_arrest(base, remote, env, Path(tmp), args.quota, minimum,
                                    args.grace))
        figures.update(redis_shared_quota(base, Path(tmp), args.quota, args.grace))
        if args.stages:
            figures["stages"] = stages(base, env, Path(tmp), args.quota, args.stages)
    figures["load_average_at_end"] = os.getloadavg()[0]
    emit(figures, args.json)


def stages(base: str, env: dict[str, str], tmp: Path, quota: float, n: int
           ) -> dict[str, object]:
    """Issue #14: n numbers that all need an MNP look-up, the Orange ones then a
    capability check, both services at ``quota``: the wall time against the slower
    stage's own minimum, and how much the two stages overlapped."""
    httpx.post(f"{base}/_emulator/reset", json={"quota": quota}, timeout=10)
    contacts = tmp / "stages.csv"
    contacts.write_text("nom;mobile\n" + "".join(f"c{i};0607{i:06d}\n" for i in range(n)),
                        encoding="utf-8")
    args = [str(contacts), "--capability", "bothub", "--bot-id", "bench-stages",
            "--bothub-url", f"{base}/bothub/v1", "--bothub-token-url",
            f"{base}/oauth/v3/token", "--mnp-url", f"{base}/mnp/lookup?msisdn={{msisdn}}",
            "--rate", str(quota), "--threshold", "1"]
    run_env = {**env, "RCSQUALIFY_CACHE_DIR": f"{tmp}/cache-stages"}
    report, wall = run_check(args, run_env, tmp / "stages.json")
    stats = httpx.get(f"{base}/_emulator/stats", timeout=30).json()
    mnp, cap = stats["arrivals"].get("mnp", []), stats["arrivals"].get("bothub", [])
    cap_minimum = report["operators"].get("FRTE", 0)
    slower = max(len(mnp), len(cap)) / (quota * 0.97)  # the pacer's own rate
    return {"numbers": n, "mnp_requests": len(mnp), "mnp_minimum": n,
            "capability_requests": len(cap), "capability_minimum": cap_minimum,
            "wall_s": round(wall, 1), "slower_stage_minimum_s": round(slower, 1),
            "wall_over_slower_stage": round(wall / slower, 3),
            "sum_of_stages_s": round((len(mnp) + len(cap)) / (quota * 0.97), 1),
            "capability_before_last_mnp": round(
                sum(1 for t in cap if mnp and t < mnp[-1]) / max(1, len(cap)), 3),
            "429s": sum(stats["throttled"].values())}


def arrival_figures(base: str, quota: float) -> dict[str, object]:
    stats = httpx.get(f"{base}/_emulator/stats", timeout=30).json()
    arrivals = np.array(stats["arrivals"].get("bothub", []))
    achieved = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 \
        else 0.0
    gaps = np.diff(arrivals)
    return {"requests": len(arrivals), "429s": sum(stats["throttled"].values()),
            "arrival_gaps_under_interval": int(np.count_nonzero(gaps < 1 / quota)),
            "min_arrival_gap_ms": round(float(gaps.min()) * 1000, 2) if len(gaps) else None,
            "achieved_rate_per_s": round(achieved, 2),
            "achieved_share_of_quota": round(achieved / quota, 4)}


def spike_arrest(base: str, remote: list[str], env: dict[str, str], tmp: Path,
                 quota: float, minimum: int, grace: float) -> dict[str, object]:
    """Burst-1 gateway: one run, then two concurrent runs sharing the quota. ``grace``
    is the arrival jitter the gateway forgives (a request that left on time may arrive
    a few ms late, right before the next one)."""
    strict = {"spike_arrest": True, "quota_grace": grace, "quota": quota}
    out: dict[str, object] = {}
    httpx.post(f"{base}/_emulator/reset", json=strict, timeout=10)
    one_env = {**env, "RCSQUALIFY_CACHE_DIR": f"{tmp}/cache-burst1",
               "RCSQUALIFY_QUOTA_DIR": f"{tmp}/quota"}
    report, wall = run_check(remote, one_env, tmp / "burst1.json")
    out["burst1_one_run"] = {**arrival_figures(base, quota), "wall_s": round(wall, 1),
                             "requests_equal_minimum": report["api"]["requests"] == minimum,
                             "client_429s": report["api"]["throttled"]}
    httpx.post(f"{base}/_emulator/reset", json=strict, timeout=10)
    procs = []
    t = time.perf_counter()
    for k in range(2):
        run_env = {**env, "RCSQUALIFY_CACHE_DIR": f"{tmp}/cache-two-{k}",
                   "RCSQUALIFY_QUOTA_DIR": f"{tmp}/quota"}
        procs.append(subprocess.Popen(
            [EXE, "check", *remote, "--json-report", str(tmp / f"two-{k}.json"), "-q"],
            env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in procs:
        p.wait()
    wall = time.perf_counter() - t
    reports = [json.loads((tmp / f"two-{k}.json").read_text()) for k in range(2)]
    out["burst1_two_concurrent_runs"] = {
        **arrival_figures(base, quota), "wall_s": round(wall, 1),
        "requests_per_run": [r["api"]["requests"] for r in reports],
        "client_429s": sum(r["api"]["throttled"] for r in reports)}
    return out


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str | None]:
    """A local ``redis-server`` (free port, no persistence) for the block: the tests' own
    starter (tests/helpers.start_redis); its URL, or None when the binary or the
    ``redis`` client library is missing (the figures then leave Redis out)."""
    import importlib.util
    import shutil

    if shutil.which("redis-server") is None or importlib.util.find_spec("redis") is None:
        yield None
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.helpers import start_redis

    proc, url = start_redis(workdir)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def redis_shared_quota(base: str, tmp: Path, quota: float, grace: float = 0.002,
                       runs: tuple[int, ...] = (2, 4), requests: int = 600
                       ) -> dict[str, object]:
    """Issue #15: N concurrent runs, each with its own cache and quota directories (as
    on N hosts), sharing one Redis (``--cache-url``, hence the quota store) against a
    burst-1 gateway: the combined rate and the 429s (violations)."""
    strict = {"spike_arrest": True, "quota_grace": grace, "quota": quota}
    out: dict[str, object] = {}
    with redis_server(tmp) as url:
        if url is None:
            return {"redis_shared_quota": "skipped: redis-server or the redis library is "
                                          "missing"}
        for n in runs:
            httpx.post(f"{base}/_emulator/reset", json=strict, timeout=10)
            procs, t = [], time.perf_counter()
            for k in range(n):
                contacts = tmp / f"redis-{n}-{k}.csv"
                contacts.write_text("mobile\n" + "\n".join(
                    f"0607{100_000 * k + 10_000 * n + i:06d}" for i in range(requests // n))
                    + "\n")
                env = {**os.environ, "RCSQUALIFY_CACHE_DIR": f"{tmp}/host-{n}-{k}/cache",
                       "RCSQUALIFY_QUOTA_DIR": f"{tmp}/host-{n}-{k}/quota",
                       "RCSQUALIFY_BOTHUB_CLIENT_ID": "emulator-client",
                       "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "emulator-secret",
                       # a Redis cache keeps its key outside it (remote/cachekey.py)
                       "RCSQUALIFY_CACHE_KEY": "5e" * 32}
                procs.append(subprocess.Popen(
                    [EXE, "check", str(contacts), "--capability", "bothub", "--bot-id",
                     "bench", "--bothub-url", f"{base}/bothub/v1", "--bothub-token-url",
                     f"{base}/oauth/v3/token", "--rate", str(quota), "--threshold", "1",
                     "--cache-url", url, "-q"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            codes = [p.wait() for p in procs]
            figures = arrival_figures(base, quota)
            out[f"redis_{n}_concurrent_runs"] = {
                **figures, "exit_codes": codes, "wall_s": round(time.perf_counter() - t, 1)}
    return out


if __name__ == "__main__":
    main()
