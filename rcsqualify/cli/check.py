"""``check``, ``refresh`` (cron mode) and ``probe``: options → settings → runner →
rendering."""

# annotations evaluated at import: see cli/base.py

import dataclasses
import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rcsqualify.cli.base import (
    CacheKeyFile,
    CacheKeyInStore,
    CacheUrl,
    Debug,
    F,
    MaxUnmapped,
    WaitLock,
    app,
    fail,
    reports_errors,
    stderr_console,
)
from rcsqualify.errors import ExitCode, InputError
from rcsqualify.providers import CAPABILITY_CHOICES
from rcsqualify.remote.policy import DEFAULT_POLICY
from rcsqualify.settings import (
    DEFAULT_BOTHUB_TOKEN_URL,
    DEFAULT_BOTHUB_URL,
    DEFAULT_RBM_URL,
    SAMPLE_MAX,
    Settings,
)
from rcsqualify.textsafe import safe_line, safe_lines

#: options that ``check`` and ``probe`` share: written once
BothubUrl = Annotated[str, typer.Option(envvar="RCSQUALIFY_BOTHUB_URL",
                                        help="BotHub API base URL.")]
BothubTokenUrl = Annotated[str, typer.Option(envvar="RCSQUALIFY_BOTHUB_TOKEN_URL",
                                             help="BotHub OAuth token URL.")]
BotId = Annotated[str | None, typer.Option(envvar="RCSQUALIFY_BOTHUB_BOT_ID",
                                           help="BotHub bot id.")]
BotKeyFile = Annotated[Path | None, typer.Option(
    envvar="RCSQUALIFY_BOTHUB_KEY_FILE", help="Bot private key (PEM) for the GSMA JWT.")]
Rate = Annotated[float, typer.Option(envvar="RCSQUALIFY_RATE",
                                     help="Requests per second per provider.")]
MnpRegion = Annotated[str | None, typer.Option(
    envvar="RCSQUALIFY_MNP_REGION", help="The MNP profile's region (twilio: us1, the "
    "default, or ie1, Twilio's Ireland region, which EU numbers such as French ones may "
    "need: Twilio error 60614); its base URL unless --mnp-url is given.")]


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
    skip_rows: Annotated[int | None, typer.Option(
        "--skip-rows", help="Skip N non-blank rows above the header (CSV, XLSX, XLS). "
        "Default: one title row (a single cell above a row of labels) is skipped.")]
    = None,
    header_row: Annotated[int | None, typer.Option(
        "--header-row", help="The header is row N, counting non-blank rows from 1 "
        "(--skip-rows N-1).")] = None,
    csv_escape: Annotated[bool, typer.Option(
        "--csv-escape/--no-csv-escape", help="Prefix with ' the input cells a spreadsheet "
        "would run as formulas (=, @, +, -...) in CSV outputs and lists.")] = True,
    csv_dialect: Annotated[str | None, typer.Option(
        "--csv-dialect", help="CSV outputs and lists: excel-fr (';' and a UTF-8 BOM, as "
        "French Excel opens them) or standard (',' and UTF-8 without BOM). Default: "
        "excel-fr for an XLSX/XLS or ';' CSV input, else the input's delimiter.")] = None,
    excel: Annotated[bool, typer.Option(
        "--excel", help="Same as --csv-dialect excel-fr.")] = False,
    operator: Annotated[str, typer.Option(help="Target operator, ARCEP code.",
                                          envvar="RCSQUALIFY_OPERATOR")] = "FRTE",
    threshold: Annotated[float, typer.Option(help="Gate threshold on the error ratio.",
                                             envvar="RCSQUALIFY_THRESHOLD")] = 0.15,
    gate: Annotated[str, typer.Option(
        envvar="RCSQUALIFY_GATE",
        help="decide: pass when even the unchecked messages cannot push the ratio over, "
        "fail when the known errors already do, else undecided (exit 3, with the next "
        "step); known: the error ratio alone (lenient); upper: every unchecked message "
        "a failure (strict).")] = "decide",
    output: Annotated[str | None, typer.Option("--output", "-o", help="Annotated rows: "
                                               ".csv, .ndjson or .parquet.")] = None,
    json_report: Annotated[str | None, typer.Option(help="JSON report path, - for stdout.")]
    = None,
    split_dir: Annotated[str | None, typer.Option(
        help="Write send_rcs, other_operators, not_rcs, unverified and remove lists here.")]
    = None,
    split_xlsx: Annotated[bool, typer.Option(
        help="Also write the lists as .xlsx with text cells (spreadsheet-safe).")] = False,
    wait_lock: WaitLock = 0.0,
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
    portability_max_unmapped: MaxUnmapped = 0.01,
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
    mnp_region: MnpRegion = None,
    capability: Annotated[str, typer.Option(
        help="Capability provider: " + ", ".join(CAPABILITY_CHOICES) + ".")] = "none",
    bothub_url: BothubUrl = DEFAULT_BOTHUB_URL,
    bothub_token_url: BothubTokenUrl = DEFAULT_BOTHUB_TOKEN_URL,
    bot_id: BotId = None,
    bot_key_file: BotKeyFile = None,
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
    sample: Annotated[str | None, typer.Option(
        metavar="N|auto",
        help="auto: draw unresolved numbers in a seeded order and stop as soon as an "
        "anytime-valid bound decides the gate (or after --sample-max numbers). N: check "
        "only a seeded random sample of N target-operator mobiles and extrapolate (a "
        "fixed-sample interval).")] = None,
    sample_max: Annotated[int, typer.Option(
        min=1, help="--sample auto: draw at most this many numbers (no service is asked "
        "more; retries excluded), then undecided.")] = SAMPLE_MAX,
    confidence: Annotated[float, typer.Option(
        min=0.5, max=0.999, help="Confidence of --sample's bound (auto: each end on its "
        "own; N: the Wilson interval).")] = 0.95,
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
    rate: Rate = DEFAULT_POLICY.rate,
    rate_margin: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_RATE_MARGIN", min=0.0, max=0.5,
        help="Pace this share under --rate, so network jitter never makes arrivals "
        "exceed the quota.")] = DEFAULT_POLICY.margin,
    throttle_pause: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_THROTTLE_PAUSE", help="Seconds to pause after an HTTP 429.")]
    = DEFAULT_POLICY.throttle_pause,
    timeout: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_TIMEOUT", min=0.1,
        help="Whole-request deadline (connect, send, complete answer), seconds.")]
    = DEFAULT_POLICY.timeout,
    max_pause: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_MAX_PAUSE", min=0.0,
        help="Longest pause a server's Retry-After may impose (and the longest this run "
        "waits for a pause another run set), seconds.")]
    = DEFAULT_POLICY.max_pause,
    max_paused: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_MAX_PAUSED", min=0.0,
        help="Give a service up for the run when it answers only HTTP 429 for this many "
        "seconds (or 30 times in a row): the rest stays unverified (exit 3), or exit 2 "
        "if it never answered.")]
    = DEFAULT_POLICY.max_paused,
    max_requests: Annotated[int | None, typer.Option(
        envvar="RCSQUALIFY_MAX_REQUESTS", min=1,
        help="Stop after this many requests per service (the rest stays unverified, "
        "exit 3).")] = None,
    retry_backoff: Annotated[float, typer.Option(
        envvar="RCSQUALIFY_RETRY_BACKOFF",
        help="First wait before retrying a 5xx/timeout/reset, seconds (doubles each time).")]
    = DEFAULT_POLICY.backoff_initial,
    cache_dir: Annotated[Path | None, typer.Option(envvar="RCSQUALIFY_CACHE_DIR",
                                                   help="Cache directory.")] = None,
    cache_url: CacheUrl = None,
    cache_key_file: CacheKeyFile = None,
    cache_key_in_store: CacheKeyInStore = False,
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
        envvar="RCSQUALIFY_LANG", help="Language of the HTML and Markdown reports: fr or en "
        "(default: from the locale; C, POSIX or unset, as under cron, gives French).")]
    = None,
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
    from rcsqualify.runner import execute_check

    if capability not in CAPABILITY_CHOICES:
        raise fail(f"--capability must be one of {', '.join(CAPABILITY_CHOICES)}",
                    int(ExitCode.USAGE))
    settings = check_settings(ctx, {k: v for k, v in locals().items() if k != "ctx"})
    console = stderr_console()
    if dry_run:
        from rcsqualify.report.terminal import dry_run_lines
        from rcsqualify.runner import execute_dry_run

        for line in dry_run_lines(execute_dry_run(settings, console)):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(0)
    render_and_exit(execute_check(settings, console), console, quiet)


def render_and_exit(run: Any, console: Any, quiet: bool) -> None:
    """The verdict line alone (quiet: one line whatever its length, logs and CI grep it)
    or the whole summary; then the gate's exit code."""
    if quiet:  # report.wording: the terminal summary's module would import rich
        from rcsqualify.report.wording import verdict_line

        console.print(verdict_line(run.summary), markup=False, highlight=False,
                      soft_wrap=True)
    else:
        from rcsqualify.report.terminal import print_summary

        print_summary(run.summary, console)
    raise typer.Exit(run.summary.exit_code)


def check_settings(ctx: typer.Context, params: dict[str, Any]) -> Settings:
    """``check``'s Settings from its parameters (after the profile was applied): the
    option names are the field names; a few values need a word (the MNP URL of a named
    profile, the CI variables, the profile's credential references)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(Settings)}
    values = {k: v for k, v in params.items() if k in names}
    values.update(sample_options(params.get("sample")))
    values.update(
        portability=list(params.get("portability") or []),
        mnp_url=mnp_url_of(params.get("mnp_profile"), params.get("mnp_url"),
                           params.get("mnp_region")),
        step_summary=os.environ.get("GITHUB_STEP_SUMMARY") or None,
        github_actions=os.environ.get("GITHUB_ACTIONS") == "true",
        credential_refs=dict(profile_credentials(ctx)),
        config=config_read(ctx, params.get("config")))
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
    wait_lock: WaitLock = 0.0,
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
        settings = check_settings(sub, params)
    if settings.dry_run:
        raise fail("refresh: --dry-run is for 'check'", int(ExitCode.USAGE))
    quiet = settings.quiet or not sys.stderr.isatty()
    settings = dataclasses.replace(settings, quiet=quiet, debug=settings.debug or debug)
    console = stderr_console()
    render_and_exit(run_refresh(settings, base, split_dir or default_lists(base), log_file,
                                wait_lock, console), console, quiet)


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
    mnp_region: MnpRegion = None,
    bothub_url: BothubUrl = DEFAULT_BOTHUB_URL,
    bothub_token_url: BothubTokenUrl = DEFAULT_BOTHUB_TOKEN_URL,
    bot_id: BotId = None,
    bot_key_file: BotKeyFile = None,
    rate: Rate = DEFAULT_POLICY.rate,
    timeout: Annotated[float, typer.Option(envvar="RCSQUALIFY_TIMEOUT", min=0.1,
                                           help="Whole-request deadline, seconds.")]
    = DEFAULT_POLICY.timeout,
    debug: Debug = False,
) -> None:
    """Send one look-up and print the raw answer (the number and every secret masked) and
    what rcsqualify makes of it: for onboarding a service. Exit 0 when the answer is
    recognized, 3 when it is not, 2 on a configuration error."""
    from rcsqualify.numbering.normalize import normalize_e164_list
    from rcsqualify.probe import probe as run_probe

    e164, bad = normalize_e164_list([number])
    if bad:
        raise fail("probe: the number is not a French number", int(ExitCode.USAGE))
    settings = Settings(capability=capability, mnp_profile=mnp_profile,
                        mnp_region=mnp_region,
                        mnp_url=mnp_url_of(mnp_profile, mnp_url, mnp_region)
                        if capability == "none" else mnp_url, mnp_field=mnp_field,
                        bothub_url=bothub_url,
                        bothub_token_url=bothub_token_url, bot_id=bot_id,
                        bot_key_file=bot_key_file, rate=rate, timeout=timeout, debug=debug)
    result = run_probe(settings, e164[0])
    # the server's words are data: one sanitizer (textsafe), no line a workflow command
    typer.echo(safe_line(f"service: {result.service}"))
    typer.echo(safe_line(f"request: {result.request}"))
    typer.echo(safe_line(f"answer: HTTP {result.status} "
                         f"{result.content_type or '(no content type)'} ({result.size} bytes)"))
    typer.echo(safe_lines(result.body))
    typer.echo(safe_line(f"rcsqualify reads: {result.meaning}"))
    raise typer.Exit(0 if result.recognized else int(ExitCode.INCOMPLETE))
