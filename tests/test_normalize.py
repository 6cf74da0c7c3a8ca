"""CONTRACT §3, rule by rule, plus hypothesis properties of the normalizer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcsqualify.numbering.normalize import format_e164, normalize_numbers
from rcsqualify.numbering.plan import load_plan
from rcsqualify.verdict import KINDS, REASONS, REPAIRS


def norm(cells: list[str | None]) -> list[tuple[str, str, str, str]]:
    """(e164, reason, repaired, kind) per cell."""
    plan = load_plan()
    r = normalize_numbers(pd.Series(cells, dtype="str"), plan)
    e164 = format_e164(r.key).to_pylist()
    return [(e, REASONS[a], REPAIRS[b], KINDS[k])
            for e, a, b, k in zip(e164, r.reason, r.repaired, r.kind, strict=True)]


MOBILE = "+33612345678"
CASES: list[tuple[str | None, str, str, str, str]] = [
    # cell, e164, reason, repaired, kind
    # separators and prefixes
    ("0612345678", MOBILE, "", "", "mobile"),
    ("06 12 34 56 78", MOBILE, "", "", "mobile"),
    ("06\u00a012\u00a034\u00a056\u00a078", MOBILE, "", "", "mobile"),  # no-break spaces
    ("06\u202f12\u202f34\u202f56\u202f78", MOBILE, "", "", "mobile"),  # narrow no-break
    ("06\u200912\u200934\u200956\u200978", MOBILE, "", "", "mobile"),  # thin spaces
    ("06.12.34.56.78", MOBILE, "", "", "mobile"),
    ("06-12-34-56-78", MOBILE, "", "", "mobile"),
    ("06/12/34/56/78", MOBILE, "", "", "mobile"),
    ("(06) 12 34 56 78", MOBILE, "", "", "mobile"),
    ("  0612345678  ", MOBILE, "", "", "mobile"),
    ("tel:+33612345678", MOBILE, "", "", "mobile"),
    ("TEL:+33612345678", MOBILE, "", "", "mobile"),
    ("+33 (0)6 12 34 56 78", MOBILE, "", "", "mobile"),
    ("+33(0)612345678", MOBILE, "", "", "mobile"),
    ("+33 06 12 34 56 78", MOBILE, "", "", "mobile"),
    ("+33612345678", MOBILE, "", "", "mobile"),
    ("+33 6 12 34 56 78", MOBILE, "", "", "mobile"),
    ("0033612345678", MOBILE, "", "", "mobile"),
    ("0033 6 12 34 56 78", MOBILE, "", "", "mobile"),
    ("33612345678", MOBILE, "", "", "mobile"),
    ("0612345678.0", MOBILE, "", "", "mobile"),
    # leading zero eaten by a spreadsheet
    ("612345678", MOBILE, "", "leading_zero", "mobile"),
    ("6 12 34 56 78", MOBILE, "", "leading_zero", "mobile"),
    ("745123456", "+33745123456", "", "leading_zero", "mobile"),
    ("612345678.0", MOBILE, "", "leading_zero", "mobile"),
    # overseas numbers written nationally → their own code
    ("0690 12 34 56", "+590690123456", "", "", "mobile"),
    ("0691 28 12 34", "+590691281234", "", "", "mobile"),
    ("0694 12 34 56", "+594694123456", "", "", "mobile"),
    ("0696 10 12 34", "+596696101234", "", "", "mobile"),
    ("0697 27 12 34", "+596697271234", "", "", "mobile"),
    ("0692 12 34 56", "+262692123456", "", "", "mobile"),
    ("0693 12 34 56", "+262693123456", "", "", "mobile"),
    ("0639 01 23 45", "+262639012345", "", "", "mobile"),
    ("0709 03 12 34", "+590709031234", "", "", "mobile"),  # Guadeloupe 07 block
    ("0709 33 12 34", "+594709331234", "", "", "mobile"),  # Guyane 07 block
    ("0709 13 12 34", "+596709131234", "", "", "mobile"),  # Martinique 07 block
    ("0709 21 12 34", "+262709211234", "", "", "mobile"),  # Réunion 07 block
    ("0709 37 12 34", "+262709371234", "", "", "mobile"),  # Mayotte 07 block
    ("0708 56 12 34", "+508708561234", "", "", "mobile"),  # St Pierre et Miquelon
    ("0590 12 34 56", "+590590123456", "", "", "fixed_line"),
    # already international, right code
    ("+590 690 12 34 56", "+590690123456", "", "", "mobile"),
    ("00590690123456", "+590690123456", "", "", "mobile"),
    ("+262 639 01 23 45", "+262639012345", "", "", "mobile"),
    # +33 on an overseas block: repaired
    ("+33 690 12 34 56", "+590690123456", "", "overseas_code", "mobile"),
    ("0033 694 12 34 56", "+594694123456", "", "overseas_code", "mobile"),
    ("33692123456", "+262692123456", "", "overseas_code", "mobile"),
    ("+33 6 39 01 23 45", "+262639012345", "", "overseas_code", "mobile"),
    ("+33 0690 12 34 56", "+590690123456", "", "overseas_code", "mobile"),
    # a wrong overseas code is not repaired
    ("+590 692 12 34 56", "", "unallocated", "", ""),
    ("+262 690 12 34 56", "", "unallocated", "", ""),
    ("+590 6 12 34 56 78", "", "unallocated", "", ""),
    # not mobile
    ("01 05 60 12 34", "+33105601234", "", "", "fixed_line"),
    ("09 75 12 34 56", "+33975123456", "", "", "voip"),
    ("08 00 00 12 34", "+33800001234", "", "", "special"),
    ("07 00 00 01 23 45 67", "+337000001234567", "", "", "m2m"),
    ("+33 700 000 123 45 67", "+337000001234567", "", "", "m2m"),
    ("0700 502 12 34 56", "+590700502123456", "", "", "m2m"),  # overseas 13-digit 0700
    ("+594 700 602 12 34 56", "+594700602123456", "", "", "m2m"),
    # invalid
    ("", "", "empty", "", ""),
    (None, "", "empty", "", ""),
    ("   ", "", "empty", "", ""),
    ("N/A", "", "not_a_number", "", ""),
    ("NULL", "", "not_a_number", "", ""),
    ("null", "", "not_a_number", "", ""),
    ("nan", "", "not_a_number", "", ""),
    ("-", "", "not_a_number", "", ""),
    ("inconnu", "", "not_a_number", "", ""),
    ("06 12 34 56 78 (bureau)", "", "not_a_number", "", ""),
    ("3.36123E+10", "", "excel_scientific", "", ""),
    ("3,36123E+10", "", "excel_scientific", "", ""),
    ("6.12345678e8", "", "excel_scientific", "", ""),
    ("0612345678; 0698765432", "", "multiple_numbers", "", ""),
    ("0612345678,0698765432", "", "multiple_numbers", "", ""),
    ("0612345678 | 0698765432", "", "multiple_numbers", "", ""),
    ("0612345678 & 0698765432", "", "multiple_numbers", "", ""),
    ("06 12 34 56 78 / 06 98 76 54 32", "", "multiple_numbers", "", ""),
    ("0612345678//0698765432", "", "multiple_numbers", "", ""),
    ("06 12 34 56 78 ou 07 12 34 56 78", "", "multiple_numbers", "", ""),
    ("06 12 34 56 78 OU 07 12 34 56 78", "", "multiple_numbers", "", ""),
    ("06 12 34 56 78 et 07 12 34 56 78", "", "multiple_numbers", "", ""),
    ("0612345678/0698765432", "", "multiple_numbers", "", ""),  # bare / with 10|10 digits
    ("0612", "", "too_short", "", ""),
    ("3949", "", "too_short", "", ""),  # short code: no E.164 form
    ("06 12 34 56 7", "", "too_short", "", ""),
    ("12345", "", "too_short", "", ""),
    ("+33 6 12 34 56 7", "", "too_short", "", ""),
    ("061234567890", "", "too_long", "", ""),
    ("12345678901", "", "too_long", "", ""),
    ("0612345678901", "", "too_long", "", ""),  # 13 digits outside 0700/0901
    ("1234567890", "", "unallocated", "", ""),  # 10 digits, no 0, no country code
    ("0869999999", "", "unallocated", "", ""),
    ("07005000000000", "", "unallocated", "", ""),  # 14-digit 0700 outside any block
    ("+44 20 7946 0958", "", "not_french", "", ""),
    ("0044 20 7946 0958", "", "not_french", "", ""),
    ("+1 415 555 0100", "", "not_french", "", ""),
]


@pytest.mark.parametrize(("cell", "e164", "reason", "repaired", "kind"), CASES,
                         ids=[repr(c[0]) for c in CASES])
def test_contract_rules(cell: str | None, e164: str, reason: str, repaired: str,
                        kind: str) -> None:
    assert norm([cell]) == [(e164, reason, repaired, kind)]


def test_vectorized_result_does_not_depend_on_neighbours() -> None:
    cells = [c[0] for c in CASES]
    together = norm(cells)
    alone = [norm([c])[0] for c in cells]
    assert together == alone


def test_pyarrow_and_pandas_inputs_agree() -> None:
    import pyarrow as pa

    plan = load_plan()
    cells = [c[0] for c in CASES]
    a = normalize_numbers(pa.array(cells, pa.string()), plan)
    b = normalize_numbers(pd.Series(cells, dtype="object"), plan)
    assert np.array_equal(a.key, b.key) and np.array_equal(a.reason, b.reason)


# -- properties -----------------------------------------------------------------------

def _valid_nationals() -> st.SearchStrategy[str]:
    """National numbers drawn from the allocated 10-digit blocks of the plan."""
    plan = load_plan()
    b = plan.blocks[plan.blocks["length"] == 10]
    starts = b["start"].to_numpy()
    ends = b["end"].to_numpy()

    @st.composite
    def draw(d: st.DrawFn) -> str:
        i = d(st.integers(0, len(starts) - 1))
        v = d(st.integers(int(starts[i]), int(ends[i])))
        return "0" + str(v).zfill(9)

    return draw()


def _variants(national: str, e164: str) -> list[str]:
    d = national
    pairs = " ".join(d[i:i + 2] for i in range(0, 10, 2))
    return [
        d, pairs, pairs.replace(" ", "."), pairs.replace(" ", "-"), pairs.replace(" ", "\u00a0"),
        e164, "00" + e164[1:], e164[:-9] + " (0)" + e164[-9:], f"tel:{e164}",
        e164[:-9] + " " + " ".join([e164[-9]] + [e164[-8:][i:i + 2] for i in range(0, 8, 2)]),
    ]


@settings(max_examples=300, deadline=None)
@given(_valid_nationals())
def test_e164_is_a_fixed_point(national: str) -> None:
    (e164, reason, _, _), = norm([national])
    assert reason == ""
    assert norm([e164])[0][:2] == (e164, "")


@settings(max_examples=300, deadline=None)
@given(_valid_nationals())
def test_every_written_variant_gives_the_same_e164(national: str) -> None:
    (e164, reason, _, _), = norm([national])
    assert reason == ""
    results = norm(_variants(national, e164))
    assert {r[0] for r in results} == {e164}, results


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_never_raises_and_gets_a_verdict(cell: str) -> None:
    (e164, reason, _, _), = norm([cell])
    assert (e164 == "") == (reason != "")
