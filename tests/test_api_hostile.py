"""Hostile use of the Python API (issue #27 item 1, review): what a data engineer does
in a notebook, an Airflow task or CI that the happy path does not — each attack a
test, whether it held or was fixed."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import rcsqualify
from rcsqualify.errors import ExitCode, InputError, RcsQualifyError
from tests.conftest import SAMPLE, Emulator, Receiver

CONTACTS = SAMPLE / "contacts.csv"


@pytest.fixture(autouse=True)
def own_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own cache and alert state."""
    monkeypatch.setenv("RCSQUALIFY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


def test_inside_a_running_event_loop_the_run_still_posts_its_alert(
        receiver: Receiver) -> None:
    """A notebook cell runs inside Jupyter's event loop (so does an ``async def`` task):
    the alert post's ``asyncio.run`` raised ``RuntimeError: asyncio.run() cannot be
    called from a running event loop`` after the whole check had run."""

    async def cell() -> rcsqualify.Result:
        return rcsqualify.qualify(CONTACTS, notify=receiver.url + "/hook", warn_at=0.01)

    result = asyncio.run(cell())
    assert result.decision == "undecided"
    assert len(receiver.got) == 1
    assert receiver.bodies()[0]["decision"] == "undecided"


def test_an_error_inside_a_running_event_loop_is_still_the_projects(
        tmp_path: Path) -> None:
    async def cell() -> rcsqualify.Result:
        return rcsqualify.qualify(tmp_path)

    with pytest.raises(InputError, match="is a directory") as caught:
        asyncio.run(cell())
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_dict_of_columns_is_refused_not_read_as_its_keys() -> None:
    """``qualify({"phone": [...]})`` iterated over the dict's keys: one "number",
    ``phone``, and a report on it."""
    with pytest.raises(TypeError, match="DataFrame"):
        rcsqualify.qualify({"phone": ["0612345678"]})  # type: ignore[arg-type]


@pytest.mark.parametrize("source, error", [
    ([], InputError),  # no rows: exit 2 as a header-only file
    ([612345678], TypeError),  # a programming error, not the user's file
    (None, TypeError),
    (b"contacts.csv", TypeError),
])
def test_unusable_sources(source: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        rcsqualify.qualify(source)
    if isinstance(caught.value, RcsQualifyError):
        assert caught.value.exit_code == ExitCode.USAGE


def test_a_generator_and_none_cells_read_every_item() -> None:
    result = rcsqualify.qualify(x for x in ["0612345678", None, "0712345678"])
    assert result.rows["phone"].tolist()[0] == "0612345678"
    assert len(result.rows) == 3


@pytest.mark.parametrize("options, match", [
    ({"threshold": "abc"}, "--threshold"),
    ({"threshold": 2}, "between 0 and 1"),
    ({"profile": "missing"}, "--profile missing"),
    ({"notify": "env:RCSQUALIFY_TEST_UNSET_HOOK"}, "not set"),
])
def test_bad_options_are_input_errors_with_exit_2(options: dict[str, Any], match: str
                                                  ) -> None:
    with pytest.raises(InputError, match=match) as caught:
        rcsqualify.qualify(CONTACTS, **options)
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_directory_an_unknown_keyword_and_a_string_threshold(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        rcsqualify.qualify(tmp_path)
    with pytest.raises(TypeError, match="colum"):
        rcsqualify.qualify(CONTACTS, colum="x")  # type: ignore[call-arg]
    assert rcsqualify.qualify(CONTACTS, threshold="0.1").summary.threshold == 0.1  # type: ignore[typeddict-item]


def test_columns_named_like_annotations_and_duplicate_names_keep_their_data() -> None:
    frame = pd.DataFrame([["0612345678", "vip", "a", "x"], ["0712345678", "no", "b", "y"]],
                         columns=["phone", "status", "dup", "dup"])
    rows = rcsqualify.qualify(frame, column="phone").rows
    assert rows["status_input"].tolist() == ["vip", "no"]
    assert rows["dup"].tolist() == ["a", "b"] and rows["dup_2"].tolist() == ["x", "y"]
    assert set(rows["status"]) <= {"invalid", "not_mobile", "other_operator",
                                   "unverified", "not_rcs", "reachable"}


def test_a_multiindex_and_a_chunked_table() -> None:
    frame = pd.DataFrame({"k": [1, 2], "j": [3, 4], "phone": ["0612345678", "0712345678"]}
                         ).set_index(["k", "j"])
    assert rcsqualify.qualify(frame, column="phone").rows.columns[:3].tolist() == [
        "k", "j", "phone"]
    table = pa.concat_tables([pa.table({"phone": ["0612345678"]}),
                              pa.table({"phone": ["0712345678"]})])
    assert table.column(0).num_chunks == 2
    assert rcsqualify.qualify(table).rows["phone"].tolist() == ["0612345678", "0712345678"]


def test_nothing_is_printed(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rcsqualify.qualify(CONTACTS, json_report=tmp_path / "new" / "r.json",
                       metrics_file=tmp_path / "m.prom")
    with pytest.raises(InputError):
        rcsqualify.qualify(CONTACTS, column="nope")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_concurrent_calls_in_threads_on_one_cache() -> None:
    results: list[rcsqualify.Result] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(rcsqualify.qualify(CONTACTS))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    reports = [r.summary.to_dict() for r in results]
    for r in reports:
        r.pop("timings")
    assert all(r == reports[0] for r in reports)


@pytest.mark.parametrize("name", ["threshold", "sample", "warn_at", "seed"])
def test_true_is_no_number(name: str) -> None:
    """Click reads True as 1: ``threshold=True`` was a threshold of 100 %, a gate that
    always passes."""
    with pytest.raises(InputError, match=f"{name}: True") as caught:
        rcsqualify.qualify(CONTACTS, **{name: True})  # type: ignore[misc]
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_flag_still_takes_a_bool() -> None:
    assert rcsqualify.qualify(CONTACTS, ci_summary=False, no_cache=True).decision == "undecided"


def test_remote_runs_in_threads_share_one_cache(emulator: Emulator, tmp_path: Path) -> None:
    """Four threads, one cache directory, BotHub on the emulator: each run completes with
    the same verdicts (the cache's SQLite shared by threads, its key made once)."""
    from concurrent.futures import ThreadPoolExecutor

    base = emulator.base
    options: dict[str, Any] = {
        "capability": "bothub", "bot_id": "test-bot", "cache_dir": tmp_path / "shared",
        "bothub_url": f"{base}/bothub/v1", "bothub_token_url": f"{base}/oauth/v3/token"}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: rcsqualify.qualify(CONTACTS, **options),
                                range(4)))
    counts = [r.summary.counts for r in results]
    assert all(c == counts[0] for c in counts)
    assert {r.decision for r in results} == {results[0].decision}
    assert not any(r.summary.incomplete for r in results)
    # a fifth run finds every answer in the cache
    again = rcsqualify.qualify(CONTACTS, **options)
    assert again.summary.counts == counts[0]
    assert again.summary.api["requests"] == 0, again.summary.api


def test_a_column_of_a_dtype_arrow_cannot_hold_is_read_as_text() -> None:
    """A complex or a sparse column (not even the phone one) raised pyarrow's
    ArrowNotImplementedError / ArrowTypeError out of ``qualify``, a traceback that no
    project exception carries."""
    frame = pd.DataFrame({
        "phone": pd.arrays.SparseArray([612345678, 0]),
        "c": [1 + 2j, 3j]})
    rows = rcsqualify.qualify(frame, column="phone").rows
    assert rows["phone"].tolist() == ["612345678", "0"]
    assert rows["c"].tolist() == ["(1+2j)", "3j"]
    assert rows["msisdn_e164"].tolist()[0] == "+33612345678"


@pytest.mark.parametrize("options", [
    {"json_report": "a\0b.json"},  # ValueError: embedded null byte
    {"metrics_file": "m" * 5000 + ".prom"},  # OSError: File name too long
    {"output": "o" * 5000 + ".csv"},
])
def test_an_error_of_no_project_type_is_still_an_rcsqualify_error(
        options: dict[str, Any]) -> None:
    """The command line's last resort ("unexpected X", exit 2) had no API counterpart:
    ValueError and OSError escaped a caller catching ``RcsQualifyError``."""
    with pytest.raises(RcsQualifyError, match=r"^unexpected (ValueError|OSError)") as caught:
        rcsqualify.qualify(CONTACTS, **options)
    assert caught.value.exit_code == ExitCode.USAGE
    assert isinstance(caught.value.__cause__, ValueError | OSError)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/a\x01b", "http://127.0.0.1:9/a b",
                                 "http://127.0.0.1:9/\x00", "http://127.0.0.1:9/\x7f"])
def test_a_webhook_url_with_a_control_character_is_refused_before_the_run(url: str
                                                                          ) -> None:
    """httpx.InvalidURL escaped the run (after the check), an 'unexpected' exit 2."""
    with pytest.raises(InputError, match="is not an http") as caught:
        rcsqualify.qualify(CONTACTS, notify=url, warn_at=0.01)
    assert "127.0.0.1" not in str(caught.value)


def test_a_webhook_variable_with_a_trailing_newline_still_posts(
        receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCSQUALIFY_TEST_HOOK", receiver.url + "/hook\n")
    result = rcsqualify.qualify(CONTACTS, notify="env:RCSQUALIFY_TEST_HOOK", warn_at=0.01)
    assert len(receiver.got) == 1 and receiver.got[0][0] == "/hook"
    assert not any("undelivered" in w or "not delivered" in w
                   for w in result.summary.warnings)
