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


def safe_text(value: object, limit: int = 200) -> str:
    """One printable line: control and bidi characters replaced by ``?``, Rich markup
    brackets escaped as plain text, cut to ``limit`` characters with an ellipsis."""
    text = _UNSAFE.sub("?", str(value))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text.replace("[", "(").replace("]", ")")


def safe_lines(text: str) -> str:
    """Outside text shown as it is laid out (a server's answer): control and bidi
    characters replaced by ``?``, tabs and line breaks kept; nothing cut or escaped."""
    return _UNSAFE_IN_LINES.sub("?", text)


# a phone number as people write it: 8+ digits with separators, optional + or 00
_NUMBER = re.compile(r"(?:\+|%2B)?(?:\(?\d[\s.\-/()]{0,3}){7,}\d")
# a token, key or signature: a long run of base64/hex/url-safe characters
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~+/=]{24,}")


def mask_secrets(text: str) -> str:
    """``text`` with phone numbers (in any of their usual forms) and token-like strings
    replaced: a server may echo the number or the bearer token it was sent."""
    text = _NUMBER.sub("<number>", text)
    return _TOKEN.sub("<redacted>", text)
