"""Small helpers shared by the tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from rcsqualify.cli import app

#: a cache key kept outside the cache (a shared cache requires one: remote/cachekey.py)
TEST_CACHE_KEY = "5e" * 32


def run_cli(args: list[str], input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(app, args, input=input, catch_exceptions=False)


def check_json(args: list[str], input: str | bytes | None = None) -> tuple[Result, dict[str, Any]]:
    """Run ``check`` with ``--json-report -`` and parse the report from stdout."""
    result = run_cli(["check", *args, "--json-report", "-", "-q"], input=input)
    assert result.stdout.strip(), f"no report (exit {result.exit_code}): {result.stderr}"
    report = json.loads(result.stdout)
    validate_report(report)
    return result, report


def validate_report(report: dict[str, Any]) -> None:
    """Every report the tests produce follows the documented schema (docs/)."""
    import jsonschema

    jsonschema.validate(report, _schema())


def _schema() -> dict[str, Any]:
    global _SCHEMA
    if _SCHEMA is None:
        path = Path(__file__).resolve().parent.parent / "docs" / "report.schema.json"
        _SCHEMA = json.loads(path.read_text(encoding="utf-8"))
    return _SCHEMA


_SCHEMA: dict[str, Any] | None = None


def write_csv(path: Path, rows: list[list[str]], *, delimiter: str = ";",
              encoding: str = "utf-8") -> Path:
    text = "\r\n".join(delimiter.join(r) for r in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


# -- numbers and files for the remote tests --------------------------------------------
def frte_numbers(n: int, start: int = 0) -> list[str]:
    """n distinct Orange (FRTE range 0607…) mobiles, national form."""
    return [f"0607{start + i:06d}" for i in range(n)]


def e164(national: str) -> str:
    return "+33" + national[1:]


def contacts_file(tmp_path: Path, numbers: list[str], name: str = "c.csv") -> Path:
    return write_csv(tmp_path / name, [["nom", "mobile"], *[[f"n{i}", x]
                                                            for i, x in enumerate(numbers)]])


def emulator_truth(numbers: list[str], seed: int = 0, share: float = 0.7) -> list[bool]:
    """What the emulator answers (same seeded hash as EmulatorState.capable)."""
    import hashlib

    out = []
    for n in numbers:
        digest = hashlib.sha256(f"{seed}:cap:{e164(n)}".encode()).digest()[:8]
        out.append(int.from_bytes(digest, "big") / 2**64 < share)
    return out


def service_account(tmp_path: Path, token_uri: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "test", "private_key_id": "k1",
        "private_key": pem, "client_email": "rbm@test.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": token_uri}))
    return path


def cached_entries(cache_dir: Path) -> int:
    """How many answers a cache directory holds (it must hold none after a failure)."""
    from rcsqualify.remote.cache import LookupCache

    cache = LookupCache(cache_dir, need="inspect")
    try:
        return int(cache.info()["entries"])
    finally:
        cache.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released): a connection
    to it is refused; a server started next may bind it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    """Debian's ``redis-server`` and the ``redis`` client library: required in CI
    (.ci/run installs them), the test skipped with the reason elsewhere."""
    import os
    import shutil

    import pytest

    exe = shutil.which("redis-server")
    why = None
    if exe is None:
        why = "redis-server is needed: apt-get install redis-server (.ci/run installs it)"
    else:
        try:
            import redis  # noqa: F401
        except ImportError:
            why = "the redis client library is needed: pip install -e '.[test]'"
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    assert exe is not None
    return exe


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real ``redis-server`` on 127.0.0.1, a free port, ``workdir``, no persistence,
    answering PING (polled, bounded): the process and its URL. The caller stops it."""
    import time

    import redis

    exe = redis_server_binary()
    port = closed_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                client.ping()
                return proc, url
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    raise
                time.sleep(0.05)
    finally:
        client.close()
