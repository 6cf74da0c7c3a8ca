"""The cache key kept apart from the cache (issue #23 item 15): real CLI runs against the
emulator, real directories, a real redis-server.

The attack: whoever reads a cache that holds its own key (``secret.key``, ``rcsq:secret``)
can hash every French mobile and match the store's digests. Here the attacker is the test:
it takes the key found in the cache and recovers the cached numbers from the store alone.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from rcsqualify.remote.cachekey import fingerprint
from rcsqualify.remote.keys import KeyMaker
from tests.conftest import Emulator
from tests.helpers import (
    TEST_CACHE_KEY,
    check_json,
    contacts_file,
    e164,
    frte_numbers,
    run_cli,
)

OTHER_KEY = "a7" * 32


def _check(emulator: Emulator, f: Path, cache: Path | str, *extra: str
           ) -> tuple[object, dict[str, object]]:
    where = ["--cache-url", cache] if isinstance(cache, str) else ["--cache-dir", str(cache)]
    return check_json([str(f), *emulator.bothub_args(), "--rate", "200", "--threshold", "1",
                       *where, *extra])


def _recovered(cache_dir: Path, key: bytes, candidates: list[str]) -> int:
    """What an attacker holding the cache files and ``key`` learns: how many candidate
    numbers have an answer in the store (digests computed as the cache does)."""
    import sqlite3

    con = sqlite3.connect(cache_dir / "answers.sqlite")
    held = b"".join(row[0] for row in con.execute("SELECT digests FROM batches"))
    con.close()
    stored = set(np.frombuffer(held, dtype="V16").tolist())
    mine = KeyMaker(key).digests(np.array([int(e164(n)[1:]) for n in candidates]))
    return sum(d in stored for d in np.ascontiguousarray(mine).view("V16").ravel().tolist())


def test_a_cache_holding_its_key_gives_its_numbers_away_and_one_given_a_key_does_not(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = frte_numbers(20)
    f = contacts_file(tmp_path, numbers)
    candidates = frte_numbers(200)  # the attacker's "number space"
    inside = tmp_path / "inside"
    result, _ = _check(emulator, f, inside)
    assert result.exit_code == 0, result.stderr
    # the attack, on a cache that holds its key: every cached number recovered
    assert _recovered(inside, (inside / "secret.key").read_bytes(), candidates) == 20

    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", TEST_CACHE_KEY)
    apart = tmp_path / "apart"
    result, report = _check(emulator, f, apart)
    assert result.exit_code == 0, result.stderr
    assert not (apart / "secret.key").exists()
    blobs = b"".join(p.read_bytes() for p in apart.rglob("*") if p.is_file())
    key = bytes.fromhex(TEST_CACHE_KEY)
    assert key not in blobs and TEST_CACHE_KEY.encode() not in blobs
    assert TEST_CACHE_KEY not in result.stdout + result.stderr + json.dumps(report)
    # the files alone give nothing; only the key they do not hold would
    assert _recovered(apart, os.urandom(32), candidates) == 0
    assert _recovered(apart, key, candidates) == 20
    # and the key works: a warm re-run asks nothing
    emulator.reset(quota=1000)
    _, warm = _check(emulator, f, apart)
    assert warm["api"]["requests"] == 0  # type: ignore[index]


def test_another_key_or_no_key_is_exit_2_never_an_empty_cache(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    f = contacts_file(tmp_path, frte_numbers(5))
    cache = tmp_path / "cache"
    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", TEST_CACHE_KEY)
    assert _check(emulator, f, cache)[0].exit_code == 0  # type: ignore[attr-defined]
    emulator.reset(quota=1000)
    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", OTHER_KEY)
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-dir", str(cache)])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.count("\n") == 0 and "written with another cache key" in line
    assert fingerprint(bytes.fromhex(TEST_CACHE_KEY)) in line
    assert fingerprint(bytes.fromhex(OTHER_KEY)) in line
    assert OTHER_KEY not in line and TEST_CACHE_KEY not in line
    monkeypatch.delenv("RCSQUALIFY_CACHE_KEY")
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-dir", str(cache)])
    assert result.exit_code == 2
    assert "keyed by a key kept outside it" in result.stderr
    assert not (cache / "secret.key").exists()  # no new key made beside the answers
    assert not emulator.stats()["requests"].get("bothub")
    # cache forget with the wrong key: refused too (it would erase nothing)
    result = run_cli(["cache", "forget", "0607000001", "--cache-dir", str(cache)])
    assert result.exit_code == 2 and "kept outside" in result.stderr


def test_a_key_that_is_not_one_is_refused_without_being_shown(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    f = contacts_file(tmp_path, frte_numbers(3))
    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", "hunter2-is-my-password")
    result = run_cli(["check", str(f), *emulator.bothub_args(),
                      "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 2 and "RCSQUALIFY_CACHE_KEY is not a cache key" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize("ci", [{"GITHUB_ACTIONS": "true"}, {"GITLAB_CI": "true"}])
def test_in_ci_a_fresh_cache_gets_no_key_unless_the_user_accepts_it(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
        ci: dict[str, str]) -> None:
    for k, v in ci.items():
        monkeypatch.setenv(k, v)
    f = contacts_file(tmp_path, frte_numbers(4))
    cache = tmp_path / "cache"
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-dir", str(cache)])
    assert result.exit_code == 2
    assert "saved by CI" in result.stderr and "RCSQUALIFY_CACHE_KEY" in result.stderr
    assert "--cache-key-in-store" in result.stderr
    assert not (cache / "secret.key").exists()
    assert not emulator.stats()["requests"].get("bothub")
    # accepted: it runs, and says so on every run (the reports carry it)
    for _ in range(2):
        result, report = _check(emulator, f, cache, "--cache-key-in-store")
        assert result.exit_code == 0, result.stderr
        assert any("stored inside" in w and "cache move-key" in w
                   for w in report["warnings"])  # type: ignore[union-attr]
    assert (cache / "secret.key").exists()


def test_an_existing_cache_keeps_working_and_its_key_moves_out(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = frte_numbers(10)
    f = contacts_file(tmp_path, numbers)
    cache = tmp_path / "cache"
    assert _check(emulator, f, cache)[0].exit_code == 0  # type: ignore[attr-defined]
    assert (cache / "secret.key").exists()  # a cache made the old way (local, not CI)
    # the same cache restored by CI: it keeps working, and says how to move the key out
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    emulator.reset(quota=1000)
    result, report = _check(emulator, f, cache)
    assert result.exit_code == 0 and report["api"]["requests"] == 0  # type: ignore[index]
    assert any("cache move-key" in w for w in report["warnings"])  # type: ignore[union-attr]
    info = run_cli(["cache", "info", "--cache-dir", str(cache)])
    assert "key stored inside the cache" in info.stdout
    # move it out
    inside = cache / "keyfile"
    result = run_cli(["cache", "move-key", "--to", str(inside), "--cache-dir", str(cache)])
    assert result.exit_code == 2 and "inside the cache directory" in result.stderr
    key_file = tmp_path / "cache.key"
    key = (cache / "secret.key").read_bytes()
    result = run_cli(["cache", "move-key", "--to", str(key_file), "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.stderr
    assert key.hex() not in result.stdout + result.stderr
    assert not (cache / "secret.key").exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == key.hex()
    again = run_cli(["cache", "move-key", "--to", str(key_file), "--cache-dir", str(cache)])
    assert again.exit_code == 2 and "nothing to move" in again.stderr
    # without the key: refused; with it (file or variable): warm, nothing said
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-dir", str(cache)])
    assert result.exit_code == 2 and "kept outside" in result.stderr
    result, report = _check(emulator, f, cache, "--cache-key-file", str(key_file))
    assert report["api"]["requests"] == 0  # type: ignore[index]
    assert not any("key" in w for w in report["warnings"])  # type: ignore[union-attr]
    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", key_file.read_text().strip())
    result, report = _check(emulator, f, cache)
    assert report["api"]["requests"] == 0  # type: ignore[index]
    assert "key kept outside" in run_cli(["cache", "info", "--cache-dir",
                                          str(cache)]).stdout
    # erasure with the key given
    result = run_cli(["cache", "forget", numbers[0], "--cache-dir", str(cache)])
    assert result.exit_code == 0 and "1 cache entry removed" in result.stdout


def test_a_key_file_is_read_only_from_a_bounded_regular_file_outside_the_cache(
        tmp_path: Path, emulator: Emulator) -> None:
    f = contacts_file(tmp_path, frte_numbers(2))
    cache = tmp_path / "cache"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big"
    big.write_text("0" * 5000)
    cache.mkdir()
    (cache / "k").write_text(TEST_CACHE_KEY)
    cases = [(fifo, "not a regular file"), (Path("/dev/zero"), "not a regular file"),
             (big, "larger than 1,024 bytes"), (tmp_path / "none", "cannot read the cache key"),
             (cache / "k", "inside the cache directory")]
    for path, said in cases:
        done: list[object] = []
        t = threading.Thread(target=lambda p=path, out=done: out.append(run_cli(
            ["check", str(f), *emulator.bothub_args(), "--cache-dir", str(cache),
             "--cache-key-file", str(p)])), daemon=True)
        t.start()
        t.join(timeout=60)  # a FIFO nobody writes to must not hang the run
        assert done, f"{path}: still reading"
        result = done[0]
        assert result.exit_code == 2, (path, result.stderr)  # type: ignore[attr-defined]
        assert said in result.stderr, result.stderr  # type: ignore[attr-defined]


def test_profiles_and_refresh_pass_the_key(tmp_path: Path, emulator: Emulator,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    f = contacts_file(tmp_path, frte_numbers(6))
    key_file = tmp_path / "keys" / "team.key"
    key_file.parent.mkdir()
    key_file.write_text(TEST_CACHE_KEY + "\n")
    cache = tmp_path / "cache"
    config = tmp_path / "conf" / "config.toml"
    config.parent.mkdir()
    config.write_text('[profiles.byfile]\ncache-key-file = "../keys/team.key"\n'
                      '[profiles.byenv]\ncache-key = "env:TEAM_CACHE_KEY"\n')
    result, _ = _check(emulator, f, cache, "--config", str(config), "--profile", "byfile")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert not (cache / "secret.key").exists()
    emulator.reset(quota=1000)
    monkeypatch.setenv("TEAM_CACHE_KEY", TEST_CACHE_KEY)
    _, report = _check(emulator, f, cache, "--config", str(config), "--profile", "byenv")
    assert report["api"]["requests"] == 0  # type: ignore[index]
    shown = run_cli(["config", "show", "--config", str(config), "--profile", "byenv"])
    assert TEST_CACHE_KEY not in shown.stdout and "env:TEAM_CACHE_KEY" in shown.stdout
    # refresh passes --cache-key-file on to check
    result = run_cli(["refresh", str(f), "--split-dir", str(tmp_path / "lists"),
                      *emulator.bothub_args(), "--cache-dir", str(cache),
                      "--cache-key-file", str(key_file)])
    assert result.exit_code == 0, result.stderr
    assert not emulator.stats()["requests"].get("bothub")
    result = run_cli(["refresh", str(f), "--split-dir", str(tmp_path / "lists"),
                      *emulator.bothub_args(), "--cache-dir", str(cache)])
    assert result.exit_code == 2 and "kept outside" in result.stderr


def test_a_redis_cache_needs_a_key_kept_outside_it(
        tmp_path: Path, emulator: Emulator, redis_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    f = contacts_file(tmp_path, frte_numbers(5))
    monkeypatch.delenv("RCSQUALIFY_CACHE_KEY")
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-url", redis_url])
    assert result.exit_code == 2 and "a Redis server" in result.stderr
    r = redis.Redis.from_url(redis_url)
    assert not r.exists("rcsq:secret") and not r.exists("rcsq:keyid")
    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", TEST_CACHE_KEY)
    result, _ = _check(emulator, f, redis_url)
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    key = bytes.fromhex(TEST_CACHE_KEY)
    assert not r.exists("rcsq:secret")
    assert r.get("rcsq:keyid") == fingerprint(key).encode()
    for k in r.scan_iter("rcsq:*"):
        value = r.dump(k) or b""
        assert key not in value and TEST_CACHE_KEY.encode() not in value
    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", OTHER_KEY)
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-url", redis_url])
    assert result.exit_code == 2 and "another cache key" in result.stderr
    # a Redis that holds its key from before: it keeps working, told to move the key
    r.flushall()
    monkeypatch.delenv("RCSQUALIFY_CACHE_KEY")
    r.set("rcsq:secret", key)
    emulator.reset(quota=1000)
    result, report = _check(emulator, f, redis_url)
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert any("a Redis server" in w and "cache move-key" in w
               for w in report["warnings"])  # type: ignore[union-attr]
    key_file = tmp_path / "k"
    result = run_cli(["cache", "move-key", "--to", str(key_file), "--cache-url", redis_url])
    assert result.exit_code == 0, result.stderr
    assert not r.exists("rcsq:secret") and r.exists("rcsq:keyid")
    emulator.reset(quota=1000)
    _, report = _check(emulator, f, redis_url, "--cache-key-file", str(key_file))
    assert report["api"]["requests"] == 0  # type: ignore[index]


# -- attacks on the key and its fingerprint (issue #23 item 15, second look) -------------
@pytest.mark.parametrize("damage", ["", "x" * 100_000 + "\n::error::pwn", "45592BC2778199"])
def test_a_damaged_fingerprint_is_exit_2_never_a_door_for_any_key(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
        damage: str) -> None:
    """An empty fingerprint matched no key and so let every key in: a wrong key read as
    an empty cache, asked every number again, and the check stayed off for good. A
    huge one was quoted whole in the error line."""
    import sqlite3

    f = contacts_file(tmp_path, frte_numbers(4))
    cache = tmp_path / "cache"
    assert _check(emulator, f, cache)[0].exit_code == 0  # type: ignore[attr-defined]
    con = sqlite3.connect(cache / "answers.sqlite")
    with con:
        con.execute("UPDATE meta SET value=? WHERE key='key_fingerprint'", (damage,))
    con.close()
    emulator.reset(quota=1000)
    for key in (OTHER_KEY, TEST_CACHE_KEY):
        monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", key)
        result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-dir",
                          str(cache)])
        assert result.exit_code == 2, result.stderr
        line = result.stderr.strip()
        assert line.count("\n") == 0 and len(line) < 400, line
        assert "is damaged: its key fingerprint" in line and "::error" not in line
    assert not emulator.stats()["requests"].get("bothub")


def test_a_damaged_redis_fingerprint_is_exit_2(
        tmp_path: Path, emulator: Emulator, redis_url: str) -> None:
    import redis

    f = contacts_file(tmp_path, frte_numbers(3))
    assert _check(emulator, f, redis_url)[0].exit_code == 0  # type: ignore[attr-defined]
    r = redis.Redis.from_url(redis_url)
    for damage in (b"", b"\xff\xfe not UTF-8"):
        r.set("rcsq:keyid", damage)
        result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-url",
                          redis_url])
        assert result.exit_code == 2, result.stderr
        assert "is damaged: its key fingerprint" in result.stderr, result.stderr
    assert r.get("rcsq:keyid") == b"\xff\xfe not UTF-8"  # not overwritten by a claim


def test_32_characters_are_not_a_raw_key(tmp_path: Path, emulator: Emulator,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``openssl rand -hex 16`` (32 hexadecimal characters) or a 32-letter password was
    taken as 32 raw bytes: a key the README says is refused, accepted silently."""
    f = contacts_file(tmp_path, frte_numbers(2))
    half = TEST_CACHE_KEY[:32]
    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", half)
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-dir",
                      str(tmp_path / "c1")])
    assert result.exit_code == 2 and "RCSQUALIFY_CACHE_KEY is not a cache key" in result.stderr
    assert half not in result.stderr
    monkeypatch.delenv("RCSQUALIFY_CACHE_KEY")
    text_file, raw_file = tmp_path / "half.key", tmp_path / "raw.key"
    text_file.write_text("correct horse battery staple!!!")  # 32 printable characters
    raw_file.write_bytes(bytes(range(200, 232)))  # a copied secret.key: raw bytes
    result = run_cli(["check", str(f), *emulator.bothub_args(), "--cache-dir",
                      str(tmp_path / "c2"), "--cache-key-file", str(text_file)])
    assert result.exit_code == 2 and "is not a cache key" in result.stderr, result.stderr
    result, _ = _check(emulator, f, tmp_path / "c3", "--cache-key-file", str(raw_file))
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert (fingerprint(bytes(range(200, 232))).encode()
            in (tmp_path / "c3" / "answers.sqlite").read_bytes())


def test_no_output_lands_in_the_quota_directory(tmp_path: Path, emulator: Emulator,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared quota files are read and written by every remote run: a report
    written over one (or beside them) is refused like one inside the cache. Before, a
    --json-report onto a quota file replaced the pacing state of the service."""
    quota = tmp_path / "quota"
    monkeypatch.setenv("RCSQUALIFY_QUOTA_DIR", str(quota))
    f = contacts_file(tmp_path, frte_numbers(2))
    args = ["check", str(f), *emulator.bothub_args(), "--cache-dir", str(tmp_path / "cache")]
    assert run_cli(args).exit_code == 0
    files = list(quota.glob("*.q"))
    assert files, list(quota.iterdir())
    before = files[0].read_bytes()
    result = run_cli([*args, "--no-cache", "--json-report", str(files[0])])
    assert result.exit_code == 2, result.stderr
    assert "inside the quota directory" in result.stderr, result.stderr
    assert files[0].read_bytes() == before
