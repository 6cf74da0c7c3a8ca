"""``rcsqualify init``: write a commented profile into the config file (issue #26 item 2).

Nobody should have to learn TOML and the option names to start a profile. ``init`` asks
its questions on a terminal (or takes flags in a script), writes one ``[profiles.NAME]``
table with a comment above each key, and checks the result exactly as ``check`` will
read it (``config.load_profile``) before the file is replaced, atomically.

Rules, each one tested:
- never overwrite: a profile already in the file is exit 2 unless ``--force``, which
  replaces that profile's table only (the other profiles, their comments and the rest of
  the file stay byte for byte);
- secrets only as references: a credential flag takes ``env:VAR`` (or a bare variable
  name), never a value; something that is not a variable name is refused without being
  shown;
- ``lang`` is recorded (the reports' language: cron runs in the C locale, which gives
  French, and a profile makes the choice explicit).
"""

# annotations evaluated at import: see cli/base.py

import datetime as dt
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from rcsqualify.cli.base import Debug, app, reports_errors
from rcsqualify.cli.options import cli_default
from rcsqualify.defaults import LANGS, THRESHOLD
from rcsqualify.errors import InputError
from rcsqualify.providers import CAPABILITY, CAPABILITY_CHOICES, check_capability
from rcsqualify.settings import check_choice

#: a profile name that is a bare TOML key (no quoting to get wrong)
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: an environment variable name
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
#: how environment variables are written by convention (POSIX: upper case, digits, _)
_CONVENTIONAL = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
MNP_PROFILES = ("none", "generic", "twilio", "hlr-lookups")
#: credential key → (the variable it stands for by default, when a set-up needs it)
_MNP_CREDENTIALS = {"bearer": ("mnp-token",), "basic": ("mnp-user", "mnp-password"),
                    "digest": ("mnp-key", "mnp-secret")}
_COMMENTS = {
    "capability": "RCS capability check: none (offline), bothub (per number, for tests), "
                  "bothub-bulk (nightly jobs), rbm, rbm-batch",
    "bot-id": "the BotHub bot whose capability look-ups are made",
    "bothub-url": "BotHub API base URL",
    "bothub-token-url": "Orange OAuth token URL",
    "bothub-client-id": "Orange API credentials: the environment variables holding them",
    "agent-id": "the Google RBM agent",
    "rbm-credentials": "the RBM service-account file (relative: beside this file)",
    "rbm-url": "Google RBM API base URL",
    "mnp-profile": "MNP look-ups (who serves each number today): generic, twilio, "
                   "hlr-lookups or a .toml profile file",
    "mnp-url": "the MNP service: a URL template with {msisdn} (generic), else its base URL",
    "mnp-region": "the MNP service's region (twilio: ie1 for French numbers)",
    "mnp-token": "MNP credentials: the environment variables holding them",
    "mnp-user": "MNP credentials: the environment variables holding them",
    "mnp-key": "MNP credentials: the environment variables holding them",
    "cache-url": "the look-up cache: a directory, or redis://host:port/db (password in "
                 "RCSQUALIFY_REDIS_PASSWORD, never here)",
    "cache-key": "the cache key, kept outside the cache (openssl rand -hex 32)",
    "threshold": f"the gate's threshold: a share, {THRESHOLD:g} for Orange's "
                 f"{round(THRESHOLD * 100)} %",
    "lang": "language of the HTML and Markdown reports, fr or en (under cron the C locale "
            "would give French)",
}
#: shown commented out, for the reader to switch on
_SUGGESTIONS = [
    f"# threshold = {cli_default('threshold'):<20g} # the gate's threshold (a share)",
    f"# rate = {cli_default('rate'):<25g} # requests per second per service",
    "# portability-db = \"store.parquet\" # a portability store (relative: beside this file)",
    "# cache-url = \"redis://cache.internal:6379/0\"   # one cache for several hosts",
]


def _reference(key: str, given: str | None) -> str | None:
    """``env:VAR`` for a credential flag; a literal secret is refused (not shown)."""
    if given is None or not given.strip():
        return None
    text = given.strip()
    name = text[4:].strip() if text.startswith("env:") else text
    # a bare word is taken for a variable only when written like one (TWILIO_SID): a
    # mixed-case secret pasted here ('aB3xK9…') must not land in the file as env:aB3xK9…
    bare_secret = not text.startswith("env:") and not _CONVENTIONAL.fullmatch(name)
    if bare_secret or not _VARIABLE.fullmatch(name):
        raise InputError(f"--{key}: give the name of the environment variable that holds "
                         "it (env:VARIABLE); a secret is never written in the config file "
                         "(the value is not shown)")
    return f"env:{name}"


def _toml(value: Any) -> str:
    """A TOML value: JSON's string escapes are TOML's basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def profile_table(name: str, values: dict[str, Any], today: dt.date) -> str:
    """The commented ``[profiles.NAME]`` table ``init`` writes."""
    out = [f"# profile {name}, written by 'rcsqualify init' on {today.isoformat()}; "
           f"rcsqualify init --profile {name} --force rewrites it, the other profiles stay.",
           "# Keys are the long options of 'rcsqualify check' without the dashes;",
           "# credentials are references (\"env:VARIABLE\" or KEY-file = \"PATH\"), never "
           "the secret itself.",
           f"[profiles.{name}]"]
    said: set[str] = set()
    for key, value in values.items():
        comment = _COMMENTS.get(key)
        if comment and comment not in said:
            out.append(f"# {comment}")
            said.add(comment)
        out.append(f"{key} = {_toml(value)}")
    out += _SUGGESTIONS
    return "\n".join(out) + "\n"


def _span(lines: list[str], name: str) -> tuple[int, int] | None:
    """Lines [start, end) of profile ``name``'s table, with the comment block ``init``
    wrote above it; None when the file does not hold it as a ``[profiles.NAME]`` table."""
    header = re.compile(r"\s*\[\s*profiles\s*\.\s*(?:" + re.escape(name) + r'|"'
                        + re.escape(name) + r'"|\'' + re.escape(name) + r"')\s*\]\s*(#.*)?")
    start = next((i for i, line in enumerate(lines) if header.fullmatch(line.rstrip("\n"))),
                 None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].lstrip().startswith("[")), len(lines))
    first = start
    while first > 0 and lines[first - 1].startswith("#"):
        first -= 1
    if not lines[first].startswith(f"# profile {name}, written by 'rcsqualify init'"):
        first = start  # comments someone else wrote: they stay
    while end > start + 1 and lines[end - 1].strip() == "":
        end -= 1  # the blank lines before the next table stay
    notes = end
    while notes > start + 1 and lines[notes - 1].lstrip().startswith("#"):
        notes -= 1
    if notes < end and lines[notes - 1].strip() == "":
        # comments after a blank line introduce what follows (the next table): they stay
        end = notes - 1
        while end > start + 1 and lines[end - 1].strip() == "":
            end -= 1
    return first, end


def new_config_text(current: str | None, name: str, table: str, force: bool,
                    path: Path) -> str:
    """The whole file with ``table`` added (or, with ``force``, put in place of the
    profile's table); exit 2 when the profile is there and ``force`` is not given."""
    if current is None or not current.strip():
        return table
    try:
        profiles = tomllib.loads(current).get("profiles", {})
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc}); fix it before adding a "
                         "profile") from None
    if name not in profiles:
        return current.rstrip("\n") + "\n\n" + table
    if not force:
        raise InputError(f"{path}: profile {name!r} is already there; --force replaces "
                         "that profile (the other profiles stay), or choose another "
                         "--profile")
    lines = current.splitlines(keepends=True)
    span = _span(lines, name)
    if span is None:
        raise InputError(f"{path}: profile {name!r} is not written as a [profiles.{name}] "
                         "table; edit the file by hand")
    first, end = span
    return "".join(lines[:first]) + table + "".join(lines[end:])


def _check_written(text: str, path: Path, name: str) -> None:
    """Read the new file exactly as ``check`` will (every key, references, paths
    relative to the file) before it replaces the old one."""
    import typer.main

    from rcsqualify.cli import check as registered  # noqa: F401  (check's options)
    from rcsqualify.cli.base import app
    from rcsqualify.config import load_profile, option_params
    from rcsqualify.files import remove_temporaries, temporary_file

    fd, tmp = temporary_file(f".{path.name}.", path.parent, ".check")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # check's options from its own module: importing the whole CLI (``rcsqualify.cli``
        # imports this module) would close an import cycle
        check = typer.main.get_command(app).commands["check"]  # type: ignore[attr-defined]
        load_profile(tmp, name, option_params(check))
    finally:
        remove_temporaries([os.fspath(tmp)])


def _interactive(no_input: bool) -> bool:
    return not no_input and sys.stdin.isatty() and sys.stdout.isatty()


def _ask(question: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
    """One question on the terminal; with ``choices``, asked again until one is given."""
    shown = f"{question} ({'/'.join(choices)})" if choices else question
    while True:
        answer = str(typer.prompt(shown, default=default)).strip()
        if not choices or answer in choices:
            return answer
        typer.echo(f"one of: {', '.join(choices)}", err=True)


def _ask_name() -> str:
    """The profile's name, asked again until it is a bare TOML key."""
    while True:
        name = _ask("Profile name", "default")
        if _NAME.fullmatch(name):
            return name
        typer.echo("letters, digits, '-' and '_' (at most 64)", err=True)


def _ask_mnp_url(mnp_profile: str, region: str | None) -> str | None:
    """The MNP service's URL: a template with {msisdn} for generic, else the service's
    base URL, its own shown as the default (None when the default is kept: the profile
    then follows the service's URL as rcsqualify knows it)."""
    from rcsqualify.operators.mnp_profiles import load_profile
    from rcsqualify.validation import check_url

    known = load_profile(mnp_profile)
    if region:
        known = known.in_region(region)
    while True:
        answer = _ask("MNP URL template (with {msisdn})" if known.is_template
                      else "MNP service base URL", known.url or None)
        try:  # a typo is asked again, as a choice is, rather than found by the first run
            check_url("the MNP URL", answer)
        except InputError as exc:
            typer.echo(str(exc), err=True)
            continue
        if known.is_template and "{msisdn}" not in answer:
            typer.echo("a template holds {msisdn} where the number goes", err=True)
            continue
        return None if answer == known.url else answer


@app.command()
@reports_errors
def init(
    profile: Annotated[str | None, typer.Option(
        help="Name of the profile to write (asked on a terminal; else default).",
        show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(
        envvar="RCSQUALIFY_CONFIG", help="The config file to write (default: config.toml "
        "in the user config directory).")] = None,
    capability: Annotated[str | None, typer.Option(
        help=f"RCS capability check: {', '.join(CAPABILITY_CHOICES)}.")] = None,
    bot_id: Annotated[str | None, typer.Option(help="BotHub bot id.")] = None,
    agent_id: Annotated[str | None, typer.Option(help="Google RBM agent id.")] = None,
    rbm_credentials: Annotated[str | None, typer.Option(
        help="RBM service-account file (a path, relative to the config file).")] = None,
    mnp_profile: Annotated[str | None, typer.Option(
        help="MNP look-ups: none, generic, twilio, hlr-lookups or a .toml file.")] = None,
    mnp_url: Annotated[str | None, typer.Option(
        help="MNP service URL (generic: a template with {msisdn}).")] = None,
    mnp_region: Annotated[str | None, typer.Option(
        help="MNP service region (twilio: ie1 for French numbers).")] = None,
    emulator: Annotated[str | None, typer.Option(
        help="Point every service at a local 'rcsqualify emulator' (its base URL, e.g. "
        "http://127.0.0.1:8787).")] = None,
    bothub_client_id: Annotated[str | None, typer.Option(
        help="env:VARIABLE holding the BotHub client id (default "
        "RCSQUALIFY_BOTHUB_CLIENT_ID).")] = None,
    bothub_client_secret: Annotated[str | None, typer.Option(
        help="env:VARIABLE holding the BotHub client secret (default "
        "RCSQUALIFY_BOTHUB_CLIENT_SECRET).")] = None,
    mnp_token: Annotated[str | None, typer.Option(
        help="env:VARIABLE holding the MNP bearer token.")] = None,
    mnp_user: Annotated[str | None, typer.Option(
        help="env:VARIABLE holding the MNP user (twilio: Account SID).")] = None,
    mnp_password: Annotated[str | None, typer.Option(
        help="env:VARIABLE holding the MNP password (twilio: auth token).")] = None,
    mnp_key: Annotated[str | None, typer.Option(
        help="env:VARIABLE holding the MNP key (hlr-lookups).")] = None,
    mnp_secret: Annotated[str | None, typer.Option(
        help="env:VARIABLE holding the MNP secret (hlr-lookups).")] = None,
    cache_url: Annotated[str | None, typer.Option(
        help="The cache: a directory or redis://host:port/db (no password in it).")] = None,
    cache_key: Annotated[str | None, typer.Option(
        help="env:VARIABLE holding the cache key (kept outside the cache).")] = None,
    threshold: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help=f"The gate's threshold, a share ({THRESHOLD:g}).")] = None,
    lang: Annotated[str | None, typer.Option(
        help="Language of the HTML and Markdown reports: fr or en (default: from the "
        "locale; C or unset gives French).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace the profile if the file has it (only that profile).")]
    = False,
    no_input: Annotated[bool, typer.Option(
        "--no-input", help="Never ask (the default when not on a terminal).")] = False,
    debug: Debug = False,
) -> None:
    """Write a commented profile into the config file: asks on a terminal, takes flags
    in a script; never overwrites a profile without --force; secrets only as env:VAR
    references. Then check it with 'rcsqualify doctor --profile NAME'."""
    from rcsqualify.config import CREDENTIALS, default_config_path
    from rcsqualify.files import atomic_write, make_folder
    from rcsqualify.report.l10n import default_lang

    ask = _interactive(no_input)
    if profile is None:
        profile = _ask_name() if ask else "default"
    if not _NAME.fullmatch(profile):
        raise InputError("--profile: a name of letters, digits, '-' and '_' (at most 64)")
    path = config if config is not None else default_config_path()
    if path.exists() and not path.is_file():
        raise InputError(f"{path}: not a regular file (--config, RCSQUALIFY_CONFIG)")
    refs = {"bothub-client-id": bothub_client_id, "bothub-client-secret": bothub_client_secret,
            "mnp-token": mnp_token, "mnp-user": mnp_user, "mnp-password": mnp_password,
            "mnp-key": mnp_key, "mnp-secret": mnp_secret, "cache-key": cache_key}
    assert set(refs) <= set(CREDENTIALS)
    if capability is None:
        capability = _ask("RCS capability check", "none", CAPABILITY_CHOICES) if ask else "none"
    check_capability(capability)
    values: dict[str, Any] = {"capability": capability}

    def bothub() -> None:
        given = bot_id if bot_id is not None or not ask else _ask("BotHub bot id") or None
        if given:
            values["bot-id"] = given
        if emulator:
            values["bothub-url"] = emulator.rstrip("/") + "/bothub/v1"
            values["bothub-token-url"] = emulator.rstrip("/") + "/oauth/v3/token"
        for key in ("bothub-client-id", "bothub-client-secret"):
            if refs[key] is None and ask:
                refs[key] = _ask(f"Environment variable holding the {key[7:]}",
                                 CREDENTIALS[key])
            values[key] = _reference(key, refs[key]) or f"env:{CREDENTIALS[key]}"

    def rbm() -> None:
        agent = agent_id if agent_id is not None or not ask else _ask("RBM agent id") or None
        if agent:
            values["agent-id"] = agent
        account = rbm_credentials if rbm_credentials is not None or not ask else (
            _ask("RBM service-account file", "") or None)
        if account:
            values["rbm-credentials"] = account
        if emulator:
            values["rbm-url"] = emulator.rstrip("/")

    # the questions of the chosen provider's service family (the registry's), if any
    questions = {"bothub": bothub, "rbm": rbm}
    entry = CAPABILITY.get(capability)
    if entry is not None and entry.family in questions:
        questions[entry.family]()
    if mnp_profile is None:
        # a URL given (or the emulator's) means a service: the question's default says so
        implied = "generic" if mnp_url or emulator else "none"
        mnp_profile = _ask("MNP look-ups", implied, MNP_PROFILES) if ask else implied
    if mnp_profile != "none":
        values["mnp-profile"] = mnp_profile
        if emulator and not mnp_url:
            mnp_url = (emulator.rstrip("/") + "/mnp/lookup?msisdn={msisdn}"
                       if mnp_profile == "generic" else emulator.rstrip("/"))
        if mnp_region is None and ask and mnp_profile == "twilio":
            mnp_region = _ask("Twilio region (ie1 for French numbers)", "ie1")
        if mnp_url is None and ask:  # after the region: it decides the default URL
            mnp_url = _ask_mnp_url(mnp_profile, mnp_region)
        if mnp_url:
            values["mnp-url"] = mnp_url
        if mnp_region:
            values["mnp-region"] = mnp_region
        scheme = {"twilio": "basic", "hlr-lookups": "digest"}.get(mnp_profile, "bearer")
        for key in _MNP_CREDENTIALS[scheme]:
            if refs[key] is None and ask:
                refs[key] = _ask(f"Environment variable holding the {key}",
                                 CREDENTIALS[key])
            if refs[key] is not None or scheme != "bearer":
                values[key] = _reference(key, refs[key]) or f"env:{CREDENTIALS[key]}"
    for key in [k for k in refs if k.startswith("mnp-")]:
        if refs[key] is not None and key not in values:
            values[key] = _reference(key, refs[key])
    if cache_url:
        values["cache-url"] = cache_url
    if cache_key is not None:
        values["cache-key"] = _reference("cache-key", cache_key)
    if threshold is not None:
        values["threshold"] = threshold
    if lang is None:
        detected = default_lang(os.environ)
        lang = _ask("Language of the reports", detected, LANGS) if ask else detected
    check_choice("--lang", lang, LANGS)
    values["lang"] = lang

    table = profile_table(profile, values, dt.date.today())
    try:
        current = path.read_text(encoding="utf-8") if path.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InputError(f"{path}: cannot read the config file ({why})") from None
    existed = current is not None and f"[profiles.{profile}]" in current
    text = new_config_text(current, profile, table, force, path)

    if not path.parent.is_dir():
        make_folder(path.parent)
    _check_written(text, path, profile)
    with atomic_write(path, mode=None if path.exists() else 0o600) as tmp:
        tmp.write_text(text, encoding="utf-8")
    what = "replaced" if existed else "written"
    typer.echo(f"profile {profile} {what} in {path}")
    typer.echo(f"next: rcsqualify doctor --profile {profile}")
