"""What a campaign's delivery events teach: cache writes and projection against reality
(issue #28 items 2, 3).

**Scope.** Learned answers go into the cache scope of the capability service the
campaign went through, named exactly as ``check`` names it (``capability/bothub.py``
``bothub_scope``, ``capability/rbm.py`` ``rbm_scope``): the next ``check`` or
``refresh`` of the same bot or agent, whichever mode (single, bulk, batch), reads them
and asks nothing for those numbers.

**What is written.** Per number, the latest conclusive event: delivered/read → ``yes``,
not RCS → ``no``, marked ``|delivery`` (``cache info`` counts them apart) and dated at
the event (never after now). The cache keeps the newest answer: a look-up made after
the campaign wins over it, and an event older than what the cache holds is not written.

**Projection against reality.** The campaign's actual error ratio is the messages that
failed for Orange's reasons (not RCS, unknown user, not the operator: the profile's
``not_rcs``) over the messages sent: with ``--sent``, its messages, each one sent to a
number found not RCS failing (two messages to one number are two failures); without
it, one message per number with at least one event. Beside it: what the run that
produced the send list projected (``--projection report.json``: its ``send_plan``),
which cached statuses the campaign contradicted, and the failure rate by the age of the
answer the cache held.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rcsqualify.errors import InputError
from rcsqualify.learn.events import ReadCounts, cannot_read, read_events
from rcsqualify.learn.outcomes import Reduction
from rcsqualify.learn.profiles import FAILED, NOT_RCS, OTHER, REACHABLE, OutcomeProfile
from rcsqualify.numbering.normalize import normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.remote.cache import DAY, LookupCache, Scope
from rcsqualify.settings import Settings
from rcsqualify.textsafe import safe_text

SOURCE = "delivery"
#: ages of the answer the cache held, in days (the last bucket is open)
AGE_EDGES = (7, 30, 60, 90)
AGE_NAMES = ("< 7 days", "7-30 days", "30-60 days", "60-90 days", "> 90 days")
#: a projection report larger than this is not one
MAX_REPORT_BYTES = 64 << 20
#: a --sent file: the columns naming a message and its number (case-insensitive)
SENT_ID_COLUMNS = ("message_id", "messageid", "msgid", "id")
SENT_NUMBER_COLUMNS = ("number", "msisdn", "phone", "phonenumber", "userContact")


def capability_scope(s: Settings) -> Scope:
    """The cache scope ``check --capability …`` uses with these settings: its registry
    entry's (``providers.CAPABILITY``), so a provider added there is learnable."""
    from rcsqualify.providers import CAPABILITY

    entry = CAPABILITY.get(s.capability)
    if entry is None or entry.scope is None:
        learnable = ", ".join(n for n, p in CAPABILITY.items() if p.scope is not None)
        raise InputError("--capability must name the service the campaign went through: "
                         f"{learnable} (its answers serve every mode of that bot or "
                         "agent)")
    return entry.scope(s)


def load_sent(path: Path) -> dict[str, str]:
    """``--sent``: a CSV mapping message ids to numbers (for events that carry only a
    message id). Held in memory: one entry per message sent."""
    try:
        return _read_sent(path, "utf-8-sig")
    except UnicodeDecodeError:
        # what Excel writes on French Windows, as for the events files
        try:
            return _read_sent(path, "cp1252")
        except UnicodeDecodeError:
            raise InputError(f"{safe_text(path)}: the --sent file is not UTF-8 (nor "
                             "cp1252) text") from None


def _read_sent(path: Path, encoding: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, newline="")
            first = text.readline(1 << 16)
            delimiter = max(",;\t|", key=first.count)
            header = [h.strip().lower() for h in next(csv.reader([first],
                                                                 delimiter=delimiter), [])]
            ids = [c.lower() for c in SENT_ID_COLUMNS]
            nums = [c.lower() for c in SENT_NUMBER_COLUMNS]
            id_col = next((header.index(c) for c in ids if c in header), None)
            num_col = next((header.index(c) for c in nums if c in header), None)
            if id_col is None or num_col is None:
                raise InputError(f"{safe_text(path)}: --sent needs a header with a message "
                                 "id column (message_id) and a number column (number)")
            for row in csv.reader(text, delimiter=delimiter):
                if len(row) > max(id_col, num_col) and row[id_col].strip():
                    out[row[id_col].strip()] = row[num_col].strip()
    except csv.Error:
        raise InputError(f"{safe_text(path)}: the --sent file is not a readable CSV"
                         ) from None
    except OSError as exc:
        raise cannot_read(path, exc) from None
    return out


def load_projection(path: Path) -> dict[str, Any]:
    """The projection of the run that produced the send list: its JSON report's
    ``send_plan`` (exit 2, one line, when it is not such a report)."""
    where = f"--projection {safe_text(path)}"
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{where}: cannot read it ({exc.strerror or type(exc).__name__})"
                         ) from None
    try:
        report: Any = json.loads(data) if len(data) <= MAX_REPORT_BYTES else None
        plan = report["send_plan"]
        send = plan["send_rcs"]
        messages = int(send["messages"])
        ratio = float(send["error_ratio"])
        upper = plan.get("with_unverified", {}).get("error_ratio_upper")
        upper = None if upper is None else float(upper)
        threshold = report.get("threshold")
        threshold = None if threshold is None else float(threshold)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise InputError(f"{where} is not a JSON report of 'rcsqualify check' (no "
                         "send_plan.send_rcs): give the --json-report of the run that "
                         "produced the send list") from None
    tool = report.get("tool") if isinstance(report.get("tool"), dict) else {}
    return {"messages": messages, "error_ratio": ratio, "error_ratio_upper": upper,
            "threshold": threshold,
            "generated": safe_text(str(tool.get("generated") or tool.get("date") or ""), 40)
            or None}


@dataclass
class LearnResult:
    """What ``learn`` did, in counts only (no number): rendered by ``report.py``."""

    profile: str
    scope: dict[str, str]
    files: list[str]
    read: dict[str, Any]
    tally: dict[str, Any]
    numbers: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    contradictions: int = 0
    learned: dict[str, int] = field(default_factory=dict)
    kept_newer: int = 0
    contradicted: dict[str, dict[str, int]] = field(default_factory=dict)
    by_age: list[dict[str, Any]] = field(default_factory=list)
    actual: dict[str, Any] = field(default_factory=dict)
    projection: dict[str, Any] | None = None
    interrupted: bool = False
    degraded: str | None = None
    generated: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"schema": "rcsqualify-learn/1", **asdict(self)}


def learn(files: list[Path], profile: OutcomeProfile, scope: Scope, cache: LookupCache,
          plan: NumberingPlan, *, sent: dict[str, str] | None = None,
          projection: dict[str, Any] | None = None,
          clock: Callable[[], float] = time.time,
          progress: Callable[[int], None] | None = None) -> LearnResult:
    """Read every events file, reduce, write what was learned, compare. Interrupted
    (Ctrl-C) while reading: what was read so far is still written, and ``interrupted``
    says so (the caller exits 130)."""
    now = clock()
    counts = ReadCounts()
    reduction = Reduction(plan, undated_at=now, sent=sent)
    interrupted = False
    try:
        for path in files:
            try:
                reduction.undated_at = min(path.stat().st_mtime, now)
            except OSError as exc:
                raise cannot_read(path, exc) from None
            for chunk in read_events(path, profile, counts):
                reduction.add(chunk)
                if progress is not None:
                    progress(counts.events)
    except KeyboardInterrupt:
        interrupted = True
    namespace = cache.scope(scope)
    final = reduction.final()
    keys = reduction.keys
    answers = np.array([None, "yes", "no", None], dtype=object)[final]
    # never after now (a platform's clock, a typo): as the cache stores it, so the
    # report's ages and counts are the cache's
    when = np.minimum(np.where(np.isnan(reduction.when), now, reduction.when), now)
    codes, vocab, dates = cache.put_learned("cap", namespace, keys, answers.tolist(),
                                            when, SOURCE)
    result = LearnResult(profile=profile.name, scope=scope.describe(),
                         files=[safe_text(f.name, 120) for f in files],
                         read=asdict(counts), tally=asdict(reduction.tally),
                         interrupted=interrupted, degraded=cache.degraded,
                         generated=now)
    _describe(result, reduction, final, answers, when, codes, vocab, dates, sent)
    if projection is not None:
        result.projection = projection
    return result


def _describe(result: LearnResult, reduction: Reduction, final: np.ndarray,
              answers: np.ndarray, when: np.ndarray, codes: np.ndarray,
              vocab: list[str], dates: np.ndarray, sent: dict[str, str] | None) -> None:
    n = len(final)
    result.numbers = n
    result.outcomes = {name: int((final == c).sum()) for name, c in (
        ("reachable", REACHABLE), ("not_rcs", NOT_RCS), ("failed", FAILED),
        ("no_outcome", OTHER))}
    result.contradictions = reduction.contradictions
    conclusive = (final == REACHABLE) | (final == NOT_RCS)
    with np.errstate(invalid="ignore"):
        written = conclusive & ~(dates >= when)
    result.learned = {"reachable": int((written & (final == REACHABLE)).sum()),
                      "not_rcs": int((written & (final == NOT_RCS)).sum())}
    result.kept_newer = int((conclusive & ~written).sum())
    # the answer the cache held for each number sent, against what the campaign found
    words = np.array([*vocab, "none"], dtype=object)[codes]
    for word in ("yes", "no", "nofeature", "none"):
        mask = words == word
        if mask.any():
            result.contradicted[word] = {name: int((mask & (final == c)).sum()) for name, c
                                         in (("reachable", REACHABLE),
                                             ("not_rcs", NOT_RCS), ("failed", FAILED),
                                             ("no_outcome", OTHER))}
    age = (when - dates) / DAY
    bucket = np.searchsorted(np.array(AGE_EDGES, dtype=float), age, side="right")
    bucket[np.isnan(dates)] = len(AGE_NAMES)
    for b, name in enumerate((*AGE_NAMES, "not cached")):
        mask = bucket == b
        sent_here = int(mask.sum())
        if sent_here:
            failed = int((mask & (final == NOT_RCS)).sum())
            result.by_age.append({"age": name, "messages": sent_here, "not_rcs": failed,
                                  "error_ratio": failed / sent_here})
    messages = len(sent) if sent is not None else n
    failed = result.outcomes["not_rcs"]
    if sent is not None:
        # Orange counts messages: every message sent to a number found not RCS failed
        # (a rich card and a text to one number are two), over every message sent
        failed = _messages_to(reduction, final == NOT_RCS, list(sent.values()))
    result.actual = {"messages": messages, "not_rcs": failed,
                     "error_ratio": failed / messages if messages else 0.0}


def _messages_to(reduction: Reduction, which: np.ndarray, numbers: list[str]) -> int:
    """How many of the messages sent to ``numbers`` went to a number ``which`` marks
    (``reduction.keys`` is sorted: a binary search per message)."""
    keys = reduction.keys
    if not len(keys) or not numbers:
        return 0
    sent_keys = normalize_numbers(pa.array(numbers, pa.string()), reduction.plan).key
    at = np.minimum(np.searchsorted(keys, sent_keys), len(keys) - 1)
    return int(((keys[at] == sent_keys) & (sent_keys != 0) & which[at]).sum())
