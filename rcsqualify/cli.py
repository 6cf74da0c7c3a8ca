"""The ``rcsqualify`` command line: options → settings → runner → rendering. Nothing else.

Errors: every ``RcsQualifyError`` becomes one line on stderr and its exit code
(CONTRACT §7); anything unexpected becomes one line too (exit 2) unless ``--debug``,
which shows the traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from rcsqualify import __version__
from rcsqualify.errors import ExitCode, RcsQualifyError
from rcsqualify.files import Interrupted, cleanup_on_exit
from rcsqualify.settings import (
    CAPABILITY_PROVIDERS,
    DEFAULT_BOTHUB_TOKEN_URL,
    DEFAULT_BOTHUB_URL,
    DEFAULT_RBM_URL,
    Settings,
)


class OneLineErrors(TyperGroup):
    """The root group: usage errors (a bad value, an unknown option) as one line on
    stderr, exit 2, like every other error; option panels and examples in the help."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        arrange_help(self)

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args,
                                **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args,
                                **extra)
        except typer.TyperException as exc:  # Click's usage errors (typer vendors Click)
            typer.echo(f"rcsqualify: error: {usage_error_line(exc)}", err=True)
            sys.exit(getattr(exc, "exit_code", int(ExitCode.USAGE)))
        except typer.Abort:
            typer.echo("rcsqualify: error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="rcsqualify", no_args_is_help=True, add_completion=True, cls=OneLineErrors,
    help="Qualify a French contact base before an RCS campaign on Orange's BotHub.",
    pretty_exceptions_enable=False,
)
plan_app = typer.Typer(help="The embedded ARCEP numbering plan.", invoke_without_command=True)
app.add_typer(plan_app, name="plan")
portability_app = typer.Typer(help="Local portability store built from extracts.",
                              no_args_is_help=True)
app.add_typer(portability_app, name="portability")

F = TypeVar("F", bound=Callable[..., Any])
CacheDir = Annotated[Path | None, typer.Option(envvar="RCSQUALIFY_CACHE_DIR",
                                              help="Cache directory.")]
CacheUrl = Annotated[str | None, typer.Option(
    envvar="RCSQUALIFY_CACHE_URL",
    help="The cache: a directory, or redis://[user@]host:port/db (rediss:// for TLS; the "
    "password in RCSQUALIFY_REDIS_PASSWORD).")]
Debug = Annotated[bool, typer.Option(help="Show tracebacks.")]


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=False,
                   width=None if sys.stderr.isatty() else 120)


def _fail(message: str, code: int) -> typer.Exit:
    """One line on stderr, never wrapped (a log reader greps it), and the exit code."""
    one_line = " ".join(message.split())
    typer.echo(f"rcsqualify: error: {one_line}", err=True)
    return typer.Exit(code)


def reports_errors(func: F) -> F:
    """One line and an exit code for every error; a traceback only with --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug")) or os.environ.get("RCSQUALIFY_DEBUG") == "1"
        try:
            # the one signal handler: temporary personal data removed on every exit path
            with cleanup_on_exit():
                return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException as exc:  # a usage error of a command run inside
            raise _fail(usage_error_line(exc), getattr(exc, "exit_code", 2)) from None
        except RcsQualifyError as exc:
            if debug:
                raise
            raise _fail(str(exc), int(exc.exit_code)) from None
        except KeyboardInterrupt as exc:
            what = ("terminated" if isinstance(exc, Interrupted)
                    and exc.signum != signal.SIGINT else "interrupted")
            raise _fail(f"{what}; answers so far are cached, re-run to continue",
                        getattr(exc, "exit_code", 130)) from None
        except Exception as exc:
            if debug:
                raise
            # never str(exc) of an arbitrary exception: it may quote a cell (CONTRACT §11)
            detail = (f": {exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
                      if isinstance(exc, OSError) and exc.strerror else "")
            raise _fail(f"unexpected {type(exc).__name__}{detail} (re-run with --debug for "
                        "details)", int(ExitCode.USAGE)) from None

    return wrapper  # type: ignore[return-value]


#: ``check``'s help panels (issue #16 item 7): option name → panel. Options added later
#: fall into a panel by their prefix (``_panel_of``), never into one long list.
CHECK_PANELS: dict[str, tuple[str, ...]] = {
    "Input": ("input_format", "column", "encoding", "delimiter", "sheet", "header"),
    "Gate": ("operator", "threshold", "gate", "sample", "seed"),
    "Operators": ("portability", "portability_db", "portability_number_column",
                  "portability_operator_column", "portability_max_unmapped",
                  "portability_max_age", "mnp_url", "mnp_field", "mnp_profile"),
    "Capability": ("capability", "bothub_url", "bothub_token_url", "bot_id", "bot_key_file",
                   "bot_jwt_header", "rbm_url", "agent_id", "rbm_credentials",
                   "agent_launched", "batch_size", "single_warn", "wait_for_window",
                   "poll_interval", "bulk_deadline", "bulk_hours", "require_feature",
                   "other_route"),
    "Network": ("rate", "rate_margin", "throttle_pause", "timeout", "max_pause",
                "max_requests", "retry_backoff"),
    "Cache": ("cache_dir", "cache_url", "quota_store", "no_cache", "refresh"),
    "Outputs": ("output", "json_report", "split_dir", "split_xlsx", "html_report", "lang",
                "markdown_report", "ci_summary", "junit_xml", "history", "csv_escape",
                "send_rate", "price_message", "price_conversation", "reply_rate", "quiet"),
    "Profiles and dry run": ("config", "profile", "dry_run", "debug"),
}
_PANEL_PREFIXES = (("portability", "Operators"), ("mnp", "Operators"), ("cache", "Cache"),
                   ("redis", "Cache"), ("bothub", "Capability"), ("bot", "Capability"),
                   ("rbm", "Capability"), ("bulk", "Capability"), ("probe", "Capability"),
                   ("split", "Outputs"), ("price", "Outputs"))
EXAMPLES: dict[str, list[str]] = {
    "check": [
        "rcsqualify check contacts.csv --portability extract.csv",
        "rcsqualify check contacts.xlsx --sheet Clients --split-dir lists/ "
        "--html-report report.html",
        "rcsqualify check contacts.csv --profile prod --dry-run",
        "rcsqualify check contacts.csv --profile prod --gate upper --junit-xml junit.xml",
        "cat export.csv | rcsqualify check - --column GSM -q",
    ],
    "refresh": ["rcsqualify refresh base.csv --profile prod --capability bothub-bulk "
                "--wait-for-window --log-file refresh.log --html-report report.html"],
    "emulator": ["rcsqualify emulator --port 8787 &",
                 "rcsqualify emulator --port 0 --fault http_503=0.2 --quota 5"],
    "config show": ["rcsqualify config show --profile prod",
                    "rcsqualify config show --config ./team.toml --profile staging"],
    "cache info": ["rcsqualify cache info --json"],
    "cache clear": ["rcsqualify cache clear", "rcsqualify cache clear --yes   # in a script"],
    "cache forget": ["rcsqualify cache forget 06 12 34 56 78",
                     "rcsqualify cache forget --file erasure_requests.txt"],
    "cache prune": ["rcsqualify cache prune"],
    "plan": ["rcsqualify plan"],
    "plan update": ["rcsqualify plan update MAJNUM.csv"],
    "plan reset": ["rcsqualify plan reset"],
    "portability import": ["rcsqualify portability import --into store.parquet dump.xls",
                           "rcsqualify portability import --delta --into store.parquet "
                           "delta_0312.csv"],
    "portability info": ["rcsqualify portability info store.parquet --max-age 7"],
}


def _panel_of(name: str) -> str:
    for panel, names in CHECK_PANELS.items():
        if name in names:
            return panel
    for prefix, panel in _PANEL_PREFIXES:
        if name.startswith(prefix):
            return panel
    return "Other"


def _long_options(command: Any) -> list[str]:
    return [o for p in command.params for o in (*p.opts, *getattr(p, "secondary_opts", ()))
            if o.startswith("--") and o != "--help"]


def arrange_help(group: Any, path: str = "") -> None:
    """Panels for ``check``'s options, an "Examples" epilog on every command, and the
    options ``refresh`` passes on to ``check`` listed in its own help."""
    for name, command in group.commands.items():
        full = f"{path} {name}".strip()
        if full == "check":
            for param in command.params:
                if param.param_type_name == "option":
                    param.rich_help_panel = _panel_of(param.name or "")
        examples = EXAMPLES.get(full)
        if examples:
            command.epilog = "Examples:\n\n" + "\n\n".join(f"  $ {e}" for e in examples)
        if hasattr(command, "commands"):
            arrange_help(command, full)
    refresh, check = group.commands.get("refresh"), group.commands.get("check")
    if refresh is not None and check is not None:
        own = set(_long_options(refresh))
        passed = [o for o in _long_options(check) if o not in own]
        refresh.epilog = ((refresh.epilog or "") + "\n\nEvery option of 'check' is passed "
                          "on to it: " + " ".join(passed))


#: options whose value is a share (0.15), not a percentage (15%)
SHARE_OPTIONS = ("threshold", "reply-rate", "portability-max-unmapped", "rate-margin")


def usage_error_line(exc: Exception) -> str:
    """Click's usage error as one line, naming the command and where help is."""
    format_message = getattr(exc, "format_message", None)
    message = " ".join(str(format_message() if format_message else exc).split())
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None and ctx.command_path else "rcsqualify"
    hint = ""
    if "--version" in message and command != "rcsqualify":
        hint = "; the version is 'rcsqualify --version'"
    elif "%" in message or any(f"'--{name}'" in message for name in SHARE_OPTIONS):
        hint = "; a share between 0 and 1, e.g. 0.15 for 15 %"
    return f"{command}: {message}{hint} (see '{command} --help')"


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version  # not by importing phonenumbers (79 ms)

        from rcsqualify.numbering.plan import load_plan

        typer.echo(f"rcsqualify {__version__} (phonenumbers {version('phonenumbers')}, "
                   f"ARCEP plan {load_plan().snapshot.isoformat()})")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", "-V", callback=version_callback,
                                          is_eager=True, help="Show versions and exit.")]
    = False,
) -> None:
    """rcsqualify: who serves each number, is it RCS-reachable, will the campaign pass."""


def profile_credentials(ctx: typer.Context) -> dict[str, str]:
    from rcsqualify.config import profile_of

    chosen = profile_of(ctx)
    return dict(chosen.credentials) if chosen is not None else {}


def applies_profile(func: F) -> F:
    """Apply ``--profile`` (issue #16 item 3) to the options that came from the
    environment or the default; the profile's credential references go to
    ``ctx.meta`` for the settings (never a secret: references only)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rcsqualify.config import apply_profile

        kwargs = apply_profile(kwargs["ctx"], kwargs)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@app.command()
@reports_errors
@applies_profile
def check(
    ctx: typer.Context,
    input: Annotated[str, typer.Argument(help="Contact file (CSV/TSV, XLSX, Parquet, NDJSON) "
                                         "or - for standard input.")],
    column: Annotated[str | None, typer.Option("--column", "-c",
                                               help="Phone column (name or 1-based index).")]
    = None,
    encoding: Annotated[str | None, typer.Option(help="Force the CSV encoding.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="Force the CSV delimiter.")] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet to read.")] = None,
    input_format: Annotated[str | None, typer.Option(
        "--format", help="Input format when the name does not say: csv, xlsx, parquet, "
        "ndjson.")] = None,
    header: Annotated[bool | None, typer.Option(
        "--header/--no-header", help="The first row is a header / is a contact (CSV, "
        "XLSX). Default: a header when the cell above the phone column is a label.")]
    = None,
    csv_escape: Annotated[bool, typer.Option(
        "--csv-escape/--no-csv-escape", help="Prefix with ' the input cells a spreadsheet "
        "would run as formulas (=, @, +, -...) in CSV outputs and lists.")] = True,
    operator: Annotated[str, typer.Option(help="Target operator, ARCEP code.",
                                          envvar="RCSQUALIFY_OPERATOR")] = "FRTE",
    threshold: Annotated[float, typer.Option(help="Gate threshold on the error ratio.",
                                             envvar="RCSQUALIFY_THRESHOLD")] = 0.15,
    gate: Annotated[str, typer.Option(
        envvar="RCSQUALIFY_GATE",
        help="What the gate compares: known (the error ratio) or upper (every unverified "
        "message counted as a failure).")] = "known",
    output: Annotated[str | None, typer.Option("--output", "-o", help="Annotated rows: "
                                               ".csv, .ndjson or .parquet.")] = None,
    json_report: Annotated[str | None, typer.Option(help="JSON report path, - for stdout.")]
    = None,
    split_dir: Annotated[str | None, typer.Option(
        help="Write send_rcs, other_operators, not_rcs, unverified and remove lists here.")]
    = None,
    split_xlsx: Annotated[bool, typer.Option(
        help="Also write the lists as .xlsx with text cells (spreadsheet-safe).")] = False,
    html_report: Annotated[str | None, typer.Option(
        help="Self-contained HTML report for people.")] = None,
    markdown_report: Annotated[str | None, typer.Option(
        help="Markdown report (verdict, send plan, counts, notes). Without it, under "
        "GitHub Actions the report is appended to $GITHUB_STEP_SUMMARY.")] = None,
    ci_summary: Annotated[bool, typer.Option(
        "--ci-summary/--no-ci-summary",
        help="Append the Markdown report to $GITHUB_STEP_SUMMARY when it is set.")] = True,
    junit_xml: Annotated[str | None, typer.Option(
        help="JUnit XML report: gate, completeness and input problem classes as test "
        "cases.")] = None,
    history: Annotated[Path | None, typer.Option(
        help="Cron log (JSON lines) whose ratios the HTML report draws as a trend.")] = None,
    send_rate: Annotated[float, typer.Option(help="Campaign send rate, messages/s.")] = 30.0,
    price_message: Annotated[float | None, typer.Option(
        help="Single Message price, euros (per message nobody answers).")] = None,
    price_conversation: Annotated[float | None, typer.Option(
        help="Conversation price, euros (Orange's 2021-10-01 example: 0.095).")] = None,
    reply_rate: Annotated[float | None, typer.Option(
        help="Expected share of messages answered within 24 h.")] = None,
    portability: Annotated[list[Path] | None, typer.Option(
        help="Portability extract (CSV, XLSX, XLS, Parquet), repeatable.")] = None,
    portability_db: Annotated[Path | None, typer.Option(
        help="Portability store built by 'rcsqualify portability import'.")] = None,
    portability_number_column: Annotated[str | None, typer.Option(
        help="Number column of the extracts.")] = None,
    portability_operator_column: Annotated[str | None, typer.Option(
        help="Operator column of the extracts.")] = None,
    portability_max_unmapped: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Stop (exit 2) when more than this share of an extract's "
        "operator values map to no operator.")] = 0.01,
    portability_max_age: Annotated[int, typer.Option(
        min=0, help="Warn when the newest port date of an extract or store is older than "
        "this many days.")] = 30,
    mnp_url: Annotated[str | None, typer.Option(
        help="MNP look-up: URL template with {msisdn} (generic), or the service's base URL "
        "(a named profile).", envvar="RCSQUALIFY_MNP_URL")] = None,
    mnp_field: Annotated[str | None, typer.Option(
        help="generic profile: answer field holding the operator (default: mccmnc, then "
        "operator).")] = None,
    mnp_profile: Annotated[str | None, typer.Option(
        envvar="RCSQUALIFY_MNP_PROFILE", help="MNP service profile: generic (default), "
        "twilio, hlr-lookups, or the path of a .toml profile file. Credentials from the "
        "environment: RCSQUALIFY_MNP_TOKEN (bearer), RCSQUALIFY_MNP_USER and "
        "RCSQUALIFY_MNP_PASSWORD (basic), RCSQUALIFY_MNP_KEY and RCSQUALIFY_MNP_SECRET "
        "(digest).")] = None,
    capability: Annotated[str, typer.Option(
        help="Capability provider: " + ", ".join(CAPABILITY_PROVIDERS) + ".")] = "none",
    bothub_url: Annotated[str, typer.Option(envvar="RCSQUALIFY_BOTHUB_URL",
                                            help="BotHub API base URL.")] = DEFAULT_BOTHUB_URL,
    bothub_token_url: Annotated[str, typer.Option(
        envvar="RCSQUALIFY_BOTHUB_TOKEN_URL", help="BotHub OAuth token URL.")]
    = DEFAULT_BOTHUB_TOKEN_URL,
    bot_id: Annotated[str | None, typer.Option(envvar="RCSQUALIFY_BOTHUB_BOT_ID",
                                               help="BotHub bot id.")] = None,
    bot_key_file: Annotated[Path | None, typer.Option(
        envvar="RCSQUALIFY_BOTHUB_KEY_FILE", help="Bot private key (PEM) for the GSMA JWT.")]
    = None,
    bot_jwt_header: Annotated[str, typer.Option(
        help="Header carrying the GSMA JWT (Orange does not document it).")]
    = "X-Bot-Authorization",
    rbm_url: Annotated[str, typer.Option(envvar="RCSQUALIFY_RBM_URL",
                                         help="RBM API base URL.")] = DEFAULT_RBM_URL,
    agent_id: Annotated[str | None, typer.Option(envvar="RCSQUALIFY_RBM_AGENT_ID",
                                                 help="RBM agent id.")] = None,
    rbm_credentials: Annotated[Path | None, typer.Option(
        envvar=["RCSQUALIFY_RBM_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"],
        help="RBM service-account JSON file.")] = None,
    agent_launched: Annotated[bool, typer.Option(
        help="The RBM agent is launched on the target operator (batchGet negatives "
        "become not_rcs).")] = False,
    batch_size: Annotated[int | None, typer.Option(
        min=1, max=10_000, help="rbm-batch: numbers per users:batchGet call (1-10,000; "
        "Google's own tool sends 499). Default: balanced calls of 500-10,000, which carry "
        "the random-sample estimate.")] = None,
    single_warn: Annotated[int, typer.Option(
        min=0, envvar="RCSQUALIFY_SINGLE_WARN", help="bothub: warn when more numbers than "
        "this are to be asked one by one (after the cache); Orange means that call for "
        "tests.")] = 1000,
    sample: Annotated[int | None, typer.Option(
        help="Check only a seeded random sample of this many numbers and extrapolate.")]
    = None,
    seed: Annotated[int, typer.Option(help="Seed of --sample.")] = 0,
    wait_for_window: Annotated[bool, typer.Option(
        help="bothub-bulk: sleep until the 22:00 Paris window opens.")] = False,
    poll_interval: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_POLL_INTERVAL",
        help="bothub-bulk: first wait between job polls, seconds (grows to 30 s).")] = 2.0,
    bulk_deadline: Annotated[float | None, typer.Option(
        envvar="RCSQUALIFY_BULK_DEADLINE", min=1.0,
        help="bothub-bulk: stop polling after this many seconds (default: the end of "
        "the bulk window); unfinished jobs are polled by the next run.")] = None,
    bulk_hours: Annotated[str | None, typer.Option(
        envvar="RCSQUALIFY_BULK_HOURS",
        help="bothub-bulk window, HH:MM-HH:MM Paris time, or 'server' (rely on the "
        "server's 405). Default: 22:00-07:00 in winter, 23:00-07:00 in summer.")] = None,
    require_feature: Annotated[str, typer.Option(
        envvar="RCSQUALIFY_REQUIRE_FEATURE",
        help="BotHub: capability needed to count as reachable ('' = any).")]
    = "chatBotCommunication",
    other_route: Annotated[str | None, typer.Option(
        envvar="RCSQUALIFY_OTHER_ROUTE",
        help="Check other operators' mobiles on Google RBM too (rbm or rbm-batch; needs "
        "the RBM settings): a second route, with its own send_rbm list.")] = None,
    rate: Annotated[float, typer.Option(envvar="RCSQUALIFY_RATE",
                                        help="Requests per second per provider.")] = 30.0,
    rate_margin: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_RATE_MARGIN", min=0.0, max=0.5,
        help="Pace this share under --rate, so network jitter never makes arrivals "
        "exceed the quota.")] = 0.03,
    throttle_pause: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_THROTTLE_PAUSE", help="Seconds to pause after an HTTP 429.")]
    = 60.0,
    timeout: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_TIMEOUT", min=0.1,
        help="Whole-request deadline (connect, send, complete answer), seconds.")] = 10.0,
    max_pause: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_MAX_PAUSE", min=0.0,
        help="Longest pause a server's Retry-After may impose, seconds.")] = 900.0,
    max_requests: Annotated[int | None, typer.Option(
        envvar="RCSQUALIFY_MAX_REQUESTS", min=1,
        help="Stop after this many requests per service (the rest stays unverified, "
        "exit 3).")] = None,
    retry_backoff: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_RETRY_BACKOFF",
        help="First wait before retrying a 5xx/timeout/reset, seconds (doubles each time).")]
    = 0.5,
    cache_dir: Annotated[Path | None, typer.Option(envvar="RCSQUALIFY_CACHE_DIR",
                                                   help="Cache directory.")] = None,
    cache_url: CacheUrl = None,
    quota_store: Annotated[str | None, typer.Option(
        envvar="RCSQUALIFY_QUOTA_STORE",
        help="redis://… holding the pacing schedule every host shares (default: --cache-url "
        "when it is Redis, else a local per-user store).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the cache.")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore cache freshness.")]
    = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the verdict line.")]
    = False,
    lang: Annotated[str | None, typer.Option(
        envvar="RCSQUALIFY_LANG", help="Language of the HTML report: fr or en (default: "
        "French when the system locale is French, else English).")] = None,
    config: Annotated[Path | None, typer.Option(
        envvar="RCSQUALIFY_CONFIG", help="Profiles file (TOML). Default: config.toml in "
        "the user config directory; never the working directory.")] = None,
    profile: Annotated[str | None, typer.Option(
        envvar="RCSQUALIFY_PROFILE", help="Profile of the config file to apply: its values "
        "win over environment variables and defaults, options given here win over it.")]
    = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Read, normalize, attribute (offline sources) and consult the "
        "cache, then say what the remote checks would ask and how long at the quota; no "
        "request, no verdict, exit 0. Command line only.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Qualify a contact file: normalize, attribute operators, check capability, gate.

    The send plan comes first: what to send, and the error ratio it would give.
    Exit codes: 0 pass, 1 fail, 2 usage or configuration error, 3 incomplete."""
    from rcsqualify.report.terminal import print_summary, verdict_line
    from rcsqualify.runner import execute_check

    if capability not in CAPABILITY_PROVIDERS:
        raise _fail(f"--capability must be one of {', '.join(CAPABILITY_PROVIDERS)}",
                    int(ExitCode.USAGE))
    settings = check_settings(ctx, {k: v for k, v in locals().items() if k != "ctx"})
    console = stderr_console()
    if dry_run:
        from rcsqualify.report.terminal import dry_run_lines
        from rcsqualify.runner import execute_dry_run

        for line in dry_run_lines(execute_dry_run(settings, console)):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(0)
    run = execute_check(settings, console)
    if quiet:
        # one line whatever its length: logs and CI are grepped for it
        console.print(verdict_line(run.summary), markup=False, highlight=False,
                      soft_wrap=True)
    else:
        print_summary(run.summary, console)
    raise typer.Exit(run.summary.exit_code)


def check_settings(ctx: typer.Context, params: dict[str, Any]) -> Settings:
    """``check``'s Settings from its parameters (after the profile was applied): the
    option names are the field names; a few values need a word (the MNP URL of a named
    profile, the CI variables, the profile's credential references)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(Settings)}
    values = {k: v for k, v in params.items() if k in names}
    values.update(
        portability=list(params.get("portability") or []),
        mnp_url=_mnp_url(params.get("mnp_profile"), params.get("mnp_url")),
        step_summary=os.environ.get("GITHUB_STEP_SUMMARY") or None,
        github_actions=os.environ.get("GITHUB_ACTIONS") == "true",
        credential_refs=dict(profile_credentials(ctx)))
    return Settings(**values)


def _mnp_url(profile: str | None, url: str | None) -> str | None:
    """A named profile's own URL when --mnp-url is not given (a bad profile: exit 2)."""
    if profile is None or url:
        return url
    from rcsqualify.errors import InputError
    from rcsqualify.operators.mnp_profiles import load_profile

    loaded = load_profile(profile)
    if not loaded.url:
        raise InputError(f"--mnp-profile {loaded.name} needs --mnp-url (RCSQUALIFY_MNP_URL)")
    return loaded.url


@plan_app.callback()
@reports_errors
def plan_info(ctx: typer.Context) -> None:
    """Show the plan in use: snapshot date, blocks per territory and operator."""
    if ctx.invoked_subcommand is not None:
        return
    from rcsqualify.numbering.plan import load_plan

    plan = load_plan()
    console = Console(highlight=False)
    console.print(f"ARCEP numbering plan of {plan.snapshot.isoformat()} "
                  f"({'shipped with rcsqualify' if plan.source == 'shipped' else plan.source}); "
                  f"{len(plan.blocks)} blocks. Source : ARCEP, Licence Ouverte.")
    t = Table(title="Blocks per territory")
    t.add_column("territory")
    t.add_column("blocks", justify="right")
    for name, count in plan.blocks["territory"].value_counts().items():
        t.add_row(str(name), str(count))
    console.print(t)
    o = Table(title="Blocks per operator (top 20)")
    o.add_column("code")
    o.add_column("operator")
    o.add_column("blocks", justify="right")
    for code, count in plan.blocks["operator"].value_counts().head(20).items():
        o.add_row(str(code), plan.operator_name(str(code)), str(count))
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
               f"({len(plan.blocks)} blocks) at {plan.source}")


@plan_app.command("reset")
@reports_errors
def plan_reset(debug: Debug = False) -> None:
    """Remove an installed plan: go back to the one shipped with rcsqualify."""
    from rcsqualify.numbering.plan import remove_installed_plan

    typer.echo("back to the shipped ARCEP plan" if remove_installed_plan()
               else "no installed plan: the shipped one is in use")


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
    max_unmapped: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Stop (exit 2) when more than this share of an extract's "
        "operator values map to no operator.")] = 0.01,
    max_age: Annotated[int, typer.Option(
        min=0, help="Say the store is stale when its newest port date is older than this "
        "many days.")] = 30,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Build a reusable, indexed store from extracts, or apply daily deltas to one (atomic:
    the old store stays on failure)."""
    import time

    from rcsqualify.files import refuse_overwrite
    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.operators.portability import describe_dates, import_extracts

    # the store given with --into is updated in place (not an input); an extract is
    refuse_overwrite([("extract", e) for e in extracts], [("--into", into)])
    t = time.perf_counter()
    meta = import_extracts(extracts, into, load_plan(), delta=delta,
                           number_column=number_column, operator_column=operator_column,
                           max_unmapped=max_unmapped)
    applied = meta["applied"]
    console = stderr_console()

    def total(key: str) -> int:
        return sum(int(s.get(key, 0)) for s in applied)

    what = (f"applied {len(applied)} deltas ({total('rows')} rows) to {into}: "
            f"{meta['changed']} numbers changed operator, {meta['rows']} numbers in the store"
            if delta else f"imported {total('rows')} extract rows into {into}: {meta['rows']} "
            f"numbers, {meta['conflicts']} conflicts")
    console.print(f"{what}; {total('unmapped')} unmapped operator values, "
                  f"{total('fixed_line_prefixes')} fixed-line prefixes on mobiles (not used), "
                  f"{total('invalid_numbers')} invalid numbers, {total('unparsed_dates')} "
                  f"dates that do not parse (rows kept with the file's date) "
                  f"({time.perf_counter() - t:.1f} s)", markup=False, highlight=False)
    console.print(describe_dates(meta, max_age), markup=False, highlight=False)
    if meta["unmapped_examples"]:
        console.print("unmapped operator values, e.g.: " + ", ".join(
            meta["unmapped_examples"]), markup=False, highlight=False)


@portability_app.command("info")
@reports_errors
def portability_info(
    store: Annotated[Path, typer.Argument(help="Store built by 'portability import'.")],
    max_age: Annotated[int, typer.Option(
        min=0, help="Say the store is stale when its newest port date is older than this "
        "many days.")] = 30,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Row count, port date range and age, operators, source files and deltas of a store."""
    from rcsqualify.operators.portability import describe_dates, store_info

    if not store.exists():
        raise _fail(f"{store}: no such store", int(ExitCode.USAGE))
    info = store_info(store)
    console = Console(highlight=False)
    updated = (f", last delta {info['updated_at']} ({info['deltas']} deltas)"
               if info.get("deltas") else "")
    console.print(f"{store}: {info['rows']} numbers from {info['input_rows']} extract rows, "
                  f"imported {info['imported_at']}{updated}; {info['conflicts']} conflicts, "
                  f"{info['unmapped']} unmapped operator values", markup=False)
    console.print(describe_dates(info, max_age), markup=False)
    t = Table(title="Numbers per operator")
    t.add_column("operator")
    t.add_column("numbers", justify="right")
    for op, count in info["operators"].items():
        t.add_row(op, str(count))
    console.print(t)
    sources = info["sources"]
    if len(sources) > 20:
        console.print(f"… {len(sources) - 20} earlier sources", markup=False)
    for src in sources[-20:]:
        console.print(f"{src.get('kind', 'extract')}: {src.get('path')} ({src.get('rows')} "
                      f"rows, newest port date {src.get('newest_date') or 'none'}; number "
                      f"column {src.get('number_column')!r}, operator column "
                      f"{src.get('operator_column')!r}, date column {src.get('date_column')!r})",
                      markup=False)


@app.command()
@reports_errors
def emulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 8787,
    seed: Annotated[int, typer.Option(help="Seed of the deterministic answers.")] = 0,
    capable_share: Annotated[float, typer.Option(help="Share of capable numbers.")] = 0.7,
    quota: Annotated[float, typer.Option(help="Requests/s allowed per API family.")] = 30.0,
    numbers: Annotated[Path | None, typer.Option(
        help="File of number;capable;operator overriding the seeded answers.")] = None,
    fault: Annotated[list[str] | None, typer.Option(
        help="Inject faults: KIND=PROBABILITY (http_500, http_503, timeout, reset, "
        "malformed, token_expiry); repeatable.")] = None,
    fault_attempts: Annotated[int, typer.Option(
        help="Faults hit the first N requests per number (0: a share of numbers always "
        "fail).")] = 1,
    latency: Annotated[float, typer.Option(help="Seconds added to every answer.")] = 0.0,
    retry_after: Annotated[float | None, typer.Option(help="Retry-After on 429s.")] = None,
    bulk_window: Annotated[str, typer.Option(
        help="BotHub bulk window: always, never, clock (22:00-07:00 Paris).")] = "always",
    token_ttl: Annotated[int, typer.Option(help="Token lifetime, seconds.")] = 3600,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Serve local emulators of BotHub, RBM and an MNP look-up (127.0.0.1 only)."""
    from rcsqualify.emulator.app import FAULT_KINDS, EmulatorConfig, load_numbers, serve

    faults: dict[str, float] = {}
    for item in fault or []:
        kind, _, prob = item.partition("=")
        if kind not in FAULT_KINDS:
            raise _fail(f"--fault {item}: kind must be one of {', '.join(FAULT_KINDS)}", 2)
        try:
            faults[kind] = float(prob or 1.0)
        except ValueError:
            raise _fail(f"--fault {item}: probability must be a number", 2) from None
    if bulk_window not in ("always", "never", "clock"):
        raise _fail("--bulk-window must be always, never or clock", 2)
    config = EmulatorConfig(seed=seed, capable_share=capable_share, faults=faults,
                            fault_attempts=fault_attempts, latency=latency,
                            retry_after=retry_after, bulk_window=bulk_window,
                            token_ttl=token_ttl,
                            numbers=load_numbers(numbers) if numbers else {})
    config.update({"quota": quota})

    def announce(line: str) -> None:
        base = line.rsplit(" ", 1)[-1]
        typer.echo(line)
        typer.echo(f"  RCSQUALIFY_BOTHUB_URL={base}/bothub/v1")
        typer.echo(f"  RCSQUALIFY_BOTHUB_TOKEN_URL={base}/oauth/v3/token")
        typer.echo(f"  RCSQUALIFY_BOTHUB_CLIENT_ID={config.client_id}  "
                   f"RCSQUALIFY_BOTHUB_CLIENT_SECRET=<emulator default>")
        typer.echo(f"  RCSQUALIFY_RBM_URL={base}/rbm  RCSQUALIFY_RBM_AGENT_ID={config.rbm_agent}")
        typer.echo(f"  RCSQUALIFY_MNP_URL='{base}/mnp/lookup?msisdn={{msisdn}}'")
        sys.stdout.flush()

    import errno

    try:
        serve(config, port=port, announce=announce)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise _fail(f"port {port} on 127.0.0.1 is in use (another emulator?): choose "
                    "another with --port, or --port 0 for any free port",
                    int(ExitCode.USAGE)) from None


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@reports_errors
def refresh(
    ctx: typer.Context,
    base: Annotated[Path, typer.Argument(help="The contact base to keep fresh.")],
    split_dir: Annotated[Path | None, typer.Option(
        help="Where the lists go (default: <base>_lists beside the base).")] = None,
    log_file: Annotated[Path | None, typer.Option(
        help="Append one JSON line per run (counts, ratio, requests, duration).")] = None,
    wait_lock: Annotated[float, typer.Option(
        help="Seconds to wait for another run's lock before giving up (exit 4).")] = 0.0,
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
    from rcsqualify.report.terminal import print_summary, verdict_line

    if not base.is_file():
        raise _fail(f"{base}: no such file", int(ExitCode.USAGE))
    # the options meant for check, parsed by check itself (its types, its env vars, the
    # profile), without running it: the runner is called below
    assert ctx.parent is not None
    group = ctx.parent.command
    command = group.get_command(ctx.parent, "check")  # type: ignore[attr-defined]
    with command.make_context("check", [str(base), *ctx.args], parent=ctx.parent) as sub:
        params = apply_profile(sub, dict(sub.params))
        settings = check_settings(sub, params)
    if settings.dry_run:
        raise _fail("refresh: --dry-run is for 'check'", int(ExitCode.USAGE))
    quiet = settings.quiet or not sys.stderr.isatty()
    settings = dataclasses.replace(settings, quiet=quiet, debug=settings.debug or debug)
    console = stderr_console()
    run = run_refresh(settings, base, split_dir or default_lists(base), log_file, wait_lock,
                      console)
    if quiet:
        console.print(verdict_line(run.summary), markup=False, highlight=False,
                      soft_wrap=True)
    else:
        print_summary(run.summary, console)
    raise typer.Exit(run.summary.exit_code)


@app.command()
@reports_errors
def probe(
    number: Annotated[str, typer.Argument(help="One number, in any form check reads.")],
    capability: Annotated[str, typer.Option(
        help="bothub: one BotHub single look-up (else the MNP look-up).")] = "none",
    mnp_profile: Annotated[str | None, typer.Option(
        envvar="RCSQUALIFY_MNP_PROFILE", help="MNP profile: generic, twilio, hlr-lookups "
        "or a .toml file.")] = None,
    mnp_url: Annotated[str | None, typer.Option(
        envvar="RCSQUALIFY_MNP_URL", help="MNP URL template (generic) or base URL.")] = None,
    mnp_field: Annotated[str | None, typer.Option(
        help="generic profile: answer field holding the operator.")] = None,
    bothub_url: Annotated[str, typer.Option(envvar="RCSQUALIFY_BOTHUB_URL",
                                            help="BotHub API base URL.")] = DEFAULT_BOTHUB_URL,
    bothub_token_url: Annotated[str, typer.Option(
        envvar="RCSQUALIFY_BOTHUB_TOKEN_URL", help="BotHub OAuth token URL.")]
    = DEFAULT_BOTHUB_TOKEN_URL,
    bot_id: Annotated[str | None, typer.Option(envvar="RCSQUALIFY_BOTHUB_BOT_ID",
                                               help="BotHub bot id.")] = None,
    bot_key_file: Annotated[Path | None, typer.Option(
        envvar="RCSQUALIFY_BOTHUB_KEY_FILE", help="Bot private key (PEM) for the GSMA JWT.")]
    = None,
    rate: Annotated[float, typer.Option(envvar="RCSQUALIFY_RATE",
                                        help="Requests per second per provider.")] = 30.0,
    timeout: Annotated[float, typer.Option(envvar="RCSQUALIFY_TIMEOUT", min=0.1,
                                           help="Whole-request deadline, seconds.")] = 10.0,
    debug: Debug = False,
) -> None:
    """Send one look-up and print the raw answer (the number and every secret masked) and
    what rcsqualify makes of it: for onboarding a service. Exit 0 when the answer is
    recognized, 3 when it is not, 2 on a configuration error."""
    from rcsqualify.numbering.normalize import normalize_e164_list
    from rcsqualify.wiring import probe as run_probe

    e164, bad = normalize_e164_list([number])
    if bad:
        raise _fail("probe: the number is not a French number", int(ExitCode.USAGE))
    settings = Settings(capability=capability, mnp_profile=mnp_profile,
                        mnp_url=_mnp_url(mnp_profile, mnp_url) if capability == "none"
                        else mnp_url, mnp_field=mnp_field, bothub_url=bothub_url,
                        bothub_token_url=bothub_token_url, bot_id=bot_id,
                        bot_key_file=bot_key_file, rate=rate, timeout=timeout, debug=debug)
    result = run_probe(settings, e164[0])
    typer.echo(f"service: {result.service}")
    typer.echo(f"request: {result.request}")
    typer.echo(f"answer: HTTP {result.status} {result.content_type or '(no content type)'} "
               f"({result.size} bytes)")
    typer.echo(result.body)
    typer.echo(f"rcsqualify reads: {result.meaning}")
    raise typer.Exit(0 if result.recognized else int(ExitCode.INCOMPLETE))


config_app = typer.Typer(help="Profiles: named sets of check options in a TOML file.",
                         no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
@reports_errors
def config_show(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(
        envvar="RCSQUALIFY_CONFIG", help="Profiles file (default: config.toml in the user "
        "config directory).")] = None,
    profile: Annotated[str | None, typer.Option(
        envvar="RCSQUALIFY_PROFILE", help="Profile to show applied.")] = None,
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
    check_ctx = check_command.make_context("check", args, parent=root,
                                           resilient_parsing=True)
    values = apply_profile(check_ctx, dict(check_ctx.params))
    path = config_file(config)
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"config file: {path}" if path else
                  f"config file: none (looked for {default_config_path()})", markup=False)
    console.print(f"profile: {profile or 'none'}", markup=False)
    t = Table(title="Effective settings of 'rcsqualify check'", title_justify="left")
    for col in ("setting", "value", "from"):
        t.add_column(col, overflow="fold")
    for key, value, where in settings_rows(check_ctx, values):
        t.add_row(key, value, where, style="dim" if where == "default" else "")
    console.print(t)


cache_app = typer.Typer(help="The look-up cache (HMAC-keyed, no number in clear).",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@contextlib.contextmanager
def _opened_cache(cache_dir: Path | None, cache_url: str | None = None) -> Iterator[Any]:
    from rcsqualify.remote.cache import LookupCache

    cache = LookupCache(cache_dir, url=cache_url)
    try:
        yield cache
    finally:
        cache.close()


@cache_app.command("info")
@reports_errors
def cache_info(
    cache_dir: CacheDir = None,
    cache_url: CacheUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    debug: Debug = False,
) -> None:
    """Entries per provider, answers, staleness, size and an age histogram."""
    import json

    with _opened_cache(cache_dir, cache_url) as cache:
        info = cache.info()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    console = Console(highlight=False)
    console.print(f"{info['directory']}: {info['entries']} entries, "
                  f"{info['size_bytes'] / 1e6:.1f} MB", markup=False)
    t = Table(title="Entries per service (scope: provider, base URL, bot/agent id)")
    for col in ("scope", "service", "entries", "answers", "stale"):
        t.add_column(col)
    for name, entry in info["providers"].items():
        scope = entry.get("scope", {})
        service = " ".join(str(scope.get(k, "")) for k in ("url", "id")).strip()
        t.add_row(name, service, str(entry["entries"]),
                  ", ".join(f"{k} {v}" for k, v in entry["answers"].items()), str(entry["stale"]))
    console.print(t)
    a = Table(title="Age of entries")
    a.add_column("age")
    a.add_column("entries", justify="right")
    for name, count in info["ages"].items():
        a.add_row(name, str(count))
    console.print(a)


@cache_app.command("clear")
@reports_errors
def cache_clear(cache_dir: CacheDir = None, cache_url: CacheUrl = None,
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
    with _opened_cache(cache_dir, cache_url) as cache:
        removed = cache.clear()
    typer.echo(f"removed {removed} entries")


@cache_app.command("forget")
@reports_errors
def cache_forget(
    numbers: Annotated[list[str] | None, typer.Argument(
        help="Numbers to forget, in any form the checker reads (0612…, +33 6…).")] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", help="A file of numbers, one per line.")] = None,
    cache_dir: CacheDir = None,
    cache_url: CacheUrl = None,
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
            raise _fail(f"{file}: cannot read the numbers file "
                        f"({getattr(exc, 'strerror', None) or type(exc).__name__})",
                        int(ExitCode.USAGE)) from None
    if not given:
        raise _fail("give numbers to forget, or --file", int(ExitCode.USAGE))
    e164, bad = normalize_e164_list(given)
    if bad:
        raise _fail(f"{len(bad)} of the numbers given are not French numbers (item "
                    f"{bad[0] + 1} first); nothing was forgotten", int(ExitCode.USAGE))
    with _opened_cache(cache_dir, cache_url) as cache:
        removed = cache.forget(e164)
    typer.echo(f"forgot {len(set(e164))} number(s): {removed} cache entries removed")


@cache_app.command("prune")
@reports_errors
def cache_prune(cache_dir: CacheDir = None, cache_url: CacheUrl = None,
                debug: Debug = False) -> None:
    """Remove expired entries."""
    with _opened_cache(cache_dir, cache_url) as cache:
        removed = cache.prune()
    typer.echo(f"removed {removed} expired entries")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
