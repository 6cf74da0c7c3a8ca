"""The contact's number and the counting per contact (issue #25; ``docs/contacts.md``).

**The rule.** Each contact gets exactly one *chosen* number: the first number, in
priority order (``grouping.py``), of the best *tier* any of its numbers reaches:

====  ==========================================================================
tier  the number
====  ==========================================================================
0     an RCS-reachable target-operator mobile (``reachable``)
1     with a second route (``--other-route``): a mobile the other route reaches
2     an unverified target-operator mobile (``unverified``: not checked, check
      failed, not sampled; a mobile whose operator look-up failed too, since it
      may be a target mobile)
3     any other valid mobile (``other_operator``, ``not_rcs``)
4     any other number (``not_mobile``, ``invalid`` but not blank)
5     a blank cell (a contact with no number at all)
====  ==========================================================================

So a later number is chosen only when it ranks strictly better than every number
before it; ties go to priority order.

**What to look up.** Before the remote answers, a number's tier is only bounded: a mobile
whose operator or capability is still unknown could be tier 0 (``open``), a mobile of
another operator could be tier 1 while the second route has not answered. A number is
worth a look-up only when it could beat the contact's best *settled* number: the contact
is asked about its best open number, one per round (``next_lookups``), until its best
settled number cannot be beaten. A contact whose first number is reachable from the
cache costs nothing more; with one number per contact, every open number is asked, as
today.

**Counting.** One message per contact, to its chosen number; contacts whose chosen
numbers are the same number are duplicates, counted once, as rows are today. So
``contacts = messages + duplicate_contacts``: messages are the distinct chosen valid
numbers plus one per contact whose chosen number is invalid (``contact_messages``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rcsqualify.contacts.grouping import Contacts, one_of_each
from rcsqualify.verdict import REASON_TO_STATUS, REASONS, ROUTE, STATUSES, Status

TIER_REACHABLE, TIER_OTHER_ROUTE, TIER_UNVERIFIED, TIER_MOBILE, TIER_NUMBER, TIER_BLANK = (
    np.uint8(t) for t in range(6))
TIERS = ("reachable", "other_route", "unverified", "mobile", "number", "blank")

_STATUS_TIER = np.full(256, TIER_NUMBER, np.uint8)
for _i, _s in enumerate(STATUSES):
    _STATUS_TIER[_i] = {Status.REACHABLE: TIER_REACHABLE,
                        Status.UNVERIFIED: TIER_UNVERIFIED,
                        Status.OTHER_OPERATOR: TIER_MOBILE,
                        Status.NOT_RCS: TIER_MOBILE}.get(_s, TIER_NUMBER)
_EMPTY = np.uint8(REASONS.index("empty"))


def number_tiers(reason: np.ndarray, route: np.ndarray | None = None) -> np.ndarray:
    """The tier of each number from its final reason code (``verdict.REASONS``) and, with
    a second route, its route code (``verdict.ROUTES``)."""
    reason = np.asarray(reason, np.uint8)
    status = REASON_TO_STATUS[reason]
    tier = _STATUS_TIER[status]
    tier[reason == _EMPTY] = TIER_BLANK
    if route is not None:
        tier[(np.asarray(route) == ROUTE["rbm"]) & (tier > TIER_OTHER_ROUTE)] = \
            TIER_OTHER_ROUTE
    return tier


def _best(contacts: Contacts, tier: np.ndarray, eligible: np.ndarray | None = None
          ) -> np.ndarray:
    """Per contact, its best slot among ``eligible`` ones: lowest tier, then first in
    priority order; -1 where it has none.

    Each slot's score holds its tier above its position in its contact, in the smallest
    integer that fits (a contact holds at most ``--max-numbers-per-contact`` slots: two
    bytes a slot by default); the minimum of a contact's scores is its best slot."""
    n = contacts.n_contacts
    out = np.full(n, -1, np.int64)
    if contacts.n_slots == 0 or n == 0:
        return out
    counts = np.diff(contacts.start)
    shift = max(1, int(counts.max() - 1).bit_length())
    dtype = next(t for t in (np.uint16, np.uint32, np.uint64)
                 if shift + 3 <= 8 * np.dtype(t).itemsize)
    never = np.iinfo(dtype).max  # above every eligible score (tiers are below 7)
    position = (np.arange(contacts.n_slots, dtype=dtype)
                - np.repeat(contacts.start[:-1].astype(dtype), counts))
    score: np.ndarray = np.left_shift(np.asarray(tier).astype(dtype), dtype(shift))
    score |= position
    if eligible is not None:
        score[~np.asarray(eligible, bool)] = never
    nonempty = counts > 0
    mins = np.minimum.reduceat(score, contacts.start[:-1][nonempty])
    found = mins != never
    idx = np.flatnonzero(nonempty)
    low = dtype((1 << shift) - 1)
    out[idx[found]] = contacts.start[:-1][idx[found]] + (mins[found] & low).astype(np.int64)
    return out


def choose(contacts: Contacts, tier: np.ndarray) -> np.ndarray:
    """Per contact, its chosen slot by the rule (``tier`` per slot)."""
    return _best(contacts, np.asarray(tier, np.uint8))


def next_lookups(contacts: Contacts, tier: np.ndarray, open_: np.ndarray,
                 best_possible: np.ndarray) -> np.ndarray:
    """The slots to resolve next: per contact, its best open number when that one could
    beat its best settled number (a bool mask over slots).

    ``tier`` is each settled slot's tier, ``open_`` marks the slots a look-up could still
    change and ``best_possible`` the best tier each open slot could reach (0 for a
    mobile not yet attributed or checked; 1 for another operator's mobile awaiting the
    second route). An open slot is not compared as settled at all: its answer may still
    be anything, so only its best possible tier decides whether it is worth asking."""
    tier = np.asarray(tier, np.uint8)
    open_ = np.asarray(open_, bool)
    settled_best = _best(contacts, tier, ~open_)
    open_best = _best(contacts, np.asarray(best_possible, np.uint8), open_)
    out = np.zeros(contacts.n_slots, bool)
    has_open = open_best >= 0
    if not has_open.any():
        return out
    cand = open_best[has_open]
    settled = settled_best[has_open]
    # the open slot could beat the settled one: better tier, or same tier and earlier
    could = settled < 0
    known = ~could
    s_tier = tier[settled[known]]
    o_tier = np.asarray(best_possible, np.uint8)[cand[known]]
    could[known] = (o_tier < s_tier) | ((o_tier == s_tier) & (cand[known] < settled[known]))
    out[cand[could]] = True
    return out


@dataclass(frozen=True)
class ContactCount:
    """The messages of a run counted per contact (``contact_messages``)."""

    contacts: int
    messages: int
    duplicate_contacts: int
    #: one reason code per message: the distinct chosen valid numbers' reasons, then the
    #: reasons of contacts whose chosen number is invalid (the shape of today's
    #: per-row ``message_reasons``, so the summary counts statuses the same way)
    message_reasons: np.ndarray
    #: contacts whose chosen number is not their first (a better tier came later)
    rescued: int
    #: those, by the status of the number that rescued them
    rescued_by_status: dict[str, int]


def contact_messages(contacts: Contacts, chosen: np.ndarray, slot_key: np.ndarray,
                     slot_reason: np.ndarray) -> ContactCount:
    """Messages per contact: one per distinct chosen valid number (``slot_key`` non-zero:
    an E.164 key, or a number's index plus one; contacts sharing one are duplicates)
    plus one per contact whose chosen number is invalid. ``slot_reason`` is each slot's
    number's final reason (one verdict per number: two contacts sharing a number read
    the same reason)."""
    n = contacts.n_contacts
    key = slot_key[chosen] if n else np.zeros(0, np.int64)
    reason = np.asarray(slot_reason, np.uint8)[chosen] if n else np.zeros(0, np.uint8)
    valid = key != 0
    valid_idx = np.flatnonzero(valid)
    message_reasons = np.concatenate([reason[valid_idx[one_of_each(key[valid])]],
                                      reason[~valid]])
    messages = len(message_reasons)
    rescued = chosen != contacts.first_slot
    by_status = np.bincount(REASON_TO_STATUS[reason[rescued]].astype(np.int64),
                            minlength=len(STATUSES))
    return ContactCount(
        contacts=n, messages=messages, duplicate_contacts=n - messages,
        message_reasons=message_reasons, rescued=int(np.count_nonzero(rescued)),
        rescued_by_status={str(s): int(by_status[i]) for i, s in enumerate(STATUSES)
                           if by_status[i]})


def number_reasons(distinct_reason: np.ndarray, cell_reason: np.ndarray,
                   cell_has_number: np.ndarray) -> np.ndarray:
    """Per reason code, the numbers the contacts hold that end with it: one per distinct
    valid number (``distinct_reason``: its final reason) and one per non-blank cell
    without a valid number (``cell_reason`` where ``cell_has_number`` is False), as the
    per-number counts beside the per-contact ones read them (``numbers_by_status``)."""
    size = len(REASONS)
    counts = np.bincount(np.asarray(distinct_reason, np.uint8), minlength=size)
    invalid = np.asarray(cell_reason, np.uint8)[~np.asarray(cell_has_number, bool)]
    counts += np.bincount(invalid, minlength=size)
    counts[_EMPTY] = 0  # blank cells are no number
    return counts.astype(np.int64)


@dataclass
class ContactResult:
    """What a run grouped into contacts adds to its result (``CheckResult.contacts``):
    the grouping, each contact's chosen slot, the count, and every cell's own number and
    verdict (for the per-column output columns and the per-number counts)."""

    grouping: Contacts
    #: the phone columns, in priority order (a slot's column indexes this)
    columns: list[str]
    #: per contact: its chosen slot
    chosen: np.ndarray
    count: ContactCount
    #: per cell (``column * rows + row``): E.164 key (0: no valid number), the index
    #: of its number plus one (0: none; small integers, cheap to count) and the final
    #: reason of its number (one verdict per number: shared numbers read the same)
    cell_key: np.ndarray
    cell_number: np.ndarray
    cell_reason: np.ndarray
    #: per-number figures beside the per-contact ones (``numbers``, ``distinct_numbers``,
    #: ``numbers_dropped``, ``contacts_capped``, ``blank_ids``, ``looked_up``)
    numbers: dict[str, int]
    #: per reason code (``verdict.REASONS``): how many numbers end with it, each distinct
    #: valid number once and each non-blank invalid cell once (``number_reasons``);
    #: counted where the verdicts are made, so the report does not scan every cell again
    number_reason_counts: np.ndarray
    #: every number the contacts hold (within the cap), as the local sources left it;
    #: kept only for the dry run (``run_contact_check(all_numbers=True)``)
    #: a ``distinct.Distinct`` (layer 5, above this module: typed Any so that nothing
    #: here imports it, not even under TYPE_CHECKING; tests/test_layers.py)
    all_numbers: Any = None

    def chosen_cell(self) -> np.ndarray:
        """Per row: the cell of its contact's chosen number."""
        g = self.grouping
        return g.cell[self.chosen[g.contact_of_row]]
