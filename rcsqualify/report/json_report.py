"""The machine-readable report (CONTRACT §6 ``--json-report``)."""

from __future__ import annotations

import json

from rcsqualify.report.summary import Summary

#: bumped only when a key changes meaning or type; docs/report.schema.json describes it
SCHEMA_VERSION = 2  # 2: the three-valued gate (decision, bounds, incomplete)


def format_json(summary: Summary) -> str:
    """Stable key order, ratios rounded to 6 decimals (exact enough, diff-friendly)."""
    data = summary.as_dict()
    for key in ("error_ratio", "error_ratio_upper", "gate_ratio"):
        data[key] = round(data[key], 6)
    plan = data.get("send_plan") or {}
    for part, key in (("send_rcs", "error_ratio"), ("with_unverified", "error_ratio_upper")):
        if part in plan:
            plan[part][key] = round(plan[part][key], 6)
    data["bounds"] = {k: round(v, 6) for k, v in data["bounds"].items()}
    for step in data["next_steps"]:
        if step.get("seconds") is not None:
            step["seconds"] = round(step["seconds"], 1)
    data["timings"] = {k: round(v, 3) for k, v in data["timings"].items()}
    # what to do first (the send plan), then the diagnosis
    lead = {k: data.pop(k) for k in ("tool", "input", "send_plan") if k in data}
    return json.dumps({"schema_version": SCHEMA_VERSION, **lead, **data}, ensure_ascii=False,
                      indent=2, default=str) + "\n"
