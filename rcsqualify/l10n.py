"""The reader's language, time and number rules for the HTML and Markdown reports
(issue #26 item 6). The terminal, JSON, JUnit and annotations stay English and UTC.

- **Language**: ``--lang`` > the profile's ``lang`` > ``RCSQUALIFY_LANG`` (Click applies
  that order before the runner sees ``Settings.lang``) > the locale, read as gettext
  reads it (``LC_ALL``, then ``LC_MESSAGES``, then ``LANG``). An unset, ``C`` or
  ``POSIX`` locale (``C.UTF-8`` included) gives **French**: that is the locale of cron
  and of most containers, and the product's readers are French; an explicit non-French
  locale (``en_US.UTF-8``, ``de_DE``…) gives English, the only other language we write.
- **Time**: Europe/Paris, with the UTC offset written out (``+01:00`` in winter,
  ``+02:00`` in summer), whatever the machine's own zone: a CI runner or a server in
  UTC still reports the time its readers live in. ``zoneinfo`` reads the system's zone
  database, or the ``tzdata`` package where there is none (a dependency for that).
- **Numbers**: one function per kind of figure, used by every figure of both reports:
  French groups thousands with a narrow no-break space and writes a decimal comma and
  ``12,84 %``; English writes ``6,001`` and ``12.84%``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from rcsqualify.defaults import LANGS as LANGS  # the languages, written once

PARIS = ZoneInfo("Europe/Paris")
_NNBSP = "\u202f"  # narrow no-break space: French thousands separator
_NBSP = "\u00a0"  # no-break space: before % in French

#: the locales that say nothing about their reader (cron's, a container's)
_NEUTRAL = ("", "c", "posix")


def default_lang(environ: Mapping[str, str]) -> str:
    """``fr`` or ``en`` from the locale variables, the first one set winning (as gettext
    reads them); an unset or C/POSIX locale gives French (see the module docstring)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            language = value.split(".")[0].split("@")[0].lower()
            if language in _NEUTRAL or language.startswith("fr"):
                return "fr"
            return "en"
    return "fr"


def number(value: float, lang: str, digits: int = 0) -> str:
    """``6 001`` / ``12,5`` (fr, narrow no-break space) or ``6,001`` / ``12.5`` (en)."""
    text = f"{value:,.{digits}f}"
    if lang == "fr":
        return text.replace(",", _NNBSP).replace(".", ",")
    return text


def percent(share: float, lang: str, digits: int = 2) -> str:
    """A share as a percentage: ``12,84 %`` (fr) or ``12.84%`` (en)."""
    text = number(share * 100, lang, digits)
    return f"{text}{_NBSP}%" if lang == "fr" else f"{text}%"


def counted(n: int, lang: str, one: str, many: str) -> str:
    """A count and its noun, singular by the language's rule: French for 0 and 1
    (``0 numéro ajouté``), English for 1 only (``0 numbers``, ``1 number``)."""
    single = n in (0, 1) if lang == "fr" else n == 1
    return f"{number(n, lang)} {one if single else many}"


def noun(n: int, one: str, many: str | None = None) -> str:
    """A count and its noun in the terminal's English, grouped (``1 row``, ``0 rows``,
    ``2,000 rows``): every count a command prints with a noun goes through it, so none
    says ``1 rows`` or ``row(s)``. ``many`` defaults to ``one`` + ``s``."""
    return counted(n, "en", one, many or f"{one}s")


def decimal(value: float, lang: str, digits: int = 2) -> str:
    """A figure as people wrote it (a rate, a threshold): ``30``, ``0,5`` / ``0.5``, at
    most ``digits`` decimals, trailing zeros dropped, never rounded to a wrong figure."""
    while digits and round(value, digits) == round(value, digits - 1):
        digits -= 1
    return number(value, lang, digits)


def threshold(share: float, lang: str) -> str:
    """A threshold as a percentage: ``15 %``, ``12,5 %`` (fr); ``15%``, ``12.5%`` (en)."""
    text = decimal(share * 100, lang)
    return f"{text}{_NBSP}%" if lang == "fr" else f"{text}%"


def money(amount: float, lang: str) -> str:
    """``1 234,50 €`` (fr) or ``€1,234.50`` (en)."""
    return f"{number(amount, lang, 2)}{_NBSP}€" if lang == "fr" else f"€{number(amount, lang, 2)}"


def day(iso: object, lang: str) -> str:
    """A date (``date`` or ISO text, e.g. the ARCEP plan's): ``17/04/2026`` in French,
    ``2026-04-17`` in English; text that is not a date as it is."""
    try:
        value = iso if isinstance(iso, date) else date.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    return f"{value:%d/%m/%Y}" if lang == "fr" else value.isoformat()


def paris(at: datetime) -> datetime:
    """``at`` in Europe/Paris; a naive time is taken as UTC (the cron log's ``at`` and
    the JSON are UTC)."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(PARIS)


def _offset(local: datetime) -> str:
    text = local.strftime("%z")  # +0100
    return f"UTC{text[:3]}:{text[3:]}"


def when(at: datetime, lang: str) -> str:
    """The run's date and time in Paris with its offset:
    ``12/03/2026 à 14:05 (heure de Paris, UTC+01:00)`` or
    ``2026-03-12 14:05 (Paris time, UTC+01:00)``."""
    local = paris(at)
    if lang == "fr":
        return f"{local:%d/%m/%Y} à {local:%H:%M} (heure de Paris, {_offset(local)})"
    return f"{local:%Y-%m-%d %H:%M} (Paris time, {_offset(local)})"


def short_when(at: datetime, lang: str, seconds: bool = False) -> str:
    """A trend point's label, date *and* time (two runs of one day stay apart), in Paris:
    ``12/03 14:05`` is ambiguous across years, so the year is kept:
    ``12/03/2026 14:05`` (fr) or ``2026-03-12 14:05`` (en); ``seconds`` adds them, for
    two runs of one minute (``14:05:09``)."""
    local = paris(at)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return f"{local:%d/%m/%Y} {local:{clock}}" if lang == "fr" else \
        f"{local:%Y-%m-%d} {local:{clock}}"
