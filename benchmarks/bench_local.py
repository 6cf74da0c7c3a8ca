"""Offline throughput and memory of ``rcsqualify check`` (issue: offline core).

Generates N-row contact files the way CRMs export them (cp1252, ';', mixed number
forms, ~3 % messy cells, duplicates), then prints, in one run:
- rows/s of the rcsqualify pipeline (in process: read + normalize + classify + summary)
- rows/s of a per-row phonenumbers baseline on the same rows (parse, is_valid_number,
  number_type, carrier name), measured on the first --baseline-rows rows
- their ratio
- wall time and peak RSS of ``rcsqualify check FILE`` end to end (a fresh process),
  with and without ``--output``
- optionally (--big N) the peak RSS of a check of an N-row file (10,000,000 in the README)

Usage: python benchmarks/bench_local.py [--rows 1000000] [--big 10000000]
Nothing here asserts a time: the figures are printed for the README and the issues.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

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


def run_cli(args: list[str]) -> tuple[float, int, int]:
    """Wall seconds, exit code and peak RSS (KiB) of a fresh ``rcsqualify`` process."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "w = time.perf_counter() - t\n"
        "print(w, r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    exe = str(Path(sys.executable).with_name("rcsqualify"))
    out = subprocess.run([sys.executable, "-c", wrapper, exe, *args], capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=0, help="also measure peak RSS on N rows")
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    import phonenumbers

    figures: dict[str, object] = {"rows": args.rows, "cpus": os.cpu_count(),
                                  "phonenumbers": phonenumbers.__version__}
    t = time.perf_counter()
    cells = make_numbers(args.rows)
    csv_path = WORK / f"contacts_{args.rows}.csv"
    pq_path = WORK / f"contacts_{args.rows}.parquet"
    write_contacts(csv_path, cells)
    write_contacts(pq_path, cells)
    figures["generate_s"] = round(time.perf_counter() - t, 1)

    ours, timings = pipeline_rows_per_s(csv_path)
    ours_pq, _ = pipeline_rows_per_s(pq_path)
    base = baseline_rows_per_s(cells[: args.baseline_rows])
    figures.update({
        "rcsqualify_rows_per_s_csv": round(ours), "rcsqualify_rows_per_s_parquet": round(ours_pq),
        "stage_seconds_csv": {k: round(v, 3) for k, v in timings.items()},
        "phonenumbers_baseline_rows_per_s": round(base),
        "speedup_vs_baseline_csv": round(ours / base, 1),
    })
    with tempfile.TemporaryDirectory() as tmp:
        wall, code, rss = run_cli(["check", str(csv_path), "-q"])
        figures["cli_check_csv_wall_s"] = round(wall, 2)
        figures["cli_check_csv_peak_rss_mb"] = round(rss / 1024)
        figures["cli_exit_code"] = code
        wall, _, rss = run_cli(["check", str(csv_path), "-q", "-o", f"{tmp}/out.csv"])
        figures["cli_check_csv_with_output_csv_wall_s"] = round(wall, 2)
        figures["cli_check_csv_with_output_peak_rss_mb"] = round(rss / 1024)
        wall, _, rss = run_cli(["check", str(pq_path), "-q"])
        figures["cli_check_parquet_wall_s"] = round(wall, 2)
    if args.big:
        big = WORK / f"contacts_{args.big}.csv"
        if not big.exists():
            write_contacts(big, make_numbers(args.big, seed=11))
        figures["big_rows"] = args.big
        figures["big_file_mb"] = round(big.stat().st_size / 2**20)
        wall, _, rss = run_cli(["check", str(big), "-q"])
        figures["big_check_wall_s"] = round(wall, 1)
        figures["big_check_peak_rss_mb"] = round(rss / 1024)
        with tempfile.TemporaryDirectory() as tmp:
            wall, _, rss = run_cli(["check", str(big), "-q", "-o", f"{tmp}/out.parquet"])
        figures["big_check_with_output_wall_s"] = round(wall, 1)
        figures["big_check_with_output_peak_rss_mb"] = round(rss / 1024)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
