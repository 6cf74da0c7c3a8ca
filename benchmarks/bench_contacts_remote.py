"""Several numbers per contact with an MNP service and a capability check (issue #25,
``docs/contacts.md``), against the emulator at its quota.

N contacts × 2 phone columns of Orange-range mobiles; the emulator's MNP says 40 % of
them are still Orange (the rest ported out) and 70 % are RCS-capable, so a contact's
second number is asked only when its first cannot be the best (ported out, or Orange
but not RCS). Both services at ``--quota`` requests a second (the emulator refuses
more). Printed: the requests per service against the numbers that could change a choice
(the minimum), the rounds the run needed, the wall time, the time both services would
take one after the other and at the same time (the floor), and 429s.

Usage: python benchmarks/bench_contacts_remote.py [--contacts 300] [--quota 30]
       [--json benchmarks/results_contacts_remote.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import emit
from bench_remote import EXE, running_emulator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=300)
    ap.add_argument("--quota", type=float, default=30.0)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    figures: dict[str, Any] = {"contacts": args.contacts, "columns": 2,
                               "quota_per_s": args.quota,
                               "load_average_at_start": os.getloadavg()[0]}
    with running_emulator(args.quota) as base, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.csv"
        n = args.contacts
        path.write_text("nom;m1;m2\n" + "".join(
            f"c{i};0607{i:06d};0607{n + i:06d}\n" for i in range(n)), encoding="utf-8")
        env = {**os.environ, "RCSQUALIFY_CACHE_DIR": f"{tmp}/cache",
               "RCSQUALIFY_BOTHUB_CLIENT_ID": "emulator-client",
               "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "emulator-secret"}
        report = Path(tmp) / "report.json"
        command = [EXE, "check", str(path), "-c", "m1", "-c", "m2", "--capability", "bothub",
                   "--bot-id", "bench", "--bothub-url", f"{base}/bothub/v1",
                   "--bothub-token-url", f"{base}/oauth/v3/token",
                   "--mnp-url", f"{base}/mnp/lookup?msisdn={{msisdn}}",
                   "--rate", str(args.quota), "--threshold", "1", "--no-cache",
                   "--json-report", str(report), "-q"]
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        wall = time.perf_counter() - start
        stats = httpx.get(f"{base}/_emulator/stats", timeout=30).json()
        figures["counts"] = json_counts(report)
    asked: dict[str, int] = {}
    for key in stats["asked"]:
        family = key.split(":", 1)[0]
        asked[family] = asked.get(family, 0) + 1
    mnp, cap = asked.get("mnp", 0), asked.get("bothub", 0)
    rate = args.quota * 0.97  # the pacer's own rate
    figures.update({
        "mnp_requests": stats["requests"].get("mnp", 0), "mnp_numbers": mnp,
        "capability_requests": stats["requests"].get("bothub", 0),
        "capability_numbers": cap,
        "second_numbers_asked": sum(1 for k in stats["asked"]
                                    if k.startswith("mnp:") and int(k[-6:]) >= n),
        "wall_s": round(wall, 1),
        "one_after_the_other_s": round((mnp + cap) / rate, 1),
        "slower_service_s": round(max(mnp, cap) / rate, 1),
        "429s": sum(stats["throttled"].values()),
        "load_average_at_end": os.getloadavg()[0],
    })
    emit(figures, args.json)


def json_counts(report: Path) -> dict[str, Any]:
    import json

    data = json.loads(report.read_text(encoding="utf-8"))
    return {k: data["counts"].get(k) for k in ("contacts", "messages", "reachable",
                                               "rescued")} | {
        "looked_up": data["input"]["contacts"]["looked_up"]}


if __name__ == "__main__":
    main()
