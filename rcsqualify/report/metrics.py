"""The run as Prometheus metrics (``--metrics-file``), in the text exposition format that
node_exporter's textfile collector reads (issue #27 item 5).

A pure formatter like the other reports: ``format_metrics(summary, …) -> str``; the
runner writes the file atomically (a collector never reads half a file). Names follow
Prometheus' rules: the ``rcsqualify_`` prefix, base units (seconds, ratios 0–1), a
``_total`` suffix on counters only. Counters are per run (the file is replaced by each
run, so ``increase()`` over a day sees each run's requests as a reset and a new count).
Every sample carries the ``list`` and ``profile`` labels, so one collector directory
can hold the files of several lists: ``list`` is the base's file name and a short hash
of its resolved path (``contacts.csv@3f2a9c1e``, ``masking.list_label``), so two lists
of one file name in two folders never make one duplicate series (which the textfile
collector refuses), and no directory is shown.

What a run that concluded nothing (exit 2, 4) can say is written by ``format_failure``:
its exit code and time, with ``rcsqualify_last_success_timestamp_seconds`` carried over
from the previous file, so an alert on "no success for 36 hours" keeps working across
failing nights.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from rcsqualify.files import atomic_write
from rcsqualify.report.summary import Summary
from rcsqualify.verdict import STATUSES

PREFIX = "rcsqualify_"
DECISIONS = ("pass", "fail", "undecided")
#: the exit codes of a run that concluded (pass, fail, undecided or incomplete)
CONCLUDED = (0, 1, 3)
_SUCCESS = "rcsqualify_last_success_timestamp_seconds"


@dataclass(frozen=True)
class RunLabels:
    """What tells one run's metrics from another list's in one collector directory."""

    list_name: str
    profile: str = ""

    def pairs(self) -> list[tuple[str, str]]:
        return [("list", self.list_name), ("profile", self.profile)]


@dataclass
class _Family:
    name: str
    kind: str  # gauge | counter
    help: str
    samples: list[tuple[list[tuple[str, str]], float]] = field(default_factory=list)


def _escape_label(value: str) -> str:
    # the exposition format's three escapes; anything else (UTF-8 included) is literal
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _render(families: Iterable[_Family]) -> str:
    out: list[str] = []
    for f in families:
        if not f.samples:
            continue
        out += [f"# HELP {f.name} {_escape_help(f.help)}", f"# TYPE {f.name} {f.kind}"]
        for labels, value in f.samples:
            body = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
            out.append(f"{f.name}{{{body}}} {_number(value)}")
    return "\n".join(out) + "\n"


class _Builder:
    def __init__(self, labels: RunLabels) -> None:
        self.labels = labels.pairs()
        self.families: dict[str, _Family] = {}

    def add(self, name: str, kind: str, help: str, value: float,
            **extra: str) -> None:
        full = PREFIX + name
        assert (kind == "counter") == full.endswith("_total"), full  # naming rule
        family = self.families.setdefault(full, _Family(full, kind, help))
        family.samples.append(([*self.labels, *extra.items()], float(value)))


def _days_since(day: str | None, today: date) -> float | None:
    if not day:
        return None
    try:
        return float((today - date.fromisoformat(str(day)[:10])).days)
    except ValueError:
        return None


def format_metrics(s: Summary, labels: RunLabels, *, now: datetime,
                   duration_s: float) -> str:
    """Every metric of a run that concluded (exit 0, 1 or 3)."""
    b = _Builder(labels)
    b.add("info", "gauge", "Always 1: the tool's version and the ARCEP plan in use.", 1,
          version=str(s.tool.get("version", "")),
          phonenumbers=str(s.tool.get("phonenumbers", "")),
          arcep_plan_date=str(s.tool.get("arcep_plan_date", "")))
    b.add("error_ratio", "gauge", "Share of messages known to fail (0-1).", s.error_ratio)
    b.add("error_ratio_upper", "gauge",
          "Share of messages that could fail: unresolved messages counted as failing "
          "(0-1).", s.error_ratio_upper)
    for end in ("low", "high"):
        if end in s.bounds:
            b.add("gate_bound", "gauge",
                  "The ends the gate compares with the threshold (a sampled run: its "
                  "bound).", s.bounds[end], end=end)
    b.add("threshold", "gauge", "The gate's threshold on the error ratio (0-1).",
          s.threshold)
    for decision in DECISIONS:
        b.add("decision", "gauge", "1 for the gate's decision, 0 for the others.",
              1 if s.decision == decision else 0, decision=decision)
    b.add("exit_code", "gauge", "The run's exit code (0 pass, 1 fail, 3 undecided or "
          "incomplete).", s.exit_code)
    b.add("rows", "gauge", "Rows read from the base.", s.counts.get("rows", 0))
    b.add("duplicates", "gauge", "Rows whose number was already seen.",
          s.counts.get("duplicates", 0))
    for status in STATUSES:
        b.add("messages", "gauge", "Messages (distinct numbers and invalid rows) by status.",
              s.counts.get(status, 0), status=status)
    providers = s.api.get("providers") or {}
    for service in sorted(providers):
        p = providers[service]
        b.add("requests_total", "counter", "Requests this run sent, by service.",
              p.get("requests", 0), service=service)
        b.add("cache_hits_total", "counter", "Answers this run read from the cache, by "
              "service.", p.get("cache_hits", 0), service=service)
        b.add("retries_total", "counter", "Requests this run retried, by service.",
              p.get("retries", 0), service=service)
        b.add("throttled_total", "counter", "HTTP 429 answers this run met, by service.",
              p.get("throttled", 0), service=service)
    b.add("duration_seconds", "gauge", "How long the run took.", duration_s)
    today = now.date()
    plan_age = _days_since(s.tool.get("arcep_plan_date"), today)
    if plan_age is not None:
        b.add("plan_age_days", "gauge", "Days since the newest allocation in the ARCEP plan "
              "in use.", plan_age)
    if s.portability.get("age_days") is not None:
        b.add("portability_age_days", "gauge", "Days since the newest port date of the "
              "portability extracts or store.", float(s.portability["age_days"]))
    b.add("last_run_timestamp_seconds", "gauge", "When this run ended (Unix time).",
          now.timestamp())
    if s.exit_code in CONCLUDED:
        b.add(_SUCCESS[len(PREFIX):], "gauge", "When a run last concluded with a decision "
              "(Unix time).", now.timestamp())
    return _render(b.families.values())


def format_failure(labels: RunLabels, exit_code: int, *, now: datetime, version: str,
                   previous: str | None) -> str:
    """What a run that concluded nothing can say; the last success from ``previous``
    (the file this run replaces), when it holds one for the same labels."""
    b = _Builder(labels)
    b.add("info", "gauge", "Always 1: the tool's version and the ARCEP plan in use.", 1,
          version=version)
    b.add("exit_code", "gauge", "The run's exit code (2 error, 4 locked, 130 "
          "interrupted).", exit_code)
    b.add("last_run_timestamp_seconds", "gauge", "When this run ended (Unix time).",
          now.timestamp())
    last = last_success(previous or "", labels)
    if last is not None:
        b.add(_SUCCESS[len(PREFIX):], "gauge", "When a run last concluded with a decision "
              "(Unix time).", last)
    return _render(b.families.values())


_SAMPLE = re.compile(rf"^{_SUCCESS}\{{(?P<labels>.*)\}} (?P<value>\S+)$", re.M)


def last_success(text: str, labels: RunLabels) -> float | None:
    """The success time a previous file of ours holds for ``labels`` (None when it holds
    none or is not ours: a file we cannot read back is not trusted)."""
    wanted = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.pairs())
    for m in _SAMPLE.finditer(text):
        if m.group("labels") == wanted:
            try:
                value = float(m.group("value"))
            except ValueError:
                return None
            return value if math.isfinite(value) and value > 0 else None
    return None


def write_metrics(path: Path, render: Callable[[str | None], str]) -> None:
    """Replace ``path`` with ``render(previous text)`` atomically: the textfile collector
    reads ``*.prom`` only, and the temporary beside it is a hidden ``.part`` until the
    rename, so a scrape sees the previous file or the new one, never half of one. Mode
    0644: the collector usually runs as another user."""
    try:  # a regular file only: reading a FIFO would wait for a writer forever
        previous: str | None = path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        previous = None
    text = render(previous)
    with atomic_write(path, mode=0o644) as tmp:
        tmp.write_text(text, encoding="utf-8")
