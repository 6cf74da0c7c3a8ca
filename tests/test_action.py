"""Issue #27 item 2: the GitHub Action (``action.yml``, composite).

The action's ``run`` steps are executed as the runner executes them (``bash --noprofile
--norc -eo pipefail`` on a script file, in the workspace, with GitHub's environment:
``GITHUB_OUTPUT`` per step, ``GITHUB_STEP_SUMMARY``, ``GITHUB_ACTION_PATH``,
``RUNNER_TEMP``…), with the inputs and the step outputs substituted as the runner does,
against the emulator as the service. The ``uses`` steps (actions/setup-python) are
GitHub's. The install step runs with a ``python`` stand-in that records what pip would
install (the real install of the wheel is tests/test_release.py's) and links this
environment's ``rcsqualify`` into the venv it creates, so the check step runs the real
command from the ``bin-dir`` the install step put out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import rcsqualify
from tests.conftest import ROOT, Emulator
from tests.helpers import TEST_CACHE_KEY, write_csv

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
_EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


@dataclass
class Job:
    """One job's runner state: the workspace, the environment, the step outputs."""

    workspace: Path
    temp: Path
    env: dict[str, str]
    summary: Path
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the workflow's contexts (secrets, vars, github) for the ``with:`` of a workflow
    contexts: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)


def _value(term: str, inputs: dict[str, str], job: Job) -> str:
    term = term.strip()
    if term.startswith("'") and term.endswith("'"):
        return term[1:-1]
    parts = term.split(".")
    if parts[0] == "inputs":
        return inputs[parts[1]]
    if parts[0] == "steps" and parts[2] == "outputs":
        return job.outputs.get(parts[1], {}).get(parts[3], "")
    if parts[0] in job.contexts:
        return job.contexts[parts[0]].get(parts[1], "")
    raise AssertionError(f"an expression the test does not know: {term}")


def _expr(text: str, inputs: dict[str, str], job: Job) -> str:
    def evaluate(match: re.Match[str]) -> str:
        for term in match.group(1).split("||"):
            if found := _value(term, inputs, job):
                return found
        return ""

    return _EXPR.sub(evaluate, text)


def _read_outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: ``name=value`` lines and
    ``name<<DELIMITER`` … ``DELIMITER`` blocks."""
    out: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            out[name] = "\n".join(lines[i + 1:end])
            i = end + 1
            continue
        name, _, value = line.partition("=")
        out[name] = value
        i += 1
    return out


def run_action(job: Job, given: dict[str, str]) -> int:
    """Run the action's steps with ``given`` inputs; the last run step's exit code (the
    runner stops at the first failing step). Returns 0 when every step passed."""
    declared = ACTION["inputs"]
    assert set(given) <= set(declared), set(given) - set(declared)
    missing = [k for k, v in declared.items() if v.get("required") and k not in given]
    assert missing == []
    inputs = {k: given.get(k, str(v.get("default", ""))) for k, v in declared.items()}
    for n, step in enumerate(ACTION["runs"]["steps"]):
        if "uses" in step:
            continue  # GitHub's actions (setup-python)
        assert step["shell"] == "bash"
        step_id = step.get("id", f"step{n}")
        output = job.temp / f"output-{step_id}-{len(job.logs)}"
        env = {**job.env, **{k: _expr(str(v), inputs, job)
                             for k, v in step.get("env", {}).items()},
               "GITHUB_OUTPUT": str(output)}
        script = job.temp / f"script-{step_id}-{len(job.logs)}.sh"
        script.write_text(step["run"], encoding="utf-8")
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail",
                               str(script)], cwd=job.workspace, env=env, text=True,
                              capture_output=True, timeout=240)
        job.logs.append(done)
        job.outputs[step_id] = _read_outputs(output)
        if done.returncode != 0:
            return done.returncode
    return 0


def action_outputs(job: Job) -> dict[str, str]:
    return {name: _expr(spec["value"], {}, job) for name, spec in ACTION["outputs"].items()}


#: the runner's ``python`` stand-in: ``python -m venv DIR`` makes a venv whose python is
#: _VENV_PYTHON and whose rcsqualify is this environment's; anything else is this python
_SHIM = """#!/usr/bin/env bash
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin" && cp "{venv_python}" "$3/bin/python" && chmod +x "$3/bin/python"
  ln -s "{rcsqualify}" "$3/bin/rcsqualify"
  exit 0
fi
exec "{python}" "$@"
"""
#: the venv's python: records what pip is asked to install, runs anything else
_VENV_PYTHON = """#!/usr/bin/env bash
if [ "$1 $2 $3" = "-m pip install" ]; then printf '%s\\n' "$@" > "{log}"; exit 0; fi
exec "{python}" "$@"
"""


@pytest.fixture
def job(tmp_path: Path, emulator: Emulator) -> Job:
    workspace, temp = tmp_path / "ws", tmp_path / "runner-temp"
    shims = tmp_path / "shims"
    for d in (workspace, temp, shims):
        d.mkdir()
    venv_python = tmp_path / "venv-python"
    venv_python.write_text(_VENV_PYTHON.format(log=tmp_path / "pip-install.txt",
                                               python=sys.executable))
    shim = shims / "python"
    shim.write_text(_SHIM.format(venv_python=venv_python, python=sys.executable,
                                 rcsqualify=Path(sys.executable).with_name("rcsqualify")))
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RCSQUALIFY_", "GITHUB_", "RUNNER_", "INPUT_"))}
    env.update({
        "PATH": f"{shims}{os.pathsep}{env.get('PATH', '')}",
        "RCSQUALIFY_PLAN_DIR": os.environ["RCSQUALIFY_PLAN_DIR"],
        "RCSQUALIFY_QUOTA_DIR": os.environ["RCSQUALIFY_QUOTA_DIR"],
        "CI": "true", "GITHUB_ACTIONS": "true", "RUNNER_OS": "Linux",
        "GITHUB_WORKSPACE": str(workspace), "GITHUB_ACTION_PATH": str(ROOT),
        "RUNNER_TEMP": str(temp), "GITHUB_RUN_ID": "7", "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"),
        # the job's environment (workflow env and secrets), as docs/ci/action.md shows
        "RCSQUALIFY_BOTHUB_CLIENT_ID": "emulator-client",
        "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "emulator-secret",
        "RCSQUALIFY_BOTHUB_BOT_ID": "test-bot",
        "RCSQUALIFY_BOTHUB_URL": f"{emulator.base}/bothub/v1",
        "RCSQUALIFY_BOTHUB_TOKEN_URL": f"{emulator.base}/oauth/v3/token"})
    return Job(workspace, temp, env, tmp_path / "step_summary.md")


def _contacts(workspace: Path, n: int = 12) -> str:
    (workspace / "campaign").mkdir(exist_ok=True)
    write_csv(workspace / "campaign" / "contacts.csv",
              [["nom", "mobile"], *[[f"n{i}", f"0607{i:06d}"] for i in range(n)]])
    return "campaign/contacts.csv"


def test_the_action_is_valid_for_github(tmp_path: Path) -> None:
    """The schema check-jsonschema ships (offline), as .ci/run runs it; an action with a
    key GitHub does not know is refused (the check can fail)."""
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool is not None, "pip install -e '.[test]' installs check-jsonschema"
    ok = subprocess.run([tool, "--builtin-schema", "vendor.github-actions",
                         str(ROOT / "action.yml")], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    example = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows",
                              str(ROOT / "docs" / "ci" / "github-action-gate.yml")],
                             capture_output=True, text=True, timeout=120)
    assert example.returncode == 0, example.stdout + example.stderr
    bad = tmp_path / "action.yml"
    bad.write_text((ROOT / "action.yml").read_text().replace("using: composite",
                                                             "using: compost", 1))
    refused = subprocess.run([tool, "--builtin-schema", "vendor.github-actions", str(bad)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1


def test_inputs_reach_the_scripts_through_the_environment_only() -> None:
    """No ``${{ }}`` inside a script (a file or branch name cannot inject shell), every
    input is used, every output is the check step's."""
    steps = ACTION["runs"]["steps"]
    used = set()
    for step in steps:
        if "run" in step:
            assert "${{" not in step["run"]
        for value in [*step.get("env", {}).values(), *step.get("with", {}).values(),
                      step.get("if", "")]:
            used |= set(re.findall(r"inputs\.([a-z_-]+)", str(value)))
    assert used == set(ACTION["inputs"])
    assert {"decision", "error_ratio", "upper", "report-json"} <= set(ACTION["outputs"])
    for spec in ACTION["outputs"].values():
        assert spec["value"].startswith("${{ steps.check.outputs.")


def test_a_failing_gate_fails_the_step_with_outputs_summary_and_annotation(
        job: Job, emulator: Emulator, tmp_path: Path) -> None:
    from tests.test_alerts import Receiver

    contacts = _contacts(job.workspace)
    emulator.configure(numbers={f"+33607{i:06d}": {"capable": i < 10} for i in range(12)})
    receiver = Receiver()
    job.env["TEAM_HOOK"] = receiver.url + "/hook/s3cr3t"  # the job's env, from a secret
    try:
        code = run_action(job, {
            "contacts": contacts, "capability": "bothub", "cache-key": TEST_CACHE_KEY,
            "cache-dir": ".rcsqualify-cache", "junit-xml": "reports/junit.xml",
            "html-report": "reports/report.html", "args": "--rate\n1000\n",
            "notify": "env:TEAM_HOOK\n", "warn-at": "0.1"})
    finally:
        receiver.close()
    # the alert: this first run fails the gate
    (alert,) = receiver.bodies()
    assert alert["decision"] == "fail" and alert["warn_at"] == 0.1
    install, check = job.logs
    assert install.returncode == 0, install.stderr
    # pip was asked for the action's own files: the version `uses:` pinned
    pip = (tmp_path / "pip-install.txt").read_text().split("\n")
    assert pip[-2] == str(ROOT)
    assert job.outputs["install"]["bin-dir"] == str(job.temp / "rcsqualify-venv" / "bin")

    assert code == 1, check.stderr  # 2 of 12 not RCS: 16.7 % > 15 %
    out = action_outputs(job)
    assert out["decision"] == "fail" and out["exit-code"] == "1"
    assert float(out["error_ratio"]) == pytest.approx(2 / 12, abs=1e-6)
    assert float(out["upper"]) == pytest.approx(2 / 12, abs=1e-6)
    report = json.loads(Path(out["report-json"]).read_text(encoding="utf-8"))
    assert Path(out["report-json"]).is_absolute()
    assert Path(out["report-json"]).parent == job.temp
    assert report["decision"] == "fail" and report["api"]["requests"] == 12
    assert report["input"]["path"] == contacts
    assert (job.workspace / "reports" / "junit.xml").is_file()
    assert (job.workspace / "reports" / "report.html").is_file()
    assert (job.workspace / ".rcsqualify-cache").is_dir()
    # the CLI's annotation and summary page, as in any workflow
    assert any(line.startswith("::error") for line in check.stdout.splitlines())
    page = job.summary.read_text(encoding="utf-8")
    assert "rcsqualify: FAIL" in page or "rcsqualify\u00a0: NON CONFORME" in page
    # the key is masked before anything else is printed, and printed nowhere else
    first = check.stdout.splitlines()[0]
    assert first == f"::add-mask::{TEST_CACHE_KEY}"
    assert TEST_CACHE_KEY not in check.stdout.replace(first, "") + check.stderr
    assert "s3cr3t" not in check.stdout + check.stderr


def test_a_passing_gate_from_the_cache_and_a_pinned_package(
        job: Job, emulator: Emulator, tmp_path: Path) -> None:
    contacts = _contacts(job.workspace)
    emulator.configure(numbers={f"+33607{i:06d}": {"capable": True} for i in range(12)})
    given = {"contacts": contacts, "capability": "bothub", "cache-key": TEST_CACHE_KEY,
             "cache-dir": ".rcsqualify-cache", "gate": "decide", "threshold": "0.15",
             "sample": "auto", "sample-max": "300", "json-report": "out/report.json",
             "markdown-report": "out/summary.md", "lang": "en",
             "package": "rcsqualify[redis]==0.1.0", "args": "--rate\n1000"}
    assert run_action(job, given) == 0, job.logs[-1].stderr
    assert (tmp_path / "pip-install.txt").read_text().split("\n")[-2] == (
        "rcsqualify[redis]==0.1.0")
    out = action_outputs(job)
    assert out["decision"] == "pass" and out["exit-code"] == "0"
    assert out["report-json"] == str(job.workspace / "out" / "report.json")
    report = json.loads(Path(out["report-json"]).read_text(encoding="utf-8"))
    # a sampled run: the bound's high end, under the threshold
    assert float(out["upper"]) == report["bounds"]["high"] < 0.15
    assert report["gate_mode"] == "decide" and report["api"]["requests"] == 12
    # a Markdown path: the page is written there, and the job summary gets it too
    page = (job.workspace / "out" / "summary.md").read_text(encoding="utf-8")
    assert page.startswith("## rcsqualify: PASS") or "rcsqualify: PASS" in page
    assert page in job.summary.read_text(encoding="utf-8")
    assert not any(line.startswith("::error") for line in job.logs[-1].stdout.splitlines())

    # the next run reads the answers from the cache it left: no request
    emulator.reset(quota=1000)
    job.logs.clear()
    assert run_action(job, {**given, "step-summary": "false"}) == 0, job.logs[-1].stderr
    assert emulator.stats()["requests"] == {}
    assert action_outputs(job)["decision"] == "pass"


def test_the_documented_workflow_drives_the_action(job: Job, emulator: Emulator) -> None:
    """docs/ci/github-action-gate.yml: a valid workflow whose ``with:`` names only the
    action's inputs, the credentials from the secret store; run with those inputs."""
    flow = yaml.safe_load((ROOT / "docs" / "ci" / "github-action-gate.yml").read_text())
    gate = flow["jobs"]["gate"]
    (step,) = [s for s in gate["steps"] if re.fullmatch(r"[\w-]+/rcsqualify@v[\d.]+",
                                                          s.get("uses", ""))]
    assert step["uses"].endswith(f"@v{rcsqualify.__version__}")
    assert step["with"]["cache-key"] == "${{ secrets.RCSQUALIFY_CACHE_KEY }}"
    assert gate["env"]["RCSQUALIFY_BOTHUB_CLIENT_SECRET"].startswith("${{ secrets.")
    for s in gate["steps"]:
        assert "${{" not in s.get("run", "")
    saves = [s for s in gate["steps"] if s.get("uses", "").startswith("actions/cache/save")]
    assert saves and saves[0]["if"] == "always()"
    assert saves[0]["with"]["path"] == step["with"]["cache-dir"]

    _contacts(job.workspace)
    emulator.configure(numbers={f"+33607{i:06d}": {"capable": True} for i in range(12)})
    job.contexts = {"secrets": {"RCSQUALIFY_CACHE_KEY": TEST_CACHE_KEY},
                    "github": {"run_id": "7"}}
    given = {k: _expr(str(v), {}, job) for k, v in step["with"].items()}
    assert run_action(job, given) == 0, job.logs[-1].stderr
    out = action_outputs(job)
    assert out["decision"] == "pass"
    assert (job.workspace / "rcsqualify-reports" / "junit.xml").is_file()
    assert out["report-json"] == str(job.workspace / "rcsqualify-reports" / "report.json")


def test_a_run_that_concludes_nothing_has_no_decision(job: Job) -> None:
    """Exit 2 (no such file): the step fails with the CLI's code and its one line; the
    outputs say nothing rather than repeat an older report."""
    stale = job.workspace / "report.json"
    stale.write_text(json.dumps({"decision": "pass"}))
    code = run_action(job, {"contacts": "missing.csv", "json-report": "report.json"})
    assert code == 2
    out = action_outputs(job)
    assert out["exit-code"] == "2"
    assert out["decision"] == out["error_ratio"] == out["upper"] == out["report-json"] == ""
    assert "missing.csv" in job.logs[-1].stderr
    assert "Traceback" not in job.logs[-1].stderr


def test_an_unknown_command_is_refused(job: Job) -> None:
    assert run_action(job, {"contacts": "c.csv", "command": "rm -rf"}) == 2
    assert "::error title=rcsqualify::command must be check or refresh" in (
        job.logs[-1].stdout)


def test_refresh_through_the_action_writes_the_lists_and_the_log(job: Job,
                                                                  emulator: Emulator) -> None:
    contacts = _contacts(job.workspace)
    emulator.configure(numbers={f"+33607{i:06d}": {"capable": True} for i in range(12)})
    code = run_action(job, {"contacts": contacts, "command": "refresh",
                            "capability": "bothub", "cache-key": TEST_CACHE_KEY,
                            "log-file": "refresh.log", "args": "--rate\n1000"})
    assert code == 0, job.logs[-1].stderr
    assert action_outputs(job)["decision"] == "pass"
    (line,) = (job.workspace / "refresh.log").read_text().splitlines()
    assert json.loads(line)["decision"] == "pass"
    assert (job.workspace / "campaign" / "contacts_lists" / "send_rcs.csv").is_file()



def test_hostile_inputs_are_data_and_a_padded_key_is_still_masked(job: Job) -> None:
    """Review attack: shell syntax in an input runs nothing; a cache key pasted with a
    blank line before it (the CLI ignores white space around a key) was masked as the
    empty string and printed in clear on the next line of the log."""
    hostile = "$(touch pwned)`touch pwned2`;touch pwned3\n--version"
    code = run_action(job, {"contacts": hostile, "profile": hostile, "args": "",
                            "cache-key": f"\n  {TEST_CACHE_KEY}  \n"})
    assert code == 2  # no such file (the name taken literally), no profile
    check = job.logs[-1]
    assert not any((job.workspace / n).exists() for n in ("pwned", "pwned2", "pwned3"))
    assert check.stdout.splitlines()[0] == f"::add-mask::{TEST_CACHE_KEY}"
    assert TEST_CACHE_KEY not in check.stdout.replace(f"::add-mask::{TEST_CACHE_KEY}", "")
    assert "Traceback" not in check.stderr


#: a file name a runner would read as workflow commands if it were printed raw: a
#: newline then a command, GitHub's %-escape of a newline, and a '::' command mid-line
HOSTILE_NAME = "x\n::error::pwned%0A::add-mask::mask%0D\n##[warning]old.csv"


def _commands(text: str) -> list[str]:
    """The lines a GitHub runner would run as workflow commands (white space before is
    ignored, as the runner does)."""
    return [line.strip() for line in text.splitlines()
            if line.lstrip().startswith(("::", "##["))]


@pytest.mark.parametrize("exists", [True, False])
def test_workflow_commands_in_file_names_are_data_through_the_action(
        job: Job, exists: bool) -> None:
    """GITHUB_ACTIONS=true, a contact file and a report path whose names hold newlines,
    ``::`` and ``%0A``: the only workflow commands in the step's log are the CLI's own
    annotations (their data escaped), and GITHUB_OUTPUT gets exactly the action's
    outputs, the report's path whole."""
    (job.workspace / "campaign").mkdir()
    name = "campaign/" + HOSTILE_NAME
    if exists:
        write_csv(job.workspace / name,
                  [["nom", "mobile"], *[[f"n{i}", f"0607{i:06d}"] for i in range(12)]])
    report = "out/r\n::error::j%0A.json"
    code = run_action(job, {"contacts": name, "json-report": report,
                            "markdown-report": "out/s\n::warning::m.md"})
    check = job.logs[-1]
    assert "Traceback" not in check.stderr
    for line in _commands(check.stdout) + _commands(check.stderr):
        assert line.startswith(("::error title=rcsqualify", "::warning title=rcsqualify")), \
            line
        assert "pwned%0A" not in line and "\n" not in line
    out = action_outputs(job)
    assert set(job.outputs["check"]) <= {"exit-code", "decision", "error_ratio", "upper",
                                        "report-json"}
    if exists:
        assert code == 3, check.stderr  # offline: undecided
        assert out["decision"] == "undecided"
        assert out["report-json"] == str(job.workspace / report)
        assert json.loads((job.workspace / report).read_text(encoding="utf-8"))[
            "decision"] == "undecided"
        assert _commands(check.stdout), "the undecided gate's annotation"
        assert "::error::pwned%0A" in check.stderr  # the name is shown mid-line, as data
        page = job.summary.read_text(encoding="utf-8")
        assert not _commands(page) or all("title=rcsqualify" in c for c in _commands(page))
    else:
        assert code == 2
        assert out["decision"] == out["report-json"] == ""
        assert "pwned%0A" in check.stderr  # the name is shown, as data


@pytest.mark.parametrize("python", ["none", "too old"])
def test_a_runner_without_a_usable_python_is_one_clear_annotation(job: Job, tmp_path: Path,
                                                                 python: str) -> None:
    """python-version empty on a runner whose PATH has no ``python`` (a self-hosted
    Linux runner with python3 only had "python: command not found", exit 127), or an
    old one (pip's "requires a different Python" deep in the log)."""
    bare = tmp_path / "bare-path"
    bare.mkdir()
    bash = shutil.which("bash")
    assert bash
    (bare / "bash").symlink_to(bash)
    if python == "too old":
        (bare / "python3").write_text("#!/bin/sh\nexit 1\n")  # sys.version_info < (3, 11)
        (bare / "python3").chmod(0o755)
    job.env["PATH"] = str(bare)
    code = run_action(job, {"contacts": _contacts(job.workspace), "python-version": ""})
    install = job.logs[-1]
    assert code == 2, install.stderr
    assert install.stdout.startswith("::error title=rcsqualify::no Python 3.11 or later")
    assert "command not found" not in install.stderr
