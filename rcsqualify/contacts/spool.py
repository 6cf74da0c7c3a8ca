"""Standard input, spooled to a temporary file: the annotated output needs a second
pass over the rows, and a pipe can be read only once. The file is mode 0600 and
registered with ``rcsqualify.files``, which removes it on every exit path (signals
included)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from rcsqualify.files import remove_temporaries, temporary_file


def spool_stdin() -> Path:
    """Copy standard input to a registered temporary file; its path."""
    fd, name = temporary_file("rcsqualify-stdin-")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    except BaseException:
        remove_spool(name)  # a half copy never outlives a failed start
        raise
    return name


def remove_spool(path: Path | str) -> None:
    remove_temporaries([str(path)])
