"""The ARCEP numbering plan, loaded once into sorted numpy arrays.

MAJNUM lists every allocated block (start, end, holder, territory). Blocks of one
length never overlap, so a number is attributed by one ``searchsorted`` over the block
starts of its length: that is what keeps normalization vectorized. The shipped files
are ARCEP open data (Licence Ouverte, "Source : ARCEP"), copied unchanged into
``rcsqualify/data/arcep``; ``rcsqualify plan update`` installs a newer MAJNUM into the
user data directory after validating it, and the loader prefers it when present.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rcsqualify.errors import InputError
from rcsqualify.files import OutputError, atomic_write
from rcsqualify.numbering.plan_files import (
    compiled_path,
    plan_dir,
    shipped,
    write_snapshot,
)

if TYPE_CHECKING:
    import pandas as pd

MAJNUM_HEADER = ["EZABPQM", "Tranche_Debut", "Tranche_Fin", "Mnémo", "Territoire",
                 "Date_Attribution"]

#: ARCEP territory name → E.164 country code of numbers in that territory.
TERRITORY_COUNTRY_CODE: dict[str, str] = {
    "Métropole": "33",
    "National": "33",
    "Guadeloupe, St Martin et St Barthélemy": "590",
    "Guyane": "594",
    "Martinique": "596",
    "La Réunion": "262",
    "La Réunion - Océan indien": "262",
    "Mayotte": "262",
    "Saint Pierre et Miquelon": "508",
}
#: Country codes rcsqualify treats as French (CONTRACT §3).
FRENCH_COUNTRY_CODES = ("33", "590", "594", "596", "262", "508")

#: Lengths of national numbers (with the leading 0) that MAJNUM blocks have and that
#: have an E.164 form. Short numbers (4-6 digits) have none and are never looked up.
BLOCK_LENGTHS = (10, 13, 14)
#: Joins a text column of ``NumberingPlan.block_columns`` (MAJNUM has no NUL byte:
#: ``validate_majnum`` refuses one)
_SEP = "\x00"
#: ``BlockTable.lookup`` uses the direct index from this many values on (building it
#: costs a few milliseconds: not worth it for a few numbers)
_INDEX_FROM = 1 << 14
#: Largest direct index built (entries; 2 bytes each with ARCEP's ~20,000 blocks)
_INDEX_MAX = 1 << 22


@dataclass(frozen=True)
class BlockTable:
    """Blocks of one number length, sorted by start."""

    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    block: np.ndarray  # int32: row index into NumberingPlan.blocks

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Row index into the plan's blocks for each value, -1 where unallocated."""
        if len(self.starts) == 0:
            return np.full(len(values), -1, dtype=np.int32)
        index = self.index if len(values) >= _INDEX_FROM else None
        if index is not None:  # one gather instead of a binary search per value
            step, first, table = index
            pos = values // step - first
            inside = (pos >= 0) & (pos < len(table))
            got = table[np.where(inside, pos, 0)].astype(np.int32)
            got[~inside] = -1
            return got
        pos = np.searchsorted(self.starts, values, side="right") - 1
        safe = np.clip(pos, 0, None)
        hit = (pos >= 0) & (values <= self.ends[safe])
        return np.where(hit, self.block[safe], -1).astype(np.int32)

    @cached_property
    def index(self) -> tuple[int, int, np.ndarray] | None:
        """The blocks as a direct index, or None if it would be large: ``step`` divides
        every block's start and end + 1 (ARCEP allocates by thousands), so every
        ``step`` consecutive numbers from a multiple of it lie in one block or in none,
        and ``table[value // step - first]`` is the block of ``value`` (-1 for none),
        exactly what the binary search over ``starts`` says."""
        step = int(np.gcd.reduce(np.concatenate([self.starts, self.ends + 1])))
        if step <= 0:
            return None
        first = int(self.starts[0]) // step
        size = int(self.ends.max() + 1) // step - first
        if size > _INDEX_MAX:
            return None
        counts = (self.ends + 1) // step - self.starts // step
        at = np.repeat(self.starts // step - first - np.cumsum(counts) + counts, counts)
        at += np.arange(len(at))
        dtype = np.int16 if len(self.block) and int(self.block.max()) < 1 << 15 else np.int32
        table = np.full(size, -1, dtype=dtype)
        table[at] = np.repeat(self.block, counts)
        return step, first, table

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("index", None)  # built on first use, never pickled
        return state


@dataclass(frozen=True)
class NumberingPlan:
    """The allocated blocks plus the operator tables, ready for vectorized look-ups.

    Only numpy arrays and plain Python values: the compiled plan unpickles without
    pandas (~0.2 s of start-up a check does not need). ``blocks``, the table as a
    DataFrame for the ``plan`` command, the benchmarks and the tests, is built on
    first use.
    """

    #: block columns, in MAJNUM order: prefix, start, end, length, operator, territory,
    #: date, country_code (int64 arrays for the numbers; the text columns as one str
    #: each, values joined by NUL: the compiled plan unpickles 5 strings, not ~100,000,
    #: ~7 ms of every check; ``blocks`` splits them)
    block_columns: dict[str, Any]
    tables: dict[int, BlockTable]
    routing_prefixes: dict[str, str]  # MAJPORTA prefix → ARCEP operator code
    mcc_mnc: dict[str, str]  # MAJMNC → ARCEP operator code
    operator_names: dict[str, str]  # ARCEP code → name
    snapshot: date
    source: str  # "shipped" or the path of an installed plan
    operator_codes: list[str] = field(default_factory=list)  # category order
    block_country_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    block_territory: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    territories: list[str] = field(default_factory=list)  # names, by block_territory code
    block_operator: np.ndarray = field(default_factory=lambda: np.zeros(0, object))  # holder

    @cached_property
    def blocks(self) -> pd.DataFrame:
        """The block table as a DataFrame (imports pandas: not on the check path)."""
        import pandas as pd

        return pd.DataFrame({k: v.split(_SEP) if isinstance(v, str) else v
                             for k, v in self.block_columns.items()})

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("blocks", None)  # the compiled plan never holds a DataFrame
        return state

    def lookup(self, national: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Block row for each national number (int64 value, digit length), -1 if none."""
        out = np.full(len(national), -1, dtype=np.int32)
        for length, table in self.tables.items():
            mask = lengths == length
            hits = int(np.count_nonzero(mask))
            if hits > len(mask) // 2:  # most of them: look all up, keep these
                out = np.where(mask, table.lookup(national), out)
            elif hits:
                out[mask] = table.lookup(national[mask])
        return out

    def operator_name(self, code: str) -> str:
        return self.operator_names.get(code, code)


def _read_arcep_csv(data: bytes) -> dict[str, list[str]]:
    """ARCEP CSV → columns of strings (the csv module: faster than pandas at this size)."""
    rows = list(csv.reader(io.StringIO(data.decode("cp1252")), delimiter=";"))
    header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    return {name: [r[i] for r in body] for i, name in enumerate(header)}


def validate_majnum(data: bytes) -> dict[str, list[str]]:
    """Parse and sanity-check a MAJNUM file; raise InputError naming what is wrong."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError("MAJNUM file is neither cp1252 nor UTF-8 text") from exc
    if "\x00" in text:
        raise InputError("MAJNUM file is binary, not ARCEP's ';'-separated CSV")
    import pandas as pd  # plan update only

    try:
        df = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"MAJNUM file is not a readable CSV ({exc})") from exc
    if list(df.columns) != MAJNUM_HEADER:
        raise InputError(
            "MAJNUM header should be " + ";".join(MAJNUM_HEADER)
            + f", found {';'.join(map(str, df.columns))}"
        )
    if len(df) < 1000:
        raise InputError(f"MAJNUM has {len(df)} rows; ARCEP's full plan has about 20,000")
    start, end = df["Tranche_Debut"], df["Tranche_Fin"]
    bad = ~(start.str.fullmatch(r"0?\d+") & end.str.fullmatch(r"0?\d+")) | (
        start.str.len() != end.str.len()
    )
    if bad.any():
        raise InputError(f"MAJNUM has {int(bad.sum())} rows with malformed block bounds, "
                         f"first at data row {int(bad.to_numpy().argmax()) + 1}")
    if (start.astype("int64") > end.astype("int64")).any():
        raise InputError("MAJNUM has blocks whose start is after their end")
    unknown = set(df["Territoire"]) - set(TERRITORY_COUNTRY_CODE)
    if unknown:
        raise InputError(f"MAJNUM names unknown territories: {sorted(unknown)[:3]}")
    dates = pd.to_datetime(df["Date_Attribution"], format="%d/%m/%Y", errors="coerce")
    if dates.isna().any():
        raise InputError("MAJNUM has dates not in dd/mm/yyyy form")
    return {str(c): df[c].tolist() for c in df.columns}


def _build(majnum: dict[str, list[str]], source: str) -> NumberingPlan:
    starts_s = majnum["Tranche_Debut"]
    keep = [i for i, v in enumerate(starts_s) if len(v) in BLOCK_LENGTHS]
    col = {k: [v[i] for i in keep] for k, v in majnum.items()}
    territory = col["Territoire"]
    country_code = [TERRITORY_COUNTRY_CODE.get(t, "33") for t in territory]
    starts = np.array(col["Tranche_Debut"], dtype=np.int64)
    ends = np.array(col["Tranche_Fin"], dtype=np.int64)
    lengths = np.array([len(v) for v in col["Tranche_Debut"]], dtype=np.int64)
    block_columns: dict[str, Any] = {
        "prefix": _SEP.join(col["EZABPQM"]), "start": starts, "end": ends,
        "length": lengths, "operator": _SEP.join(col["Mnémo"]),
        "territory": _SEP.join(territory), "date": _SEP.join(col["Date_Attribution"]),
        "country_code": _SEP.join(country_code),
    }
    tables: dict[int, BlockTable] = {}
    for length in BLOCK_LENGTHS:
        idx = np.flatnonzero(lengths == length)
        idx = idx[np.argsort(starts[idx], kind="stable")]
        tables[length] = BlockTable(starts=starts[idx], ends=ends[idx],
                                    block=idx.astype(np.int32))
    snapshot = max(
        (date(int(d[6:10]), int(d[3:5]), int(d[0:2]))
         for d in majnum["Date_Attribution"] if len(d) == 10),
        default=date(1970, 1, 1),
    )
    territory_index: dict[str, int] = {}  # codes in order of first appearance
    territory_codes = np.array([territory_index.setdefault(t, len(territory_index))
                                for t in territory], dtype=np.int32)
    porta = _read_arcep_csv(shipped("MAJPORTA.csv"))
    mnc = _read_arcep_csv(shipped("MAJMNC.csv"))
    ident = _read_arcep_csv(shipped("identifiants_CE.csv"))
    names = dict(zip(ident["CODE_OPERATEUR"], ident["IDENTITE_OPERATEUR"], strict=False))
    names.update(zip(mnc["Mnémo"], mnc["Nom"], strict=False))
    return NumberingPlan(
        block_columns=block_columns,
        tables=tables,
        routing_prefixes=dict(zip(porta["EZABPQM"], porta["Mnémo"], strict=False)),
        mcc_mnc=dict(zip(mnc["MCC-MNC"], mnc["Mnémo"], strict=False)),
        operator_names=names,
        snapshot=snapshot,
        source=source,
        operator_codes=sorted(set(col["Mnémo"]) | set(porta["Mnémo"]) | set(mnc["Mnémo"])),
        block_country_codes=np.array(country_code, dtype=np.int64),
        block_territory=territory_codes,
        territories=list(territory_index),
        block_operator=np.array(col["Mnémo"], dtype=object),
    )


def _build_cached(data: bytes, parse: Callable[[bytes], dict[str, list[str]]], source: str
                  ) -> NumberingPlan:
    """Build the plan, or load it from a pickle compiled earlier from the same bytes.

    Parsing ~20,000 CSV rows costs ~90 ms; the compiled form loads in a few ms, which
    matters for a tool that is also run on small files many times a day. The pickle is
    our own file, keyed by the SHA-256 of the source, so a changed plan is rebuilt.
    ``parse`` (which validates an installed plan) runs only when compiling: a pickle
    exists only for bytes that were parsed and validated before.
    """
    path = compiled_path(data)
    try:
        with path.open("rb") as fh:
            plan = pickle.load(fh)
        if isinstance(plan, NumberingPlan) and plan.source == source:
            write_snapshot(path, plan.snapshot)  # a cache compiled before the date file
            return plan
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    plan = _build(parse(data), source)
    try:
        with atomic_write(path, mode=0o644) as tmp, tmp.open("wb") as fh:
            pickle.dump(plan, fh, protocol=pickle.HIGHEST_PROTOCOL)
    except (OSError, OutputError):
        return plan  # a read-only or full cache directory only costs speed
    write_snapshot(path, plan.snapshot)
    return plan


@lru_cache(maxsize=1)
def load_plan() -> NumberingPlan:
    """The numbering plan in use: an installed newer MAJNUM if valid, else the shipped one."""
    installed = plan_dir() / "MAJNUM.csv"
    if installed.is_file():
        try:
            return _build_cached(installed.read_bytes(), validate_majnum, str(installed))
        except (InputError, OSError):
            pass  # a damaged installed plan never stops a run: fall back to the shipped one
    return _build_cached(shipped("MAJNUM.csv"), _read_arcep_csv, "shipped")


def install_plan(path: Path) -> NumberingPlan:
    """Validate ``path`` as MAJNUM and install it atomically; the previous plan stays on failure."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    plan = _build(validate_majnum(data), str(plan_dir() / "MAJNUM.csv"))
    with atomic_write(plan_dir() / "MAJNUM.csv", mode=0o644) as tmp:
        tmp.write_bytes(data)
    # the receipt: what ``plan reset`` may delete is exactly the file written here
    with atomic_write(plan_dir() / INSTALL_RECEIPT, mode=0o644) as tmp:
        tmp.write_text(hashlib.sha256(data).hexdigest())
    load_plan.cache_clear()
    return plan


INSTALL_RECEIPT = ".rcsqualify-installed-majnum.sha256"


def remove_installed_plan() -> bool:
    """Go back to the shipped plan. True if an installed plan was removed.

    Only the file ``plan update`` wrote (``MAJNUM.csv``) is deleted, then the directory
    if that leaves it empty: ``RCSQUALIFY_PLAN_DIR`` may point at a directory that holds
    the user's other files (CONTRACT §11: maintenance commands delete only what they
    created)."""
    target = plan_dir()
    installed, receipt = target / "MAJNUM.csv", target / INSTALL_RECEIPT
    if not installed.is_file():
        return False
    try:
        ours = receipt.read_text().strip() == hashlib.sha256(
            installed.read_bytes()).hexdigest()
    except OSError:
        ours = False
    if not ours:
        raise InputError(f"{installed} was not installed by 'rcsqualify plan update' (or was "
                         "changed since): left in place; remove it yourself to go back to "
                         "the shipped plan")
    try:
        installed.unlink()
        receipt.unlink()
    except OSError as exc:
        raise InputError(f"cannot remove the installed plan {installed}: "
                         f"{exc.strerror}") from exc
    with contextlib.suppress(OSError):
        target.rmdir()  # only succeeds when nothing else is in it
    load_plan.cache_clear()
    return True
