"""How long until the ARCEP plan is ready (issue: offline core, goal < 100 ms).

Prints, each in a fresh process (so nothing is warm in memory): the first load, which
parses the shipped CSV files and compiles the plan into the user cache directory, and
a later load from the compiled form. Usage: python benchmarks/bench_plan.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

SNIPPET = (
    "import time, pandas, numpy, platformdirs\n"  # the CLI has these imported already
    "t = time.perf_counter()\n"
    "from rcsqualify.numbering.plan import load_plan\n"
    "p = load_plan()\n"
    "print((time.perf_counter() - t) * 1000, len(p.blocks))\n"
)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": tmp, "RCSQUALIFY_PLAN_DIR": f"{tmp}/none"}
        runs = []
        for _ in range(4):
            out = subprocess.run([sys.executable, "-c", SNIPPET], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            runs.append(float(out[0]))
        print(json.dumps({"blocks": int(out[1]), "first_load_ms": round(runs[0], 1),
                          "compiled_load_ms": [round(r, 1) for r in runs[1:]]}, indent=2))


if __name__ == "__main__":
    main()
