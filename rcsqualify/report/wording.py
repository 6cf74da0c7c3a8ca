"""The sentences every report shares: the verdict, the send plan and how long sending takes.

Terminal, Markdown, JUnit, annotations and HTML say the same thing in the same words;
each escapes these plain-text lines for its own format (they can carry a server's
note, through ``Summary.notes``).
"""

from __future__ import annotations

from rcsqualify.report.escape import plain_line
from rcsqualify.report.summary import Summary


def threshold_text(threshold: float) -> str:
    """``15%`` for a whole percentage, ``12.50%`` otherwise."""
    whole = round(threshold * 100, 9) == int(round(threshold * 100, 9))
    return f"{threshold:.0%}" if whole else f"{threshold:.2%}"


def duration_text(seconds: float | None) -> str:
    """How long sending takes: ``2 h 05 min``, ``3 min 07 s`` (in both languages); ``-``
    when unknown."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s"


def gated_phrase(s: Summary) -> str:
    """What the gate compared, named for what it is."""
    unverified = s.counts.get("unverified", 0)
    if s.gate_mode == "upper":
        return (f"worst-case error ratio {s.gate_ratio:.2%} ({unverified} unverified "
                "messages counted as failures)")
    if s.interval:
        return (f"projected error ratio {s.error_ratio:.2%} (95 % interval up to "
                f"{s.gate_ratio:.2%}, the end the gate uses)")
    return f"projected error ratio {s.error_ratio:.2%}"


def unverified_phrase(s: Summary) -> str:
    """How much is unverified and what it could do to the ratio; empty when nothing is."""
    unverified = s.counts.get("unverified", 0)
    messages = s.counts.get("messages", 0)
    if not unverified or not messages:
        return ""
    why = ("not checked for RCS (offline run)" if s.capability == "none"
           else "unverified (not checked or not answered)")
    return (f"{unverified} of {messages} messages ({unverified / messages:.1%}) are {why}: "
            f"up to {s.error_ratio_upper:.2%} if they all fail")


def verdict_line(s: Summary) -> str:
    """One line: PASS/FAIL/INCOMPLETE, the gated figure, and what it leaves out."""
    thr = threshold_text(s.threshold)
    gated = gated_phrase(s)
    unverified = unverified_phrase(s)
    if s.gate == "fail":
        advice = ("check capability or send only send_rcs" if s.gate_mode == "upper"
                  else "qualify or clean the base before sending")
        return (f"FAIL: {gated} is over the {thr} threshold "
                f"({s.counts['messages']} messages); {advice}")
    if s.gate == "incomplete":
        why = f" ({plain_line(s.notes[0])})" if s.notes else ""  # a server's words
        kept = ("answers so far are cached" if s.answers_kept else
                "this run's answers are not in the cache: a re-run asks them again")
        return (f"INCOMPLETE: {gated} ≤ {thr} so far, but some checks could not be "
                f"done{why}; re-run to finish ({kept})")
    line = f"PASS: {gated} ≤ {thr} threshold"
    if unverified and s.gate_mode == "known":
        line += f", but {unverified} (--gate upper gates on that)"
    return line


def send_plan_line(s: Summary) -> str:
    """"send send_rcs (N messages): projected error ratio R; adding the unverified (M
    more): up to U" — what to do, before the diagnosis."""
    plan = s.send_plan
    if not plan:
        return ""
    send, more = plan["send_rcs"], plan["with_unverified"]
    added = more["messages"] - send["messages"]
    line = (f"send send_rcs ({send['messages']} messages): projected error ratio "
            f"{send['error_ratio']:.2%}")
    if added:
        line += (f"; adding the unverified ({added} more): up to "
                 f"{more['error_ratio_upper']:.2%}")
    else:
        line += "; no unverified message to add"
    return line
