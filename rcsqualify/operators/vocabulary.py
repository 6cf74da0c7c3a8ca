"""Operator values, as operators and aggregators really write them (issue 13); every
spelling maps to an ARCEP code through the shipped ARCEP tables:
- ARCEP ``Mnémo`` codes in any case (``FRTE``, ``frte``);
- MAJPORTA routing prefixes with or without the leading zero: the 5-digit metropolitan
  prefixes (``06001`` or ``6001``) and the 6-digit ones (``052303`` or ``52303``);
- MCC-MNC with or without a separator (``20801``, ``208-01``, ``208 01``).
Case, surrounding blanks, separators (space, ``-``, ``.``, ``/``, ``_``) and a
spreadsheet's ``.0`` are ignored. The forms never collide in the shipped tables: a
prefix with its zero starts with 0, one without it never does, and no zero-less
prefix equals an MCC-MNC (a test keeps it so).

Mobile or fixed-line prefix: in the shipped MAJPORTA, the 5-digit prefixes (0509x-0515x,
0600x) and the 6-digit ones starting 06, 07 (0708xx: Saint-Pierre-et-Miquelon) or 0523
(overseas networks) route mobile numbers; every other 6-digit prefix (01-05, 08, 09)
routes fixed, VoIP or special numbers. A fixed-line prefix given for a mobile number is
counted (``fixed_line_prefixes``) and not used: that number falls to the next source.

Used by the portability extracts (``operators/extracts.py``) and by the MNP answers
(``operators/mnp.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rcsqualify.numbering.plan import NumberingPlan

ACCEPTED_FORMS = ("ARCEP codes (FRTE, any case), routing prefixes with or without the "
                  "leading 0 (06001 or 6001, 052303 or 52303), MCC-MNC (20801 or 208-01)")


def is_mobile_routing_prefix(prefix: str) -> bool:
    """MAJPORTA prefix (with its 0) that routes mobile numbers (see the module doc)."""
    return len(prefix) == 5 or (len(prefix) == 6 and prefix.startswith(("06", "07", "0523")))


@dataclass(frozen=True)
class OperatorVocabulary:
    """Every accepted spelling of an operator value, cleaned (see ``clean_operator_values``)."""

    codes: dict[str, str]  # spelling → ARCEP code
    fixed_line: frozenset[str]  # spellings of fixed-line routing prefixes

    @classmethod
    def from_plan(cls, plan: NumberingPlan) -> OperatorVocabulary:
        codes = {code.upper(): code for code in plan.operator_codes}
        fixed: set[str] = set()
        for prefix, code in plan.routing_prefixes.items():
            spellings = [prefix, prefix[1:]] if prefix.startswith("0") else [prefix]
            codes.update(dict.fromkeys(spellings, code))
            if not is_mobile_routing_prefix(prefix):
                fixed.update(spellings)
        codes.update(plan.mcc_mnc)
        return cls(codes=codes, fixed_line=frozenset(fixed))


def operator_mapper(plan: NumberingPlan) -> dict[str, str]:
    """Every accepted operator value → ARCEP code (codes, routing prefixes with or without
    their leading 0, MCC-MNC). Keys are cleaned values: upper case, no separators."""
    return OperatorVocabulary.from_plan(plan).codes


def clean_operator_values(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Upper case, no blanks or separators, no spreadsheet ``.0``; null → ""."""
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    cleaned = pc.utf8_upper(pc.utf8_trim_whitespace(pc.fill_null(text, "")))
    cleaned = pc.replace_substring_regex(cleaned, r"^(\d+)\.0+$", r"\1")
    cleaned = pc.replace_substring_regex(cleaned, r"[\s\-./_]", "")
    if isinstance(cleaned, pa.ChunkedArray):
        cleaned = cleaned.combine_chunks()
    return cleaned


@dataclass
class MappedOperators:
    codes: pa.Array  # ARCEP code per row, null where the value maps to nothing
    cleaned: pa.Array  # the cleaned value per row
    fixed_line: np.ndarray  # bool: the value is a fixed-line routing prefix


def map_operator_values(values: pa.Array | pa.ChunkedArray, vocab: OperatorVocabulary
                        ) -> MappedOperators:
    """Map a column of operator values; the dictionary work is on distinct values only."""
    cleaned = clean_operator_values(values)
    encoded = pc.dictionary_encode(cleaned)
    uniques = encoded.dictionary.to_pylist()
    indices = pa.array(encoded.indices)
    codes = pc.take(pa.array([vocab.codes.get(u) for u in uniques], pa.string()), indices)
    fixed = np.array([u in vocab.fixed_line for u in uniques] or [False], dtype=bool)
    idx = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return MappedOperators(codes=codes, cleaned=cleaned,
                           fixed_line=fixed[idx] if len(uniques) else np.zeros(0, bool))


def shown_value(value: str) -> str:
    """An operator value fit for an error line: never a phone number, never long."""
    if value == "":
        return "(empty)"
    digits = sum(ch.isdigit() for ch in value)
    if digits > 6:
        return f"({digits}-digit value)"
    value = "".join(ch if ch.isprintable() else "?" for ch in value)
    return value if len(value) <= 16 else value[:15] + "…"
