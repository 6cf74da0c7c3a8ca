"""Start-up of ``rcsqualify check`` on a 1-row file (issue #18), in fresh processes.

Prints, for each tree measured (this checkout, and with --before DIR another one, e.g.
``git archive <commit> | tar -x -C DIR``), the wall time of ``rcsqualify check
one.csv -q`` and of ``python -c 'import rcsqualify.cli'`` over --runs runs (median,
min, max: the machine may be busy, so several runs and their spread), the runs of both
trees interleaved so that load hits them alike; the ratio of the medians; the heavy
modules the check imported. The compiled plan is built by a first, unmeasured run.

Each tree's modules are byte-compiled first (``compileall``), as ``pip install`` does:
with PYTHONDONTWRITEBYTECODE set (as on the development machine) a source tree would
otherwise be compiled again by every run (~60 ms of a 1-row check), which no installed
copy pays. ``--no-compile`` measures the trees as they are (the figures of "before" in
results_startup.json until 2026-11-29 were measured that way).

Without --before, a "before" block already in the --json file is kept as it is (figures
of an earlier run, e.g. of the tree before issue #18), marked ``kept_from_earlier_run``.

Usage: python benchmarks/bench_startup.py [--runs 15] [--before DIR] [--json PATH]
                                          [--no-compile]
Nothing here asserts a time (tests/test_startup.py asserts the imports).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

HEAVY = ("pandas", "pyarrow.parquet", "openpyxl", "httpx", "tenacity", "diskcache",
         "google.auth", "jwt", "starlette", "uvicorn", "rich.progress", "phonenumbers",
         "pydantic", "pyarrow.compute", "numpy.ma")
_MODULES = """
import json, sys
sys.argv = ["rcsqualify", *sys.argv[1:]]
from rcsqualify.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.__stdout__)
"""


def _env(root: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if root:
        env["PYTHONPATH"] = root  # ahead of the editable install
    return env


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def _stats(values: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
            "max_s": round(max(values), 3), "runs": len(values)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--before", help="another source tree to measure in the same run")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--no-compile", action="store_true",
                    help="do not byte-compile the trees first")
    args = ap.parse_args()
    trees = {"after": None} | ({"before": args.before} if args.before else {})
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    if not args.no_compile:
        for root in trees.values():
            package = Path(root or Path(__file__).resolve().parents[1]) / "rcsqualify"
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)],
                           check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.csv"
        one.write_text("nom;tel\nMartin;06 12 34 56 78\n", encoding="utf-8")
        check = [exe, "check", str(one), "-q"]
        # -P: the current directory is not put first on sys.path, so PYTHONPATH's tree wins
        imp = [sys.executable, "-P", "-c", "import rcsqualify.cli"]
        walls: dict[str, dict[str, list[float]]] = {t: {"check": [], "import": []}
                                                    for t in trees}
        heavy: dict[str, list[str]] = {}
        for name, root in trees.items():
            _wall(check, _env(root))  # compiles that tree's plan once
            out = subprocess.run([sys.executable, "-P", "-c", _MODULES, "check", str(one), "-q"],
                                 env=_env(root), capture_output=True, text=True).stdout
            mods = json.loads(out.strip().splitlines()[-1])
            heavy[name] = [m for m in HEAVY if m in mods]
        for _ in range(args.runs):
            for name, root in trees.items():
                walls[name]["check"].append(_wall(check, _env(root)))
                walls[name]["import"].append(_wall(imp, _env(root)))
    figures: dict[str, object] = {"cpus": os.cpu_count(), "runs": args.runs,
                                  "byte_compiled": not args.no_compile,
                                  "load_average": [round(x, 2) for x in os.getloadavg()]}
    for name in trees:
        figures[name] = {"check_1_row": _stats(walls[name]["check"]),
                         "import_cli": _stats(walls[name]["import"]),
                         "heavy_modules_imported": heavy[name]}
    if args.before:
        figures["speedup_check_1_row"] = round(
            statistics.median(walls["before"]["check"])
            / statistics.median(walls["after"]["check"]), 2)
    elif args.json and Path(args.json).is_file():
        earlier = json.loads(Path(args.json).read_text(encoding="utf-8")).get("before")
        if earlier:
            figures["before"] = {**earlier, "kept_from_earlier_run": True}
    emit(figures, args.json)


if __name__ == "__main__":
    main()
