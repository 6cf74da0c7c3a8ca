"""Shared fixtures: every test runs with its own cache, plan and data directories, a
fixed terminal width and none of the user's RCSQUALIFY_* variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="session")
def session_dirs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("session")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                 session_dirs: Path) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith("RCSQUALIFY_") or key in (
                "GOOGLE_APPLICATION_CREDENTIALS", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY",
                "GITLAB_CI"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RCSQUALIFY_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("RCSQUALIFY_PLAN_DIR", str(home / "plan"))
    monkeypatch.setenv("RCSQUALIFY_QUOTA_DIR", str(home / "quota"))
    # platformdirs' cache (the compiled ARCEP plan) and state dirs: never the user's own;
    # one per session, so the plan is compiled once, not once per test
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_dirs / "xdg-cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(session_dirs / "xdg-state"))
    # profiles: never the user's own config.toml (platformdirs follows XDG on Linux)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("COLUMNS", "120")
    from rcsqualify.numbering.plan import load_plan

    load_plan.cache_clear()
    yield home
    load_plan.cache_clear()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries back off 10 ms instead of the default (``--retry-backoff``): for the test
    modules that make services fail on purpose (``pytestmark = usefixtures(...)``)."""
    monkeypatch.setenv("RCSQUALIFY_RETRY_BACKOFF", "0.01")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def sample_contacts() -> Path:
    return SAMPLE / "contacts.csv"


class Emulator:
    """A running ``rcsqualify emulator`` process, reconfigured per test over HTTP."""

    def __init__(self, base: str, proc: subprocess.Popen[str]) -> None:
        self.base = base
        self.proc = proc

    def reset(self, **config: object) -> None:
        httpx.post(f"{self.base}/_emulator/reset", json=config, timeout=10).raise_for_status()

    def configure(self, **config: object) -> None:
        httpx.post(f"{self.base}/_emulator/config", json=config,
                   timeout=10).raise_for_status()

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.base}/_emulator/stats", timeout=30).json()
        return data

    def bothub_args(self, url: str | None = None, token_url: str | None = None
                    ) -> list[str]:
        """BotHub against the emulator; ``url`` or ``token_url`` point one of them
        elsewhere (a wrong path, a dead or silent port)."""
        return ["--capability", "bothub", "--bot-id", "test-bot",
                "--bothub-url", url or f"{self.base}/bothub/v1",
                "--bothub-token-url", token_url or f"{self.base}/oauth/v3/token"]

    def rbm_args(self, credentials: Path, agent: str = "emulator-agent") -> list[str]:
        """The RBM endpoint and agent, with a service account whose token URI is
        ``{base}/rbm/token`` (helpers.service_account); the capability is the caller's."""
        return ["--rbm-url", f"{self.base}/rbm", "--rbm-credentials", str(credentials),
                "--agent-id", agent, "--threshold", "1"]

    def mnp_url(self) -> str:
        return f"{self.base}/mnp/lookup?msisdn={{msisdn}}"


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[Emulator]:
    exe = Path(sys.executable).with_name("rcsqualify")
    proc = subprocess.Popen([str(exe), "emulator", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line
    base = line.strip().rsplit(" ", 1)[-1]
    try:
        yield Emulator(base, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def emulator(emulator_process: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator, reset to defaults, and the BotHub credentials it accepts."""
    emulator_process.reset(quota=1000)
    monkeypatch.setenv("RCSQUALIFY_BOTHUB_CLIENT_ID", "emulator-client")
    monkeypatch.setenv("RCSQUALIFY_BOTHUB_CLIENT_SECRET", "emulator-secret")
    return emulator_process


@pytest.fixture
def chromium() -> str:
    """Debian's headless Chromium, for tests marked ``browser``. CI (``CI=true``) requires
    it (.ci/run installs it), so there a missing browser fails the test with the fix;
    on a developer's machine the test is skipped with the same explanation."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    why = ("Chromium is needed to render the HTML report: apt-get install chromium "
           "(.ci/run installs it)")
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``redis-server`` (Debian's package) on 127.0.0.1, a free port and a temp
    dir, for the session; its URL. Required in CI (.ci/run installs it), skipped with
    the reason elsewhere when the binary or the ``redis`` client library is missing."""
    from tests.helpers import start_redis

    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's Redis, emptied for this test; the cache key kept outside it, as a
    shared cache requires (``RCSQUALIFY_CACHE_KEY``, remote/cachekey.py)."""
    import redis

    from tests.helpers import TEST_CACHE_KEY

    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", TEST_CACHE_KEY)

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


# -- option groups: every declared field read, no undeclared one (issue #24 item 1) ---------
_OPTION_READS: set[tuple[str, str]] = set()
_UNDECLARED_READS: set[str] = set()


def pytest_configure(config: pytest.Config) -> None:
    """Record, in this process (an xdist worker or the only one), which fields of the
    option groups the tests read."""
    from rcsqualify.settings import record_reads

    record_reads(_OPTION_READS, _UNDECLARED_READS)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller judges
        workeroutput["option_reads"] = sorted(f"{g}.{n}" for g, n in _OPTION_READS)
        workeroutput["undeclared_reads"] = sorted(_UNDECLARED_READS)
        return
    problem = _option_reads_problem(session.config)
    if problem:
        session.config.get_terminal_writer().line(f"\n{problem}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    output = getattr(node, "workeroutput", {})
    _OPTION_READS.update(tuple(r.split(".", 1)) for r in output.get("option_reads", ()))
    _UNDECLARED_READS.update(output.get("undeclared_reads", ()))


def _option_reads_problem(config: pytest.Config) -> str | None:
    """A field a group declares that no test read (an option nothing uses, or one the
    tests never exercise), judged on a whole-suite run only; a name read from
    ``Settings`` that no group declares, on any run."""
    from rcsqualify.settings import every_field

    if _UNDECLARED_READS:
        return ("option groups: read but declared by no group: "
                + ", ".join(sorted(_UNDECLARED_READS)))
    tests_dir = Path(__file__).resolve().parent
    whole = all(Path(a).resolve() in (tests_dir, tests_dir.parent) for a in config.args) \
        and not config.option.keyword and not config.option.markexpr \
        and not getattr(config.option, "lf", False) \
        and not getattr(config.option, "deselect", None) \
        and not getattr(config.option, "collectonly", False)  # --co runs no test
    if not whole:
        return None
    unread = sorted(f"{g}.{n}" for g, n in every_field() - _OPTION_READS)
    return ("option groups: declared but read by no test: " + ", ".join(unread)
            if unread else None)


# -- a webhook receiver (alerts: tests/test_alerts.py, tests/test_monitoring_cli.py) ------
class Receiver:
    """A real HTTP server on 127.0.0.1 that answers with the scripted statuses (then
    200) and keeps every request it got."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.got.append((self.path, dict(self.headers), body))
                status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(b) for _, _, b in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()
