"""Runs a ``check``: builds the sources and providers from the settings (the provider
registry, ``providers.py``), runs the pipeline, summarizes, writes the outputs
(``outputs.py``). ``result.run`` wraps it into the ``Result`` that the CLI renders and
the Python API returns. Its neighbours: ``validation.py`` (option checks before anything is read),
``display.py`` (progress on stderr), ``costs.py`` (next steps and their cost),
``dryrun.py`` (``--dry-run``)."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rcsqualify.ci import (
    check_report_paths,
)
from rcsqualify.contacts import ContactSource
from rcsqualify.costs import next_steps
from rcsqualify.errors import InputError, RcsQualifyError
from rcsqualify.files import cannot_write, make_folder
from rcsqualify.notes import note
from rcsqualify.numbering.plan import NumberingPlan, load_plan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.outputs import write_outputs
from rcsqualify.pipeline import CheckResult
from rcsqualify.report.summary import Summary, campaign_projection, summarize
from rcsqualify.report.xlsx_output import refuse_oversized
from rcsqualify.settings import Settings, input_notes
from rcsqualify.validation import refuse_overwrites, validate_settings

if TYPE_CHECKING:  # an offline run imports neither the HTTP stack nor rich
    import pyarrow as pa

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


class Reporter(Protocol):
    """Where a run says how far it got and what it noticed: the CLI's bars and lines on
    stderr (``display.ProgressReporter``), or the Python API's callback and list
    (``api.py``), which print nothing."""

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        """Progress of a stage (``read``, ``mnp``, ``capability``)."""

    def notify(self, message: str) -> None:
        """A notice from a provider or the HTTP layer (an HTTP 429 pause...)."""

    def note(self, message: str) -> None:
        """A note on how the input was read."""

    def running(self) -> AbstractContextManager[Any]:
        """Held while the pipeline runs (the bars are shown meanwhile)."""


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


def open_contacts(s: Settings, data: pa.Table | None = None, fmt: str | None = None
                  ) -> ContactSource:
    """The input as the reading options say (a check and a dry run read it alike);
    ``data``: contacts in memory (the Python API), of format ``fmt``, ``s.input``
    naming them."""
    skip, header_row, header = s.skip_rows, s.header_row, s.header
    # two of --skip-rows / --header-row / --no-header, one from the profile and one
    # typed: the typed one wins, as any option over its profile's value (the profile's
    # was refused as a contradiction, which the user never wrote)
    profile = s.run.from_profile
    if skip is not None and header_row is not None and (
            ("skip_rows" in profile) != ("header_row" in profile)):
        if "skip_rows" in profile:
            skip = None
        else:
            header_row = None
    if header is False and header_row is not None and (
            ("header" in profile) != ("header_row" in profile)):
        if "header" in profile:
            header = None
        else:
            header_row = None
    if header_row is not None:
        if skip is not None:
            raise InputError("--skip-rows and --header-row say the same thing: give one")
        if header is False:  # read row N as a contact: --skip-rows N-1 --no-header
            raise InputError(f"--header-row {header_row} says row {header_row} is the "
                             "header and --no-header that there is none: give one")
        if header_row < 1:
            raise InputError("--header-row counts from 1 (the first row)")
        skip = header_row - 1
    if skip is not None and skip < 0:
        raise InputError("--skip-rows must be 0 or more")
    given = s.column
    columns = [given] if isinstance(given, str) else list(given or [])
    return ContactSource(s.input, column=columns[0] if columns else None,
                         more_columns=columns[1:], all_phone_columns=s.columns == "auto",
                         contact_id=s.contact_id, number_rank=s.number_rank,
                         encoding=s.encoding, delimiter=s.delimiter, sheet=s.sheet,
                         fmt=fmt if data is not None else s.input_format,
                         # --header-row N says row N is the header: not re-read as a
                         # contact when its cell above the phone column is no label
                         header=True if header is None and header_row is not None
                         else header, skip_rows=skip, table=data,
                         skip_option="--skip-rows" if header_row is None else "--header-row")


def run_check(s: Settings, reporter: Reporter, data: pa.Table | None = None,
              fmt: str | None = None) -> CheckRun:
    """Run the check and write its outputs: what ``result.run`` wraps, the one run of
    ``rcsqualify check`` and of ``rcsqualify.qualify`` (``data``/``fmt``: contacts in
    memory, see ``open_contacts``). A run that concludes nothing (an error, a lock, Ctrl-C) still
    replaces ``--metrics-file`` with what it can say."""
    try:
        return _execute_check(s, reporter, data, fmt)
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


def _execute_check(s: Settings, reporter: Reporter, data: pa.Table | None,
                   fmt: str | None) -> CheckRun:
    validate_settings(s)
    if s.notify:  # an unset env: variable or a URL that is not http(s): exit 2 now
        from rcsqualify.alerting import check_monitoring

        check_monitoring(s)
    if not s.split_dir:
        return _checked(s, reporter, data, fmt)
    from rcsqualify.files import hold_lock
    from rcsqualify.report.split import LISTS_LOCK

    lists = Path(s.split_dir)
    try:
        # its lock lives there: created (and said, as a notice) before the run
        make_folder(lists, reporter.notify)
    except OSError as exc:
        raise cannot_write(lists, exc) from exc
    # one run at a time writes a list directory (refresh takes the same lock)
    with hold_lock(lists / LISTS_LOCK, s.wait_lock,
                   f"another run is writing the lists in {lists} (lock {lists / LISTS_LOCK}); "
                   "this run did nothing (--wait-lock SECONDS to wait for it)"):
        return _checked(s, reporter, data, fmt)


def _checked(s: Settings, reporter: Reporter, data: pa.Table | None, fmt: str | None
             ) -> CheckRun:
    started = time.monotonic()
    plan = load_plan()
    source = open_contacts(s, data, fmt)
    try:  # a sheet too long for an .xlsx output: exit 2 before any look-up
        refuse_oversized(s.output, source)
    except BaseException:
        source.close()
        raise
    shared: Shared | None = None
    if s.remote:
        from rcsqualify.wiring import open_shared

        try:
            shared = open_shared(s)
        except BaseException:
            source.close()  # a spooled stdin never outlives a failed start (CONTRACT §11)
            raise

    notify = reporter.notify
    answers_kept = True
    cache = shared.cache if shared is not None else None
    quota = shared.quota if shared is not None else None
    if quota is not None:
        quota.notify = notify  # "quota no longer shared across hosts", when it happens
    try:
        for line in input_notes(s, source.format):
            reporter.note(line)
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
            result.notes.insert(0, note("cache_failed", location=cache.location,
                                        why=cache.degraded))
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
        movement = write_outputs(s, source, result, plan, summary, started,
                                 say=reporter.notify)
        return CheckRun(summary=summary, result=result, source=source, movement=movement)
    finally:
        source.close()


