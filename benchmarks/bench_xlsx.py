"""The annotated output as XLSX (issue #26 item 5): ``-o annotated.xlsx`` against
``-o annotated.csv`` on the same N-row base, offline.

One ``;`` CSV of N rows in the sample's column shape (``sample_data/contacts.csv``:
Nom, Prénom, Téléphone portable, Ville, Commentaire) plus one numeric column
(``Montant``, so the typed path is measured: it is written as numbers). Each measure is
a whole ``rcsqualify check`` in a fresh process (read, normalize, summary, write), its
wall time, CPU time (user + system: what a busy machine moves least) and peak RSS
(``ru_maxrss`` of the child):
- ``csv``: ``-o big.csv`` (the baseline: reading and checking, a CSV written by Arrow);
- ``xlsx``: ``-o big.xlsx`` (the same plus the workbook: the difference is the XLSX
  writer's cost).
The load average when each run started is reported (the machine is shared: wall times
move with it; peak RSS does not). With --repeat R each measure is taken R times,
interleaved (median, min, max).

Usage: python benchmarks/bench_xlsx.py [--rows 1000000] [--repeat 1]
       [--json benchmarks/results_xlsx.json]
Nothing here asserts a time: the figures are printed for the docs and the issue.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from _common import emit

WORK = Path(__file__).resolve().parent / "_work"
CITIES = ["Lyon", "Paris", "Marseille", "Lille", "Nantes", "Saint-Étienne"]


def make_file(rows: int, path: Path) -> None:
    """N rows in the sample's shape (numbers drawn as ``bench_local`` draws them)."""
    from bench_local import make_numbers

    rng = np.random.default_rng(5)
    numbers = make_numbers(rows)
    table = pa.table({
        "Nom": pa.array([f"Nom{i}" for i in range(rows)]),
        "Prénom": pa.array([f"Prénom{i % 997}" for i in range(rows)]),
        "Téléphone portable": pa.array(numbers, pa.string()),
        "Ville": pa.array(np.array(CITIES, dtype=object)[rng.integers(0, len(CITIES), rows)]
                          .tolist(), pa.string()),
        "Commentaire": pa.array(np.where(rng.random(rows) < 0.5, "client Orange", "")
                                .tolist(), pa.string()),
        "Montant": pa.array([f"{v:.2f}" for v in rng.random(rows) * 1000], pa.string()),
    })
    pacsv.write_csv(table, str(path), write_options=pacsv.WriteOptions(delimiter=";"))


def measure(base: Path, out: Path) -> dict[str, Any]:
    """One check in a fresh process: wall seconds, its peak RSS (MB), the load average
    when it started."""
    load = os.getloadavg()[0]
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    pid = subprocess.Popen(
        [sys.executable, "-m", "rcsqualify", "check", str(base), "-c",
         "Téléphone portable", "-o", str(out), "-q", "--threshold", "1"]).pid
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"the check failed (status {status})")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "load_avg_1min": round(load, 2), "file_mb": round(out.stat().st_size / 1e6, 1)}


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    base = WORK / f"xlsx_{args.rows}.csv"
    if not base.exists():
        make_file(args.rows, base)
    runs: dict[str, list[dict[str, Any]]] = {"csv": [], "xlsx": []}
    for _ in range(args.repeat):
        for kind in runs:
            runs[kind].append(measure(base, WORK / f"annotated_{args.rows}.{kind}"))
    figures: dict[str, Any] = {"rows": args.rows, "columns_written": 6 + 8,
                               "cpus": os.cpu_count()}
    for kind, taken in runs.items():
        figures[kind] = {
            "wall_s": summary([r["wall_s"] for r in taken]),
            "cpu_s": summary([r["cpu_s"] for r in taken]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in taken),
            "load_avg_1min": [r["load_avg_1min"] for r in taken],
            "file_mb": taken[-1]["file_mb"]}
    figures["xlsx_writer_s"] = round(figures["xlsx"]["wall_s"]["median"]
                                     - figures["csv"]["wall_s"]["median"], 2)
    figures["xlsx_writer_cpu_s"] = round(figures["xlsx"]["cpu_s"]["median"]
                                         - figures["csv"]["cpu_s"]["median"], 2)
    figures["self_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    emit(figures, args.json)


if __name__ == "__main__":
    main()
