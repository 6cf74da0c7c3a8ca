"""Escaping text from the input or a server for the CI report formats.

A column name, a file name, an operator name, a server's note: any of them can hold
what a format would read as its own syntax (Markdown emphasis or a table's ``|``, raw
HTML, an XML character that is not allowed, a workflow command's ``::`` or newline)
or control characters that rewrite a terminal or a log. Each format escapes through
one function here; the report modules never put such text out any other way.
"""

from __future__ import annotations

import re
import string

# C0/C1 controls, DEL, bidi and zero-width format characters, line/paragraph
# separators, lone surrogates and the XML non-characters: never useful in a report
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff\ufffe\uffff]")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
#: punctuation no CommonMark/GFM construct starts or ends with, left as is so the raw
#: page (a French one is full of "d'erreur", "80,67 %") reads as text in a terminal, a
#: mail or a chat that shows Markdown unrendered; ``/`` cannot make an autolink since
#: ``:``, ``.``, ``<`` and ``&`` stay escaped
_MD_INERT = frozenset("',%;/")
_MD_BACKSLASH = frozenset(string.punctuation) - set(_MD_ENTITIES) - _MD_INERT


def plain_line(value: object, limit: int = 300) -> str:
    """One line of printable text: whitespace runs (newlines included) become one
    space, other control and format characters ``?``; cut at ``limit`` characters."""
    text = " ".join(str(value).split())
    text = _UNSAFE.sub("?", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def markdown_text(value: object, limit: int = 300) -> str:
    """Literal text in Markdown, table cells included (CommonMark and GitHub's GFM).

    ``& < > "`` become entities (no raw HTML, no autolink); every other ASCII
    punctuation character but the inert ``' , % ; /`` is backslash-escaped (no
    emphasis, link, code span, heading, table pipe, ``@mention`` or ``:emoji:``).
    """
    out = []
    for ch in plain_line(value, limit):
        if ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        elif ch in _MD_BACKSLASH:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def xml_text(value: object, limit: int = 2000) -> str:
    """Text XML 1.0 can carry (ElementTree escapes ``& < > "`` itself, but writes
    control characters XML forbids, which make the whole file unreadable)."""
    return plain_line(value, limit)


def workflow_data(value: object) -> str:
    """The message of a GitHub workflow command, escaped as actions/toolkit's
    ``escapeData`` does (``%`` ``CR`` ``LF``); other controls become ``?``."""
    text = str(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return _UNSAFE.sub("?", text)


def workflow_property(value: object) -> str:
    """A property value of a workflow command (actions/toolkit ``escapeProperty``)."""
    return workflow_data(value).replace(":", "%3A").replace(",", "%2C")
