"""Robustness carry-overs of the remote layer, each reproduced first: a 404 (or an RBM
403) whose error envelope says something else than its status; an RBM 200 with fields
Google added; two processes opening a brand-new cache at once; ``cache move-key``
interrupted between its steps."""

from __future__ import annotations

import json
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
