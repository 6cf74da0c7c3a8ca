"""Sniffing a contact file: its format, its text encoding and its CSV delimiter.

Choices where the contract is silent (also in the documentation, docs/guide/reading-files.md):
- Format: the extension for XLSX, Parquet and NDJSON; else the first bytes (an OLE2
  header is an ``.xls`` workbook, ``PK`` a zip, i.e. XLSX, ``PAR1`` Parquet, ``{``
  NDJSON); everything else is delimited text.
- Encoding: a BOM decides (UTF-8, UTF-16); else the whole file is checked as UTF-8 and
  falls back to cp1252 (what Excel writes on French Windows). Bytes cp1252 does not
  define make the encoding "unknown": exit 2, ``--encoding`` to force one.
- Delimiter: the candidate among ``; , TAB |`` that splits the first lines into the
  same number (> 1) of fields; a single-column file is fine.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

from rcsqualify.errors import InputError

FORMATS = ("csv", "xlsx", "xls", "parquet", "ndjson")
_DELIMITERS = [";", ",", "\t", "|"]
#: Shown when ``--encoding`` names no text encoding.
COMMON_ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "iso-8859-15", "utf-16",
                    "mac-roman", "cp850")
#: The bytes cp1252 does not define (its decoder raises on them, and only on them).
CP1252_UNDEFINED = tuple(bytes([b]) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))


def sniff_format(path: Path, head: bytes) -> str:
    """The format of a file from its extension, else its first bytes."""
    ext = path.suffix.lower()
    if ext in (".xlsx", ".xlsm"):
        return "xlsx"
    if ext in (".parquet", ".pq"):
        return "parquet"
    if ext in (".ndjson", ".jsonl"):
        return "ndjson"
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: an Excel 97-2003 workbook
        return "xls"  # (an ".xls" that is really XLSX or text is sniffed below)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.lstrip().startswith(b"{"):
        return "ndjson"
    return "csv"


def check_encoding(name: str) -> None:
    """Exit 2 for a name Python does not know or that is no text encoding (rot13)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise InputError(f"--encoding {name!r} is not a known text encoding; common ones: "
                         + ", ".join(COMMON_ENCODINGS))


def detect_encoding(path: Path) -> str:
    """BOM, else UTF-8 if the whole file decodes, else cp1252; InputError if neither."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8 = True
        binary = False
        while chunk := fh.read(1 << 20):
            if b"\x00" in chunk:
                binary = True
                break
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
                    break
    if binary:
        raise InputError(f"{path.name} looks binary (NUL bytes), not a CSV: export it as "
                         "CSV, XLSX, Parquet or NDJSON")
    if utf8:
        return "utf-8"
    # cp1252 is a single-byte code that leaves five bytes undefined: looking for them
    # (memchr) says what decoding the whole file would, at disk speed rather than the
    # charmap codec's (seconds on a national base).
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            if any(byte in chunk for byte in CP1252_UNDEFINED):
                raise InputError(f"{path.name}: unknown text encoding (neither UTF-8 nor "
                                 "cp1252); give it with --encoding (e.g. --encoding latin-1)")
    return "cp1252"


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the sample's lines into a constant number (>1) of fields.
    The width is the most common one, not the first line's: a title line above the
    header (``Export clients 2026``) or a ragged row does not hide the delimiter."""
    lines = sample.splitlines()
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of the sample may be cut
    lines = [ln for ln in lines[:50] if ln.strip()]
    best, best_score = ",", (0, 0)
    for delim in _DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delim)]
        except csv.Error:
            continue
        if not counts:
            continue
        width = max(set(counts), key=lambda c: (counts.count(c), -counts.index(c)))
        if width < 2:
            continue
        consistent = counts.count(width)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delim, score
    return best
