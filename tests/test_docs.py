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
from pathlib import Path

import pytest
import yaml

from rcsqualify.cli.reference import environment_only, reference_markdown, root_command, walk

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
