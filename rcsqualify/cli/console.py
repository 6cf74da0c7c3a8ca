"""The stderr console, with rich imported only when something needs rich (issue #18 item 1).

A quiet check prints one line (the verdict) and rich.console costs ~15 ms to import. A
plain line printed the way the CLI prints every line (``markup=False, highlight=False,
soft_wrap=True``) comes out of rich exactly as given plus a newline, when it holds no
control character (rich strips those) and no ``:name:`` that rich could take for an
emoji code: such a line is written directly. Anything else (a table, a styled text,
progress bars, a line with ``:`` pairs, another option, any other attribute) goes to
the rich ``Console``, built then with the same settings.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

#: a superset of what rich's emoji replacement matches (``:name:``, ``:name-text:``)
_MAYBE_EMOJI = re.compile(r":\S*?:")


class LazyConsole:
    """A ``rich.console.Console(stderr=True, **settings)`` made on first real use."""

    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self._console: Console | None = None
        # the direct write goes where that console would write: sys.stderr
        self._direct = settings.get("stderr") is True and settings.get("file") is None

    def _rich(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._settings)
        return self._console

    def print(self, *objects: Any, markup: bool | None = None,
              highlight: bool | None = None, soft_wrap: bool | None = None,
              **options: Any) -> None:
        if (self._direct and self._console is None and len(objects) == 1 and not options
                and markup is False and highlight is False and soft_wrap is True
                and type(objects[0]) is str and objects[0].isprintable()
                and not _MAYBE_EMOJI.search(objects[0])):
            sys.stderr.write(objects[0] + "\n")
            sys.stderr.flush()
            return
        self._rich().print(*objects, markup=markup, highlight=highlight,
                           soft_wrap=soft_wrap, **options)

    # Python looks special methods up on the class, never through __getattr__: rich's
    # progress display enters the console (``with console:``) on a terminal
    def __enter__(self) -> Console:
        return self._rich().__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self._rich().__exit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rich(), name)
