"""Exit codes (CONTRACT §7) and the project's own exceptions.

Only the CLI turns these into messages and exit codes; everything below it raises them
with a one-line message that names the problem and, where there is one, the fix.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    PASS = 0  # error_ratio <= threshold
    FAIL = 1  # error_ratio > threshold
    USAGE = 2  # usage or input error: nothing was checked
    INCOMPLETE = 3  # some remote checks could not be done, ratio not already over
    LOCKED = 4  # refresh: another run holds the lock (cron)


class RcsQualifyError(Exception):
    """Base of every error the CLI reports as one line."""

    exit_code: ExitCode = ExitCode.USAGE


class InputError(RcsQualifyError):
    """The input file or an option is unusable; nothing was checked."""


class ConfigurationError(RcsQualifyError):
    """A provider is misconfigured (missing credentials, unknown agent...)."""


class ServiceError(RcsQualifyError):
    """A remote service failed in a way that stops the whole run."""


class Locked(RcsQualifyError):
    """``refresh``: another run holds the lock of the list directory (exit 4)."""

    exit_code = ExitCode.LOCKED
