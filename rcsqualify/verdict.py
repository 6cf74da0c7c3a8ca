"""Statuses and reasons (CONTRACT §2), and the classification of normalized numbers.

Rows carry small integer codes (numpy uint8) through the pipeline; labels are only
attached when a report or an output file is written. That keeps a 10-million-row run
in a few bytes per row.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class Status(StrEnum):
    INVALID = "invalid"
    NOT_MOBILE = "not_mobile"
    OTHER_OPERATOR = "other_operator"
    NOT_RCS = "not_rcs"
    UNVERIFIED = "unverified"
    REACHABLE = "reachable"


STATUSES: tuple[Status, ...] = tuple(Status)
#: Statuses that count as projected errors in ``error_ratio``.
ERROR_STATUSES = (Status.INVALID, Status.NOT_MOBILE, Status.OTHER_OPERATOR, Status.NOT_RCS)

#: Fixed reason vocabulary; the position is the uint8 code. 0 means "not decided yet".
REASONS: tuple[str, ...] = (
    "",
    # invalid
    "empty", "not_a_number", "excel_scientific", "multiple_numbers", "too_short",
    "too_long", "not_french", "unallocated",
    # not_mobile
    "fixed_line", "voip", "special", "m2m",
    # other_operator
    "ported_out", "range_holder",
    # not_rcs
    "capability_negative", "no_chatbot_feature",
    # unverified
    "not_checked", "capability_error", "not_sampled", "batch_not_listed", "operator_error",
    # reachable
    "capability_positive",
    # invalid, learned from an HLR answer (appended: a reason's code is its position)
    "unassigned",
)
R = {name: np.uint8(i) for i, name in enumerate(REASONS)}

REASON_STATUS: dict[str, Status] = {
    **{r: Status.INVALID for r in REASONS[1:9]},
    **{r: Status.NOT_MOBILE for r in ("fixed_line", "voip", "special", "m2m")},
    "ported_out": Status.OTHER_OPERATOR,
    "range_holder": Status.OTHER_OPERATOR,
    "capability_negative": Status.NOT_RCS,
    "no_chatbot_feature": Status.NOT_RCS,
    **{r: Status.UNVERIFIED for r in ("not_checked", "capability_error", "not_sampled",
                                      "batch_not_listed", "operator_error")},
    "capability_positive": Status.REACHABLE,
    "unassigned": Status.INVALID,
}
#: reason code → status code (index into STATUSES); 255 for "not decided".
REASON_TO_STATUS = np.array(
    [255] + [STATUSES.index(REASON_STATUS[r]) for r in REASONS[1:]], dtype=np.uint8
)

REPAIRS: tuple[str, ...] = ("", "leading_zero", "overseas_code")
SOURCES: tuple[str, ...] = ("", "portability", "mnp", "range")
SOURCE = {name: np.uint8(i) for i, name in enumerate(SOURCES)}

#: Number kinds derived from the national prefix; the position is the uint8 code.
KINDS: tuple[str, ...] = ("", "mobile", "fixed_line", "voip", "special", "m2m")
KIND = {name: np.uint8(i) for i, name in enumerate(KINDS)}

#: Capability answers (the ``rcs`` column): unknown, yes, no, error, not sampled, and
#: "not listed by batchGet" (the agent may not be launched on the number's network).
RCS_UNKNOWN, RCS_YES, RCS_NO, RCS_ERROR = np.uint8(0), np.uint8(1), np.uint8(2), np.uint8(3)
RCS_NOT_SAMPLED, RCS_NOT_LISTED = np.uint8(4), np.uint8(5)
#: a capability list without the required feature (``chatBotCommunication``): not RCS
RCS_NO_FEATURE = np.uint8(6)
#: the ``operator`` of a number whose MNP look-up failed (never shown: it becomes "")
OPERATOR_ERROR = "?"
#: the ``operator`` of a number an HLR says no subscriber holds (never shown either): the
#: number is ``invalid`` / ``unassigned``, a message that would fail
OPERATOR_UNASSIGNED = "!"


def classify(
    *,
    reason: np.ndarray,
    kind: np.ndarray,
    is_target: np.ndarray,
    source: np.ndarray,
    rcs: np.ndarray,
    operator_error: np.ndarray | None = None,
    unassigned: np.ndarray | None = None,
    not_sampled: np.ndarray | None = None,
    with_holder: np.ndarray | None = None,
) -> np.ndarray:
    """Final reason code per distinct number, from its kind, operator and capability.

    ``reason`` holds the normalization reason (invalid ones are final); the rest only
    matter for valid numbers. Mobile numbers not served by the target operator are
    ``range_holder`` when they are with their range holder — the plan answered, or a
    portability source or MNP look-up confirmed it (``with_holder``: the answered
    operator is the block's holder) — and ``ported_out`` only when a source says the
    number left its range holder (CONTRACT §2 Counting). Target-operator mobiles
    depend on ``rcs``: yes → reachable, no → not_rcs, error → capability_error,
    unknown → not_checked (the offline default). A mobile whose operator look-up
    failed (``operator_error``) is unverified: nothing is known. A mobile an HLR says
    no subscriber holds (``unassigned``) is invalid: the message would fail whoever
    sends it. A mobile that ``--sample auto`` left undrawn
    (``not_sampled``) is unverified, whatever operator it would turn out to have.
    """
    out = reason.copy()
    valid = reason == 0
    for name in ("fixed_line", "voip", "special", "m2m"):
        out[valid & (kind == KIND[name])] = R[name]
    mobile = valid & (kind == KIND["mobile"])
    other = mobile & ~is_target
    at_holder = source == SOURCE["range"]
    if with_holder is not None:
        at_holder = at_holder | with_holder
    out[other & at_holder] = R["range_holder"]
    out[other & ~at_holder] = R["ported_out"]
    target = mobile & is_target
    out[target & (rcs == RCS_UNKNOWN)] = R["not_checked"]
    out[target & (rcs == RCS_YES)] = R["capability_positive"]
    out[target & (rcs == RCS_NO)] = R["capability_negative"]
    out[target & (rcs == RCS_ERROR)] = R["capability_error"]
    out[target & (rcs == RCS_NOT_SAMPLED)] = R["not_sampled"]
    out[target & (rcs == RCS_NOT_LISTED)] = R["batch_not_listed"]
    out[target & (rcs == RCS_NO_FEATURE)] = R["no_chatbot_feature"]
    if operator_error is not None:
        out[mobile & operator_error] = R["operator_error"]
    if unassigned is not None:
        out[mobile & unassigned] = R["unassigned"]
    if not_sampled is not None:
        out[mobile & not_sampled] = R["not_sampled"]
    return out


#: How a message would be sent (CONTRACT §2 "Send plan and routes"), with a second route
#: (``--other-route``): "" for invalid and non-mobile rows; ``unverified`` where the route's
#: own check could not be done.
ROUTES: tuple[str, ...] = ("", "bothub", "rbm", "sms", "unverified")
ROUTE = {name: np.uint8(i) for i, name in enumerate(ROUTES)}


def route_codes(*, kind: np.ndarray, is_target: np.ndarray, rcs: np.ndarray,
                other_rcs: np.ndarray, operator_error: np.ndarray) -> np.ndarray:
    """Route per distinct number: target mobiles go through BotHub when reachable, other
    operators' mobiles through RBM when RBM says reachable, the rest by SMS."""
    out = np.zeros(len(kind), np.uint8)
    mobile = (kind == KIND["mobile"]) & ~operator_error
    out[mobile] = ROUTE["sms"]
    out[mobile & is_target & (rcs == RCS_YES)] = ROUTE["bothub"]
    other = mobile & ~is_target
    out[other & (other_rcs == RCS_YES)] = ROUTE["rbm"]
    out[other & (other_rcs == RCS_ERROR)] = ROUTE["unverified"]
    return out
