"""Issue #27 item 5: the run as Prometheus metrics, read back with prometheus_client's own
parser (a test dependency): names, types, labels, values, the atomic file, and the last
success carried across a failing run."""

from __future__ import annotations

import re
import threading
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import rcsqualify
from rcsqualify.report.metrics import (
    RunLabels,
    format_failure,
    format_metrics,
    last_success,
    write_metrics,
)
from rcsqualify.report.summary import Summary
from tests.conftest import SAMPLE, Emulator
from tests.helpers import TEST_CACHE_KEY, check_json, contacts_file, frte_numbers

NOW = datetime(2026, 12, 7, 3, 15, tzinfo=UTC)
NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")  # Prometheus' metric name rule


def _summary(report: dict[str, Any]) -> Summary:
    known = {f.name for f in fields(Summary)}
    return Summary(**{k: v for k, v in report.items() if k in known})


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(text: str, name: str, **labels: str) -> float:
    full = {"list": "contacts.csv", "profile": "nightly", **labels}
    return _samples(text)[(name, tuple(sorted(full.items())))]


@pytest.fixture(scope="module")
def sample_report() -> dict[str, Any]:
    _, report = check_json([str(SAMPLE / "contacts.csv"), "--portability",
                            str(SAMPLE / "portability.csv")])
    return report


def test_every_name_type_and_label_as_prometheus_reads_them(
        sample_report: dict[str, Any]) -> None:
    text = format_metrics(_summary(sample_report), RunLabels("contacts.csv", "nightly"),
                          now=NOW, duration_s=1.25)
    families = _families(text)
    for family in families.values():
        assert NAME.match(family.name) and family.name.startswith("rcsqualify_")
        assert family.documentation
        for s in family.samples:
            assert s.labels["list"] == "contacts.csv" and s.labels["profile"] == "nightly"
    assert families["rcsqualify_error_ratio"].type == "gauge"
    assert _value(text, "rcsqualify_error_ratio") == sample_report["error_ratio"]
    assert _value(text, "rcsqualify_error_ratio_upper") == sample_report["error_ratio_upper"]
    assert _value(text, "rcsqualify_threshold") == 0.15
    # one sample per decision, 1 for the run's (the sample is undecided offline)
    assert [_value(text, "rcsqualify_decision", decision=d)
            for d in ("pass", "fail", "undecided")] == [0, 0, 1]
    assert _value(text, "rcsqualify_exit_code") == 3
    counts = sample_report["counts"]
    for status in ("invalid", "not_mobile", "other_operator", "not_rcs", "unverified",
                   "reachable"):
        assert _value(text, "rcsqualify_messages", status=status) == counts[status]
    assert _value(text, "rcsqualify_rows") == counts["rows"]
    assert _value(text, "rcsqualify_duration_seconds") == 1.25
    plan_day = datetime.fromisoformat(sample_report["tool"]["arcep_plan_date"]).date()
    assert _value(text, "rcsqualify_plan_age_days") == (NOW.date() - plan_day).days
    assert _value(text, "rcsqualify_portability_age_days") == (
        sample_report["portability"]["age_days"])
    assert _value(text, "rcsqualify_last_success_timestamp_seconds") == NOW.timestamp()
    info = next(s for s in families["rcsqualify_info"].samples)
    assert info.labels["version"] == rcsqualify.__version__ and info.value == 1
    # an offline run asked no service: no per-service counter at all
    assert "rcsqualify_requests" not in families


def test_per_service_counters_of_a_remote_run(tmp_path: Path, emulator: Emulator,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = frte_numbers(6)
    emulator.configure(numbers={f"+33{n[1:]}": {"capable": True} for n in numbers})
    monkeypatch.setenv("RCSQUALIFY_CACHE_KEY", TEST_CACHE_KEY)
    base = contacts_file(tmp_path, numbers)
    _, first = check_json([str(base), *emulator.bothub_args(), "--rate", "1000"])
    _, second = check_json([str(base), *emulator.bothub_args(), "--rate", "1000"])
    labels = RunLabels("c.csv")
    one = format_metrics(_summary(first), labels, now=NOW, duration_s=2)
    two = format_metrics(_summary(second), labels, now=NOW, duration_s=2)
    families = _families(one)
    # counters: the family is the name without _total, the sample keeps it
    assert families["rcsqualify_requests"].type == "counter"
    assert families["rcsqualify_cache_hits"].type == "counter"
    key = (("list", "c.csv"), ("profile", ""), ("service", "bothub"))
    assert _samples(one)[("rcsqualify_requests_total", key)] == 6
    assert _samples(one)[("rcsqualify_cache_hits_total", key)] == 0
    assert _samples(two)[("rcsqualify_requests_total", key)] == 0
    assert _samples(two)[("rcsqualify_cache_hits_total", key)] == 6
    passed = tuple(sorted((*key[:2], ("decision", "pass"))))
    assert _samples(one)[("rcsqualify_decision", passed)] == 1


def test_label_values_are_escaped(sample_report: dict[str, Any]) -> None:
    hostile = 'base "q"\\n\nend.csv'
    text = format_metrics(_summary(sample_report), RunLabels(hostile, 'p"\\'), now=NOW,
                          duration_s=0)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            assert s.labels["list"] == hostile and s.labels["profile"] == 'p"\\'
    assert last_success(text, RunLabels(hostile, 'p"\\')) == NOW.timestamp()


def test_a_failed_run_keeps_the_last_success(sample_report: dict[str, Any]) -> None:
    labels = RunLabels("contacts.csv", "nightly")
    good = format_metrics(_summary(sample_report), labels, now=NOW, duration_s=1)
    later = datetime(2026, 12, 8, 3, 15, tzinfo=UTC)
    failed = format_failure(labels, 2, now=later, version="9.9", previous=good)
    assert _value(failed, "rcsqualify_exit_code") == 2
    assert _value(failed, "rcsqualify_last_run_timestamp_seconds") == later.timestamp()
    assert _value(failed, "rcsqualify_last_success_timestamp_seconds") == NOW.timestamp()
    assert "rcsqualify_error_ratio" not in _families(failed)  # nothing concluded
    # another list's file, or garbage, gives no success time
    other = format_failure(RunLabels("other.csv"), 2, now=later, version="9.9",
                           previous=good)
    assert "rcsqualify_last_success_timestamp" not in _families(other)
    assert last_success("rcsqualify_last_success_timestamp_seconds{} nan\n", labels) is None


def test_the_file_is_replaced_atomically(tmp_path: Path, sample_report: dict[str, Any]
                                         ) -> None:
    """A reader polling the file while it is rewritten sees a whole old or a whole new
    file, never a part; nothing but the .prom file is left; mode 0644."""
    path = tmp_path / "textfile" / "rcsqualify.prom"
    summary = _summary(sample_report)
    texts = [format_metrics(summary, RunLabels("contacts.csv"), now=NOW,
                            duration_s=float(i)) for i in range(40)]
    write_metrics(path, lambda previous: texts[0])
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(path.read_text(encoding="utf-8"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for text in texts[1:]:
            write_metrics(path, lambda previous, text=text: text)
    finally:
        stop.set()
        reader.join(timeout=30)
    assert seen <= set(texts)
    assert [p.name for p in path.parent.iterdir()] == ["rcsqualify.prom"]
    assert path.stat().st_mode & 0o777 == 0o644
    # render is handed the file being replaced
    handed: list[str | None] = []
    write_metrics(path, lambda previous: handed.append(previous) or texts[0])
    assert handed == [texts[-1]]


def test_the_metrics_page_names_every_metric(sample_report: dict[str, Any]) -> None:
    """docs/metrics.md lists every name the formatter writes."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "metrics.md").read_text()
    text = format_metrics(_summary(sample_report), RunLabels("x"), now=NOW, duration_s=0)
    text += format_failure(RunLabels("x"), 2, now=NOW, version="0", previous=text)
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    names |= {"rcsqualify_requests_total", "rcsqualify_cache_hits_total",
              "rcsqualify_retries_total", "rcsqualify_throttled_total"}
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert missing == []

