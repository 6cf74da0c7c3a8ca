"""Start-up of the command line (issues #18 and #24), in fresh processes, in CPU time.

Measures, for this checkout ("after") and for each other tree given (``--rev REV``: a
git revision, extracted with ``git archive``; ``--before DIR``: a source tree), the CPU
time (user + system of the child, ``resource.getrusage(RUSAGE_CHILDREN)``) and the wall
time of:

- ``import``: ``python -c 'import rcsqualify.cli'``;
- ``version``: ``rcsqualify --version``;
- ``help``: ``rcsqualify --help``;
- ``check_help``: ``rcsqualify check --help``;
- ``check_1_row``: ``rcsqualify check one.csv -q`` on a 1-row CSV, offline.

Each figure is the median of ``--runs`` runs (with min and max), the runs of every tree
interleaved (tree A, tree B, tree A, ...) so that load hits them alike. CPU time rather
than wall time: the machine may be shared, and another process's work delays a run's
wall time but does not add to its CPU time (it still moves it a little: caches, frequency).
The load average is reported at the start and at the end.

Then ``python -X importtime`` of each tree's 1-row check (``--importtime-runs`` runs, the
median per module): the top contributors by self time and our own modules by cumulative
time, and the heavy modules the check imported.

Each tree's modules are byte-compiled first (``compileall``), as ``pip install`` does:
with PYTHONDONTWRITEBYTECODE set a source tree would otherwise be compiled again by every
run, which no installed copy pays. ``--no-compile`` measures the trees as they are.
The compiled numbering plan is built by a first, unmeasured run of each tree.

Usage: python benchmarks/bench_startup.py [--runs 15] [--rev 36f6b8c] [--before DIR]
                                          [--json PATH] [--no-compile] [--top 15]
Without --rev or --before, a "before" block already in the --json file is kept as it is
(figures of an earlier run), marked ``kept_from_earlier_run``.
Nothing here asserts a time (tests/test_startup.py asserts the imports).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from _common import emit

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "pyarrow.parquet", "openpyxl", "httpx", "tenacity", "diskcache",
         "google.auth", "jwt", "starlette", "uvicorn", "rich.progress", "phonenumbers",
         "pydantic", "pyarrow.compute", "numpy.ma", "asyncio", "rich.console",
         "rich.table")
#: heavy modules a 1-row check does import (its reader and normalization use them), listed
#: apart: the goal of issue #24 is a small CSV read without them
USED = ("pyarrow", "pyarrow.csv", "pyarrow._compute", "numpy", "pandas", "httpx", "asyncio")
#: runs the command line in this interpreter, then prints the modules it imported
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
#: the console script's own code (what ``rcsqualify`` runs), without its file
_SCRIPT = "import sys; sys.argv[0] = 'rcsqualify'; from rcsqualify.cli import main; main()"
MEASURES = ("import", "version", "help", "check_help", "check_1_row")


def _env(root: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCSQUALIFY_")}
    env.pop("PYTHONPATH", None)
    if root:
        env["PYTHONPATH"] = root  # ahead of the (editable) install of this checkout
    return env


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def _stats(values: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(values), 4), "min_s": round(min(values), 4),
            "max_s": round(max(values), 4)}


@contextmanager
def _tree_of(rev: str) -> Iterator[str]:
    """A temporary copy of the revision's files (``git archive``)."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield tmp


def _commands(one: Path) -> dict[str, list[str]]:
    # -P: the current directory is not put first on sys.path, so PYTHONPATH's tree wins
    py = [sys.executable, "-P"]
    return {"import": [*py, "-c", "import rcsqualify.cli"],
            "version": [*py, "-c", _SCRIPT, "--version"],
            "help": [*py, "-c", _SCRIPT, "--help"],
            "check_help": [*py, "-c", _SCRIPT, "check", "--help"],
            "check_1_row": [*py, "-c", _SCRIPT, "check", str(one), "-q"]}


def _importtime(root: str | None, one: Path, runs: int, top: int) -> dict[str, object]:
    """``-X importtime`` of the 1-row check: median self and cumulative µs per module."""
    selfs: dict[str, list[int]] = {}
    cumulative: dict[str, list[int]] = {}
    for _ in range(runs):
        err = subprocess.run([sys.executable, "-P", "-X", "importtime", "-c", _SCRIPT,
                              "check", str(one), "-q"], env=_env(root),
                             capture_output=True, text=True).stderr
        for line in err.splitlines():
            if not line.startswith("import time:") or "[us]" in line:
                continue
            own, cum, name = line[len("import time:"):].split("|")
            module = name.strip()
            selfs.setdefault(module, []).append(int(own))
            cumulative.setdefault(module, []).append(int(cum))
    med = {m: statistics.median(v) for m, v in selfs.items()}
    cum = {m: statistics.median(v) for m, v in cumulative.items()}
    ours = {m: v for m, v in cum.items() if m.startswith("rcsqualify")}
    return {
        "total_self_ms": round(sum(med.values()) / 1000, 1),
        "top_self_ms": {m: round(v / 1000, 2)
                        for m, v in sorted(med.items(), key=lambda kv: -kv[1])[:top]},
        "top_rcsqualify_cumulative_ms": {
            m: round(v / 1000, 2) for m, v in sorted(ours.items(), key=lambda kv: -kv[1])[:top]},
    }


def _checkout() -> str:
    """This checkout's commit, ``+changes`` when the package differs from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    changed = subprocess.run([*git, "status", "--porcelain", "rcsqualify"],
                             capture_output=True, text=True).stdout.strip()
    return head + (" +changes" if changed else "")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--rev", action="append", default=[],
                    help="a git revision to measure beside this checkout (repeatable)")
    ap.add_argument("--before", help="another source tree to measure in the same run")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--no-compile", action="store_true",
                    help="do not byte-compile the trees first")
    ap.add_argument("--importtime-runs", type=int, default=5)
    ap.add_argument("--top", type=int, default=15, help="modules listed by -X importtime")
    args = ap.parse_args()
    with ExitStack() as stack:
        trees: dict[str, str | None] = {"after": None}
        if args.before:
            trees["before"] = args.before
        for rev in args.rev:
            trees[rev] = stack.enter_context(_tree_of(rev))
        figures = _measure(trees, args)
    figures["after_is"] = _checkout()
    if len(trees) == 1 and args.json and Path(args.json).is_file():
        earlier = json.loads(Path(args.json).read_text(encoding="utf-8")).get("before")
        if earlier:
            figures["before"] = {**earlier, "kept_from_earlier_run": True}
    emit(figures, args.json)


def _measure(trees: dict[str, str | None], args: argparse.Namespace) -> dict[str, object]:
    if not args.no_compile:
        for root in trees.values():
            package = Path(root or ROOT) / "rcsqualify"
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)],
                           check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.csv"
        one.write_text("nom;tel\nMartin;06 12 34 56 78\n", encoding="utf-8")
        commands = _commands(one)
        heavy: dict[str, list[str]] = {}
        used: dict[str, list[str]] = {}
        for name, root in trees.items():
            _run(commands["check_1_row"], _env(root))  # compiles that tree's plan once
            out = subprocess.run([sys.executable, "-P", "-c", _MODULES, "check", str(one),
                                  "-q"], env=_env(root), capture_output=True, text=True)
            mods = json.loads(out.stdout.strip().splitlines()[-1])
            heavy[name] = [m for m in HEAVY if m in mods]
            used[name] = [m for m in USED if m in mods]
        load_start = _load()
        cpu = {t: {m: [] for m in MEASURES} for t in trees}
        wall = {t: {m: [] for m in MEASURES} for t in trees}
        for _ in range(args.runs):
            for measure, cmd in commands.items():
                for name, root in trees.items():
                    c, w = _run(cmd, _env(root))
                    cpu[name][measure].append(c)
                    wall[name][measure].append(w)
        load_end = _load()
        importtime = {name: _importtime(root, one, args.importtime_runs, args.top)
                      for name, root in trees.items()}
    figures: dict[str, object] = {
        "cpus": os.cpu_count(), "runs": args.runs, "byte_compiled": not args.no_compile,
        "python": sys.version.split()[0], "load_average": load_start,
        "load_average_end": load_end}
    for name in trees:
        figures[name] = {
            "cpu": {m: _stats(cpu[name][m]) for m in MEASURES},
            "wall": {m: _stats(wall[name][m]) for m in MEASURES},
            "heavy_modules_imported": heavy[name],
            "used_heavy_modules_imported": used[name],
            "importtime_1_row_check": importtime[name]}
    others = [t for t in trees if t != "after"]
    figures["cpu_ratio_after_over"] = {
        other: {m: round(statistics.median(cpu["after"][m])
                         / statistics.median(cpu[other][m]), 3) for m in MEASURES}
        for other in others}
    return figures


if __name__ == "__main__":
    main()
