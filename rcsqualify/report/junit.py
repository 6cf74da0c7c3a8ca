"""The JUnit XML report (``--junit-xml PATH``): what GitLab, Jenkins and most CI show
as a test report.

One test suite, ``rcsqualify``:
- ``gate``: a ``<failure type="gate">`` when the gate fails, ``type="undecided"`` when
  it cannot decide (exit 3), with the verdict and the figures;
- ``completeness``: fails when checks were asked for and some could not be done (the
  decision may still stand: the gate case says it);
- ``input.<class>``: one passing case per input problem class (each invalid and
  non-mobile reason, duplicates, each repair), its count in the property of the same
  name and in the suite's ``system-out``. Every class is listed, zeros included, so a
  CI's test history follows each class from run to run.

The document is valid under the two schemas JUnit readers enforce (issue #23 item 21;
``tests/schemas/``): Jenkins xUnit's ``junit-10.xsd`` (no attribute it does not declare:
no ``skipped`` anywhere) and the strict Apache Ant schema (``<testsuites>`` bare; the
suite with ``timestamp`` in UTC without a zone, ``hostname``, ``package`` and ``id``,
``properties`` first and ``system-out``/``system-err`` last; a test case holds at most
its ``failure``, never output).

Built with ElementTree (which escapes ``& < > "``); text from the input or a server also
goes through ``xml_text``, which drops the control characters XML 1.0 cannot hold.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from rcsqualify.report.escape import xml_text
from rcsqualify.report.summary import Summary
from rcsqualify.report.wording import gated_phrase, threshold_text, verdict_line
from rcsqualify.verdict import REASON_STATUS, REASONS, REPAIRS, Status

SUITE = "rcsqualify"
_PROBLEM_STATUSES = (Status.INVALID, Status.NOT_MOBILE)


def problem_classes(s: Summary) -> list[tuple[str, int, str]]:
    """(class, count, what it means) for every input problem class, in a fixed order."""
    out = [(reason, s.reasons.get(reason, 0), f"{REASON_STATUS[reason]} messages")
           for reason in REASONS[1:] if REASON_STATUS[reason] in _PROBLEM_STATUSES]
    out.append(("duplicates", s.counts.get("duplicates", 0),
                "rows whose number was already seen (sent once)"))
    out += [(f"repaired_{repair}", s.repaired.get(repair, 0), "cells repaired")
            for repair in REPAIRS[1:]]
    return out


def _case(suite: ET.Element, name: str, time: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", {"classname": SUITE, "name": name,
                                             "time": f"{time:.3f}"})


def format_junit(s: Summary, *, now: datetime | None = None,
                 hostname: str | None = None) -> str:
    """The report; ``now`` and ``hostname`` (the suite's ``timestamp`` and ``hostname``,
    which the Ant schema requires) default to this moment in UTC and this machine."""
    total_time = sum(s.timings.values())
    thr = threshold_text(s.threshold)
    when = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    host = " ".join(xml_text(hostname or socket.gethostname()).split()) or "localhost"
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", {"name": SUITE})
    props = ET.SubElement(suite, "properties")
    output: list[str] = []

    def _out(case: ET.Element, text: str) -> None:
        output.append(f"{case.get('name')}: {text}")
    for name, value in (
            ("input", s.input.get("path", "")), ("column", s.input.get("column", "")),
            ("gate_mode", s.gate_mode), ("decision", s.decision),
            ("threshold", f"{s.threshold:g}"),
            ("gate_ratio", f"{s.gate_ratio:.6f}"), ("error_ratio", f"{s.error_ratio:.6f}"),
            ("error_ratio_upper", f"{s.error_ratio_upper:.6f}"),
            ("messages", str(s.counts.get("messages", 0))),
            ("capability", s.capability), ("target_operator", s.target_operator),
            ("rcsqualify", s.tool.get("version", "")),
            ("arcep_plan_date", s.tool.get("arcep_plan_date", ""))):
        ET.SubElement(props, "property", {"name": name, "value": xml_text(value)})

    failures = 0
    gate = _case(suite, "gate", total_time)
    figures = (f"{gated_phrase(s)} vs the {thr} threshold (gate {s.gate_mode}); whole base "
               f"{s.error_ratio:.2%}, upper bound {s.error_ratio_upper:.2%}; "
               f"{s.counts.get('messages', 0)} messages")
    if s.decision in ("fail", "undecided"):  # undecided: a CI must not read it as passed
        failures += 1
        ET.SubElement(gate, "failure", {
            "type": "gate" if s.decision == "fail" else "undecided",
            "message": xml_text(verdict_line(s))}).text = xml_text(figures)
    _out(gate, xml_text(figures))

    complete = _case(suite, "completeness")
    if s.incomplete:
        failures += 1
        ET.SubElement(complete, "failure", {"type": "incomplete", "message": xml_text(
            verdict_line(s))}).text = "\n".join(xml_text(n) for n in s.notes)
    unverified = s.counts.get("unverified", 0)
    _out(complete, f"{unverified} messages unverified; capability check: "
                   f"{xml_text(s.capability)}")

    problems = problem_classes(s)
    for name, count, meaning in problems:
        _out(_case(suite, f"input.{name}"), f"{count} {meaning}")
        ET.SubElement(props, "property", {"name": f"input.{name}", "value": str(count)})

    ET.SubElement(suite, "system-out").text = "\n".join(output)
    ET.SubElement(suite, "system-err").text = ""
    suite.attrib.update({"tests": str(2 + len(problems)), "failures": str(failures),
                         "errors": "0", "time": f"{total_time:.3f}", "timestamp": when,
                         "hostname": host, "package": SUITE, "id": "0"})
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")
