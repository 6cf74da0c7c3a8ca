"""Maintenance commands: the ARCEP plan, the portability store, profiles, the cache."""

# annotations evaluated at import: see cli/base.py

import contextlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcsqualify.cli.base import (
    CacheDir,
    CacheKeyFile,
    CacheUrl,
    ConfigFile,
    Debug,
    MaxUnmapped,
    ShownProfile,
    WaitLock,
    app,
    fail,
    reports_errors,
    stderr_console,
    stdout_console,
)
from rcsqualify.cli.options import cli_default
from rcsqualify.errors import ExitCode
from rcsqualify.l10n import noun, number
from rcsqualify.textsafe import safe_line, safe_text

if TYPE_CHECKING:
    from rich.table import Table

    from rcsqualify.remote.cachekey import Need

plan_app = typer.Typer(help="The embedded ARCEP numbering plan.", invoke_without_command=True)
app.add_typer(plan_app, name="plan")
portability_app = typer.Typer(help="Local portability store built from extracts.",
                              no_args_is_help=True)
app.add_typer(portability_app, name="portability")


def _count_table(title: str, name: str, unit: str,
                 counts: Iterable[tuple[object, object]]) -> "Table":
    """Two columns: each name, and how many (``unit``) it has, right-aligned."""
    from rich.table import Table  # not imported by a check (~5 ms)

    t = Table(title=title)
    t.add_column(name)
    t.add_column(unit, justify="right")
    for key, count in counts:
        t.add_row(safe_text(key), number(count, "en") if isinstance(count, int) else
                  safe_text(count))
    return t


@plan_app.callback()
@reports_errors
def plan_info(ctx: typer.Context) -> None:
    """Show the plan in use: snapshot date, blocks per territory and operator."""
    if ctx.invoked_subcommand is not None:
        return
    from rcsqualify.numbering.plan import load_plan

    plan = load_plan()
    console = stdout_console()
    console.print(f"ARCEP numbering plan of {plan.snapshot.isoformat()} "
                  f"({'shipped with rcsqualify' if plan.source == 'shipped' else plan.source}); "
                  f"{noun(len(plan.blocks), 'block')}. Source : ARCEP, Licence Ouverte.")
    console.print(_count_table("Blocks per territory", "territory", "blocks",
                               plan.blocks["territory"].value_counts().items()))
    from rich.table import Table

    o = Table(title="Blocks per operator (top 20)")
    o.add_column("code")
    o.add_column("operator")
    o.add_column("blocks", justify="right")
    for code, count in plan.blocks["operator"].value_counts().head(20).items():
        o.add_row(str(code), plan.operator_name(str(code)), number(int(count), "en"))
    console.print(o)


@plan_app.command("update")
@reports_errors
def plan_update(
    majnum: Annotated[Path, typer.Argument(help="MAJNUM.csv downloaded from ARCEP.")],
) -> None:
    """Validate and install a newer MAJNUM; the current plan stays on any failure."""
    from rcsqualify.numbering.plan import install_plan

    plan = install_plan(majnum)
    typer.echo(f"installed ARCEP plan of {plan.snapshot.isoformat()} "
               f"({noun(len(plan.blocks), 'block')}) at {plan.source}")


@plan_app.command("reset")
@reports_errors
def plan_reset(debug: Debug = False) -> None:
    """Remove an installed plan: go back to the one shipped with rcsqualify."""
    from rcsqualify.numbering.plan import remove_installed_plan

    typer.echo("back to the shipped ARCEP plan" if remove_installed_plan()
               else "no installed plan: the shipped one is in use")


StoreMaxAge = Annotated[int, typer.Option(
    min=0, help="Say the store is stale when its newest port date is older than this many "
    "days.")]


@portability_app.command("import")
@reports_errors
def portability_import(
    extracts: Annotated[list[Path], typer.Argument(
        help="Extracts (CSV, XLSX, XLS, Parquet), in order.")],
    into: Annotated[Path, typer.Option(
        "--into", help="Store file to build, or to update with --delta (Parquet).")],
    delta: Annotated[bool, typer.Option(
        "--delta", help="Apply the extracts as daily deltas on top of the store: per number "
        "the newest port date wins.")] = False,
    number_column: Annotated[str | None, typer.Option(help="Number column.")] = None,
    operator_column: Annotated[str | None, typer.Option(help="Operator column.")] = None,
    max_unmapped: MaxUnmapped = cli_default("portability_max_unmapped"),
    max_age: StoreMaxAge = cli_default("portability_max_age"),
    wait_lock: WaitLock = cli_default("wait_lock"),
    debug: Debug = False,
) -> None:
    """Build a reusable, indexed store from extracts, or apply daily deltas to one (atomic:
    the old store stays on failure). One import at a time per store (a lock beside it:
    exit 4 when another holds it), so two deltas never overwrite each other."""
    from rcsqualify.files import hold_lock, refuse_overwrite

    # the store given with --into is updated in place (not an input); an extract is
    refuse_overwrite([("extract", e) for e in extracts], [("--into", into)])
    lock = into.with_name(f".{into.name}-import.lock")
    try:
        into.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from rcsqualify.files import cannot_write

        raise cannot_write(into, exc) from exc
    with hold_lock(lock, wait_lock, f"another import into {into} is running (lock "
                   f"{lock}); this one did nothing (--wait-lock SECONDS to wait for it)"):
        _import_into(extracts, into, delta, number_column, operator_column, max_unmapped,
                     max_age)


def _import_into(extracts: list[Path], into: Path, delta: bool, number_column: str | None,
                 operator_column: str | None, max_unmapped: float, max_age: int) -> None:
    import time

    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.operators.port_dates import describe_dates
    from rcsqualify.operators.portability_store import import_extracts

    if into.exists() and not delta:
        from rcsqualify.errors import InputError
        from rcsqualify.operators.portability_store import store_info

        try:  # --into replaces a store, never another file (a contact base, say)
            store_info(into)
        except InputError:
            raise InputError(f"{into} exists and is not a portability store: refusing to "
                             "overwrite it; choose another --into or remove it") from None
    t = time.perf_counter()
    meta = import_extracts(extracts, into, load_plan(), delta=delta,
                           number_column=number_column, operator_column=operator_column,
                           max_unmapped=max_unmapped)
    applied = meta["applied"]
    console = stderr_console()

    def total(key: str) -> int:
        return sum(int(s.get(key, 0)) for s in applied)

    what = (f"applied {noun(len(applied), 'delta')} ({noun(total('rows'), 'row')}) to "
            f"{into}: {noun(meta['changed'], 'number')} changed operator, "
            f"{noun(meta['rows'], 'number')} in the store"
            if delta else f"imported {noun(total('rows'), 'extract row')} into {into}: "
            f"{noun(meta['rows'], 'number')}, {noun(meta['conflicts'], 'conflict')}")
    prefixes = noun(total("fixed_line_prefixes"), "fixed-line prefix", "fixed-line prefixes")
    console.print(f"{what}; {noun(total('unmapped'), 'unmapped operator value')}, "
                  f"{prefixes} on mobiles (not used), "
                  f"{noun(total('invalid_numbers'), 'invalid number')}, "
                  f"{noun(total('unparsed_dates'), 'unparsed date')} (rows kept with the "
                  "file's date) "
                  f"({time.perf_counter() - t:.1f} s)", markup=False, highlight=False)
    console.print(describe_dates(meta, max_age), markup=False, highlight=False)
    if meta["unmapped_examples"]:
        console.print("unmapped operator values, e.g.: " + ", ".join(
            meta["unmapped_examples"]), markup=False, highlight=False)


@portability_app.command("info")
@reports_errors
def portability_info(
    store: Annotated[Path, typer.Argument(help="Store built by 'portability import'.")],
    max_age: StoreMaxAge = cli_default("portability_max_age"),
    debug: Debug = False,
) -> None:
    """Row count, port date range and age, operators, source files and deltas of a store."""
    from rcsqualify.operators.port_dates import describe_dates
    from rcsqualify.operators.portability_store import store_info

    if not store.exists():
        raise fail(f"{store}: no such store", int(ExitCode.USAGE))
    info = store_info(store)
    console = stdout_console()
    updated = (f", last delta {info['updated_at']} ({noun(info['deltas'], 'delta')})"
               if info.get("deltas") else "")
    console.print(f"{safe_line(store)}: {noun(info['rows'], 'number')} from "
                  f"{noun(info['input_rows'], 'extract row')}, "
                  f"imported {info['imported_at']}{updated}; "
                  f"{noun(info['conflicts'], 'conflict')}, "
                  f"{noun(info['unmapped'], 'unmapped operator value')}", markup=False)
    console.print(describe_dates(info, max_age), markup=False)
    console.print(_count_table("Numbers per operator", "operator", "numbers",
                               info["operators"].items()))
    sources = info["sources"]
    if len(sources) > 20:
        console.print(f"… {noun(len(sources) - 20, 'earlier source')}", markup=False)
    for src in sources[-20:]:
        # the store records what it was given (file and column names): outside text
        console.print(safe_line(
            f"{src.get('kind', 'extract')}: {src.get('path')} "
            f"({noun(int(src.get('rows') or 0), 'row')}, "
            f"newest port date {src.get('newest_date') or 'none'}; number column "
            f"{src.get('number_column')!r}, operator column {src.get('operator_column')!r}, "
            f"date column {src.get('date_column')!r})"), markup=False)




config_app = typer.Typer(help="Profiles: named sets of check options in a TOML file.",
                         no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
@reports_errors
def config_show(
    ctx: typer.Context,
    config: ConfigFile = None,
    profile: ShownProfile = None,
    changed: Annotated[bool, typer.Option(
        "--changed", help="Only the settings that differ from the defaults (and the "
        "credentials that are set), with where each came from.")] = False,
    debug: Debug = False,
) -> None:
    """The settings 'check' would use, secrets masked, and where each comes from: the
    profile, an environment variable, or the default."""
    from rcsqualify.config import apply_profile, config_file, default_config_path
    from rcsqualify.config import effective_settings as settings_rows

    root = ctx.find_root()
    check_command = root.command.commands["check"]  # type: ignore[attr-defined]
    args = ["-", *(["--config", str(config)] if config else []),
            *(["--profile", profile] if profile else [])]
    # not resilient: a value check refuses (RCSQUALIFY_RATE=abc, a profile's rate = nan)
    # is refused here with check's message, never shown as if check would use it
    check_ctx = check_command.make_context("check", args, parent=root)
    values = apply_profile(check_ctx, dict(check_ctx.params))
    from rcsqualify.cli.check import check_settings, raise_naming_the_profile
    from rcsqualify.errors import RcsQualifyError

    try:
        check_settings(check_ctx, values)  # the option groups' own checks
    except RcsQualifyError as exc:
        raise_naming_the_profile(check_ctx, exc)  # as check words it
        raise
    path = config_file(config)
    console = stdout_console(soft_wrap=True)
    console.print(safe_line(f"config file: {path}" if path else
                            f"config file: none (looked for {default_config_path()})"),
                  markup=False)
    console.print(safe_line(f"profile: {profile or 'none'}"), markup=False)
    from rich.table import Table

    t = Table(title="Settings of 'rcsqualify check' that differ from the defaults" if changed
              else "Effective settings of 'rcsqualify check'", title_justify="left")
    for col in ("setting", "value", "from"):
        t.add_column(col, overflow="fold")
    for key, value, where in settings_rows(check_ctx, values, changed):
        t.add_row(key, value, where, style="dim" if where == "default" else "")
    console.print(t)


cache_app = typer.Typer(help="The look-up cache (keyed hashes, no number in clear).",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@contextlib.contextmanager
def _opened_cache(cache_dir: Path | None, cache_url: str | None = None,
                  key_file: Path | None = None, need: "Need" = "inspect") -> Iterator[Any]:
    """The cache a maintenance command works on: no key is made; a key given that is
    not the cache's is refused (exit 2); what every run must be told is said."""
    from rcsqualify.remote.cache import LookupCache
    from rcsqualify.wiring import cache_key_options

    cache = LookupCache(cache_dir, url=cache_url, key=cache_key_options(key_file),
                        need=need)
    try:
        for note in cache.notes:
            stderr_console().print(f"warning: {note}", markup=False, highlight=False,
                                   soft_wrap=True)
        yield cache
    finally:
        cache.close()


@cache_app.command("info")
@reports_errors
def cache_info(
    cache_dir: CacheDir = None,
    cache_url: CacheUrl = None,
    cache_key_file: CacheKeyFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    debug: Debug = False,
) -> None:
    """Entries per provider, answers, staleness, size and an age histogram."""
    import json

    with _opened_cache(cache_dir, cache_url, cache_key_file) as cache:
        info = cache.info()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    console = stdout_console()
    key = {"inside": "stored inside the cache (whoever reads the cache can recover its "
                     "numbers; 'rcsqualify cache move-key' moves it out)",
           "outside": "kept outside the cache", "none": "none yet"}[info["key"]]
    console.print(f"{safe_text(info['directory'])}: {noun(info['entries'], 'entry', 'entries')}, "
                  f"{info['size_bytes'] / 1e6:.1f} MB", markup=False)
    console.print(f"key {key}", markup=False, soft_wrap=True)
    from rich.table import Table

    t = Table(title="Entries per service (scope: provider, base URL, bot/agent id)")
    for col in ("scope", "service", "entries", "answers", "stale"):
        t.add_column(col)
    for name, entry in info["providers"].items():
        # what a shared store holds was written by anyone who can reach it: shown as
        # text (no markup, no control characters), never drawn
        scope = entry.get("scope", {})
        service = " ".join(str(scope.get(k, "")) for k in ("url", "id")).strip()
        t.add_row(safe_text(name), safe_text(service), str(entry["entries"]),
                  safe_text(", ".join(f"{k} {v}" for k, v in entry["answers"].items())),
                  str(entry["stale"]))
    console.print(t)
    console.print(_count_table("Age of entries", "age", "entries", info["ages"].items()))


@cache_app.command("clear")
@reports_errors
def cache_clear(cache_dir: CacheDir = None, cache_url: CacheUrl = None,
                cache_key_file: CacheKeyFile = None,
                yes: Annotated[bool, typer.Option(
                    "--yes", "-y", help="Do not ask for confirmation (scripts).")] = False,
                debug: Debug = False) -> None:
    """Remove every cached answer and saved bulk job (the secret stays). On a terminal
    it asks first; --yes does not."""
    if not yes and sys.stdin.isatty() and not typer.confirm(
            "remove every cached answer? The next runs ask the services again",
            default=False, err=True):
        typer.echo("nothing removed", err=True)
        raise typer.Exit(1)
    with _opened_cache(cache_dir, cache_url, cache_key_file) as cache:
        removed = cache.clear()
    typer.echo(f"removed {noun(removed, 'entry', 'entries')}")


@cache_app.command("forget")
@reports_errors
def cache_forget(
    numbers: Annotated[list[str] | None, typer.Argument(
        help="Numbers to forget, in any form the checker reads (0612…, +33 6…).")] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", help="A file of numbers, one per line.")] = None,
    cache_dir: CacheDir = None,
    cache_url: CacheUrl = None,
    cache_key_file: CacheKeyFile = None,
    debug: Debug = False,
) -> None:
    """Erase what the cache holds about these people's numbers, in every scope and in
    persisted bulk jobs (right to erasure)."""
    from rcsqualify.numbering.normalize import normalize_e164_list

    given = list(numbers or [])
    if file is not None:
        try:
            given += [line.strip() for line in file.read_text(encoding="utf-8-sig")
                      .splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{file}: cannot read the numbers file "
                        f"({getattr(exc, 'strerror', None) or type(exc).__name__})",
                        int(ExitCode.USAGE)) from None
    if not given:
        raise fail("give numbers to forget, or --file", int(ExitCode.USAGE))
    e164, bad = normalize_e164_list(given)
    if bad:
        raise fail(f"{len(bad)} of the numbers given are not French numbers (item "
                    f"{bad[0] + 1} first); nothing was forgotten", int(ExitCode.USAGE))
    with _opened_cache(cache_dir, cache_url, cache_key_file, need="use") as cache:
        removed = cache.forget(e164)
    typer.echo(f"forgot {noun(len(set(e164)), 'number')}: "
               f"{noun(removed, 'cache entry', 'cache entries')} removed")


@cache_app.command("prune")
@reports_errors
def cache_prune(cache_dir: CacheDir = None, cache_url: CacheUrl = None,
                cache_key_file: CacheKeyFile = None, debug: Debug = False) -> None:
    """Remove expired entries."""
    with _opened_cache(cache_dir, cache_url, cache_key_file) as cache:
        removed = cache.prune()
    typer.echo(f"removed {removed} expired entries")


@cache_app.command("move-key")
@reports_errors
def cache_move_key(
    to: Annotated[Path | None, typer.Option(
        "--to", help="A new file outside the cache to receive the key (mode 0600, 64 "
        "hexadecimal characters). Not needed when the run is given the same key.")] = None,
    cache_dir: CacheDir = None,
    cache_url: CacheUrl = None,
    cache_key_file: CacheKeyFile = None,
    debug: Debug = False,
) -> None:
    """Take the key stored inside the cache out of it: whoever can read a cache and its
    key can recover every number in it within minutes. The cache keeps the key's
    fingerprint, so a run without the key (or with another) is refused, never empty."""
    with _opened_cache(cache_dir, cache_url, cache_key_file) as cache:
        said = cache.move_key(to)
    stderr_console().print(said, markup=False, highlight=False, soft_wrap=True)
