"""Option compatibility (issue #24 item 1): ``config show`` of a profiles file written
before the option groups existed is compared with the output recorded then. It changes
only in a commit that names the issue changing a default.

The rows follow the option groups (input, gate, reports, ...), so their order is not
compared; every row is, byte for byte (value, where it came from, column widths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"


def config_show_prod() -> str:
    """``config show`` of the golden profile, its directory written ``<DIR>``."""
    result = run_cli(["config", "show", "--config", str(GOLDEN / "profiles.toml"),
                      "--profile", "prod"])
    assert result.exit_code == 0, result.stderr
    return result.stdout.replace(str(GOLDEN), "<DIR>")


def test_config_show_of_a_profile_written_before_the_option_groups_is_unchanged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # a long checkout path may still wrap a cell
    monkeypatch.delenv("RCSQUALIFY_CACHE_DIR")  # the test's own, a temporary path
    expected = (GOLDEN / "config_show_prod.txt").read_text(encoding="utf-8")
    shown = config_show_prod()
    assert _frame(shown) == _frame(expected)
    assert sorted(_rows(shown)) == sorted(_rows(expected))


def _rows(text: str) -> list[str]:
    """The table's rows, a cell wrapped onto continuation lines (first cell empty: a
    long checkout path) joined back, so the comparison is of cells, not of widths."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if rows and not cells[0]:
            rows[-1] = [f"{a} {c}".strip() for a, c in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return ["│ " + " │ ".join(cells) + " │" for cells in rows]


def _frame(text: str) -> list[str]:
    return [_unpadded(line) for line in text.splitlines() if not line.startswith("│")]


def _unpadded(line: str) -> str:
    """A line without its column padding: the widths follow the longest cell, which
    holds the checkout's real path (``<DIR>`` is put in after rendering), so they differ
    from one checkout to another (CI clones elsewhere); every cell is still compared."""
    import re

    return re.sub(r"([━─])\1+", r"\1", re.sub(r" +", " ", line))
