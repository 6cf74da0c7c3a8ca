"""Agreement with phonenumbers (the pinned version) on numbers drawn from MAJNUM blocks.

Where phonenumbers knows a range, both must give the same validity and the same E.164.
Every disagreement must be listed, with its reason, in
``fixtures/phonenumbers_disagreements.csv``; a listed block that no longer disagrees
fails too (the fixture must be refreshed when phonenumbers or the plan changes).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers

from rcsqualify.numbering.normalize import format_e164, normalize_numbers
from rcsqualify.numbering.plan import load_plan

FIXTURE = Path(__file__).parent / "fixtures" / "phonenumbers_disagreements.csv"
N = 120_000


def test_phonenumbers_version_is_the_pinned_one() -> None:
    assert phonenumbers.__version__ == "9.0.43"


def test_agreement_on_numbers_drawn_from_majnum() -> None:
    plan = load_plan()
    b = plan.blocks
    rng = np.random.default_rng(42)
    idx = rng.integers(0, len(b), N)
    starts = b["start"].to_numpy()[idx]
    ends = b["end"].to_numpy()[idx]
    lengths = b["length"].to_numpy()[idx]
    values = starts + (rng.random(N) * (ends - starts + 1)).astype(np.int64)
    national = ["0" + str(v).zfill(int(n) - 1) for v, n in zip(values, lengths, strict=True)]
    ours = format_e164(normalize_numbers(pd.Series(national, dtype="str"), plan).key).to_pylist()

    prefixes = b["prefix"].to_numpy(object)[idx]
    territories = b["territory"].to_numpy(object)[idx]
    ccs = plan.block_country_codes[idx]
    found: dict[tuple[str, str, str, str], int] = {}
    compared = agreed = 0
    for i, (nat, e164) in enumerate(zip(national, ours, strict=True)):
        try:
            parsed = phonenumbers.parse(f"+{ccs[i]}{nat[1:]}", None)
            pn_valid = phonenumbers.is_valid_number(parsed)
            pn_e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pn_valid, pn_e164 = False, ""
        ours_valid = e164 != ""
        compared += 1
        if ours_valid == pn_valid and (not pn_valid or pn_e164 == e164):
            agreed += 1
            continue
        key = (prefixes[i], territories[i], str(ours_valid), str(pn_valid))
        found[key] = found.get(key, 0) + 1

    with FIXTURE.open(encoding="utf-8") as fh:
        listed = {(r["block_prefix"], r["territory"], r["rcsqualify_valid"],
                   r["phonenumbers_valid"]): r["reason"] for r in csv.DictReader(fh)}
    assert compared == N
    assert all(reason.strip() for reason in listed.values())
    unexplained = sorted(set(found) - set(listed))
    stale = sorted(set(listed) - set(found))
    assert not unexplained, f"disagreements without a reason in the fixture: {unexplained[:10]}"
    assert not stale, f"fixture lists blocks that now agree: {stale[:10]}"
    # where phonenumbers knows the range (everything outside the listed blocks) we agree
    assert agreed >= 100_000
    assert agreed + sum(found.values()) == N
