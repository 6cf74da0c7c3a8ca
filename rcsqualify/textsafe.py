"""Text that came from outside (a server, a file) made safe to show (CONTRACT §10).

Servers and files are data: a message, an operator code or a job id may hold terminal
control sequences (which clear or rewrite the screen), bidirectional overrides (which
make a log line read differently than it is) or Rich markup. Everything shown on the
terminal, in a log line or in an error message goes through ``safe_text`` first; the
HTML report escapes on top of it.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode bidi/format characters that reorder text
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# the same, tabs and line breaks excepted (text shown as several lines)
_UNSAFE_IN_LINES = re.compile(r"(?![\t\n])" + _UNSAFE.pattern)


# a line a CI runner would run as a command: GitHub's workflow commands (``::error::``,
# ``::add-mask::``, ``::stop-commands::``) and their older ``##[…]`` form, after the
# white space the runner strips first
_COMMAND = re.compile(r"^([^\S\n]*)(::|##\[)", re.MULTILINE)


def no_command(text: str) -> str:
    """``text`` with every line that a CI runner would read as a workflow command
    prefixed by ``'`` (``::error::x`` → ``'::error::x``): shown, never run. Only the
    tool's own annotations (``report/annotations.py``) may start a line that way."""
    return _COMMAND.sub(r"\1'\2", text)


def safe_line(value: object) -> str:
    """One line as given, made inert: control and bidi characters replaced by ``?``
    (a file name holding ESC, OSC or BEL sequences, a sheet name with U+202E), line
    breaks and runs of white space folded to one space, no workflow command at its
    start. Nothing cut, nothing else escaped (the one-line errors)."""
    return no_command(" ".join(_UNSAFE.sub("?", str(value)).split()))


def safe_text(value: object, limit: int = 200) -> str:
    """``safe_line`` cut to ``limit`` characters with an ellipsis, Rich markup brackets
    escaped as plain text: outside text (a server, a file) inside a message."""
    text = safe_line(value)
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text.replace("[", "(").replace("]", ")")


def safe_lines(text: str) -> str:
    """Outside text shown as it is laid out (a server's answer): control and bidi
    characters replaced by ``?``, tabs and line breaks kept, no line a workflow
    command; nothing cut or escaped."""
    return no_command(_UNSAFE_IN_LINES.sub("?", text))


class CommandGuard:
    """A text stream (stdout, stderr under a CI runner) on which no line can start a
    workflow command: whatever writes there (a rich table whose word-wrap puts
    ``::error::`` at a line start, a message quoting a file name) goes through
    ``no_command`` line by line. The tool's own annotations go to ``raw``."""

    def __init__(self, stream: object) -> None:
        self.raw = stream
        self._at_start = True
        self._pending = ""  # white space at a line start, until a character decides

    def write(self, text: str) -> int:
        data, self._pending = self._pending + text, ""
        out = []
        for piece in data.splitlines(keepends=True):
            if self._at_start:
                if piece.lstrip(" \t") in ("", ":", "#", "##"):  # the last piece only
                    self._pending = piece  # undecided: wait for what follows
                    break
                piece = no_command(piece)
            out.append(piece)
            self._at_start = piece.endswith(("\n", "\r"))
        if out:
            self.raw.write("".join(out))  # type: ignore[attr-defined]
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.raw.write(no_command(self._pending))  # type: ignore[attr-defined]
            self._at_start = self._pending.endswith(("\n", "\r"))
            self._pending = ""
        self.raw.flush()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.raw, name)

