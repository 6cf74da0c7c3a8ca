"""``check``, ``refresh`` (cron mode) and ``probe``: options → settings → runner →
rendering."""

# annotations evaluated at import: see cli/base.py

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from rcsqualify.cli.base import (
    F,
    WaitLock,
    app,
    fail,
    reports_errors,
    stderr_console,
)
from rcsqualify.cli.options import cli_default, with_options
from rcsqualify.errors import ExitCode, InputError, RcsQualifyError
from rcsqualify.providers import PROBED, check_capability, probe_options
from rcsqualify.settings import GROUPS, Settings
from rcsqualify.textsafe import safe_line, safe_lines

if TYPE_CHECKING:
    from rcsqualify.result import Result


def profile_credentials(ctx: typer.Context) -> dict[str, str]:
    from rcsqualify.config import profile_of

    chosen = profile_of(ctx)
    return dict(chosen.credentials) if chosen is not None else {}


def raise_naming_the_profile(ctx: typer.Context, exc: RcsQualifyError) -> None:
    """Raise ``exc`` reworded to name the profile, file and key when a profile value
    caused it (config.naming_the_profile); return when none did."""
    from rcsqualify.config import naming_the_profile

    named = naming_the_profile(ctx, exc)
    if named is not None:
        raise named from None


def applies_profile(func: F) -> F:
    """Apply ``--profile`` (issue #16 item 3) to the options that came from the
    environment or the default; the profile's credential references go to
    ``ctx.meta`` for the settings (never a secret: references only). An error a
    profile value caused names the profile, its file and the key (#26 item 3)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rcsqualify.config import apply_profile

        kwargs = apply_profile(kwargs["ctx"], kwargs)
        try:
            return func(*args, **kwargs)
        except RcsQualifyError as exc:
            raise_naming_the_profile(kwargs["ctx"], exc)
            raise

    return wrapper  # type: ignore[return-value]


@app.command()
@reports_errors
@applies_profile
@with_options(GROUPS, short_help=True)
def check(
    ctx: typer.Context,
    input: Annotated[str, typer.Argument(help="Contact file (CSV/TSV, XLSX, Parquet, NDJSON) "
                                         "or - for standard input.")],
    **options: Any,
) -> None:
    """Qualify a contact file: normalize, attribute operators, check capability, gate.

    The send plan comes first: what to send, and the error ratio it would give.
    Exit codes: 0 pass, 1 fail, 2 bad usage or input, 3 undecided, 4 lists locked."""
    # the Python API's run (rcsqualify.qualify calls result.run too): the command line
    # adds its progress bars and notices on stderr, the rendering and the exit code
    from rcsqualify.result import execute_check

    settings = check_settings(ctx, {"input": input, **options})
    console = stderr_console()
    if settings.dry_run:
        print_dry_run(settings, console)
    render_and_exit(execute_check(settings, console), console, settings.quiet)


def print_dry_run(settings: Settings, console: Any) -> NoReturn:
    """``--dry-run`` of check or refresh: what the run would ask, then exit 0."""
    from rcsqualify.dryrun import execute_dry_run
    from rcsqualify.report.terminal import dry_run_lines

    for line in dry_run_lines(execute_dry_run(settings, console)):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(0)


def render_and_exit(result: "Result", console: Any, quiet: bool) -> None:
    """The verdict line alone (quiet: one line whatever its length, logs and CI grep it)
    or the whole summary of the run's ``Result``; then the gate's exit code."""
    if quiet:  # report.wording: the terminal summary's module would import rich
        from rcsqualify.report.wording import verdict_line

        console.print(verdict_line(result.checked.summary), markup=False,
                      highlight=False, soft_wrap=True)
    else:
        from rcsqualify.report.terminal import print_summary

        print_summary(result.checked.summary, console)
    raise typer.Exit(result.exit_code)


def check_settings(ctx: typer.Context, params: dict[str, Any]) -> Settings:
    """``check``'s Settings from its parameters (after the profile was applied): the
    parameters are the groups' fields (an unknown one is an error, never dropped); a
    few values need a word (the MNP URL of a named profile, ``--sample``, the CI
    variables, the profile's credential references)."""
    from rcsqualify.config import applied_by_profile

    values = dict(params)
    values.pop("help_all", None)  # --help-all exits before: no value to keep
    check_capability(values.get("capability", "none"))
    values.update(sample_options(values.get("sample")))
    values.update(
        portability=list(values.get("portability") or []),
        column=list(values.get("column") or []),
        # a repeatable option given nowhere: Typer's command says None, its Click
        # parameters say (): one empty list, so the CLI and the API build equal settings
        notify=list(values.get("notify") or []),
        mnp_url=mnp_url_of(values.get("mnp_profile"), values.get("mnp_url"),
                           values.get("mnp_region")),
        step_summary=os.environ.get("GITHUB_STEP_SUMMARY") or None,
        github_actions=os.environ.get("GITHUB_ACTIONS") == "true",
        credential_refs=dict(profile_credentials(ctx)),
        from_profile=applied_by_profile(ctx),
        config=config_read(ctx, values.get("config")))
    return Settings(**values)


def config_read(ctx: typer.Context, given: Path | None) -> Path | None:
    """The config file this run reads: the profile's (the default one included), else
    ``--config`` as given (an output must never be written over it)."""
    from rcsqualify.config import profile_of

    chosen = profile_of(ctx)
    return chosen.path if chosen is not None else given


def sample_options(raw: str | None) -> dict[str, Any]:
    """``--sample auto`` or ``--sample N`` (a positive whole number); else exit 2."""
    if raw is None:
        return {"sample": None, "sample_auto": False}
    text = str(raw).strip()
    if text.lower() == "auto":
        return {"sample": None, "sample_auto": True}
    if not text.isdecimal() or int(text) < 1:
        raise InputError(f"--sample must be auto or a positive whole number, got "
                         f"{text[:20]!r}")
    return {"sample": int(text), "sample_auto": False}


def mnp_url_of(profile: str | None, url: str | None, region: str | None = None
               ) -> str | None:
    """A named profile's own URL (in ``--mnp-region`` when given) when --mnp-url is not
    given (a bad profile or region: exit 2)."""
    if (profile is None and region is None) or url:
        return url
    from rcsqualify.wiring import mnp_profile_url

    return mnp_profile_url(profile, url, region)[1]




@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@reports_errors
def refresh(
    ctx: typer.Context,
    base: Annotated[Path, typer.Argument(help="The contact base to keep fresh.")],
    split_dir: Annotated[Path | None, typer.Option(
        help="Where the lists go (default: <base>_lists beside the base).")] = None,
    log_file: Annotated[Path | None, typer.Option(
        help="Append one JSON line per run (counts, ratio, requests, duration).")] = None,
    wait_lock: WaitLock = cli_default("wait_lock"),
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Cron mode: re-check what is stale, rewrite the lists, log one line.

    Any other option is passed to 'check' (--capability, --portability-db, ...). Only
    new numbers and answers past their freshness (not capable 60 days, capable 90 days,
    operators 7 days) are asked again: the rest comes from the cache. One run at a time
    per list directory (a file lock, exit 4 when held); output is the verdict line alone
    when stderr is not a terminal.
    """
    from rcsqualify.config import apply_profile
    from rcsqualify.refresh import default_lists, run_refresh

    if not base.is_file():
        raise fail(f"{base}: no such file", int(ExitCode.USAGE))
    # the options meant for check, parsed by check itself (its types, its env vars, the
    # profile), without running it: the runner is called below
    assert ctx.parent is not None
    group = ctx.parent.command
    command = group.get_command(ctx.parent, "check")  # type: ignore[attr-defined]
    with command.make_context("check", [str(base), *ctx.args], parent=ctx.parent) as sub:
        params = apply_profile(sub, dict(sub.params))
    try:
        settings = check_settings(sub, params)
        if settings.dry_run:  # what this refresh would ask; no list, no log, no lock
            print_dry_run(settings.replace(input=str(base)), stderr_console())
        quiet = settings.quiet or not sys.stderr.isatty()
        settings = settings.replace(quiet=quiet, debug=settings.debug or debug)
        console = stderr_console()
        run = run_refresh(settings, base, split_dir or default_lists(base), log_file,
                          wait_lock, console)
    except RcsQualifyError as exc:
        raise_naming_the_profile(sub, exc)
        raise
    render_and_exit(run, console, quiet)


#: the options of ``probe``: which service, what one look-up of each service it can
#: probe needs (the registry's, ``providers.probe_options``), and a profile to take
#: them from
PROBE_OPTIONS = ("capability", *probe_options(), "rate", "timeout", "config", "profile",
                 "debug")


@app.command()
@reports_errors
@applies_profile
@with_options(names=PROBE_OPTIONS, helps={
    "capability": f"{' or '.join(PROBED)}: one look-up of that service, one number per "
    "request; none: the MNP look-up (a profile's capability applies unless given here: "
    "--capability none probes its MNP service).",
    "profile": "Profile of the config file to apply (the options of check that probe "
    "takes; options given here win over it)."})
def probe(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="One number, in any form check reads.")],
    **options: Any,
) -> None:
    """Send one look-up and print the raw answer (the number and every secret masked) and
    what rcsqualify makes of it: for onboarding a service. Exit 0 when the answer is
    recognized, 3 when it is not, 2 on a configuration error."""
    from rcsqualify.numbering.normalize import normalize_e164_list
    from rcsqualify.probe import probe as run_probe

    e164, bad = normalize_e164_list([number])
    if bad:
        raise fail("probe: the number is not a French number", int(ExitCode.USAGE))
    if options["capability"] == "none":
        options["mnp_url"] = mnp_url_of(options["mnp_profile"], options["mnp_url"],
                                        options["mnp_region"])
    options["config"] = config_read(ctx, options["config"])
    settings = Settings(**options, credential_refs=profile_credentials(ctx))
    result = run_probe(settings, e164[0])
    # the server's words are data: one sanitizer (textsafe), no line a workflow command
    typer.echo(safe_line(f"service: {result.service}"))
    typer.echo(safe_line(f"request: {result.request}"))
    typer.echo(safe_line(f"answer: HTTP {result.status} "
                         f"{result.content_type or '(no content type)'} ({result.size} bytes)"))
    typer.echo(safe_lines(result.body))
    typer.echo(safe_line(f"rcsqualify reads: {result.meaning}"))
    raise typer.Exit(0 if result.recognized else int(ExitCode.INCOMPLETE))
