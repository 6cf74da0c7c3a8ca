"""The command line's frame: the app and its groups, one-line errors and exit codes,
help panels and examples, the version."""

# No ``from __future__ import annotations`` here: Typer reads every command's
# annotations when the app is built, and string annotations cost a compile each
# (twice per parameter: ~80 M instructions, ~15 ms at start-up; issue #18 item 1).

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar, cast, get_args

import typer
from typer.core import TyperGroup

from rcsqualify import __version__, dependency_version
from rcsqualify.cli.coercion import defer
from rcsqualify.cli.console import LazyConsole
from rcsqualify.cli.options import help_pointer, typer_option
from rcsqualify.errors import ExitCode, InputError, RcsQualifyError, unexpected_line
from rcsqualify.files import Interrupted, cleanup_on_exit
from rcsqualify.masking import mask_url_passwords
from rcsqualify.settings import options_of
from rcsqualify.textsafe import CommandGuard, safe_line, safe_lines, safe_text

if TYPE_CHECKING:
    from rich.console import Console


class LazyCommands(MutableMapping[str, Any]):
    """The root group's ``commands``: every name of its ``command_modules`` (and any
    command built or added), in that order. Reading a command (``[name]``, ``get``,
    ``values``, ``items``) imports its module and builds what the module registered on
    ``app``; the names alone (``in``, iteration, Typer's "did you mean") import nothing.
    So code written for Click's plain dict (``group.commands["check"]``, a walk of the
    tree) still sees every command, and a run pays for its own command's module only
    (start-up: issue #24)."""

    def __init__(self, group: "OneLineErrors", built: Mapping[str, Any]) -> None:
        self._group = group
        #: the commands built so far
        self.built: dict[str, Any] = dict(built)
        self._removed: set[str] = set()

    def _names(self) -> dict[str, None]:
        return {n: None for n in (*self._group.command_modules, *self.built)
                if n not in self._removed}

    def __getitem__(self, name: str) -> Any:
        if name not in self.built and name in self._names():
            self._group.load(name)
        return self.built[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __setitem__(self, name: str, command: Any) -> None:
        self._removed.discard(name)
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self.built.pop(name, None)
        self._removed.add(name)


class OneLineErrors(TyperGroup):
    """The root group: usage errors (a bad value, an unknown option) as one line on
    stderr, exit 2, like every other error; option panels and examples in the help;
    each command's module imported when the command is read (``LazyCommands``)."""

    commands: LazyCommands
    #: command name → the module that registers it on ``app``, in the help's order: the
    #: table and the import are the package's (rcsqualify/cli/__init__.py, above every
    #: command module, which import this one)
    command_modules: ClassVar[Mapping[str, str]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        # those Typer built (their modules were imported before the group was made)
        built = dict(self.commands)
        for command in built.values():
            # no pydantic adapter for the values that need none (cli/coercion.py); the
            # commands built later get theirs in ``load``, the root's options in ``main``
            defer(command)
        self.commands = LazyCommands(self, built)
        arrange_help(self, built)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # Typer's reads the commands, hence their modules

    def import_module(self, name: str) -> None:
        """Import the module of the command ``name`` (``command_modules``)."""

    def load(self, name: str) -> None:
        """Import the module of the command ``name`` and build the commands it
        registered on ``app`` (Typer built those registered before this group was
        made)."""
        import typer.main

        self.import_module(name)
        built: dict[str, Any] = {}
        have = self.commands.built
        # as typer.main.get_group_from_info builds them
        short, markup = app.pretty_exceptions_short, app.rich_markup_mode
        for info in app.registered_commands:
            assert info.callback is not None
            name = info.name or typer.main.get_command_name(info.callback.__name__)
            if name not in have:
                built[name] = typer.main.get_command_from_info(
                    command_info=info, pretty_exceptions_short=short, rich_markup_mode=markup)
        for group_info in app.registered_groups:
            if group_info.name not in have:
                built[str(group_info.name)] = typer.main.get_group_from_info(
                    group_info, pretty_exceptions_short=short, rich_markup_mode=markup,
                    suggest_commands=app.suggest_commands)
        for name, command in built.items():
            defer(command)
            have[name] = command
        arrange_help(self, built)

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        # the root's own options (Typer adds the completion ones after __init__)
        defer(self, subcommands=False)
        plain_types(self)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args,
                                **extra)
        typed_dash = typographic_dash(sys.argv[1:] if args is None else list(args),
                                      lambda: long_options(self))
        if typed_dash is not None:
            sys.exit(fail(typed_dash, int(ExitCode.USAGE)).exit_code)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args,
                                **extra)
        except typer.TyperException as exc:  # Click's usage errors (typer vendors Click)
            # the help was printed: an empty "error" line after it says nothing
            message = ("a command is needed (see above)"
                       if type(exc).__name__ == "NoArgsIsHelpError" else usage_error_line(exc))
            sys.exit(fail(message, getattr(exc, "exit_code", int(ExitCode.USAGE))).exit_code)
        except typer.Abort:
            sys.exit(fail("aborted", 1).exit_code)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="rcsqualify", no_args_is_help=True, add_completion=True, cls=OneLineErrors,
    help="Qualify a French contact base before an RCS campaign on Orange's BotHub.",
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])
# options other commands share with check: declared once (settings.py). Annotated
# Any, so that mypy knows them as types however it orders the package's import cycle
# (rcsqualify/__init__.pyi imports the API, which reaches the CLI)
CacheDir: Any = typer_option("cache_dir")
CacheUrl: Any = typer_option("cache_url")
CacheKeyFile: Any = typer_option("cache_key_file")
Debug: Any = typer_option("debug")
#: the profiles file, as check declares it (doctor and config show read it too)
ConfigFile: Any = typer_option("config")
CheckedProfile: Any = typer_option("profile", help="The profile to check.")
ShownProfile: Any = typer_option("profile", help="Profile to show applied.")
# 'check --split-dir', 'refresh', 'portability import': one run at a time per target
WaitLock: Any = typer_option("wait_lock")
# an extract's share of unusable operator values: 'check' and 'portability import'
MaxUnmapped: Any = typer_option("portability_max_unmapped")


def stderr_console() -> "Console":
    """rich's stderr console, made when something needs more than a plain line
    (cli/console.py: a quiet check does not import rich)."""
    return cast("Console", LazyConsole(stderr=True, highlight=False, soft_wrap=False,
                                       emoji=False,
                                       width=None if sys.stderr.isatty() else 120))


def stdout_console(**settings: Any) -> "Console":
    """A rich console on stdout (the maintenance commands' tables): no highlighting, no
    emoji codes (``rcsq:b:`` stays text, never a picture), markup off per print. Off a
    terminal (a pipe, a file, a script) a line is never wrapped: rich would cut it at 80
    columns mid-sentence, and whoever reads it greps lines; tables keep their layout."""
    from rich.console import Console  # not imported by a check

    settings.setdefault("soft_wrap", not sys.stdout.isatty())
    return Console(highlight=False, emoji=False, **settings)


def fail(message: str, code: int) -> typer.Exit:
    """One line on stderr, never wrapped (a log reader greps it), and the exit code; a
    password inside a URL it quotes is masked, and what it quotes from outside (a file
    name with ESC or OSC sequences, a sheet name with U+202E, ``::error::``) is inert
    (``textsafe.safe_line``)."""
    one_line = mask_url_passwords(safe_line(message))
    typer.echo(f"rcsqualify: error: {one_line}", err=True)
    return typer.Exit(code)


def _refuse_undecodable_paths(values: Any) -> None:
    """A file name (or any argument) that is not valid UTF-8, bytes of another encoding
    that the system hands over as surrogates, is refused before anything is read or
    written: Arrow, which reads and writes the files, takes UTF-8 names only, and such a
    name could not be written in a report either."""
    try:  # relative names are made absolute under it (Arrow encodes the whole path)
        os.getcwd().encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{ascii(os.getcwd())[1:-1]}: the working directory is not valid "
                         "UTF-8 (a folder name in another encoding?); run from another "
                         "folder or rename it") from None
    except OSError:
        pass  # a removed working directory: the files themselves will say so
    for value in values:
        for item in value if isinstance(value, list | tuple) else (value,):
            if isinstance(item, PurePath | str):
                try:
                    str(item).encode("utf-8")
                except UnicodeEncodeError:
                    raise InputError(f"{ascii(str(item))[1:-1]}: not valid UTF-8 (a file "
                                     "name in another encoding?); rename the file or its "
                                     "folder") from None


@contextlib.contextmanager
def guarded_streams() -> Iterator[None]:
    """Under GitHub Actions, stdout and stderr pass through ``textsafe.CommandGuard``:
    no line the command prints can start a workflow command (a rich table wrapping a
    long header onto ``::error::``, a store's recorded file name); the annotations the
    tool means go to the guard's ``raw`` stream (``runner.write_report``)."""
    if os.environ.get("GITHUB_ACTIONS") != "true" or isinstance(sys.stdout, CommandGuard):
        yield
        return
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = CommandGuard(sys.stdout), CommandGuard(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = saved


def reports_errors(func: F) -> F:
    """One line and an exit code for every error; a traceback only with --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug")) or os.environ.get("RCSQUALIFY_DEBUG") == "1"
        try:
            _refuse_undecodable_paths(kwargs.values())
            # the one signal handler: temporary personal data removed on every exit path
            with cleanup_on_exit(), guarded_streams():
                return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:  # the reader stopped (| head): Click ends quietly, exit 1
            raise
        except typer.TyperException as exc:  # a usage error of a command run inside
            raise fail(usage_error_line(exc), getattr(exc, "exit_code", 2)) from None
        except RcsQualifyError as exc:
            if debug:
                mask_quoted_input(exc)
                raise
            raise fail(str(exc), int(exc.exit_code)) from None
        except KeyboardInterrupt as exc:
            what = ("terminated" if isinstance(exc, Interrupted)
                    and exc.signum != signal.SIGINT else "interrupted")
            raise fail(f"{what}; answers so far are cached, re-run to continue",
                        getattr(exc, "exit_code", 130)) from None
        except Exception as exc:
            if debug:
                mask_quoted_input(exc)
                raise
            raise fail(f"{unexpected_line(exc)} (re-run with --debug for details)",
                        int(ExitCode.USAGE)) from None

    return wrapper  # type: ignore[return-value]


def mask_quoted_input(exc: BaseException) -> None:
    """``--debug``: the traceback keeps its frames and exception types, but the message
    of every exception in the chain that is not rcsqualify's own is masked with the
    reports' rule (``report.masking.mask_cell``): a parser's message quotes the row it
    failed on (``ArrowInvalid: … B;0698765432;extra;Jean Dupont``), and a traceback is
    pasted into tickets. rcsqualify's own messages name lines and columns, never cells
    (CONTRACT §11); an ``OSError``'s is the system's reason and a file name. A URL's
    password is masked in every message, rcsqualify's own included: the one-line error
    masks it (``fail``), and the traceback must not show what the line hides; and no
    message may start a line with a workflow command (``_debug_text``)."""
    from rcsqualify.report.masking import mask_cell

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RcsQualifyError | OSError):
            current.args = tuple(_debug_text(a) if isinstance(a, str) else a
                                 for a in current.args)
            if isinstance(current, OSError) and isinstance(current.filename, str):
                current.filename = _debug_text(current.filename)
        elif current.args:
            original = current.args
            try:
                masked = tuple(mask_cell(_debug_text(str(a))) for a in current.args)
                current.args = masked
                str(current)  # an exception whose message is not its args: leave it
            except Exception:
                current.args = original
            else:
                current.add_note("(message masked by rcsqualify: it may quote the input)")
        current = current.__cause__ or current.__context__


def _debug_text(message: str) -> str:
    """A message as a ``--debug`` traceback may show it: no URL password, no control
    character, no line a CI runner would run (a file name holding ``\n::add-mask::``
    is quoted raw by a message that ``fail`` would have made inert)."""
    return safe_lines(mask_url_passwords(message))


EXAMPLES: dict[str, list[str]] = {
    "check": [
        "rcsqualify check contacts.csv --portability extract.csv",
        # one line each at 80 columns (check --help fits a screen: tests/test_options.py)
        "rcsqualify check base.xlsx --split-dir lists/ --html-report report.html",
        "rcsqualify check contacts.csv --profile prod --dry-run",
        "rcsqualify check base.csv --profile prod --gate upper --junit-xml ci.xml",
        "cat export.csv | rcsqualify check - --column GSM -q",
    ],
    "refresh": ["rcsqualify refresh base.csv --profile prod --capability bothub-bulk "
                "--wait-for-window --log-file refresh.log --html-report report.html"],
    "emulator": ["rcsqualify emulator --port 8787 &",
                 "rcsqualify emulator --port 0 --fault http_503=0.2 --quota 5"],
    "config show": ["rcsqualify config show --profile prod",
                    "rcsqualify config show --profile prod --changed",
                    "rcsqualify config show --config ./team.toml --profile staging"],
    "cache info": ["rcsqualify cache info --json"],
    "cache clear": ["rcsqualify cache clear", "rcsqualify cache clear --yes   # in a script"],
    "cache forget": ["rcsqualify cache forget 06 12 34 56 78",
                     "rcsqualify cache forget --file erasure_requests.txt"],
    "cache prune": ["rcsqualify cache prune"],
    "cache move-key": ["rcsqualify cache move-key --to ~/.config/rcsqualify/cache.key"],
    "plan": ["rcsqualify plan"],
    "plan update": ["rcsqualify plan update MAJNUM.csv"],
    "plan reset": ["rcsqualify plan reset"],
    "portability import": ["rcsqualify portability import --into store.parquet dump.xls",
                           "rcsqualify portability import --delta --into store.parquet "
                           "delta_0312.csv"],
    "portability info": ["rcsqualify portability info store.parquet --max-age 7"],
}


def own_long_options(command: Any) -> list[str]:
    """The long options of ``command``'s own parameters, negations (``--no-x``) and
    ``--help`` included, in declaration order."""
    return [o for p in command.params for o in (*p.opts, *getattr(p, "secondary_opts", ()))
            if o.startswith("--")]


def _long_options(command: Any) -> list[str]:
    return [o for o in own_long_options(command) if o != "--help"]


def plain_types(command: Any) -> None:
    """The type column of a command's help says what to type: nothing for a flag (Typer
    wrote '<bool>' beside --help, --quiet...), one value and '...' for a repeatable option
    ('<str>...', was '<list[str]>', a Python type)."""
    # the command's own context settings: its help option names are those it runs with
    context = typer.Context(command, **(getattr(command, "context_settings", None) or {}))
    help_option = command.get_help_option(context)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False) and not getattr(param, "count", False):
            param.metavar = ""
        elif getattr(param, "multiple", False):
            kind = getattr(param, "type_descriptor", None)
            inner = get_args(getattr(kind, "annotation", None))
            if inner and isinstance(inner[0], type):
                param.metavar = f"<{inner[0].__name__.lower()}>..."


def reflow(text: str) -> str:
    """A command's docstring as flowing paragraphs. Typer's rich help keeps every single
    line break after the first paragraph (and in the root's command list), so a text
    wrapped at 88 columns in the source showed a word alone on a line in an 80-column
    terminal ('Only', 'days,'). The lines of a paragraph are joined, a list item ('- ')
    starts its own line, and a paragraph opened by Click's ``\\b`` is kept as written."""
    import inspect

    out = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        if paragraph.startswith("\b"):
            out.append(paragraph)
            continue
        lines: list[str] = []
        for line in paragraph.splitlines():
            stripped = line.strip()
            if lines and not stripped.startswith(("- ", "* ")):
                lines[-1] += " " + stripped
            else:
                lines.append(stripped)
        out.append("\n".join(lines))
    return "\n\n".join(out)


def arrange_help(group: Any, commands: dict[str, Any], path: str = "") -> None:
    """An "Examples" epilog on each of ``commands`` (then, where ``--help`` shows the
    common options only, where all are), and the options ``refresh`` passes on to
    ``check`` listed in its own help. Option panels come from the declarations
    (settings.py)."""
    for name, command in commands.items():
        full = f"{path} {name}".strip()
        if command.help:
            command.help = reflow(command.help)
        plain_types(command)
        examples = EXAMPLES.get(full)
        if examples:
            command.epilog = "Examples:\n\n" + "\n\n".join(f"  $ {e}" for e in examples)
        if any(p.name == "help_all" for p in command.params):
            for param in command.params:  # shown by --help-all and in the reference
                param.advanced = bool(getattr(param, "hidden", False))
            command.epilog = "\n\n".join(filter(None, (command.epilog,
                                                         help_pointer(full))))
        if hasattr(command, "commands"):
            arrange_help(command, command.commands, full)
    refresh = commands.get("refresh")
    # check is read only for refresh (reading it builds it: LazyCommands)
    check = group.commands.get("check") if refresh is not None else None
    if refresh is not None and check is not None:
        own = set(_long_options(refresh))
        passed = [o for o in _long_options(check) if o not in own]
        refresh.epilog = ((refresh.epilog or "") + "\n\nEvery option of 'check' is passed "
                          "on to it: " + " ".join(passed))


#: options whose value is a share (0.15), not a percentage (15%)
SHARE_OPTIONS = tuple(opt.flag(name)[2:] for name, opt, _ in options_of() if opt.share)


def _words(option: str) -> list[str]:
    """An option's words, its negation aside: ``--no-ci-summary`` → ci, summary."""
    words = option.lstrip("-").lower().replace("_", "-").split("-")
    return words[1:] if words[0] == "no" and len(words) > 1 else words


def closest_options(wrong: str, options: list[str]) -> list[str]:
    """The options a mistyped long option most likely meant, best first (three at
    most). Click's own match is spelling alone (``difflib``, 0.6): ``--junit-report``
    got ``--html-report``, ``--json-report``, ``--markdown-report`` and never
    ``--junit-xml``. An option's first word names its subject (junit, cache, mnp), so
    sharing it counts most, then the words shared in any order (``--report-json``),
    then the spelling; those far behind the best are left out. A word over twice as
    long as the longest option is no typo of one: none (the spelling's comparison is
    quadratic: a 120,000-character argument took 16 s of CPU)."""
    import difflib

    if len(wrong) > 2 * max(map(len, options), default=0):
        return []
    given = _words(wrong)
    bare = wrong.lstrip("-").lower()
    scored = []
    for option in dict.fromkeys(options):
        words = _words(option)
        shared = len(set(given) & set(words)) / len(set(given) | set(words))
        spelling = difflib.SequenceMatcher(None, bare, option.lstrip("-").lower()).ratio()
        first = given[0] == words[0]
        if first or shared >= 0.5 or spelling >= 0.6:
            scored.append((0.5 * first + 0.5 * shared + spelling, option))
    scored.sort(key=lambda s: -s[0])
    return [o for score, o in scored[:3] if score >= scored[0][0] - 0.25]


def _no_such_option_line(exc: Exception) -> str | None:
    """Click's "No such option" with ``closest_options`` among every long option of the
    command, those ``--help-all`` alone shows included (None: another usage error)."""
    wrong, ctx = getattr(exc, "option_name", None), getattr(exc, "ctx", None)
    if type(exc).__name__ != "NoSuchOption" or not isinstance(wrong, str) or (
            not wrong.startswith("--")) or ctx is None:
        return None
    found = closest_options(wrong, own_long_options(ctx.command))
    said = str(getattr(exc, "message", exc))
    if len(wrong) > 100:  # the option named, not a screenful of it
        said = said.replace(wrong, safe_text(wrong, 60))
    if not found:
        return said
    shown = found[0] if len(found) == 1 else f"{', '.join(found[:-1])} or {found[-1]}"
    return f"{said}; did you mean {shown}?"


#: dashes a word processor, a chat or a web page types for '-' or '--' (hyphen,
#: non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign, small
#: and full-width hyphen-minus)
TYPOGRAPHIC_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"


def typographic_dash(args: list[str],
                     options: Callable[[], set[str]]) -> str | None:
    """The usage error of an argument that is an option typed with a typographic dash
    (``—junit-xml``, ``–capability``, ``-−rate``: a command copied from a document), or
    None. Click sees no option there: the word became the input file or an "unexpected
    extra argument" — ``Got unexpected extra argument(s) (out.xml base.csv)`` named
    everything but the dash. Only a word that is one of the ``options`` (read when such
    a word is there: it loads every command) counts: a value such as ``--column
    "–Mobile"`` is left alone; so is everything after a bare ``--``."""
    import re

    known: set[str] | None = None
    for arg in args:
        if arg == "--":
            return None
        typed = re.match(f"([-{TYPOGRAPHIC_DASHES}]+)([A-Za-z][A-Za-z0-9_-]*)(=.*)?$",
                         str(arg), re.DOTALL)
        if not typed or not any(c in TYPOGRAPHIC_DASHES for c in typed[1]):
            continue
        known = options() if known is None else known
        if f"--{typed[2]}" in known:
            dash = next(c for c in typed[1] if c in TYPOGRAPHIC_DASHES)
            return (f"{arg}: starts with U+{ord(dash):04X} ({dash}), not '--' (a document "
                    f"or a web page turned the dashes typographic): type it as "
                    f"--{typed[2]}{typed[3] or ''}")
    return None


def long_options(command: Any) -> set[str]:
    """Every long option of ``command`` and of the commands under it."""
    found = set(own_long_options(command))
    for sub in getattr(command, "commands", {}).values():
        found |= long_options(sub)
    return found


def usage_error_line(exc: Exception) -> str:
    """Click's usage error as one line, naming the command and where help is."""
    format_message = getattr(exc, "format_message", None)
    message = _no_such_option_line(exc) or " ".join(
        str(format_message() if format_message else exc).split())
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
        from rcsqualify.numbering.plan_files import plan_snapshot

        # the plan's date from the file beside its compiled form (loading the plan
        # imports numpy); the plan is loaded only when there is none yet
        snapshot = plan_snapshot()
        if snapshot is None:
            from rcsqualify.numbering.plan import load_plan

            snapshot = load_plan().snapshot
        # from its metadata, not by importing phonenumbers (79 ms)
        typer.echo(f"rcsqualify {__version__} (phonenumbers "
                   f"{dependency_version('phonenumbers')}, "
                   f"ARCEP plan {snapshot.isoformat()})")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", "-V", callback=version_callback,
                                          is_eager=True, help="Show versions and exit.")]
    = False,
) -> None:
    """rcsqualify: who serves each number, is it RCS-reachable, will the campaign pass."""
