"""The documentation stays true to the code (issue #11: drift; issue #26 item 1: the
README cut to a front door, everything else on the documentation site under docs/).

- the command-line reference is generated from the Click tree of the app
  (``rcsqualify.cli.reference``): every command, option and environment variable is in
  it, and every variable the code reads is described there;
- every JSON report key is on the JSON report page;
- every status, reason, repair, source, route, list and gate mode the code can emit is
  defined in the glossary;
- the README stays a front door: at most 250 lines, the two commands first, and every
  page of docs/ is in the site's nav (``mkdocs build --strict`` in .ci/run checks links
  and anchors; this checks the nav without MkDocs installed).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import Result

from rcsqualify.cli.reference import environment_only, reference_markdown, root_command, walk
from tests.conftest import Emulator
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference() -> str:
    return reference_markdown()


def _code_spans(text: str) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", text))


def test_every_report_key_is_on_the_json_report_page() -> None:
    schema = json.loads((DOCS / "report.schema.json").read_text(encoding="utf-8"))
    page = (DOCS / "reference" / "json-report.md").read_text(encoding="utf-8")
    missing = [k for k in schema["properties"] if f"| `{k}` |" not in page]
    assert missing == [], f"document these keys in docs/reference/json-report.md: {missing}"


def test_every_environment_variable_the_code_reads_is_in_the_reference(reference: str) -> None:
    found: set[str] = set()
    for path in (ROOT / "rcsqualify").rglob("*.py"):
        found |= set(re.findall(r"\bRCSQUALIFY_[A-Z0-9_]+\b", path.read_text(encoding="utf-8")))
    spans = _code_spans(reference)
    missing = sorted(v for v in found if v not in spans)
    assert missing == [], ("describe these variables (read from the environment only) in "
                           "ENVIRONMENT_ONLY, rcsqualify/cli/reference.py, or a provider's "
                           f"in its registry entry's secrets (providers.py): {missing}")


def test_every_command_and_option_is_in_the_reference(reference: str) -> None:
    spans = _code_spans(reference)
    headings = set(re.findall(r"^## (.+)$", reference, flags=re.M))
    for path, command in walk(root_command()):
        assert path in headings, path
        for param in command.params:
            if param.param_type_name == "option" and not getattr(param, "hidden", False):
                for name in param.opts:
                    assert name in spans, f"{path} {name}"
                for env in ([param.envvar] if isinstance(param.envvar, str)
                            else param.envvar or []):
                    assert env in spans, f"{path} {env}"


def test_the_reference_gives_the_defaults(reference: str) -> None:
    check = reference.split("## rcsqualify check\n", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in check.splitlines() if line.startswith("| `--threshold`"))
    assert "`RCSQUALIFY_THRESHOLD`" in row and "`0.15`" in row
    row = next(line for line in check.splitlines() if line.startswith("| `--gate`"))
    assert "`decide`" in row


def test_documented_variables_exist() -> None:
    """A variable named in a page is one the code reads: an option's or one read from
    the environment only (a renamed variable must not live on in the docs)."""
    known = set(environment_only())
    for _, command in walk(root_command()):
        for param in command.params:
            env = param.envvar
            known |= {env} if isinstance(env, str) else set(env or ())
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        text = page.read_text(encoding="utf-8")
        named = set(re.findall(r"\bRCSQUALIFY_[A-Z0-9_]*[A-Z0-9]\b", text))
        unknown = sorted(named - known - {"RCSQUALIFY_PIP_SPEC"})  # the CI files' own
        assert unknown == [], f"{page.relative_to(ROOT)}: {unknown}"


def test_the_glossary_defines_every_code() -> None:
    from rcsqualify.report.split import LISTS
    from rcsqualify.report.summary import GATE_MODES
    from rcsqualify.report.writers import RCS_LABELS
    from rcsqualify.verdict import REASON_STATUS, REASONS, REPAIRS, ROUTES, SOURCES, STATUSES

    page = (DOCS / "reference" / "glossary.md").read_text(encoding="utf-8")
    defined = set(re.findall(r"^\| `([a-z0-9_]+)` \|", page, flags=re.M))
    defined |= set(re.findall(r"^    - `([a-z]+)`", page, flags=re.M))  # the gate modes
    codes = {*map(str, STATUSES), *REASONS, *REPAIRS, *SOURCES, *ROUTES, *RCS_LABELS,
             *LISTS, "send_rbm", *GATE_MODES, "footer"} - {""}
    assert sorted(codes - defined) == []
    for reason in REASONS[1:]:  # each reason under its own status
        assert re.search(rf"^\| `{reason}` \| `{REASON_STATUS[reason]}` \|", page, re.M), reason


def test_the_readme_is_a_front_door() -> None:
    lines = README.splitlines()
    assert len(lines) <= 250, len(lines)
    fence = lines.index("```sh")
    install_and_run, install_and_test = lines[fence + 1], lines[fence + 2]
    assert "pip install -q -e . && rcsqualify check sample_data/" in install_and_run
    assert install_and_test.endswith("pip install -q -e '.[test]' && python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_and_test in ci, ".ci/run runs the README's test command"
    assert "mkdocs build --strict" in ci
    for term in ("`range_holder`", "`ported_out`", "`capability_negative`", "**`send_rcs`**",
                 '"Gate known"'):
        assert term in README, term
    # the terminal prints 'gate decide: …' on every run: the default mode is named too
    from rcsqualify.defaults import GATE_MODES
    for mode in GATE_MODES:
        assert f"`--gate {mode}`" in README, mode


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for v in nav.values() for p in _nav_pages(v)]
    if isinstance(nav, list):
        return [p for v in nav for p in _nav_pages(v)]
    return []


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = set(_nav_pages(config["nav"]))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert sorted(pages - nav) == [], "add these pages to the nav of mkdocs.yml"
    generated = {"reference/cli.md"}  # written by the build hook (scripts/mkdocs_hooks.py)
    assert sorted(nav - pages - generated) == []
    assert config["validation"]["links"]["anchors"] == "warn"
    assert config["validation"]["nav"]["omitted_files"] == "warn"


def _code_blocks(text: str) -> list[str]:
    """The fenced code blocks of a Markdown page (``` or ~~~, any info string), each
    fence closed by its own kind: a regex pairing every ``` with the next one would read
    the prose between two blocks as code."""
    blocks: list[str] = []
    block: list[str] = []
    fence = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not fence and stripped[:3] in ("```", "~~~"):
            fence, block = stripped[:3], []
        elif fence and stripped.startswith(fence) and not stripped.strip(fence[0]):
            blocks.append("\n".join(block))
            fence = ""
        elif fence:
            block.append(line)
    return blocks


#: programs that run another one (``pipx run rcsqualify``, ``timeout 60 rcsqualify``)
_RUNNERS = {"pipx", "uvx", "nice", "timeout", "exec", "env", "sudo", "time"}


def _rcsqualify_command_lines(text: str) -> list[list[str]]:
    """Every ``rcsqualify …`` command of a page, as argument lists after the program:
    in shell code blocks (continuation lines joined, comments dropped, split on ``&&``,
    ``|``, ``;``, ``&``) and in inline code spans that start with ``rcsqualify``."""
    segments: list[str] = []
    for block in _code_blocks(text):
        for line in re.sub(r"\\\n", " ", block).splitlines():
            segments += re.split(r"&&|\|\||[|;&]", line)
    segments += re.findall(r"`(rcsqualify [^`]+)`", text)
    commands = []
    for segment in segments:
        try:
            words = shlex.split(segment, comments=True)
        except ValueError:
            continue
        words = [w for w in words if w not in ("$", ">")]
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words = words[1:]  # NAME=value before the program
        if not words:
            continue
        program = words[0].rsplit("/", 1)[-1]
        if program in _RUNNERS:
            at = next((i for i, w in enumerate(words)
                       if re.fullmatch(r"(.*/)?rcsqualify(@[\w.]+)?", w)), None)
            if at is None:
                continue
            words = words[at:]
        elif program != "rcsqualify":
            continue
        commands.append(words[1:])
    return commands


def test_every_documented_command_line_names_real_commands_and_options() -> None:
    """A command shown in the README or a page of docs/ runs as written: its command and
    every option it gives exist (``refresh`` passes the others to ``check``). A renamed
    option would otherwise live on in an example a new user copies."""
    commands = dict(walk(root_command()))
    options = {path: {o for p in c.params for o in (*p.opts, *p.secondary_opts)}
               for path, c in commands.items()}
    options["rcsqualify refresh"] |= options["rcsqualify check"]
    for path in options:  # Click adds --help to every command
        options[path].add("--help")
    placeholder = re.compile(r"[A-Z…][A-Z_.…]*|\[.*")  # COMMAND, BASE, …, [--profile NAME]
    wrong = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for words in _rcsqualify_command_lines(text):
            path, rest = "rcsqualify", list(words)
            while rest and f"{path} {rest[0]}" in commands:
                path = f"{path} {rest.pop(0)}"
            if rest and path == "rcsqualify" and not rest[0].startswith("-") \
                    and not placeholder.fullmatch(rest[0]):
                wrong.append(f"{page.relative_to(ROOT)}: no command {rest[0]!r}: {words}")
            for word in rest:
                if word == "--":
                    break
                if re.match(r"--?[A-Za-z]", word) and not placeholder.fullmatch(word) \
                        and word.split("=")[0] not in options[path]:
                    wrong.append(f"{page.relative_to(ROOT)}: {path} has no {word}: {words}")
    assert wrong == [], "\n".join(wrong)


def _tour_commands(step: str) -> list[list[str]]:
    """The commands of the README tour's step whose bold title starts with ``step``, one
    argument list per command line (continuations joined, comments dropped)."""
    block = _code_blocks(README.split(f"**{step}", 1)[1])[0]
    return [words for line in re.sub(r"\\\n", " ", block).splitlines()
            if (words := shlex.split(line, comments=True))]


def test_the_readme_tour_runs_as_written_on_the_emulator(emulator: Emulator, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps 2 and 3 of the README's tour, each command as written (the emulator's port
    aside, the fixture's emulator standing for ``rcsqualify emulator --port 8787 &``), say
    what the README says: the capability run fails (exit 1), again from the cache alone;
    the profile is written, the check-up passes with the credentials the step-2 export
    gave, and the dry run asks nothing; step 4's gate asks nothing either and fails
    with its JUnit report."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    for name in ("RCSQUALIFY_BOTHUB_CLIENT_ID", "RCSQUALIFY_BOTHUB_CLIENT_SECRET"):
        monkeypatch.delenv(name)  # the README's export line must give them
    ran: dict[str, list[tuple[list[str], Result]]] = {}
    for step in ("2. Capability", "3. A profile", "4. CI"):
        for words in _tour_commands(step):
            if words[:2] == ["rcsqualify", "emulator"]:
                assert words[2:4] == ["--port", "8787"], words
                continue
            if words[0] == "export":
                for assignment in words[1:]:
                    name, _, value = assignment.partition("=")
                    monkeypatch.setenv(name, value)
                continue
            assert words[0] == "rcsqualify", words
            args = [w.replace("http://127.0.0.1:8787", emulator.base) for w in words[1:]]
            ran.setdefault(step, []).append((args, run_cli(args)))
    (check_args, first), = ran["2. Capability"]
    assert first.exit_code == 1 and "FAIL:" in first.stderr, first.stderr
    again = run_cli(check_args)  # "Run it again: every answer comes from the cache"
    assert again.exit_code == 1 and "API: 0 requests" in again.stderr, again.stderr
    (init_args, init), (_, doctor), (_, dry) = ran["3. A profile"]
    assert init_args[0] == "init" and init.exit_code == 0, init.output
    assert doctor.exit_code == 0 and "FAIL" not in doctor.stdout, doctor.stdout
    assert dry.exit_code == 0 and "DRY RUN" in dry.stderr, dry.stderr
    (_, gate), = ran["4. CI"]
    assert gate.exit_code == 1 and "API: 0 requests" in gate.stderr, gate.stderr
    assert '<failure type="gate"' in (tmp_path / "junit.xml").read_text(encoding="utf-8")


def _export(path: Path, labels: list[str]) -> Path:
    """A French export as the README's tour describes it: a title row above the header,
    a mobile and a landline column, a total line at the end."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Export clients décembre 2026"])
    sheet.append(labels)
    sheet.append(["Dupont", "06 12 34 56 78", "01 42 00 00 00", 107.35])
    sheet.append(["Martin", "07 81 23 45 67", None, 12])
    sheet.append(["TOTAL", None, None, 119.35])
    book.save(path)
    return path


def test_the_readme_title_row_advice_works(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's own-export sentence: a title row and a total line are detected; and
    when the title row is not recognized (the read line says ``no header row``),
    ``--skip-rows 1`` reads the header below it."""
    monkeypatch.chdir(tmp_path)
    _export(tmp_path / "Export clients.xlsx", ["Nom", "Tél. portable", "Fixe", "CA"])
    result = run_cli(["check", "Export clients.xlsx"])
    assert result.exit_code in (0, 1, 3), result.stderr
    read = next(line for line in result.stderr.splitlines() if line.startswith("read "))
    assert "column 'Tél. portable'" in read and "title row above the header skipped" in read
    assert "footer" in read
    assert "--skip-rows 1" in README and "no header row" in README
    # a header the title detection does not take for labels (one with digits, CA 2026,
    # today): whatever the detection makes of it, --skip-rows 1 names the header
    _export(tmp_path / "b.xlsx", ["Nom", "Tél. portable", "Fixe", "CA 2026"])
    result = run_cli(["check", "b.xlsx", "--skip-rows", "1"])
    read = next(line for line in result.stderr.splitlines() if line.startswith("read "))
    assert "column 'Tél. portable'" in read and "footer" in read, read


def test_the_learn_loop_of_the_learn_page_runs_as_written(emulator: Emulator, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """docs/learn.md's loop on the emulator, each command as written (the emulator's port
    aside; ``curl`` sent with httpx, ``python3`` run with this interpreter): the
    campaign's events are learned, the final check asks nothing and counts the numbers
    the campaign switched off as not RCS."""
    import subprocess
    import sys

    import httpx

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    page = (DOCS / "learn.md").read_text(encoding="utf-8")
    assert "--emulator http://127.0.0.1:8787 --no-input`" in page
    init = next(w for w in _tour_commands("3. A profile") if w[1] == "init")
    local = [w.replace("http://127.0.0.1:8787", emulator.base) for w in init[1:]]
    assert run_cli(local).exit_code == 0
    block = next(b for b in _code_blocks(page) if "_emulator/campaign -d @" in b)
    results = []
    for line in block.splitlines():
        words = [w.replace("http://127.0.0.1:8787", emulator.base)
                 for w in shlex.split(line, comments=True)]
        if words[:2] == ["rcsqualify", "emulator"]:
            continue
        if words[0] == "export":
            for assignment in words[1:]:
                monkeypatch.setenv(*assignment.split("=", 1))
        elif words[0] == "python3":
            *program, redirect, target = words
            assert redirect == ">", line
            out = subprocess.run([sys.executable, *program[1:]], capture_output=True,
                                 text=True, check=True).stdout
            (tmp_path / target).write_text(out, encoding="utf-8")
        elif words[0] == "curl":
            assert words[1:4] == ["-s", "-X", "POST"] and words[5] == "-d", line
            body = (tmp_path / words[6].removeprefix("@")).read_bytes()
            answer = httpx.post(words[4], content=body, timeout=30)
            answer.raise_for_status()
            assert words[7] == "-o", line
            (tmp_path / words[8]).write_bytes(answer.content)
        else:
            assert words[0] == "rcsqualify", line
            results.append(run_cli(words[1:]))
    first, learned, last = results
    assert first.exit_code == 1, first.stderr
    assert learned.exit_code == 0 and "learned from" in learned.output, learned.output
    switched = re.search(r"(\d+) numbers the cache held reachable failed as not RCS",
                         learned.output)
    assert switched and int(switched[1]) > 0, learned.output
    assert "API: 0 requests" in last.stderr, last.stderr
    said = re.search(r"switch_off`: (\d+) of the (\d+) here\).*?ratio, ([\d.]+) %", page, re.S)
    assert said and f"{said[1]} of {said[2]} messages failed as not RCS" in learned.output
    assert f"actual error ratio {said[3]} %" in learned.output, learned.output
    reachable = re.search(r"capability_positive (\d+)", first.stderr)
    again = re.search(r"capability_positive (\d+)", last.stderr)
    assert reachable and again and int(again[1]) == int(reachable[1]) - int(switched[1])


def test_the_readme_quotes_the_first_command_s_verdict_as_printed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict the README's tour quotes (step 1, its lines joined), and the Outputs
    page after it, is the first line the README's first command prints, word for word."""
    monkeypatch.chdir(ROOT)
    lines = README.splitlines()
    command = lines[lines.index("```sh") + 1].split(" && ")[-1]
    words = shlex.split(command)
    assert words[0] == "rcsqualify", command
    result = run_cli(words[1:])
    assert result.exit_code == 3, result.stderr
    verdict = " ".join(result.stderr.splitlines()[0].split())
    quoted = _code_blocks(README.split("**1. Offline.**", 1)[1])[0]
    assert " ".join(quoted.split()) == verdict
    outputs = (DOCS / "guide" / "outputs.md").read_text(encoding="utf-8")
    assert f'"{verdict}"' in " ".join(outputs.split()), "docs/guide/outputs.md quotes it too"
