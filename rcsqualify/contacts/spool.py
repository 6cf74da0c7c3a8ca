"""Standard input, spooled to a temporary file: the annotated output needs a second
pass over the rows, and a pipe can be read only once.

Where the system lets a process reopen its own descriptors by name (Linux's
``/proc/self/fd``), the spool has no name at all: it is created (mode 0600), unlinked
at once, before a byte of the contacts is written, and read through
``/proc/self/fd/N``. Its data then lives exactly as long as the process holds the
descriptor: no exit path can leave it behind, not a SIGKILL, not a crash in a native
parser (issue #23 item 8: a segfault in Arrow's JSON reader left the contacts in
``$TMPDIR``). Elsewhere it is a named file registered with ``rcsqualify.files``, which
removes it on every exit path Python sees (signals included).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import BinaryIO

from rcsqualify.files import remove_temporaries, temporary_file, untrack_temporary

#: Where a process names its own open files (Linux); reopening one gives a fresh offset.
_OWN_FDS = Path("/proc/self/fd")
#: spool path → its descriptor, for the spools that have no name
_ANONYMOUS: dict[str, int] = {}


def spool_stdin() -> Path:
    """Copy standard input to a temporary file (nameless where possible); its path."""
    return spool_stream(sys.stdin.buffer)


def spool_stream(stream: BinaryIO) -> Path:
    """Copy a stream that can be read once (standard input, a pipe given by name as
    ``<(cat file)`` makes) to a temporary file; its path."""
    fd, name = temporary_file("rcsqualify-stdin-")
    path = name
    if _OWN_FDS.is_dir():
        os.unlink(name)  # nothing written yet: the contacts never have a name on disk
        untrack_temporary(name)
        path = _OWN_FDS / str(fd)
        _ANONYMOUS[str(path)] = fd
    try:
        with open(fd, "wb", closefd=str(path) not in _ANONYMOUS) as out:
            shutil.copyfileobj(stream, out, 1 << 20)
    except BaseException:
        remove_spool(path)  # a half copy never outlives a failed start
        raise
    return path


def remove_spool(path: Path | str) -> None:
    fd = _ANONYMOUS.pop(str(path), None)
    if fd is not None:
        os.close(fd)  # the last reference: the system frees the data
        return
    remove_temporaries([str(path)])
