"""Bulk capability at national scale (issue: bulk capability).

Against the emulator (a real process), prints, measured in one run:
- calls made for N numbers (default 1,000,000 target-operator mobiles) with
  ``bothub-bulk`` (jobs submitted, polls) and ``rbm-batch`` (batchGet calls and their
  sizes), against the minimum ⌈N/10,000⌉ each; wall time and peak RSS of those runs
- wall time and peak RSS of a 100,000-number ``bothub-bulk`` run

Usage: python benchmarks/bench_bulk.py [--numbers 1000000] [--small 100000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_local import run_cli
from bench_remote import running_emulator


def write_numbers(path: Path, n: int) -> None:
    """n distinct Orange-range mobiles (0607000000…), one column."""
    with path.open("w") as fh:
        fh.write("mobile\n")
        for i in range(n):
            fh.write(f"0607{i:06d}\n")


def service_account(path: Path, token_uri: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.write_text(json.dumps({"type": "service_account", "project_id": "bench",
                                "private_key_id": "k", "private_key": pem,
                                "client_email": "bench@x.iam.gserviceaccount.com",
                                "client_id": "1", "token_uri": token_uri}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--numbers", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=100_000)
    args = ap.parse_args()
    figures: dict[str, object] = {"numbers": args.numbers,
                                  "minimum_calls": math.ceil(args.numbers / 10_000)}
    os.environ.update({"RCSQUALIFY_BOTHUB_CLIENT_ID": "emulator-client",
                       "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "emulator-secret",
                       "RCSQUALIFY_POLL_INTERVAL": "0.5"})
    with running_emulator(1000) as base:
        httpx.post(f"{base}/_emulator/config", json={"quota": {"rbm": 10.0}, "bulk_polls": 1},
                   timeout=10)
        bothub = ["--bot-id", "bench", "--bothub-url", f"{base}/bothub/v1",
                  "--bothub-token-url", f"{base}/oauth/v3/token", "--threshold", "1", "-q"]
        with tempfile.TemporaryDirectory() as tmp:
            big = Path(tmp) / "big.csv"
            write_numbers(big, args.numbers)
            os.environ["RCSQUALIFY_CACHE_DIR"] = f"{tmp}/c1"
            wall, code, rss = run_cli(["check", str(big), "--capability", "bothub-bulk",
                                       *bothub])
            stats = httpx.get(f"{base}/_emulator/stats", timeout=60).json()
            figures.update({
                "bothub_bulk_exit": code, "bothub_bulk_jobs": stats["jobs_submitted"],
                "bothub_bulk_http_requests": stats["requests"]["bothub"],
                "bothub_bulk_wall_s": round(wall, 1),
                "bothub_bulk_peak_rss_mb": round(rss / 1024)})

            httpx.post(f"{base}/_emulator/reset", timeout=10)
            httpx.post(f"{base}/_emulator/config", json={"quota": {"rbm": 10.0}}, timeout=10)
            sa = Path(tmp) / "sa.json"
            service_account(sa, f"{base}/rbm/token")
            os.environ["RCSQUALIFY_CACHE_DIR"] = f"{tmp}/c2"
            wall, code, rss = run_cli([
                "check", str(big), "--capability", "rbm-batch", "--rbm-url", f"{base}/rbm",
                "--rbm-credentials", str(sa), "--agent-id", "emulator-agent",
                "--threshold", "1", "-q"])
            stats = httpx.get(f"{base}/_emulator/stats", timeout=60).json()
            sizes = stats["batch_sizes"]
            figures.update({
                "rbm_batch_exit": code, "rbm_batch_calls": len(sizes),
                "rbm_batch_min_size": min(sizes) if sizes else None,
                "rbm_batch_max_size": max(sizes) if sizes else None,
                "rbm_batch_wall_s": round(wall, 1), "rbm_batch_peak_rss_mb": round(rss / 1024)})

            httpx.post(f"{base}/_emulator/reset", timeout=10)
            httpx.post(f"{base}/_emulator/config", json={"bulk_polls": 1}, timeout=10)
            small = Path(tmp) / "small.csv"
            write_numbers(small, args.small)
            os.environ["RCSQUALIFY_CACHE_DIR"] = f"{tmp}/c3"
            wall, code, rss = run_cli(["check", str(small), "--capability", "bothub-bulk",
                                       *bothub])
            stats = httpx.get(f"{base}/_emulator/stats", timeout=60).json()
            figures.update({"small_numbers": args.small,
                            "small_bothub_bulk_jobs": stats["jobs_submitted"],
                            "small_bothub_bulk_wall_s": round(wall, 1),
                            "small_bothub_bulk_peak_rss_mb": round(rss / 1024)})
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
