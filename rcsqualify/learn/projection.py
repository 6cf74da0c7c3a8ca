"""What the check run projected for the messages actually sent (issue #28 item 3).

The send list a check writes is rarely what goes out: a sender adds the unverified
numbers, drops a region, stops half-way. So the projection a campaign is compared with
is rebuilt **per number**, from the check run's own verdicts — its annotated output
(``check --output``, CSV/TSV/XLSX/NDJSON/Parquet) or its ``--split-dir`` lists, given
with ``learn --checked`` — restricted to the numbers the messages were sent to (the
``--sent`` file's messages, else one message per number with an event). Per message:

- its number's status is one of CONTRACT §2's projected errors (``invalid``,
  ``not_mobile``, ``other_operator``, ``not_rcs``): a **known error**;
- ``reachable`` on an answer that was older than its freshness when the campaign was
  sent (the cache's date of the answer against the campaign's date): in the **bound**;
- ``unverified``: in the bound; when the run estimated capability from a fixed sample
  (``not_sampled``) and its JSON report (``--projection``) holds the sample's interval,
  the bound is that interval applied to the not-sampled messages sent
  (``report.summary.estimate_interval``, as the check computed it for its base); a
  ``--sample auto`` run's confidence sequence describes its whole population, not a
  part of it, so its not-sampled messages count as failures in the bound (the worst
  case, stated);
- a number the check run never saw (**unmatched**): in the bound too (nothing was
  projected for it).

So ``error_ratio`` = known errors ÷ messages sent, ``error_ratio_upper`` = the same with
the bound added: the same denominator as the actual ratio. Numbers are matched on the
E.164 integer key the whole project uses (``numbering.normalize``); none is printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rcsqualify.errors import InputError
from rcsqualify.numbering.normalize import normalize_numbers
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.report.json_report import SCHEMA_VERSION
from rcsqualify.textsafe import safe_text
from rcsqualify.verdict import ERROR_STATUSES, STATUSES, Status

#: a projection report larger than this is not one
MAX_REPORT_BYTES = 64 << 20
#: the columns of the check's annotated output read back (contacts/columns.py names)
NUMBER_COLUMN, STATUS_COLUMN, REASON_COLUMN = "msisdn_e164", "status", "reason"
_ERROR_CODES = np.array([s in ERROR_STATUSES for s in STATUSES], dtype=bool)
_UNVERIFIED = STATUSES.index(Status.UNVERIFIED)
_REACHABLE = STATUSES.index(Status.REACHABLE)


def load_projection(path: Path) -> dict[str, Any]:
    """The run that produced the send list: its JSON report's ``send_plan`` (the whole
    send list's figures, the fallback without ``--checked``), threshold and sampling
    interval (exit 2, one line, when it is not such a report)."""
    where = f"--projection {safe_text(path)}"
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{where}: cannot read it ({exc.strerror or type(exc).__name__})"
                         ) from None
    try:
        report: Any = json.loads(data) if len(data) <= MAX_REPORT_BYTES else None
        version = report.get("schema_version", 1)
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        plan = report["send_plan"]
        send = plan["send_rcs"]
        messages = int(send["messages"])
        ratio = _share(send["error_ratio"])
        upper = plan.get("with_unverified", {}).get("error_ratio_upper")
        upper = None if upper is None else _share(upper)
        threshold = report.get("threshold")
        threshold = None if threshold is None else _share(threshold)
        if messages < 0:
            raise ValueError("a negative count")
        interval = report.get("interval")
        if interval is not None and not (isinstance(interval, dict) and all(
                isinstance(interval.get(k), int | float) for k in ("trials", "failures"))):
            interval = None  # a --sample auto sequence, or nothing usable per list
    except (ValueError, TypeError, KeyError, AttributeError):
        newer = isinstance(report, dict) and isinstance(report.get("schema_version"), int) \
            and report["schema_version"] > SCHEMA_VERSION
        if not newer:
            raise InputError(f"{where} is not a JSON report of 'rcsqualify check' (no "
                             "send_plan.send_rcs with counts and ratios a check writes): "
                             "give the --json-report of the run that produced the send "
                             "list") from None
    if newer:
        # its keys may mean something else: never read as this version's
        raise InputError(f"{where} was written by a newer rcsqualify (report schema "
                         f"{report['schema_version']}; this version reads up to "
                         f"{SCHEMA_VERSION}): run learn with that version")
    tool = report.get("tool") if isinstance(report.get("tool"), dict) else {}
    return {"basis": "whole send list", "messages": messages, "error_ratio": ratio,
            "error_ratio_upper": upper, "threshold": threshold,
            "generated": safe_text(str(tool.get("generated") or tool.get("date") or ""), 40)
            or None, "interval": interval}


def _share(value: Any) -> float:
    """A ratio a check writes: a number from 0 to 1 (NaN, 7 or '0.1' are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0.0 <= value <= 1.0:
        raise ValueError("not a share")
    return float(value)


@dataclass
class Checked:
    """The check run's verdict per distinct number (sorted keys), from its files."""

    keys: np.ndarray  # int64 E.164 keys, sorted, unique
    status: np.ndarray  # uint8 index into verdict.STATUSES
    not_sampled: np.ndarray  # bool: reason not_sampled (a sampled run's undrawn)
    rows: int  # rows read (invalid rows, which have no number, included)
    files: list[str]

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Index in ``self.keys`` of each of ``keys``, -1 when absent."""
        return index_in(self.keys, keys)


def index_in(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index in ``sorted_keys`` (unique, sorted) of each of ``keys``, -1 when absent or
    0 (no number): a binary search per key, no Python object per number."""
    if not len(sorted_keys):
        return np.full(len(keys), -1, dtype=np.intp)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where((sorted_keys[at] == keys) & (keys != 0), at, -1)


def load_checked(paths: list[Path], plan: NumberingPlan) -> Checked:
    """The verdicts of the check run's annotated output or split lists, read as contact
    files are (any format ``check`` writes), by the verdict columns' names."""
    from rcsqualify.contacts import ContactSource

    keys: list[np.ndarray] = []
    status: list[np.ndarray] = []
    sampled_out: list[np.ndarray] = []
    rows = 0
    names = [str(s) for s in STATUSES]
    for path in paths:
        where = f"--checked {safe_text(path)}"
        try:
            source = ContactSource(str(path), column=NUMBER_COLUMN)
        except InputError as exc:
            if not str(exc).startswith("no column"):
                raise InputError(f"{where}: {exc}") from None
            source = None
        if source is None or STATUS_COLUMN not in source.headers:
            if source is not None:
                source.close()
            raise InputError(f"{where} is not the annotated output of a check (no "
                             f"{NUMBER_COLUMN} and {STATUS_COLUMN} columns): give its "
                             "--output file or its --split-dir lists")
        with source:
            headers = source.headers
            wanted = [source.columns[headers.index(c)] for c in
                      (NUMBER_COLUMN, STATUS_COLUMN, REASON_COLUMN) if c in headers]
            for batch in source.batches(wanted):
                text = pc.fill_null(batch.column(1), "")
                code = pc.index_in(text, value_set=pa.array(names))
                if pc.any(pc.and_(pc.is_null(code), pc.not_equal(text, ""))).as_py():
                    raise InputError(f"{where}: a status that is not one of check's "
                                     f"({', '.join(names)})")
                k = normalize_numbers(batch.column(0), plan).key
                valid = k != 0
                rows += batch.num_rows
                keys.append(k[valid])
                status.append(code.fill_null(0).to_numpy(zero_copy_only=False)
                              .astype(np.uint8)[valid])
                reason = (batch.column(2) if batch.num_columns > 2
                          else pa.nulls(batch.num_rows, pa.string()))
                sampled_out.append(pc.fill_null(pc.equal(reason, "not_sampled"), False)
                                   .to_numpy(zero_copy_only=False)[valid])
    k = np.concatenate(keys) if keys else np.empty(0, np.int64)
    unique, first = np.unique(k, return_index=True)  # every row of a number: one verdict
    return Checked(keys=unique,
                   status=(np.concatenate(status) if status else np.empty(0, np.uint8))[first],
                   not_sampled=(np.concatenate(sampled_out) if sampled_out
                                else np.empty(0, bool))[first],
                   rows=rows, files=[safe_text(p.name, 120) for p in paths])


def list_projection(checked: Checked, keys: np.ndarray, messages: np.ndarray,
                    stale: np.ndarray, unmatched_messages: int,
                    interval: dict[str, Any] | None) -> dict[str, Any]:
    """The projection for the messages sent: ``messages[i]`` messages went to the number
    ``keys[i]``, whose answer was ``stale[i]`` (older than its freshness at the
    campaign's date); ``unmatched_messages`` more went to numbers with no key (not
    valid French numbers)."""
    from rcsqualify.report.summary import estimate_interval

    at = checked.find(keys)
    found = at >= 0
    code = np.full(len(keys), 255, dtype=np.uint8)
    code[found] = checked.status[at[found]]
    is_error = np.zeros(len(keys), dtype=bool)
    is_error[found] = _ERROR_CODES[code[found]]
    total = int(messages.sum()) + unmatched_messages
    by_status = {str(s): int(messages[code == i].sum()) for i, s in enumerate(STATUSES)}
    known = int(messages[is_error].sum())
    unverified = code == _UNVERIFIED
    sampled_out = np.zeros(len(keys), dtype=bool)
    sampled_out[found] = checked.not_sampled[at[found]]
    sampled_out &= unverified
    stale_sent = int(messages[(code == _REACHABLE) & stale].sum())
    unmatched = int(messages[~found].sum()) + unmatched_messages
    not_sampled = int(messages[sampled_out].sum())
    other_unverified = int(messages[unverified & ~sampled_out].sum())
    out: dict[str, Any] = {
        "basis": "list sent", "messages": total, "matched": total - unmatched,
        "unmatched": unmatched, "by_status": by_status, "known_errors": known,
        "stale": stale_sent, "unverified": other_unverified + not_sampled,
        "not_sampled": not_sampled,
        "error_ratio": known / total if total else 0.0}
    bound = stale_sent + other_unverified + unmatched
    if interval is not None and not_sampled and total:
        # the sample's interval over the not-sampled messages sent, as the check ran it
        # (the report's interval is estimate_interval's output: its derived ratios,
        # for the whole base, are dropped so they are computed again for this list)
        raw = {k: v for k, v in interval.items()
               if not k.startswith(("error_ratio", "failure_share"))}
        est = estimate_interval({**raw, "extrapolated": not_sampled}, known, total)
        out["error_ratio_estimate"] = est["error_ratio_estimate"] + bound / total
        out["error_ratio_upper"] = min(1.0, est["error_ratio_high"] + bound / total)
        out["bound"] = "sample interval"
    else:
        out["error_ratio_upper"] = (known + bound + not_sampled) / total if total else 0.0
    return out
