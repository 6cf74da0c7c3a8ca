"""rbm-batch --batch-size (1 to 10,000) and bothub --single-warn (issue #12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcsqualify.capability.rbm import BATCH_MAX, RbmBatchProvider, plan_batches
from rcsqualify.remote.cache import LookupCache
from rcsqualify.remote.policy import HttpPolicy
from tests.conftest import Emulator
from tests.helpers import (
    check_json,
    contacts_file,
    e164,
    frte_numbers,
    run_cli,
    service_account,
)


@pytest.mark.parametrize("n", [500, 501, 1234, 25_000])
@pytest.mark.parametrize("size", [None, 1, 7, 499, 500, 9_999, 10_000])
def test_batches_cover_the_base_in_balanced_calls_within_the_size(
        n: int, size: int | None) -> None:
    calls, remainder = plan_batches(n, size=size)
    sizes = [b - a for a, b in calls]
    assert remainder is None and sum(sizes) == n
    assert [a for a, _ in calls] == [0, *[b for _, b in calls[:-1]]]  # contiguous
    assert max(sizes) - min(sizes) <= 1  # balanced
    assert max(sizes) <= (size or BATCH_MAX)
    if size is None:
        assert min(sizes) >= 500  # the default keeps the sample estimate


@pytest.mark.parametrize("size", [None, 1, 499, 10_000])
def test_a_base_under_500_is_checked_per_number_whatever_the_size(size: int | None) -> None:
    assert plan_batches(499, size=size) == ([], (0, 499))


def rbm_args(emulator: Emulator, tmp_path: Path) -> list[str]:
    creds = service_account(tmp_path, f"{emulator.base}/rbm/token")
    return ["--capability", "rbm-batch", *emulator.rbm_args(creds)]


@pytest.mark.parametrize(("size", "expected"), [
    (None, [1000]), ("10000", [1000]), ("499", [334, 333, 333]), ("500", [500, 500])])
def test_batch_size_over_http(tmp_path: Path, emulator: Emulator, size: str | None,
                              expected: list[int]) -> None:
    f = contacts_file(tmp_path, frte_numbers(1000))
    extra = ["--batch-size", size] if size else []
    _, report = check_json([str(f), *rbm_args(emulator, tmp_path), *extra])
    stats = emulator.stats()
    assert sorted(stats["batch_sizes"], reverse=True) == expected
    assert "rbm" not in {k.split(":")[0] for k in stats["asked"]}  # no per-number call
    assert report["counts"]["messages"] == 1000


def test_batch_size_1_against_the_emulator(tmp_path: Path, emulator: Emulator) -> None:
    """One number a call, 500 calls (a faster batch rate than Google's 600/min, for the
    test only): every number asked once, in its own call."""
    numbers = [e164(n) for n in frte_numbers(500)]
    provider = RbmBatchProvider(
        base_url=f"{emulator.base}/rbm", agent_id="emulator-agent",
        credentials=service_account(tmp_path, f"{emulator.base}/rbm/token"),
        cache=LookupCache(enabled=False), policy=HttpPolicy(rate=800), batch_size=1,
        batch_rate=800)
    out = provider.check_all(numbers)
    stats = emulator.stats()
    # a call that timed out on a loaded machine is asked again (a retry): one more call,
    # never a call of two numbers
    retried = provider.stats.retries
    assert set(stats["batch_sizes"]) == {1}
    assert 500 <= len(stats["batch_sizes"]) <= 500 + retried
    assert sorted(k for k in stats["asked"] if k.startswith("batch:")) == sorted(
        f"batch:{n}" for n in numbers)
    assert len(out) == 500 and 500 <= provider.stats.requests <= 500 + retried


def test_a_base_under_500_with_a_batch_size_stays_per_number(tmp_path: Path,
                                                             emulator: Emulator) -> None:
    f = contacts_file(tmp_path, frte_numbers(20))
    check_json([str(f), *rbm_args(emulator, tmp_path), "--batch-size", "10"])
    stats = emulator.stats()
    assert stats["batch_sizes"] == []
    assert sum(1 for k in stats["asked"] if k.startswith("rbm:")) == 20


@pytest.mark.parametrize("size", ["0", "10001"])
def test_batch_size_out_of_range_is_exit_2(tmp_path: Path, size: str) -> None:
    f = contacts_file(tmp_path, frte_numbers(3))
    result = run_cli(["check", str(f), "--capability", "rbm-batch", "--batch-size", size])
    assert result.exit_code == 2 and "--batch-size" in result.stderr


# -- BotHub's single look-up is for tests ------------------------------------------------

def bothub(emulator: Emulator, cache: Path) -> list[str]:
    return [*emulator.bothub_args(), "--rate", "500", "--cache-dir", str(cache),
            "--threshold", "1"]


def test_single_warn_counts_after_the_cache(tmp_path: Path, emulator: Emulator) -> None:
    f = contacts_file(tmp_path, frte_numbers(12))
    cache = tmp_path / "cache"
    result, report = check_json([str(f), *bothub(emulator, cache), "--single-warn", "10"])
    warning = [line for line in result.stderr.splitlines() if "--single-warn" in line]
    assert len(warning) == 1 and "12 numbers" in warning[0]
    assert "bothub-bulk" in warning[0]
    assert any("bothub-bulk" in w for w in report["warnings"])
    assert report["exit_code"] in (0, 1)  # a warning, not a refusal
    assert report["counts"]["unverified"] == 0

    # 12 cached + 3 new: 3 to ask, under the threshold: no warning
    f2 = contacts_file(tmp_path, frte_numbers(15), name="c2.csv")
    result, report = check_json([str(f2), *bothub(emulator, cache), "--single-warn", "10"])
    assert "--single-warn" not in result.stderr
    assert report["api"]["requests"] == 3


def test_single_warn_from_the_environment(tmp_path: Path, emulator: Emulator,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCSQUALIFY_SINGLE_WARN", "2")
    f = contacts_file(tmp_path, frte_numbers(3))
    result, _ = check_json([str(f), *bothub(emulator, tmp_path / "cache")])
    assert "3 numbers to ask one by one (more than --single-warn 2)" in result.stderr


def test_default_single_warn_is_1000(tmp_path: Path, emulator: Emulator) -> None:
    f = contacts_file(tmp_path, frte_numbers(30))
    result, _ = check_json([str(f), *bothub(emulator, tmp_path / "cache")])
    assert "--single-warn" not in result.stderr
