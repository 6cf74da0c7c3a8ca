"""The send plan's routes (CONTRACT §2 "Send plan and routes"), with ``--other-route``.

A target-operator mobile goes through BotHub when reachable; a mobile of another
operator, which would fail through BotHub (it stays ``other_operator`` and keeps counting
in the diagnosis ratio), goes through the second route (RBM) when that route says it is
reachable; the rest goes by SMS. The second route has no threshold of its own: Orange's
15 % concerns BotHub only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rcsqualify.pipeline import CheckResult
from rcsqualify.verdict import RCS_UNKNOWN, ROUTES, R, route_codes


def route_per_number(result: CheckResult) -> np.ndarray | None:
    """Route code (index into ``ROUTES``) per distinct number; None without a second
    route (the annotated output then has no ``route`` column)."""
    if result.other_route is None:
        return None
    d = result.distinct
    other = result.other_rcs if result.other_rcs is not None else np.full(
        len(d.key), RCS_UNKNOWN, np.uint8)
    return route_codes(kind=d.kind, is_target=d.operator == result.target_operator,
                       rcs=d.rcs, other_rcs=other,
                       # no route for a number nobody holds, nor one nothing is known of
                       operator_error=(d.reason == R["operator_error"])
                       | (d.reason == R["unassigned"]))


def routes_block(result: CheckResult) -> dict[str, Any] | None:
    """JSON ``routes``: messages per route, and how many the second route reached."""
    codes = route_per_number(result)
    if codes is None:
        return None
    counts = {name: int(np.count_nonzero(codes == i)) for i, name in enumerate(ROUTES)
              if name}
    other = result.other_rcs if result.other_rcs is not None else np.zeros(0, np.uint8)
    asked = int(np.count_nonzero(other != RCS_UNKNOWN))
    return {"other_route": result.other_route, "messages": counts,
            "other_route_checked": asked,
            "note": f"{result.other_route} carries other operators' mobiles: it has no "
                    "threshold of its own (Orange's 15 % is about BotHub)"}
