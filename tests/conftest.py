"""Shared fixtures: every test runs with its own cache, plan and data directories, a
fixed terminal width and none of the user's RCSQUALIFY_* variables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith("RCSQUALIFY_") or key == "GOOGLE_APPLICATION_CREDENTIALS":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RCSQUALIFY_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("RCSQUALIFY_PLAN_DIR", str(home / "plan"))
    monkeypatch.setenv("COLUMNS", "120")
    from rcsqualify.numbering.plan import load_plan

    load_plan.cache_clear()
    yield home
    load_plan.cache_clear()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def sample_contacts() -> Path:
    return SAMPLE / "contacts.csv"
