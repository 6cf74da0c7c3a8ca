"""Escaping text from the input or a server for the CI report formats.

A column name, a file name, an operator name, a server's note: any of them can hold
what a format would read as its own syntax (Markdown emphasis or a table's ``|``, raw
HTML, an XML character that is not allowed, a workflow command's ``::`` or newline)
or control characters that rewrite a terminal or a log. Each format escapes through
one function here; the report modules never put such text out any other way.
"""

from __future__ import annotations

import re

# C0/C1 controls, DEL, bidi and zero-width format characters, line/paragraph
# separators, lone surrogates and the XML non-characters: never useful in a report
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff\ufffe\uffff]")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
#: punctuation that makes Markdown wherever it stands: emphasis and strikethrough
#: (``* _ ~``), code spans, link and image brackets, table pipes, math (``$``), an
#: ``@mention`` or e-mail autolink, and the backslash itself (so a backslash in the data
#: never escapes ours away). The rest of ASCII punctuation is text where it stands and
#: is left as is, so the raw page reads in a terminal, a mail or a chat that shows it
#: unrendered ("d'erreur", "80,67 %", "(see below): done.").
_MD_ALWAYS = frozenset("\\`*_~[]|$@")
#: the one character that would make Markdown of the text where it stands, backslash-
#: escaped: a block at the start of a line (the escaped text may open a line or a
#: table cell, so its start is taken as one): a heading's ``#``, a list item's ``-`` /
#: ``+`` / ``1.`` / ``1)``, each followed by a space or nothing, a thematic break or a
#: setext underline (``---``, ``===``; ``>`` is an entity anyway); and a link GFM would
#: make of bare text: a URL's ``scheme://``, a ``www.`` (its extended autolinks). The
#: list and autolink scanners read the raw text, where ``1\.``, ``http\://`` or
#: ``www\.`` match nothing; ``0.1.0`` or ``--capability`` at the start stay as typed.
#: (An ``:emoji:`` shortcode is left alone: GitHub reads it in the rendered text, where
#: no escape survives, and a picture is neither markup nor a link.)
_MD_CONTEXT = re.compile(r"^([#+-])(?=\s|$)|^([-=])(?=[-=\s]*$)|^\d{1,9}([.)])(?=\s|$)"
                         r"|[A-Za-z0-9+.-](:)//|\b[Ww]{3}(\.)")


def plain_line(value: object, limit: int = 300) -> str:
    """One line of printable text: whitespace runs (newlines included) become one
    space, other control and format characters ``?``; cut at ``limit`` characters."""
    text = " ".join(str(value).split())
    text = _UNSAFE.sub("?", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def markdown_text(value: object, limit: int = 300) -> str:
    """Literal text in Markdown, table cells included (CommonMark and GitHub's GFM): it
    never becomes markup, raw HTML, a link or an emoji, wherever the report puts it.

    ``& < > "`` become entities (no raw HTML, no autolink, no quote); the characters
    that are markup anywhere (``_MD_ALWAYS``) are backslash-escaped, and the one
    character that turns the text's start into a block or a URL into a link
    (``_MD_CONTEXT``). A plain sentence keeps its ``: . ( ) ' , % ; / ! ?`` as typed.
    """
    text = plain_line(value, limit)
    marked = {m.start(g) for m in _MD_CONTEXT.finditer(text)
              for g in range(1, 6) if m.start(g) >= 0}
    out = []
    for i, ch in enumerate(text):
        if ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        elif ch in _MD_ALWAYS or i in marked:
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
