"""Where the numbering plan's files are, read without numpy.

The shipped MAJNUM, the one ``plan update`` installs, the compiled form of a plan in the
user cache (``plan.py`` builds and loads it) and, beside the compiled form, the plan's
snapshot date in a small text file: ``rcsqualify --version`` prints that date, and
reading it there instead of loading the plan spares that command numpy's import, about
40 % of its time (issue #24). Without the date file (a plan not compiled yet) the
caller loads the plan.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date
from importlib import resources
from pathlib import Path

import platformdirs

from rcsqualify.files import OutputError, atomic_write

#: Bump when NumberingPlan's fields change: compiled pickles of older shapes are ignored.
COMPILED_FORMAT = 5


def shipped(name: str) -> bytes:
    """A file of the plan shipped with the package (ARCEP open data)."""
    return (resources.files("rcsqualify") / "data" / "arcep" / name).read_bytes()


def plan_dir() -> Path:
    """Where ``plan update`` installs a newer MAJNUM (``RCSQUALIFY_PLAN_DIR`` overrides)."""
    env = os.environ.get("RCSQUALIFY_PLAN_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("rcsqualify")) / "plan"


def compiled_path(data: bytes) -> Path:
    """The compiled form of the plan read from ``data``, keyed by its SHA-256 (and by
    this version and format: another version's pickle is not read)."""
    from rcsqualify import __version__

    salt = f"{__version__}/{COMPILED_FORMAT}".encode()
    digest = hashlib.sha256(data + salt).hexdigest()[:16]
    return Path(platformdirs.user_cache_dir("rcsqualify")) / "plan" / f"plan-{digest}.pkl"


def _date_path(compiled: Path) -> Path:
    return compiled.with_suffix(".date")


def write_snapshot(compiled: Path, snapshot: date) -> None:
    """Keep the snapshot date of the plan compiled at ``compiled`` beside it."""
    path = _date_path(compiled)
    if path.is_file():
        return
    try:
        with atomic_write(path, mode=0o644) as tmp:
            tmp.write_text(snapshot.isoformat(), encoding="ascii")
    except (OSError, OutputError):
        pass  # a read-only or full cache directory only costs speed


def plan_snapshot() -> date | None:
    """The snapshot date of the plan ``plan.load_plan`` loads, from the date file beside
    its compiled form; None when there is none or it does not read as a date (then
    load the plan). An installed MAJNUM that is not valid has no compiled form, so its
    None sends the caller to ``load_plan``, which falls back to the shipped plan."""
    installed = plan_dir() / "MAJNUM.csv"
    try:
        data = installed.read_bytes() if installed.is_file() else shipped("MAJNUM.csv")
        text = _date_path(compiled_path(data)).read_text(encoding="ascii")
        return date.fromisoformat(text.strip())
    except (OSError, ValueError):
        return None
