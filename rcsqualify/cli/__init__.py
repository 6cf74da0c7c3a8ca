"""The ``rcsqualify`` command line: options → settings → runner → rendering. Nothing else.

Errors: every ``RcsQualifyError`` becomes one line on stderr and its exit code
(CONTRACT §7); anything unexpected becomes one line too (exit 2) unless ``--debug``,
which shows the traceback.

- ``base``: the app, its groups, one-line errors, help panels and examples;
- ``check``: ``check``, ``refresh`` (cron mode, via ``rcsqualify/refresh.py``), ``probe``;
- ``admin``: ``plan``, ``portability``, ``config``, ``cache``;
- ``emulator``: the local emulator;
- ``init`` and ``doctor``: write a profile, check a set-up (issue #26 item 2);
- ``coercion`` and ``console``: start-up (issue #18): Typer's pydantic coercion only for
  the values that need it, rich only when a line needs rich.
"""

from __future__ import annotations

# they register their commands
from rcsqualify.cli import admin, check, doctor, emulator, init, learn  # noqa: F401
from rcsqualify.cli.base import app

__all__ = ["app", "main"]


def main() -> None:
    app()
