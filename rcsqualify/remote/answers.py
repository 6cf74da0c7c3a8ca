"""What a JSON answer says about itself, whatever the provider (CONTRACT §10).

Two questions every provider asks before it reads a verdict from a body:

- ``says_failed``: does the body say the request failed (``"result": "error"``,
  ``"errorCode": 5001``, ``"success": false`` or ``"false"``; not ``"errorCode": "0"`` nor
  ``"error": "none"``, which a healthy answer of some services carries)? Such a body
  is never an answer: not a "not RCS", not an operator, whatever else it holds (an
  empty ``capabilities`` list next to ``"result": "error"`` is the gateway's failure,
  not the user's).
- ``about_the_request``: is an error message about the request itself (an unknown
  method, route or path) rather than about the number? Google's front end answers a
  path that maps to no method with ``404 {"error": {"code": 404, "message": "Method not
  found.", "status": "NOT_FOUND"}}``: the same envelope and status as a user who is not
  reachable, so only the message tells a wrong ``--rbm-url``/``--bothub-url`` apart.

Both look at the top level only: nested objects are the provider's own business
(Twilio's ``line_type_intelligence.error_code`` is read by its profile).
"""

from __future__ import annotations

import re
from typing import Any

#: keys whose non-empty value says the request failed
ERROR_KEYS = ("error", "errors", "error_text", "errorText", "error_code", "errorCode",
              "error_message", "errorMessage", "fault")
#: keys holding the outcome of the request as a word
OUTCOME_KEYS = ("status", "result", "state", "outcome")
#: outcome words that mean failure (compared case-insensitively)
FAILURE_WORDS = frozenset({"error", "errors", "failed", "failure", "fail", "ko", "rejected",
                           "denied", "invalid", "exception", "timeout", "unavailable",
                           "aborted", "cancelled", "canceled"})
#: outcome words that mean success, for callers that accept nothing else
SUCCESS_WORDS = frozenset({"ok", "success", "succeeded", "done", "completed", ""})

#: ``success`` values that say it did not succeed, beside ``false``: services that
#: stringify their booleans send ``"false"``/``"False"``, or ``0``/``"0"``/``"no"``
FALSE_WORDS = frozenset({"false", "0", "no", "n", "off"})
#: an error key's words that say there was no error (besides zeros: "0", "000")
NO_ERROR_WORDS = frozenset({"none", "null", "nil", "ok", "success", "no error", "noerror"})
#: the request's own words only, next to each other ("Method not found.", "unknown
#: path"): a message about a contact that merely mentions the API must not match
_ABOUT_THE_REQUEST = re.compile(
    r"\b(method|route|path|endpoint|url|uri|operation)s?\s+((was|is|does)\s+)?"
    r"(not found|unknown|not exist|does not exist|not supported|not implemented)\b"
    r"|\b(unknown|no such|invalid|unsupported)\s+(method|route|path|endpoint|url|uri"
    r"|operation)s?\b", re.IGNORECASE)


def says_failed(body: Any, *, strict_outcome: bool = False) -> bool:
    """True when a JSON object says its request failed: a non-empty error key, ``success``
    false, or an outcome word of failure. With ``strict_outcome`` any outcome word other
    than a success word is a failure (a service whose only success word is known)."""
    if not isinstance(body, dict):
        return False
    if any(not _no_error(body.get(key)) for key in ERROR_KEYS):
        return True
    if _false(body.get("success")):
        return True
    for key in OUTCOME_KEYS:
        value = body.get(key)
        if not isinstance(value, str):
            continue
        word = value.strip().lower()
        if word in FAILURE_WORDS or (strict_outcome and word not in SUCCESS_WORDS):
            return True
    return False


def _false(value: Any) -> bool:
    """A ``success`` value saying the request did not succeed: ``false``, the number 0,
    or a string saying false or failure (``"false"``, ``"False"``, ``"0"``, ``"no"``,
    ``"failed"``). A service that stringifies its booleans still says it failed, and
    such an answer must never become a verdict (fail safe); ``true``, ``"true"`` and an
    absent key are no failure."""
    if value is False or (type(value) is int and value == 0):
        return True
    if not isinstance(value, str):
        return False
    word = value.strip().lower()
    return word in FALSE_WORDS or word in FAILURE_WORDS


def _no_error(value: Any) -> bool:
    """An error key's value that says there was none: absent, empty, zero or false, or
    a string saying so (``"0"``, ``"000"``, ``"none"``, ``"null"``, ``"ok"``): many
    services fill the key on every answer, a healthy one included."""
    if value in (None, "", [], {}, 0, False):
        return True
    if not isinstance(value, str):
        return False
    word = value.strip().lower()
    return word.strip("0") == "" or word in NO_ERROR_WORDS


def about_the_request(message: str) -> bool:
    """An error message about the request (unknown method, route, path), not the number."""
    return _ABOUT_THE_REQUEST.search(message) is not None
