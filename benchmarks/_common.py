"""What the benchmark scripts share. They run as ``python benchmarks/bench_x.py``, so this
directory is first on ``sys.path`` and ``from _common import ...`` finds this module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(figures: dict[str, Any], path: str | Path | None) -> None:
    """Print the figures as indented JSON and, when ``path`` is given, write the same text
    there (the committed ``results_*.json`` are written this way)."""
    text = json.dumps(figures, indent=2)
    print(text)
    if path:
        Path(path).write_text(text + "\n", encoding="utf-8")
