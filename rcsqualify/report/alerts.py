"""When a run tells someone, and what it says (``--notify``, issue #27 item 4).

Pure: the previous run and this one in, the alert (or None) and its payloads out; the
wiring posts them (``remote/webhook.py``) and keeps the previous run (``alerting.py``).

When. A run alerts when its decision differs from the previous run of the same list
(pass → fail or undecided, and back), or when its ``error_ratio`` (the share known to
fail) crosses the warning line ``--warn-at`` either way. Without a previous run (the
first one, or a CI runner that keeps nothing), it alerts when the decision is not
``pass`` or the ratio is at or over ``--warn-at``: nobody has been told yet. A run that
concluded nothing (exit 2, 4) never alerts and is never "previous".

Hysteresis. The warning is *raised* when the ratio reaches ``--warn-at`` and *cleared*
only when it falls under ``warn_at - WARN_MARGIN`` (``clear_below``: one percentage
point, or half the line when the line is under 2 %); in between, it stays as it was.
So a ratio that wavers around the line (11.9 %, 12.1 %, 11.9 %… with the default 12 %)
alerts once, when it first reaches 12 %, and once more only when it is back under
11 %; never every night. Whether the warning is raised is kept with the previous run
(``RunState.warned``; a refresh log, which does not store it, is replayed from its
first run of the list).

What. The list's label (its file name and a short hash of its resolved path:
``masking.list_label``), the decision and the previous one, the ratios, the threshold,
the messages by status, the version and the time: counts only, never a phone number,
never a cell, never a path beyond the file name.

The file name is the user's text inside a chat message: in the Slack and Teams shapes
it is never markdown. It goes only into plain-text elements (Slack: a ``plain_text``
section and the fallback ``text`` with ``"mrkdwn": false``; Teams: a ``RichTextBlock``
``TextRun``, which Adaptive Cards never parse as markdown), with Slack's ``& < >``
escaped and any ``://`` broken by a zero-width space so no URL in it is linked: a file
named ``*bold*[x](http://evil)`` shows as those characters, neither bold nor a link.

Shapes (``--notify-format``, else by the URL's host):
- ``slack``: Slack's incoming webhook, ``{"text": …, "blocks": […]}`` (hooks.slack.com;
  Mattermost and Rocket.Chat read the same shape);
- ``teams``: a Microsoft Teams incoming webhook or Workflows trigger, a message with one
  Adaptive Card attachment (hosts ``*.webhook.office.com``, ``outlook.office.com``,
  ``*.logic.azure.com``, ``*.powerplatform.com``);
- ``json``: every field above as one JSON object, for anything else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from rcsqualify.defaults import NOTIFY_FORMATS
from rcsqualify.report.summary import Summary
from rcsqualify.report.wording import threshold_text
from rcsqualify.verdict import STATUSES

FORMATS = NOTIFY_FORMATS
_TEAMS_HOSTS = ("webhook.office.com", "outlook.office.com", "outlook.office365.com",
                "logic.azure.com", "powerplatform.com")


@dataclass(frozen=True)
class RunState:
    """What an alert compares with: a previous run's decision and ratio."""

    decision: str
    error_ratio: float
    at: str = ""  # ISO time, UTC
    #: whether the warning was raised after that run (see Hysteresis); None when its
    #: record does not say (a state file of an older version): judged by its ratio
    warned: bool | None = None


#: the warning is cleared only under ``warn_at - WARN_MARGIN`` (one percentage point):
#: a ratio wavering around the line alerts once, not every night (see Hysteresis)
WARN_MARGIN = 0.01


def clear_below(warn_at: float) -> float:
    """The ratio under which a raised warning is cleared: ``warn_at - WARN_MARGIN``, or
    half ``warn_at`` when the line is under two margins (a 1 % line clears under 0.5 %,
    never under 0)."""
    return warn_at - min(WARN_MARGIN, warn_at / 2)


def warned_after(was_warned: bool, error_ratio: float, warn_at: float) -> bool:
    """Whether the warning is raised after a run of ``error_ratio``: reached at
    ``warn_at``; kept, once raised, until the ratio falls under ``clear_below``."""
    if error_ratio >= warn_at:
        return True
    return was_warned and error_ratio >= clear_below(warn_at)


def was_warned(previous: RunState | None, warn_at: float) -> bool:
    """Whether the warning stood after the previous run (none: it was never raised)."""
    if previous is None:
        return False
    if previous.warned is not None:
        return previous.warned
    return previous.error_ratio >= warn_at


@dataclass(frozen=True)
class Alert:
    list_name: str
    profile: str
    decision: str
    previous_decision: str | None
    error_ratio: float
    error_ratio_upper: float
    threshold: float
    warn_at: float
    exit_code: int
    version: str
    at: str
    reasons: list[str]
    messages: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["list"] = data.pop("list_name")
        return {"tool": "rcsqualify", **data}


def alert_reasons(previous: RunState | None, decision: str, error_ratio: float,
                  warn_at: float) -> list[str]:
    """Why this run alerts, in words (empty: it does not)."""
    over = error_ratio >= warn_at
    if previous is None:
        out = []
        if decision != "pass":
            out.append(f"decision {decision.upper()} (no previous run to compare with)")
        if over:
            out.append(f"error ratio {error_ratio:.2%} at or over the {threshold_text(warn_at)} "
                       "warning line (no previous run to compare with)")
        return out
    out = []
    if previous.decision != decision:
        out.append(f"decision changed: {previous.decision.upper()} → {decision.upper()}")
    was = was_warned(previous, warn_at)
    now = warned_after(was, error_ratio, warn_at)
    if now and not was:
        out.append(f"error ratio rose over the {threshold_text(warn_at)} warning line: "
                   f"{previous.error_ratio:.2%} → {error_ratio:.2%}")
    elif was and not now:
        out.append(f"error ratio fell under the {threshold_text(warn_at)} warning line (cleared "
                   f"under {clear_below(warn_at):.1%}): {previous.error_ratio:.2%} → "
                   f"{error_ratio:.2%}")
    return out


def build_alert(s: Summary, *, list_name: str, profile: str, previous: RunState | None,
                warn_at: float, now: datetime) -> Alert | None:
    reasons = alert_reasons(previous, s.decision, s.error_ratio, warn_at)
    if not reasons:
        return None
    return Alert(list_name=list_name, profile=profile, decision=s.decision,
                 previous_decision=previous.decision if previous else None,
                 error_ratio=round(s.error_ratio, 6),
                 error_ratio_upper=round(s.error_ratio_upper, 6), threshold=s.threshold,
                 warn_at=warn_at, exit_code=s.exit_code,
                 version=str(s.tool.get("version", "")),
                 at=now.isoformat(timespec="seconds"), reasons=reasons,
                 messages={k: int(s.counts.get(k, 0)) for k in STATUSES})


def format_for(url: str, forced: str = "auto") -> str:
    """The payload shape for ``url``: ``forced`` unless ``auto``, else by host."""
    if forced != "auto":
        return forced
    host = (urlsplit(url).hostname or "").lower()
    if host == "hooks.slack.com":
        return "slack"
    if any(host == h or host.endswith("." + h) for h in _TEAMS_HOSTS):
        return "teams"
    return "json"


def _title(a: Alert) -> str:
    return f"rcsqualify: {a.list_name}: {a.decision.upper()}"


def _facts(a: Alert) -> list[tuple[str, str]]:
    return [("Decision", a.decision.upper() + (f" (was {a.previous_decision.upper()})"
                                                 if a.previous_decision else "")),
            ("Known to fail", f"{a.error_ratio:.2%}"),
            ("Could fail", f"{a.error_ratio_upper:.2%}"),
            ("Threshold", threshold_text(a.threshold)), ("Warning line", threshold_text(a.warn_at)),
            ("Messages", ", ".join(f"{k} {v}" for k, v in a.messages.items() if v) or "0"),
            ("Version", a.version), ("At", a.at)]


def _slack_escape(text: str) -> str:
    # Slack's three control characters (mrkdwn and plain text alike); the rest is literal
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unlinked(text: str) -> str:
    """``text`` with every ``://`` broken by a zero-width space: a chat client links
    ``scheme://…`` even in plain text, and a file name is not a link to follow."""
    return text.replace("://", ":\u200b//")


def payload(a: Alert, shape: str) -> dict[str, Any]:
    """The JSON body for one webhook of ``shape`` (slack, teams or json). In the chat
    shapes, the title (which holds the user's file name) is plain text only; the
    markdown parts (reasons, facts) are our own words and numbers."""
    title = _unlinked(_title(a))
    if shape == "slack":
        reasons = "\n".join(f"• {_slack_escape(r)}" for r in a.reasons)
        facts = "\n".join(f"*{k}*: {_slack_escape(v)}" for k, v in _facts(a))
        return {"text": _slack_escape(title + ": " + "; ".join(a.reasons)),
                "mrkdwn": False,  # the fallback text is literal (it holds the file name)
                "blocks": [{"type": "section", "text": {"type": "plain_text",
                                                        "text": _slack_escape(title),
                                                        "emoji": False}},
                           {"type": "section", "text": {"type": "mrkdwn",
                                                        "text": reasons}},
                           {"type": "section", "text": {"type": "mrkdwn", "text": facts}}]}
    if shape == "teams":
        card = {"type": "AdaptiveCard", "version": "1.4",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                # a TextRun is never markdown (a TextBlock is): the file name stays text
                "body": [{"type": "RichTextBlock", "inlines": [
                             {"type": "TextRun", "text": title, "weight": "Bolder",
                              "size": "Medium"}]},
                         *({"type": "TextBlock", "text": r, "wrap": True}
                           for r in a.reasons),
                         {"type": "FactSet", "facts": [{"title": k, "value": v}
                                                       for k, v in _facts(a)]}]}
        return {"type": "message", "summary": title,
                "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                 "contentUrl": None, "content": card}]}
    if shape == "json":
        return a.to_dict()
    raise ValueError(f"unknown notification format {shape!r}")


def previous_from_log(lines: list[str], list_name: str, warn_at: float,
                      label: str | None = None) -> RunState | None:
    """The last run of the list in a refresh log (JSON lines) that concluded with a
    decision, and whether the warning stood after it (the log's runs of the list
    replayed through ``warned_after``); damaged lines are skipped (the log is read,
    never trusted). A line is the list's when its ``list`` is ``label`` (the file name
    and a hash of the path: two lists of one name in one log stay apart), or, for a
    line written before lines had a ``list``, when its ``base`` is ``list_name``."""
    import json

    last: RunState | None = None
    warned = False
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if "list" in entry and label is not None:
            if entry["list"] != label:
                continue
        elif entry.get("base") != list_name:
            continue
        decision, ratio = entry.get("decision"), entry.get("error_ratio")
        if decision in ("pass", "fail", "undecided") and isinstance(ratio, int | float) \
                and not isinstance(ratio, bool):
            warned = warned_after(warned, float(ratio), warn_at)
            last = RunState(decision, float(ratio), str(entry.get("at", "")), warned)
    return last
