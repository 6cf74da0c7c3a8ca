"""One cache and one quota for every host (issue #15), against a real redis-server:
the Redis schedule, start-up errors, and two concurrent `rcsqualify check` processes
with separate local directories sharing one Redis against one burst-1 emulator."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rcsqualify.remote.pacing import MemorySchedule, QuotaStore, RedisSchedule, service_key
from tests.conftest import Emulator
from tests.helpers import (
    TEST_CACHE_KEY,
    check_json,
    closed_port,
    contacts_file,
    frte_numbers,
    run_cli,
    start_redis,
)

# -- the schedule --------------------------------------------------------------------------

def test_hosts_with_skewed_clocks_share_one_schedule(redis_url: str) -> None:
    """Two hosts whose clocks disagree by 200 s: reservations follow each other one
    interval apart on the server's clock, each returned in its host's own frame."""
    import redis

    clocks = [lambda: time.time() + 100.0, lambda: time.time() - 100.0]
    key = f"rcsq:q:{service_key('bothub', 'http://x', 'c')}"
    hosts = [RedisSchedule(redis.Redis.from_url(redis_url), key, MemorySchedule(), clock=c)
             for c in clocks]
    waits = []
    for k in range(4):
        now = clocks[k % 2]()
        waits.append(hosts[k % 2].reserve(now, 30.0) - now)
    # each slot 30 s after the previous one, whatever the host's clock (no real waiting)
    steps = [b - a for a, b in itertools.pairwise(waits)]
    assert waits[0] < 1.0 and all(29.0 < s <= 30.0 for s in steps), waits
    # confirm: the second host may not send right after the first, and across hosts
    # the write keeps the reservation interval (30 s here), not only the 10 s minimum
    now0 = clocks[0]()
    assert hosts[0].confirm(now0, 10.0) == 0.0
    assert 29.0 < hosts[1].confirm(clocks[1](), 10.0) <= 30.0
    # a pause seen by one host pauses the other, in its own frame
    assert hosts[0].pause(clocks[0]() + 50.0)
    assert 49.0 < hosts[1].paused_until() - clocks[1]() <= 50.0
    assert not hosts[1].pause(clocks[1]() + 10.0)  # shorter: not lengthened


def test_a_stalled_pause_in_redis_is_capped_or_ignored(redis_url: str) -> None:
    """Issue #23 item 19 on the Redis schedule: a pause another run set 2 h ahead is
    told and held to this run's --max-pause (5 s here); one 30 h ahead is damage (no
    rcsqualify sets it): told once and ignored. Nothing waits."""
    import redis

    from rcsqualify.remote.pacing import Pacer

    client = redis.Redis.from_url(redis_url)
    key = f"rcsq:q:{service_key('bothub', 'http://stalled', 'c')}"
    secs, micros = client.time()
    client.hset(key, "paused", f"{secs + micros / 1e6 + 7200:.6f}")
    told: list[str] = []
    sched = RedisSchedule(client, key, MemorySchedule())
    pacer = Pacer(10, schedule=sched, max_pause=5.0, notify=told.append)
    assert 4.0 < pacer.paused_for <= 5.0
    assert len(told) == 1 and "7200 s more" in told[0] and "--max-pause" in told[0]
    assert 4.0 < sched.confirm(pacer.now(), 0.1) <= 5.0  # the write waits 5 s, not 2 h
    assert 4.0 < sched.reserve(pacer.now(), 0.1) - pacer.now() <= 5.0
    assert 7190 < float(client.hget(key, "paused")) - client.time()[0] <= 7201  # kept

    client.hset(key, "paused", f"{secs + 30 * 3600:.6f}")
    damaged = Pacer(10, schedule=RedisSchedule(client, key, MemorySchedule()),
                    notify=told.append)
    assert damaged.paused_for == 0.0 and "ever sets" in told[-1]
    assert damaged.schedule.confirm(damaged.now(), 0.1) == 0.0


def test_a_host_that_must_wait_claims_its_own_send_time(redis_url: str) -> None:
    """The Redis script's claims, on the server's clock (intervals of tens of seconds:
    nothing waits, nothing depends on the machine's speed)."""
    import redis

    clocks = [lambda: time.time() + 100.0, lambda: time.time() - 100.0]
    key = f"rcsq:q:{service_key('bothub', 'http://claims', 'c')}"
    hosts = [RedisSchedule(redis.Redis.from_url(redis_url), key, MemorySchedule(), clock=c)
             for c in clocks]
    assert hosts[0].claim(clocks[0](), 30.0, 10.0) == 0.0  # nobody before: sent now
    assert 29.0 < hosts[1].claim(clocks[1](), 30.0, 10.0) <= 30.0  # its own time
    assert 59.0 < hosts[0].claim(clocks[0](), 30.0, 10.0) <= 60.0  # the next one
    # at the write, against the last send actually made: 1/rate plus half the margin
    # (10 s and 30 s here: 20 s)
    assert 19.0 < hosts[1].sent(clocks[1](), 10.0) <= 20.0
    assert hosts[0].pause(clocks[0]() + 50.0)
    assert -50.0 <= hosts[1].claim(clocks[1](), 30.0, 10.0) < -49.0  # paused: no claim


def test_a_redis_gone_mid_run_falls_back_to_the_local_schedule() -> None:
    import redis

    failures: list[BaseException] = []
    fallback = MemorySchedule()
    dead = redis.Redis(port=closed_port(), socket_connect_timeout=1)
    sched = RedisSchedule(dead, "rcsq:q:x", fallback, on_failure=failures.append)
    now = time.time()
    assert sched.reserve(now, 0.5) == now  # from the fallback, at the same rate
    assert sched.reserve(now, 0.5) == now + 0.5
    assert sched.failed is not None and len(failures) == 1
    assert sched.confirm(now, 0.5) == 0.0 and fallback.last == now


def test_the_local_schedule_taking_over_keeps_the_spacing_after_the_last_send(
        redis_url: str) -> None:
    """Redis lost right after a send through it: the local schedule that takes over
    holds that send (every step goes through it too), so the next one still waits
    1/rate (it went at once before)."""
    import redis

    class Vanishing:
        """The real server's script until ``gone``, then a lost connection."""

        def __init__(self) -> None:
            self.real = redis.Redis.from_url(redis_url)
            self.gone = False

        def register_script(self, text: str) -> object:
            script = self.real.register_script(text)

            def call(**kwargs: object) -> object:
                if self.gone:
                    raise redis.exceptions.ConnectionError("Connection refused")
                return script(**kwargs)
            return call

    client = Vanishing()
    fallback = MemorySchedule()
    sched = RedisSchedule(client, "rcsq:q:seeded", fallback)
    now = time.time()
    assert sched.reserve(now, 0.5) == pytest.approx(now)  # as the Pacer does: a slot…
    assert sched.claim(now, 0.5, 0.4) == 0.0  # …then sent through Redis at `now`
    client.gone = True
    wait = sched.claim(now + 0.01, 0.5, 0.4)
    assert sched.failed is not None
    assert wait == pytest.approx(-0.39)  # not sent: 0.39 s more to keep 1/rate
    assert sched.reserve(now + 0.01, 0.5) == pytest.approx(now + 0.5)


def test_a_run_on_redis_and_a_run_on_the_local_file_share_the_machine_schedule(
        redis_url: str, tmp_path: Path) -> None:
    """Issue #23 R6: one run with --quota-store redis and one without, same service,
    same machine, paced apart (946 of 1,176 requests sent inside the other's pauses).
    Now the Redis run's every step goes through the machine's file too."""
    import redis

    from rcsqualify.remote.pacing import FileSchedule

    now = [500.0]
    path = tmp_path / "q"
    key = f"rcsq:q:{service_key('bothub', 'http://mixed', 'c')}"
    on_redis = RedisSchedule(redis.Redis.from_url(redis_url), key,
                             FileSchedule(path, clock=lambda: now[0]), clock=lambda: now[0])
    local_only = FileSchedule(path, clock=lambda: now[0])
    assert on_redis.claim(now[0], 0.05, 0.04) == 0.0  # sent through Redis
    assert local_only.confirm(now[0] + 0.01, 0.04) == pytest.approx(0.03)  # it sees it
    now[0] += 1.0
    assert local_only.confirm(now[0], 0.04) == 0.0  # the local run sends…
    assert on_redis.sent(now[0] + 0.01, 0.04) == pytest.approx(0.03)  # …seen at the write
    assert local_only.pause(now[0] + 60.0)  # a 429 of the local run pauses both
    assert on_redis.paused_until() == pytest.approx(now[0] + 60.0)
    assert on_redis.reserve(now[0], 0.05) >= now[0] + 60.0
    now[0] += 61.0
    assert on_redis.pause(now[0] + 30.0)  # and the other way round
    assert local_only.paused_until() == pytest.approx(now[0] + 30.0)


def test_the_quota_store_defaults_to_the_cache_url_when_it_is_redis(
        redis_url: str, tmp_path: Path) -> None:
    from rcsqualify.settings import Settings
    from rcsqualify.wiring import open_shared

    shared = open_shared(Settings(cache_url=redis_url, capability="bothub"))
    assert shared.cache.backend == "redis" and shared.quota.shared
    shared.close()
    local = open_shared(Settings(cache_dir=tmp_path / "c", capability="bothub"))
    assert local.cache.backend == "directory" and not local.quota.shared
    local.close()
    assert isinstance(QuotaStore(redis_url).schedule("mnp", "http://y"), RedisSchedule)


# -- start-up errors: one line, exit 2, the host, never the password ----------------------

def test_an_unreachable_redis_is_exit_2_naming_the_host(tmp_path: Path) -> None:
    port = closed_port()
    f = contacts_file(tmp_path, frte_numbers(3))
    result = run_cli(["check", str(f), "--mnp-url", "http://127.0.0.1:1/{msisdn}",
                      "--cache-url", f"redis://:hunter2@127.0.0.1:{port}/0"])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and f"127.0.0.1:{port}" in line and "hunter2" not in line


def test_no_cache_with_an_unreachable_redis_says_it_was_for_the_quota(tmp_path: Path) -> None:
    """--no-cache keeps the cache URL's Redis as the quota store: the line says so."""
    port = closed_port()
    f = contacts_file(tmp_path, frte_numbers(3))
    result = run_cli(["check", str(f), "--mnp-url", "http://127.0.0.1:1/{msisdn}",
                      "--cache-url", f"redis://127.0.0.1:{port}/0", "--no-cache"])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.stderr and "shared quota schedule" in result.stderr


def test_refused_credentials_are_exit_2_without_the_password(
        redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    admin = redis.Redis.from_url(redis_url)
    admin.execute_command("ACL", "SETUSER", "gate", "on", ">right-one", "~*", "+@all")
    try:
        monkeypatch.setenv("RCSQUALIFY_REDIS_PASSWORD", "wrong-one")
        url = redis_url.replace("redis://", "redis://gate@")
        result = run_cli(["cache", "info", "--cache-url", url])
        assert result.exit_code == 2
        assert "refused" in result.stderr and "127.0.0.1" in result.stderr
        assert "wrong-one" not in result.stderr + result.stdout
        monkeypatch.setenv("RCSQUALIFY_REDIS_PASSWORD", "right-one")
        ok = run_cli(["cache", "info", "--cache-url", url, "--json"])
        assert ok.exit_code == 0, ok.stderr
        assert "right-one" not in ok.stdout and "gate:***@" in json.loads(ok.stdout)["directory"]
    finally:
        admin.execute_command("ACL", "DELUSER", "gate")


def test_a_quota_store_that_is_not_redis_is_exit_2(tmp_path: Path) -> None:
    f = contacts_file(tmp_path, frte_numbers(3))
    result = run_cli(["check", str(f), "--mnp-url", "http://127.0.0.1:1/{msisdn}",
                      "--cache-dir", str(tmp_path / "c"), "--quota-store", "/tmp/quota"])
    assert result.exit_code == 2 and "--quota-store" in result.stderr


# -- two hosts, one Redis, one burst-1 gateway ---------------------------------------------

def test_two_hosts_share_one_quota_and_one_cache_through_redis(
        tmp_path: Path, emulator: Emulator, redis_url: str) -> None:
    """Two concurrent runs with separate local directories (cache, bulk jobs, local
    quota store): only Redis is shared. Together they keep the quota of a burst-1
    gateway; then the second host re-checks the first one's numbers from the cache."""
    rate = 20
    emulator.configure(spike_arrest=True, quota=rate, quota_grace=0.02)
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    files = [contacts_file(tmp_path, frte_numbers(40, start=1000 * k), name=f"c{k}.csv")
             for k in range(2)]

    def args(k: int, f: Path, report: str) -> tuple[list[str], dict[str, str]]:
        # a 429 allowed below (a busy machine) costs a second, not a minute
        cmd = [exe, "check", str(f), *emulator.bothub_args(), "--rate", str(rate),
               "--threshold", "1", "-q", "--cache-url", redis_url, "--json-report",
               str(tmp_path / report), "--throttle-pause", "1"]
        env = {**os.environ, "RCSQUALIFY_CACHE_DIR": str(tmp_path / f"host{k}" / "cache"),
               "RCSQUALIFY_QUOTA_DIR": str(tmp_path / f"host{k}" / "quota")}
        return cmd, env

    procs = []
    for k in range(2):
        cmd, env = args(k, files[k], f"cold{k}.json")
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 120
    for p in procs:
        p.wait(timeout=max(1.0, deadline - time.monotonic()))
    assert [p.returncode for p in procs] == [0, 0], [p.stderr.read() for p in procs
                                                     if p.stderr]
    stats = emulator.stats()
    arrivals = sorted(stats["arrivals"]["bothub"])
    throttled = sum(stats["throttled"].values())
    # two runs pacing alone would arrive at ~40/s and collect dozens of 429s; a few may
    # come from a descheduled process on a busy machine, each refused request sent again
    assert throttled <= 5
    assert len(arrivals) == 80 + throttled
    assert (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) <= rate * 1.1
    # the second host, warm: host 0's numbers are in the shared cache
    emulator.reset(quota=1000)
    cmd, env = args(1, files[0], "warm.json")
    warm = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert warm.returncode == 0, warm.stderr
    report = json.loads((tmp_path / "warm.json").read_text())
    assert report["api"]["requests"] == 0 and report["api"]["cache_hits"] == 40
    assert not emulator.stats()["requests"].get("bothub")


# -- the pipeline files for runners sharing a Redis (docs/ci/*-redis.yml) ------------------

ROOT = Path(__file__).resolve().parents[1]


def _gate_scripts() -> dict[str, str]:
    import yaml

    gh = yaml.safe_load((ROOT / "docs/ci/github-actions-redis.yml").read_text())["jobs"]["gate"]
    assert gh["env"]["RCSQUALIFY_REDIS_PASSWORD"] == "${{ secrets.RCSQUALIFY_REDIS_PASSWORD }}"
    assert not any(s.get("uses", "").startswith("actions/cache") for s in gh["steps"])
    gl = yaml.safe_load((ROOT / "docs/ci/gitlab-ci-redis.yml").read_text())["rcsqualify-gate"]
    assert "cache" not in gl and "resource_group" not in gl
    return {"github": next(s["run"] for s in gh["steps"] if "rcsqualify check" in s.get("run", "")),
            "gitlab": "\n".join(gl["script"])}


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_runners_sharing_a_redis_start_warm(ci: str, tmp_path: Path, emulator: Emulator,
                                            redis_url: str) -> None:
    """The gate step of the pipeline file on two fresh runners (separate workspaces and
    home directories) with one Redis: the second asks nothing."""
    script = _gate_scripts()[ci]
    emulator.configure(numbers={f"+33607{i:06d}": {"capable": True} for i in range(12)})
    requests = []
    for runner in range(2):
        ws = tmp_path / f"runner{runner}"
        (ws / "campaign").mkdir(parents=True)
        contacts_file(ws / "campaign", frte_numbers(12), name="contacts.csv")
        env = {**os.environ, "HOME": str(ws / "home"), "CONTACTS": "campaign/contacts.csv",
               "REPORTS": "rcsqualify-reports",
               "RCSQUALIFY_CACHE_URL": redis_url, "RCSQUALIFY_BOTHUB_BOT_ID": "test-bot",
               "RCSQUALIFY_BOTHUB_URL": f"{emulator.base}/bothub/v1",
               "RCSQUALIFY_BOTHUB_TOKEN_URL": f"{emulator.base}/oauth/v3/token",
               "RCSQUALIFY_QUOTA_DIR": str(ws / "quota"), "XDG_CACHE_HOME": str(ws / "xdg")}
        env.pop("RCSQUALIFY_CACHE_DIR", None)
        done = subprocess.run(["bash", "-e", "-c", script], cwd=ws, env=env, text=True,
                              capture_output=True, timeout=240)
        assert done.returncode == 0, done.stderr
        report = json.loads((ws / "rcsqualify-reports" / "report.json").read_text())
        requests.append(report["api"]["requests"])
    assert requests == [12, 0]


def test_a_redis_gone_mid_run_degrades_the_cache_and_paces_locally(
        tmp_path: Path, emulator: Emulator) -> None:
    """Redis killed while a run is checking: the run finishes from memory, pacing on
    the local schedule at the same rate (a burst-1 gateway sees no 429), reports the
    cache as degraded, and exits 3 (it would have passed)."""
    server, url = start_redis(tmp_path)
    try:
        emulator.configure(spike_arrest=True, quota=20, quota_grace=0.02, capable_share=1.0)
        f = contacts_file(tmp_path, frte_numbers(60))
        cmd = [str(Path(sys.executable).with_name("rcsqualify")), "check", str(f),
               *emulator.bothub_args(), "--rate", "20", "--threshold", "1", "-q",
               # a 429 allowed below (a busy machine) costs a second, not a minute
               "--throttle-pause", "1", "--cache-url", url,
               "--json-report", str(tmp_path / "r.json")]
        env = {**os.environ, "RCSQUALIFY_CACHE_DIR": str(tmp_path / "cache"),
               "RCSQUALIFY_QUOTA_DIR": str(tmp_path / "quota"),
               "RCSQUALIFY_CACHE_KEY": TEST_CACHE_KEY}
        run = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while (emulator.stats()["requests"].get("bothub", 0) < 10
               and time.monotonic() < deadline):
            time.sleep(0.05)
        server.kill()
        server.wait(timeout=10)
        assert run.wait(timeout=120) == 3, run.stderr.read() if run.stderr else ""
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["counts"]["reachable"] == 60
    assert any("failed mid-run" in n for n in report["notes"])
    stats = emulator.stats()
    throttled = sum(stats["throttled"].values())  # each one retried once
    # a run that stopped pacing sends its workers' requests in bursts, refused many times
    # over; paced, only a loaded machine's late sends (two arriving < 30 ms apart) see a 429
    assert throttled <= 6 and 60 <= stats["requests"]["bothub"] <= 60 + throttled


def test_a_quota_only_redis_gone_mid_run_leaves_the_directory_cache_whole(
        tmp_path: Path, emulator: Emulator) -> None:
    """Issue #23 R5: the cache is a directory, the quota a Redis that dies mid-run.
    Before, the quota's failure degraded the cache (the re-run asked 187 of 288 again,
    the note blamed the cache); now the cache keeps every answer and the note names the
    quota store."""
    server, url = start_redis(tmp_path)
    f = contacts_file(tmp_path, frte_numbers(60))
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "RCSQUALIFY_QUOTA_DIR": str(tmp_path / "quota")}
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    try:
        emulator.configure(capable_share=1.0)
        cmd = [exe, "check", str(f), *emulator.bothub_args(), "--rate", "20",
               "--threshold", "1", "-q", "--cache-dir", str(cache_dir), "--quota-store",
               url, "--json-report", str(tmp_path / "r.json")]
        run = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while (emulator.stats()["requests"].get("bothub", 0) < 10
               and time.monotonic() < deadline):
            time.sleep(0.05)
        server.kill()
        server.wait(timeout=10)
        assert run.wait(timeout=120) == 3, run.stderr.read() if run.stderr else ""
        stderr = run.stderr.read() if run.stderr else ""
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["counts"]["reachable"] == 60
    assert any("quota no longer shared across hosts" in n for n in report["notes"])
    assert not any("cache" in n and "failed mid-run" in n for n in report["notes"])
    assert "quota no longer shared across hosts" in stderr  # told when it happened
    again = subprocess.run([exe, "check", str(f), *emulator.bothub_args(), "--threshold",
                            "1", "-q", "--cache-dir", str(cache_dir), "--json-report",
                            str(tmp_path / "again.json")], env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    rerun = json.loads((tmp_path / "again.json").read_text())
    assert rerun["api"]["requests"] == 0 and rerun["api"]["cache_hits"] == 60


# -- the cache's packed batches (layout 3) -------------------------------------------------

def _cache(url: str, tmp_path: Path, **kw: Any) -> Any:
    from rcsqualify.remote.cache import LookupCache

    return LookupCache(tmp_path / "jobs", url=url, **kw)


def test_batches_expire_natively_and_a_merge_keeps_the_longest_life(
        redis_url: str, tmp_path: Path) -> None:
    """Each batch has Redis's own expiry at the longest freshness when written (a space
    nobody writes to disappears by itself); the index lives as long as its longest-lived
    batch; small batches merged into one keep the longest life of those they replace."""
    import redis

    from rcsqualify.remote.cache import DAY, Freshness, Scope
    from rcsqualify.remote.store import MERGE_SMALL

    r = redis.Redis.from_url(redis_url)
    cache = _cache(redis_url, tmp_path, freshness=Freshness(positive_days=30,
                                                            negative_days=20,
                                                            operator_days=10))
    ns = cache.scope(Scope("bothub", "https://x/bothub/v1", "bot"))
    cache.put_many("cap", ns, [(f"+336070{i:05d}", "yes") for i in range(100)])
    batches = r.keys("rcsq:b:*")
    assert len(batches) == 1 and 30 * DAY - 60 < r.ttl(batches[0]) <= 30 * DAY
    assert 30 * DAY - 60 < r.ttl(f"rcsq:i:cap:{ns}") <= 30 * DAY
    longer = _cache(redis_url, tmp_path, freshness=Freshness(positive_days=50))
    for i in range(MERGE_SMALL + 1):  # answers stored one at a time: merged
        (longer if i == 3 else cache).put("cap", ns, f"+336071{i:05d}", "no")
    assert r.zcard(f"rcsq:i:cap:{ns}") < MERGE_SMALL // 2
    assert max(r.ttl(k) for k in r.keys("rcsq:b:*")) > 49 * DAY  # the longest kept
    assert r.ttl(f"rcsq:i:cap:{ns}") > 49 * DAY
    assert cache.get_many("cap", ns, [f"+336071{i:05d}" for i in range(MERGE_SMALL + 1)]
                          ) == ["no"] * (MERGE_SMALL + 1)
    cache.close()
    longer.close()


def test_a_large_write_is_split_by_key_range(redis_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Above BATCH_MAX entries a write is several batches, each a range of keys: read
    one after another they are still sorted (no sort at read); prune and forget
    rewrite them."""
    import redis

    from rcsqualify.remote import store_redis
    from rcsqualify.remote.cache import Scope

    monkeypatch.setattr(store_redis, "BATCH_MAX", 1000)
    cache = _cache(redis_url, tmp_path)
    ns = cache.scope(Scope("bothub", "https://x/bothub/v1", "bot"))
    nums = [f"+336074{i:05d}" for i in range(4500)]
    cache.put_many("cap", ns, [(n, "yes" if i % 3 else "no") for i, n in enumerate(nums)])
    r = redis.Redis.from_url(redis_url)
    assert r.zcard(f"rcsq:i:cap:{ns}") == 5
    assert cache._store is not None
    members, b = cache._store._packed(f"cap:{ns}")
    assert len(members) == 5 and bool(np.all(b.digests[1:, 0] > b.digests[:-1, 0]))
    fresh = _cache(redis_url, tmp_path)
    assert fresh.get_many("cap", ns, nums) == ["yes" if i % 3 else "no"
                                               for i in range(4500)]
    assert fresh.forget(nums[:10]) == 10
    assert fresh.get_many("cap", ns, nums[:12]) == [None] * 10 + ["yes", "yes"]
    assert r.zcard(f"rcsq:i:cap:{ns}") == 5  # rewritten as 5 batches again
    assert fresh.clear() == 4490 and not r.keys("rcsq:b:*") and not r.keys("rcsq:i:*")
    cache.close()
    fresh.close()


def test_a_damaged_batch_degrades_the_cache(redis_url: str, tmp_path: Path) -> None:
    """A batch that is not one (written by something else, truncated): the run goes on
    from memory with the cache degraded (exit 3 at best), it never reads garbage."""
    import redis

    from rcsqualify.remote.cache import Scope

    cache = _cache(redis_url, tmp_path)
    ns = cache.scope(Scope("bothub", "https://x/bothub/v1", "bot"))
    cache.put_many("cap", ns, [(f"+336075{i:05d}", "yes") for i in range(50)])
    cache.close()
    r = redis.Redis.from_url(redis_url)
    key = r.keys("rcsq:b:*")[0]
    r.setrange(key, 0, b"XXXX")
    damaged = _cache(redis_url, tmp_path)
    damaged.scope(Scope("bothub", "https://x/bothub/v1", "bot"))  # read in the background
    assert damaged.get("cap", ns, "+33607500001") is None
    assert damaged.degraded is not None and "damaged" in damaged.degraded
    damaged.put("cap", ns, "+33607500001", "no")  # kept in memory
    assert damaged.get("cap", ns, "+33607500001") == "no"
    r.set(key, r.get(key)[:-3])  # type: ignore[index]
    r.setrange(key, 0, b"RQB3")
    short = _cache(redis_url, tmp_path)
    assert short.get("cap", ns, "+33607500001") is None and short.degraded is not None
    r.set(key, r.get(key).replace(b'["yes"]', b'["ye\x00'))  # type: ignore[union-attr]
    vocab = _cache(redis_url, tmp_path)
    assert vocab.get("cap", ns, "+33607500001") is None and "damaged" in str(
        vocab.degraded)
    r.zadd(f"rcsq:i:cap:{ns}", {"not:ours": 10**9})  # a member someone else wrote
    index = _cache(redis_url, tmp_path)
    assert index.get("cap", ns, "+33607500001") is None and "damaged" in str(
        index.degraded)
    for cache in (damaged, short, vocab, index):
        cache.close()
    for command in ("info", "prune"):  # one line naming the cache, exit 2
        result = run_cli(["cache", command, "--cache-url", redis_url])
        assert result.exit_code == 2 and "damaged" in result.stderr
        assert "unexpected" not in result.stderr and "Traceback" not in result.stderr


def test_a_store_emptied_under_a_run_is_not_written_again(redis_url: str,
                                                          tmp_path: Path) -> None:
    """FLUSHALL while a check runs: its later answers would go under a secret the store
    no longer has (never found again, never pruned); the run goes on from memory with
    the cache degraded instead."""
    import redis

    from rcsqualify.remote.cache import Scope

    cache = _cache(redis_url, tmp_path)
    ns = cache.scope(Scope("bothub", "https://x/bothub/v1", "bot"))
    cache.put("cap", ns, "+33607500001", "yes")
    r = redis.Redis.from_url(redis_url)
    r.flushall()
    cache.put("cap", ns, "+33607500002", "no")
    assert cache.degraded is not None and "emptied" in cache.degraded
    assert cache.get("cap", ns, "+33607500002") == "no"  # kept in memory
    assert r.keys("rcsq:*") == []
    cache.close()


def test_cache_clear_erases_damaged_and_orphaned_batches(redis_url: str,
                                                        tmp_path: Path) -> None:
    """Erasure does not depend on the store being whole: a batch that does not parse, a
    batch whose index expired first, a nested vocabulary or a scope description that is
    not JSON; `cache clear` removes every answer key, and info still reads."""
    import redis

    from rcsqualify.remote.cache import Scope

    cache = _cache(redis_url, tmp_path)
    ns = cache.scope(Scope("bothub", "https://x/bothub/v1", "bot"))
    other = cache.scope(Scope("bothub", "https://y/bothub/v1", "bot"))
    cache.put_many("cap", ns, [(f"+336075{i:05d}", "yes") for i in range(50)])
    cache.put_many("cap", other, [(f"+336076{i:05d}", "no") for i in range(50)])
    cache.close()
    r = redis.Redis.from_url(redis_url)
    r.delete(f"rcsq:i:cap:{other}")  # its batches are orphans now
    key = r.keys(f"rcsq:b:cap:{ns}:*")[0]
    blob = r.get(key)
    assert blob is not None
    r.set(key, blob[:16] + b"[" * 50_000)  # a deeply nested vocabulary
    r.hset("rcsq:scopes", "zz", "notjson{")
    nested = _cache(redis_url, tmp_path)
    assert nested.get("cap", ns, "+33607500001") is None
    assert "damaged" in str(nested.degraded)
    nested.close()
    r.hdel("rcsq:scopes", "zz")
    r.hset("rcsq:scopes", "zz", "notjson{")
    assert "unexpected" not in run_cli(["cache", "info", "--cache-url", redis_url]).stderr
    result = run_cli(["cache", "clear", "--yes", "--cache-url", redis_url])
    assert result.exit_code == 0, result.stderr
    assert r.keys("rcsq:b:*") == [] and r.keys("rcsq:i:*") == []
    assert r.exists("rcsq:keyid")  # the key's fingerprint stays


def test_a_space_read_in_the_background_serves_the_first_look_up(redis_url: str,
                                                                 tmp_path: Path) -> None:
    """Registering a scope starts reading its spaces (a warm run's read overlaps the
    contacts' reading): the look-up takes that read, then what was written since; a
    forget made meanwhile by the same process is honoured."""
    from rcsqualify.remote.cache import Scope

    scope = Scope("bothub", "https://x/bothub/v1", "bot")
    writer = _cache(redis_url, tmp_path)
    ns = writer.scope(scope)
    nums = [f"+336076{i:05d}" for i in range(2000)]
    writer.put_many("cap", ns, [(n, "yes") for n in nums])
    reader = _cache(redis_url, tmp_path)
    reader.scope(scope)
    assert reader._store is not None and reader._store._pending  # type: ignore[attr-defined]
    writer.put("cap", ns, nums[5], "no")  # after the read started
    assert reader.get_many("cap", ns, nums[:6]) == ["yes"] * 5 + ["no"]
    forgetting = _cache(redis_url, tmp_path)
    forgetting.scope(scope)
    assert forgetting.forget([nums[0]]) == 1
    assert forgetting.get_many("cap", ns, nums[:2]) == [None, "yes"]
    refreshing = _cache(redis_url, tmp_path, refresh=True)  # reads nothing
    refreshing.scope(scope)
    assert not refreshing._store._pending  # type: ignore[union-attr]
    for cache in (writer, reader, forgetting, refreshing):
        cache.close()


def test_a_space_mostly_superseded_is_compacted_when_read(redis_url: str, tmp_path: Path
                                                          ) -> None:
    """The same answers written again (a daily --refresh) are new batches; a read that
    finds more than half of a space superseded rewrites it as one batch, so it does not
    grow by a batch a run until `cache prune`."""
    import redis

    from rcsqualify.remote.cache import Scope

    scope = Scope("bothub", "https://x/bothub/v1", "bot")
    nums = [f"+336077{i:05d}" for i in range(12_000)]
    r = redis.Redis.from_url(redis_url)
    writer = _cache(redis_url, tmp_path)
    ns = writer.scope(scope)
    for answer in ("no", "yes", "no", "yes"):  # every answer refreshed four times
        writer.put_many("cap", ns, [(n, answer) for n in nums])
    writer.close()
    assert r.zcard(f"rcsq:i:cap:{ns}") == 4
    cache = _cache(redis_url, tmp_path)
    cache.scope(scope)
    assert cache.get_many("cap", ns, nums[:3]) == ["yes"] * 3
    assert r.zcard(f"rcsq:i:cap:{ns}") == 1 and len(r.keys("rcsq:b:*")) == 1
    cache.put("cap", ns, nums[0], "no")  # its view goes on from the compacted batch
    assert cache.get_many("cap", ns, nums[:2]) == ["no", "yes"]
    assert cache.info()["entries"] == 12_000
    cache.close()


# -- issue #23 R8, R9: deployments that lose answers, or cannot be written ------------------

@pytest.fixture
def own_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A redis-server of this test alone (its configuration is changed), and a client."""
    import redis

    from tests.helpers import TEST_CACHE_KEY

    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", TEST_CACHE_KEY)
    server, url = start_redis(tmp_path)
    client = redis.Redis.from_url(url)
    try:
        yield url, client
    finally:
        client.close()
        server.kill()
        server.wait(timeout=10)


def test_a_read_only_replica_as_quota_store_is_one_line_exit_2(
        tmp_path: Path, emulator: Emulator, own_redis: Any) -> None:
    """It was "unexpected ReadOnlyError" (a traceback's last line)."""
    url, client = own_redis
    client.execute_command("REPLICAOF", "127.0.0.1", str(closed_port()))
    f = contacts_file(tmp_path, frte_numbers(3))
    for option in ("--quota-store", "--cache-url"):
        result = run_cli(["check", str(f), *emulator.bothub_args(), option, url])
        assert result.exit_code == 2
        line = result.stderr.strip()
        assert "\n" not in line and "read-only replica" in line and "primary" in line


def test_an_acl_user_without_scripts_is_one_line_naming_eval(
        tmp_path: Path, emulator: Emulator, own_redis: Any) -> None:
    url, client = own_redis
    client.execute_command("ACL", "SETUSER", "noeval", "on", ">pw", "~*", "+@all", "-eval",
                           "-evalsha")
    user_url = url.replace("redis://", "redis://noeval:pw@")
    result = run_cli(["check", str(contacts_file(tmp_path, frte_numbers(3))),
                      *emulator.bothub_args(), "--quota-store", user_url])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "EVAL, EVALSHA" in line and "pw" not in line


def test_an_evicting_redis_is_warned_about_and_a_refused_config_get_says_nothing(
        tmp_path: Path, emulator: Emulator, own_redis: Any) -> None:
    """Issue #23 R8: maxmemory with allkeys-lru drops answers, the pause and the key
    silently; rcsqualify checks the policy where the server lets it."""
    url, client = own_redis
    client.config_set("maxmemory", "200mb")
    client.config_set("maxmemory-policy", "allkeys-lru")
    f = contacts_file(tmp_path, frte_numbers(3))
    _, report = check_json([str(f), *emulator.bothub_args(), "--cache-url", url,
                            "--threshold", "1"])
    warned = [w for w in report["warnings"] if "evicts keys when full" in w]
    assert len(warned) == 1 and "allkeys-lru" in warned[0] and "noeviction" in warned[0]
    # a user who may not run CONFIG (a managed service): nothing known, nothing said
    client.execute_command("ACL", "SETUSER", "noconfig", "on", ">pw", "~*", "+@all",
                           "-config")
    _, quiet = check_json([str(f), *emulator.bothub_args(), "--cache-url",
                           url.replace("redis://", "redis://noconfig:pw@"),
                           "--threshold", "1"])
    assert not any("evicts" in w for w in quiet["warnings"])


def test_answers_evicted_under_a_run_are_not_claimed_cached(redis_url: str,
                                                             tmp_path: Path) -> None:
    """Issue #23 R8: after a mid-run eviction the verdict line said "answers so far
    are cached" while the re-run asked all 566 again; now one answer is read back
    from the server first."""
    import redis

    from rcsqualify.remote.cache import Scope

    cache = _cache(redis_url, tmp_path)
    ns = cache.scope(Scope("bothub", "http://x", "bot"))
    cache.put_many("cap", ns, [("+33607000001", "yes"), ("+33607000002", "no")])
    assert cache.kept()
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("rcsq:b:*"):  # what allkeys-lru evicts first
        client.delete(key)
    assert not cache.kept()
    cache.close()
