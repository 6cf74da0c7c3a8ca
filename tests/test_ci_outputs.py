"""The gate speaks CI (#17): Markdown report and step summary, JUnit XML, GitHub
annotations, report paths checked up front, and the pipeline files in docs/ci/ run
against the emulator."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML: test dependency (pyproject [test]), parses the pipeline files
from markdown_it import MarkdownIt  # installed with rich
from rich.console import Console

from rcsqualify.report.annotations import format_annotations
from rcsqualify.report.formats import ReportFormat, format_report
from rcsqualify.report.junit import format_junit
from rcsqualify.report.markdown import format_markdown
from rcsqualify.report.summary import Summary, stale_data
from rcsqualify.result import execute_check
from rcsqualify.settings import Settings
from tests.conftest import ROOT, Emulator
from tests.helpers import TEST_CACHE_KEY, check_json, run_cli, write_csv

# no digit: a first row with digits above the phone column would be read as data
HOSTILE_COLUMN = ("<script>alert(x)</script> | **gras** [lien](http://evil.example) "
                  "`code` @team :tada: \x1b[m & end")
HOSTILE_NOTE = ("server said <img src=x onerror=alert(1)>\n::error::pwned 100% "
                "\r| cell | \x1b]0;title\x07 done")
NUMBERS = ["06 07 00 00 01", "0607000002", "+33 6 07 00 00 03", "06 01 01 01 01",
           "01 45 60 12 34", "N/A", "3.36E+10", "0607000001"]
ALLOWED_TAGS = {"h2", "h3", "p", "strong", "table", "thead", "tbody", "tr", "th", "td",
                "ul", "li", "sub"}


@pytest.fixture(autouse=True)
def no_ci_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests set the CI variables themselves (the suite may run in GitHub Actions)."""
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITLAB_CI", "CI"):
        monkeypatch.delenv(name, raising=False)


def _hostile_base(tmp_path: Path) -> Path:
    rows = [["id", HOSTILE_COLUMN, "ville"],
            *[[str(i), n, "Paris"] for i, n in enumerate(NUMBERS)]]
    return write_csv(tmp_path / "base <img src=x> |x|.csv", rows)


def _summary(path: Path, **settings: Any) -> Summary:
    s = Settings(input=str(path), **settings)
    return execute_check(s, Console(file=io.StringIO())).checked.summary


@pytest.fixture
def hostile(tmp_path: Path) -> Summary:
    """A failing summary whose input and server text try every injection."""
    s = _summary(_hostile_base(tmp_path), column=["2"], threshold=0.01)
    s.warnings.append(HOSTILE_NOTE)
    s.operator_names["FRTE"] = "Orange <b>|</b> *x*"
    return s


def _no_number_in_clear(text: str) -> None:
    compact = re.sub(r"[\s.\-]", "", text)
    for cell in NUMBERS:
        digits = re.sub(r"\D", "", cell)
        if len(digits) >= 9:
            national = "0" + digits[-9:]
            assert national not in compact and "33" + digits[-9:] not in compact, cell


# -- every format ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_every_format_is_a_pure_string_with_the_verdict_and_nothing_unsafe(
        fmt: ReportFormat, hostile: Summary) -> None:
    before = hostile.as_dict()
    text = format_report(fmt, hostile)
    assert hostile.as_dict() == before  # pure: the summary is untouched
    assert isinstance(text, str) and text.strip()
    assert "fail" in text.lower()
    if fmt != ReportFormat.HTML:  # (html.py's _esc is another change's: see textsafe)
        assert "\x1b" not in text and "\x07" not in text  # no terminal control sequence
    _no_number_in_clear(text)
    if fmt in (ReportFormat.HTML, ReportFormat.MARKDOWN, ReportFormat.JUNIT):
        assert "<script" not in text and "<img" not in text and "<b>|</b>" not in text


# -- Markdown --------------------------------------------------------------------------
class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self.headings: list[str] = []
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag in ("h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)


def _render(markdown: str) -> _Page:
    md = MarkdownIt("commonmark").enable("table")  # commonmark passes raw HTML through
    page = _Page()
    page.feed(md.render(markdown))
    return page


def test_markdown_renders_the_verdict_figures_and_escapes_input(hostile: Summary) -> None:
    page = _render(format_markdown(hostile))
    assert set(page.tags) <= ALLOWED_TAGS, set(page.tags) - ALLOWED_TAGS  # no a, img, em…
    assert page.headings[0].endswith("rcsqualify: FAIL")
    text = " ".join("".join(page.text).split())
    assert f"{hostile.gate_ratio:.2%}" in text
    # the hostile column name and note come out as literal text
    assert "<script>alert(x)</script> | **gras** [lien](http://evil.example)" in text
    assert "server said <img src=x onerror=alert(1)> ::error::pwned 100%" in text
    # every table row keeps its cells: a | in the data split nothing
    rows = {r[0]: r for r in page.rows}
    assert rows["threshold"][1] == "1%"
    assert rows["gated ratio (gate: decide)"][1] == f"{hostile.gate_ratio:.2%}"
    assert rows["decision (gate: decide)"][1] == "fail"
    for status in ("invalid", "not_mobile", "other_operator", "not_rcs", "unverified",
                   "reachable"):
        row = next(r for name, r in rows.items() if name.split(" ")[0] == status)
        assert len(row) == 4 and row[1] == str(hostile.counts[status])
    frte = next(r for r in page.rows if r and r[0].startswith("FRTE"))
    assert frte[1] == "Orange <b>|</b> *x*" and frte[2] == str(hostile.operators["FRTE"])
    send = next(r for r in page.rows if r and r[0] == "send_rcs")
    assert send[1] == str(hostile.send_plan["send_rcs"]["messages"])


def test_markdown_report_file_and_step_summary(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    base = _hostile_base(tmp_path)
    step = tmp_path / "step_summary.md"
    step.write_text("## earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    monkeypatch.setenv("RCSQUALIFY_LANG", "en")  # the page in French: test_report_l10n
    # no path: appended to the step summary, what was there kept
    result, report = check_json([str(base), "--column", "2"])
    assert result.exit_code == 1
    content = step.read_text(encoding="utf-8")
    assert content.startswith("## earlier step\n") and "rcsqualify: FAIL" in content
    page = _render(content)
    assert f"{report['error_ratio']:.2%}" in "".join(page.text)
    # --no-ci-summary: untouched
    check_json([str(base), "--column", "2", "--no-ci-summary"])
    assert step.read_text(encoding="utf-8") == content
    # a path given: that file, not the step summary
    out = tmp_path / "summary.md"
    check_json([str(base), "--column", "2", "--markdown-report", str(out)])
    assert step.read_text(encoding="utf-8") == content
    assert "rcsqualify: FAIL" in out.read_text(encoding="utf-8")


# -- JUnit -----------------------------------------------------------------------------
_SCHEMAS = Path(__file__).resolve().parent / "schemas"


def _schema_errors(text: str, name: str) -> list[str]:
    from lxml import etree  # test dependency (pyproject [test]): XSD validation

    schema = etree.XMLSchema(etree.parse(str(_SCHEMAS / name)))
    ok = schema.validate(etree.fromstring(text.encode("utf-8")))
    return [] if ok else [str(e) for e in schema.error_log]


def _junit(text: str) -> ET.Element:
    """Every JUnit report the tests make: valid under Jenkins xUnit's and the strict Ant
    schema (tests/schemas/), and consistent."""
    for name in ("junit-jenkins.xsd", "junit-ant.xsd"):
        assert _schema_errors(text, name) == [], name
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites" and not root.attrib
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("name") == "rcsqualify"
    suite = suites[0]
    cases = suite.findall("testcase")
    failures = suite.findall("testcase/failure")
    assert suite.get("tests") == str(len(cases))
    assert suite.get("failures") == str(len(failures))
    assert suite.get("errors") == "0"
    assert all(c.get("classname") == "rcsqualify" for c in cases)
    assert [c.get("name") for c in cases[:2]] == ["gate", "completeness"]
    return suite


def _case_output(suite: ET.Element, case: str) -> str:
    """What the suite's system-out says of one test case (cases hold no output)."""
    lines = (suite.findtext("system-out") or "").splitlines()
    return next(line.removeprefix(f"{case}: ") for line in lines
                if line.startswith(f"{case}: "))


def test_junit_was_rejected_by_both_schemas_before_issue_23() -> None:
    """The shape the report had (skipped on both elements, output inside test cases, no
    timestamp or hostname) is what each schema rejects: the validation can fail."""
    old = ('<testsuites name="r" tests="1" failures="0" errors="0" skipped="0" time="0">'
           '<testsuite name="r" tests="1" failures="0" errors="0" skipped="0" time="0">'
           '<properties/><testcase classname="r" name="gate" time="0">'
           '<system-out>x</system-out></testcase></testsuite></testsuites>')
    assert any("skipped" in e for e in _schema_errors(old, "junit-jenkins.xsd"))
    errors = " ".join(_schema_errors(old, "junit-ant.xsd"))
    assert "timestamp" in errors or "system-out" in errors or "skipped" in errors


def test_junit_timestamp_and_hostname(hostile: Summary) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    paris = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    suite = _junit(format_junit(hostile, now=paris, hostname="ci\x01-runner 7"))
    assert suite.get("timestamp") == "2026-03-29T01:30:00"  # UTC, no zone (Ant's pattern)
    assert suite.get("hostname") == "ci?-runner 7"
    assert _junit(format_junit(hostile, now=datetime.now(UTC), hostname=" ")).get(
        "hostname") == "localhost"


def test_junit_structure_for_a_failed_gate(hostile: Summary) -> None:
    suite = _junit(format_junit(hostile))
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["gate"].find("failure")
    assert failure is not None and failure.get("type") == "gate"
    message = failure.get("message") or ""
    assert message.startswith("FAIL:")
    assert f"{hostile.gate_ratio:.2%}" in message and "1% threshold" in message
    assert cases["completeness"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["column"] == HOSTILE_COLUMN.replace("\x1b", "?")
    assert props["gate_mode"] == "decide" and props["decision"] == "fail"
    # one passing case per input problem class, its count in a property and system-out
    problems = {n: c for n, c in cases.items() if n and n.startswith("input.")}
    assert {"input.not_a_number", "input.excel_scientific", "input.fixed_line",
            "input.duplicates", "input.repaired_leading_zero"} <= set(problems)
    for name, case in problems.items():
        assert case.find("failure") is None
        out = _case_output(suite, name)
        assert props[name] == out.split(" ")[0]
        key = name.removeprefix("input.")
        expected = (hostile.counts["duplicates"] if key == "duplicates"
                    else hostile.repaired.get(key.removeprefix("repaired_"), 0)
                    if key.startswith("repaired_") else hostile.reasons.get(key, 0))
        assert int(out.split(" ")[0]) == expected, name
    assert props["input.duplicates"] == "1" and props["input.not_a_number"] == "1"


def test_junit_control_characters_from_a_server_keep_the_xml_readable(
        hostile: Summary) -> None:
    incomplete = dataclasses.replace(hostile, gate="undecided", decision="undecided",
                                     incomplete=True, notes=[HOSTILE_NOTE])
    suite = _junit(format_junit(incomplete))
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["completeness"].find("failure")
    assert failure is not None and failure.get("type") == "incomplete"
    assert "<img src=x onerror=alert(1)>" in (failure.get("message") or "")
    undecided = cases["gate"].find("failure")  # never read as a passed test
    assert undecided is not None and undecided.get("type") == "undecided"
    assert (undecided.get("message") or "").startswith("UNDECIDED: ")
    decided = dataclasses.replace(hostile, gate="pass", decision="pass", incomplete=True,
                                  notes=[HOSTILE_NOTE])
    cases = {c.get("name"): c for c in _junit(format_junit(decided)).findall("testcase")}
    assert cases["gate"].find("failure") is None
    assert cases["completeness"].find("failure") is not None  # it says what failed


def test_junit_xml_from_an_incomplete_run(tmp_path: Path, emulator: Emulator) -> None:
    frte = [f"0607{i:06d}" for i in range(20)]
    emulator.configure(numbers={"+33" + n[1:]: {"capable": True} for n in frte},
                       faults={"http_503": 0.3}, fault_attempts=0)
    base = write_csv(tmp_path / "c.csv", [["nom", "mobile"], *[["x", n] for n in frte]])
    out = tmp_path / "junit.xml"
    os.environ["RCSQUALIFY_RETRY_BACKOFF"] = "0.01"
    try:
        result, report = check_json([str(base), *emulator.bothub_args(), "--rate", "500",
                                     "--junit-xml", str(out)])
    finally:
        del os.environ["RCSQUALIFY_RETRY_BACKOFF"]
    assert result.exit_code == 3 and report["decision"] == "undecided"
    suite = _junit(out.read_text(encoding="utf-8"))
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    gate = cases["gate"].find("failure")
    assert gate is not None and gate.get("type") == "undecided"
    assert cases["completeness"].find("failure") is not None
    unverified = report["counts"]["unverified"]
    assert _case_output(suite, "completeness").startswith(f"{unverified} messages unverified")


def test_a_stale_plan_is_stale_data() -> None:
    assert stale_data(date(2026, 4, 17), date(2026, 10, 14)) == []  # 180 days
    (line,) = stale_data(date(2026, 4, 17), date(2026, 10, 15))
    assert line.startswith("the ARCEP numbering plan is 181 days old (2026-04-17)")
    assert "rcsqualify plan update" in line


# -- annotations -----------------------------------------------------------------------
def test_annotations_escape_data_and_properties(hostile: Summary) -> None:
    incomplete = dataclasses.replace(hostile, gate="undecided", decision="undecided",
                                     incomplete=True, notes=[HOSTILE_NOTE],
                                     stale=["plan, old: 100% stale\r\nnext"])
    lines = format_annotations(incomplete).splitlines()
    assert len(lines) == 2  # one per event: the newlines in the data did not add any
    assert lines[0].startswith("::warning title=rcsqualify gate::UNDECIDED")
    assert "::error::pwned 100%25" in lines[0]  # inside the message: just text
    assert "\x1b" not in lines[0] and "\x07" not in lines[0]
    assert lines[1] == ("::warning title=rcsqualify%3A stale data::plan, old: 100%25 "
                        "stale%0D%0Anext")
    assert format_annotations(hostile).startswith("::error title=rcsqualify gate::FAIL: ")
    passing = dataclasses.replace(hostile, gate="pass", stale=[])
    assert format_annotations(passing) == ""


def test_annotations_only_under_github_actions(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    base = _hostile_base(tmp_path)
    args = ["check", str(base), "--column", "2", "-q"]
    plain = run_cli(args)
    assert plain.exit_code == 1 and plain.stdout == ""
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    assert run_cli(args).stdout == ""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    gh = run_cli(args)
    assert gh.exit_code == 1
    commands = [line for line in gh.stdout.splitlines() if line.startswith("::")]
    assert commands and commands[0].startswith("::error title=rcsqualify gate::FAIL: ")
    assert len(commands) == len(gh.stdout.splitlines())
    # stdout carries the JSON report: no annotation may corrupt it
    result, report = check_json([str(base), "--column", "2"])
    assert report["gate"] == "fail" and "::" not in result.stdout.split("\n", 1)[0]
    assert not any(line.startswith("::") for line in result.stdout.splitlines())


# -- report paths ----------------------------------------------------------------------
@pytest.mark.parametrize("case", ["file-above-missing-dir", "parent-is-a-file", "is-a-directory",
                                  "step-summary"])
def test_unwritable_report_path_exits_2_before_any_request(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
        case: str) -> None:
    base = write_csv(tmp_path / "c.csv", [["nom", "mobile"], ["a", "0607000001"]])
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir").mkdir()
    # a missing folder is created (issue #26, tests/test_excel_files.py); one under a
    # file cannot be
    extra = {"file-above-missing-dir": ["--junit-xml",
                                        str(tmp_path / "a-file" / "nowhere" / "j.xml")],
             "parent-is-a-file": ["--markdown-report", str(tmp_path / "a-file" / "s.md")],
             "is-a-directory": ["--json-report", str(tmp_path / "a-dir")],
             "step-summary": []}[case]
    if case == "step-summary":
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "nowhere" / "s.md"))
    result = run_cli(["check", str(base), *emulator.bothub_args(), *extra])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rcsqualify: error: ")
    if case == "step-summary":
        assert "GITHUB_STEP_SUMMARY" in lines[0] and "--no-ci-summary" in lines[0]
    assert emulator.stats()["requests"] == {}
    assert not (tmp_path / "nowhere").exists()


# -- pipeline files --------------------------------------------------------------------
_EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def _github_expr(text: str, contexts: dict[str, dict[str, str]]) -> str:
    """Evaluate the ``${{ a.b || 'literal' }}`` expressions the workflow uses."""

    def value(term: str) -> str:
        term = term.strip()
        if term.startswith("'") and term.endswith("'"):
            return term[1:-1]
        ctx, _, name = term.partition(".")
        return contexts[ctx].get(name, "")

    def evaluate(match: re.Match[str]) -> str:
        for term in match.group(1).split("||"):
            if result := value(term):
                return result
        return ""

    return _EXPR.sub(evaluate, text)


def _campaign(workspace: Path) -> Path:
    (workspace / "campaign").mkdir(parents=True)
    numbers = [f"0607{i:06d}" for i in range(12)]
    write_csv(workspace / "campaign" / "contacts.csv",
              [["nom", "mobile"], *[[f"n{i}", n] for i, n in enumerate(numbers)]])
    return workspace / "campaign" / "contacts.csv"


def _shell_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RCSQUALIFY_", "GITHUB_", "GITLAB_", "CI_"))}
    env["RCSQUALIFY_PLAN_DIR"] = os.environ["RCSQUALIFY_PLAN_DIR"]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=240)


def _emulator_settings(emulator: Emulator) -> dict[str, str]:
    return {"RCSQUALIFY_BOTHUB_BOT_ID": "test-bot",
            "RCSQUALIFY_BOTHUB_URL": f"{emulator.base}/bothub/v1",
            "RCSQUALIFY_BOTHUB_TOKEN_URL": f"{emulator.base}/oauth/v3/token"}


def test_github_actions_workflow_runs_against_the_emulator(tmp_path: Path,
                                                           emulator: Emulator) -> None:
    flow = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions.yml").read_text())
    job = flow["jobs"]["gate"]
    job = {**job, "env": {**flow["env"], **job.get("env", {})}}  # workflow env, then job's
    steps = job["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/cache/restore@") for u in uses)
    assert any(u.startswith("actions/cache/save@") for u in uses)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    # credentials come from the secret store, never written in the file
    assert job["env"]["RCSQUALIFY_BOTHUB_CLIENT_SECRET"] == (
        "${{ secrets.RCSQUALIFY_BOTHUB_CLIENT_SECRET }}")
    assert job["env"]["RCSQUALIFY_BOTHUB_CLIENT_ID"].startswith("${{ secrets.")
    runs = [s for s in steps if "run" in s]
    assert any("pip install" in s["run"] for s in runs)
    for s in runs:  # expressions only through env: no script injection
        assert "${{" not in s["run"]

    workspace = tmp_path / "ws"
    _campaign(workspace)
    emulator.configure(numbers={f"+33607{i:06d}": {"capable": True} for i in range(12)})
    contexts = {
        "secrets": {"RCSQUALIFY_BOTHUB_CLIENT_ID": "emulator-client",
                    "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "emulator-secret",
                    "RCSQUALIFY_CACHE_KEY": TEST_CACHE_KEY},
        "vars": _emulator_settings(emulator),
        "github": {"workspace": str(workspace), "run_id": "1"},
    }
    job_env = {k: _github_expr(str(v), contexts) for k, v in job["env"].items()}
    step_summary = tmp_path / "step_summary.md"
    # the cache key is a repository secret (a cache CI saves must not hold its key)
    env = _shell_env({"RCSQUALIFY_CACHE_KEY": TEST_CACHE_KEY, **job_env,
                      "GITHUB_ACTIONS": "true",
                      "GITHUB_STEP_SUMMARY": str(step_summary)})
    cache_paths = {s["with"]["path"] for s in steps
                   if s.get("uses", "").startswith("actions/cache/")}
    assert cache_paths == {str(Path(job_env["RCSQUALIFY_CACHE_DIR"])
                               .relative_to(workspace))}

    def run_steps() -> list[subprocess.CompletedProcess[str]]:
        done = []
        for s in runs:
            if "pip install" in s["run"]:
                continue  # this environment has rcsqualify already
            assert "rcsqualify" in s["run"]
            done.append(_bash(s["run"], workspace, {**env, **{
                k: _github_expr(str(v), contexts) for k, v in s.get("env", {}).items()}}))
        return done

    results = run_steps()
    assert [r.returncode for r in results] == [0] * len(results), [r.stderr for r in results]
    reports = workspace / job_env["REPORTS"]
    assert Path(upload["with"]["path"].rstrip("/")) == Path(job_env["REPORTS"])
    report = json.loads((reports / "report.json").read_text())
    assert report["gate_mode"] == "decide" and report["gate"] == "pass"
    # --sample auto on 12 unchecked numbers: only the whole population decides
    assert report["api"]["requests"] == 12
    _junit((reports / "junit.xml").read_text(encoding="utf-8"))
    assert (reports / "report.html").is_file()
    summary_page = step_summary.read_text(encoding="utf-8")  # in the runner locale's language
    assert "rcsqualify: PASS" in summary_page or "rcsqualify\u00a0: CONFORME" in summary_page
    assert (workspace / ".rcsqualify-cache").is_dir()
    # the next run starts from the cache the workflow keeps
    emulator.reset(quota=1000)
    assert [r.returncode for r in run_steps()] == [0] * len(results)
    assert emulator.stats()["requests"] == {}


def _gitlab_job(jobs: dict[str, Any], name: str) -> dict[str, Any]:
    """A GitLab job with its ``extends`` template merged (variables merged too), as
    GitLab reads it."""
    job = dict(jobs[name])
    base = jobs[job.pop("extends")] if "extends" in job else {}
    return {**base, **job, "variables": {**base.get("variables", {}),
                                         **job.get("variables", {})}}


def _paris_hour(utc_hour: int, summer: bool) -> int:
    return (utc_hour + (2 if summer else 1)) % 24


def test_the_pipeline_files_fill_at_night_and_sample_by_day() -> None:
    """Issue #22 §4: the nightly job refreshes with the bulk job inside its window on the
    cache the daytime gate reads; the gate samples (--sample auto) under a cap of a few
    hundred single look-ups and decides with the three-valued gate."""
    gh = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions.yml").read_text())
    (schedule,) = gh[True]["schedule"]  # YAML 1.1 reads the key "on" as True
    _minute, hour = (int(x) for x in schedule["cron"].split()[:2])
    for summer in (False, True):  # GitHub's cron is UTC; the window is Paris time
        assert _paris_hour(hour, summer) >= 22 or _paris_hour(hour, summer) < 7
    nightly, gate = gh["jobs"]["nightly"], gh["jobs"]["gate"]
    assert nightly["if"] == "github.event_name == 'schedule'"
    assert gate["if"] == "github.event_name != 'schedule'"
    night_run = " ".join(s["run"] for s in nightly["steps"] if "rcsqualify refresh" in
                         s.get("run", ""))
    assert "--capability bothub-bulk" in night_run
    day_run = " ".join(s["run"] for s in gate["steps"] if "rcsqualify check" in
                       s.get("run", ""))
    assert "--capability bothub --sample auto --sample-max" in day_run
    assert 100 <= int(day_run.split("--sample-max")[1].split()[0]) <= 1000
    assert "RCSQUALIFY_GATE" not in gh["env"]  # the default gate: pass, fail or undecided
    assert gh["env"]["RCSQUALIFY_CACHE_KEY"] == "${{ secrets.RCSQUALIFY_CACHE_KEY }}"

    def caches(job: dict[str, Any]) -> set[tuple[str, str]]:
        return {(s["with"]["path"], s["with"]["key"]) for s in job["steps"]
                if s.get("uses", "").startswith("actions/cache/")}
    assert caches(nightly) == caches(gate)  # the gate reads what the night wrote

    gl = yaml.safe_load((ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text())
    night, day = _gitlab_job(gl, "rcsqualify-nightly"), _gitlab_job(gl, "rcsqualify-gate")
    assert night["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert day["rules"][0] == {"if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "never"}
    assert "--capability bothub-bulk" in " ".join(night["script"])
    assert "--capability bothub --sample auto --sample-max" in " ".join(day["script"])
    assert night["cache"] == day["cache"]
    for text in ((ROOT / "docs" / "ci" / name).read_text()
                 for name in ("github-actions.yml", "gitlab-ci.yml")):
        # the file says why the single look-up is capped, and the RBM variant
        assert "reserves the single capability look-up" in text and "for tests" in text
        assert "--capability rbm --agent-launched" in text


@pytest.mark.parametrize(("schema", "pattern"), [
    ("vendor.github-workflows", "github-actions*.yml"), ("vendor.gitlab-ci", "gitlab-ci*.yml")])
def test_the_pipeline_files_are_valid_for_github_and_gitlab(schema: str, pattern: str,
                                                           tmp_path: Path) -> None:
    """The schemas check-jsonschema ships (offline), as .ci/run runs them; a file with a
    key the service does not know is refused (the check can fail)."""
    import shutil

    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool is not None, "pip install -e '.[test]' installs check-jsonschema"
    files = sorted(str(p) for p in (ROOT / "docs" / "ci").glob(pattern))
    assert len(files) == 2
    ok = subprocess.run([tool, "--builtin-schema", schema, *files], capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(Path(files[0]).read_text().replace("script:", "scripts:", 1)
                   .replace("steps:", "stepz:", 1))
    refused = subprocess.run([tool, "--builtin-schema", schema, str(bad)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1


def test_gitlab_job_runs_against_the_emulator(tmp_path: Path, emulator: Emulator) -> None:
    jobs = yaml.safe_load((ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text())
    job = _gitlab_job(jobs, "rcsqualify-gate")
    assert job["cache"]["when"] == "always" and job["artifacts"]["when"] == "always"
    assert any("pip install" in line for line in job["before_script"])
    text = (ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text()
    assert "CLIENT_SECRET:" not in text  # the secret comes from CI/CD variables only

    workspace = tmp_path / "ws"
    _campaign(workspace)
    emulator.configure(numbers={f"+33607{i:06d}": {"capable": i < 10} for i in range(12)})
    variables = {k: os.path.expandvars(str(v).replace("$CI_PROJECT_DIR", str(workspace)))
                 for k, v in job["variables"].items()}
    env = _shell_env({**variables, **_emulator_settings(emulator),  # CI/CD variables
                      "CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": str(workspace),
                      "RCSQUALIFY_BOTHUB_CLIENT_ID": "emulator-client",
                      "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "emulator-secret",
                      "RCSQUALIFY_CACHE_KEY": TEST_CACHE_KEY})
    script = "\n".join(job["script"])
    assert "rcsqualify check" in script
    gate = _bash(script, workspace, env)
    # 2 of 12 not RCS: 16.7 % > 15 %, the job fails like the gate
    assert gate.returncode == 1, gate.stderr
    after = _bash("\n".join(job["after_script"]), workspace, env)
    assert after.returncode == 0, after.stderr
    assert [Path(p.rstrip("/")) for p in job["cache"]["paths"]] == [
        Path(variables["RCSQUALIFY_CACHE_DIR"]).relative_to(workspace)]
    junit = workspace / job["artifacts"]["reports"]["junit"]
    suite = _junit(junit.read_text(encoding="utf-8"))
    gate_case = next(c for c in suite.findall("testcase") if c.get("name") == "gate")
    assert gate_case.find("failure") is not None
    report = json.loads((workspace / variables["REPORTS"] / "report.json").read_text())
    assert report["gate_mode"] == "decide" and report["counts"]["not_rcs"] == 2
    md = (workspace / variables["REPORTS"] / "summary.md").read_text(encoding="utf-8")
    assert "rcsqualify: FAIL" in md or "rcsqualify\u00a0: NON CONFORME" in md  # the locale's
