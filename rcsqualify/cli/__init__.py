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

import importlib

from rcsqualify.cli.base import OneLineErrors, app

__all__ = ["COMMAND_MODULES", "app", "main"]

#: every command of ``rcsqualify``, in the order of its help, and the module that
#: registers it on ``app``. A module is imported, and its commands built, when one of
#: them is read from the root group (it runs, a help or a completion shows it), not by
#: every run (start-up: issue #24). A new command: its line here (tests/test_startup.py
#: fails on a command missing or misplaced).
COMMAND_MODULES: dict[str, str] = {
    "check": "rcsqualify.cli.check", "refresh": "rcsqualify.cli.check",
    "probe": "rcsqualify.cli.check", "doctor": "rcsqualify.cli.doctor",
    "emulator": "rcsqualify.cli.emulator", "init": "rcsqualify.cli.init",
    "learn": "rcsqualify.cli.learn", "plan": "rcsqualify.cli.admin",
    "portability": "rcsqualify.cli.admin", "config": "rcsqualify.cli.admin",
    "cache": "rcsqualify.cli.admin",
}


class Commands(OneLineErrors):
    """The root group of ``rcsqualify``: its commands are those of ``COMMAND_MODULES``,
    each module imported here, above every command module (they import ``base``), so
    the lazy import closes no cycle (tests/test_layers.py counts imports by name)."""

    command_modules = COMMAND_MODULES

    def import_module(self, name: str) -> None:
        importlib.import_module(COMMAND_MODULES[name])


# the package runs before any of its modules is used: every root group built from
# ``app`` (``app()``, ``typer.main.get_command(app)``) is a ``Commands``
app.info.cls = Commands


def main() -> None:
    app()
