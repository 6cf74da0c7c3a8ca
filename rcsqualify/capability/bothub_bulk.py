"""Orange BotHub asynchronous bulk capability jobs (up to 10,000 numbers a job).

Jobs are accepted only from 22:00 to 07:00 Paris time; outside the window BotHub answers
HTTP 405. That is not an error: by default the run says when the window opens, leaves
the numbers unchecked (``capability_error``, exit 3) and caches nothing for them;
``--wait-for-window`` sleeps until 22:00 Paris time (DST-correct, zoneinfo) and goes on,
which is what a cron job wants.

Every submitted job id is written to ``bulk_jobs/<job id>.json`` in the cache directory
the moment BotHub accepts it, with the HMAC keys of the numbers it covers (never the
numbers). A run interrupted while polling resumes polling those jobs instead of
submitting them again. With ``--no-cache`` nothing is persisted.

The job JSON shape is not public (APIS.md): everything that depends on it is in the
three functions below the constants, so it changes in one place.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from rcsqualify.capability.bothub import CACHE_NAMESPACE, BotHubProvider
from rcsqualify.capability.interface import Progress
from rcsqualify.remote.http import Unresolved
from rcsqualify.verdict import RCS_ERROR, RCS_NO, RCS_YES

PARIS = ZoneInfo("Europe/Paris")
JOB_MAX = 10_000
WINDOW_OPEN_HOUR, WINDOW_CLOSE_HOUR = 22, 7
JOB_DIR = "bulk_jobs"
JOB_MAX_AGE = 48 * 3600.0


# -- the assumed job JSON shape (APIS.md), in one place ------------------------------
def job_request(numbers: list[str]) -> dict[str, Any]:
    return {"userContacts": numbers}


def job_id_of(body: Any) -> str:
    return str(body["jobId"])


def job_results(body: Any) -> tuple[bool, dict[str, bool]]:
    """(done, {number: capable}) from a poll answer; an empty list means not capable."""
    if not isinstance(body, dict) or body.get("status") != "DONE":
        return False, {}
    out = {}
    for item in body.get("results") or []:
        caps = item.get("capabilities")
        out[str(item["userContact"])] = isinstance(caps, list) and len(caps) > 0
    return True, out


# -- the window ----------------------------------------------------------------------
def window_is_open(now: datetime) -> bool:
    hour = now.astimezone(PARIS).hour
    return hour >= WINDOW_OPEN_HOUR or hour < WINDOW_CLOSE_HOUR


def next_window_opening(now: datetime) -> datetime:
    """When the bulk window next opens (now if open), as an aware Paris datetime.

    Built from the Paris wall clock, so it is 22:00 local on both sides of a DST change.
    """
    local = now.astimezone(PARIS)
    if window_is_open(local):
        return local
    opening = datetime(local.year, local.month, local.day, WINDOW_OPEN_HOUR, tzinfo=PARIS)
    return opening if opening > local else opening + timedelta(days=1)


class WindowClosed(Exception):
    pass


class BotHubBulkProvider(BotHubProvider):
    name = "bothub-bulk"

    def __init__(self, *, job_dir: Path | None, wait_for_window: bool = False,
                 poll_initial: float = 2.0, poll_max: float = 30.0,
                 clock: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_dir = job_dir / JOB_DIR if job_dir else None
        self.wait_for_window = wait_for_window
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.clock = clock or (lambda: datetime.now(PARIS))
        self.jobs_submitted = 0
        self.jobs_resumed = 0

    # -- persistence: one small file per job, written when BotHub accepts it ---------
    def _load_jobs(self) -> list[dict[str, Any]]:
        if self.job_dir is None or not self.job_dir.is_dir():
            return []
        jobs = []
        for path in sorted(self.job_dir.glob("*.json")):
            try:
                job = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if time.time() - job.get("submitted_at", 0) < JOB_MAX_AGE:
                jobs.append(job)
            else:
                path.unlink(missing_ok=True)
        return jobs

    def _save_job(self, job: dict[str, Any]) -> None:
        if self.job_dir is None:
            return
        self.job_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.job_dir, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(job, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.job_dir / f"{job['id']}.json")

    def _forget_job(self, job: dict[str, Any]) -> None:
        if self.job_dir is not None:
            (self.job_dir / f"{job['id']}.json").unlink(missing_ok=True)

    def _digest(self, number: str) -> str:
        return self.cache.key("cap", CACHE_NAMESPACE, number).rsplit(":", 1)[-1]

    # -- the run -----------------------------------------------------------------------
    def check_all(self, e164: list[str], progress: Progress | None = None) -> np.ndarray:
        out = np.full(len(e164), RCS_ERROR, dtype=np.uint8)
        todo = self.answers_from_cache(self.cache, CACHE_NAMESPACE, e164, out)
        if progress:
            progress(len(e164) - len(todo))
        if todo:
            asyncio.run(self._run(e164, todo, out, progress))
        return out

    async def _run(self, e164: list[str], todo: list[int], out: np.ndarray,
                   progress: Progress | None) -> None:
        url = f"{self.base_url}/bot/v2/{self.bot_id}/bulkContactCapabilities"
        # each number's HMAC, computed once: jobs are persisted by these keys
        digest_of = {i: self._digest(e164[i]) for i in todo}
        by_digest = {d: i for i, d in digest_of.items()}  # still unanswered
        index_of = {e164[i]: i for i in todo}
        jobs = self._load_jobs()
        state = {"done": len(e164) - len(todo)}

        def record(results: dict[str, bool]) -> None:
            self.cache.put_many("cap", CACHE_NAMESPACE, (
                (number, "yes" if capable else "no") for number, capable in results.items()))
            for number, capable in results.items():
                i = index_of.get(number)
                if i is not None and by_digest.pop(digest_of[i], None) is not None:
                    out[i] = RCS_YES if capable else RCS_NO
                    state["done"] += 1
            if progress:
                progress(state["done"])

        async def poll(job: dict[str, Any]) -> None:
            wait = self.poll_initial
            while True:
                try:
                    answer = await self.http.request("GET", url, params={"jobId": job["id"]},
                                                     expected=(404, 405))
                except Unresolved:
                    return  # job stays persisted: the next run polls it again
                if answer.status == 405:
                    raise WindowClosed()
                if answer.status == 404:  # the job expired on BotHub's side: resubmit
                    jobs.remove(job)
                    self._forget_job(job)
                    return
                done, results = job_results(answer.body)
                if done:
                    record(results)
                    jobs.remove(job)
                    self._forget_job(job)
                    return
                await asyncio.sleep(wait)
                wait = min(wait * 1.5, self.poll_max)

        async with self.http.session():
            while True:
                try:
                    pending = [j for j in jobs if not by_digest.keys().isdisjoint(j["keys"])]
                    self.jobs_resumed += len(pending)
                    await asyncio.gather(*(poll(j) for j in pending))
                    covered = {k for j in jobs for k in j["keys"]}
                    rest = [i for d, i in by_digest.items() if d not in covered]
                    for start in range(0, len(rest), JOB_MAX):
                        chunk = rest[start:start + JOB_MAX]
                        numbers = [e164[i] for i in chunk]
                        try:
                            answer = await self.http.request(
                                "POST", url, json=job_request(numbers), ok=(200, 201, 202),
                                expected=(405,))
                        except Unresolved:
                            continue  # these numbers stay capability_error
                        if answer.status == 405:
                            raise WindowClosed()
                        job = {"id": job_id_of(answer.body), "submitted_at": time.time(),
                               "keys": [digest_of[i] for i in chunk]}
                        jobs.append(job)
                        self._save_job(job)
                        self.jobs_submitted += 1
                    fresh = [j for j in jobs if not by_digest.keys().isdisjoint(j["keys"])]
                    await asyncio.gather(*(poll(j) for j in fresh))
                    return
                except WindowClosed:
                    opening = next_window_opening(self.clock())
                    if not self.wait_for_window:
                        message = (
                            "BotHub accepts bulk capability jobs from 22:00 to 07:00 Paris "
                            f"time; the window opens at {opening:%Y-%m-%d %H:%M %Z}: re-run "
                            "then, or use --wait-for-window")
                        self.notes.append(message)
                        if self.http.notify:
                            self.http.notify(message)
                        return
                    delay = max(1.0, (opening - self.clock()).total_seconds())
                    if self.http.notify:
                        self.http.notify(f"bulk window closed: waiting until "
                                         f"{opening:%Y-%m-%d %H:%M %Z} ({delay / 3600:.1f} h)")
                    await asyncio.sleep(delay)
