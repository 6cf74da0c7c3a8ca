"""Orange BotHub asynchronous bulk capability jobs (up to 10,000 numbers a job).

Jobs are accepted only in the bulk window (``rcsqualify/bulkwindow.py``); outside it
BotHub answers HTTP 405. By default the run says when the window opens, leaves the
numbers unchecked (``capability_error``, exit 3) and caches nothing for them.
``--wait-for-window`` sleeps until the assumed opening and goes on, which is what a
cron job wants; a 405 *inside* the assumed window (the assumption is wrong) is waited
out with a growing back-off of at least 5 minutes, never a tight loop, until the
assumed window ends.

Every submitted job is written to ``bulk_jobs/<sha256 of its id>.json`` in the cache
directory the moment BotHub accepts it, with the cache scope and the HMAC keys of its
numbers (never the numbers; the server's job id is data: it never becomes a path). A
run interrupted while polling resumes polling those jobs instead of submitting them
again. With ``--no-cache`` nothing is persisted.

Every poll goes through the service's pacing and waits its poll interval first (a
poll right after the submit would leave within one interval of it). Polling is bounded
by ``--bulk-deadline`` (default: the end of the current window); jobs unfinished then
are reported, stay persisted for the next run, and their numbers stay ``unverified``.
``FAILED`` and any status we do not know end the job (its numbers unverified). A number
the results list twice with different capabilities (capable, then empty) is a failure
for that number (``contradictory_result`` in the report, a note, nothing cached), never
"the last one wins".

The job JSON shape is not public (APIS.md): everything that depends on it is in the
functions below the constants, so it changes in one place.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from rcsqualify import bulkwindow
from rcsqualify.capability.bothub import BotHubProvider, carries_error
from rcsqualify.capability.defaults import POLL_INITIAL
from rcsqualify.capability.interface import Tally, capability_answer
from rcsqualify.files import atomic_write
from rcsqualify.notes import note
from rcsqualify.remote.cache import JOB_DIR, job_files
from rcsqualify.remote.failures import Unresolved
from rcsqualify.remote.policy import HttpPolicy, RequestPlan

JOB_MAX = 10_000
JOB_MAX_AGE = 48 * 3600.0
RUNNING_STATUSES = ("PENDING", "RUNNING", "IN_PROGRESS", "QUEUED")
FINAL_WAIT = 300.0  # first wait after a 405 inside the assumed window
_JOB_ID = re.compile(r"[A-Za-z0-9._:~-]{1,256}")
UNKNOWN_WINDOW_DEADLINE = 3600.0


# -- the assumed job JSON shape (APIS.md), in one place ------------------------------
def job_request(numbers: list[str]) -> dict[str, Any]:
    return {"userContacts": numbers}


def job_id_of(body: Any) -> str | None:
    """The job id of a submit answer, if it is one we can safely use."""
    value = body.get("jobId") if isinstance(body, dict) else None
    if isinstance(value, str) and _JOB_ID.fullmatch(value):
        return value
    return None


@dataclass
class Poll:
    state: str  # running | done | failed | unrecognized
    results: dict[str, Any] = field(default_factory=dict)  # number → capability list
    bad_items: int = 0
    #: numbers listed more than once with different capability lists (listed capable,
    #: then empty): the job contradicts itself about them, so none of its answers holds
    contradictory: set[str] = field(default_factory=set)


def read_poll(body: Any) -> Poll:
    """What a poll answer says; results are raw capability lists, judged by the caller."""
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        return Poll("unrecognized")
    status = body["status"].upper()
    if status in RUNNING_STATUSES:
        return Poll("running")
    if status != "DONE":
        return Poll("failed")
    items = body.get("results")
    if not isinstance(items, list):
        return Poll("unrecognized")
    poll = Poll("done")
    for item in items:
        number = item.get("userContact") if isinstance(item, dict) else None
        if not isinstance(number, str) or "capabilities" not in item or carries_error(item):
            poll.bad_items += 1
            continue
        caps = item["capabilities"]
        if number in poll.results and poll.results[number] != caps:
            poll.contradictory.add(number)
        poll.results[number] = caps
    for number in poll.contradictory:
        del poll.results[number]
    return poll


def job_file_name(job_id: str) -> str:
    """Server text never becomes a path: the file is named by a hash of the id."""
    return hashlib.sha256(job_id.encode()).hexdigest()[:32] + ".json"


class WindowClosed(Exception):
    pass


def _failure_text(kind: str) -> str:
    """A failure kind of the HTTP layer in words (``http_503`` → ``HTTP 503``)."""
    if kind.startswith("http_"):
        return "HTTP " + kind[5:]
    if kind.startswith("not_json_"):
        return f"an answer that is not JSON ({kind[9:].replace('_', ' ')})"
    return kind.replace("_", " ")


Sleep = Callable[[float], Awaitable[None]]


def plan_jobs(n: int, policy: HttpPolicy, hours: bulkwindow.Hours,
              now: datetime) -> RequestPlan:
    """The jobs ``bothub-bulk`` submits for ``n`` numbers (``JOB_MAX`` each, one
    request each, polls not counted) and whether the window is open at ``now``."""
    jobs = math.ceil(n / JOB_MAX)
    return RequestPlan(numbers=n, requests=jobs, seconds=jobs / policy.paced,
                       rate=policy.paced, mode="bulk",
                       details={"jobs": jobs, "job_size": JOB_MAX,
                                "window": bulkwindow.describe(now, hours),
                                "window_open": bulkwindow.is_open(now, hours)})


class BotHubBulkProvider(BotHubProvider):
    name = "bothub-bulk"
    per_number = False  # jobs of up to 10,000: numbers are collected, then submitted

    def __init__(self, *, job_dir: Path | None, wait_for_window: bool = False,
                 poll_initial: float = POLL_INITIAL, poll_max: float = 30.0,
                 bulk_deadline: float | None = None,
                 hours: bulkwindow.Hours = bulkwindow.ASSUMED,
                 clock: Callable[[], datetime] | None = None, sleep: Sleep | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_dir = job_dir / JOB_DIR if job_dir else None
        self.wait_for_window = wait_for_window
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.bulk_deadline = bulk_deadline
        self.hours = hours
        self.clock = clock or (lambda: datetime.now(bulkwindow.PARIS))
        self.sleep: Sleep = sleep or asyncio.sleep

    # -- persistence: one small file per job, written when BotHub accepts it ---------
    def _load_jobs(self) -> list[dict[str, Any]]:
        if self.job_dir is None:
            return []
        jobs = []
        for path in job_files(self.job_dir.parent):  # only files rcsqualify named
            try:
                job = json.loads(path.read_text())
                valid = (isinstance(job, dict) and isinstance(job.get("id"), str)
                         and _JOB_ID.fullmatch(job["id"]) is not None
                         and path.name == job_file_name(job["id"])
                         and isinstance(job.get("keys"), list)
                         and isinstance(job.get("submitted_at"), int | float))
            except (OSError, ValueError):
                valid = False
            if not valid:
                path.unlink(missing_ok=True)  # ours (named by a hash), but unusable
                continue
            if job.get("scope") != self.namespace:
                continue  # another service's job: not ours to poll
            if time.time() - job["submitted_at"] < JOB_MAX_AGE:
                jobs.append(job)
            else:
                path.unlink(missing_ok=True)
        return jobs

    def _save_job(self, job: dict[str, Any]) -> None:
        if self.job_dir is None:
            return
        self.job_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with atomic_write(self.job_dir / job_file_name(job["id"]), mode=0o600) as tmp:
            tmp.write_text(json.dumps(job))

    def _forget_job(self, job: dict[str, Any]) -> None:
        if self.job_dir is not None:
            (self.job_dir / job_file_name(job["id"])).unlink(missing_ok=True)

    # -- the run -----------------------------------------------------------------------
    def _deadline(self) -> float:
        """Monotonic time after which polling stops (never past the window's end)."""
        limits = []
        if self.bulk_deadline is not None:
            limits.append(self.bulk_deadline)
        left = bulkwindow.seconds_left(self.clock(), self.hours)  # in UTC: DST nights
        if left is not None:
            limits.append(left)
        if not limits:
            # the assumed window is closed (or server-only) yet BotHub took the job: we
            # do not know when its window ends, so an hour unless told otherwise
            limits.append(UNKNOWN_WINDOW_DEADLINE)
        return time.monotonic() + min(limits)

    async def ask(self, e164: Sequence[str], todo: list[int], out: np.ndarray,
                  tally: Tally) -> None:
        assert self.http is not None
        http = self.http
        url = f"{self.base_url}/bot/v2/{self.bot_id}/bulkContactCapabilities"
        digest_of = {i: self.cache.digest(e164[i]) for i in todo}
        by_digest = {d: i for i, d in digest_of.items()}  # still unanswered
        index_of = {e164[i]: i for i in todo}
        jobs = self._load_jobs()
        unfinished: list[dict[str, Any]] = []
        #: why polls failed (a 5xx, an HTML page…): not "not finished by the deadline"
        poll_failures: Counter[str] = Counter()
        vanished: list[dict[str, Any]] = []  # jobs BotHub no longer knows (404)
        deadline = [self._deadline()]

        def record(results: dict[str, Any], job: dict[str, Any]) -> None:
            learned = []
            in_job = set(job["keys"])
            for number, caps in results.items():
                i = index_of.get(number)
                if i is None or digest_of[i] not in in_job:
                    self.stats.kinds["result_not_in_job"] += 1  # never trust it
                    continue
                if by_digest.pop(digest_of[i], None) is None:
                    continue
                verdict = capability_answer(caps, self.require_feature)
                if verdict is None:
                    self.stats.kinds["bad_capability_list"] += 1
                    continue
                if verdict != "no":
                    self.stats.feature_names(caps)
                learned.append((i, number, verdict))
            self.learned(out, learned)
            tally.tick(len(learned))

        def end_job(job: dict[str, Any], why: str | None) -> None:
            if job in jobs:
                jobs.remove(job)
            self._forget_job(job)
            if why:
                self.notes.append(why)

        async def poll(job: dict[str, Any]) -> None:
            wait = self.poll_initial
            while True:
                if time.monotonic() + wait > deadline[0]:
                    unfinished.append(job)  # stays persisted: the next run polls it
                    return
                await self.sleep(wait)
                wait = min(wait * 1.5, self.poll_max)
                try:
                    answer = await http.request("GET", url, params={"jobId": job["id"]},
                                                expected=(404, 405))
                except Unresolved as exc:
                    poll_failures[exc.kind] += 1  # stays saved: the next run polls it
                    return
                if answer.status == 405:
                    raise WindowClosed()
                if answer.status == 404:  # the job expired on BotHub's side: resubmit
                    http.accept(answer, "job_unknown")
                    vanished.append(job)
                    end_job(job, None)
                    return
                state = read_poll(answer.body)
                if state.state == "running":
                    http.accept(answer, "job_running")
                    continue
                if state.state == "done":
                    http.accept(answer, "job_done")
                    if state.bad_items:
                        self.stats.kinds["bad_result_item"] += state.bad_items
                    if state.contradictory:
                        self.stats.kinds["contradictory_result"] += len(state.contradictory)
                        self.notes.append(note("bulk_contradictory",
                                               count=len(state.contradictory)))
                    record(state.results, job)
                    missing = sum(1 for k in job["keys"] if k in by_digest)
                    end_job(job, None if not missing else
                            note("bulk_done_missing", missing=missing,
                                 total=len(job["keys"])))
                    return
                if state.state == "failed":
                    http.accept(answer, "job_failed")
                    end_job(job, note("bulk_failed"))
                    return
                http.reject(answer, "unrecognized_job_answer", url)
                end_job(job, note("bulk_unrecognized"))
                return

        async def submit(chunk: list[int]) -> dict[str, Any] | None:
            numbers = [e164[i] for i in chunk]
            try:
                answer = await http.request("POST", url, json=job_request(numbers),
                                            ok=(200, 201, 202), expected=(405,))
            except Unresolved:
                return None  # these numbers stay capability_error
            if answer.status == 405:
                raise WindowClosed()
            job_id = job_id_of(answer.body)
            if job_id is None:
                http.reject(answer, "no_job_id", url)
                self.notes.append(note("bulk_no_job_id"))
                return None
            http.accept(answer, "job_accepted")
            job = {"id": job_id, "submitted_at": time.time(), "scope": self.namespace,
                   "keys": [digest_of[i] for i in chunk]}
            jobs.append(job)
            self._save_job(job)
            return job

        late_405s = 0
        while True:
            try:
                unfinished.clear()
                pending = [j for j in jobs if not by_digest.keys().isdisjoint(j["keys"])]
                await asyncio.gather(*(poll(j) for j in pending))
                covered = {k for j in jobs for k in j["keys"]}
                rest = [i for d, i in by_digest.items() if d not in covered]
                for again in (False, True):
                    fresh = []
                    for start in range(0, len(rest), JOB_MAX):
                        job = await submit(rest[start:start + JOB_MAX])
                        if job is not None:
                            fresh.append(job)
                    await asyncio.gather(*(poll(j) for j in fresh))
                    gone = [j for j in fresh if j in vanished]
                    rest = [by_digest[k] for j in gone for k in j["keys"] if k in by_digest]
                    if rest and again:
                        self.notes.append(note("bulk_forgotten", count=len(gone)))
                    if not rest:
                        break  # a fresh job that vanished is submitted again, once
                if poll_failures:
                    kinds = ", ".join(f"{_failure_text(k)} × {n}"
                                      for k, n in poll_failures.most_common(3))
                    self.notes.append(note("bulk_poll_failed",
                                           count=sum(poll_failures.values()), kinds=kinds))
                if unfinished:
                    self.notes.append(note("bulk_unfinished", count=len(unfinished)))
                return
            except WindowClosed:
                now = self.clock()
                opening = bulkwindow.next_opening(now, self.hours)
                inside = bulkwindow.is_open(now, self.hours) and not self.hours.server_only
                if not self.wait_for_window:
                    window = bulkwindow.describe(now, self.hours)
                    if inside:
                        self._say(note("bulk_refused_inside", window=window))
                    else:
                        self._say(note("bulk_refused_outside", window=window,
                                       opening=opening))
                    return
                if inside:
                    # we believed the window open and BotHub disagrees: back off, slowly
                    end = bulkwindow.current_end(now, self.hours)
                    delay = FINAL_WAIT * (2 ** late_405s)
                    late_405s += 1
                    if end is None or bulkwindow.seconds_between(end, now) <= delay:
                        self._say(note("bulk_refused_all_window"))
                        return
                    self._say(note("bulk_refused_retry", minutes=f"{delay / 60:.0f}"))
                else:
                    delay = max(1.0, bulkwindow.seconds_between(opening, now))
                    self._say(note("bulk_window_wait", opening=opening,
                                   hours=round(delay / 3600, 1)))
                await self.sleep(delay)
                deadline[0] = self._deadline()

    def _say(self, message: str) -> None:
        self.notes.append(message)
        if self.http is not None and self.http.notify:
            self.http.notify(message)
