"""Portability at national scale (issue: portability-aware attribution).

Prints, measured in one run:
- import of an N-row extract (default 20,000,000; CSV, ';', operator values mixed
  between ARCEP codes, routing prefixes and MCC-MNC, ISO dates, ~3 % re-ported numbers)
  with ``rcsqualify portability import``: wall time and peak RSS
- ``rcsqualify check`` of a 1,000,000-row contact file with and without
  ``--portability-db``: wall times, their difference, peak RSS
- ``rcsqualify portability import --delta`` of a --delta-rows daily delta (default
  100,000; later dates; 70 % numbers already in the store, 30 % new; operator values
  spelt every way: codes in any case, prefixes with and without their zero, MCC-MNC with
  a separator) on top of that store: wall time, peak RSS, numbers changed
- the store alternative we did not choose, SQLite (indexed table, temporary-table join
  for the look-up), on --sqlite-rows rows, to show why sorted Parquet + searchsorted won

Usage: python benchmarks/bench_portability.py [--rows 20000000] [--contacts 1000000]
       [--delta-rows 100000]
Figures are printed and written to benchmarks/results_portability.json.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit
from bench_local import make_numbers, run_cli, write_contacts

from rcsqualify.numbering.plan import load_plan

WORK = Path(__file__).resolve().parent / "_work"
OPERATOR_VALUES = np.array(["FRTE", "SFR0", "BOUY", "FRMO", "06001", "06002", "06003",
                            "06000", "20801", "20810", "20820", "20815"], dtype=object)
#: how deltas are often written: prefixes without their zero, codes in lower case
DELTA_VALUES = np.array(["frte", "Sfr0", "BOUY", "6001", "6002", "6003", "6000", "208-01",
                         "208-10", "20820", "5091"], dtype=object)
DUMP_FIRST_DAY = np.datetime64("2019-01-01")
DUMP_DAYS = 2500
RESULTS = Path(__file__).resolve().parent / "results_portability.json"


def mobile_keys(n: int, rng: np.random.Generator) -> np.ndarray:
    """n national mobile numbers (as int values, without the 0) from allocated 06/07 blocks."""
    plan = load_plan()
    b = plan.blocks[(plan.blocks["length"] == 10)
                    & plan.blocks["prefix"].str.match(r"0[67]").to_numpy(bool)
                    & (plan.blocks["territory"] == "Métropole").to_numpy(bool)]
    idx = rng.integers(0, len(b), n)
    starts = b["start"].to_numpy()[idx]
    ends = b["end"].to_numpy()[idx]
    return starts + (rng.random(n) * (ends - starts + 1)).astype(np.int64)


def write_extract(path: Path, rows: int, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    opts = pacsv.WriteOptions(delimiter=";", quoting_style="none")
    chunk = 2_000_000
    writer = None
    base = DUMP_FIRST_DAY
    try:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            vals = mobile_keys(n, rng)
            again = rng.random(n) < 0.03  # a number ported twice: a second, later line
            vals[again] = vals[rng.integers(0, n, again.sum())]
            nat = pa.compute.binary_join_element_wise(
                "0", pa.compute.cast(pa.array(vals), pa.string()), "")
            dates = (base + rng.integers(0, DUMP_DAYS, n).astype("timedelta64[D]")).astype(str)
            table = pa.table({
                "msisdn": nat,
                "operateur": pa.array(OPERATOR_VALUES[rng.integers(0, len(OPERATOR_VALUES), n)]),
                "date_portage": pa.array(dates),
            })
            if writer is None:
                writer = pacsv.CSVWriter(str(path), table.schema, write_options=opts)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def write_delta(path: Path, rows: int, extract: Path, seed: int = 11) -> None:
    """A day's delta after the dump: 70 % re-ported numbers of the dump, 30 % new ones,
    French dates (DD/MM/YYYY) on the day after the dump's last day."""
    rng = np.random.default_rng(seed)
    dump = pacsv.read_csv(extract, read_options=pacsv.ReadOptions(block_size=1 << 26),
                          parse_options=pacsv.ParseOptions(delimiter=";"),
                          convert_options=pacsv.ConvertOptions(
                              include_columns=["msisdn"],
                              column_types={"msisdn": pa.string()})).column(0)
    known = rng.integers(0, len(dump), int(rows * 0.7))
    again = pa.compute.take(dump, pa.array(known)).to_numpy(zero_copy_only=False)
    fresh = np.char.add("0", mobile_keys(rows - len(again), rng).astype(str))
    numbers = np.concatenate([again.astype(str), fresh])
    day = (DUMP_FIRST_DAY + np.timedelta64(DUMP_DAYS, "D")).astype(object)
    table = pa.table({
        "MSISDN": pa.array(numbers),
        "RN": pa.array(DELTA_VALUES[rng.integers(0, len(DELTA_VALUES), rows)]),
        "Date_Portage": pa.array([day.strftime("%d/%m/%Y")] * rows),
    })
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(delimiter=";",
                                                                  quoting_style="none"))


def sqlite_comparison(rows: int, lookups: int) -> dict[str, float]:
    rng = np.random.default_rng(9)
    keys = np.unique(33_000_000_000 + mobile_keys(rows, rng))
    ops = rng.integers(0, 4, len(keys))
    probe = 33_000_000_000 + mobile_keys(lookups, rng)
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(f"{tmp}/p.db")
        t = time.perf_counter()
        db.execute("CREATE TABLE p (key INTEGER PRIMARY KEY, op INTEGER) WITHOUT ROWID")
        db.executemany("INSERT INTO p VALUES (?, ?)",
                       zip(keys.tolist(), ops.tolist(), strict=True))
        db.commit()
        build = time.perf_counter() - t
        t = time.perf_counter()
        db.execute("CREATE TEMP TABLE q (key INTEGER)")
        db.executemany("INSERT INTO q VALUES (?)", ((int(k),) for k in probe))
        found = db.execute("SELECT q.key, p.op FROM q LEFT JOIN p USING (key)").fetchall()
        join = time.perf_counter() - t
        db.close()
    t = time.perf_counter()
    pos = np.clip(np.searchsorted(keys, probe), 0, len(keys) - 1)
    _ = np.where(keys[pos] == probe, ops[pos], -1)
    ss = time.perf_counter() - t
    assert len(found) == lookups
    return {"sqlite_rows": len(keys), "sqlite_build_s": round(build, 2),
            "sqlite_join_lookup_s": round(join, 3), "numpy_searchsorted_lookup_s": round(ss, 4),
            "sqlite_build_s_extrapolated_to_20M": round(build * 20_000_000 / len(keys), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--sqlite-rows", type=int, default=2_000_000)
    ap.add_argument("--delta-rows", type=int, default=100_000)
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    figures: dict[str, object] = {"extract_rows": args.rows, "contacts": args.contacts}
    extract = WORK / f"extract_{args.rows}.csv"
    if not extract.exists():
        t = time.perf_counter()
        write_extract(extract, args.rows)
        figures["generate_extract_s"] = round(time.perf_counter() - t, 1)
    figures["extract_mb"] = round(extract.stat().st_size / 2**20)
    contacts = WORK / f"contacts_{args.contacts}.csv"
    if not contacts.exists():
        write_contacts(contacts, make_numbers(args.contacts))
    store = WORK / f"store_{args.rows}.parquet"

    wall, code, rss = run_cli(["portability", "import", str(extract), "--into", str(store)])
    assert code == 0, "import failed"
    figures.update({"import_wall_s": round(wall, 1), "import_peak_rss_mb": round(rss / 1024),
                    "store_mb": round(store.stat().st_size / 2**20)})
    from rcsqualify.operators.portability_store import store_info

    info = store_info(store)
    figures.update({"store_numbers": info["rows"], "store_conflicts": info["conflicts"],
                    "store_newest_date": info["newest_date"]})

    wall0, _, rss0 = run_cli(["check", str(contacts), "-q"])
    wall1, _, rss1 = run_cli(["check", str(contacts), "-q", "--portability-db", str(store)])
    out = subprocess.run([str(Path(sys.executable).with_name("rcsqualify")), "check",
                          str(contacts), "-q", "--portability-db", str(store),
                          "--json-report", "-"], capture_output=True, text=True)
    report = json.loads(out.stdout)
    figures.update({
        "check_offline_wall_s": round(wall0, 2), "check_offline_peak_rss_mb": round(rss0 / 1024),
        "check_with_store_wall_s": round(wall1, 2),
        "check_with_store_peak_rss_mb": round(rss1 / 1024),
        "attribution_overhead_s": round(wall1 - wall0, 2),
        "contacts_answered_by_store": report["operator_sources"].get("portability", 0),
    })
    delta = WORK / f"delta_{args.delta_rows}_for_{args.rows}.csv"
    if not delta.exists():
        write_delta(delta, args.delta_rows, extract)
    wall, code, rss = run_cli(["portability", "import", "--delta", "--into", str(store),
                               str(delta)])
    assert code == 0, "delta import failed"
    after = store_info(store)
    figures.update({
        "delta_rows": args.delta_rows, "delta_import_wall_s": round(wall, 1),
        "delta_import_peak_rss_mb": round(rss / 1024),
        "delta_numbers_changed": after["conflicts"],
        "store_numbers_after_delta": after["rows"],
        "store_newest_date_after_delta": after["newest_date"],
    })
    figures.update(sqlite_comparison(args.sqlite_rows, args.contacts))
    emit(figures, RESULTS)


if __name__ == "__main__":
    main()
