"""Capability providers: is a target-operator mobile RCS-reachable (CONTRACT §5)?

Shaped like pip-audit's services: a provider answers a whole batch (``check_all``),
because pacing, batching and concurrency belong inside the provider, not in the CLI.
``check_all`` is written once, here: fresh cached answers first, then the provider's
own ``ask`` for the rest, inside its HTTP session. A provider only says *how it asks*
and *what its answers mean*.

A number the provider could not resolve is data (``RCS_ERROR``), never an exception;
only a configuration problem (bad credentials, unknown agent, a wrong URL) stops the
run. Only answers the provider's documented contract gives become verdicts, and only
those are cached (CONTRACT §10).

A wrong path can answer exactly like the documented negative (a JSON 404 in the
provider's error envelope): per-number answers of a run are therefore cached at once
only after the first positive one. Negatives before it are held (their verdicts count
in the run); the ``NEGATIVES_AT_START``-th in a row with one identical body stops the
run (exit 2) with nothing cached, as the MNP stage does for "unknown" answers; negatives
with different bodies, or a positive, release the held ones into the cache. A run that
ends with fewer held negatives, all alike, caches none of them: the next run asks again.
A fresh positive answer of the same scope, cached for a number of this run, is a positive
too: without it a nightly re-check of a stable base, which asks only the negatives whose
60 days ran out, would stop as a wrong path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np

from rcsqualify.errors import ConfigurationError
from rcsqualify.remote.cache import LookupCache, Scope
from rcsqualify.remote.failures import Unresolved
from rcsqualify.remote.http import Answer, HttpLayer
from rcsqualify.remote.stats import ProviderStats
from rcsqualify.remote.workers import run_all
from rcsqualify.verdict import RCS_ERROR, RCS_NO, RCS_NO_FEATURE, RCS_YES

#: how many numbers a provider has settled so far (the pipeline's ``Progress`` wraps it)
Tick = Callable[[int], None]

#: cached answer → RCS code ("nofeature": a capability list without the required one)
CODE_OF = {"yes": RCS_YES, "no": RCS_NO, "nofeature": RCS_NO_FEATURE}
_CODE_OR_MISS: dict[str | None, int] = {k: int(v) for k, v in CODE_OF.items()}
#: negative answers in a row at the start of a run, all with one body, that stop it
NEGATIVES_AT_START = 20
#: a word holding a digit: what differs per request in one repeated answer (ids, times)
_VARYING = re.compile(r"[\w.:+-]*\d[\w.:+-]*")


class Negative(str):
    """A negative verdict (``"no"``, ``"nofeature"``) as ``answer_one`` returns it:
    equal to the plain word, and carrying ``body``, the answer it was read from with
    every word holding a digit masked (``CapabilityProvider.negative``). The held
    negatives at the start of a run are compared by it: passed up in the return value,
    not through a context variable beside the call (issue #24: no hidden channel)."""

    body: str

    def __new__(cls, verdict: str, body: str) -> Negative:
        made = super().__new__(cls, verdict)
        made.body = body
        return made


def ask_order(items: Sequence[int] | np.ndarray) -> list[int]:
    """``items`` in a random order, the order numbers are asked in. The early guard
    judges the first answers of a run: in number order they are one block of one range
    (a fleet of data SIMs, a company's consecutive lines), genuinely not RCS as often
    as not, and 20 identical negatives stopped a healthy run as a wrong path. In a
    random order they are a sample of the whole base; a wrong path answers every
    number alike, so it is caught all the same."""
    return [int(i) for i in np.random.default_rng().permutation(np.asarray(items))]


class Tally:
    """How many numbers are settled, for the progress bar."""

    def __init__(self, done: int, progress: Tick | None) -> None:
        self.done = done
        self.progress = progress
        self.tick(0)

    def tick(self, k: int = 1) -> None:
        self.done += k
        if self.progress:
            self.progress(self.done)


class CapabilityProvider:
    """One capability API behind one cache scope and one HTTP layer."""

    name: str = ""

    def __init__(self, cache: LookupCache, scope: Scope) -> None:
        self.stats = ProviderStats()
        #: why some checks could not be done (e.g. the bulk window is closed): reported
        self.notes: list[str] = []
        #: (reachable, total) of a provider's own random sample (batchGet), if it has one
        self.sample_reach: tuple[int, int] | None = None
        #: (numbers asked, numbers listed) in the calls whose sample ``sample_reach`` sums
        self.sample_requests: tuple[int, int] = (0, 0)
        self.cache = cache
        self.namespace = cache.scope(scope)
        self.http: HttpLayer | None = None
        #: per-number negatives not cached yet (no positive answer so far): see above
        self._held: list[tuple[str, str]] = []
        self._held_bodies: set[str] = set()
        self._trusted = False  # a positive, or negatives of several bodies, came back

    def answers_from_cache(self, e164: Sequence[str], out: np.ndarray) -> list[int]:
        """Fill ``out`` with fresh cached answers; the indices still to ask."""
        cached, vocab = self.cache.lookup("cap", self.namespace, e164)
        # the cache's answer codes to RCS codes (255: not cached) in one numpy step: a
        # warm run of a million numbers makes no Python object per number
        table = np.array([_CODE_OR_MISS.get(a, 255) for a in vocab] + [255], dtype=np.uint8)
        codes = table[cached]
        hit = codes != 255
        out[hit] = codes[hit]
        if not self._trusted and bool(np.any(codes == RCS_YES)):
            # this scope said "yes" to a number of this run: its path answers as the
            # service does, so a run of identical negatives is the base (a nightly
            # re-check of stale negatives), not a wrong path
            self._trusted = True
        self.stats.cache_hits += int(np.count_nonzero(hit))
        todo: list[int] = np.flatnonzero(~hit).tolist()
        return todo

    def learned(self, out: np.ndarray, answers: list[tuple[int, str, str]]) -> None:
        """Record recognized answers ``(index, number, yes|no|nofeature)``: into ``out``
        and into the cache at once (a run killed right after still keeps them)."""
        for i, _, answer in answers:
            out[i] = CODE_OF[answer]
        self.cache.put_many("cap", self.namespace, ((n, a) for _, n, a in answers))

    def check_all(self, e164: Sequence[str], progress: Tick | None = None) -> np.ndarray:
        """RCS code (verdict.RCS_*) per number, in order. Never raises per number."""
        out = np.full(len(e164), RCS_ERROR, dtype=np.uint8)
        todo = self.answers_from_cache(e164, out)
        tally = Tally(len(e164) - len(todo), progress)
        if todo:
            asyncio.run(self._session(e164, todo, out, tally))
        return out

    async def _session(self, e164: Sequence[str], todo: list[int], out: np.ndarray,
                       tally: Tally) -> None:
        async with self.session():
            await self.ask(e164, todo, out, tally)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """The provider's HTTP session (none for a provider without HTTP: tests, local
        tables); what the HTTP layer noted (a spent budget, a service given up after
        429s) goes first: it is why checks could not be done, the verdict line quotes the
        first note, and the provider's own notes may be advice."""
        if self.http is None:
            yield
            return
        try:
            async with self.http.session():
                yield
        finally:
            self.notes[:0] = self.http.notes

    #: a provider that asks one number per request can take numbers as they come
    #: (``consume``); a batch provider (bulk jobs, batchGet) collects them first
    per_number: bool = False

    async def answer_one(self, e164: str) -> str:
        """yes/no/nofeature for one number (per-number providers); ``Unresolved`` on a
        failure."""
        raise NotImplementedError

    async def ask(self, e164: Sequence[str], todo: list[int], out: np.ndarray,
                  tally: Tally) -> None:
        """Ask the service about ``e164[i]`` for ``i`` in ``todo``; record answers with
        ``learned`` and leave failures as ``RCS_ERROR``. Per-number providers get this
        for free from ``answer_one``; batch providers override it."""
        async def one(i: int) -> None:
            with contextlib.suppress(Unresolved):  # a failure stays RCS_ERROR, uncached
                answer = await self._asked(e164[i])
                out[i] = CODE_OF[answer]
            tally.tick()

        await run_all(ask_order(todo), one, self.concurrency)

    @property
    def concurrency(self) -> int:
        return self.http.policy.concurrency if self.http is not None else 1

    async def resolve(self, e164: str) -> int:
        """One number's RCS code: from the cache if fresh, else asked (and cached)."""
        code = CODE_OF.get(self.cache.get_many("cap", self.namespace, [e164])[0] or "")
        if code is not None:
            self.stats.cache_hits += 1
            self._trusted = self._trusted or code == RCS_YES  # as in answers_from_cache
            return int(code)
        try:
            answer = await self._asked(e164)
        except Unresolved:
            return int(RCS_ERROR)
        return int(CODE_OF[answer])

    def negative(self, answer: Answer, verdict: str = "no") -> Negative:
        """The negative ``verdict`` read from ``answer``, as per-number providers return
        every negative they recognize, so that a run of identical negatives at the start
        can be told from a real one. Bodies are compared with every word holding a digit
        masked: a request id, a timestamp or the number echoed back differ per request
        even when the answer is one repeated (a wrong path's or a gateway's), while two
        kinds of negative (a 404 envelope, an empty list) still differ in their words
        and keys."""
        text = json.dumps(answer.body, sort_keys=True, default=str)[:2000]
        return Negative(verdict, f"{answer.status} {_VARYING.sub('#', text)}")

    async def _asked(self, e164: str) -> str:
        """``answer_one``, cached at once, or held while the run has seen negatives only
        (the module docstring); raises ``ConfigurationError`` on the run of identical
        negatives that a wrong path gives."""
        read = await self.answer_one(e164)
        body = read.body if isinstance(read, Negative) else None
        answer = str(read)  # the plain word from here on (cached, counted)
        if self._trusted:
            self.cache.put("cap", self.namespace, e164, answer)
            return answer
        if answer == "yes":
            self._release([(e164, answer)])
            return answer
        self._held.append((e164, answer))
        self._held_bodies.add(body or "")
        if len(self._held_bodies) > 1:
            self._release([])
        elif len(self._held) >= NEGATIVES_AT_START:
            hint = f"; check {self.http.url_hint}" if self.http and self.http.url_hint else ""
            status = (body or "").split(" ", 1)[0]
            raise ConfigurationError(
                f"{self.name}: the first {len(self._held)} answers were all 'not RCS' with "
                f"one identical body (HTTP {status}); a wrong path answering like the "
                f"service's negative looks like this: nothing was cached{hint}")
        return answer

    def _release(self, more: list[tuple[str, str]]) -> None:
        """From now on answers are cached at once; the held ones go to the cache now."""
        self._trusted = True
        held, self._held = self._held, []
        self.cache.put_many("cap", self.namespace, [*held, *more])

    async def consume(self, queue: asyncio.Queue[tuple[int, str] | None],
                      sink: Callable[[int, int], None], tally: Tally) -> None:
        """Check ``(index, e164)`` items as they arrive until ``None`` (the stream of
        issue #14: a number's capability check leaves as soon as its operator is known).
        ``sink(index, code)`` receives each answer. Call inside ``http.session()``."""
        if self.per_number:
            async def worker() -> None:
                while (item := await queue.get()) is not None:
                    sink(item[0], await self.resolve(item[1]))
                    tally.tick()
                await queue.put(None)  # the end, for the other workers too

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
            return
        items: list[tuple[int, str]] = []
        while (item := await queue.get()) is not None:
            items.append(item)
        e164 = [n for _, n in items]
        out = np.full(len(e164), RCS_ERROR, dtype=np.uint8)
        todo = self.answers_from_cache(e164, out)
        tally.tick(len(e164) - len(todo))
        if todo:
            await self.ask(e164, todo, out, tally)
        for k, (index, _) in enumerate(items):
            sink(index, int(out[k]))

    def close(self) -> None:
        """Release connections."""


def capability_answer(caps: Any, require: str) -> str | None:
    """``yes``/``no``/``nofeature`` from a GSMA capability list; None when it is not a
    list of names (then the answer is not recognized)."""
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        return None
    if not caps:
        return "no"
    if require and require not in caps:
        return "nofeature"
    return "yes"
