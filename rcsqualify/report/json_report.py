"""The machine-readable report (CONTRACT §6 ``--json-report``)."""

from __future__ import annotations

import json

from rcsqualify.report.summary import Summary


def format_json(summary: Summary) -> str:
    """Stable key order, ratios rounded to 6 decimals (exact enough, diff-friendly)."""
    data = summary.as_dict()
    for key in ("error_ratio", "error_ratio_upper"):
        data[key] = round(data[key], 6)
    data["timings"] = {k: round(v, 3) for k, v in data["timings"].items()}
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
