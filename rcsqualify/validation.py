"""Option checks that need no file, made before anything is read or asked (exit 2):
URLs, outputs that would overwrite an input or land in the cache or quota directory,
the choices that contradict each other."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from rcsqualify.ci import (
    STDOUT,
    check_report_paths,
    report_paths,
)
from rcsqualify.errors import InputError
from rcsqualify.files import refuse_overwrite
from rcsqualify.numbering.plan import load_plan
from rcsqualify.report.writers import (
    CSV_DIALECTS,
    output_format,
)
from rcsqualify.settings import Settings


def refuse_overwrites(s: Settings) -> None:
    """CONTRACT §11: no output may be a file the run reads, nor another output (exit 2
    before anything is read or written). The split lists count even when not written
    this time (.xlsx), because a run may remove its own stale ones."""
    from rcsqualify.report.split import list_paths, refuse_foreign_lists

    inputs: list[tuple[str, str | Path | None]] = [
        ("the input", None if s.input == "-" else s.input),
        *(("--portability", p) for p in s.portability),
        ("--portability-db", s.portability_db), ("--history", s.history),
        ("--bot-key-file", s.bot_key_file), ("--rbm-credentials", s.rbm_credentials),
        ("--cache-key-file", s.cache_key_file), ("--config", s.config),
        ("--mnp-profile", s.mnp_profile if (s.mnp_profile or "").endswith(".toml") else None),
        *((f"the file of {name}", ref[5:]) for name, ref in s.credential_refs.items()
          if ref.startswith("file:"))]
    outputs: list[tuple[str, str | Path | None]] = [
        ("--output", None if s.output == STDOUT else s.output), *report_paths(s)]
    if s.split_dir:
        outputs += list_paths(s.split_dir)
    refuse_overwrite(inputs, outputs, [("the cache directory", cache_directory(s)),
                                       ("the quota directory", quota_directory(s))])
    if s.split_dir:
        refuse_foreign_lists(s.split_dir, xlsx=s.split_xlsx, other_route=bool(s.other_route))


def quota_directory(s: Settings) -> Path | None:
    """The directory of the shared quota files a remote run reads and writes (whatever
    the quota store: the local schedule is always kept), so no output may land there."""
    if not s.remote:
        return None
    from rcsqualify.remote.pacing import default_quota_dir

    return default_quota_dir()


def cache_directory(s: Settings) -> Path | None:
    """The directory cache this run would open (None: Redis, or no cache): its secret
    and databases are files the run reads, so no output may land inside it."""
    if not s.remote or s.no_cache:
        return None  # an offline run opens no cache (and imports none of it)
    from rcsqualify.remote.cache import default_cache_dir
    from rcsqualify.remote.redis_conn import is_redis_url

    if is_redis_url(s.cache_url):
        return None
    if s.cache_url:
        return Path(s.cache_url.removeprefix("file://"))
    return s.cache_dir or default_cache_dir()


def check_run_log(option: str, path: str | os.PathLike[str] | None) -> None:
    """A run log (``--history``, ``refresh --log-file``) is read for the HTML trend and
    the alert's previous run: a missing one is a first run, but one that exists and is
    no regular file was skipped without a word (a directory: no trend, alerts against
    the state file only), and reading a pipe waits for a writer forever. Exit 2 naming
    the option instead, as a report path that is a directory (``ci.check_report_paths``)."""
    if path is None:
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return  # the first run: nothing to read yet
    except (OSError, ValueError) as exc:  # a parent that is a file, no permission, NUL
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "bad path"
        raise InputError(f"{option} {path}: cannot be read ({reason})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{option} {path}: is a directory, give the run log's file")
    if not stat.S_ISREG(mode):
        raise InputError(f"{option} {path}: not a regular file (a pipe or a device); "
                         "give the run log's file (it is read twice: trend and alerts)")
    if not os.access(path, os.R_OK):
        raise InputError(f"{option} {path}: not readable")


def check_network_options(s: Settings) -> None:
    """URLs that are http(s) addresses (exit 2); the numbers that pace, wait or retry
    were bounded when their option group was built (``Opt.finite``, settings.py)."""
    from rcsqualify.providers import service_urls

    for name, url in service_urls(s):
        check_url(name, url)


def check_url(name: str, url: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname  # parsed lazily: 'http://[::1/x' raises only here
    except ValueError:
        raise InputError(f"{name} is not a valid URL (unbalanced brackets or a bad host; "
                         "not shown: it may hold a password)") from None
    if url != url.strip() or parts.scheme not in ("http", "https") or not host:
        from rcsqualify.masking import mask_url

        # without a host mask_url has nothing to name; its query and fragment (an API key
        # in '?apikey=…') are never shown either way
        bare = re.split(r"[?#]", url, maxsplit=1)[0]
        shown = mask_url(url) if host else repr(bare[:60]) + (
            " (query not shown)" if bare != url else "")
        raise InputError(f"{name} must be an http:// or https:// URL with a host, got "
                         f"{shown}")


def dialect_choice(s: Settings) -> str | None:
    """``--excel`` / ``--csv-dialect``: excel-fr, standard, or None (from the input)."""
    if s.csv_dialect is not None and s.csv_dialect not in CSV_DIALECTS:
        raise InputError(f"--csv-dialect must be one of {', '.join(CSV_DIALECTS)}, got "
                         f"{s.csv_dialect!r}")
    if s.excel and s.csv_dialect == "standard":
        raise InputError("--excel and --csv-dialect standard contradict each other")
    return "excel-fr" if s.excel else s.csv_dialect


def validate_settings(s: Settings) -> None:
    """Option checks that need no file and more than one option (or the numbering
    plan): fail before anything is read (exit 2). A check of one option's value alone
    (bounds, shares, choices) is its declaration's, made when its group is built
    (``settings.Opt``), whoever builds it."""
    check_report_paths(s)
    check_run_log("--history", s.history)
    refuse_overwrites(s)
    if s.output:
        output_format(s.output)
    dialect_choice(s)
    check_network_options(s)
    if s.sample is not None and s.sample < 1:
        raise InputError("--sample must be a positive number of numbers")
    if s.sample is not None and s.capability == "none":
        raise InputError("--sample needs a capability provider (--capability …)")
    from rcsqualify.providers import PER_NUMBER

    if s.sample_auto and s.capability not in PER_NUMBER:
        raise InputError("--sample auto resolves one number at a time: it needs "
                         f"--capability {' or '.join(PER_NUMBER)}")
    plan_ops = set(load_plan().operator_codes)
    if s.operator not in plan_ops:
        raise InputError(f"--operator {s.operator!r} is not an ARCEP operator code "
                         "(Orange is FRTE)")
