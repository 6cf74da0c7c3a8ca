"""The command-line reference of the documentation site, generated from the Click command
tree of the Typer app (issue #26 item 1): every command, argument, option, environment
variable and default, so the reference cannot drift from the code.

The documentation build calls ``reference_markdown()`` from an MkDocs hook
(``scripts/mkdocs_hooks.py``) and serves the result as ``reference/cli.md``; nothing is
committed, so nothing goes stale. ``tests/test_docs.py`` checks that every environment
variable the code reads is in it. Variables read from the environment only (secrets,
directories, switches) have no option to carry their help: they are described in
``ENVIRONMENT_ONLY`` below or, for a provider's secrets, by its registry entry
(``secrets``, providers.py); a variable the code reads that is none of these fails that
test.

Not imported by any command (start-up stays as it is): ``python -m
rcsqualify.cli.reference`` prints the page.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any

from rcsqualify.cli.options import full_help

#: variables no option and no provider reads: what each one is for (shown in the
#: reference; a provider's secrets are its registry entry's, ``environment_only()``)
ENVIRONMENT_ONLY: dict[str, str] = {
    "RCSQUALIFY_CACHE_KEY": "The cache key itself, 64 hexadecimal characters (openssl "
    "rand -hex 32), kept outside the cache; wins over a key stored in the cache.",
    "RCSQUALIFY_REDIS_PASSWORD": "Password of the Redis server of --cache-url / "
    "--quota-store (better than a password in the URL, which is refused in a profile).",
    "RCSQUALIFY_QUOTA_DIR": "Directory of the per-user pacing schedule shared by every "
    "run on the machine (default: the user state directory).",
    "RCSQUALIFY_PLAN_DIR": "Where 'plan update' installs a newer ARCEP plan (default: "
    "the user data directory).",
    "RCSQUALIFY_DEBUG": "1: tracebacks instead of one-line errors, as --debug.",
    "RCSQUALIFY_DRY_RUN": "Refused (exit 2): --dry-run is accepted on the command line "
    "only, so that a CI gate never passes without checking.",
}
#: variables of other software that rcsqualify honours
OTHER_ENVIRONMENT: dict[str, str] = {
    "GOOGLE_APPLICATION_CREDENTIALS": "Google service-account file, when "
    "--rbm-credentials and RCSQUALIFY_RBM_CREDENTIALS are not given.",
    "HTTPS_PROXY, HTTP_PROXY, NO_PROXY": "Proxies, honoured by the HTTP client and named "
    "(masked) in connection errors.",
    "SSL_CERT_FILE": "CA bundle for TLS, named in TLS errors.",
    "GITHUB_ACTIONS, GITHUB_STEP_SUMMARY, GITLAB_CI": "CI detection: workflow-command "
    "annotations, the job summary, and the refusal of a cache key stored in a CI cache.",
    "LC_ALL, LC_MESSAGES, LANG": "The report language when neither --lang, the profile "
    "nor RCSQUALIFY_LANG gives one (C, POSIX or unset: French).",
}


def environment_only() -> dict[str, str]:
    """Every variable read from the environment only, with what it is for: the secrets
    each registry entry reads (``providers.Provider.secrets``: a new provider's come
    with its entry) and ``ENVIRONMENT_ONLY``."""
    from rcsqualify.providers import CAPABILITY, OPERATOR

    found: dict[str, str] = {}
    for entry in (*CAPABILITY.values(), *OPERATOR.values()):
        found.update(entry.secrets)
    return {**found, **ENVIRONMENT_ONLY}


def root_command() -> Any:
    """The Click group behind the Typer app (reading a command builds it: cli/base.py
    LazyCommands)."""
    import typer.main

    from rcsqualify.cli import app

    return typer.main.get_command(app)


def walk(group: Any, path: str = "rcsqualify") -> Iterator[tuple[str, Any]]:
    """(full command path, Click command) for the root and every command below it, in
    the order a reader looks for them (alphabetical per level)."""
    yield path, group
    for name in sorted(getattr(group, "commands", {})):
        yield from walk(group.commands[name], f"{path} {name}")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    text = " ".join(str(text).split())
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_"))


def _code(text: str) -> str:
    return "`" + str(text).replace("`", "'").replace("|", "\\|") + "`"


def _default(param: Any) -> str:
    if (getattr(param, "is_flag", False) and getattr(param, "secondary_opts", None)
            and param.default is not None):
        return _code(param.opts[0] if param.default else param.secondary_opts[0])
    default = param.default
    if callable(default):
        return "computed"
    if default is None or default == () or default == []:
        return ""
    if isinstance(default, enum.Enum):
        default = default.value
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, list | tuple):
        return _code(", ".join(map(str, default)))
    return _code(default)


def _envvars(param: Any) -> list[str]:
    env = getattr(param, "envvar", None)
    if not env:
        return []
    return [env] if isinstance(env, str) else list(env)


def _choices(param: Any) -> str:
    # Typer 0.2x describes the type on its own descriptor; Click on ``param.type``
    kind = getattr(param, "type_descriptor", None) or getattr(param, "type", None)
    choices = getattr(kind, "choices", None)
    return (" One of: " + ", ".join(map(str, choices)) + ".") if choices else ""


def _names(param: Any) -> str:
    names = list(param.opts) + list(getattr(param, "secondary_opts", ()))
    return " ".join(_code(n) for n in names)


def _arg_name(param: Any) -> str:
    return str(param.metavar or (param.name or "").upper())


def _anchor(path: str) -> str:
    return path.replace(" ", "-")


def reference_markdown() -> str:
    """The whole reference page."""
    root = root_command()
    commands = list(walk(root))
    out = ["# Command-line reference", "",
           "Generated from the command line itself when the site is built: every command, "
           "option, environment variable and default below is what `rcsqualify` accepts. "
           "Precedence: an option on the command line > the chosen profile > its "
           "environment variable > the default.", "", "Commands:", ""]
    for path, command in commands[1:]:
        summary = (command.get_short_help_str(limit=100) if hasattr(command, "get_short_help_str")
                   else "")
        out.append(f"- [`{path}`](#{_anchor(path)}): {_cell(summary)}")
    out.append("")
    by_env: dict[str, list[str]] = {}
    for path, command in commands:
        out += [f"## {path}", ""]
        help_text = (command.help or "").strip()
        if help_text:
            out += [help_text.split("\n\n")[0].replace("\n", " ").strip(), ""]
        args = [p for p in command.params if p.param_type_name == "argument"]
        usage = path + (" [OPTIONS]" if any(p.param_type_name == "option"
                                            for p in command.params) else "")
        usage += "".join(f" {_arg_name(a)}" + ("…" if a.nargs != 1 else "")
                         for a in args)
        if hasattr(command, "commands"):
            usage += " COMMAND"
        out += ["```", usage, "```", ""]
        if args:
            out += ["| argument | required | help |", "|---|---|---|"]
            for a in args:
                help_text = _cell(getattr(a, "help", "") or "")
                out.append(f"| {_code(_arg_name(a))} | {'yes' if a.required else 'no'} | "
                           f"{help_text} |")
            out.append("")
        # an advanced option is hidden from the short --help, not from the reference
        options = [p for p in command.params if p.param_type_name == "option"
                   and (not getattr(p, "hidden", False) or getattr(p, "advanced", False))]
        panels: dict[str, list[Any]] = {}
        for p in options:
            panels.setdefault(getattr(p, "rich_help_panel", None) or "Options", []).append(p)
        for panel, params in panels.items():
            if len(panels) > 1:
                out += [f"**{panel}**", ""]
            out += ["| option | environment | default | help |", "|---|---|---|---|"]
            for p in params:
                envs = _envvars(p)
                for env in envs:
                    by_env.setdefault(env, []).append(f"`{path.removeprefix('rcsqualify ')} "
                                                      f"{p.opts[0]}`")
                out.append(f"| {_names(p)} | {' '.join(_code(e) for e in envs)} | "
                           f"{_default(p)} | {_cell((full_help(p) or '') + _choices(p))} |")
            out.append("")
        if command.epilog:
            out += ["```", command.epilog.strip(), "```", ""]
    out += ["## Environment variables", "",
            "Every variable rcsqualify reads. A variable that stands for an option is "
            "used when the option is not given (and the profile does not set it).", "",
            "| variable | what it sets |", "|---|---|"]
    for env in sorted(by_env):
        out.append(f"| {_code(env)} | {', '.join(sorted(set(by_env[env])))} |")
    for env, what in sorted(environment_only().items()):
        out.append(f"| {_code(env)} | {_cell(what)} |")
    out += ["", "Variables of other software that rcsqualify honours:", "",
            "| variable | use |", "|---|---|"]
    for env, what in OTHER_ENVIRONMENT.items():
        out.append(f"| {_code(env)} | {_cell(what)} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
