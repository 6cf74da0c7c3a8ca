"""Masking what reports quote from the input.

Reports (JSON, HTML, Markdown) are uploaded as CI artifacts and mailed around; the
examples they give of invalid or repaired cells are input cells, and a phone column
holds whatever people typed there: an e-mail address, a street address, a name in
brackets. ``mask_cell`` is the one rule every report's examples go through.
"""

from __future__ import annotations

import unicodedata

MASK = "\u2022"  # •


def mask_cell(cell: str) -> str:
    """The shape of a cell without its content: the first character of each word (a run
    of letters, digits and the combining marks written on them) stays, every other letter
    or digit becomes ``•``, everything else (spaces, punctuation, ``@``, ``+``) stays
    where it was. A number is one word across its separators: a digit after another
    digit with only spaces or punctuation between is masked too.

    ``jean.dupont@gmail.com`` → ``j•••.d•••••@g••••.c••``; ``12 rue de la Paix 75002`` →
    ``1• r•• d• l• P••• 7••••``; ``06 12 34 56 78`` → ``0• •• •• •• ••``. Enough to see
    what kind of mistake a column holds (an address, a number with a comment, a
    number cut short), not enough to read a person's number, name or address.

    Why digits across separators: a number typed one digit at a time (``0 6 1 2 3 4 5 6
    7 8 9``) would otherwise be a run of one-digit words, all shown. Why marks inside a
    word: a decomposed accent (``He\u0301le\u0300ne``) or an Indic vowel sign is not a
    letter, and the letter after it would start a new word, shown; a mark on a masked
    letter goes with it (the shape is the letters'), a mark on the first letter stays.
    """
    out: list[str] = []
    in_word = False  # inside a run of letters, digits and marks
    in_number = False  # a digit seen, and no letter since
    for ch in cell:
        if unicodedata.category(ch)[0] == "M":  # a combining mark: part of its word
            if not (in_word and out and out[-1] == MASK):
                out.append(ch)
            continue
        if ch.isalnum():
            digit = ch.isnumeric()
            keep = not in_word and not (digit and in_number)
            out.append(ch if keep else MASK)
            in_word, in_number = True, digit
        else:
            in_word = False
            out.append(ch)
    return "".join(out)


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
