"""Hostile review of session 8's landings (reviewer rv8a): each test is an attack that
broke main, kept once fixed. The commit attacked is named above each group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from rcsqualify.errors import InputError
from tests.conftest import Emulator
from tests.test_remote_carryovers import NOT_FOUND, _served, _with, keyed_cache

__all__ = ["keyed_cache"]  # the fixture, shared

#: every retry of these tests waits 10 ms, not the default back-off (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("quick_retries")


# -- ff98040: an RBM 200 that says it failed in Google's words is no answer --------------

@pytest.mark.parametrize("body", [
    pytest.param('{"features": ["CHAT"], "status": "NOT_FOUND"}', id="status-code-name"),
    pytest.param('{"features": ["CHAT"], "status": "UNAUTHENTICATED"}', id="status-auth"),
    pytest.param('{"features": ["CHAT"], "status": "INTERNAL"}', id="status-internal"),
    pytest.param('{"features": ["CHAT"], "status": [{"code": 13}]}', id="status-list"),
    pytest.param('{"features": ["CHAT"], "status": {"code": false}}', id="code-false"),
    pytest.param('{"features": ["CHAT"], "code": 13, "message": "Internal error"}',
                 id="top-level-rpc-status"),
])
def test_an_rbm_200_whose_status_names_a_failure_is_no_answer(
        tmp_path: Path, emulator: Emulator, body: str) -> None:
    code, report, cached = _served(emulator, tmp_path, "rbm", 200, body, count=4,
                                   numbers=4)
    assert report["reasons"]["capability_error"] == 4 and code == 3 and cached == 0


@pytest.mark.parametrize("body", [
    pytest.param('{"features": ["CHAT"], "status": "OK"}', id="status-ok-word"),
    pytest.param('{"features": ["CHAT"], "status": {"message": ""}}', id="code-0-omitted"),
    pytest.param('{"features": ["CHAT"], "code": 0}', id="top-level-code-0"),
])
def test_an_rbm_200_whose_status_says_ok_is_still_an_answer(
        tmp_path: Path, emulator: Emulator, body: str) -> None:
    code, report, cached = _served(emulator, tmp_path, "rbm", 200, body, count=4,
                                   numbers=4)
    assert report["counts"]["reachable"] == 4 and code == 0 and cached == 4


# -- ff98040: what sits beside an agreeing 404 envelope may still say it failed -----------

@pytest.mark.parametrize("family", ["bothub", "rbm"])
@pytest.mark.parametrize("body", [
    pytest.param(_with(NOT_FOUND, status={"code": 13, "message": "internal"}),
                 id="failed-rpc-status-beside"),
    pytest.param(_with(NOT_FOUND, code=503), id="other-code-beside"),
    pytest.param(_with(NOT_FOUND, status="UNAVAILABLE"), id="other-status-beside"),
    pytest.param(_with(NOT_FOUND, serviceException={"messageId": "SVC0001",
                                                    "text": "backend down"}),
                 id="oneapi-serviceException-beside"),
    pytest.param(_with(NOT_FOUND, policyException={"messageId": "POL0001"}),
                 id="oneapi-policyException-beside"),
])
def test_a_404_envelope_with_a_failure_beside_it_is_no_negative(
        tmp_path: Path, emulator: Emulator, family: str, body: str) -> None:
    code, report, cached = _served(emulator, tmp_path, family, 404, body, count=3,
                                   numbers=10)
    assert report["reasons"]["capability_error"] == 3 and code == 3
    assert cached == 7  # the three failures were not cached


@pytest.mark.parametrize("family", ["bothub", "rbm"])
def test_a_404_envelope_with_an_agreeing_status_beside_is_still_not_rcs(
        tmp_path: Path, emulator: Emulator, family: str) -> None:
    body = _with(NOT_FOUND, status="NOT_FOUND", code=404)
    code, report, cached = _served(emulator, tmp_path, family, 404, body, count=4,
                                   numbers=8)
    assert report["counts"]["not_rcs"] == 4 and code == 0 and cached == 8


# -- a9182b4: a float32 phone column under a dictionary (a Categorical) lost digits too ---

FLOAT32 = np.array([612345678, 712345678], dtype=np.float32)  # stored 612345664...
FLOAT16 = np.array([6123, 7123], dtype=np.float16)  # stored 6124, 7124


@pytest.mark.parametrize("source", [
    pytest.param(lambda: pd.DataFrame({"phone": pd.Series(FLOAT32).astype("category")}),
                 id="pandas-categorical-float32"),
    pytest.param(lambda: pa.table({"phone": pa.array(FLOAT32).dictionary_encode()}),
                 id="arrow-dictionary-float32"),
    pytest.param(lambda: pa.table({"phone": pa.array(FLOAT16).dictionary_encode()}),
                 id="arrow-dictionary-float16"),
])
def test_a_narrow_float_phone_column_behind_a_dictionary_is_refused(source: object) -> None:
    import rcsqualify

    with pytest.raises(InputError, match="phone column phone is float"):
        rcsqualify.qualify(source())  # type: ignore[operator]


def test_a_float16_column_is_not_said_to_keep_7_digits() -> None:
    import rcsqualify

    table = pa.table({"phone": pa.array(FLOAT16)})
    with pytest.raises(InputError) as caught:
        rcsqualify.qualify(table)
    assert "float16, which keeps about 3 significant digits" in str(caught.value)


# -- 1541660: doctor called a proxy's 407 and a 429 "reachable, as expected" ------------
# (a redirect is said with where it goes: a run follows none)

@pytest.fixture
def answering(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real HTTP server answering every GET with the status (and headers) given."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    status, headers = request.param

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("answering", "level", "words"), [
    pytest.param((407, {"Proxy-Authenticate": "Basic"}), "FAIL",
                 ["HTTP 407", "proxy", "— fix: give the proxy's credentials"], id="407"),
    pytest.param((429, {"Retry-After": "3600"}), "WARN",
                 ["HTTP 429", "too many requests", "— fix: lower --rate"], id="429"),
    pytest.param((301, {"Location": "https://moved.example.com/v2/lookup?token=s3cret"}),
                 "OK", ["HTTP 301", "redirect to https://moved.example.com/v2/lookup",
                        "follows no redirect"], id="301-absolute"),
    pytest.param((302, {"Location": "/login?next=0612345678"}), "OK",
                 ["HTTP 302", "redirect to http://127.0.0.1:", "/login"], id="302-relative"),
], indirect=["answering"])
def test_doctor_does_not_call_a_407_429_or_redirect_expected(
        tmp_path: Path, answering: str, level: str, words: list[str]) -> None:
    from tests.helpers import run_cli
    from tests.test_front_door import _doctor_lines

    config = tmp_path / "config.toml"
    assert run_cli(["init", "--config", str(config), "--no-input", "--mnp-url",
                    f"{answering}/lookup?n={{msisdn}}"]).exit_code == 0
    _, lines = _doctor_lines(config, "default")
    line = lines["service MNP"]
    assert line.startswith(f"{level} service MNP: ") and "as expected" not in line, line
    assert "s3cret" not in line and "0612345678" not in line, line
    for word in words:
        assert word in line, line


# -- 28092ac: an option typed with a typographic dash got no did-you-mean ----------------

@pytest.mark.parametrize(("args", "dash", "meant"), [
    pytest.param(["check", "—junit-xml", "out.xml", "base.csv"], "U+2014", "--junit-xml",
                 id="em-dash-before-the-file"),
    pytest.param(["check", "base.csv", "–capability", "none"], "U+2013", "--capability",
                 id="en-dash-after-the-file"),
    pytest.param(["check", "base.csv", "-−rate=3"], "U+2212", "--rate=3", id="minus-sign"),
])
def test_an_option_with_a_typographic_dash_says_so(
        tmp_path: Path, args: list[str], dash: str, meant: str) -> None:
    """Was: 'Got unexpected extra argument(s) (out.xml base.csv)', naming everything but
    the dash a document put in place of '--'."""
    from tests.helpers import run_cli

    result = run_cli(args)
    line = result.stderr.strip()
    assert result.exit_code == 2 and "\n" not in line, line
    assert dash in line and f"type it as {meant}" in line and "extra argument" not in line


def test_a_file_named_with_a_dash_after_double_dash_is_still_a_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import contacts_file, run_cli

    f = contacts_file(tmp_path, ["0612345678"])
    named = f.rename(tmp_path / "—base")
    monkeypatch.chdir(tmp_path)
    result = run_cli(["check", "-q", "--threshold", "1", "--", named.name])
    assert result.exit_code == 0, result.stderr


# -- d949ba1: move-key adopted any existing --to holding the key as "its stopped move" -----

@pytest.mark.parametrize("make", ["readable-copy", "symlink-to-a-copy"])
def test_move_key_does_not_adopt_a_file_it_did_not_write(
        tmp_path: Path, keyed_cache: Path, make: str) -> None:
    """Was: a copy of the key readable by others (``cat secret.key > key``, 0644), or a
    symlink to one, passed as "the move stopped after writing": the key left the cache
    for a file every local user can read. A move writes 0600; only such a file is its."""
    from rcsqualify.errors import ConfigurationError
    from tests.test_remote_carryovers import _answer, _move

    key = (keyed_cache / "secret.key").read_bytes()
    copy = tmp_path / "copy.key"
    copy.write_text(key.hex() + "\n")
    copy.chmod(0o644 if make == "readable-copy" else 0o600)
    to = copy
    if make == "symlink-to-a-copy":
        to = tmp_path / "link.key"
        to.symlink_to(copy)
    with pytest.raises(ConfigurationError, match="exists: refusing to overwrite"):
        _move(keyed_cache, to)
    assert (keyed_cache / "secret.key").read_bytes() == key  # still in the cache
    assert _answer(keyed_cache) == "yes"


def test_move_key_to_a_path_with_a_tilde_says_it_is_not_expanded(
        tmp_path: Path, keyed_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rcsqualify.errors import ConfigurationError
    from tests.test_remote_carryovers import _move

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="'~' is not expanded"):
        _move(keyed_cache, Path("~/cache.key"))
    assert (keyed_cache / "secret.key").exists()


def test_a_huge_unknown_option_is_named_short_and_compared_with_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: every option's spelling compared with the whole argument (quadratic): a
    120,000-character '--junit-junit-…' took 16 s of CPU, then was printed whole."""
    import difflib

    from rcsqualify.cli.base import closest_options
    from tests.helpers import run_cli

    huge = "--" + "junit-" * 20000
    with monkeypatch.context() as mp:
        def never(*_: object, **__: object) -> None:
            raise AssertionError("compared")
        mp.setattr(difflib, "SequenceMatcher", never)
        assert closest_options(huge, ["--junit-xml", "--json-report"]) == []
    result = run_cli(["check", "base.csv", huge])
    line = result.stderr.strip()
    assert result.exit_code == 2 and "No such option: --junit-junit" in line
    assert len(line) < 300, len(line)
    assert closest_options("--junit-report", ["--junit-xml", "--json-report"])[0] == \
        "--junit-xml"


def test_a_value_starting_with_a_typographic_dash_is_a_value(tmp_path: Path) -> None:
    """A column named '–Mobile' is no mistyped option: only a word that is an option
    of some command is refused."""
    from tests.helpers import run_cli, write_csv

    f = write_csv(tmp_path / "c.csv", [["nom", "–Mobile"], ["a", "0612345678"]])
    result = run_cli(["check", str(f), "--column", "–Mobile", "--threshold", "1", "-q"])
    assert result.exit_code == 0, result.stderr
    assert "typographic" in run_cli(["cache", "move-key", "—to", "k"]).stderr
