"""The local portability store built by ``rcsqualify portability import``.

The store is one Parquet file, sorted by key, zstd-compressed, with its provenance in
the file's key-value metadata. Chosen by measurement (benchmarks/bench_portability.py):
loading 20 M sorted keys and searchsorting 1 M contacts takes well under a second,
with no dependency beyond pyarrow, which rcsqualify already has. SQLite needs a point
query per contact or a temporary-table join, both slower at this size, and DuckDB
would add a large dependency for a single join. The store is built beside the target
under a temporary name and renamed at the end, so an interrupted import (Ctrl-C,
kill -9) leaves the previous store intact. ``import --delta`` applies daily deltas on
top of a store: per number the newest date wins (a delta read later wins a same-day
tie), a number ported back to its range holder included; the store keeps that date.

"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rcsqualify.defaults import PORTABILITY_MAX_UNMAPPED
from rcsqualify.errors import InputError
from rcsqualify.files import atomic_write
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.port_dates import NO_DATE
from rcsqualify.operators.portability import PortabilityTable, build_table, overlay

STORE_FORMAT = 2  # 2: a per-number date column and date metadata
_READABLE_FORMATS = (1, 2)
_META_KEY = b"rcsqualify.portability"
_MAX_SOURCES_KEPT = 1000  # provenance entries kept in a store's metadata


def write_store(table: PortabilityTable, target: Path, *,
                previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the store beside ``target`` and rename it in place at the end.

    ``previous``: the metadata of the store a delta was applied to; its sources and row
    counts carry over, so ``portability info`` tells the whole history.
    """
    counts = np.bincount(table.operator_index.astype(np.int64), minlength=len(table.operators))
    oldest, newest = table.date_range()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    new_sources = [{**{k: v for k, v in s.items() if k != "unmapped_examples"},
                    "imported_at": now} for s in table.sources]
    prev_sources = list(previous.get("sources", [])) if previous else []
    meta = {
        "format": STORE_FORMAT, "rows": len(table.keys),
        "input_rows": table.rows + (int(previous.get("input_rows", 0)) if previous else 0),
        "imported_at": previous.get("imported_at", now) if previous else now,
        "updated_at": now,
        "oldest_date": oldest, "newest_date": newest,
        "undated": int(np.count_nonzero(table.dates == NO_DATE)),
        "deltas": (int(previous.get("deltas", 0)) + len(table.sources)) if previous else 0,
        "operators": {op: int(c) for op, c in sorted(zip(table.operators, counts, strict=True),
                                                     key=lambda x: -x[1]) if c},
        "sources": (prev_sources + new_sources)[-_MAX_SOURCES_KEPT:],
        "conflicts": table.conflicts, "duplicates": table.duplicates,
        "invalid_numbers": table.invalid_numbers, "unmapped": table.unmapped,
        "unmapped_examples": table.unmapped_examples,
        "fixed_line_prefixes": table.fixed_line_prefixes,
        "unparsed_dates": table.unparsed_dates,
    }
    undated = table.dates == NO_DATE
    arrow = pa.table({
        "key": pa.array(table.keys, pa.int64()),
        "operator": pa.DictionaryArray.from_arrays(
            pa.array(table.operator_index.astype(np.int32)), pa.array(table.operators)),
        "date": pa.array(np.where(undated, 0, table.dates).astype(np.int32),
                         mask=undated).cast(pa.date32()),
    }).replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.part"):
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)  # left by a killed import
    with atomic_write(target) as tmp:  # the old store stays whole on any failure
        pq.write_table(arrow, tmp, compression="zstd", row_group_size=1 << 20)
    return meta


def store_info(path: Path) -> dict[str, Any]:
    try:
        md = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: not a portability store ({exc})") from exc
    if _META_KEY not in md:
        raise InputError(f"{path}: not a portability store built by 'rcsqualify portability "
                         "import'")
    info: dict[str, Any] = json.loads(md[_META_KEY])
    if info.get("format") not in _READABLE_FORMATS:
        raise InputError(f"{path}: store format {info.get('format')} is not supported; "
                         "import the extracts again")
    info.setdefault("newest_date", None)
    info.setdefault("oldest_date", None)
    return info


def load_store(path: Path, *, with_dates: bool = False) -> PortabilityTable:
    info = store_info(path)
    columns = ["key", "operator"] + (["date"] if with_dates and info["format"] >= 2 else [])
    t = pq.read_table(path, columns=columns)
    op = t.column("operator").combine_chunks()
    if pa.types.is_dictionary(op.type):
        operators = op.dictionary.to_pylist()
        index = np.asarray(op.indices.to_numpy(zero_copy_only=False), dtype=np.int16)
    else:
        codes, uniques = pd.factorize(op.to_numpy(zero_copy_only=False))
        operators, index = list(uniques), codes.astype(np.int16)
    keys = np.asarray(t.column("key").to_numpy(), dtype=np.int64)
    dates = np.full(len(keys), NO_DATE, np.int32)
    if "date" in t.column_names:
        col = pc.cast(t.column("date").combine_chunks(), pa.int32())
        dates = np.asarray(pc.fill_null(col, NO_DATE).to_numpy(zero_copy_only=False),
                           dtype=np.int32)
    source = {"path": str(path), "kind": "store", "rows": int(info.get("input_rows", 0)),
              "entries": len(keys), "newest_date": info["newest_date"],
              "oldest_date": info["oldest_date"], "imported_at": info.get("imported_at"),
              "updated_at": info.get("updated_at"), "deltas": int(info.get("deltas", 0))}
    return PortabilityTable(keys=keys, operator_index=index, operators=operators, dates=dates,
                            rows=int(info.get("input_rows", len(keys))),
                            conflicts=int(info.get("conflicts", 0)), sources=[source])


def import_extracts(paths: Sequence[Path], store: Path, plan: NumberingPlan, *,
                    delta: bool = False, number_column: str | None = None,
                    operator_column: str | None = None,
                    max_unmapped: float | None = PORTABILITY_MAX_UNMAPPED) -> dict[str, Any]:
    """``portability import``: build a store, or apply deltas on top of one (atomic)."""
    previous = None
    base = None
    if delta:
        if not store.exists():
            raise InputError(f"{store}: no store to apply deltas to; build it first with "
                             "'rcsqualify portability import --into' a full extract")
        previous = store_info(store)
        base = load_store(store, with_dates=True)
    table = build_table(paths, plan, number_column=number_column,
                        operator_column=operator_column, max_unmapped=max_unmapped,
                        limit_option="--max-unmapped")
    if delta:
        for src in table.sources:
            src["kind"] = "delta"
            if src["rows"] and src["newest_date"] is None:
                raise InputError(f"{src['path']}: a delta needs port dates (no date column "
                                 "found, or no date parses): the newest date must win")
        assert base is not None
        merged, changed = overlay(base, table, undated_top_wins=False)
        merged.rows = table.rows
        merged.conflicts = changed
        merged.sources = table.sources
        meta = write_store(merged, store, previous=previous)
        meta["changed"] = changed
        meta["applied"] = table.sources
        return meta
    meta = write_store(table, store)
    meta["applied"] = table.sources
    return meta
