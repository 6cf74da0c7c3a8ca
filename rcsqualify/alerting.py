"""After a run: ``--notify`` (where alerts go, what the previous run was, posting them)
and ``--metrics-file`` (the metrics of the run, or of its failure).

The rule (when a run alerts, what it says, the payload shapes) is ``report/alerts.py``;
the post is ``remote/webhook.py``. This module ties them to a run:

- **Targets.** ``--notify URL`` is repeatable; a profile may name ``env:VAR`` instead of
  the URL, since a webhook URL is a credential (Slack's and Teams' carry their secret in
  the path). The variable is read here, at the last moment. An unset variable or a URL
  that is not ``http(s)://host…`` is a usage error (exit 2, before anything is read),
  named by the variable or by the URL's scheme and host only: the URL is never shown
  whole, anywhere (``NotifyTarget.shown``).
- **The previous run** of the same list: the last line for this list in the run's
  history log when it has one (``refresh --log-file``, ``check --history``; matched by
  the list's label, ``masking.list_label``), else the small state file ``alerts.json``
  in the user state directory, keyed by a hash of the base's absolute path and the
  profile (no path in clear). A cron host keeps it; a CI runner that keeps nothing
  alerts as on a first run (see ``report/alerts.py``).
- **Concurrent runs.** ``alerts.json`` holds every list's previous run: each run
  reads, changes and replaces it under the file lock ``alerts.json.lock`` beside it
  (``files.hold_lock``, the lock the list directories use), so two runs ending
  together both keep their update. The lock is held for that read and write only
  (milliseconds); one not had within ``STATE_LOCK_WAIT`` seconds is a warning, as an
  unwritable file is.
- **Failures.** A post that fails after its bounded retries is a warning line, never a
  changed exit code; the state is recorded whatever the posts did (the next run
  compares with this one, as the history log does).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from rcsqualify.errors import InputError, Locked, RcsQualifyError
from rcsqualify.files import atomic_write
from rcsqualify.masking import list_label, mask_name
from rcsqualify.notes import note
from rcsqualify.remote.policy import HttpPolicy
from rcsqualify.report.alerts import (
    RunState,
    build_alert,
    format_for,
    payload,
    previous_from_log,
    warned_after,
    was_warned,
)
from rcsqualify.report.metrics import RunLabels, format_failure, format_metrics, write_metrics
from rcsqualify.report.summary import Summary
from rcsqualify.settings import Settings

ENV_PREFIX = "env:"
STATE_FILE = "alerts.json"
#: seconds a run waits for another's hold on ``alerts.json`` (a read and a write)
STATE_LOCK_WAIT = 10.0
#: the decisions of a run that concluded (exit 0, 1, 3): the others are never "previous"
CONCLUDED = (0, 1, 3)


@dataclass(frozen=True)
class NotifyTarget:
    url: str = ""
    shown: str = ""  # what messages quote: the variable's name, or scheme://host/…

    def __repr__(self) -> str:  # never the URL, not even in a traceback or --debug
        return f"NotifyTarget({self.shown})"


def resolve_targets(specs: list[str], environ: Mapping[str, str] | None = None
                    ) -> list[NotifyTarget]:
    from rcsqualify.masking import mask_webhook_url

    env = os.environ if environ is None else environ
    out = []
    for spec in specs:
        if spec.startswith(ENV_PREFIX):
            name = spec[len(ENV_PREFIX):]
            # a secret stored with its trailing newline (echo "$URL" > secret)
            url = env.get(name, "").strip()
            if not url:
                raise InputError(f"--notify {spec}: the variable {name} is not set "
                                 "(it holds the webhook URL)")
            shown = f"{spec} ({mask_webhook_url(url)})"
        else:
            url, shown = spec, mask_webhook_url(spec)
        try:  # urlsplit raises on "http://[…"; .port on a port out of range or not a number
            parts = urlsplit(url)
            # a control character or a space: no URL holds one raw (httpx raised
            # InvalidURL out of the run after the check, an "unexpected" exit 2)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname) \
                and (parts.port is None or parts.port > 0) \
                and not any(c <= " " or c == "\x7f" for c in url)
        except ValueError:
            usable = False
        if not usable:
            what = (f"the variable {spec[len(ENV_PREFIX):]}" if spec.startswith(ENV_PREFIX)
                    else "the URL")  # never quoted: it may carry the webhook's secret
            raise InputError(f"--notify: {what} is not an http(s)://host[:port]… URL")
        out.append(NotifyTarget(url, shown))
    return out


def state_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("rcsqualify")) / STATE_FILE


def list_key(base: str, profile: str) -> str:
    """The state file's key of a list: its absolute path and profile, hashed."""
    where = base if base == "-" else os.path.abspath(base)
    return hashlib.sha256(f"{where}\0{profile}".encode()).hexdigest()[:32]


def _read_state(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def previous_run(key: str, base: str, history: Path | None, state: Path,
                 warn_at: float) -> RunState | None:
    if history is not None:
        try:  # a regular file only: reading a FIFO would wait for a writer forever
            lines = history.read_text(encoding="utf-8", errors="replace").splitlines() \
                if history.is_file() else []
        except OSError:
            lines = []
        name = Path(base).name if base != "-" else "stdin"
        found = previous_from_log(lines, name, warn_at, list_label(base))
        if found is not None:
            return found
    entry = _read_state(state).get(key)
    if isinstance(entry, dict):
        decision, ratio = entry.get("decision"), entry.get("error_ratio")
        warned = entry.get("warned")
        if decision in ("pass", "fail", "undecided") and isinstance(ratio, int | float) \
                and not isinstance(ratio, bool):
            return RunState(str(decision), float(ratio), str(entry.get("at", "")),
                            warned if isinstance(warned, bool) else None)
    return None


def record_run(state: Path, key: str, run: RunState) -> str | None:
    """Keep this run as the next one's previous, under the state file's lock (another
    run's update is read, never overwritten); a warning when the file cannot be written
    or the lock not had (alerts then compare with an older run)."""
    from rcsqualify.files import hold_lock

    entry = {"decision": run.decision, "error_ratio": round(run.error_ratio, 6),
             "at": run.at, "warned": bool(run.warned)}
    try:
        state.parent.mkdir(parents=True, exist_ok=True)
        with hold_lock(state.with_name(state.name + ".lock"), STATE_LOCK_WAIT,
                       f"another run held {state} for {STATE_LOCK_WAIT:g} s"):
            data = _read_state(state)
            data[key] = entry
            with atomic_write(state, mode=0o600) as tmp:
                tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    except Locked:
        return note("alert_state_locked", path=state, wait=STATE_LOCK_WAIT)
    except (RcsQualifyError, OSError):  # OutputError, a refused lock path
        return note("alert_state_unwritable", path=state)
    return None


Post = Callable[[str, bytes], Awaitable[tuple[bool, str]]]


def _default_post(policy: HttpPolicy) -> Post:
    from rcsqualify.remote.webhook import post_json

    async def post(url: str, body: bytes) -> tuple[bool, str]:
        result = await post_json(url, body, policy)
        return result.ok, result.error
    return post


def send_alerts(s: Summary, *, targets: list[NotifyTarget], base: str, profile: str,
                warn_at: float, notify_format: str, policy: HttpPolicy,
                history: Path | None, now: datetime, state: Path | None = None,
                post: Post | None = None) -> list[str]:
    """Post this run's alert to every target when the rule says so; the warnings."""
    if not targets or s.exit_code not in CONCLUDED:
        return []
    state = state or state_path()
    key = list_key(base, profile)
    previous = previous_run(key, base, history, state, warn_at)
    warnings: list[str] = []
    # shown to the receiver by its label: no number in it, no directory, unique
    alert = build_alert(s, list_name=list_label(base), profile=mask_name(profile),
                        previous=previous, warn_at=warn_at, now=now)
    if alert is not None:
        import asyncio  # here: a run without --notify never posts (start-up, issue #24)

        send = post or _default_post(policy)

        async def post_all() -> list[tuple[bool, str]]:
            bodies = [json.dumps(payload(alert, format_for(t.url, notify_format)),
                                 ensure_ascii=False).encode() for t in targets]
            return list(await asyncio.gather(*(send(t.url, b)
                                               for t, b in zip(targets, bodies,
                                                               strict=True))))

        for target, (ok, error) in zip(targets, asyncio.run(post_all()), strict=True):
            if not ok:
                warnings.append(note("alert_undelivered", target=target.shown,
                                     why=error or "no answer"))
    failed = record_run(state, key, RunState(
        s.decision, s.error_ratio, now.isoformat(timespec="seconds"),
        warned_after(was_warned(previous, warn_at), s.error_ratio, warn_at)))
    if failed:
        warnings.append(failed)
    return warnings


# -- after a run: the alert and the metrics file (runner.run_check) -------------------
def run_labels(s: Settings) -> RunLabels:
    """The metrics' ``list`` and ``profile`` labels: the list's label (its file name and
    a hash of its resolved path, ``masking.list_label``): two lists of one name in two
    folders are two series, never a duplicate one in a collector directory. The profile's
    name is the user's text too: a number in it is masked as in a file name."""
    return RunLabels(list_label(str(s.input)), mask_name(s.profile or ""))


def check_monitoring(s: Settings) -> list[NotifyTarget]:
    """Exit 2 before anything is read for an unusable ``--notify`` (an unset variable, not
    an http(s) URL); the targets, resolved at the last moment before the run."""
    return resolve_targets(list(s.notify or ()))


def alert_run(s: Settings, summary: Summary, targets: list[NotifyTarget],
              now: datetime) -> None:
    """Post the alert when the rule says so; a failed post is a warning of this run's
    reports (terminal, JSON, HTML), never a changed exit code."""
    if not targets:
        return
    summary.warnings.extend(send_alerts(
        summary, targets=targets, base=str(s.input), profile=s.profile or "",
        warn_at=s.warn_at, notify_format=s.notify_format, policy=s.http_policy(),
        history=s.history, now=now))


def write_run_metrics(s: Settings, summary: Summary, now: datetime, duration_s: float
                      ) -> None:
    if s.metrics_file:
        labels = run_labels(s)
        write_metrics(Path(s.metrics_file), lambda _previous: format_metrics(
            summary, labels, now=now, duration_s=duration_s))


def write_failed_metrics(s: Settings, exit_code: int, now: datetime) -> None:
    """A run that concluded nothing still says so (its exit code and time, the last
    success carried over); a metrics file that cannot be written then is not a second
    error on top of the first."""
    if not s.metrics_file:
        return
    from rcsqualify import __version__

    labels = run_labels(s)
    with contextlib.suppress(RcsQualifyError, OSError):
        write_metrics(Path(s.metrics_file), lambda previous: format_failure(
            labels, exit_code, now=now, version=__version__, previous=previous))
