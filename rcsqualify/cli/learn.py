"""``rcsqualify learn EVENTS…``: a sent campaign's delivery events into the cache, and
its actual error ratio beside the projection (issue #28; ``docs/learn.md``).

The capability scope is named exactly as ``check`` names it: the options that ``check``
also has (``--capability``, ``--bothub-url``, ``--bot-id``, ``--require-feature``,
``--rbm-url``, ``--agent-id``, the cache options, ``--config`` and ``--profile``) are
``check``'s own declarations (``settings.py``, ``cli/options.py``), so their
environment variables, configuration profile and defaults apply as they do for
``check``.
"""

# annotations evaluated at import: see cli/base.py

from pathlib import Path
from typing import Annotated, Any

import typer

from rcsqualify.cli.base import app, fail, reports_errors, stderr_console, stdout_console
from rcsqualify.cli.check import applies_profile, config_read, profile_credentials
from rcsqualify.cli.options import with_options
from rcsqualify.errors import ExitCode

#: check's options that learn takes (declared once, in settings.py)
LEARN_OPTIONS = ("capability", "bothub_url", "bot_id", "require_feature", "rbm_url",
                 "agent_id", "cache_dir", "cache_url", "cache_key_file",
                 "cache_key_in_store", "config", "profile", "json_report", "html_report",
                 "markdown_report", "history", "lang", "quiet", "debug")
_REPORTS = (("json_report", "json", "--json-report"),
            ("html_report", "html", "--html-report"),
            ("markdown_report", "markdown", "--markdown-report"))


@app.command()
@reports_errors
@applies_profile
@with_options(names=LEARN_OPTIONS, helps={
    "capability": "The capability service the campaign went through (bothub, bothub-bulk, "
    "rbm, rbm-batch): learned answers serve every mode of that bot or agent.",
    "require_feature": "BotHub: the --require-feature of the checks to serve.",
    "bot_id": "BotHub bot id: the bot the campaign was sent by (no credential needed: "
    "learn asks nothing).",
    "agent_id": "RBM agent id: the agent the campaign was sent by (no credential "
    "needed: learn asks nothing).",
    "json_report": "JSON report of what was learned (counts only), - for stdout.",
    "html_report": "HTML report: actual against projected.",
    "markdown_report": "Markdown report: actual against projected.",
    "history": "A run log (refresh --log-file, check --history) to append the "
    "campaign's actual error ratio to: the HTML report's trend draws it beside the "
    "projections.",
    "profile": "Configuration profile, as for check (--outcomes names the outcome "
    "profile)."})
def learn(
    ctx: typer.Context,
    events: Annotated[list[Path], typer.Argument(
        help="Delivery events of a sent campaign: NDJSON (webhook events, one a line), "
        "CSV, XLSX or Parquet (one row a message).", show_default=False)],
    outcomes: Annotated[str, typer.Option(
        help="Outcome profile: generic (columns number, outcome = delivered|read|not_rcs|"
        "failed), rbm (Google RBM events and send errors), maap (GSMA MaaP messageStatus), "
        "or the path of a .toml profile.")] = "generic",
    sent: Annotated[Path | None, typer.Option(
        help="CSV mapping message ids to numbers (columns message_id, number), for events "
        "that carry only a message id.")] = None,
    projection: Annotated[Path | None, typer.Option(
        help="The --json-report of the check run that produced the send list: its "
        "projection is shown beside the actual error ratio (alone: the whole send "
        "list's; with --checked: for the messages actually sent, with its sampling "
        "bound).")] = None,
    checked: Annotated[list[Path] | None, typer.Option(
        help="The annotated output (--output) or the --split-dir lists of that check "
        "run (repeat for several lists): the projection is rebuilt for the numbers the "
        "messages were actually sent to.", show_default=False)] = None,
    **options: Any,
) -> None:
    """Learn from what a campaign actually did: delivered or read → RCS-reachable now,
    refused as not RCS → not RCS now, written to the cache (source delivery, dated at
    the event; a newer look-up wins), so the next check asks nothing for them. Prints
    the campaign's actual error ratio beside the projection.
    Exit codes: 0 learned, 2 bad input or configuration, 130 interrupted (what was read
    so far is learned)."""
    from rcsqualify.ci import report_lang
    from rcsqualify.files import atomic_write, refuse_overwrite
    from rcsqualify.learn.apply import capability_scope, load_sent
    from rcsqualify.learn.apply import learn as run_learn
    from rcsqualify.learn.profiles import load_outcome_profile
    from rcsqualify.learn.projection import load_checked, load_projection
    from rcsqualify.learn.report import (
        append_history,
        render,
        sent_warning,
        terminal_lines,
        verdict,
    )
    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.settings import Settings
    from rcsqualify.wiring import make_cache

    given = options
    history = None if given["history"] is None else Path(given["history"])
    outputs = [(opt, given[name]) for name, _, opt in _REPORTS
               if given[name] is not None and str(given[name]) != "-"]
    checked = list(checked or [])
    refuse_overwrite([*(("events file", e) for e in events), ("--sent", sent),
                      ("--projection", projection), *(("--checked", c) for c in checked)],
                     [*outputs, ("--history", history)])
    for path in events:
        if not path.is_file():
            raise fail(f"{path}: no such events file", int(ExitCode.USAGE))
    outcome_profile = load_outcome_profile(outcomes)
    options["config"] = config_read(ctx, options["config"])
    settings = Settings(**options, credential_refs=profile_credentials(ctx))
    scope = capability_scope(settings)
    lang = report_lang(settings)  # HTML and Markdown: check's language rule
    plan = load_plan()
    sent_map = load_sent(sent, plan) if sent is not None else None
    if sent_map is not None and (line := sent_warning(sent_map.describe())):
        stderr_console().print(f"warning: {line}", markup=False, highlight=False)
    projected = load_projection(projection) if projection is not None else None
    verdicts = load_checked(checked, plan) if checked else None
    cache = make_cache(settings)
    try:
        result = run_learn(events, outcome_profile, scope, cache, plan, sent=sent_map,
                           projection=projected, checked=verdicts)
    finally:
        cache.close()
    for name, fmt, _ in _REPORTS:
        target = given[name]
        if target is None:
            continue
        text = render(fmt, result, lang)
        if str(target) == "-":
            typer.echo(text, nl=False)
            continue
        with atomic_write(Path(target)) as tmp:
            tmp.write_text(text, encoding="utf-8")
    if history is not None:
        append_history(history, result)
    # a report on stdout is the whole of stdout (the lines would corrupt it)
    on_stdout = any(str(given[name]) == "-" for name, _, _ in _REPORTS)
    console = None if on_stdout else stdout_console(soft_wrap=True)
    if console is not None:
        for line in ([verdict(result)] if given["quiet"] else terminal_lines(result)):
            console.print(line, markup=False, highlight=False)
    if result.interrupted:
        code = result.exit_code or 130
        raise fail(f"{'interrupted' if code == 130 else 'terminated'}; what was read "
                   "before is learned", code)
    if result.degraded:
        raise fail(f"the cache failed ({result.degraded}): not everything learned was "
                   "kept", int(ExitCode.USAGE))
