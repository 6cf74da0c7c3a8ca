"""Masking what reports quote from the input.

Reports (JSON, HTML, Markdown) are uploaded as CI artifacts and mailed around; the
examples they give of invalid or repaired cells are input cells, and a phone column
holds whatever people typed there: an e-mail address, a street address, a name in
brackets. ``mask_cell`` is the one rule every report's examples go through.
"""

from __future__ import annotations

import re

#: a letter or digit right after another one: all but the first of each word
_INSIDE_WORD = re.compile(r"(?<=[^\W_])[^\W_]")
MASK = "\u2022"  # •


def mask_cell(cell: str) -> str:
    """The shape of a cell without its content: the first character of each word (a run
    of letters and digits) stays, every other letter or digit becomes ``•``, everything
    else (spaces, punctuation, ``@``, ``+``) stays where it was.

    ``jean.dupont@gmail.com`` → ``j•••.d•••••@g••••.c••``; ``12 rue de la Paix 75002`` →
    ``1• r•• d• l• P••• 7••••``; ``06 12 34 56 78`` → ``0• 1• 3• 5• 7•``. Enough to see
    what kind of mistake a column holds (an address, a number with a comment, a
    number cut short), not enough to read a person's number, name or address.
    """
    return _INSIDE_WORD.sub(MASK, cell)


def mask_number(cell: str) -> str:
    """Keep the first five and the last two digits, star the others; keep the layout.

    ``+33 6 12 34 56 78`` → ``+33 6 12 ** ** 78``: enough to recognise a pattern in a
    messy column, not enough to identify the subscriber.
    """
    digits = [i for i, ch in enumerate(cell) if ch.isdigit()]
    if len(digits) <= 7:
        return cell
    hidden = set(digits[5:-2])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(cell))
