"""Wires a ``check`` run: builds sources and providers from the settings, runs the
pipeline, summarizes, writes the outputs. The CLI calls this and renders; tests and
the cron mode call it directly."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsqualify.ci import (
    STDOUT,
    ReportOutput,
    check_report_paths,
    report_lang,
    report_outputs,
    report_paths,
)
from rcsqualify.contacts import ContactSource
from rcsqualify.errors import InputError, RcsQualifyError
from rcsqualify.files import cannot_write, make_folder, refuse_overwrite
from rcsqualify.numbering.plan import NumberingPlan, load_plan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.pipeline import CheckResult
from rcsqualify.report.formats import RenderContext
from rcsqualify.report.summary import GATE_MODES, Summary, campaign_projection, summarize
from rcsqualify.report.writers import (
    CSV_DIALECTS,
    atomic_path,
    output_format,
    write_annotated,
)
from rcsqualify.settings import SAMPLE_MAX, Settings, input_notes

if TYPE_CHECKING:  # an offline run imports neither the HTTP stack nor rich
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from rcsqualify.remote.http import Notify
    from rcsqualify.sample_auto import AutoSample
    from rcsqualify.wiring import Shared


@dataclass
class CheckRun:
    summary: Summary
    result: CheckResult
    source: ContactSource
    #: what changed since the previous run that wrote the same lists (numbers added and
    #: removed, status moves: ``report.movement``); None without lists or a previous run
    movement: dict[str, Any] | None = None


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


def refuse_overwrites(s: Settings) -> None:
    """CONTRACT §11: no output may be a file the run reads, nor another output (exit 2
    before anything is read or written). The split lists count even when not written
    this time (.xlsx), because a run may remove its own stale ones."""
    from rcsqualify.report.split import list_paths, refuse_foreign_lists

    inputs: list[tuple[str, str | Path | None]] = [
        ("the input", None if s.input == "-" else s.input),
        *(("--portability", p) for p in s.portability),
        ("--portability-db", s.portability_db), ("--history", s.history),
        ("--bot-key-file", s.bot_key_file), ("--rbm-credentials", s.rbm_credentials),
        ("--cache-key-file", s.cache_key_file), ("--config", s.config),
        ("--mnp-profile", s.mnp_profile if (s.mnp_profile or "").endswith(".toml") else None),
        *((f"the file of {name}", ref[5:]) for name, ref in s.credential_refs.items()
          if ref.startswith("file:"))]
    outputs: list[tuple[str, str | Path | None]] = [
        ("--output", None if s.output == STDOUT else s.output), *report_paths(s)]
    if s.split_dir:
        outputs += list_paths(s.split_dir)
    refuse_overwrite(inputs, outputs, [("the cache directory", cache_directory(s)),
                                       ("the quota directory", quota_directory(s))])
    if s.split_dir:
        refuse_foreign_lists(s.split_dir, xlsx=s.split_xlsx, other_route=bool(s.other_route))


def quota_directory(s: Settings) -> Path | None:
    """The directory of the shared quota files a remote run reads and writes (whatever
    the quota store: the local schedule is always kept), so no output may land there."""
    if not s.remote:
        return None
    from rcsqualify.remote.pacing import default_quota_dir

    return default_quota_dir()


def cache_directory(s: Settings) -> Path | None:
    """The directory cache this run would open (None: Redis, or no cache): its secret
    and databases are files the run reads, so no output may land inside it."""
    if not s.remote or s.no_cache:
        return None  # an offline run opens no cache (and imports none of it)
    from rcsqualify.remote.cache import default_cache_dir
    from rcsqualify.remote.redis_conn import is_redis_url

    if is_redis_url(s.cache_url):
        return None
    if s.cache_url:
        return Path(s.cache_url.removeprefix("file://"))
    return s.cache_dir or default_cache_dir()


def check_network_options(s: Settings) -> None:
    """URLs that are http(s) addresses (exit 2); the numbers that pace, wait or retry
    were bounded when their option group was built (``Opt.finite``, settings.py)."""
    from rcsqualify.providers import service_urls

    for name, url in service_urls(s):
        check_url(name, url)


def check_url(name: str, url: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname  # parsed lazily: 'http://[::1/x' raises only here
    except ValueError:
        raise InputError(f"{name} is not a valid URL (unbalanced brackets or a bad host; "
                         "not shown: it may hold a password)") from None
    if url != url.strip() or parts.scheme not in ("http", "https") or not host:
        from rcsqualify.masking import mask_url

        # without a host mask_url has nothing to name; its query and fragment (an API key
        # in '?apikey=…') are never shown either way
        bare = re.split(r"[?#]", url, maxsplit=1)[0]
        shown = mask_url(url) if host else repr(bare[:60]) + (
            " (query not shown)" if bare != url else "")
        raise InputError(f"{name} must be an http:// or https:// URL with a host, got "
                         f"{shown}")


def dialect_choice(s: Settings) -> str | None:
    """``--excel`` / ``--csv-dialect``: excel-fr, standard, or None (from the input)."""
    if s.csv_dialect is not None and s.csv_dialect not in CSV_DIALECTS:
        raise InputError(f"--csv-dialect must be one of {', '.join(CSV_DIALECTS)}, got "
                         f"{s.csv_dialect!r}")
    if s.excel and s.csv_dialect == "standard":
        raise InputError("--excel and --csv-dialect standard contradict each other")
    return "excel-fr" if s.excel else s.csv_dialect


def validate_settings(s: Settings) -> None:
    """Option checks that need no file: fail before anything is read (exit 2)."""
    if s.lang is not None and s.lang not in ("fr", "en"):
        raise InputError(f"--lang must be fr or en, got {s.lang!r}")
    if s.gate not in GATE_MODES:
        raise InputError(f"--gate must be one of {', '.join(GATE_MODES)}, got {s.gate!r}")
    check_report_paths(s)
    refuse_overwrites(s)
    if not 0 <= s.threshold <= 1:
        raise InputError(f"--threshold must be between 0 and 1 (a share), got {s.threshold}")
    if not 0 <= s.portability_max_unmapped <= 1:
        raise InputError("--portability-max-unmapped must be between 0 and 1 (a share), got "
                         f"{s.portability_max_unmapped}")
    if s.portability_max_age < 0:
        raise InputError("--portability-max-age must not be negative")
    if s.output:
        output_format(s.output)
    dialect_choice(s)
    for name, value in (("--reply-rate", s.reply_rate),):
        if value is not None and not 0 <= value <= 1:
            raise InputError(f"{name} must be between 0 and 1, got {value}")
    for name, value in (("--price-message", s.price_message),
                        ("--price-conversation", s.price_conversation),
                        ("--send-rate", s.send_rate)):
        if value is not None and value < 0:
            raise InputError(f"{name} must not be negative")
    check_network_options(s)
    if s.sample is not None and s.sample < 1:
        raise InputError("--sample must be a positive number of numbers")
    if s.sample is not None and s.capability == "none":
        raise InputError("--sample needs a capability provider (--capability …)")
    from rcsqualify.providers import PER_NUMBER

    if s.sample_auto and s.capability not in PER_NUMBER:
        raise InputError("--sample auto resolves one number at a time: it needs "
                         f"--capability {' or '.join(PER_NUMBER)}")
    if not 0.5 <= s.confidence <= 0.999:
        raise InputError(f"--confidence must be from 0.5 to 0.999, got {s.confidence}")
    if s.sample_max < 1:
        raise InputError("--sample-max must be at least 1")
    plan_ops = set(load_plan().operator_codes)
    if s.operator not in plan_ops:
        raise InputError(f"--operator {s.operator!r} is not an ARCEP operator code "
                         "(Orange is FRTE)")


def auto_sample(s: Settings) -> AutoSample | None:
    """``--sample auto``'s options, or None. About a second of quota in flight keeps the
    quota busy while it bounds the numbers drawn past the decision."""
    if not s.sample_auto:
        return None
    import math

    from rcsqualify.sample_auto import AutoSample

    paced = s.http_policy().paced
    return AutoSample(threshold=s.threshold, sample_max=s.sample_max,
                      confidence=s.confidence, seed=s.seed,
                      in_flight=max(1, min(s.concurrency, math.ceil(paced))))


def render_context(s: Settings, summary: Summary,
                   movement: dict[str, Any] | None = None, started: float | None = None
                   ) -> RenderContext:
    """What the reports need beyond the summary: their language, the run's date and,
    for the HTML page, the ``--history`` log (its damaged lines said in the summary
    before any report is rendered, so every report carries the warning) and the
    movement since the previous run."""
    from datetime import UTC, datetime

    history: list[dict[str, Any]] = []
    if s.html_report:
        from rcsqualify.report.html import read_history

        history, damaged = read_history(s.history)
        if damaged:
            summary.warnings.append(f"{damaged} lines of the history {s.history} are not "
                                    "run records (damaged, or another tool's): skipped")
    from rcsqualify.alerting import run_labels

    labels = run_labels(s)
    return RenderContext(lang=report_lang(s), generated_at=datetime.now(UTC),
                         history=history, movement=movement,
                         metrics_labels=(labels.list_name, labels.profile),
                         duration_s=time.monotonic() - started if started else 0.0)


def write_report(report: ReportOutput) -> None:
    """A report to stdout, appended (the CI step summary) or written atomically."""
    if report.target == STDOUT:
        # annotations are the one output that may start a line with '::' (textsafe)
        out = getattr(sys.stdout, "raw", sys.stdout) if report.commands else sys.stdout
        sys.stdout.flush()  # what the guard holds goes first
        out.write(report.text)
        out.flush()
    elif report.append:
        with open(report.target, "a", encoding="utf-8") as fh:
            fh.write(report.text)
    else:
        output_folder(report.target)
        with atomic_path(report.target) as tmp:
            Path(tmp).write_text(report.text, encoding="utf-8")


def output_folder(path: str) -> None:
    """A user output's missing folder, created and said (``files.make_folder``)."""
    try:
        make_folder(Path(path).parent)
    except OSError as exc:
        raise cannot_write(Path(path), exc) from exc


def build_operator_sources(s: Settings, plan: NumberingPlan, shared: Shared | None,
                           notify: Notify | None) -> list[OperatorSource]:
    sources: list[OperatorSource] = []
    if s.portability_db or s.portability:
        from rcsqualify.wiring import make_portability_source

        sources.append(make_portability_source(s, plan))
    if s.mnp_url:
        from rcsqualify.providers import make_mnp_source

        assert shared is not None
        sources.append(make_mnp_source(s, plan, shared.cache, shared.quota, notify))
    return sources


def open_contacts(s: Settings) -> ContactSource:
    """The input as the reading options say (a check and a dry run read it alike)."""
    skip = s.skip_rows
    if s.header_row is not None:
        if skip is not None:
            raise InputError("--skip-rows and --header-row say the same thing: give one")
        if s.header_row < 1:
            raise InputError("--header-row counts from 1 (the first row)")
        skip = s.header_row - 1
    if skip is not None and skip < 0:
        raise InputError("--skip-rows must be 0 or more")
    given = s.column
    columns = [given] if isinstance(given, str) else list(given or [])
    return ContactSource(s.input, column=columns[0] if columns else None,
                         more_columns=columns[1:], all_phone_columns=s.columns == "auto",
                         contact_id=s.contact_id, number_rank=s.number_rank,
                         encoding=s.encoding,
                         delimiter=s.delimiter, sheet=s.sheet, fmt=s.input_format,
                         header=s.header, skip_rows=skip)


def execute_check(s: Settings, console: Console) -> CheckRun:
    """Run the check and write its outputs; a run that concludes nothing (an error, a
    lock, Ctrl-C) still replaces ``--metrics-file`` with what it can say."""
    try:
        return _execute_check(s, console)
    except RcsQualifyError as exc:
        _failed_metrics(s, int(exc.exit_code))
        raise
    except KeyboardInterrupt:
        _failed_metrics(s, 130)
        raise


def _failed_metrics(s: Settings, code: int) -> None:
    """Only where the run's own checks allow an output: a metrics path that is an input,
    another output or unwritable (the very error being reported, maybe) gets nothing."""
    if not s.metrics_file:
        return
    try:
        refuse_overwrites(s)
        check_report_paths(s)
    except RcsQualifyError:
        return
    from datetime import UTC, datetime

    from rcsqualify.alerting import write_failed_metrics

    write_failed_metrics(s, code, datetime.now(UTC))


def _execute_check(s: Settings, console: Console) -> CheckRun:
    validate_settings(s)
    if s.notify:  # an unset env: variable or a URL that is not http(s): exit 2 now
        from rcsqualify.alerting import check_monitoring

        check_monitoring(s)
    if not s.split_dir:
        return _checked(s, console)
    from rcsqualify.files import hold_lock
    from rcsqualify.report.split import LISTS_LOCK

    lists = Path(s.split_dir)
    try:
        make_folder(lists)  # its lock lives there: created (and said) before the run
    except OSError as exc:
        raise cannot_write(lists, exc) from exc
    # one run at a time writes a list directory (refresh takes the same lock)
    with hold_lock(lists / LISTS_LOCK, s.wait_lock,
                   f"another run is writing the lists in {lists} (lock {lists / LISTS_LOCK}); "
                   "this run did nothing (--wait-lock SECONDS to wait for it)"):
        return _checked(s, console)


def _checked(s: Settings, console: Console) -> CheckRun:
    started = time.monotonic()
    plan = load_plan()
    source = open_contacts(s)
    shared: Shared | None = None
    if s.remote:
        from rcsqualify.wiring import open_shared

        try:
            shared = open_shared(s)
        except BaseException:
            source.close()  # a spooled stdin never outlives a failed start (CONTRACT §11)
            raise

    reporter = ProgressReporter(console, enabled=not s.quiet, rate=s.rate)
    notify = reporter.notify
    answers_kept = True
    cache = shared.cache if shared is not None else None
    quota = shared.quota if shared is not None else None
    if quota is not None:
        quota.notify = notify  # "quota no longer shared across hosts", when it happens
    try:
        for note in input_notes(s, source.format):
            console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
        sources = build_operator_sources(s, plan, shared, notify)
        provider = other = None
        if shared is not None:
            from rcsqualify.providers import make_other_route, make_provider

            provider = make_provider(s, shared.cache, shared.quota, notify)
            other = make_other_route(s, shared.cache, shared.quota, notify)
        from rcsqualify.contact_check import check_rows_or_contacts

        try:
            with reporter.running():
                # rows grouped into contacts when asked (issue #25, contact_check.py)
                result = check_rows_or_contacts(
                    source, plan, target_operator=s.operator, operator_sources=sources,
                    provider=provider, other_provider=other, sample=s.sample, seed=s.seed,
                    progress=reporter, auto=auto_sample(s), confidence=s.confidence,
                    max_numbers=s.max_numbers_per_contact)
        finally:
            for src in sources:
                src.close()
            for p in (provider, other):
                if p is not None:
                    p.close()
            if shared is not None:
                answers_kept = shared.cache.kept()  # read back before the store closes
                shared.close()
        if cache is not None and cache.degraded:
            # CONTRACT §10: the run went on from memory; say so, and exit 3 at best
            # first: the verdict line quotes the first note (a storage failure explains
            # the rest, not the other way round)
            result.storage_degraded = cache.degraded
            result.notes.insert(0, f"the cache in {cache.location} failed mid-run "
                                f"({cache.degraded}); answers since then were kept in "
                                "memory only and will be asked again next time")
        if quota is not None and quota.lost:
            # the quota store failed on its own: the cache (another store) is unharmed
            result.storage_degraded = result.storage_degraded or quota.lost
            result.notes.insert(0, quota.lost_message())
        if source.info.rows == 0:
            # a gate must not pass on an export that came out empty
            raise InputError(f"{source.info.path} has a header but no contact rows: "
                             "nothing was checked")
        summary = summarize(result, plan, input_info=source.info.as_dict(),
                            threshold=s.threshold, remote_asked=s.remote, gate_mode=s.gate)
        if shared is not None:  # a key stored inside a shared cache: said on every run
            summary.warnings.extend(shared.notes)
            summary.answers_kept = answers_kept
        summary.next_steps = next_steps(s, summary)
        summary.projection = campaign_projection(
            summary.counts, send_rate=s.send_rate, price_message=s.price_message,
            price_conversation=s.price_conversation, reply_rate=s.reply_rate)
        if s.output:
            if s.output != STDOUT:
                output_folder(s.output)
            write_annotated(s.output, source, result, plan, csv_escape=s.csv_escape,
                            dialect=dialect_choice(s))
        movement: dict[str, Any] | None = None
        if s.split_dir:
            from rcsqualify.report.split import write_split_lists

            summary.split_lists = write_split_lists(s.split_dir, source, result, plan,
                                                    xlsx=s.split_xlsx,
                                                    csv_escape=s.csv_escape,
                                                    dialect=dialect_choice(s))
            if cleaned := summary.split_lists.get("xlsx_control_characters_removed"):
                summary.warnings.append(f"{cleaned} cells of the .xlsx lists held control "
                                        "characters XLSX cannot store: they were removed "
                                        "(the CSV lists keep them)")
            from rcsqualify.report.movement import record_movement

            moved = record_movement(Path(s.split_dir), result.distinct.key,
                                    result.distinct.reason)
            movement = moved.to_dict() if moved is not None else None
        context = render_context(s, summary, movement, started)
        if s.notify:  # before the reports: a failed post is a warning in every one
            from rcsqualify.alerting import alert_run, check_monitoring

            assert context.generated_at is not None
            alert_run(s, summary, check_monitoring(s), context.generated_at)
        for report in report_outputs(s, summary, context):
            write_report(report)  # "-": standard output
        return CheckRun(summary=summary, result=result, source=source, movement=movement)
    finally:
        source.close()




def lookup_cost(s: Settings, service: str, n: int) -> dict[str, Any]:
    """What asking ``n`` numbers of ``service`` costs at the configured quota: requests,
    seconds and the paced rate (bulk: jobs and the window; RBM batch: batchGet calls),
    as the provider registry's ``plan`` says. The one planner of ``--dry-run`` and of an
    undecided verdict's next steps."""
    from rcsqualify.providers import lookup_plan

    return lookup_plan(s, service, n).as_dict()


#: a base whose unresolved messages take longer than this to check one by one at the
#: quota is pointed to the nightly bulk job as well (Orange reserves the single look-up
#: for tests; the bulk job runs 22:00–07:00 Paris time)
BULK_ADVICE_SECONDS = 3600.0
#: under this, checking every unresolved message is cheap enough to be the next step:
#: exact answers for everyone beat a bound for the same minute
SAMPLE_ADVICE_SECONDS = 60.0


def next_steps(s: Settings, summary: Summary) -> list[dict[str, Any]]:
    """An undecided run's next steps, cheapest first, costed by ``lookup_cost``.

    - ``check``: every unresolved message asked one by one with the run's per-number
      provider (BotHub for an offline run whose target is Orange, RBM otherwise); a
      number whose operator look-up failed needs that look-up again too;
    - ``retry`` instead when the run did ask and some checks failed: the answers so far
      are cached, so the re-run asks only what is still unresolved;
    - ``sample_auto`` when checking them all takes over a minute and ``--sample auto``
      expects fewer look-ups (``sample_auto_lookups``);
    - ``bulk``: the nightly BotHub bulk job, when checking one by one takes over an hour.
    """
    if summary.decision != "undecided":
        return []
    unresolved = summary.counts.get("unverified", 0)
    if not unresolved:
        return []
    from rcsqualify.providers import CAPABILITY

    if s.capability == "none" or not CAPABILITY[s.capability].per_number:
        capability = "bothub" if s.operator == "FRTE" else "rbm"
    else:
        capability = s.capability
    lookups = unresolved + summary.reasons.get("operator_error", 0)
    cost = lookup_cost(s, capability, lookups)
    kind = "retry" if summary.incomplete and s.capability == capability else "check"
    steps: list[dict[str, Any]] = [{"kind": kind, "option": f"--capability {capability}",
                                    "lookups": lookups, "seconds": cost["seconds"],
                                    "rate": s.rate}]
    auto = (sample_auto_lookups(s, summary)
            if cost["seconds"] > SAMPLE_ADVICE_SECONDS and not s.sample_auto else None)
    if auto is not None and auto < lookups:
        option = "--sample auto" if s.capability == capability else \
            f"--capability {capability} --sample auto"
        steps.insert(0, {"kind": "sample_auto", "option": option, "lookups": auto,
                         "seconds": lookup_cost(s, capability, auto)["seconds"],
                         "rate": s.rate})
    more = more_sampling(s, summary, lookups) if s.sample_auto else None
    if more is not None:
        steps.insert(0, {**more, "seconds": lookup_cost(s, capability, more["lookups"])[
            "seconds"], "rate": s.rate})
    if capability == "bothub" and cost["seconds"] > BULK_ADVICE_SECONDS:
        steps.append({"kind": "bulk", "option": "--capability bothub-bulk",
                      "lookups": lookups, "seconds": None, "rate": s.rate})
    return steps


def plan_from_summary(s: Settings, summary: Summary, *, guess: float | None,
                      sample_max: int) -> dict[str, Any]:
    """The planner (``sequential.plan_lookups``) on a finished run's counts: what is
    known is exact, the unverified messages are the population to draw from."""
    from rcsqualify.sequential import plan_lookups

    unresolved = summary.counts.get("unverified", 0)
    messages = summary.counts.get("messages", 0)
    return plan_lookups(exact_fail=round(summary.error_ratio * messages),
                        exact_total=messages - unresolved, unresolved=unresolved,
                        threshold=summary.threshold, confidence=s.confidence, guess=guess,
                        sample_max=sample_max, seed=s.seed)


def more_sampling(s: Settings, summary: Summary, lookups: int) -> dict[str, Any] | None:
    """A ``--sample auto`` run that stopped at its cap: the cap that would decide it in
    95 % of the planner's runs, from where it stopped (what it drew is now cached, hence
    exact), assuming the rest fail as often as the messages now known. None when a cap
    of ten times the default (or the current one) would still leave over 5 % of runs
    undecided, or when it would cost more than checking them all."""
    unresolved = summary.counts.get("unverified", 0)
    expected = plan_from_summary(s, summary, guess=None, sample_max=min(
        unresolved, 10 * max(s.sample_max, SAMPLE_MAX)))
    if expected["decided_share"] < 0.95 or expected["median"] >= lookups:
        return None
    return {"kind": "sample_auto", "lookups": int(expected["median"]),
            "option": f"--sample auto --sample-max {max(expected['p95'], 1)}"}


def sample_auto_lookups(s: Settings, summary: Summary) -> int | None:
    """Median numbers ``--sample auto`` would draw to decide this base (the planner of
    ``--dry-run --sample auto``, ``sequential.plan_lookups``), or None when most of its
    simulated runs would not decide within ``--sample-max``: then it is no next step.

    The unresolved are assumed to fail at the threshold's rate, the planner's slowest
    guess when nothing is known about them: the known messages are no guide (they are
    the invalid, non-mobile and other-operator ones, which is why they are known), and a
    cost must not be promised lower than it may be."""
    expected = plan_from_summary(s, summary, guess=summary.threshold,
                                 sample_max=s.sample_max)
    return int(expected["median"]) if expected["decided_share"] >= 0.5 else None
