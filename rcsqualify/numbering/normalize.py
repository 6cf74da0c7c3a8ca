"""Vectorized normalization of French numbers to E.164 (CONTRACT §3).

The whole column goes through pandas string operations (Arrow-backed, RE2 regexes)
and one numpy ``searchsorted`` per number length over the ARCEP block table: no
per-row Python and no per-row phonenumbers call. phonenumbers is only a second
opinion, in the tests, on what this produces.

Choices where the contract is silent (also in the documentation, docs/guide/reading-files.md):
- ``612345678.0`` (a float that went through a spreadsheet or pandas) is read as
  ``612345678``: the ``.0`` adds no digit, nothing is lost.
- Explicit separators (``;`` ``,`` ``|`` ``&`` `` / `` ``//`` `` ou `` `` et ``) make a
  cell ``multiple_numbers`` when at least 6 digits stand on each side; a bare ``/``
  needs 8 on each side (so ``06/12/34/56/78`` stays one number).
- Text around digits that is not one of the accepted separators (``06 12 .. poste 3``)
  is ``not_a_number``: we never guess which digits the user meant.
- 13/14-digit numbers that start with 0700 or 0901 but fall in no allocated extended
  block are ``unallocated``; other 11-14 digit numbers are ``too_long``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from rcsqualify.numbering.buffers import bool_array, bools, cast, int_array, string_parts
from rcsqualify.numbering.buffers import compute as pc  # imported when first used
from rcsqualify.numbering.plan import FRENCH_COUNTRY_CODES, NumberingPlan
from rcsqualify.verdict import KIND, R

if TYPE_CHECKING:
    import pandas as pd

_SPACES = "\u00a0\u2007\u2009\u202f\u200b\ufeff"
_SEPARATORS = rf"[\s{_SPACES}.\-/()]"
_EXPLICIT_SEP = r"(?:;|,|\||&| / |//| ou | et )"
_MULTI = (
    rf"\d(?:\D*\d){{5}}[^\d]*?{_EXPLICIT_SEP}\D*\d(?:\D*\d){{5}}"
    r"|\d(?:\D*\d){7}[^\d/]*/[^\d/]*\d(?:\D*\d){7}"
)
_SCIENTIFIC = r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+"

REPAIR_NONE, REPAIR_LEADING_ZERO, REPAIR_OVERSEAS = np.uint8(0), np.uint8(1), np.uint8(2)


@dataclass
class Normalized:
    """Per-row result of normalization, as parallel arrays."""

    reason: np.ndarray  # uint8 reason code; 0 = valid so far
    repaired: np.ndarray  # uint8 REPAIRS code
    key: np.ndarray  # int64 E.164 digits, 0 when invalid (the dedupe and cache key)
    block: np.ndarray  # int32 row of plan.blocks, -1 when invalid
    kind: np.ndarray  # uint8 KINDS code

    def __len__(self) -> int:
        return len(self.reason)


def _match(arr: pa.Array, pattern: str) -> np.ndarray:
    return bools(pc.match_substring_regex(arr, pattern))


def _as_arrow(cells: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """The cells as one Arrow string array (nulls kept: the scan reads them as empty)."""
    if isinstance(cells, pa.ChunkedArray):
        arr = cells.combine_chunks()
    elif isinstance(cells, pa.Array):
        arr = cells
    else:  # a pandas Series (tests, callers holding one): pandas is already loaded
        arr = pa.Array.from_pandas(cells.astype("string"))
    if arr.type != pa.string():
        arr = pc.cast(arr, pa.string())
    return arr


_POW10 = 10 ** np.arange(19, dtype=np.int64)
#: ``_IS_CODE[k][x]``: x is a French country code of k digits (a table, not ``np.isin``,
#: which imports numpy.ma: ~10 ms at start-up)
_IS_CODE = np.zeros((4, 1000), dtype=bool)
for _code in FRENCH_COUNTRY_CODES:
    _IS_CODE[len(_code), int(_code)] = True


def _pow10(exp: np.ndarray) -> np.ndarray:
    """10 to each exponent, exponents clipped to 0..18 (``take``'s clip mode)."""
    return np.take(_POW10, exp, mode="clip")


# The one pass reads a cell made only of digits, "+", spaces, dots and dashes
# (``06 12 34 56 78``, ``+33 6 12…``, ``06.12.34.56.78``) from its bytes; anything else
# (letters, other separators, non-ASCII, a single dot that may be a spreadsheet's
# ``.0``) takes the exact regex path, ``_clean_odd_cells``. What each byte that is not a
# digit adds to the packed running count of ``_scan``: 1 in the field of its class
# (other, dot, space, plus); dashes nothing.
_FIELD = np.ones(256, dtype=np.int64)
_FIELD[ord("-")] = 0
_FIELD[ord(".")] = 1 << 12
_FIELD[ord(" ")] = 1 << 24
_FIELD[ord("+")] = 1 << 36
_PLUS_BYTE = ord("+")
#: Send every cell down the regex path: the reference the byte pass is tested against.
_REGEX_ONLY = False


@dataclass
class _Scan:
    """What the byte pass learned of each cell."""

    rare: np.ndarray  # bool: the regex path must read this cell
    reason: np.ndarray  # uint8: empty / not_a_number / 0 (cells that are not rare)
    plus: np.ndarray  # bool: the digits follow a "+"
    ndigits: np.ndarray  # int64
    value: np.ndarray  # int64: the digits as a number (exact up to 18 digits)


def _scan(arr: pa.Array) -> _Scan:
    """One vectorized pass over the UTF-8 bytes of every cell (no per-row Python).

    Per cell it counts digits and bytes of each other class with cumulative sums read at
    the cell boundaries, checks that a "+" comes before every digit (what ``^\\+?\\d+$``
    asks once separators are gone), and reads the digits' value with Arrow's integer
    cast (``_digits_value``).
    """
    n = len(arr)
    offsets, data, valid = string_parts(arr)
    lo = int(offsets[0]) if n else 0
    data = data[lo:int(offsets[-1])] if n else np.zeros(0, np.uint8)
    bounds = offsets - lo
    starts = bounds[:-1]
    ends = bounds[1:]

    # Digits: their running count, read at the boundaries, counts them per cell and
    # places each digit in its cell.
    is_digit = np.subtract(data, 48, dtype=np.uint8) < 10
    digits_before = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum(is_digit, out=digits_before[1:])
    digits_at = digits_before[bounds]
    ndigits = np.diff(digits_at).astype(np.int64)
    # The other bytes (a few per cell at most in a typical base) are counted by class
    # with one cumulative sum over them alone: each adds 1 to its class's 12-bit field;
    # a cell's counts are the difference at its boundaries, the number of non-digits
    # before a boundary being the bytes before it less the digits (exact while the cell
    # is shorter than 4096 bytes: longer cells take the regex path).
    other_at = np.flatnonzero(~is_digit)
    other = data[other_at]
    packed = np.zeros(len(other) + 1, dtype=np.int64)
    np.cumsum(_FIELD[other], out=packed[1:])
    counts = np.diff(packed[bounds - digits_at])
    del packed
    n_other = counts & 0xFFF
    n_dot = (counts >> 12) & 0xFFF
    n_space = (counts >> 24) & 0xFFF
    nplus = (counts >> 36) & 0xFFF
    length = ends - starts
    rare = (n_other > 0) | (n_dot == 1) | (length >= 4096)
    empty = length == n_space
    if valid is not None:
        rare &= valid
        empty |= ~valid
    empty &= ~rare
    bad_plus = nplus > 1
    plus_at = other_at[other == _PLUS_BYTE]
    if len(plus_at):
        cell = np.searchsorted(ends, plus_at, side="right")
        bad_plus[cell[digits_before[plus_at] > digits_at[cell]]] = True
    reason = np.zeros(n, dtype=np.uint8)
    reason[empty] = R["empty"]
    reason[~rare & ~empty & ((ndigits == 0) | bad_plus)] = R["not_a_number"]
    return _Scan(rare=rare, reason=reason, plus=nplus > 0, ndigits=ndigits,
                 value=_digits_value(data[is_digit], digits_at, ndigits))


def _digits_value(digits: np.ndarray, offsets: np.ndarray, ndigits: np.ndarray
                  ) -> np.ndarray:
    """The value of each cell's digits (bytes ``digits`` cut at ``offsets``), 0 where a
    cell has none or more than 18: Arrow's string-to-integer cast, over the cells with
    1 to 18 digits (the others are nulls it skips)."""
    n = len(ndigits)
    ok = (ndigits >= 1) & (ndigits <= 18)
    validity = pa.py_buffer(np.packbits(ok, bitorder="little"))
    text = pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets),
                                                  pa.py_buffer(digits)])
    parsed = cast(text, pa.int64())
    values = np.frombuffer(parsed.buffers()[1], np.int64, count=n, offset=parsed.offset * 8)
    return np.where(ok, values, 0)


def _clean_odd_cells(t: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Cells that are not plain digits: detect the unreadable, strip separators.

    Returns the cleaned strings and the reason code for each cell (0 = readable).
    Runs on the subset of cells that need it, so a clean base pays almost nothing.
    """
    n = len(t)
    reason = np.zeros(n, dtype=np.uint8)
    low = pc.utf8_lower(t)
    reason[_match(low, "^" + _SCIENTIFIC + "$")] = R["excel_scientific"]
    reason[_match(low, _MULTI) & (reason == 0)] = R["multiple_numbers"]
    c = pc.replace_substring_regex(low, r"^(?:tel|tél|phone)\s*:\s*", "")
    c = pc.replace_substring_regex(c, r"^(\d{9,})\.0$", r"\1")
    c = pc.replace_substring_regex(c, r"\(\s*0\s*\)", "")
    c = pc.replace_substring_regex(c, _SEPARATORS, "")
    reason[~_match(c, r"^\+?\d+$") & (reason == 0)] = R["not_a_number"]
    return c, reason


def _read_rare(cells: pa.Array) -> tuple[_Scan, np.ndarray]:
    """The exact regex path for the cells the byte pass cannot read alone: trimmed,
    then plain digits, else ``_clean_odd_cells``; the cleaned text is scanned."""
    t = pc.utf8_trim(cells, " \t\r\n" + _SPACES)
    offsets, _, _ = string_parts(t)
    reason = np.zeros(len(t), dtype=np.uint8)
    reason[np.diff(offsets) == 0] = R["empty"]
    odd_idx = np.flatnonzero(~_match(t, r"^\+?\d+$") & (reason == 0))
    if len(odd_idx):
        cleaned, odd_reason = _clean_odd_cells(t.take(int_array(odd_idx)))
        reason[odd_idx] = odd_reason
        odd = np.zeros(len(t), dtype=bool)
        odd[odd_idx] = True
        t = pc.replace_with_mask(t, bool_array(odd), cleaned)
    return _scan(t), reason


def normalize_numbers(
    cells: pd.Series | pa.Array | pa.ChunkedArray, plan: NumberingPlan
) -> Normalized:
    """Normalize a column of cells as people and spreadsheets write them.

    After cleaning, each cell is a digit string, optionally after "+". From there the
    work is integer arithmetic: the string's length L and value v (int64, L ≤ 18) say
    whether it starts with 0 or 00 (v < 10^(L-1), v < 10^(L-2)) and what its first k
    digits are (v // 10^(L-k)). No string slicing per form, no per-row Python.

    A long column is read a slice of ``_SLICE`` cells at a time: each pass then works
    on arrays that stay in the processor's cache (a fifth faster than whole batches).
    """
    raw = _as_arrow(cells)
    n = len(raw)
    if n <= _SLICE:
        return _normalize(raw, plan)
    out = Normalized(reason=np.empty(n, np.uint8), repaired=np.empty(n, np.uint8),
                     key=np.empty(n, np.int64), block=np.empty(n, np.int32),
                     kind=np.empty(n, np.uint8))
    for lo in range(0, n, _SLICE):
        part = _normalize(raw.slice(lo, _SLICE), plan)
        for name in ("reason", "repaired", "key", "block", "kind"):
            getattr(out, name)[lo:lo + len(part)] = getattr(part, name)
    return out


_SLICE = 1 << 17


def _normalize(raw: pa.Array, plan: NumberingPlan) -> Normalized:
    n = len(raw)
    scan = _scan(raw)
    reason = scan.reason
    repaired = np.zeros(n, dtype=np.uint8)
    rare_idx = np.flatnonzero(scan.rare | (_REGEX_ONLY & ~(scan.reason == R["empty"])))
    if len(rare_idx):
        again, rare_reason = _read_rare(raw.take(int_array(rare_idx)))
        rare_reason[rare_reason == 0] = again.reason[rare_reason == 0]
        reason[rare_idx] = rare_reason
        scan.plus[rare_idx] = again.plus
        scan.ndigits[rare_idx] = again.ndigits
        scan.value[rare_idx] = again.value

    plus = scan.plus
    dlen = scan.ndigits
    reason[(reason == 0) & (dlen > 18)] = R["too_long"]
    todo = reason == 0
    v = np.where(todo, scan.value, 0)

    lead0 = todo & (dlen >= 2) & (v < _pow10(dlen - 1))
    dbl0 = lead0 & (dlen >= 3) & (v < _pow10(dlen - 2)) & ~plus
    intl = todo & (plus | dbl0)
    # the digits after "+" or "00": same value, 2 digits shorter for "00"
    ilen = np.where(dbl0, dlen - 2, dlen)
    ilead0 = intl & (v < _pow10(ilen - 1))

    given_cc = np.zeros(n, dtype=np.int64)
    nsn_len = np.zeros(n, dtype=np.int64)
    nsn_v = np.zeros(n, dtype=np.int64)
    # only the international forms (a fifth of a typical base) are tried against codes
    cand = np.flatnonzero(intl & ~ilead0)
    cand_v, cand_len = v[cand], ilen[cand]
    # a code is the first 2 or 3 digits of at least one more (no code heads another)
    first3 = cand_v // _pow10(cand_len - 3)
    first2 = first3 // 10
    cand_cc = np.zeros(len(cand), dtype=np.int64)
    cand_k = np.zeros(len(cand), dtype=np.int64)
    for k in (2, 3):
        m = (cand_len > k) & _IS_CODE[k].take(first2 if k == 2 else first3, mode="clip")
        cand_cc[m] = (first2 if k == 2 else first3)[m]
        cand_k[m] = k
    found = cand_cc != 0
    cand, cand_cc, cand_k = cand[found], cand_cc[found], cand_k[found]
    given_cc[cand] = cand_cc
    nsn_len[cand] = ilen[cand] - cand_k
    nsn_v[cand] = v[cand] % _pow10(nsn_len[cand])
    reason[intl & (given_cc == 0)] = R["not_french"]

    national_form = todo & ~intl & lead0
    bare = todo & ~intl & ~national_form
    bare_33 = bare & (dlen == 11) & (v // 10**9 == 33)
    given_cc[bare_33] = 33
    nsn_len[bare_33] = 9
    nsn_v[bare_33] = v[bare_33] % 10**9
    eaten = bare & ~bare_33 & (dlen == 9) & ((v // 10**8 == 6) | (v // 10**8 == 7))
    repaired[eaten] = REPAIR_LEADING_ZERO
    rest = bare & ~bare_33 & ~eaten
    reason[rest & (dlen < 10)] = R["too_short"]
    reason[rest & (dlen > 10)] = R["too_long"]
    reason[rest & (dlen == 10)] = R["unallocated"]

    # "+33 06…" drops the 0 like "(0)" does: a zero heading the national significant number
    with_cc = given_cc != 0
    zero_after_cc = with_cc & (nsn_len >= 2) & (nsn_v < _pow10(nsn_len - 1))
    nsn_len[zero_after_cc] -= 1
    # national number = "0" + nsn: its value is the nsn's, its length one more
    value = np.where(with_cc, nsn_v, v)
    nlen = np.where(with_cc, nsn_len + 1, np.where(eaten, 10, dlen))

    todo = reason == 0
    reason[todo & (nlen < 10)] = R["too_short"]
    first4 = value // _pow10(nlen - 4)  # the 3 digits after the leading 0: 700, 901…
    extended = (nlen >= 13) & (nlen <= 14) & ((first4 == 700) | (first4 == 901))
    reason[todo & (nlen > 10) & ~extended] = R["too_long"]

    todo = reason == 0
    block = plan.lookup(value, np.where(todo, nlen, 0))  # length 0: no block
    reason[todo & (block < 0)] = R["unallocated"]

    # Country code: the block's territory decides it. A +33 form of an overseas block is
    # a common mistake and is repaired; an overseas code on another territory's block
    # (or on a metropolitan block) is not: the number does not exist.
    todo = reason == 0
    cc = plan.block_country_codes.take(block, mode="clip")  # read where todo only
    mismatch = todo & with_cc & (given_cc != cc)
    repair = mismatch & (given_cc == 33)
    repaired[repair] = REPAIR_OVERSEAS
    reason[mismatch & ~repair] = R["unallocated"]

    todo = reason == 0
    block[~todo] = -1
    repaired[~todo] = REPAIR_NONE
    # E.164 digits as one integer: country code, then the national number less its 0
    key = np.where(todo, cc * _pow10(nlen - 1) + value, 0)

    # the digit after the leading 0 (0 to 9 for a valid number: the first of the three
    # in first4), and whether the national number is longer than 10 digits, choose the
    # kind
    second = np.minimum(np.where(todo, first4 // 100, 0), 10)
    kind = _KIND_BY_DIGIT[second * 2 + (nlen > 10)]
    return Normalized(reason=reason, repaired=repaired, key=key, block=block, kind=kind)


#: kind by ``2 * second digit + (longer than 10 digits)`` (none past the digits)
_KIND_BY_DIGIT = np.zeros(22, dtype=np.uint8)
_KIND_BY_DIGIT[2:12] = KIND["fixed_line"]  # 01 to 05
_KIND_BY_DIGIT[12] = _KIND_BY_DIGIT[14] = KIND["mobile"]  # 06, 07, 10 digits
_KIND_BY_DIGIT[15] = KIND["m2m"]  # 07 longer
_KIND_BY_DIGIT[16:18] = KIND["special"]  # 08
_KIND_BY_DIGIT[18:20] = KIND["voip"]  # 09


def format_e164(key: np.ndarray) -> pa.Array:
    """E.164 strings from integer keys; "" where the key is 0 (invalid)."""
    text = pc.cast(pa.array(key, type=pa.int64()), pa.string())
    plus = pc.binary_join_element_wise("+", text, "")
    return pc.if_else(pa.array(key != 0), plus, pa.scalar(""))


def normalize_e164_list(cells: list[str]) -> tuple[list[str], list[int]]:
    """E.164 of each written number, and the positions of those that are not valid
    French numbers (for commands that take a few numbers, e.g. ``cache forget``)."""
    from rcsqualify.numbering.plan import load_plan

    norm = normalize_numbers(pa.array(cells, pa.string()), load_plan())
    bad = [int(i) for i in np.flatnonzero(norm.key == 0)]
    good = norm.key[norm.key != 0]
    return [str(x) for x in format_e164(good).to_pylist()], bad
