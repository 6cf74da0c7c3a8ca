"""Profiles: named sets of ``check`` options kept in a TOML file (issue #16 item 3).

Where the file is: ``--config PATH`` (env ``RCSQUALIFY_CONFIG``), else ``config.toml`` in
the user config directory (platformdirs). Never the working directory: a checked-out
repository must not be able to redirect credentials.

What a profile holds: ``[profiles.NAME]`` tables whose keys are ``check``'s long option
names (``bothub-url = "…"``, ``capability = "bothub"``, ``rate = 25``), plus credential
*references*: ``bothub-client-secret = "env:PROD_SECRET"`` or
``bothub-client-secret-file = "/run/secrets/bothub"``. A literal secret is refused, so
the file can be shared and committed to a private repository without leaking one.

Precedence: an option on the command line > the chosen profile > its environment
variable > the default. Click tells where each value came from
(``ctx.get_parameter_source``): a profile value replaces the ones that came from the
environment or the default.

Secrets never enter ``Settings``: it carries the references (``env:VAR``, ``file:PATH``)
and the wiring resolves them at the last moment (``resolve_reference``).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcsqualify.errors import ConfigurationError, InputError, RcsQualifyError
from rcsqualify.files import read_secret_file
from rcsqualify.settings import BOTHUB_SECRETS, MNP_SECRETS

#: credential key in a profile → the environment variable it stands in for: a service's
#: secrets as its options declare them (settings.BOTHUB_SECRETS, MNP_SECRETS: the key is
#: the variable's name without its prefix), and the cache key (remote/cachekey.py;
#: cache-key-file = "PATH" too)
CREDENTIALS: dict[str, str] = {
    **{var.removeprefix("RCSQUALIFY_").lower().replace("_", "-"): var
       for var in (*BOTHUB_SECRETS, *MNP_SECRETS)},
    "cache-key": "RCSQUALIFY_CACHE_KEY",
}
#: options that only the command line may give (a profile or the environment giving
#: them is refused: ``--dry-run`` must never make a CI gate pass by accident)
COMMAND_LINE_ONLY = ("dry-run", "config", "profile", "help", "help-all", "version")
CONFIG_ENV = "RCSQUALIFY_CONFIG"
DRY_RUN_ENV = "RCSQUALIFY_DRY_RUN"


@dataclass(frozen=True)
class Profile:
    """One ``[profiles.NAME]`` table, checked: option values as written in the file (by
    long option name) and credential references (by environment variable)."""

    path: Path
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"profile {self.name} ({self.path})"


def default_config_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path("rcsqualify") / "config.toml"


def config_file(explicit: Path | None) -> Path | None:
    """``--config`` / ``RCSQUALIFY_CONFIG`` (must exist), else the user's config.toml if
    there is one. Never a file of the working directory."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"{explicit}: no such config file (--config, {CONFIG_ENV})")
        return explicit
    path = default_config_path()
    return path if path.is_file() else None


def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names the line and column, never a value
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"profiles"})
    if unknown:
        # a misspelt [profile.prod] or a key above the tables would otherwise be ignored
        # and the run would go on with the defaults
        raise InputError(f"{path}: unknown top-level key {unknown[0]!r}: profiles are "
                         "[profiles.NAME] tables")
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict)
                                                 for v in profiles.values()):
        raise InputError(f"{path}: [profiles.NAME] must be tables")
    return profiles


def load_profile(path: Path, name: str, option_names: Iterable[str]) -> Profile:
    """The profile ``name`` of ``path``, every key checked (exit 2 naming the file, the
    profile and the key; never the value, which may be a secret). The value of an
    option declared a path (``Opt.path`` in settings.py) is read relative to the
    profile's file, never to the working directory: a checked-out repository must not
    redirect it."""
    from rcsqualify.settings import path_keys

    profiles = read_config(path)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise InputError(f"{path}: no profile {name!r} (profiles in the file: {known})")
    allowed = set(option_names) - set(COMMAND_LINE_ONLY)
    paths = path_keys()
    options: dict[str, Any] = {}
    credentials: dict[str, str] = {}
    for key, value in profiles[name].items():
        where = f"{path}: profile {name}, key {key!r}"
        if key in COMMAND_LINE_ONLY:
            raise InputError(f"{where}: --{key} is accepted on the command line only")
        if key in CREDENTIALS:
            if not (isinstance(value, str) and value.startswith("env:")
                    and value[4:].strip()):
                raise InputError(f"{where}: a credential must be a reference, "
                                 f"\"env:VARIABLE\" or {key}-file = \"PATH\"; a literal "
                                 "secret is refused (the value is not shown)")
            credentials[CREDENTIALS[key]] = "env:" + value[4:].strip()
        elif key.endswith("-file") and key[:-5] in CREDENTIALS:
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{where}: must be the path of a file holding the secret")
            credentials[CREDENTIALS[key[:-5]]] = "file:" + str(
                (path.parent / Path(value).expanduser()).resolve())
        elif key in allowed:
            if isinstance(value, str) and _has_password(value):
                raise InputError(f"{where}: a password inside a URL is refused (the file "
                                 "may be shared); give it as a credential reference or in "
                                 "its environment variable (the value is not shown)")
            if key in paths and isinstance(value, str) and value.strip() and (
                    key != "mnp-profile" or value.strip().endswith(".toml")):
                value = _beside(path, value)
            elif key in paths and isinstance(value, list):  # portability = [a, b]
                value = [_beside(path, v) if isinstance(v, str) and v.strip() else v
                         for v in value]
            options[key] = value
        else:
            keys = [*allowed, *CREDENTIALS, *(f"{c}-file" for c in CREDENTIALS)]
            close = difflib.get_close_matches(key, keys, n=1, cutoff=0.75)
            if close:  # a typo: the one key it most likely meant
                raise InputError(f"{where} is not an option of 'rcsqualify check': did you "
                                 f"mean {close[0]!r}?")
            raise InputError(f"{where} is not an option of 'rcsqualify check' (keys are "
                             "long option names without the dashes, e.g. bothub-url, "
                             "or credential references: " + ", ".join(CREDENTIALS) + ")")
    return Profile(path=path, name=name, options=options, credentials=credentials)


def _beside(config: Path, value: str) -> str:
    """A profile's path value, relative to the profile's file (absolute ones kept)."""
    return str((config.parent / Path(value.strip()).expanduser()).resolve())


#: query parameters that carry a password (redis-py reads ``?password=``)
_PASSWORD_PARAMETERS = frozenset({"password", "pass", "passwd", "pwd"})


def _has_password(value: str) -> bool:
    """A URL carrying a password: ``user:password@`` (``redis://:pw@host``,
    ``https://u:p@host``) or a ``?password=`` parameter. A URL with user information
    that does not parse counts as one: what the client would make of it is unknown."""
    from urllib.parse import parse_qsl, urlsplit

    if "://" not in value:
        return False
    try:
        url = urlsplit(value.strip())
        if url.password:
            return True
    except ValueError:
        return "@" in value
    return any(k.lower() in _PASSWORD_PARAMETERS and v
               for k, v in parse_qsl(url.query, keep_blank_values=True))


def refuse_dry_run_from_environment(environ: Mapping[str, str] = os.environ) -> None:
    if environ.get(DRY_RUN_ENV):
        raise InputError(f"{DRY_RUN_ENV} is refused: --dry-run is accepted on the command "
                         "line only, so that a CI gate never passes without checking")


# -- credentials, resolved at the last moment ----------------------------------------
def resolve_reference(ref: str, what: str) -> str:
    """The secret behind ``env:VAR`` or ``file:PATH``; a missing one is exit 2 naming
    the variable or file, never a value."""
    kind, _, target = ref.partition(":")
    if kind == "env":
        value = os.environ.get(target, "").strip()
        if not value:
            raise ConfigurationError(f"{what} is missing: the profile says env:{target}, "
                                     f"and {target} is not set — fix: export {target}=… "
                                     "(under cron: in the job's environment)")
        return value
    try:
        value = read_secret_file(target).decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigurationError(f"{what}: cannot read the file the profile names "
                                 f"({target}: {why})") from None
    if not value:
        raise ConfigurationError(f"{what}: the file the profile names is empty ({target})")
    return value


def credential_env(refs: Mapping[str, str], names: Iterable[str],
                   environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment with the profile's references for ``names`` resolved over it (for
    code that reads credentials from an environment mapping)."""
    env = dict(environ)
    for name in names:
        if name in refs:
            env[name] = resolve_reference(refs[name], name)
    return env


def describe_reference(ref: str) -> str:
    """Where a credential comes from, and whether it is there; never its value."""
    kind, _, target = ref.partition(":")
    if kind == "env":
        return f"env:{target} ({'set' if os.environ.get(target, '').strip() else 'NOT SET'})"
    return f"file {target} ({'readable' if os.access(target, os.R_OK) else 'NOT READABLE'})"


# -- applying a profile to a command's parameters (Click) ----------------------------
#: Click's parameter sources a profile value replaces (names of ParameterSource)
_REPLACEABLE = ("ENVIRONMENT", "DEFAULT", "DEFAULT_MAP")
META_KEY = "rcsqualify.profile"
#: the parameters whose value the profile gave (``ctx.meta``)
APPLIED_KEY = "rcsqualify.profile.applied"


def option_params(command: Any) -> dict[str, Any]:
    """Long option name without dashes → the Click parameter (``--no-header`` and the
    other negative forms are not keys: ``header = false`` says it)."""
    return {opt[2:]: param for param in command.params
            for opt in getattr(param, "opts", ()) if opt.startswith("--")}


def chosen_profile(config: Path | None, name: str | None,
                   option_names: Iterable[str]) -> Profile | None:
    if name is None:
        return None
    path = config_file(config)
    if path is None:
        raise InputError(f"--profile {name}: no config file (give --config or "
                         f"{CONFIG_ENV}, or create {default_config_path()})")
    return load_profile(path, name, option_names)


def apply_profile(ctx: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the chosen profile's values for every parameter that did not
    come from the command line (option > profile > environment > default). The profile
    is kept in ``ctx.meta[META_KEY]`` for its credential references and for
    ``config show``."""
    from rcsqualify.settings import option_keys

    refuse_dry_run_from_environment()
    params = option_params(ctx.command)
    # a profile holds check's options: a command that takes fewer (probe) applies its own
    profile = chosen_profile(kwargs.get("config"), kwargs.get("profile"),
                             {*params, *option_keys()})
    ctx.meta[META_KEY] = profile
    if profile is None:
        return kwargs
    out = dict(kwargs)
    applied: set[str] = set()
    ctx.meta[APPLIED_KEY] = applied
    for key, raw in profile.options.items():
        param = params.get(key)
        if param is None:
            continue  # an option of check that this command does not take
        source = ctx.get_parameter_source(param.name)
        if source is not None and source.name not in _REPLACEABLE:
            continue  # given on the command line: it wins
        applied.add(param.name)
        if getattr(param, "multiple", False) and isinstance(raw, str):
            raw = [raw]  # ``column = "Tel"``: one value of a repeatable option
        if not getattr(param, "is_flag", False) and any(
                isinstance(v, bool) for v in (raw if isinstance(raw, list) else [raw])):
            # Typer's lax coercion made ``threshold = true`` 1.0 (a gate that always
            # passes); ``--threshold true`` is refused on the command line
            raise InputError(f"{profile.path}: profile {profile.name}, key {key!r}: "
                             "true or false is no value of this option")
        try:
            out[param.name] = param.process_value(ctx, raw)
        except Exception as exc:  # Click's BadParameter: the message names no value
            why = getattr(exc, "message", None) or type(exc).__name__
            raise InputError(f"{profile.path}: profile {profile.name}, key {key!r}: "
                             f"{' '.join(str(why).split())}") from None
    return out


def applied_by_profile(ctx: Any) -> frozenset[str]:
    """The parameters whose value the chosen profile gave in this context."""
    return frozenset(ctx.meta.get(APPLIED_KEY, ()))


def naming_the_profile(ctx: Any, exc: RcsQualifyError) -> RcsQualifyError | None:
    """``exc`` reworded to name the profile, its file and the key when the option its
    message starts with (``--rate must be ...``) took its value from the chosen
    profile (issue #26 item 3): the user never typed it. None when it did not."""
    import re

    profile = profile_of(ctx)
    if profile is None:
        return None
    text = str(exc)
    match = re.match(r"--([a-z][a-z0-9-]*)", text)
    param = option_params(ctx.command).get(match.group(1)) if match else None
    if match and match.group(1) in profile.options and param is not None and (
            param.name in applied_by_profile(ctx)):
        text = f"{profile.path}: profile {profile.name}, key {match.group(1)!r}: {text}"
    elif (key := _key_whose_value_failed(ctx, text, profile)) is not None:
        text = f"{profile.path}: profile {profile.name}, key {key!r}: {text}"
    else:
        text = credentials_as_read(text, profile)
        if text == str(exc):
            return None
    named = type(exc)(text)
    named.exit_code = exc.exit_code
    return named


def _key_whose_value_failed(ctx: Any, text: str, profile: Profile) -> str | None:
    """The profile key whose value an error names without naming its option: a file
    the profile gives that is missing (``PATH: no such file``, the path as resolved
    beside the profile) or a column it names that the input lacks (``no column X``)."""
    import re

    params, applied = option_params(ctx.command), applied_by_profile(ctx)
    for key, raw in profile.options.items():
        param = params.get(key)
        if param is None or param.name not in applied:
            continue
        for value in raw if isinstance(raw, list) else [raw]:
            if isinstance(value, str) and value and (
                    text.startswith(f"{value}:")
                    or re.match(rf"no column '?{re.escape(value)}'?(;|$)", text)):
                return key
    return None


def credentials_as_read(text: str, profile: Profile) -> str:
    """``text`` with each credential variable it names (``check
    RCSQUALIFY_BOTHUB_CLIENT_ID``) replaced by what the profile reads instead (its
    ``env:`` variable or file), so a hint never sends the user to a variable the run
    did not read (issue #26 item 3)."""
    import re

    for key, standard in CREDENTIALS.items():
        ref = profile.credentials.get(standard)
        if ref is None:
            continue
        kind, _, target = ref.partition(":")
        said = (f"{target} (profile {profile.name}'s {key})" if kind == "env" else
                f"the file {target} (profile {profile.name}'s {key}-file)")
        # split and joined, not re.sub: a file name may hold backslashes; the profile
        # and key said at the first mention only (a message naming the variable twice
        # said "(profile prod's bothub-client-id)" twice)
        first, *rest = re.split(rf"\b{standard}\b", text)
        if rest:
            plain = target if kind == "env" else f"the file {target}"
            text = first + said + plain.join(rest)
    return text


def profile_of(ctx: Any) -> Profile | None:
    profile: Profile | None = ctx.meta.get(META_KEY)
    return profile


#: options whose values are webhook URLs: a credential in the path (Slack, Teams), so
#: ``config show`` prints an ``env:`` reference as is and a URL as its scheme and host
WEBHOOK_KEYS = frozenset({"notify"})


def effective_settings(ctx: Any, values: Mapping[str, Any], changed: bool = False
                       ) -> list[tuple[str, str, str]]:
    """(option, value, where it came from) for ``config show``: the command line, the
    profile, the environment variable, or the default; credentials by reference only.
    ``changed``: only the values that differ from the defaults (``config show
    --changed``), and the credentials that are set."""
    profile = profile_of(ctx)
    # the file is the header's ('config file: PATH'): each row names the profile alone,
    # so the table stays readable at 80 columns
    by_profile = f"profile {profile.name}" if profile is not None else ""
    rows: list[tuple[str, str, str]] = []
    for key, param in option_params(ctx.command).items():
        if key in COMMAND_LINE_ONLY or key == "debug":
            continue
        source = ctx.get_parameter_source(param.name)
        if profile is not None and key in profile.options and (
                source is None or source.name in _REPLACEABLE):
            where = by_profile
        elif source is not None and source.name == "ENVIRONMENT":
            envvar = param.envvar if isinstance(param.envvar, str) else next(
                (e for e in (param.envvar or ()) if os.environ.get(e)), "")
            where = f"environment {envvar}"
        elif source is not None and source.name == "COMMANDLINE":
            where = "command line"
        else:
            where = "default"
        value = values.get(param.name)
        if key in WEBHOOK_KEYS and value:  # the secret is the URL's path: host only
            from rcsqualify.masking import mask_webhook_url

            shown = ", ".join(v if str(v).startswith("env:") else mask_webhook_url(str(v))
                              for v in value)
        else:
            shown = shown_value(value)
        if changed and (where == "default" or shown == shown_value(param.default)):
            continue
        rows.append((key, shown, where))
    for key, envvar in CREDENTIALS.items():
        if profile is not None and envvar in profile.credentials:
            rows.append((key, describe_reference(profile.credentials[envvar]), by_profile))
        elif os.environ.get(envvar, "").strip():
            rows.append((key, "(set, masked)", f"environment {envvar}"))
        elif not changed:
            rows.append((key, "(not set)", "-"))
    return rows


def shown_value(value: Any) -> str:
    """A setting as ``config show`` prints it: URLs without user info or query (where
    a token may hide), lists joined."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(shown_value(v) for v in value) or "-"
    text = str(value)
    if "://" in text:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(text)
            host = parts.hostname or ""
            if parts.port:
                host += f":{parts.port}"
        except ValueError:  # shown, not used here: the command using it says why
            return "(a URL that does not parse; not shown)"
        masked = f"{parts.scheme}://{host}{parts.path}"
        if parts.query:
            # a template's placeholder stays; a token in the query does not
            masked += "?" + "&".join(
                (q if "{" in q else q.split("=", 1)[0] + "=***")
                for q in parts.query.split("&"))
        return masked
    return text
