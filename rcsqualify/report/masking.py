"""Masking phone numbers shown to people (HTML report examples)."""

from __future__ import annotations


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
