"""Exit codes (CONTRACT §7) and the project's own exceptions.

Only the CLI turns these into messages and exit codes; everything below it raises them
with a one-line message that names the problem and, where there is one, the fix.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    PASS = 0  # the gate passes (CONTRACT §2 Gate)
    FAIL = 1  # the gate fails
    USAGE = 2  # usage or input error: nothing was checked
    #: undecided: the bounds straddle the threshold, or checks that could not be done
    #: leave the decision open (a degraded cache included)
    UNDECIDED = 3
    INCOMPLETE = 3  # the same code: an incomplete run that its bounds do not decide
    LOCKED = 4  # another run holds a lock (refresh, a list directory, a store import)


class RcsQualifyError(Exception):
    """Base of every error the CLI reports as one line."""

    exit_code: ExitCode = ExitCode.USAGE


class InputError(RcsQualifyError):
    """The input file or an option is unusable; nothing was checked."""


class ConfigurationError(RcsQualifyError):
    """A provider is misconfigured (missing credentials, unknown agent...)."""


class Locked(RcsQualifyError):
    """``refresh``: another run holds the lock of the list directory (exit 4)."""

    exit_code = ExitCode.LOCKED


def unexpected_line(exc: BaseException) -> str:
    """What an error that is none of ours says (the command line's last resort, and the
    Python API's ``RcsQualifyError`` around it): its type, and an ``OSError``'s reason
    and file name; never ``str(exc)`` of an arbitrary exception, which may quote a cell
    (CONTRACT §11)."""
    detail = (f": {exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
              if isinstance(exc, OSError) and exc.strerror else "")
    return f"unexpected {type(exc).__name__}{detail}"
