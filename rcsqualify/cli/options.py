"""The command line of the option groups: Typer signatures built from the declarations in
``settings`` (issue #24 item 1), so an option is written once whatever reads it.

``with_options(...)`` gives a command the options of some groups (or some fields) as
keyword parameters; the command receives them as ``**options`` and hands them to
``Settings``. ``check --help`` shows the common options (``Opt.common``) and ends with
a pointer to ``check --help-all``, which shows every one (issue #26 item 7).
"""

# annotations evaluated at import: see cli/base.py

import inspect
import typing
from collections.abc import Callable, Iterable
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from rcsqualify.settings import GROUPS, OWNER, Opt, OptionGroup, declared, default_of

F = TypeVar("F", bound=Callable[..., Any])
HELP_ALL = "--help-all"


def option_help(opt: Opt) -> str:
    """The option's help, naming the environment variables that hold the secrets of the
    service it configures when the text does not already; the provider names written
    in (from the registry, which settings.py cannot import)."""
    text = opt.help
    if "{capability_choices}" in text:
        from rcsqualify.providers import CAPABILITY_CHOICES

        text = text.replace("{capability_choices}", ", ".join(CAPABILITY_CHOICES))
    missing = [v for v in opt.credentials if v not in text]
    if not missing:
        return text
    return (f"{text} Credentials: {' and '.join(missing)} (environment; a profile "
            "may name other variables).")


def path(text: Any) -> Path | str:
    """A path option's text as a ``Path``, but an empty one as it came: ``Path("")`` is
    ``.``, so ``--history ""`` (``$LOG`` unset) read the working directory and
    ``--cache-dir ""`` cached there; the group refuses the empty text as it does any
    empty value (``settings._check_kind``)."""
    if isinstance(text, str) and not text.strip():
        return text
    if not isinstance(text, str | PathLike):  # a value no command line gives
        raise typer.BadParameter(f"must be a path, got {text!r}")
    return Path(text)


def _is_path(kind: Any) -> bool:
    """A field typed ``Path``, ``Path | None`` or ``list[Path]``."""
    return kind is Path or any(_is_path(a) for a in typing.get_args(kind))


def _declaration(name: str) -> tuple[Opt, Any]:
    cls = OWNER.get(name)
    match = [(o, f) for f, o in declared(cls)
             if f.name == name] if cls is not None else []
    if not match:
        raise KeyError(f"{name!r} is not a declared option (settings.GROUPS)")
    return match[0]


def typer_option(name: str, *, help: str | None = None, hidden: bool = False,
                 **extra: Any) -> Any:
    """``Annotated[type, typer.Option(...)]`` of the declared option ``name``."""
    opt, f = _declaration(name)
    envvar = list(opt.envvar) if isinstance(opt.envvar, tuple) else opt.envvar
    settings: dict[str, Any] = {"help": help or option_help(opt), "envvar": envvar,
                                "rich_help_panel": opt.panel or OWNER[name].panel,
                                "hidden": hidden, **extra}
    kind = opt.cli_type or f.type
    if _is_path(kind):
        settings["parser"] = path
        if "list" not in str(kind):  # a repeatable one's is cli/base.plain_types'
            settings["metavar"] = "<path>"  # Typer would show the parser's '<Path>'

    for key, value in (("min", opt.low), ("max", opt.high), ("metavar", opt.metavar)):
        if value is not None:
            settings[key] = value
    return Annotated[opt.cli_type or f.type, typer.Option(*opt.flags, **settings)]


def cli_default(name: str) -> Any:
    """The default on the command line: a list option's is None (Click's 'not given')."""
    _, f = _declaration(name)
    value = default_of(f)
    return None if isinstance(value, list) else value


def option_names(groups: Iterable[type[OptionGroup]] = GROUPS) -> list[str]:
    return [f.name for cls in groups for f, _ in declared(cls)]


def with_options(groups: Iterable[type[OptionGroup]] = (), names: Iterable[str] = (), *,
                 helps: dict[str, str] | None = None, short_help: bool = False
                 ) -> Callable[[F], F]:
    """Give the decorated command these options after its own parameters. With
    ``short_help`` its ``--help`` shows only the common ones, and ``--help-all`` every
    one."""
    wanted = [*option_names(groups), *names]

    def decorate(func: F) -> F:
        own = [p for p in inspect.signature(func).parameters.values()
               if p.kind is not inspect.Parameter.VAR_KEYWORD]
        generated = []
        for name in wanted:
            opt, _ = _declaration(name)
            # the short help: a common option in one line (its brief, no variable line)
            brief = short_help and opt.common
            generated.append(inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=cli_default(name),
                annotation=typer_option(
                    name, help=(helps or {}).get(name) or (opt.brief if brief else None),
                    hidden=short_help and not opt.common and not _completing(),
                    show_envvar=not brief)))
        if short_help:
            generated.append(inspect.Parameter(
                "help_all", inspect.Parameter.KEYWORD_ONLY, default=False,
                annotation=Annotated[bool, typer.Option(
                    HELP_ALL, is_eager=True, expose_value=False, callback=_help_all,
                    help="Show every option and exit.")]))
        func.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [*own, *generated])
        return func

    return decorate


def _completing() -> bool:
    """Whether this process answers a shell's completion (Click's variable for the
    ``rcsqualify`` program): an option the short help hides is still one a shell
    completes (Click completes no hidden option), as before the short help."""
    import os

    return COMPLETE_VAR in os.environ


#: the variable Click's shell completion sets for the ``rcsqualify`` program
COMPLETE_VAR = "_RCSQUALIFY_COMPLETE"


def _help_all(ctx: typer.Context, value: bool) -> None:
    """``--help-all``: the help with every option shown (the command object is shared:
    what it unhides is hidden again after)."""
    if not value or ctx.resilient_parsing:
        return
    shown = [p for p in ctx.command.params if getattr(p, "hidden", False)]
    # (typer's options are its own Click's: duck-typed, not ``isinstance(click.Option)``)
    briefs: list[Any] = [(p, getattr(p, "help", None), getattr(p, "show_envvar", False))
                         for p in ctx.command.params
                         if p.name in OWNER and hasattr(p, "show_envvar")]
    epilog = ctx.command.epilog
    try:
        for param in shown:
            param.hidden = False  # type: ignore[attr-defined]
        for option, _, _ in briefs:  # the whole help and the variable, as in the reference
            option.help, option.show_envvar = full_help(option), True
        ctx.command.epilog = strip_pointer(epilog)
        typer.echo(ctx.get_help(), color=ctx.color)
    finally:
        for param in shown:
            param.hidden = True  # type: ignore[attr-defined]
        for option, text, envvar in briefs:
            option.help, option.show_envvar = text, envvar
        ctx.command.epilog = epilog
    ctx.exit()


def full_help(param: Any) -> str | None:
    """An option's whole help: ``check --help`` shows a common option's ``brief``
    (settings.Opt), ``--help-all`` and the generated reference this."""
    text: str | None = getattr(param, "help", None)
    try:
        opt, _ = _declaration(param.name)
    except KeyError:  # a command's own parameter (check's input)
        return text
    return option_help(opt) if opt.brief and text == opt.brief else text


def help_pointer(command: str) -> str:
    return f"All options: 'rcsqualify {command} {HELP_ALL}'."


def strip_pointer(epilog: str | None) -> str | None:
    if epilog is None:
        return None
    return "\n\n".join(p for p in epilog.split("\n\n")
                       if not p.startswith("All options: ")) or None
