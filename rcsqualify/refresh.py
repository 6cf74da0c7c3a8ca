"""Cron mode (``rcsqualify refresh``): one run at a time per list directory, the
lists rewritten, one JSON line appended to a log.

The check itself is the command line's (``result.execute_check``), called with the
settings ``check`` would have built: nothing re-enters the command line and no report
is read back from a file. Only new numbers and answers past their freshness are asked
again: the rest comes from the cache.

The log is appended to (and read back as the HTML report's trend): it is not an input,
but it is never the base nor a list. A run that fails still logs its exit code.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsqualify import __version__
from rcsqualify.errors import RcsQualifyError
from rcsqualify.masking import list_label
from rcsqualify.result import Result, execute_check
from rcsqualify.settings import Settings

if TYPE_CHECKING:  # a quiet cron run (the verdict line alone) never imports rich
    from rich.console import Console


def default_lists(base: Path) -> Path:
    return base.with_name(f"{base.stem}_lists")


def run_refresh(settings: Settings, base: Path, lists: Path, log_file: Path | None,
                wait_lock: float, console: Console) -> Result:
    """Check ``base`` into ``lists`` under the directory's lock; log one line."""
    from rcsqualify.files import hold_lock, refuse_overwrite
    from rcsqualify.report.split import LISTS_LOCK, list_paths
    from rcsqualify.validation import check_run_log

    check_run_log("--log-file", log_file)  # read as --history unless one is given
    refuse_overwrite([("the base", base)], [("--log-file", log_file), *list_paths(lists)])
    lists.mkdir(parents=True, exist_ok=True)
    with hold_lock(lists / LISTS_LOCK, wait_lock,
                   f"another refresh is running for {lists} (lock {lists / LISTS_LOCK}); "
                   "this run did nothing"):
        return _refresh(settings, base, lists, log_file, console)


def _refresh(settings: Settings, base: Path, lists: Path, log_file: Path | None,
             console: Console) -> Result:
    started = time.time()
    settings = settings.replace(input=str(base), split_dir=str(lists),
                                history=settings.history or log_file)
    try:
        run = execute_check(settings, console)
    except RcsQualifyError as exc:
        _log(log_file, base, int(exc.exit_code), started, None)
        raise
    _log(log_file, base, run.exit_code, started, run)
    return run


def _log(log_file: Path | None, base: Path, code: int, started: float,
         run: Result | None) -> None:
    if log_file is None:
        return
    # the version, so a change of ratio can be told from a change of tool; the gate
    # mode and decision, so a log reader needs no exit-code table (issue #26 item 6)
    line: dict[str, Any] = {"at": datetime.now(UTC).isoformat(timespec="seconds"),
                            "version": __version__, "base": base.name,
                            # the list's label: two bases of one name in one log stay
                            # apart when an alert looks for the previous run
                            "list": list_label(str(base)), "exit_code": code,
                            "duration_s": round(time.time() - started, 2)}
    if run is not None:
        s = run.checked.summary
        line.update({"counts": s.counts, "error_ratio": round(s.error_ratio, 6),
                     "error_ratio_upper": round(s.error_ratio_upper, 6), "gate": s.gate,
                     "gate_mode": s.gate_mode, "decision": s.decision,
                     "threshold": s.threshold, "requests": s.api.get("requests", 0),
                     "cache_hits": s.api.get("cache_hits", 0), "lists": s.split_lists,
                     # what changed since the previous run of these lists: numbers added
                     # and removed, status moves by pair (issue #27 item 6); null on the
                     # first run
                     "movement": run.checked.movement})
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
