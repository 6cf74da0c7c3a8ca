"""The annotated output (CONTRACT §6 ``--output``): every input row, every original
column, plus the verdict columns.

Pass 2 of the pipeline: the input is read again batch by batch and the per-row arrays
of pass 1 are joined on by position, so memory stays bounded. Files are written to a
temporary name beside the target and renamed at the end: a failed or interrupted run
never leaves a half file under the name the user asked for.

Column-name clash: an input column already named like one of ours (``status``...) is
kept, renamed with the suffix ``_input``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rcsqualify.contacts import ContactSource
from rcsqualify.errors import InputError
from rcsqualify.numbering.normalize import format_e164
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.pipeline import CheckResult
from rcsqualify.verdict import REASON_TO_STATUS, REASONS, REPAIRS, SOURCES, STATUSES

ANNOTATION_COLUMNS = ["msisdn_e164", "status", "reason", "repaired", "operator",
                      "operator_source", "territory", "rcs"]
RCS_LABELS = ("", "yes", "no", "error", "", "not_listed")
OUTPUT_FORMATS = {".csv": "csv", ".tsv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson",
                  ".parquet": "parquet"}


def output_format(path: str) -> str:
    fmt = OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(f"--output {path}: use a .csv, .ndjson or .parquet file name")
    return fmt


def _dict_array(codes: np.ndarray, vocabulary: list[str] | tuple[str, ...]) -> pa.Array:
    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                         pa.array(list(vocabulary), pa.string()))
    return arr.cast(pa.string())


class Annotator:
    """Builds the verdict columns for any slice of rows."""

    def __init__(self, result: CheckResult, plan: NumberingPlan) -> None:
        self.r = result
        d = result.distinct
        op_codes, op_vocab = pd.factorize(d.operator, use_na_sentinel=False)
        self.op_vocab = [*(str(o) for o in op_vocab), ""]
        # Per-number arrays with one sentinel appended: index -1 (an invalid row, which
        # has no number) picks the sentinel, so rows index them directly.
        self.op = np.append(op_codes.astype(np.int32), len(self.op_vocab) - 1)
        self.source = np.append(d.source, 0)
        self.rcs = np.append(d.rcs, 0)
        self.terr_vocab = [*plan.territories, ""]
        self.terr = np.append(plan.block_territory, len(self.terr_vocab) - 1)

    def columns(self, start: int, stop: int) -> dict[str, pa.Array]:
        rows = self.r.rows
        reason = rows.reason[start:stop]
        di = rows.distinct_index[start:stop]
        op, src, rcs = self.op[di], self.source[di], self.rcs[di]
        terr = self.terr[rows.block[start:stop]]  # block -1 (invalid) → sentinel too
        return {
            "msisdn_e164": format_e164(rows.key[start:stop]),
            "status": _dict_array(REASON_TO_STATUS[reason], [str(s) for s in STATUSES]),
            "reason": _dict_array(reason, REASONS),
            "repaired": _dict_array(rows.repaired[start:stop], REPAIRS),
            "operator": _dict_array(op, self.op_vocab),
            "operator_source": _dict_array(src, SOURCES),
            "territory": _dict_array(terr, self.terr_vocab),
            "rcs": _dict_array(rcs, RCS_LABELS),
        }


def annotated_batches(source: ContactSource, result: CheckResult, plan: NumberingPlan
                      ) -> Iterator[pa.RecordBatch]:
    """The input's batches with the verdict columns appended, in file order."""
    ann = Annotator(result, plan)
    clash = set(ANNOTATION_COLUMNS)
    names = [f"{c}_input" if c in clash else c for c in source.columns]
    offset = 0
    for batch in source.batches():
        n = batch.num_rows
        extra = ann.columns(offset, offset + n)
        offset += n
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, *extra.values()], names=[*names, *extra.keys()])
    if offset != len(result.rows.key):
        raise InputError(f"{source.info.path} changed while it was read "
                         f"({offset} rows now, {len(result.rows.key)} before)")


def umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, umask_mode())  # as a plain open() would have created it
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_batches(path: str, batches: Iterator[pa.RecordBatch], *, delimiter: str = ","
                  ) -> int:
    """Write ``batches`` to ``path`` in the format its extension names; returns rows."""
    fmt = output_format(path)
    if Path(path).suffix.lower() == ".tsv":
        delimiter = "\t"
    rows = 0
    with atomic_path(path) as tmp:
        first = next(batches, None)
        if first is None:
            tmp.write_bytes(b"")
            return 0
        if fmt == "csv":
            opts = pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed")
            with pacsv.CSVWriter(str(tmp), first.schema, write_options=opts) as w:
                for b in _chain(first, batches):
                    w.write_batch(b)
                    rows += b.num_rows
        elif fmt == "parquet":
            with pq.ParquetWriter(str(tmp), first.schema, compression="zstd") as w:
                for b in _chain(first, batches):
                    w.write_batch(b)
                    rows += b.num_rows
        else:
            with tmp.open("w", encoding="utf-8") as fh:
                for b in _chain(first, batches):
                    text = b.to_pandas().to_json(orient="records", lines=True,
                                                 force_ascii=False)
                    fh.write(text if text.endswith("\n") or not text else text + "\n")
                    rows += b.num_rows
    return rows


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def write_annotated(path: str, source: ContactSource, result: CheckResult,
                    plan: NumberingPlan) -> int:
    delimiter = source.info.delimiter or ","
    return write_batches(path, annotated_batches(source, result, plan), delimiter=delimiter)
