"""When a run tells someone, and what it says (``--notify``, issue #27 item 4).

Pure: the previous run and this one in, the alert (or None) and its payloads out; the
wiring posts them (``remote/webhook.py``) and keeps the previous run (``alerting.py``).

When. A run alerts when its decision differs from the previous run of the same list
(pass → fail or undecided, and back), or when its ``error_ratio`` (the share known to
fail) crosses ``--warn-at`` either way (under → at or over, and back). Without a
previous run (the first one, or a CI runner that keeps nothing), it alerts when the
decision is not ``pass`` or the ratio is at or over ``--warn-at``: nobody has been told
yet. A run that concluded nothing (exit 2, 4) never alerts and is never "previous".

What. The list's file name, the decision and the previous one, the ratios, the
threshold, the messages by status, the version and the time: counts only, never a
phone number, never a cell, never a path beyond the file name.

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
            out.append(f"error ratio {error_ratio:.2%} at or over the {warn_at:.0%} "
                       "warning line (no previous run to compare with)")
        return out
    out = []
    if previous.decision != decision:
        out.append(f"decision changed: {previous.decision.upper()} → {decision.upper()}")
    was_over = previous.error_ratio >= warn_at
    if over and not was_over:
        out.append(f"error ratio rose over the {warn_at:.0%} warning line: "
                   f"{previous.error_ratio:.2%} → {error_ratio:.2%}")
    elif was_over and not over:
        out.append(f"error ratio fell under the {warn_at:.0%} warning line: "
                   f"{previous.error_ratio:.2%} → {error_ratio:.2%}")
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
            ("Threshold", f"{a.threshold:.0%}"), ("Warning line", f"{a.warn_at:.0%}"),
            ("Messages", ", ".join(f"{k} {v}" for k, v in a.messages.items() if v) or "0"),
            ("Version", a.version), ("At", a.at)]


def _slack_escape(text: str) -> str:
    # Slack's three control characters in mrkdwn; the rest is literal
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(a: Alert, shape: str) -> dict[str, Any]:
    """The JSON body for one webhook of ``shape`` (slack, teams or json)."""
    if shape == "slack":
        lines = [f"*{_slack_escape(_title(a))}*",
                 *(f"• {_slack_escape(r)}" for r in a.reasons)]
        facts = "\n".join(f"*{k}*: {_slack_escape(v)}" for k, v in _facts(a))
        return {"text": _slack_escape(_title(a) + ": " + "; ".join(a.reasons)),
                "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                        "text": "\n".join(lines)}},
                           {"type": "section", "text": {"type": "mrkdwn", "text": facts}}]}
    if shape == "teams":
        card = {"type": "AdaptiveCard", "version": "1.4",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "body": [{"type": "TextBlock", "text": _title(a), "weight": "Bolder",
                          "size": "Medium", "wrap": True},
                         *({"type": "TextBlock", "text": r, "wrap": True}
                           for r in a.reasons),
                         {"type": "FactSet", "facts": [{"title": k, "value": v}
                                                       for k, v in _facts(a)]}]}
        return {"type": "message", "summary": _title(a),
                "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                 "contentUrl": None, "content": card}]}
    if shape == "json":
        return a.to_dict()
    raise ValueError(f"unknown notification format {shape!r}")


def previous_from_log(lines: list[str], list_name: str) -> RunState | None:
    """The last run of ``list_name`` in a refresh log (JSON lines) that concluded with a
    decision; damaged lines are skipped (the log is read, never trusted)."""
    import json

    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("base") != list_name:
            continue
        decision, ratio = entry.get("decision"), entry.get("error_ratio")
        if decision in ("pass", "fail", "undecided") and isinstance(ratio, int | float) \
                and not isinstance(ratio, bool):
            return RunState(decision, float(ratio), str(entry.get("at", "")))
    return None
