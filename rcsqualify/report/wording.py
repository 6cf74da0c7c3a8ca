"""The sentences every report shares: the verdict, the send plan and how long sending takes.

Terminal, Markdown, JUnit, annotations and HTML say the same thing in the same words;
each escapes these plain-text lines for its own format (they can carry a server's
note, through ``Summary.notes``).
"""

from __future__ import annotations

import math
from typing import Any

from rcsqualify.l10n import counted
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
    """What the gate compared, named for what it is (JUnit's figures)."""
    b = s.bounds
    if s.gate_mode == "upper":
        return (f"worst-case error ratio {s.gate_ratio:.2%} ("
                + counted(s.counts.get("unverified", 0), "en",
                          "unverified message counted as a failure",
                          "unverified messages counted as failures") + ")")
    if s.gate_mode == "known":
        if s.interval:
            return (f"projected error ratio {s.error_ratio:.2%} (interval up to "
                    f"{s.gate_ratio:.2%}, the end the gate uses)")
        return f"projected error ratio {s.error_ratio:.2%}"
    return f"error ratio between {b.get('low', 0.0):.2%} and {b.get('high', 0.0):.2%}"


def unverified_phrase(s: Summary) -> str:
    """How much is unverified and what it could do to the ratio; empty when nothing is."""
    unverified = s.counts.get("unverified", 0)
    messages = s.counts.get("messages", 0)
    if not unverified or not messages:
        return ""
    why = ("not checked for RCS (offline run)" if s.capability == "none"
           else "unverified (not checked or not answered)")
    are, they = ("is", "it fails") if unverified == 1 else ("are", "they all fail")
    return (f"{unverified:,} of {_messages(messages)} ({unverified / messages:.1%}) {are} "
            f"{why}: up to {s.error_ratio_upper:.2%} if {they}")


def approx_duration(seconds: float) -> str:
    """``~5 s``, ``~3 min``, ``~4 h 45 min``: a cost, rounded up (never promises less)."""
    s = max(1, math.ceil(seconds))
    if s < 60:
        return f"~{s} s"
    if s < 3600:
        return f"~{math.ceil(s / 60)} min"
    minutes = math.ceil(s / 60)
    return f"~{minutes // 60} h {minutes % 60:02d} min"


def kept_text(s: Summary) -> str:
    """Whether a re-run starts from this run's answers: said only when one was read back
    from the cache (``Summary.answers_kept``)."""
    return ("answers so far are cached" if s.answers_kept else
            "this run's answers are not in the cache: a re-run asks them again")


def _lookups(n: int) -> str:
    return counted(n, "en", "look-up", "look-ups")


def step_text(step: dict[str, Any], kept: str = "answers so far are cached") -> str:
    """One next step (``costs.next_steps``) in words, with its cost at the quota."""
    rate = f"{step['rate']:g}/s"
    if step["kind"] == "sample_auto":
        return (f"decide with {step['option']} (about {_lookups(step['lookups'])}, "
                f"{approx_duration(step['seconds'])} at {rate})")
    if step["kind"] == "bulk":
        return f"tonight's bulk job ({step['option']})"
    if step["kind"] == "retry":
        return (f"re-run to finish ({kept}): {_lookups(step['lookups'])}, "
                f"{approx_duration(step['seconds'])} at {rate}")
    return (f"check them: {step['option']} ({_lookups(step['lookups'])}, "
            f"{approx_duration(step['seconds'])} at {rate})")


def next_step_text(s: Summary) -> str:
    """The next steps of an undecided run, cheapest first: ``Check them: … , or …``."""
    texts = [step_text(step, kept_text(s)) for step in s.next_steps]
    if not texts:
        return ""
    line = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + ", or " + texts[-1]
    return line[:1].upper() + line[1:]


def _failed_text(s: Summary) -> str:
    """What could not be done, for an incomplete run (a server's words, one line)."""
    if not s.incomplete:
        return ""
    why = f": {plain_line(s.notes[0])}" if s.notes else ""
    return f"; some checks could not be done{why}"


def _messages(n: int) -> str:
    """``1 message``, ``2,000 messages``: the report's noun agreeing with its count."""
    return counted(n, "en", "message", "messages")


def verdict_line(s: Summary) -> str:
    """One plain sentence: the decision, what is known and what is not, and for an
    undecided run the next step with its cost. No list names, one ratio or one range."""
    thr = threshold_text(s.threshold)
    messages = s.counts.get("messages", 0)
    unresolved = s.counts.get("unverified", 0)
    low, high = s.bounds.get("low", s.error_ratio), s.bounds.get("high", s.error_ratio_upper)
    of = f"of the {_messages(messages)}"
    sampled = ("" if not s.interval
               else " (the --sample auto bound, valid wherever it stopped)"
               if s.interval.get("method") == "sample auto"
               else " (a fixed sample's interval)")
    failed = _failed_text(s)
    if s.decision == "fail":
        if s.gate_mode == "upper" and s.interval:
            return (f"FAIL: up to {s.gate_ratio:.2%} {of} could fail{sampled}, over the "
                    f"{thr} threshold (--gate upper counts undecided as a failure); "
                    f"sample more or send only the reachable ones{failed}")
        if s.gate_mode == "upper":
            return (f"FAIL: up to {s.gate_ratio:.2%} {of} would fail if the {unresolved:,} "
                    f"not checked all fail (--gate upper), over the {thr} threshold; check "
                    f"them or send only the reachable ones{failed}")
        if s.gate_mode == "known" and s.interval:  # the bound's high end, not a floor
            return (f"FAIL: up to {s.gate_ratio:.2%} {of} could fail{sampled}, over the "
                    f"{thr} threshold (--gate known compares the bound's high end); "
                    f"sample more or send only the reachable ones{failed}")
        exact = s.gate_mode == "known" and not s.interval
        what = f"{s.gate_ratio:.2%}" if exact else f"at least {s.gate_ratio:.2%}"
        # offline, no number is known reachable yet: say how to find them
        send = ("send only the reachable ones" if s.capability != "none" else
                "check RCS capability (--capability) and send only the reachable ones")
        return (f"FAIL: {what} {of} would fail{sampled}, over the {thr} threshold; clean "
                f"the base or {send}{failed}")
    if s.decision == "pass":
        if s.gate_mode == "known" and unresolved:
            return (f"PASS: {s.error_ratio:.2%} {of} are known to fail, within the {thr} "
                    f"threshold (--gate known), but {unverified_phrase(s)}{failed}")
        if s.interval:  # a bound, not the worst case of every unchecked message
            return (f"PASS: at most {s.gate_ratio:.2%} {of} would fail{sampled}, within "
                    f"the {thr} threshold{failed}")
        if unresolved:
            return (f"PASS: at most {s.gate_ratio:.2%} {of} would fail, even if "
                    f"the {unresolved:,} not checked all fail, within the {thr} "
                    f"threshold{failed}")
        return f"PASS: {s.error_ratio:.2%} {of} would fail, within the {thr} threshold{failed}"
    # undecided
    if s.gate_mode == "known" or not unresolved:
        why = ("the cache failed mid-run" if s.failed_checks.get("cache")
               else "some checks could not be done")
        note = f" ({plain_line(s.notes[0])})" if s.notes else ""  # a server's words
        line = (f"UNDECIDED: {s.error_ratio:.2%} {of} are known to fail, within the {thr} "
                f"threshold, but {why}{note}")
    else:
        line = (f"UNDECIDED: between {low:.2%} and {high:.2%} {of} would fail{sampled} "
                f"({_messages(unresolved)} not checked), against the {thr} "
                f"threshold{failed}")
    step = next_step_text(s)
    return f"{line}. {step}" if step else line


def send_plan_line(s: Summary) -> str:
    """"send the send_rcs list, the messages confirmed RCS-reachable (N messages): projected
    error ratio R; adding the unverified, …(M more): up to U" — what to do, each list
    named with what it holds where it is first shown."""
    plan = s.send_plan
    if not plan:
        return ""
    send, more = plan["send_rcs"], plan["with_unverified"]
    added = more["messages"] - send["messages"]
    line = (f"send the send_rcs list, the messages confirmed RCS-reachable "
            f"({_messages(send['messages'])}): projected error ratio {send['error_ratio']:.2%}")
    if added:
        line += (f"; adding the unverified, those not confirmed either way ({added:,} more): "
                 f"up to {more['error_ratio_upper']:.2%}")
    else:
        line += "; no unverified message to add"
    return line


def contacts_line(s: Summary, lang: str = "en") -> str:
    """A run grouped into contacts (docs/contacts.md), in one sentence: contacts,
    messages, duplicate contacts and the contacts a later number rescued; "" for a run
    of one column without a contact id (its rows are its contacts)."""
    if "contacts" not in s.counts:
        return ""
    c = s.counts
    n = {k: int(c.get(k, 0)) for k in ("contacts", "messages", "duplicates", "rescued")}
    if lang == "fr":
        return (f"{counted(n['contacts'], lang, 'contact', 'contacts')} = "
                f"{counted(n['messages'], lang, 'message', 'messages')} + "
                f"{counted(n['duplicates'], lang, 'contact', 'contacts')} en double (un "
                "message par contact, à son numéro choisi) ; "
                f"{counted(n['rescued'], lang, 'contact sauvé', 'contacts sauvés')} par "
                "un autre de leurs numéros.")
    return (f"{counted(n['contacts'], lang, 'contact', 'contacts')} = "
            f"{counted(n['messages'], lang, 'message', 'messages')} + "
            f"{counted(n['duplicates'], lang, 'duplicate contact', 'duplicate contacts')} "
            "(one message per contact, to its chosen number); "
            f"{counted(n['rescued'], lang, 'contact', 'contacts')} rescued by a second "
            "number.")


def phone_columns_text(info: dict[str, Any]) -> str:
    """The phone column a report names, or the phone columns in priority order when
    rows were grouped into contacts (``input.phone_columns``)."""
    columns = info.get("phone_columns")
    return ", ".join(str(c) for c in columns) if columns else str(info.get("column", ""))
