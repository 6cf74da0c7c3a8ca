"""Small helpers shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from rcsqualify.cli import app


def run_cli(args: list[str], input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(app, args, input=input, catch_exceptions=False)


def check_json(args: list[str], input: str | bytes | None = None) -> tuple[Result, dict[str, Any]]:
    """Run ``check`` with ``--json-report -`` and parse the report from stdout."""
    result = run_cli(["check", *args, "--json-report", "-", "-q"], input=input)
    assert result.stdout.strip(), f"no report (exit {result.exit_code}): {result.stderr}"
    return result, json.loads(result.stdout)


def write_csv(path: Path, rows: list[list[str]], *, delimiter: str = ";",
              encoding: str = "utf-8") -> Path:
    text = "\r\n".join(delimiter.join(r) for r in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path
