"""Progress on stderr while a run works: rich bars with an ETA at the quota for the
remote stages, and the run's notices (429 pauses collapsed into one line). Built only
when a terminal shows it: a quiet or logged run imports no rich.progress."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # an offline run imports neither the HTTP stack nor rich
    from rich.console import Console
    from rich.progress import Progress, TaskID


def _progress_bars(console: Console) -> Progress:
    """The bars, built (and rich.progress imported) only when a terminal shows them."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class QuotaEta(ProgressColumn):
        """Time left at the quota (remote stages): remaining requests / rate. Smooth
        pacing makes that the real finishing time, unlike an estimate from the first
        answers."""

        def render(self, task: Task) -> Text:
            rate = task.fields.get("rate")
            if rate and task.total:
                left = max(0.0, (task.total - task.completed) / rate)
                return Text(f"ETA {int(left // 3600)}:{int(left % 3600 // 60):02d}:"
                            f"{int(left % 60):02d}", style="progress.remaining")
            return TimeRemainingColumn().render(task)

    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(), QuotaEta(),
        console=console, transient=True,
    )


#: what each stage's bar says
STAGE_LABELS = {"read": "reading contacts", "mnp": "MNP look-ups",
                "capability": "capability checks"}


_PAUSES = re.compile(r"\((\d+) pauses so far\)")


class ProgressReporter:
    """Progress on stderr: rich bars (with an ETA at the quota for remote stages) when
    stderr is a terminal and the run is not quiet; and the run's notices (``notify``).

    Repeated HTTP 429 pauses of a service collapse: on a terminal into one line among
    the bars that counts them (advising a lower ``--rate`` from the second on); in a
    log, the first two lines only. Either way one closing line counts them all.
    """

    def __init__(self, console: Console, enabled: bool, rate: float | None = None) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self.rate = rate
        self._progress = _progress_bars(console) if self.enabled else None
        self._tasks: dict[str, TaskID] = {}
        self._pauses: dict[str, int] = {}  # service → 429 pauses seen

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self._progress is None:
            return
        if stage != "read":
            self._finish("read")  # the read is over: its bar shows what was read
        if stage not in self._tasks:
            remote = stage != "read"
            self._tasks[stage] = self._progress.add_task(
                STAGE_LABELS.get(stage, stage), total=total,
                rate=self.rate if remote else None)
        self._progress.update(self._tasks[stage], completed=done, total=total)

    def _finish(self, stage: str) -> None:
        """A bar at its total: the read's total was an estimate from the file size."""
        if self._progress is None or stage not in self._tasks:
            return
        task = next(t for t in self._progress.tasks if t.id == self._tasks[stage])
        if task.total != task.completed:
            self._progress.update(task.id, total=task.completed)

    def notify(self, message: str) -> None:
        """A notice from a provider or the HTTP layer; printed even with --quiet: a 429
        pause or a closed bulk window explains why a cron run took an hour or did
        nothing, and it is one line."""
        service, sep, rest = message.partition(": HTTP 429")
        if sep:
            found = _PAUSES.search(rest)
            count = int(found.group(1)) if found else self._pauses.get(service, 0) + 1
            first = service not in self._pauses
            self._pauses[service] = max(count, self._pauses.get(service, 0) + 1)
            if self._progress is not None:
                self._show_pauses(service)
                return
            if not first and self._pauses[service] > 2:
                return  # a log gets the first pause and the advice, then the total
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def _pause_text(self, service: str) -> str:
        n = self._pauses[service]
        text = (f"{service}: HTTP 429 from the gateway, {n} pause{'s' if n > 1 else ''} "
                "(each pauses every request of the service)")
        if n >= 2:
            text += ("; the gateway's quota is lower than --rate or shared: try a lower "
                     "--rate" + (f" (e.g. --rate {max(1, int(self.rate * 2 / 3))})"
                                 if self.rate else ""))
        return text

    def _show_pauses(self, service: str) -> None:
        assert self._progress is not None
        key = f"429:{service}"
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(self._pause_text(service),
                                                       total=None, rate=None)
        self._progress.update(self._tasks[key], description=self._pause_text(service))

    def note(self, message: str) -> None:
        """A note on how the input was read (a profile's option that does not apply to
        its format): one line, even with --quiet."""
        self.console.print(f"note: {message}", markup=False, highlight=False,
                           soft_wrap=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[ProgressReporter]:
        try:
            if self._progress is None:
                yield self
                return
            with self._progress:
                yield self
                self._finish("read")
        finally:
            for service, n in self._pauses.items():
                if n > 1:  # the collapsed line, once, after the bars are gone
                    self.console.print(self._pause_text(service), markup=False,
                                       highlight=False, soft_wrap=True)
