"""The report's language, time and number rules live in :mod:`rcsqualify.l10n` (the
bottom layer, so the notes made by the remote and capability layers can be worded in
both languages, see :mod:`rcsqualify.notes`); this name stays for the reports' callers."""

from rcsqualify.l10n import (
    LANGS,
    PARIS,
    counted,
    day,
    decimal,
    default_lang,
    money,
    noun,
    number,
    paris,
    percent,
    short_when,
    threshold,
    when,
)

__all__ = ["LANGS", "PARIS", "counted", "day", "decimal", "default_lang", "money", "noun",
           "number", "paris", "percent", "short_when", "threshold", "when"]
