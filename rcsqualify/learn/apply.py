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
produced the send list projected for the messages actually sent (``--checked``: its
verdicts per number, ``projection.py``), or, with only ``--projection report.json``,
its whole send list's ``send_plan`` (labelled so); which cached statuses the campaign
contradicted, and the failure rate per message by the age of the answer the cache
held.
"""

from __future__ import annotations

import csv
import io
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
from rcsqualify.learn.projection import Checked, index_in, list_projection
from rcsqualify.numbering.normalize import normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.remote.cache import DAY, LookupCache, Scope
from rcsqualify.settings import Settings
from rcsqualify.textsafe import safe_text

SOURCE = "delivery"
#: ages of the answer the cache held, in days (the last bucket is open)
AGE_EDGES = (7, 30, 60, 90)
AGE_NAMES = ("< 7 days", "7-30 days", "30-60 days", "60-90 days", "> 90 days")
#: a --sent file: the columns naming a message and its number (case-insensitive)
SENT_ID_COLUMNS = ("message_id", "messageid", "msgid", "id")
SENT_NUMBER_COLUMNS = ("number", "msisdn", "phone", "phonenumber", "userContact")


def capability_scope(s: Settings) -> Scope:
    """The cache scope ``check --capability …`` uses with these settings: its registry
    entry's (``providers.CAPABILITY``), so a provider added there is learnable. Its URL
    is checked as ``check`` checks it (exit 2): answers learned under a URL no check
    can use would never be read, yet 'learned' would be said."""
    from rcsqualify.providers import CAPABILITY
    from rcsqualify.validation import check_url

    entry = CAPABILITY.get(s.capability)
    if entry is None or entry.scope is None:
        learnable = ", ".join(n for n, p in CAPABILITY.items() if p.scope is not None)
        raise InputError("--capability must name the service the campaign went through: "
                         f"{learnable} (its answers serve every mode of that bot or "
                         "agent)")
    # the service's own URL comes first (its token URL, which learn never uses, after);
    # an entry may read no URL option at all
    for option, url in entry.urls(s)[:1]:
        check_url(option, url)
    return entry.scope(s)


@dataclass
class Sent:
    """``--sent``: message id → number, and how many ids the file listed again.

    A message id names one message: the **first** line of an id wins. A later line with
    the same id and the same number (an export concatenated twice) is not a second
    message; one with another number contradicts the first (``conflicting``). Both are
    counted and warned about in one line (no number), never fatal."""

    ids: dict[str, str]
    duplicate_ids: int = 0  # later lines of an id already listed
    conflicting_ids: int = 0  # of which naming another number

    def __len__(self) -> int:
        return len(self.ids)

    def describe(self) -> dict[str, int]:
        return {"messages": len(self.ids), "duplicate_ids": self.duplicate_ids,
                "conflicting_ids": self.conflicting_ids}


def load_sent(path: Path, plan: NumberingPlan) -> Sent:
    """``--sent``: a CSV mapping message ids to numbers (for events that carry only a
    message id). Held in memory: one entry per message sent."""
    try:
        ids, again = _read_sent(path, "utf-8-sig")
    except UnicodeDecodeError:
        # what Excel writes on French Windows, as for the events files
        try:
            ids, again = _read_sent(path, "cp1252")
        except UnicodeDecodeError:
            raise InputError(f"{safe_text(path)}: the --sent file is not UTF-8 (nor "
                             "cp1252) text") from None
    conflicting = 0
    if again:
        # the same number written two ways (0607… and +33607…) is the same number
        first = normalize_numbers(pa.array([ids[m] for m, _ in again], pa.string()),
                                  plan).key
        later = normalize_numbers(pa.array([n for _, n in again], pa.string()), plan).key
        conflicting = int(np.count_nonzero(first != later))
    return Sent(ids, len(again), conflicting)


def _read_sent(path: Path, encoding: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The first number of each id, and the (id, number) of every later line of an id
    already listed."""
    out: dict[str, str] = {}
    again: list[tuple[str, str]] = []
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
                    message, number = row[id_col].strip(), row[num_col].strip()
                    if message in out:
                        again.append((message, number))
                    else:
                        out[message] = number
    except csv.Error:
        raise InputError(f"{safe_text(path)}: the --sent file is not a readable CSV"
                         ) from None
    except OSError as exc:
        raise InputError(f"{safe_text(path)}: cannot read the --sent file "
                         f"({exc.strerror or type(exc).__name__})") from None
    if not out:
        # as an events file with a header but no rows: nothing to map, and a ratio
        # over 0 messages
        raise InputError(f"{safe_text(path)}: the --sent file has a header but no "
                         "messages")
    return out, again


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
    #: with ``--checked``: the check run's projection for the messages actually sent
    projected_sent: dict[str, Any] | None = None
    #: the --sent file: its messages and the ids it listed more than once
    sent: dict[str, int] | None = None
    interrupted: bool = False
    #: 0, or the exit code of the signal that interrupted the run (130 Ctrl-C, 143 SIGTERM)
    exit_code: int = 0
    degraded: str | None = None
    generated: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"schema": "rcsqualify-learn/1", **asdict(self)}


def learn(files: list[Path], profile: OutcomeProfile, scope: Scope, cache: LookupCache,
          plan: NumberingPlan, *, sent: Sent | None = None,
          projection: dict[str, Any] | None = None,
          checked: Checked | None = None,
          clock: Callable[[], float] = time.time,
          progress: Callable[[int], None] | None = None) -> LearnResult:
    """Read every events file, reduce, write what was learned, compare. Interrupted
    (Ctrl-C) while reading: what was read so far is still written, and ``interrupted``
    says so (the caller exits 130)."""
    now = clock()
    counts = ReadCounts()
    reduction = Reduction(plan, undated_at=now,
                          sent=None if sent is None else sent.ids)
    interrupted = False
    exit_code = 0
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
    except KeyboardInterrupt as exc:
        interrupted = True
        # Ctrl-C 130; SIGTERM/SIGHUP through the signal handler (files.Interrupted) 143/129
        exit_code = int(getattr(exc, "exit_code", 130))
        # a block read (and counted) but not reduced when the interruption came was not
        # learned: the report says what was
        counts.events = sum(reduction.tally.events.values())
    namespace = cache.scope(scope)
    final = reduction.final()
    keys = reduction.keys
    sent_keys = sent_counts = None
    sent_unkeyed = 0
    if sent is not None:
        all_sent = normalize_numbers(pa.array(list(sent.ids.values()), pa.string()),
                                     plan).key
        sent_unkeyed = int((all_sent == 0).sum())
        sent_keys, sent_counts = np.unique(all_sent[all_sent != 0], return_counts=True)
    held_sent = None
    if checked is not None and sent_keys is not None:
        # what the cache held for every number sent, events or not, before learning
        # (answers of None are only read): the age of the answer the list was built on
        held_sent = cache.put_learned("cap", namespace, sent_keys, [None] * len(sent_keys),
                                      np.full(len(sent_keys), now), SOURCE)
    answers = np.array([None, "yes", "no", None], dtype=object)[final]
    # never after now (a platform's clock, a typo): as the cache stores it, so the
    # report's ages and counts are the cache's
    when = np.minimum(np.where(np.isnan(reduction.when), now, reduction.when), now)
    codes, vocab, dates = cache.put_learned("cap", namespace, keys, answers.tolist(),
                                            when, SOURCE)
    result = LearnResult(profile=profile.name, scope=scope.describe(),
                         files=[safe_text(f.name, 120) for f in files],
                         read=asdict(counts), tally=asdict(reduction.tally),
                         interrupted=interrupted, exit_code=exit_code,
                         degraded=cache.degraded,
                         generated=now, sent=None if sent is None else sent.describe())
    # messages per number with an event: the --sent file's count (0: an event for a
    # number it does not list), else one
    per_key = np.ones(len(keys), dtype=np.int64)
    if sent_keys is not None and sent_counts is not None:
        per_key = _counts_at(sent_keys, sent_counts, keys)
    _describe(result, final, when, codes, vocab, dates, per_key,
              reduction.contradictions, len(sent) if sent is not None else None)
    if projection is not None:
        result.projection = {k: v for k, v in projection.items() if k != "interval"}
    if checked is not None:
        # the campaign's date for a number without a conclusive event: its latest one
        dated = when[(final == REACHABLE) | (final == NOT_RCS)]
        campaign_at = float(dated.max()) if len(dated) else now
        ttl = cache.freshness.ttl("cap", "yes")
        if sent_keys is not None and sent_counts is not None and held_sent is not None:
            h_codes, h_vocab, h_dates = held_sent
            sent_when = np.full(len(sent_keys), campaign_at)
            idx = index_in(keys, sent_keys)
            use = idx >= 0
            use[use] = ((final == REACHABLE) | (final == NOT_RCS))[idx[use]]
            sent_when[use] = when[idx[use]]
            stale = _stale(h_codes, h_vocab, h_dates, sent_when, ttl)
            result.projected_sent = list_projection(
                checked, sent_keys, sent_counts, stale, sent_unkeyed,
                None if projection is None else projection.get("interval"))
        else:
            at_when = np.where((final == REACHABLE) | (final == NOT_RCS), when, campaign_at)
            stale = _stale(codes, vocab, dates, at_when, ttl)
            result.projected_sent = list_projection(
                checked, keys, per_key, stale, 0,
                None if projection is None else projection.get("interval"))
        result.projected_sent.update(checked_files=checked.files,
                                     checked_rows=checked.rows)
    return result


def _counts_at(keys: np.ndarray, counts: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``counts`` of the sorted ``keys`` at each of ``where`` (0 when absent)."""
    idx = index_in(keys, where)
    return np.where(idx >= 0, counts[np.maximum(idx, 0)] if len(counts) else 0,
                    0).astype(np.int64)


def _stale(codes: np.ndarray, vocab: list[str], dates: np.ndarray, sent_at: np.ndarray,
           ttl: float) -> np.ndarray:
    """Whether the reachable answer the cache held for each number was older than its
    freshness when the message was sent (the list rested on an expired answer)."""
    words = np.array([*vocab, "none"], dtype=object)[codes]
    with np.errstate(invalid="ignore"):
        return (words == "yes") & (sent_at - dates > ttl)


def _describe(result: LearnResult, final: np.ndarray,
              when: np.ndarray, codes: np.ndarray, vocab: list[str], dates: np.ndarray,
              per_key: np.ndarray, contradictions: int, sent_messages: int | None) -> None:
    """Counts per number (outcomes, what was written, what the cache held) and per
    message (the actual ratio, the ratio by the age of the cached answer): Orange's
    ratio is on messages, so a rich card and a text to one number are two."""
    n = len(final)
    result.numbers = n
    result.outcomes = {name: int((final == c).sum()) for name, c in (
        ("reachable", REACHABLE), ("not_rcs", NOT_RCS), ("failed", FAILED),
        ("no_outcome", OTHER))}
    result.contradictions = contradictions
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
    not_rcs = final == NOT_RCS
    for b, name in enumerate((*AGE_NAMES, "not cached")):
        mask = bucket == b
        sent_here = int(per_key[mask].sum())
        if sent_here:
            failed = int(per_key[mask & not_rcs].sum())
            result.by_age.append({"age": name, "numbers": int(mask.sum()),
                                  "messages": sent_here, "not_rcs": failed,
                                  "error_ratio": failed / sent_here})
    # Orange counts messages: every message sent to a number found not RCS failed, over
    # every message sent (with --sent, its messages, events or not)
    messages = sent_messages if sent_messages is not None else n
    failed = int(per_key[not_rcs].sum())
    result.actual = {"messages": messages, "not_rcs": failed,
                     "error_ratio": failed / messages if messages else 0.0}
