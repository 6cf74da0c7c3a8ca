"""Column names and the choice of the phone column.

- Column names are unique and stable (``unique_names``): an empty header cell is
  ``column_<n>``; a repeated name gets ``_2``, ``_3``... (never a name already in the
  header); a name rcsqualify appends (``status``...) gets ``_input``. The report states
  every renamed column (``input.columns_renamed``), and ``--column`` accepts the original
  header as well as the unique name.
- The phone column is found by header (``header_priority``: ``mobile``/``portable``/
  ``gsm`` beat a generic ``tel``; ``fixe``/``fax``/``domicile`` are never chosen), else
  by content (the column whose sampled cells are mostly mobile numbers). A tie is an
  input error listing the candidates: rcsqualify never picks one at random.
- Header (CSV, XLSX; CONTRACT §11): the first row is a header when it reads as labels
  (``reads_as_label``): the cell above the phone column holds letters and no digits
  (``Téléphone``, not ``Martin;;Paris`` whose cell there is empty, nor ``06 12…``).
  Where the contract is silent: a recognized phone header with a short index
  (``Tel 2``, ``GSM1``: at most two digits) is a label too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from rcsqualify.errors import InputError

#: what the check reads for a date cell in a phone column (no digit: ``not_a_number``).
#: The report's examples show it as it is, unmasked: the words are the tool's, not the
#: user's (masked, they read "(a d••• c•••)", hiding what the example is for). It lives
#: here, a light module, so the report can name it without importing the readers.
DATE_CELL = "(a date cell)"

#: Columns rcsqualify appends to every row of the annotated output: an input column of
#: the same name is renamed ``<name>_input`` when read, so both are kept.
VERDICT_COLUMNS = ("msisdn_e164", "status", "reason", "repaired", "operator",
                   "operator_source", "territory", "rcs")
#: The column that keeps the cells of a CSV row past the header's width (issue #26):
#: reserved like the verdict columns, so an input column ``extra`` is ``extra_input``.
EXTRA_COLUMN = "extra"
#: Every name rcsqualify may append to a row.
ADDED_COLUMNS = (*VERDICT_COLUMNS, EXTRA_COLUMN)


def extra_line(cells: Sequence[str], delimiter: str) -> str:
    """The cells past a row's header as one CSV line, what ``EXTRA_COLUMN`` holds: a
    cell holding the delimiter, a quote or a line break is quoted, so the line splits
    back into exactly these cells (one cell ``x;y`` is not the cells ``x`` and ``y``).
    The line ends in ``\\r\\n`` while written: Python 3.11's writer quotes a field for
    a line break only when its line terminator holds that character."""
    import csv
    import io

    fragment = io.StringIO()
    csv.writer(fragment, delimiter=delimiter, lineterminator="\r\n").writerow(cells)
    return fragment.getvalue()[:-2]


#: Header words that name a phone column, by priority (first is best). Compared after
#: removing accents, case and anything not a letter or digit.
_PHONE_HEADERS: list[tuple[int, re.Pattern[str]]] = [
    (0, re.compile(r"^(msisdn|mobile|portable|gsm|cell|cellphone|mobilephone|telmobile|"
                   r"telportable|telephonemobile|telephoneportable|numeromobile|"
                   r"numeroportable|numportable|nummobile|tel(ephone)?gsm)$")),
    (1, re.compile(r"(mobile|portable|gsm|msisdn|cell)")),
    (2, re.compile(r"^(tel|tele|telephone|phone|phonenumber|numero|numerotel|"
                   r"numerotelephone|num|numtel|ntel|notel|ndetelephone|"
                   r"numerodetelephone|contact|destinataire|recipient|number)$")),
    (3, re.compile(r"(tel|phone|numero)")),
]
_NOT_PHONE = re.compile(r"(fixe|fax|domicile|bureau|landline|home|work|pro$|id$|^id|date|"
                        r"mail|nom|name|adresse|address|ville|city|code|cp|zip)")
_LETTER = re.compile(r"[^\W\d_]")


def header_key(name: str) -> str:
    """A header as compared: no accents, lower case, letters and digits only."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", text.lower())


def header_priority(name: str) -> int | None:
    """How strongly a header names a mobile phone column (0 best), None if it doesn't."""
    key = header_key(name)
    if not key:
        return None
    for prio, pattern in _PHONE_HEADERS:
        if pattern.search(key):
            # "tel fixe", "fax", "tel domicile": phone columns, but not mobiles
            if prio >= 2 and _NOT_PHONE.search(key):
                return None
            return prio
    return None


def reads_as_label(cell: str | None) -> bool:
    """Is this first-row cell (the one above the phone column) a label? Letters and no
    digits; or a phone header with a short index (``Tel 2``). CONTRACT §11."""
    if not cell or not _LETTER.search(cell):
        return False
    digits = sum(ch.isdigit() for ch in cell)
    if digits == 0:
        return True
    return digits <= 2 and header_priority(re.sub(r"\d", "", cell)) is not None


#: A label's number (``Adresse 2``, ``CA 2026``, ``Tel 1``): an index of one or two
#: digits or a year, beside a word of two letters or more.
_LABEL_NUMBER = re.compile(r"^\D*?(\d{1,2}|(19|20)\d\d)\D*$")
_WORD = re.compile(r"[^\W\d_]{2}")


def reads_as_header(cells: list[str]) -> bool:
    """Does this row read as a header (the row under a title row)? Two labels or more,
    one naming a phone column, every one holding letters, and at most two of them (and
    no more than those without) carrying a number, an index or a year beside a word
    (``Adresse 2``, ``CA 2026``, ``Mobile 2``). A row of contacts has a phone number, an
    amount or a date in a cell (no letters, or a long run of digits): never a header."""
    labels = [c for c in cells if c and c.strip()]
    if len(labels) < 2 or not any(header_priority(c) is not None for c in labels):
        return False
    numbered = 0
    for cell in labels:
        if reads_as_label(cell) and not any(ch.isdigit() for ch in cell):
            continue
        if not _WORD.search(cell) or not _LABEL_NUMBER.match(cell):
            return False
        numbered += 1
    return numbered <= 2 and numbered <= len(labels) - numbered


def unique_names(headers: list[str], reserved: tuple[str, ...] | set[str] = ADDED_COLUMNS
                 ) -> list[str]:
    """Unique, stable column names for ``headers`` (empty cells already named).

    The first occurrence of a name keeps it; later ones get ``_2``, ``_3``... skipping
    every name present anywhere in the header, so ``nom_1;nom;nom`` gives ``nom_1, nom,
    nom_2``; a reserved name (one rcsqualify appends) becomes ``<name>_input``.
    """
    taken = set(headers) | set(reserved)
    seen: set[str] = set()
    out = []
    for name in headers:
        if name in reserved:
            base, candidate, k = f"{name}_input", f"{name}_input", 1
        elif name in seen:
            base, candidate, k = name, f"{name}_2", 2
        else:
            seen.add(name)
            out.append(name)
            continue
        while candidate in taken:
            k += 1
            candidate = f"{base}_{k}"
        taken.add(candidate)
        seen.add(candidate)
        out.append(candidate)
    return out


#: Share of sampled cells that are valid mobile numbers, per column asked for.
ContentScores = Callable[[list[str]], dict[str, float]]


def choose_column(forced: str | None, headers: list[str], columns: list[str],
                  content_scores: ContentScores, *, ties_ok: bool = False
                  ) -> tuple[str, bool]:
    """The phone column's unique name, and whether it was chosen by a header *name*.

    The second value matters for header detection: a column the user named by its
    header proves the first row is a header, so it is not re-read as data.

    ``ties_ok`` (``--columns auto``, which takes every phone-like column): columns whose
    headers name a phone equally well (``Tel 1``, ``Tel 2``) are no ambiguity to refuse,
    the first one stands for them until the columns are ordered by their content.
    """
    if forced is not None:
        if forced in columns:
            default = {f"column_{i + 1}" for i in range(len(columns))}
            return forced, forced not in default
        if forced in headers:
            return columns[headers.index(forced)], True
        by_key = {header_key(h): c for h, c in zip(headers, columns, strict=True)}
        if header_key(forced) in by_key:
            return by_key[header_key(forced)], True
        if forced.isdigit() and 1 <= int(forced) <= len(columns):
            return columns[int(forced) - 1], False
        raise InputError(f"no column {safe_names([forced])}; columns are: "
                         f"{safe_names(columns)}")
    ranked = sorted((p, i) for i, h in enumerate(headers)
                    if (p := header_priority(h)) is not None)
    if ranked:
        best = [columns[i] for p, i in ranked if p == ranked[0][0]]
        if len(best) == 1:
            return best[0], False
        scores = content_scores(best)
        top = max(scores.values())
        winners = [c for c, s in scores.items() if s == top]
        if len(winners) == 1 and top > 0:
            return winners[0], False
        if ties_ok:
            return best[0], False
        raise InputError("several columns could hold the phone number ("
                         + safe_names(best) + "): choose one with --column")
    scores = content_scores(list(columns))
    ordered = sorted(scores.items(), key=lambda kv: -kv[1])
    if ordered and ordered[0][1] >= 0.5 and (len(ordered) == 1 or ordered[1][1] < 0.5):
        return ordered[0][0], False
    plausible = [c for c, s in ordered if s > 0.1]
    hint = f" (candidates: {safe_names(plausible)})" if plausible else ""
    raise InputError("no phone column found by header or content" + hint
                     + f"; columns are: {safe_names(columns)}; use --column")


def safe_names(names: list[str]) -> str:
    """Column names for an error message: a "header" may be a row of data (its cells,
    its phone numbers), so numbers are masked and the list is cut (CONTRACT §11)."""
    from rcsqualify.masking import mask_secrets
    from rcsqualify.textsafe import safe_text

    return safe_text(", ".join(mask_secrets(str(n)) for n in names), 160)
