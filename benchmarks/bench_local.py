"""Offline throughput and memory of ``rcsqualify check`` (issue: offline core).

Generates N-row contact files the way CRMs export them (cp1252, ';', mixed number
forms, ~3 % messy cells, duplicates), then prints, in one run:
- rows/s of the rcsqualify pipeline (in process: read + normalize + classify + summary)
- rows/s of a per-row phonenumbers baseline on the same rows (parse, is_valid_number,
  number_type, carrier name), measured on the first --baseline-rows rows
- their ratio
- wall time and peak RSS of ``rcsqualify check FILE`` end to end (a fresh process),
  with and without ``--output``
- optionally (--big N) the peak RSS of a check of an N-row file (10,000,000 in the README),
  and (--huge N) the wall time and peak RSS of a check of an N-row file (30,000,000)

With --repeat R every measure is taken R times (median, min and max: the machine may be
busy); with --before DIR (a source tree, e.g. ``git archive <commit> | tar -x -C DIR``)
every measure is also taken for that tree, interleaved with this checkout's runs, and the
ratios of the medians are printed: before and after from one run on one machine. The
in-process rows/s and the per-row phonenumbers baseline are measured in the same process
(one per tree), so their ratio is from one run too.

Usage: python benchmarks/bench_local.py [--rows 1000000] [--big 10000000] [--huge N]
       [--repeat 3] [--before DIR] [--json benchmarks/results_local.json]
Nothing here asserts a time: the figures are printed for the README and the issues.
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
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from _common import emit

from rcsqualify.numbering.plan import load_plan

WORK = Path(__file__).resolve().parent / "_work"


def make_numbers(n: int, seed: int = 7) -> list[str]:
    """n cells: numbers drawn from allocated mobile/fixed blocks, written in mixed forms."""
    plan = load_plan()
    b = plan.blocks[plan.blocks["length"] == 10]
    rng = np.random.default_rng(seed)
    mobile = b["prefix"].str.match(r"0[67]").to_numpy(bool)
    weights = np.where(mobile, 8.0, 1.0)
    weights /= weights.sum()
    idx = rng.choice(len(b), size=n, p=weights)
    starts = b["start"].to_numpy()[idx]
    ends = b["end"].to_numpy()[idx]
    vals = starts + (rng.random(n) * (ends - starts + 1)).astype(np.int64)
    # 5 % duplicates
    dup = rng.random(n) < 0.05
    vals[dup] = vals[rng.integers(0, n, dup.sum())]
    nat = pa.compute.binary_join_element_wise(
        "0", pa.compute.cast(pa.array(vals), pa.string()), "")
    national = nat.to_numpy(zero_copy_only=False).astype(object)
    cc = plan.block_country_codes[idx].astype(str)
    form = rng.integers(0, 10, n)
    out = national.copy()
    sel = form == 1  # "06 12 34 56 78"
    out[sel] = [" ".join(s[i:i + 2] for i in range(0, 10, 2)) for s in national[sel]]
    sel = form == 2
    out[sel] = ["+" + c + " " + s[1:] for c, s in zip(cc[sel], national[sel], strict=True)]
    sel = form == 3
    out[sel] = [s[1:] for s in national[sel]]  # leading zero eaten (mobiles get repaired)
    sel = form == 4
    out[sel] = ["00" + c + s[1:] for c, s in zip(cc[sel], national[sel], strict=True)]
    messy = rng.random(n) < 0.03
    junk = np.array(["", "N/A", "3.36123E+10", "06 12 / 07 98", "0612", "+44 20 7946 0958",
                     "0612345678; 0698765432", "inconnu"], dtype=object)
    out[messy] = junk[rng.integers(0, len(junk), messy.sum())]
    return list(out)


def write_contacts(path: Path, cells: list[str]) -> None:
    n = len(cells)
    table = pa.table({
        "Nom": pa.array(np.array(["Lefèvre", "Dubois", "Garçon", "Müller"], dtype=object)[
            np.arange(n) % 4]),
        "Téléphone": pa.array(cells, pa.string()),
        "Ville": pa.array(np.array(["Besançon", "Nîmes", "Paris"], dtype=object)[
            np.arange(n) % 3]),
    })
    if path.suffix == ".parquet":
        pq.write_table(table, path)
        return
    tmp = path.with_suffix(".utf8")
    pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(delimiter=";",
                                                                   quoting_style="needed"))
    with tmp.open("r", encoding="utf-8") as src, path.open("w", encoding="cp1252") as dst:
        while chunk := src.read(1 << 24):
            dst.write(chunk)
    tmp.unlink()


def pipeline_rows_per_s(path: Path) -> tuple[float, dict[str, float]]:
    from rcsqualify.contacts import ContactSource
    from rcsqualify.pipeline import run_check
    from rcsqualify.report.summary import summarize

    plan = load_plan()
    t = time.perf_counter()
    with ContactSource(str(path)) as src:
        result = run_check(src, plan)
        summarize(result, plan, input_info=src.info.as_dict(), threshold=0.15)
        rows = src.info.rows
    return rows / (time.perf_counter() - t), result.timings


def baseline_rows_per_s(cells: list[str]) -> float:
    import phonenumbers
    from phonenumbers import carrier

    t = time.perf_counter()
    for cell in cells:
        try:
            p = phonenumbers.parse(cell, "FR")
            phonenumbers.is_valid_number(p)
            phonenumbers.number_type(p)
            carrier.name_for_number(p, "fr")
        except phonenumbers.NumberParseException:
            pass
    return len(cells) / (time.perf_counter() - t)


_IN_PROCESS = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench_local import baseline_rows_per_s, pipeline_rows_per_s, make_numbers
from rcsqualify.numbering.plan import load_plan
load_plan()
path, repeat, baseline_rows = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ours = [pipeline_rows_per_s(path) for _ in range(repeat)]
cells = make_numbers(baseline_rows)
base = [baseline_rows_per_s(cells) for _ in range(repeat)]
print(json.dumps({"rows_per_s": [o[0] for o in ours], "stages": ours[-1][1],
                  "phonenumbers_rows_per_s": base}))
"""


def in_process(path: Path, root: str | None, repeat: int, baseline_rows: int
               ) -> dict[str, Any]:
    """rcsqualify's and phonenumbers' rows/s in one fresh process importing ``root``'s
    rcsqualify (this checkout when None)."""
    env = dict(os.environ)
    if root:
        env["PYTHONPATH"] = root
    # -P: the current directory is not put first on sys.path, so PYTHONPATH's tree wins
    out = subprocess.run([sys.executable, "-P", "-c", _IN_PROCESS, str(Path(__file__).parent),
                          str(path), str(repeat), str(baseline_rows)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def spread(values: list[float], digits: int = 2) -> dict[str, float]:
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits)}


def run_cli(args: list[str], root: str | None = None) -> tuple[float, int, int]:
    """Wall seconds, exit code and peak RSS (KiB) of a fresh ``rcsqualify`` process
    (importing ``root``'s rcsqualify when given)."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "w = time.perf_counter() - t\n"
        "print(w, r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    env = dict(os.environ)
    if root:
        env["PYTHONPATH"] = root
    out = subprocess.run([sys.executable, "-c", wrapper, exe, *args], capture_output=True,
                         text=True, check=True, env=env).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def large_contacts(name: str, rows: int, seed: int, figures: dict[str, Any]) -> Path:
    """The ``rows``-row file of --big or --huge, written once and kept in _work for the
    next runs; its rows and size go in the figures under ``name``."""
    path = WORK / f"contacts_{rows}.csv"
    if not path.exists():
        write_contacts(path, make_numbers(rows, seed=seed))
    figures[f"{name}_rows"] = rows
    figures[f"{name}_file_mb"] = round(path.stat().st_size / 2**20)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=0, help="also measure peak RSS on N rows")
    ap.add_argument("--huge", type=int, default=0, help="also measure a check of N rows")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--before", help="another source tree, measured in the same run")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    from importlib.metadata import version

    trees: dict[str, str | None] = {"after": None}
    if args.before:
        trees["before"] = args.before
    figures: dict[str, Any] = {"rows": args.rows, "cpus": os.cpu_count(),
                               "repeat": args.repeat, "phonenumbers": version("phonenumbers")}
    t = time.perf_counter()
    cells = make_numbers(args.rows)
    csv_path = WORK / f"contacts_{args.rows}.csv"
    pq_path = WORK / f"contacts_{args.rows}.parquet"
    write_contacts(csv_path, cells)
    write_contacts(pq_path, cells)
    figures["generate_s"] = round(time.perf_counter() - t, 1)
    del cells

    results: dict[str, dict[str, Any]] = {name: {} for name in trees}
    for name, root in trees.items():
        got = in_process(csv_path, root, args.repeat, args.baseline_rows)
        ours, base = got["rows_per_s"], got["phonenumbers_rows_per_s"]
        results[name].update({
            "in_process_rows_per_s_csv": spread(ours, 0),
            "phonenumbers_baseline_rows_per_s": spread(base, 0),
            "speedup_vs_phonenumbers": round(statistics.median(ours)
                                             / statistics.median(base), 1),
            "stage_seconds_csv": {k: round(v, 3) for k, v in got["stages"].items()},
        })
    measures = {"cli_check_csv": ["check", str(csv_path), "-q"],
                "cli_check_parquet": ["check", str(pq_path), "-q"]}
    with tempfile.TemporaryDirectory() as tmp:
        measures["cli_check_csv_with_output_csv"] = ["check", str(csv_path), "-q", "-o",
                                                     f"{tmp}/out.csv"]
        if args.big:
            big = large_contacts("big", args.big, 11, figures)
            measures["big_check"] = ["check", str(big), "-q"]
            measures["big_check_with_output_parquet"] = ["check", str(big), "-q", "-o",
                                                         f"{tmp}/out.parquet"]
        if args.huge:
            huge = large_contacts("huge", args.huge, 13, figures)
            measures["huge_check"] = ["check", str(huge), "-q"]
        walls: dict[tuple[str, str], list[float]] = {}
        rss: dict[tuple[str, str], list[float]] = {}
        for measure, cli_args in measures.items():
            repeat = 1 if measure.startswith(("big", "huge")) else args.repeat
            for _ in range(repeat):
                for name, root in trees.items():  # interleaved: load hits both alike
                    wall, code, peak = run_cli(cli_args, root)
                    walls.setdefault((name, measure), []).append(wall)
                    rss.setdefault((name, measure), []).append(peak / 1024)
                    results[name]["cli_exit_code"] = code
    for (name, measure), values in walls.items():
        results[name][f"{measure}_wall_s"] = spread(values)
        results[name][f"{measure}_peak_rss_mb"] = spread(rss[(name, measure)], 0)
    figures.update(results)
    if args.before:
        figures["before_over_after_wall"] = {
            measure: round(statistics.median(walls[("before", measure)])
                           / statistics.median(walls[("after", measure)]), 2)
            for measure in measures}
    emit(figures, args.json)


if __name__ == "__main__":
    main()
