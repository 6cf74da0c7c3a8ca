"""Reading contact files as people keep them: formats, encodings, delimiters, the phone column.

Every cell is read as text, exactly as the file holds it (``cells.py``). CSV, NDJSON and
Parquet stream in Arrow record batches, so memory stays bounded whatever the file size;
XLSX and XLS sheets are read whole (a sheet holds at most 1,048,576 rows). Standard
input is spooled to a temporary file first, because the annotated output needs a
second pass over the rows.

Where each concern lives:
- ``sniff.py``: format, text encoding, CSV delimiter;
- ``reader.py``: the interface every format implements (``Reader``) and ``InputInfo``;
  one module per format: ``delimited.py`` (CSV/TSV/TXT), ``sheets.py`` (XLSX, XLS),
  ``parquet_file.py``, ``ndjson.py``; ``spool.py`` for standard input;
- ``cells.py``: values as text (NDJSON literals, whole floats, sheet cells);
- ``columns.py``: unique column names, header detection, the phone column;
- ``source.py``: ``ContactSource``, the front object the pipeline uses.

Messages never quote a cell (CONTRACT §11): they name the file, the line and the column.
"""

from __future__ import annotations

from rcsqualify.contacts.columns import (
    VERDICT_COLUMNS,
    header_key,
    header_priority,
    reads_as_label,
    unique_names,
)
from rcsqualify.contacts.reader import BATCH_BYTES, BATCH_ROWS, InputInfo
from rcsqualify.contacts.sniff import (
    COMMON_ENCODINGS,
    detect_encoding,
    sniff_delimiter,
)
from rcsqualify.contacts.source import ContactSource

__all__ = [
    "BATCH_BYTES", "BATCH_ROWS", "COMMON_ENCODINGS", "VERDICT_COLUMNS",
    "ContactSource", "InputInfo", "detect_encoding", "header_key", "header_priority",
    "reads_as_label", "sniff_delimiter", "unique_names",
]
