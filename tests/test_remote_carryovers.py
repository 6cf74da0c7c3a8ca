"""Robustness carry-overs of the remote layer, each reproduced first: a 404 (or an RBM
403) whose error envelope says something else than its status; an RBM 200 with fields
Google added; two processes opening a brand-new cache at once; ``cache move-key``
interrupted between its steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rcsqualify.emulator.state import MNP_DISTRIBUTION
from tests.conftest import Emulator
from tests.helpers import cached_entries, check_json, contacts_file, frte_numbers
from tests.test_answers import bothub, envelope, rbm, serve

#: every retry of these tests waits 10 ms, not the default back-off (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("quick_retries")

NOT_FOUND = envelope(404, "contact is not RCS capable", "NOT_FOUND")


def _with(body: str, **extra: object) -> str:
    return json.dumps({**json.loads(body), **extra})


def _served(emulator: Emulator, tmp_path: Path, family: str, status: int, body: str,
            *, count: int, numbers: int, extra: tuple[str, ...] = ()
            ) -> tuple[int, dict[str, Any], int]:
    """Serve ``body`` to the first ``count`` look-ups of ``family``, check ``numbers``
    numbers: the exit code, the report and how many answers the cache kept. Every other
    number is reachable (on any network, for RBM), so that the run's first positive
    answer releases the negatives held before it into the cache (capability/interface.py)
    whatever order the requests arrive in."""
    emulator.configure(capable_share=1.0,
                       rbm_launched_mccmnc=[code for code, _ in MNP_DISTRIBUTION])
    serve(emulator, family, status, body, count=count)
    cache = tmp_path / "cache"
    f = contacts_file(tmp_path, frte_numbers(numbers))
    args = bothub(emulator, cache) if family == "bothub" else rbm(emulator, tmp_path, cache)
    result, report = check_json([str(f), *args, *extra])
    return result.exit_code, report, cached_entries(cache)


# -- item 1: a 404 envelope whose own code/status disagree is not "not RCS" -------------

DISAGREEING_404 = [
    pytest.param(envelope(503, "backend unavailable", "UNAVAILABLE"), id="inner-503"),
    pytest.param(envelope(401, "Request had invalid authentication credentials.",
                          "UNAUTHENTICATED"), id="inner-auth-error"),
    pytest.param(envelope(404, "contact is not RCS capable", "INTERNAL"),
                 id="status-disagrees"),
    pytest.param('{"error": {"code": 500, "message": "contact lookup failed"}}',
                 id="code-only-disagrees"),
    pytest.param('{"error": {"code": true, "status": "NOT_FOUND"}}', id="code-not-a-number"),
    pytest.param('{"error": {"message": "contact not found"}}', id="neither-code-nor-status"),
    pytest.param(_with(NOT_FOUND, requestError={"policyException": {
        "messageId": "POL0001", "text": "throttled"}}), id="oneapi-requestError-beside"),
    pytest.param(_with(NOT_FOUND, status="FAILED"), id="failure-word-beside"),
]


@pytest.mark.parametrize("family", ["bothub", "rbm"])
@pytest.mark.parametrize("body", DISAGREEING_404)
def test_a_404_envelope_that_says_another_thing_is_a_failure_never_cached(
        tmp_path: Path, emulator: Emulator, family: str, body: str) -> None:
    code, report, cached = _served(emulator, tmp_path, family, 404, body, count=3,
                                   numbers=10)
    assert report["reasons"]["capability_error"] == 3 and code == 3
    answers = report["api"]["providers"][family]["answers"]
    assert answers["by_status"]["404"]["unrecognized"] == 3
    assert cached == 7  # the three failures were not cached


@pytest.mark.parametrize("family", ["bothub", "rbm"])
@pytest.mark.parametrize("body", [
    pytest.param(NOT_FOUND, id="google-style"),
    pytest.param(envelope(404, "contact is not RCS capable", "Not Found"), id="words"),
    pytest.param('{"error": {"code": "404", "message": "contact is not RCS capable"}}',
                 id="code-as-text-only"),
    pytest.param(envelope(404, "not found", "404"), id="status-as-number-text"),
])
def test_a_404_envelope_that_agrees_is_still_not_rcs(
        tmp_path: Path, emulator: Emulator, family: str, body: str) -> None:
    code, report, cached = _served(emulator, tmp_path, family, 404, body, count=4,
                                   numbers=8)
    assert report["counts"]["not_rcs"] == 4 and code == 0 and cached == 8


def test_an_rbm_403_naming_testers_under_a_disagreeing_envelope_is_a_failure(
        tmp_path: Path, emulator: Emulator) -> None:
    code, report, cached = _served(
        emulator, tmp_path, "rbm", 403, envelope(500, "tester lookup failed", "INTERNAL"),
        count=3, numbers=10)
    assert report["reasons"]["capability_error"] == 3 and code == 3
    assert cached == 7


# -- item 2: an RBM 200 with fields Google added is still an answer ----------------------

@pytest.mark.parametrize(("body", "answer"), [
    pytest.param('{"features": ["RICHCARD_STANDALONE"], "rbmEnabled": true, '
                 '"phoneNumber": "+33607000000"}', True, id="callback-fields"),
    pytest.param('{"features": ["ACTION_DIAL"], "someFutureField": {"x": [1, 2]}}', True,
                 id="unknown-object"),
    pytest.param('{"features": [], "status": {"code": 0}}', True, id="ok-status-object"),
    pytest.param('{"features": "RICHCARD_STANDALONE", "x": 1}', False,
                 id="features-not-a-list"),
    pytest.param('{"features": [1, 2], "x": 1}', False, id="features-not-strings"),
    pytest.param('{"features": null, "x": 1}', False, id="features-null"),
    pytest.param('{"phoneNumber": "+33607000000", "x": 1}', False,
                 id="no-features-beside-others"),
    pytest.param('{"features": ["CHAT"], "rbmEnabled": false}', False, id="rbm-disabled"),
    pytest.param('{"features": ["CHAT"], "status": {"code": 14, "message": "unavailable"}}',
                 False, id="failed-status-object"),
])
def test_an_rbm_200_extra_field_is_ignored_a_bad_known_field_is_a_failure(
        tmp_path: Path, emulator: Emulator, body: str, answer: bool) -> None:
    code, report, cached = _served(emulator, tmp_path, "rbm", 200, body, count=4,
                                   numbers=4)
    if answer:
        assert report["counts"]["reachable"] == 4 and code == 0 and cached == 4
    else:
        assert report["reasons"]["capability_error"] == 4 and code == 3 and cached == 0


@pytest.mark.parametrize(("body", "listed"), [
    pytest.param('{"reachableUsers": ["+33607000000"], "totalRandomSampleUserCount": "0", '
                 '"reachableUsersMap": {"310-260": {"reachableUsers": []}}}', 1,
                 id="documented-newer-field"),
    pytest.param('{"reachableUsers": ["+33607000000"], "someFutureField": 3}', 1,
                 id="unknown-field"),
    pytest.param('{"reachableUsers": ["+33607000000"], "status": {"code": 14}}', None,
                 id="failed-status-object"),
    pytest.param('{"reachableUsers": "+33607000000", "x": 1}', None,
                 id="list-ill-typed"),
])
def test_an_rbm_batch_answer_follows_the_same_rule(tmp_path: Path, emulator: Emulator,
                                                   body: str, listed: int | None) -> None:
    _, report, cached = _served(emulator, tmp_path, "rbm", 200, body, count=1, numbers=500,
                                extra=("--capability", "rbm-batch", "--agent-launched"))
    if listed is None:
        assert report["reasons"]["capability_error"] == 500 and cached == 0
    else:
        assert report["counts"]["reachable"] == listed
        assert report["counts"]["not_rcs"] == 500 - listed


# -- item 3: two processes opening a brand-new cache at the same moment ------------------

#: a process opening a cache (a directory or a redis:// URL) with or without a key of its
#: own, writing one answer, then reading every answer the others wrote. ``hold``: wait
#: (polled, bounded) inside the first key step until another process did its own, to
#: replay the interleaving that lost a key.
OPENER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from rcsqualify.errors import ConfigurationError
    from rcsqualify.remote.cache import LookupCache
    from rcsqualify.remote.cachekey import KeyOptions
    from rcsqualify.remote.store_directory import DirectoryStore
    from rcsqualify.remote.store_redis import RedisStore

    where, mine, others, hold, gate, read_gate = sys.argv[1:7]

    def wait(what):
        deadline = time.monotonic() + 60
        while not what():
            if time.monotonic() > deadline:
                sys.exit("timed out")
            time.sleep(0.01)

    done = []

    def holding(cls, name, until, after=False):  # the first call held, once
        original = getattr(cls, name)
        def held(self, *args):
            if done:
                return original(self, *args)
            done.append(name)
            value = original(self, *args) if after else None
            print("holding", flush=True)
            wait(lambda: until(self))
            return value if after else original(self, *args)
        setattr(cls, name, held)

    for cls in (DirectoryStore, RedisStore):
        if hold == "create-until-claimed":
            holding(cls, "create_secret", lambda s: s.key_fingerprint() is not None)
        elif hold == "after-first-read-until-claimed":  # whichever is read first
            claimed = lambda s, of=cls.key_fingerprint: of(s) is not None
            holding(cls, "key_fingerprint", claimed, after=True)
            holding(cls, "stored_secret", claimed, after=True)
    print("ready", flush=True)
    wait(lambda: os.path.exists(gate))
    given = bool(os.environ.get("RCSQUALIFY_CACHE_KEY"))
    options = KeyOptions(in_store=not given)
    try:
        cache = (LookupCache(url=where, key=options) if "://" in where
                 else LookupCache(Path(where), key=options))
    except ConfigurationError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        sys.exit(0)
    cache.put("cap", "bothub@race", mine, "yes")
    print(json.dumps({"wrote": mine}), flush=True)
    wait(lambda: os.path.exists(read_gate))
    seen = cache.get_many("cap", "bothub@race", [mine, *others.split(",")])
    print(json.dumps({"seen": sum(s == "yes" for s in seen)}), flush=True)
""")


class Opener:
    """One ``OPENER`` process; its lines read as they come."""

    def __init__(self, where: str, mine: str, others: list[str], gate: Path,
                 read_gate: Path, *, key: str | None = None, hold: str = "-") -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("GITHUB_ACTIONS", "GITLAB_CI", "RCSQUALIFY_CACHE_KEY")}
        if key is not None:
            env["RCSQUALIFY_CACHE_KEY"] = key
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", OPENER, where, mine, ",".join(others), hold, str(gate),
             str(read_gate)],
            stdout=subprocess.PIPE, text=True, env=env)

    def line(self) -> str:
        assert self.proc.stdout is not None
        text = self.proc.stdout.readline().strip()
        assert text, f"the process ended (exit {self.proc.wait(timeout=60)})"
        return text

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.line())
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=60)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


NUMBERS = ["+33607000001", "+33607000002", "+33607000003", "+33607000004"]


def _race(where: str, gate: Path, keys: list[str | None]) -> list[dict[str, Any]]:
    """Open ``where`` from one process per key at once (all released by one gate file
    after each said it is ready); what each wrote, then how many answers each read."""
    read = gate.with_suffix(".read")
    procs = [Opener(where, NUMBERS[i], [n for n in NUMBERS[:len(keys)] if n != NUMBERS[i]],
                    gate, read, key=k) for i, k in enumerate(keys)]
    try:
        assert [p.line() for p in procs] == ["ready"] * len(procs)
        gate.touch()
        wrote = [p.result() for p in procs]
        assert all("wrote" in w for w in wrote), wrote
        read.touch()
        return [{**w, **p.result()} for w, p in zip(wrote, procs, strict=True)]
    finally:
        for p in procs:
            p.close()


@pytest.mark.parametrize("trial", range(3))
def test_processes_on_a_brand_new_directory_cache_share_one_key(tmp_path: Path,
                                                                trial: int) -> None:
    """Not a defect: the stored key is linked into place (one wins) and its fingerprint
    inserted once; every process reads every other's answers."""
    results = _race(str(tmp_path / "cache"), tmp_path / "go", [None] * 4)
    assert all(r["seen"] == 4 for r in results), results
    assert len(list((tmp_path / "cache").glob("secret.key"))) == 1


@pytest.mark.parametrize("trial", range(3))
def test_processes_on_a_brand_new_redis_cache_share_one_key(tmp_path: Path, redis_url: str,
                                                            trial: int) -> None:
    """Not a defect either: ``SET NX`` stores one key and one fingerprint."""
    results = _race(redis_url, tmp_path / "go", [None] * 4)
    assert all(r["seen"] == 4 for r in results), results


@pytest.mark.parametrize("store", ["directory", "redis"])
def test_a_run_storing_a_key_loses_to_a_run_given_one_at_the_same_moment(
        tmp_path: Path, store: str, request: pytest.FixtureRequest) -> None:
    """The defect: a run without a key (it stores one inside) and a run given a key kept
    outside open a brand-new cache at once. Both read "no key"; the given run claims the
    fingerprint; the other stored its own key, ignored that it lost, and wrote answers
    only it could read (and left a cache every later run without a key called
    damaged). Now the loser stops with one line and removes the key it stored."""
    from rcsqualify.errors import ConfigurationError
    from rcsqualify.remote.cache import LookupCache
    from rcsqualify.remote.cachekey import KeyOptions
    from tests.helpers import TEST_CACHE_KEY

    where = (request.getfixturevalue("redis_url") if store == "redis"
             else str(tmp_path / "cache"))
    first, second, read = tmp_path / "first", tmp_path / "second", tmp_path / "read"
    inside = Opener(where, NUMBERS[0], [NUMBERS[1]], first, read,
                    hold="create-until-claimed")
    outside = Opener(where, NUMBERS[1], [NUMBERS[0]], second, read, key=TEST_CACHE_KEY)
    try:
        assert inside.line() == outside.line() == "ready"
        first.touch()
        assert inside.line() == "holding"  # it read "no key, no fingerprint" and waits
        second.touch()
        assert outside.result() == {"wrote": NUMBERS[1]}
        lost = inside.result()
        read.touch()
        assert outside.result() == {"seen": 1}
    finally:
        inside.close()
        outside.close()
    assert "kept outside it" in lost.get("error", ""), lost
    assert "at the same moment" in lost["error"] and "\n" not in lost["error"]
    # the cache answers the given key, and a run without it is told to give it
    env_key = {"RCSQUALIFY_CACHE_KEY": TEST_CACHE_KEY}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env_key.items():
            mp.setenv(k, v)
        mp.delenv("GITHUB_ACTIONS", raising=False)
        mp.delenv("GITLAB_CI", raising=False)
        opened = (LookupCache(url=where) if store == "redis" else LookupCache(Path(where)))
        assert opened.get_many("cap", "bothub@race", NUMBERS[:2]) == [None, "yes"]
        assert opened.key_place == "outside"  # the loser's stored key is gone
        opened.close()
        mp.delenv("RCSQUALIFY_CACHE_KEY")
        with pytest.raises(ConfigurationError, match="kept outside it"):
            LookupCache(url=where, key=KeyOptions(in_store=True)) if store == "redis" \
                else LookupCache(Path(where))


@pytest.mark.parametrize("store", ["directory", "redis"])
def test_a_run_reading_a_fresh_cache_while_another_keys_it_uses_that_key(
        tmp_path: Path, store: str, request: pytest.FixtureRequest) -> None:
    """The same race without any key given (seen 1 time in 6 with four processes on a
    fresh Redis): a run read "no stored key", then the fingerprint the other run had
    just claimed for the key it stored, and stopped as if the key were kept outside.
    Replayed: the first run holds after its first read of the key's state until the
    other has keyed the store. Now the fingerprint is read first, and both use one key."""
    where = (request.getfixturevalue("redis_url") if store == "redis"
             else str(tmp_path / "cache"))
    first, second, read = tmp_path / "first", tmp_path / "second", tmp_path / "read"
    late = Opener(where, NUMBERS[0], [NUMBERS[1]], first, read,
                  hold="after-first-read-until-claimed")
    early = Opener(where, NUMBERS[1], [NUMBERS[0]], second, read)
    try:
        assert late.line() == early.line() == "ready"
        first.touch()
        assert late.line() == "holding"
        second.touch()
        assert early.result() == {"wrote": NUMBERS[1]}
        assert late.result() == {"wrote": NUMBERS[0]}
        read.touch()
        assert early.result() == late.result() == {"seen": 2}
    finally:
        late.close()
        early.close()


# -- item 4: ``cache move-key`` stopped between its steps --------------------------------

@pytest.fixture
def keyed_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache directory holding its key and one answer."""
    from rcsqualify.remote.cache import LookupCache

    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "RCSQUALIFY_CACHE_KEY"):
        monkeypatch.delenv(name, raising=False)
    cache = LookupCache(tmp_path / "cache")
    cache.put("cap", "bothub@move", NUMBERS[0], "yes")
    cache.close()
    assert (tmp_path / "cache" / "secret.key").exists()
    return tmp_path / "cache"


def _answer(cache_dir: Path, key_file: Path | None = None) -> str | None:
    """The answer the cache gives a run (with ``key_file`` when given)."""
    from rcsqualify.remote.cache import LookupCache
    from rcsqualify.remote.cachekey import KeyOptions

    cache = LookupCache(cache_dir, key=KeyOptions(file=key_file))
    try:
        return cache.get("cap", "bothub@move", NUMBERS[0])
    finally:
        cache.close()


def _move(cache_dir: Path, to: Path) -> str:
    from rcsqualify.remote.cache import LookupCache

    cache = LookupCache(cache_dir, need="use")
    try:
        return cache.move_key(to)
    finally:
        cache.close()


def _fail(*_: object) -> Any:
    raise OSError(5, "injected failure")


@pytest.mark.parametrize("step", ["write", "fsync", "link"])
def test_a_move_key_failing_while_writing_leaves_no_file_and_the_key_in_the_cache(
        tmp_path: Path, keyed_cache: Path, monkeypatch: pytest.MonkeyPatch,
        step: str) -> None:
    """Was: ``--to`` opened with O_EXCL then written: a failure (or a kill) between the
    open and the write left an empty or partial key file, and every later move-key
    refused to overwrite it."""
    from rcsqualify.errors import ConfigurationError

    key = (keyed_cache / "secret.key").read_bytes()
    to = tmp_path / "keys" / "cache.key"
    to.parent.mkdir()
    with monkeypatch.context() as mp:
        mp.setattr(os, step, _fail)
        with pytest.raises(ConfigurationError, match="cannot create it"):
            _move(keyed_cache, to)
    assert not to.exists() and list(to.parent.iterdir()) == []  # no part, no temporary
    assert (keyed_cache / "secret.key").read_bytes() == key
    assert _answer(keyed_cache) == "yes"
    _move(keyed_cache, to)  # the same command again goes through
    assert not (keyed_cache / "secret.key").exists()
    assert _answer(keyed_cache, to) == "yes"


def test_a_move_key_stopped_after_writing_is_finished_by_the_same_command(
        tmp_path: Path, keyed_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the key written, the cache's copy not yet removed (a failure, a kill): the
    same command again refused ("exists"), leaving the key in the cache."""
    from rcsqualify.errors import ConfigurationError
    from rcsqualify.remote.cache import LookupCache
    from rcsqualify.remote.store_directory import DirectoryStore

    to = tmp_path / "cache.key"
    with monkeypatch.context() as mp:
        mp.setattr(DirectoryStore, "drop_secret", _fail)
        with pytest.raises(ConfigurationError, match="injected failure"):
            _move(keyed_cache, to)
    assert _answer(keyed_cache) == "yes" and _answer(keyed_cache, to) == "yes"  # both
    assert "left the cache" in _move(keyed_cache, to)
    assert not (keyed_cache / "secret.key").exists()
    assert _answer(keyed_cache, to) == "yes"
    # another cache's key is never written over it
    LookupCache(tmp_path / "other").close()
    with pytest.raises(ConfigurationError, match="exists: refusing"):
        _move(tmp_path / "other", to)
    assert _answer(keyed_cache, to) == "yes" and (tmp_path / "other" / "secret.key").exists()


#: ``cache move-key --to`` in a process of its own, holding (polled, never returning) at
#: one step: the test kills it there
MOVER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from rcsqualify.remote.cache import LookupCache
    from rcsqualify.remote.store_directory import DirectoryStore

    cache_dir, to, step = sys.argv[1:4]

    def hold(*_):
        print("holding", flush=True)
        while True:
            time.sleep(0.05)

    if step == "drop":
        DirectoryStore.drop_secret = hold
    else:
        os.fsync = hold
    LookupCache(Path(cache_dir), need="use").move_key(Path(to))
""")


@pytest.mark.parametrize("step", ["fsync", "drop"])
def test_a_move_key_killed_at_any_step_keeps_the_key_somewhere_whole(
        tmp_path: Path, keyed_cache: Path, step: str) -> None:
    import signal

    key = (keyed_cache / "secret.key").read_bytes()
    to = tmp_path / "keys" / "cache.key"
    to.parent.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITLAB_CI")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.Popen([sys.executable, "-c", MOVER, str(keyed_cache), str(to), step],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        assert proc.stdout is not None
        proc.stdout.close()
    assert (keyed_cache / "secret.key").read_bytes() == key  # still in the cache
    if step == "fsync":  # killed while writing: no key file, only our own temporary
        assert not to.exists()
        assert all(p.name.startswith(".cache.key.") and p.name.endswith(".part")
                   for p in to.parent.iterdir())
    else:  # killed after writing: the file is whole
        assert to.read_text().strip() == key.hex()
    assert _answer(keyed_cache) == "yes"
    _move(keyed_cache, to)  # the same command again finishes the move
    assert not (keyed_cache / "secret.key").exists()
    assert _answer(keyed_cache, to) == "yes"
