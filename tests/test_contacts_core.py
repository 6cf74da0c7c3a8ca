"""Issue #25 core: rows grouped into contacts (wide and long), the chosen-number rule on
every branch, the look-ups that could change a choice, and counting that adds up.
Pure functions: no file, no service."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcsqualify.contacts.choice import (
    TIER_BLANK,
    TIER_MOBILE,
    TIER_NUMBER,
    TIER_OTHER_ROUTE,
    TIER_REACHABLE,
    TIER_UNVERIFIED,
    choose,
    contact_messages,
    next_lookups,
    number_tiers,
)
from rcsqualify.contacts.grouping import contact_codes, group_contacts, rank_values
from rcsqualify.verdict import REASON_TO_STATUS, ROUTE, STATUSES, R


def slots_of(c, contact):  # type: ignore[no-untyped-def]
    return [(int(cell // c.n_rows), int(cell % c.n_rows))
            for cell in c.cell[c.start[contact]:c.start[contact + 1]]]


# -- grouping ---------------------------------------------------------------------------

def test_wide_rows_are_contacts_and_columns_give_the_priority() -> None:
    blank = np.array([[False, True, False],     # column 0 (Tél. portable)
                      [False, False, True]])    # column 1 (Fixe)
    c = group_contacts(blank)
    assert c.n_contacts == 3
    assert slots_of(c, 0) == [(0, 0), (1, 0)]
    assert slots_of(c, 1) == [(1, 1)]           # the blank mobile cell is no number
    assert slots_of(c, 2) == [(0, 2)]
    assert c.contact_of_row.tolist() == [0, 1, 2]
    assert c.row.tolist() == [0, 0, 1, 2] and c.column.tolist() == [0, 1, 1, 0]


def test_a_contact_without_any_number_keeps_one_blank_slot() -> None:
    c = group_contacts(np.array([[True, False], [True, True]]))
    assert slots_of(c, 0) == [(0, 0)]
    assert c.all_blank.tolist() == [True, False]


def test_long_format_groups_by_id_in_file_order_or_by_rank() -> None:
    ids = contact_codes(["A", "B", " A ", None, "", "B"])
    assert ids.tolist()[3:5] == [-1, -1]
    blank = np.zeros((1, 6), bool)
    c = group_contacts(blank, contact_id=ids)
    # A (rows 0, 2), B (1, 5), then each blank id its own contact (rows 3, 4)
    assert c.n_contacts == 4
    assert c.contact_of_row.tolist() == [0, 1, 0, 2, 3, 1]
    assert [r for _, r in slots_of(c, 0)] == [0, 2]
    ranked = group_contacts(blank, contact_id=ids,
                            rank=rank_values(["2", "10", "1", None, None, "9"])[0])
    assert [r for _, r in slots_of(ranked, 0)] == [2, 0]   # 1 before 2
    assert [r for _, r in slots_of(ranked, 1)] == [5, 1]   # 9 before 10: numbers, not text


def test_rank_text_sorts_as_text_and_blanks_go_last() -> None:
    ranks, text = rank_values(["b", "a", None, " "])
    assert text == 2
    assert ranks[1] < ranks[0] and np.isnan(ranks[2]) and np.isnan(ranks[3])
    c = group_contacts(np.zeros((1, 3), bool), contact_id=np.zeros(3, np.int64),
                       rank=rank_values([None, "2", "1"])[0])
    assert [r for _, r in slots_of(c, 0)] == [2, 1, 0]


def test_long_and_wide_together_order_by_column_then_rank() -> None:
    blank = np.zeros((2, 2), bool)
    c = group_contacts(blank, contact_id=np.array([7, 7]))
    assert slots_of(c, 0) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_the_cap_keeps_the_first_numbers_and_counts_the_rest() -> None:
    c = group_contacts(np.zeros((1, 500), bool), contact_id=np.zeros(500, np.int64),
                       max_numbers=10)
    assert c.n_slots == 10 and c.dropped.tolist() == [490]
    assert [r for _, r in slots_of(c, 0)] == list(range(10))
    assert len(c.contact_of_row) == 500  # every row is still a row of the contact


def test_empty_input() -> None:
    c = group_contacts(np.zeros((2, 0), bool))
    assert c.n_contacts == 0 and c.n_slots == 0
    assert choose(c, np.zeros(0, np.uint8)).tolist() == []
    assert contact_messages(c, choose(c, np.zeros(0, np.uint8)), np.zeros(0, np.int64),
                            np.zeros(0, np.uint8)).messages == 0


# -- the rule ---------------------------------------------------------------------------

def test_tiers_from_reasons_and_routes() -> None:
    reasons = np.array([R["capability_positive"], R["not_checked"], R["operator_error"],
                        R["capability_error"], R["ported_out"], R["capability_negative"],
                        R["fixed_line"], R["too_short"], R["empty"], R["range_holder"]])
    assert number_tiers(reasons).tolist() == [
        TIER_REACHABLE, TIER_UNVERIFIED, TIER_UNVERIFIED, TIER_UNVERIFIED, TIER_MOBILE,
        TIER_MOBILE, TIER_NUMBER, TIER_NUMBER, TIER_BLANK, TIER_MOBILE]
    route = np.zeros(len(reasons), np.uint8)
    route[9] = ROUTE["rbm"]
    assert number_tiers(reasons, route)[9] == TIER_OTHER_ROUTE


@pytest.mark.parametrize(("reasons", "route", "expected"), [
    # reachable target mobile wins wherever it is
    (["fixed_line", "ported_out", "capability_positive"], None, 2),
    # the first of equals
    (["capability_positive", "capability_positive"], None, 0),
    # a second route: an RBM-reachable mobile before an unverified target mobile
    (["not_checked", "range_holder"], [0, ROUTE["rbm"]], 1),
    # ... but never before a reachable target mobile
    (["range_holder", "capability_positive"], [ROUTE["rbm"], 0], 1),
    # without the route's answer, the unverified target mobile
    (["ported_out", "capability_error"], None, 1),
    # else the first valid mobile
    (["too_short", "fixed_line", "capability_negative", "ported_out"], None, 2),
    # else the first number (an invalid one counts: it is a number)
    (["voip", "too_short"], None, 0),
    (["empty"], None, 0),
])
def test_the_chosen_number_on_every_branch(reasons: list[str], route: list[int] | None,
                                           expected: int) -> None:
    c = group_contacts(np.zeros((len(reasons), 1), bool))
    codes = np.array([R[r] for r in reasons], np.uint8)
    tier = number_tiers(codes, None if route is None else np.array(route, np.uint8))
    assert choose(c, tier).tolist() == [expected]


def _brute_choice(tiers: list[int]) -> int:
    return min(range(len(tiers)), key=lambda i: (tiers[i], i))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=6), min_size=1,
                max_size=30))
def test_choose_agrees_with_the_rule_read_literally(per_contact: list[list[int]]) -> None:
    ids = np.repeat(np.arange(len(per_contact)), [len(t) for t in per_contact])
    c = group_contacts(np.zeros((1, len(ids)), bool), contact_id=ids)
    chosen = choose(c, np.concatenate([np.array(t, np.uint8) for t in per_contact]))
    assert [int(s - c.start[k]) for k, s in enumerate(chosen)] == [
        _brute_choice(t) for t in per_contact]


# -- look-ups that could change a choice --------------------------------------------------

def _resolve_rounds(c, truth: np.ndarray, open_: np.ndarray,  # type: ignore[no-untyped-def]
                    best_possible: np.ndarray) -> tuple[np.ndarray, int]:
    """Run the rounds: every asked slot gets its true tier. Returns the tiers known at
    the end (open slots at their worst, TIER_BLANK) and how many were asked."""
    tier = np.where(open_, TIER_BLANK, truth).astype(np.uint8)
    open_ = open_.copy()
    asked = 0
    for _ in range(100):
        ask = next_lookups(c, tier, open_, best_possible)
        if not ask.any():
            break
        assert not (ask & ~open_).any()
        asked += int(ask.sum())
        tier[ask] = truth[ask]
        open_[ask] = False
    return tier, asked


def test_first_number_reachable_costs_nothing_more() -> None:
    # contact 0: first number settled reachable (from the cache): its second is not asked
    # contact 1: first number open: asked; it is reachable: the second is not asked
    # contact 2: first open and answers not_rcs: the second is asked
    c = group_contacts(np.zeros((2, 3), bool))
    truth = np.array([0, 0, 0, 0, 3, 0], np.uint8)
    open_ = np.array([False, True, True, True, True, True])
    best = np.zeros(6, np.uint8)
    ask = next_lookups(c, np.where(open_, 5, truth).astype(np.uint8), open_, best)
    assert ask.tolist() == [False, False, True, False, True, False]
    tier, asked = _resolve_rounds(c, truth, open_, best)
    assert asked == 3
    assert choose(c, tier).tolist() == [0, 2, 5]


def test_a_settled_better_number_is_never_beaten_by_a_lookup() -> None:
    # first number settled unverified (2); second open other-operator mobile awaiting the
    # second route (best possible 1): asked. A third, open, best possible 2: not asked
    c = group_contacts(np.zeros((3, 1), bool))
    tier = np.array([2, 5, 5], np.uint8)
    open_ = np.array([False, True, True])
    ask = next_lookups(c, tier, open_, np.array([0, 1, 2], np.uint8))
    assert ask.tolist() == [False, True, False]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=1,
                         max_size=5), min_size=1, max_size=20))
def test_rounds_choose_as_if_everything_were_known(
        per_contact: list[list[tuple[int, bool]]]) -> None:
    """Whatever the answers, resolving only what could change a choice ends on the
    choice made with every answer known, and never asks a number after a settled
    number that already beats every number left."""
    ids = np.repeat(np.arange(len(per_contact)), [len(t) for t in per_contact])
    c = group_contacts(np.zeros((1, len(ids)), bool), contact_id=ids)
    flat = [x for t in per_contact for x in t]
    truth = np.array([t for t, _ in flat], np.uint8)
    open_ = np.array([o for _, o in flat])
    best = np.zeros(len(flat), np.uint8)  # an open number could be anything
    tier, asked = _resolve_rounds(c, truth, open_, best)
    assert choose(c, tier).tolist() == choose(c, truth).tolist()
    # never more than asking every open number
    assert asked <= int(open_.sum())
    # a contact whose first number is settled reachable asks nothing
    for k, t in enumerate(per_contact):
        if t[0] == (0, False):
            lo, hi = c.start[k], c.start[k + 1]
            assert (tier[lo:hi] == np.where(open_, TIER_BLANK, truth)[lo:hi]).all()


# -- counting ---------------------------------------------------------------------------

def test_contacts_sharing_a_chosen_number_are_one_message() -> None:
    c = group_contacts(np.zeros((2, 3), bool))
    key = np.array([33611111111, 33622222222, 33611111111, 33633333333, 0, 33644444444])
    reason = np.array([R["capability_positive"], R["not_checked"],
                       R["capability_positive"], R["capability_positive"],
                       R["too_short"], R["capability_negative"]], np.uint8)
    chosen = choose(c, number_tiers(reason))
    assert chosen.tolist() == [0, 2, 5]
    count = contact_messages(c, chosen, key, reason)
    assert (count.contacts, count.messages, count.duplicate_contacts) == (3, 2, 1)
    assert count.rescued == 1 and count.rescued_by_status == {"not_rcs": 1}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(1, 8)), min_size=0,
                max_size=60), st.integers(1, 3))
def test_one_column_no_id_counts_as_today(cells: list[tuple[int, int]], columns: int
                                          ) -> None:
    """Rows as contacts with one column: messages = distinct numbers + invalid rows,
    today's count; with several columns the counts still add up."""
    n = len(cells)
    key = np.array([0 if k == 0 else 33600000000 + k for k, _ in cells], np.int64)
    reason = np.array([r if k == 0 else (22 if k % 3 else 15) for k, r in cells], np.uint8)
    c = group_contacts(np.zeros((1, n), bool))
    count = contact_messages(c, choose(c, number_tiers(reason)), key, reason)
    today = len(np.unique(key[key != 0])) + int(np.count_nonzero(key == 0))
    assert count.messages == today
    assert count.contacts == n == count.messages + count.duplicate_contacts
    assert count.rescued == 0
    # several columns: the same cells spread over columns, rows = n // columns
    rows = n // columns
    if rows:
        cw = group_contacts(np.zeros((columns, rows), bool))
        k2 = key[:rows * columns]
        r2 = reason[:rows * columns]
        cnt = contact_messages(cw, choose(cw, number_tiers(r2)), k2, r2)
        assert cnt.contacts == rows == cnt.messages + cnt.duplicate_contacts
        statuses = np.bincount(REASON_TO_STATUS[cnt.message_reasons],
                               minlength=len(STATUSES))
        assert int(statuses.sum()) == cnt.messages


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=50), st.booleans())
def test_first_of_each_is_the_first_occurrence_in_order(values: list[int], big: bool) -> None:
    from rcsqualify.contacts.grouping import first_of_each

    arr = np.array(values, np.int64) + (33600000000 if big else 0)  # table or hashing
    _, first = np.unique(arr, return_index=True)
    assert first_of_each(arr).tolist() == sorted(first.tolist())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=50), st.booleans())
def test_one_of_each_holds_each_distinct_value_once(values: list[int], big: bool) -> None:
    from rcsqualify.contacts.grouping import one_of_each

    arr = np.array(values, np.int64) + (33600000000 if big else 0)
    picked = arr[one_of_each(arr)]
    assert sorted(picked.tolist()) == sorted(set(arr.tolist()))


def test_choose_with_a_large_cap_uses_wider_scores() -> None:
    n = 70000  # positions past two bytes' worth
    c = group_contacts(np.zeros((1, n), bool), contact_id=np.zeros(n, np.int64),
                       max_numbers=n)
    tier = np.full(n, TIER_NUMBER, np.uint8)
    tier[n - 1] = TIER_REACHABLE
    assert choose(c, tier).tolist() == [n - 1]
