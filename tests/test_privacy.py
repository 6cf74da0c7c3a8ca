"""What reports, tracebacks and terminal lines quote from outside (issue #23 items 10-13):
real CLI runs on real files, the outputs read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rcsqualify.report.masking import mask_cell
from tests.helpers import run_cli, write_csv

#: cells of a phone column that are not phone numbers, and what must never be quoted
HOSTILE_CELLS = ["jean.dupont@gmail.com", "12 rue de la Paix 75002",
                 "06 12 34 56 78 (bureau M. Dupont)"]
WORDS = ["jean", "dupont", "gmail", "rue de la", "Paix", "75002", "bureau", "Dupont",
         "12 34 56 78"]


@pytest.mark.parametrize(("cell", "masked"), [
    ("jean.dupont@gmail.com", "j•••.d•••••@g••••.c••"),
    ("12 rue de la Paix 75002", "1• r•• d• l• P••• 7••••"),
    ("06 12 34 56 78 (bureau M. Dupont)", "0• 1• 3• 5• 7• (b••••• M. D•••••)"),
    ("+33 6 12 34", "+3• 6 1• 3•"),
    ("", ""),
])
def test_mask_cell_keeps_the_shape_only(cell: str, masked: str) -> None:
    assert mask_cell(cell) == masked
    assert len(mask_cell(cell)) == len(cell)


def test_reports_never_quote_a_cell_in_clear(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "c.csv", [["nom", "mobile"],
                                        *[[f"n{i}", c] for i, c in enumerate(HOSTILE_CELLS)],
                                        ["x", "0612345678"]])
    outs = {"json": tmp_path / "r.json", "html": tmp_path / "r.html",
            "md": tmp_path / "r.md"}
    result = run_cli(["check", str(f), "--json-report", str(outs["json"]), "--html-report",
                      str(outs["html"]), "--markdown-report", str(outs["md"])])
    assert result.exit_code == 1, result.stderr
    texts = {k: p.read_text(encoding="utf-8") for k, p in outs.items()}
    texts["terminal"] = result.stdout + result.stderr
    for where, text in texts.items():
        for word in WORDS:
            assert word not in text, (where, word)
    examples = json.loads(texts["json"])["examples"]
    shown = [e for cells in examples.values() for e in cells]
    assert "j•••.d•••••@g••••.c••" in shown and "1• r•• d• l• P••• 7••••" in shown
    assert "j•••.d•••••@g••••.c••" in texts["html"]


@pytest.mark.parametrize("how", [["--debug"], []])
def test_debug_tracebacks_keep_frames_but_mask_the_rows_they_quote(
        tmp_path: Path, how: list[str]) -> None:
    """A parser's message quotes the row it failed on; ``--debug`` (or
    RCSQUALIFY_DEBUG=1) shows the frames and the exception types, never the row."""
    import os
    import subprocess
    import sys

    f = tmp_path / "bad.csv"
    f.write_text("a;b\nA;0612345678\nB;0698765432;extra;Jean Dupont\n")
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    env = {**os.environ, **({} if how else {"RCSQUALIFY_DEBUG": "1"})}
    done = subprocess.run([exe, "check", str(f), *how], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 1  # an uncaught exception: Python's own exit code
    assert "Traceback (most recent call last)" in done.stderr
    assert 'File "' in done.stderr and "pyarrow.lib.ArrowInvalid: " in done.stderr
    assert "line 3 has 4 fields" in done.stderr  # rcsqualify's own message, in full
    assert "message masked by rcsqualify" in done.stderr
    for quoted in ("0698765432", "Jean", "Dupont", "extra"):
        assert quoted not in done.stderr
