"""The README stays true to the code: every JSON report key and every environment
variable the code reads is documented (issue #11: drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_report_key_is_in_the_readme() -> None:
    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8"))
    missing = [k for k in schema["properties"] if f"`{k}`" not in README]
    assert missing == [], f"document these JSON report keys in the README: {missing}"


def test_every_environment_variable_is_in_the_readme() -> None:
    found: set[str] = set()
    for path in (ROOT / "rcsqualify").rglob("*.py"):
        found |= set(re.findall(r"\bRCSQUALIFY_[A-Z0-9_]+\b", path.read_text(encoding="utf-8")))
    missing = sorted(v for v in found if v not in README)
    assert missing == [], f"document these environment variables in the README: {missing}"
