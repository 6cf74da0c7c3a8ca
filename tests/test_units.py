"""Unit tests of the small pure pieces the end-to-end tests rely on (issue #11): the
interval, masking, classification, freshness on a fake clock, the sanitizers and the
parsers of what servers send."""

from __future__ import annotations

import math

import httpx
import numpy as np
import pytest

from rcsqualify.capability.bothub_bulk import job_file_name, job_id_of, read_poll
from rcsqualify.capability.interface import capability_answer
from rcsqualify.masking import mask_url
from rcsqualify.remote.cache import DAY, Freshness, LookupCache, Scope
from rcsqualify.remote.failures import server_message
from rcsqualify.remote.transport import parse_retry_after
from rcsqualify.report.html import _pct
from rcsqualify.report.masking import mask_number
from rcsqualify.report.summary import wilson_interval
from rcsqualify.textsafe import safe_text
from rcsqualify.verdict import (
    KIND,
    RCS_ERROR,
    RCS_NO,
    RCS_NO_FEATURE,
    RCS_NOT_LISTED,
    RCS_NOT_SAMPLED,
    RCS_UNKNOWN,
    RCS_YES,
    REASONS,
    SOURCE,
    R,
    classify,
)


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0),
    (30, 300, 0.0709, 0.1392),
])
def test_wilson_interval_matches_published_values(k: int, n: int, low: float,
                                                  high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_of_nothing_is_everything() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("cell", "masked"), [
    ("+33 6 12 34 56 78", "+33 6 12 ** ** 78"),
    ("0612345678", "06123***78"),
    ("N/A", "N/A"),
    ("12 34", "12 34"),  # too short to identify anyone
])
def test_mask_number_keeps_the_layout(cell: str, masked: str) -> None:
    assert mask_number(cell) == masked


def test_classify_every_branch() -> None:
    kinds = ["mobile"] * 9 + ["fixed_line", "voip", "special", "m2m"]
    n = len(kinds)
    kind = np.array([KIND[k] for k in kinds], np.uint8)
    target = np.array([False, False, True, True, True, True, True, True, True] + [False] * 4)
    source = np.array([SOURCE["range"], SOURCE["portability"], *[SOURCE["range"]] * 7,
                       *[0] * 4], np.uint8)
    rcs = np.array([0, 0, RCS_UNKNOWN, RCS_YES, RCS_NO, RCS_ERROR, RCS_NOT_SAMPLED,
                    RCS_NOT_LISTED, RCS_NO_FEATURE, 0, 0, 0, 0], np.uint8)
    op_error = np.zeros(n, bool)
    out = classify(reason=np.zeros(n, np.uint8), kind=kind, is_target=target, source=source,
                   rcs=rcs, operator_error=op_error)
    assert [REASONS[c] for c in out] == [
        "range_holder", "ported_out", "not_checked", "capability_positive",
        "capability_negative", "capability_error", "not_sampled", "batch_not_listed",
        "no_chatbot_feature", "fixed_line", "voip", "special", "m2m"]
    op_error[0] = True
    out = classify(reason=np.zeros(n, np.uint8), kind=kind, is_target=target, source=source,
                   rcs=rcs, operator_error=op_error)
    assert out[0] == R["operator_error"]
    invalid = np.zeros(n, np.uint8)
    invalid[3] = R["too_short"]  # a normalization reason is final
    assert classify(reason=invalid, kind=kind, is_target=target, source=source,
                    rcs=rcs)[3] == R["too_short"]


def test_freshness_on_a_fake_clock(tmp_path: object) -> None:
    now = [1_700_000_000.0]
    cache = LookupCache(None, enabled=True, clock=lambda: now[0],
                        freshness=Freshness(positive_days=90, negative_days=60,
                                            operator_days=7))
    ns = cache.scope(Scope("bothub", "https://x/bothub/v1", "bot"))
    op = cache.scope(Scope("mnp", "https://x/{msisdn}"))
    try:
        cache.put_many("cap", ns, [("+33607000001", "yes"), ("+33607000002", "no"),
                                   ("+33607000003", "nofeature")])
        cache.put("op", op, "+33607000004", "SFR0")
        numbers = ["+33607000001", "+33607000002", "+33607000003"]
        now[0] += 6.9 * DAY
        assert cache.get("op", op, "+33607000004") == "SFR0"
        now[0] += 0.2 * DAY
        assert cache.get("op", op, "+33607000004") is None  # 7 days: ask again
        now[0] += 52.8 * DAY  # 59.9 days
        assert cache.get_many("cap", ns, numbers) == ["yes", "no", "nofeature"]
        now[0] += 0.2 * DAY  # 60.1: the negatives are stale, the positive is not
        assert cache.get_many("cap", ns, numbers) == ["yes", None, None]
        now[0] += 30 * DAY  # 90.1
        assert cache.get_many("cap", ns, numbers) == [None, None, None]
        other = cache.scope(Scope("bothub", "https://x/bothub/v1", "another-bot"))
        assert other != ns and cache.get("cap", other, numbers[0]) is None
    finally:
        cache.close()


@pytest.mark.parametrize(("text", "safe"), [
    ("\x1b[2J[bold]red[/]", "?(2J(bold)red(/)"),
    ("line\nbreak\ttab", "line?break?tab"),
    ("rtl \u202eevil", "rtl ?evil"),
])
def test_safe_text_neutralizes_control_bidi_and_markup(text: str, safe: str) -> None:
    assert safe_text(text) == safe


def test_safe_text_caps_length() -> None:
    assert len(safe_text("x" * 1000, 50)) == 50


def test_mask_url_drops_credentials_query_and_numbers() -> None:
    url = "https://user:pw@hlr.example:8443/v2/PhoneNumbers/+33612345678?token=s3cret"
    assert mask_url(url) == "https://hlr.example:8443/v2/PhoneNumbers/<number>"
    assert "%2B" not in mask_url("http://x/lookup/%2B33612345678")


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), ("0", 0.0), ("-5", None), ("nan", None), ("inf", None),
    ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_parsing(value: str, seconds: float | None) -> None:
    got = parse_retry_after(httpx.Headers({"Retry-After": value}))
    assert got == seconds if seconds is None else (got is not None and math.isclose(
        got, seconds))


def test_server_message_from_json_html_and_garbage() -> None:
    assert server_message(b'{"error": {"message": "bad JWT"}}') == "bad JWT"
    assert server_message(b"<html><body><h1>Not Found</h1></body></html>") == "Not Found"
    assert "\x00" not in server_message(b"\xff\xfe\x00")  # bytes: no crash, no control


@pytest.mark.parametrize(("caps", "require", "answer"), [
    (["chatBotCommunication", "chat"], "chatBotCommunication", "yes"),
    (["chat"], "chatBotCommunication", "nofeature"),
    (["chat"], "", "yes"),
    ([], "chatBotCommunication", "no"),
    (None, "chatBotCommunication", None),
    ("chatBotCommunication", "chatBotCommunication", None),
    ([1, 2], "", None),
])
def test_capability_answer(caps: object, require: str, answer: str | None) -> None:
    assert capability_answer(caps, require) == answer


def test_bulk_answers_are_parsed_strictly() -> None:
    assert job_id_of({"jobId": "abc-123"}) == "abc-123"
    for hostile in ("../../x", "a/b", "", "x" * 300, 42, None):
        assert job_id_of({"jobId": hostile}) is None
    assert job_file_name("../../x").endswith(".json") and "/" not in job_file_name("../../x")
    assert read_poll({"status": "PENDING"}).state == "running"
    assert read_poll({"status": "FAILED"}).state == "failed"
    assert read_poll({"status": "WHATEVER"}).state == "failed"
    assert read_poll({"status": "DONE"}).state == "unrecognized"  # no results list
    done = read_poll({"status": "DONE", "results": [
        {"userContact": "+33607000001", "capabilities": []}, {"number": "x"}, "junk"]})
    assert done.state == "done" and done.results == {"+33607000001": []}
    assert done.bad_items == 2


@pytest.mark.parametrize(("share", "text"), [(0.15, "15%"), (0.125, "12.5%"), (0.1, "10%"),
                                             (0.0, "0%")])
def test_threshold_is_shown_as_written(share: float, text: str) -> None:
    assert _pct(share) == text


def test_probe_masking_covers_spelled_numbers_and_escaped_secrets() -> None:
    from rcsqualify.probe import mask_text

    text = ('{"national_format": "06 12 34 56 78", "e": "+33 6 12 34 56 78", '
            '"dots": "06.12.34.56.78", "echo": "Bearer pass\\"w/rd\\\\x", "other": '
            '"07 00 00 00 01"}')
    masked = mask_text(text, "+33612345678", ['pass"w/rd\\x'])
    for leak in ("12 34 56", "12.34.56", 'pass\\"w', "pass"):
        assert leak not in masked
    assert "07 00 00 00 01" in masked  # another number is data, not the probed one
