"""Total and footer rows at the end of a spreadsheet export (issue #26 item 5).

An Excel user's base often ends with a line such as ``TOTAL;;152`` or ``Somme : 152``.
Read as a contact it was an invalid number that counted against the base. The rule is
conservative, so a contact is never taken for a footer:

- only the last rows of the file (at most ``MAX_FOOTER_ROWS``), walking up from the last
  while each row qualifies;
- the row's phone cell is not a number (the pipeline asks only about rows read as
  ``empty``, ``not_a_number`` or ``too_short``, a count in the phone column);
- one cell starts with a total label (``LABELS``: Total, TOTAL, Totaux, Sous-total,
  Total général, Grand total, Somme, Sum, Count, Nombre, Nb; case and accents ignored);
- another cell, or the label cell after the label, is a sum or a count (a plain number);
- no cell holds a phone-like value (9 digits or more; a sum's cents do not count, so
  a total of amounts such as ``1476426.84`` or ``1 476 426,84 €`` is not phone-like).

Such rows are kept in the annotated output with reason ``footer`` and left out of the
rows, the messages and every count (``input.footer_rows`` says how many).
"""

from __future__ import annotations

import re
import unicodedata

MAX_FOOTER_ROWS = 3

LABELS = re.compile(r"^(sous[- ]?totaux|sous[- ]?total|total general|grand total|totaux|"
                    r"total|somme|sum|count|nombre|nb)\b[\s:.=-]*(?P<rest>.*)$")
_NUMBER = re.compile(r"^[+-]?\d[\d\s\u00a0\u202f.,]*(?:\s?[€%])?$")
_DIGITS = re.compile(r"\d")
#: An amount with cents: the digits before the decimal separator are what counts
_CENTS = re.compile(r"^([+-]?\d+(?:[\s\u00a0\u202f]\d{3})*)[.,]\d{1,2}(?:\s?€)?$")


def _phone_like(value: str) -> bool:
    """Nine digits or more, a decimal amount's cents left out: ``06.12.34.56.78`` and
    ``612345678.0`` are phone-like, a sum of 1476426.84 euros is not."""
    amount = _CENTS.match(value)
    return len(_DIGITS.findall(amount.group(1) if amount else value)) >= 9


def _plain(cell: str) -> str:
    text = unicodedata.normalize("NFKD", cell.strip()).casefold()
    return "".join(c for c in text if not unicodedata.combining(c))


def is_footer(cells: list[str | None]) -> bool:
    """Whether one row reads as a total line by the rule above."""
    values = [c.strip() for c in cells if c and c.strip()]
    if any(_phone_like(v) for v in values):
        return False
    for i, value in enumerate(values):
        label = LABELS.match(_plain(value))
        if label is None:
            continue
        rest = label.group("rest").strip()
        if rest and _NUMBER.match(rest):
            return True
        if any(_NUMBER.match(v) for j, v in enumerate(values) if j != i):
            return True
    return False


def footer_rows(tail: list[list[str | None]]) -> int:
    """How many of the last rows ``tail`` (in file order) are footer rows."""
    count = 0
    for cells in reversed(tail[-MAX_FOOTER_ROWS:]):
        if not is_footer(cells):
            break
        count += 1
    return count
