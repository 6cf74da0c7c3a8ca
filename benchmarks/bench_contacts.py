"""Several numbers per contact, offline (issue #25 item 7): N contacts × 3 phone columns
against the same N contacts read through one column.

One CSV of N rows with three phone columns (``tel1``, ``tel2``, ``tel3``; numbers drawn
as ``bench_local.make_numbers`` draws them, a third of the second and third columns
blank, as CRM exports have them). Each measure runs in a fresh process (read +
normalize + group + choose + summary, in process, no output file) and reports its wall
time, its CPU time (every thread of the process: what the run costs, whatever the
machine's other work) and its peak RSS (``VmHWM``), with the 1-minute load average at
its start and end:
- ``one``: ``-c tel1`` (today's path: a row is a message);
- ``three``: ``-c tel1 -c tel2 -c tel3`` (contacts, the chosen number per contact).
The claim is ``three`` ≤ 2.5 × ``one`` on the same machine. With --repeat R each measure
is taken R times, interleaved (median, min, max: the machine may be busy); the load
average before and after is recorded beside the figures.

Usage: python benchmarks/bench_contacts.py [--rows 1000000] [--repeat 3]
       [--json benchmarks/results_contacts.json]
Nothing here asserts a time: the figures are printed for the docs and the issue.
"""

from __future__ import annotations

import argparse
import json
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


def make_file(rows: int, path: Path) -> None:
    from bench_local import make_numbers

    numbers = make_numbers(rows * 3)
    rng = np.random.default_rng(11)
    columns = {"nom": pa.array([f"c{i}" for i in range(rows)])}
    for i in range(3):
        cells = np.array(numbers[i * rows:(i + 1) * rows], dtype=object)
        if i:
            cells[rng.random(rows) < 1 / 3] = ""
        columns[f"tel{i + 1}"] = pa.array(cells.tolist(), pa.string())
    pacsv.write_csv(pa.table(columns), str(path),
                    pacsv.WriteOptions(delimiter=";", quoting_style="needed"))


def measure(path: Path, mode: str) -> dict[str, Any]:
    """One run in this process: the pipeline of ``mode`` and the summary. Both modes'
    modules are imported before the clocks start (an import is start-up, not work on
    the contacts, and the contacts path imports more)."""
    from rcsqualify.contact_check import check_rows_or_contacts
    from rcsqualify.contacts import ContactSource
    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.report.summary import summarize

    plan = load_plan()
    more = [] if mode == "one" else ["tel2", "tel3"]
    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    # the dispatch ``check`` runs: one column and no id is today's pipeline.run_check
    src = ContactSource(str(path), column="tel1", more_columns=more)
    result = check_rows_or_contacts(src, plan)
    summary = summarize(result, plan, input_info=src.info.as_dict(), threshold=0.15)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": summary.counts["rows"],
            "contacts": summary.counts.get("contacts", summary.counts["rows"]),
            "messages": summary.counts["messages"], "peak_rss_mb": peak_rss_mb(),
            "load_average_1min": [load, os.getloadavg()[0]]}


def peak_rss_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` where Linux has it: ``ru_maxrss``
    keeps the parent's peak across fork and exec, so a parent that has just written the
    file would lend its own peak to every measure."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(path: Path, mode: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--one-run", mode, "--file", str(path)],
                         check=True, capture_output=True, text=True).stdout
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json")
    parser.add_argument("--one-run", choices=("one", "three"))
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.one_run:
        print(json.dumps(measure(Path(args.file), args.one_run)))
        return
    WORK.mkdir(exist_ok=True)
    path = WORK / f"contacts_{args.rows}x3.csv"
    if not path.exists():
        make_file(args.rows, path)
    figures: dict[str, Any] = {"rows": args.rows, "columns": 3, "repeat": args.repeat,
                               "cpus": os.cpu_count(),
                               "load_average_before": os.getloadavg()}
    runs: dict[str, list[dict[str, Any]]] = {"one": [], "three": []}
    for _ in range(args.repeat):
        for mode in runs:
            runs[mode].append(in_fresh_process(path, mode))
    for mode, taken in runs.items():
        seconds = [r["seconds"] for r in taken]
        cpu = [r["cpu_seconds"] for r in taken]
        figures[mode] = {"seconds_median": statistics.median(seconds),
                         "seconds_min": min(seconds), "seconds_max": max(seconds),
                         "cpu_seconds_median": statistics.median(cpu),
                         "cpu_seconds_min": min(cpu), "cpu_seconds_max": max(cpu),
                         "peak_rss_mb_max": max(r["peak_rss_mb"] for r in taken),
                         "rows": taken[0]["rows"], "contacts": taken[0]["contacts"],
                         "messages": taken[0]["messages"],
                         "load_average_1min_during": [r["load_average_1min"]
                                                      for r in taken]}
    figures["load_average_after"] = os.getloadavg()
    # wall time on a shared machine swings with the others' load; CPU time (every
    # thread of the process) much less: both ratios are given
    figures["ratio_three_to_one"] = (figures["three"]["seconds_median"]
                                     / figures["one"]["seconds_median"])
    figures["cpu_ratio_three_to_one"] = (figures["three"]["cpu_seconds_median"]
                                         / figures["one"]["cpu_seconds_median"])
    emit(figures, args.json)


if __name__ == "__main__":
    main()
