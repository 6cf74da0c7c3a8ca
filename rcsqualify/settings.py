"""Every option of ``check``, declared once, in groups by concern (issue #24 item 1).

Each group is a frozen dataclass; each of its fields says, in its ``Opt``, how it is
given: help, flags, environment variable, bounds, help panel, and whether ``check
--help`` shows it (``common``) or only ``check --help-all``. Every reader works from
these declarations: the command line (``cli/options.py`` builds the Typer signatures
of ``check``, ``refresh`` and ``probe``), profiles (their keys are the long option
names), ``config show``, ``--dry-run``, and Python callers (``settings_from``). A
default is written once, here (the HTTP ones once in ``remote/policy.py``).

Values are checked in ``__post_init__`` (bounds that keep a wait, a poll or a retry
finite, Click's bounds for Python callers, shares, ``choices``), so a group that exists
is valid whoever built it and every caller gets the same one-line message. Checks that
need several options or a file stay in ``validation.validate_settings``.

Secrets are not fields: they are read from the environment or from files at the
moment a provider needs them, so a ``repr`` of the settings can never leak one.

``Settings`` composes the groups. It also answers the old flat names
(``settings.rate``) by delegating to the group that declares the field: a transitional
view so that code written before the groups keeps working; new code takes the group it
needs (``settings.bothub``).

No ``from __future__ import annotations``: the fields' types are read at start-up to
build the command line, and string annotations would cost a compile each.
"""

import math
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar, dataclass_transform

from rcsqualify import defaults
from rcsqualify.capability import defaults as bothub_defaults
from rcsqualify.errors import InputError
from rcsqualify.remote.policy import DEFAULT_POLICY, HttpPolicy

DEFAULT_BOTHUB_URL = "https://api.orange.com/bothub/v1"
DEFAULT_BOTHUB_TOKEN_URL = "https://api.orange.com/oauth/v3/token"
DEFAULT_RBM_URL = "https://europe-rcsbusinessmessaging.googleapis.com"

#: the key of an ``Opt`` in a dataclass field's metadata
OPTION = "rcsqualify.option"


class Frozen:
    """The base of the frozen declarations (``Opt``, the option groups, ``Settings``):
    ``__init__`` and the frozen setters written once here, for classes made by
    ``frozen`` (a dataclass would compile them from source for each class at start-up:
    ~0.5 ms a class; issue #24)."""

    #: (field name, default, default factory) of each field, in order (``frozen``)
    _init_fields: ClassVar[tuple[tuple[str, Any, Any], ...]] = ()

    def __init__(self, *args: Any, **values: Any) -> None:
        # the calling convention of a dataclass's generated __init__
        init = self._init_fields
        if len(args) > len(init):
            raise TypeError(f"{type(self).__name__}() takes {len(init)} positional "
                            f"arguments but {len(args)} were given")
        for (name, _, _), value in zip(init, args, strict=False):
            if name in values:
                raise TypeError(f"{type(self).__name__}() got multiple values for "
                                f"argument {name!r}")
            values[name] = value
        for name, default, factory in init:
            value = values.pop(name, default)
            if value is MISSING:
                if factory is MISSING:
                    raise TypeError(f"{type(self).__name__}() missing 1 required "
                                    f"argument: {name!r}")
                value = factory()
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument "
                            f"{next(iter(values))!r}")
        self.__post_init__()

    def __post_init__(self) -> None:
        pass

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


F = TypeVar("F", bound=Frozen)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[F]) -> type[F]:
    """A frozen dataclass with no generated method: its fields for
    ``dataclasses.fields``/``replace``, ``__init__`` and the setters ``Frozen``'s."""
    processed = dataclass(init=False, repr=False, eq=False)(cls)
    init = []
    for f in fields(processed):  # type: ignore[arg-type]
        if not f.init or f.kw_only is True:
            raise TypeError(f"{cls.__name__}.{f.name}: every field is an argument")
        init.append((f.name, f.default, f.default_factory))
    processed._init_fields = tuple(init)
    return processed


@frozen
class Opt(Frozen):
    """How one field is given on the command line, in a profile and in the environment.

    ``flags`` are Click's declarations (default: ``--field-name``; a bool: also
    ``--no-field-name``). ``low``/``high`` are bounds Click enforces on the command line
    and in profiles; ``finite`` bounds a number that drives a wait, a poll or a retry
    (``nan`` or ``inf`` there would mean no pacing or a wait without end: CONTRACT §10);
    both are checked in ``__post_init__`` whoever built the group. ``cli_type`` is the type on
    the command line when it is not the field's (``--sample auto``). ``path``: a path,
    read relative to the profile file that gives it. ``share``: a share (0.15), from 0
    to 1 (checked in ``__post_init__``; a usage error explains it). ``choices``: the
    values it takes (checked in ``__post_init__``, not by Click: one message whoever
    built the group). ``formats``: the input formats it applies to (a profile's value for
    another format is ignored with a note). ``credentials``: the environment
    variables holding the secrets of the service the option configures (named in its
    help). ``common``: shown by ``check --help``; the others by ``--help-all``.
    ``brief``: a common option's help in ``check --help`` when ``help`` is longer than
    a line at 80 columns (``--help-all`` and the reference show ``help``). ``api_type``:
    the type a Python caller gives it as (``rcsqualify.qualify``'s keyword, written into
    the generated ``api_options.py``) when the field's type does not say it."""

    help: str
    flags: tuple[str, ...] = ()
    envvar: str | tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    finite: tuple[float, float] | None = None
    metavar: str | None = None
    panel: str | None = None
    common: bool = False
    cli_type: Any = None
    path: bool = False
    share: bool = False
    formats: tuple[str, ...] = ()
    credentials: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    brief: str = ""
    api_type: str = ""

    def flag(self, name: str) -> str:
        """The long option as a message names it (``--format`` for ``input_format``)."""
        return next((f.split("/")[0] for f in self.flags if f.startswith("--")),
                    "--" + name.replace("_", "-"))


def option(default: Any, help: str, **how: Any) -> Any:
    """A field that is an option (see ``Opt``); a list default is copied per instance."""
    meta = {OPTION: Opt(help=help, **how)}
    if isinstance(default, list):
        return field(default_factory=list, metadata=meta)
    return field(default=default, metadata=meta)


def internal(default: Any) -> Any:
    """A field no option sets (the environment, the profile or the code fills it);
    Python callers may."""
    if isinstance(default, dict):
        return field(default_factory=dict)
    return field(default=default)


def check_choice(flag: str, value: Any, choices: Sequence[str]) -> None:
    """The one check (and message) of a value that must be one of ``choices``: a
    declared option's (``Opt.choices``), and the choices only another module knows
    (``--capability``: the provider registry, ``providers.check_capability``), whether
    the value came from the command line, ``init``, a profile or the Python API."""
    if value not in choices:
        listed = (" or ".join(choices) if len(choices) == 2
                  else f"one of {', '.join(choices)}")
        raise InputError(f"{flag} must be {listed}, got {value!r}")


class OptionGroup(Frozen):
    """The base of the option groups: declarations, and validation on construction.
    Equality and ``repr`` are written once here, not generated per class (``group``)."""

    #: help panel of the group's options (an ``Opt`` may name another)
    panel: ClassVar[str] = "Other"
    #: a service's group: the options that shape one look-up's request or how its
    #: answer is read (``probe`` takes them for a registry entry it can probe); None:
    #: every option of the group
    one_request: ClassVar[tuple[str, ...] | None] = None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]  # holds lists: not hashable, as before

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({shown})"

    def __post_init__(self) -> None:
        values = vars(self)  # not getattr: validating is not reading (``reads``)
        for f, opt in declared(type(self)):
            value = values[f.name]
            if value is None:
                if type(None) not in typing.get_args(f.type):  # rate=None: no pacing
                    raise InputError(f"{opt.flag(f.name)} needs a value, got None")
                continue
            _check_kind(self, f, opt, value)
            if opt.finite is not None:
                low, high = opt.finite
                if not (math.isfinite(value) and low <= value <= high):
                    raise InputError(f"{opt.flag(f.name)} must be a number from {low:g} "
                                     f"to {high:g}, got {value}")
            if opt.share and not 0 <= value <= 1:  # nan included
                raise InputError(f"{opt.flag(f.name)} must be between 0 and 1 (a share), "
                                 f"got {value}")
            if opt.low is not None or opt.high is not None:
                # Click's bounds, for values that did not come through Click
                low = -math.inf if opt.low is None else opt.low
                high = math.inf if opt.high is None else opt.high
                if not low <= value <= high:
                    raise InputError(
                        f"{opt.flag(f.name)} must not be negative" if opt.high is None
                        and low == 0 else f"{opt.flag(f.name)} must be at least {low:g}"
                        if opt.high is None else f"{opt.flag(f.name)} must be from "
                        f"{low:g} to {high:g}, got {value}")
            if opt.choices:
                check_choice(opt.flag(f.name), value, opt.choices)
            if type(value) is float and not math.isfinite(value):
                # the bounds above let an unbounded number through: inf is no price
                raise InputError(f"{opt.flag(f.name)} must be a finite number, got {value}")


def _kinds(f: Field[Any]) -> tuple[Any, ...]:
    """The types a field's annotation allows, ``None`` aside (``float | None`` →
    ``(float,)``; ``list[str]`` → ``(list,)``)."""
    args = typing.get_args(f.type) if isinstance(f.type, types.UnionType) else (f.type,)
    return tuple(typing.get_origin(a) or a for a in args if a is not type(None))


def _check_kind(group: "OptionGroup", f: Field[Any], opt: Opt, value: Any) -> None:
    """A value of the declared kind, whoever built the group: Python gives ``True``
    for a threshold (``True <= 1``: a gate that always passes), a TOML profile
    ``rate = true``, a caller ``notify="https://…"`` (posted to each character); the command line
    never can (its text is converted by the declared type). Click's conversions of the
    command line's and the environment's text stay as they were (``rate = "30"`` in a
    profile is 30, as RCSQUALIFY_RATE=30 is)."""
    kinds = _kinds(f)
    flag = opt.flag(f.name)
    if bool in kinds:
        if not isinstance(value, bool):
            raise InputError(f"{flag} must be true or false, got {value!r}")
    elif int in kinds or float in kinds:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{flag} must be a number, got {value!r}")
        if float not in kinds and not isinstance(value, int):
            raise InputError(f"{flag} must be a whole number, got {value!r}")
        if value == 0 and math.copysign(1.0, value) < 0:  # --threshold -0: "-0%" shown
            object.__setattr__(group, f.name, 0.0)
    elif list in kinds:
        if isinstance(value, str | os.PathLike):  # one value of a repeatable option, as
            value = [value]  # the API and a profile take it (``column="Tel"``)
            object.__setattr__(group, f.name, value)
        if not isinstance(value, list | tuple) or any(
                isinstance(v, bool) or not isinstance(v, str | os.PathLike) for v in value):
            raise InputError(f"{flag} must be a list of "
                             f"{'paths' if opt.path else 'strings'}, got {value!r}")
        if opt.path and any(isinstance(v, str) and not v.strip() for v in value):
            raise InputError(f"{flag} is empty: give a value, or leave the option out")
    elif str in kinds:
        if not isinstance(value, str | os.PathLike):  # output=Path("x.csv") is a path
            raise InputError(f"{flag} must be a string, got {value!r}")
        if isinstance(value, str) and not value.strip() and f.default is None:
            # -o "$OUT" with OUT unset wrote no output and said nothing: an option
            # whose absence is None is left out to mean none, never given empty
            raise InputError(f"{flag} is empty: give a value, or leave the option out")
    elif Path in kinds:
        if not isinstance(value, str | os.PathLike):
            raise InputError(f"{flag} must be a path, got {value!r}")
        if isinstance(value, str) and not value.strip():
            # Path("") is ".": --history "" read the working directory, --cache-dir ""
            # cached there (the command line keeps an empty path as text: cli/options)
            raise InputError(f"{flag} is empty: give a value, or leave the option out")


G = TypeVar("G", bound=OptionGroup)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def group(cls: type[G]) -> type[G]:
    """An option group's class: ``frozen`` (``__eq__`` and ``__repr__`` are
    ``OptionGroup``'s)."""
    return frozen(cls)


def declared(cls: type[OptionGroup]) -> list[tuple[Field[Any], Opt]]:
    """The group's options, in declaration order, each with its ``Opt``."""
    return [(f, f.metadata[OPTION]) for f in fields(cls)  # type: ignore[arg-type]
            if OPTION in f.metadata]


# -- the groups --------------------------------------------------------------------------
_TABULAR = ("csv", "xlsx", "xls")
#: an output file's Python type: any path, or "-" (standard output: refused by the API)
_FILE = "PathLike | None"


@group
class InputOptions(OptionGroup):
    """The contact file and how to read it; how CSV outputs are written from it."""

    panel: ClassVar[str] = "Input"
    input: str = "-"
    column: list[str] = option(
        [], "Phone column (name or 1-based index); repeat it for a contact's other "
        "phone columns, in priority order (one message per contact, to its best "
        "number: the documentation's 'Contacts with several numbers').",
        flags=("--column", "-c"), cli_type=list[str] | None, common=True,
        brief="Phone column(s): name or 1-based index.")
    columns: str | None = option(
        None, "auto: every phone-like column, ordered by its share of mobile numbers, "
        "as the numbers of each row's contact.", flags=("--columns",), choices=("auto",))
    contact_id: str | None = option(
        None, "Rows sharing this column's value are one contact with several numbers "
        "(a long table).", flags=("--contact-id",))
    number_rank: str | None = option(
        None, "With --contact-id: the order of a contact's numbers (else file order).",
        flags=("--number-rank",))
    max_numbers_per_contact: int = option(
        10, "A contact's numbers beyond this many are neither chosen nor looked up "
        "(counted in the report).", flags=("--max-numbers-per-contact",), low=1)
    encoding: str | None = option(None, "Force the CSV encoding.", formats=("csv",))
    delimiter: str | None = option(None, "Force the CSV delimiter.", formats=("csv",))
    sheet: str | None = option(None, "Sheet to read (XLSX or XLS).",
                               formats=("xlsx", "xls"), common=True)
    input_format: str | None = option(
        None, "Input format when the name does not say: csv, xlsx, parquet, ndjson.",
        flags=("--format",))
    header: bool | None = option(
        None, "The first row is a header / is a contact (CSV, XLSX). Default: a header "
        "when the cell above the phone column is a label.", flags=("--header/--no-header",),
        formats=_TABULAR)
    skip_rows: int | None = option(
        None, "Skip the first N rows, blank ones included (the header is the next "
        "non-blank row; CSV, XLSX, XLS). Default: one title row (a single cell above a "
        "row of labels) and blank rows are skipped.",
        flags=("--skip-rows",), formats=_TABULAR)
    header_row: int | None = option(
        None, "The header is row N, as Excel numbers its rows (blank rows count; "
        "--skip-rows N-1).",
        flags=("--header-row",), formats=_TABULAR)
    csv_escape: bool = option(
        True, "Prefix with ' the input cells a spreadsheet would run as formulas (=, @, "
        "+, -...) in CSV outputs and lists.", flags=("--csv-escape/--no-csv-escape",),
        panel="Outputs")
    csv_dialect: str | None = option(
        None, "CSV outputs and lists: excel-fr (';' and a UTF-8 BOM, as French Excel "
        "opens them) or standard (',' and UTF-8 without BOM). Default: excel-fr for an "
        "XLSX/XLS or ';' CSV input, else the input's delimiter.", flags=("--csv-dialect",),
        panel="Outputs", api_type='Literal["excel-fr", "standard"] | None')
    excel: bool = option(False, "Same as --csv-dialect excel-fr.", flags=("--excel",),
                         panel="Outputs")


@group
class GateOptions(OptionGroup):
    """What passes: the target operator, the threshold and how unchecked messages
    count."""

    panel: ClassVar[str] = "Gate"
    operator: str = option(defaults.OPERATOR, "Target operator, ARCEP code.",
                           envvar="RCSQUALIFY_OPERATOR", common=True)
    threshold: float = option(defaults.THRESHOLD,
                              "Gate threshold on the error ratio, a share (0.15: 15 %).",
                              envvar="RCSQUALIFY_THRESHOLD", share=True, common=True,
                              brief="Threshold on the error ratio.")
    gate: str = option(
        defaults.GATE, "decide: pass when even the unchecked messages cannot push the ratio "
        "over, fail when the known errors already do, else undecided (exit 3, with the "
        "next step); known: the error ratio alone (lenient); upper: every unchecked "
        "message a failure (strict).", envvar="RCSQUALIFY_GATE",
        choices=defaults.GATE_MODES, common=True, brief="decide, known or upper.")


@group
class ReportOptions(OptionGroup):
    """What the run writes, and the campaign figures its reports estimate."""

    panel: ClassVar[str] = "Outputs"
    output: str | None = option(None, "Annotated rows: .csv, .tsv, .xlsx, .ndjson or "
                                ".parquet; - for the CSV on stdout.",
                                flags=("--output", "-o"), common=True,
                                brief="Annotated rows (.csv, .xlsx…), - for stdout.",
                                api_type=_FILE)
    json_report: str | None = option(None, "JSON report path, - for stdout.", common=True,
                                     api_type=_FILE)
    split_dir: str | None = option(
        None, "Write send_rcs, other_operators, not_rcs, unverified and remove lists "
        "here.", common=True, brief="Write the lists to send and to remove here.",
        api_type=_FILE)
    split_xlsx: bool = option(
        False, "Also write the lists as .xlsx with text cells (spreadsheet-safe).")
    wait_lock: float = option(
        0.0, "Seconds to wait for another run's lock (list directory, portability store) "
        "before giving up with exit 4.", low=0.0, high=86_400.0)
    html_report: str | None = option(None, "Self-contained HTML report for people.",
                                     common=True, api_type=_FILE)
    markdown_report: str | None = option(
        None, "Markdown report (verdict, send plan, counts, notes). Without it, under "
        "GitHub Actions the report is appended to $GITHUB_STEP_SUMMARY.", api_type=_FILE)
    ci_summary: bool = option(
        True, "Append the Markdown report to $GITHUB_STEP_SUMMARY when it is set.",
        flags=("--ci-summary/--no-ci-summary",))
    junit_xml: str | None = option(
        None, "JUnit XML report: gate, completeness and input problem classes as test "
        "cases.", common=True, brief="JUnit XML report (for CI).", api_type=_FILE)
    history: Path | None = option(
        None, "Cron log (JSON lines) whose ratios the HTML report draws as a trend.",
        path=True)
    send_rate: float = option(defaults.SEND_RATE, "Campaign send rate, messages/s.",
                              finite=(0.0, 1e6))
    price_message: float | None = option(
        None, "Single Message price, euros (per message nobody answers).", low=0.0)
    price_conversation: float | None = option(
        None, "Conversation price, euros (Orange's 2021-10-01 example: 0.095).", low=0.0)
    reply_rate: float | None = option(
        None, "Expected share of messages answered within 24 h.", share=True)
    # CI: GITHUB_STEP_SUMMARY gets the Markdown report when no path is given (unless
    # ci_summary is off); GITHUB_ACTIONS=true turns on workflow-command annotations
    step_summary: str | None = internal(None)
    github_actions: bool = internal(False)


@group
class AlertOptions(OptionGroup):
    """Who hears about a run without reading it: webhook alerts and a metrics file
    (issue #27; ``alerting.py``, ``report/alerts.py``, ``report/metrics.py``)."""

    panel: ClassVar[str] = "Outputs"
    metrics_file: str | None = option(
        None, "Write the run's metrics in Prometheus' text format here, atomically (for "
        "node_exporter's textfile collector: a *.prom file in its directory).",
        envvar="RCSQUALIFY_METRICS_FILE", path=True)
    notify: list[str] = option(
        [], "Webhook to post an alert to when the decision changes or the error ratio "
        "crosses --warn-at; repeatable. env:VAR reads the URL from the environment (a "
        "webhook URL is a credential: it is never shown whole).",
        cli_type=list[str] | None, metavar="URL|env:VAR")
    warn_at: float = option(
        defaults.WARN_AT, "Alert when the error ratio crosses this share, either way (--notify).",
        share=True, envvar="RCSQUALIFY_WARN_AT")
    notify_format: str = option(
        "auto", "Alert payload: slack, teams or json; auto chooses by the webhook's host "
        "(hooks.slack.com: slack; Teams and Workflows hosts: teams; else json).",
        choices=defaults.NOTIFY_FORMATS)


@group
class PortabilityOptions(OptionGroup):
    """Offline operator sources: portability extracts and the store built from them."""

    panel: ClassVar[str] = "Operators"
    portability: list[Path] = option(
        [], "Portability extract (CSV, XLSX, XLS, Parquet), repeatable.", path=True,
        cli_type=list[Path] | None, common=True, brief="Portability extract, repeatable.")
    portability_db: Path | None = option(
        None, "Portability store built by 'rcsqualify portability import'.", path=True)
    portability_number_column: str | None = option(None, "Number column of the extracts.")
    portability_operator_column: str | None = option(
        None, "Operator column of the extracts.")
    portability_max_unmapped: float = option(
        defaults.PORTABILITY_MAX_UNMAPPED, "Stop (exit 2) when more than this share of "
        "an extract's operator values map to no operator.", low=0.0, high=1.0, share=True)
    portability_max_age: int = option(
        defaults.PORTABILITY_MAX_AGE_DAYS, "Warn when the newest port date of an extract "
        "or store is older than this many days.", low=0)


#: the environment variables an MNP service's secrets are read from, each with what it
#: holds: the registry entry's ``secrets`` (providers.py), the options' help and the
#: generated reference read them
MNP_SECRETS: dict[str, str] = {
    "RCSQUALIFY_MNP_TOKEN": "MNP service bearer token (profiles with auth scheme bearer; "
    "generic: optional).",
    "RCSQUALIFY_MNP_USER": "MNP service user for HTTP Basic (twilio: the Account SID or "
    "API key SID).",
    "RCSQUALIFY_MNP_PASSWORD": "MNP service password for HTTP Basic (twilio: the auth "
    "token or API key secret).",
    "RCSQUALIFY_MNP_KEY": "MNP service key for digest signatures (hlr-lookups).",
    "RCSQUALIFY_MNP_SECRET": "MNP service secret for digest signatures (hlr-lookups).",
}


@group
class MnpOptions(OptionGroup):
    """The MNP look-up service (who serves a ported number)."""

    panel: ClassVar[str] = "Operators"
    #: every option, the profile first (``probe --help``'s order)
    one_request: ClassVar[tuple[str, ...] | None] = ("mnp_profile", "mnp_url", "mnp_field",
                                                     "mnp_region")
    mnp_url: str | None = option(
        None, "MNP look-up: URL template with {msisdn} (generic), or the service's base "
        "URL (a named profile).", envvar="RCSQUALIFY_MNP_URL")
    mnp_field: str | None = option(
        None, "generic profile: answer field holding the operator (default: mccmnc, then "
        "operator).")
    mnp_profile: str | None = option(
        None, "MNP service profile: generic (default), twilio, hlr-lookups, or the path "
        "of a .toml profile file. Credentials from the environment: RCSQUALIFY_MNP_TOKEN "
        "(bearer), RCSQUALIFY_MNP_USER and RCSQUALIFY_MNP_PASSWORD (basic), "
        "RCSQUALIFY_MNP_KEY and RCSQUALIFY_MNP_SECRET (digest).",
        envvar="RCSQUALIFY_MNP_PROFILE", path=True, credentials=tuple(MNP_SECRETS))
    mnp_region: str | None = option(
        None, "The MNP profile's region (twilio: us1, the default, or ie1, Twilio's "
        "Ireland region, which EU numbers such as French ones may need: Twilio error "
        "60614); its base URL unless --mnp-url is given.", envvar="RCSQUALIFY_MNP_REGION")


#: BotHub's secrets (as ``MNP_SECRETS``)
BOTHUB_SECRETS: dict[str, str] = {
    "RCSQUALIFY_BOTHUB_CLIENT_ID": "Orange BotHub OAuth client id (capability bothub, "
    "bothub-bulk). A profile may point at another variable: bothub-client-id = "
    "\"env:VAR\" or bothub-client-id-file = \"PATH\".",
    "RCSQUALIFY_BOTHUB_CLIENT_SECRET": "Orange BotHub OAuth client secret (same rules).",
}


@group
class CapabilityOptions(OptionGroup):
    """Which services check RCS capability, for the target operator and the others."""

    panel: ClassVar[str] = "Capability"
    #: the names come from the provider registry (providers.py), which imports this
    #: module: the command line writes them in (cli/options.py) and checks them
    capability: str = option("none", "Capability provider: {capability_choices}.",
                             common=True, brief="bothub, bothub-bulk, rbm…")
    other_route: str | None = option(
        None, "Check other operators' mobiles on Google RBM too (rbm or rbm-batch; needs "
        "the RBM settings): a second route, with its own send_rbm list.",
        envvar="RCSQUALIFY_OTHER_ROUTE")


@group
class BothubOptions(OptionGroup):
    """Orange BotHub: the single look-up and the bulk jobs."""

    panel: ClassVar[str] = "Capability"
    one_request: ClassVar[tuple[str, ...] | None] = (
        "bothub_url", "bothub_token_url", "bot_id", "bot_key_file", "bot_jwt_header",
        "require_feature")
    bothub_url: str = option(DEFAULT_BOTHUB_URL, "BotHub API base URL.",
                             envvar="RCSQUALIFY_BOTHUB_URL")
    bothub_token_url: str = option(DEFAULT_BOTHUB_TOKEN_URL, "BotHub OAuth token URL.",
                                   envvar="RCSQUALIFY_BOTHUB_TOKEN_URL",
                                   credentials=tuple(BOTHUB_SECRETS))
    bot_id: str | None = option(None, "BotHub bot id.", envvar="RCSQUALIFY_BOTHUB_BOT_ID",
                                credentials=tuple(BOTHUB_SECRETS), common=True,
                                brief="Bot id; RCSQUALIFY_BOTHUB_CLIENT_ID and _SECRET.")
    bot_key_file: Path | None = option(
        None, "Bot private key (PEM) for the GSMA JWT.", envvar="RCSQUALIFY_BOTHUB_KEY_FILE",
        path=True)
    bot_jwt_header: str = option(bothub_defaults.JWT_HEADER,
                                 "Header carrying the GSMA JWT (Orange does not document "
                                 "it).")
    single_warn: int = option(
        bothub_defaults.SINGLE_WARN, "bothub: warn when more numbers than this are to be "
        "asked one by one (after the cache); Orange means that call for tests.", low=0,
        envvar="RCSQUALIFY_SINGLE_WARN")
    wait_for_window: bool = option(
        False, "bothub-bulk: sleep until the 22:00 Paris window opens.")
    poll_interval: float = option(
        bothub_defaults.POLL_INITIAL,
        "bothub-bulk: first wait between job polls, seconds (grows to 30 s).",
        envvar="RCSQUALIFY_POLL_INTERVAL", finite=(0.05, 3_600.0))
    bulk_deadline: float | None = option(
        None, "bothub-bulk: stop polling after this many seconds (default: the end of the "
        "bulk window); unfinished jobs are polled by the next run.",
        envvar="RCSQUALIFY_BULK_DEADLINE", low=1.0, finite=(1.0, 7 * 86_400.0))
    bulk_hours: str | None = option(
        None, "bothub-bulk window, HH:MM-HH:MM Paris time, or 'server' (rely on the "
        "server's 405). Default: 22:00-07:00 in winter, 23:00-07:00 in summer.",
        envvar="RCSQUALIFY_BULK_HOURS")
    require_feature: str = option(
        bothub_defaults.FEATURE, "BotHub: capability needed to count as reachable ('' = "
        "any).", envvar="RCSQUALIFY_REQUIRE_FEATURE")


@group
class RbmOptions(OptionGroup):
    """Google RBM: the per-number look-up and users:batchGet."""

    panel: ClassVar[str] = "Capability"
    one_request: ClassVar[tuple[str, ...] | None] = ("rbm_url", "agent_id", "rbm_credentials")
    rbm_url: str = option(DEFAULT_RBM_URL, "RBM API base URL.", envvar="RCSQUALIFY_RBM_URL")
    agent_id: str | None = option(None, "RBM agent id.", envvar="RCSQUALIFY_RBM_AGENT_ID")
    rbm_credentials: Path | None = option(
        None, "RBM service-account JSON file.",
        envvar=("RCSQUALIFY_RBM_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"), path=True)
    agent_launched: bool = option(
        False, "The RBM agent is launched on the target operator (batchGet negatives "
        "become not_rcs).")
    batch_size: int | None = option(
        None, "rbm-batch: numbers per users:batchGet call (1-10,000; Google's own tool "
        "sends 499). Default: balanced calls of 500-10,000, which carry the random-sample "
        "estimate.", low=1, high=10_000)


@group
class SampleOptions(OptionGroup):
    """Checking a sample of the base instead of every number."""

    panel: ClassVar[str] = "Gate"
    sample: int | None = option(
        None, "auto: draw unresolved numbers in a seeded order and stop as soon as an "
        "anytime-valid bound decides the gate (or after --sample-max numbers). N: check "
        "only a seeded random sample of N target-operator mobiles and extrapolate (a "
        "fixed-sample interval).", metavar="N|auto", cli_type=str | None, common=True,
        brief="N numbers, or auto until decided.", api_type='int | Literal["auto"] | None')
    #: --sample auto (issue #22 §2): sequential, anytime-valid, until decided
    sample_auto: bool = internal(False)
    sample_max: int = option(
        defaults.SAMPLE_MAX, "--sample auto: draw at most this many numbers (no service is asked "
        "more; retries excluded), then undecided.", low=1)
    confidence: float = option(
        defaults.CONFIDENCE, "Confidence of --sample's bound (auto: each end on its own; "
        "N: the Wilson interval).", low=0.5, high=0.999)
    seed: int = option(0, "Seed of --sample.")


@group
class NetworkOptions(OptionGroup):
    """Pacing, retries and bounds of every HTTP service; ``http_policy()`` is the one
    object the HTTP layer receives."""

    panel: ClassVar[str] = "Network"
    rate: float = option(DEFAULT_POLICY.rate, "Requests per second per provider.",
                         envvar="RCSQUALIFY_RATE", finite=(0.01, 10_000.0))
    rate_margin: float = option(
        DEFAULT_POLICY.rate_margin, "Pace this share under --rate, so network jitter never "
        "makes arrivals exceed the quota.", envvar="RCSQUALIFY_RATE_MARGIN", low=0.0,
        high=0.5, finite=(0.0, 0.5), share=True)
    throttle_pause: float = option(
        DEFAULT_POLICY.throttle_pause, "Seconds to pause after an HTTP 429.",
        envvar="RCSQUALIFY_THROTTLE_PAUSE", finite=(0.0, 86_400.0))
    timeout: float = option(
        DEFAULT_POLICY.timeout, "Whole-request deadline (connect, send, complete answer), "
        "seconds.", envvar="RCSQUALIFY_TIMEOUT", low=0.1, finite=(0.1, 3_600.0))
    max_pause: float = option(
        DEFAULT_POLICY.max_pause, "Longest pause a server's Retry-After may impose (and "
        "the longest this run waits for a pause another run set), seconds.",
        envvar="RCSQUALIFY_MAX_PAUSE", low=0.0, finite=(0.0, 86_400.0))
    max_paused: float = option(
        DEFAULT_POLICY.max_paused, "Give a service up for the run when it answers only "
        "HTTP 429 for this many seconds (or 30 times in a row): the rest stays "
        "unverified (exit 3), or exit 2 if it never answered.",
        envvar="RCSQUALIFY_MAX_PAUSED", low=0.0, finite=(0.0, 30 * 86_400.0))
    max_requests: int | None = option(
        None, "Stop after this many requests per service (the rest stays unverified, "
        "exit 3).", envvar="RCSQUALIFY_MAX_REQUESTS", low=1)
    retry_backoff: float = option(
        DEFAULT_POLICY.retry_backoff, "First wait before retrying a "
        "5xx/timeout/reset, seconds (doubles each time).", envvar="RCSQUALIFY_RETRY_BACKOFF",
        finite=(0.0, 600.0))
    deadline: float = internal(DEFAULT_POLICY.deadline)  # per number: stop retrying
    concurrency: int = internal(DEFAULT_POLICY.concurrency)
    max_body: int = internal(DEFAULT_POLICY.max_body)  # bytes of one answer

    def http_policy(self) -> HttpPolicy:
        """The one HTTP policy of the run (every provider gets the same knobs)."""
        return HttpPolicy(rate=self.rate, rate_margin=self.rate_margin, timeout=self.timeout,
                          deadline=self.deadline, retry_backoff=self.retry_backoff,
                          throttle_pause=self.throttle_pause, max_pause=self.max_pause,
                          max_paused=self.max_paused, max_body=self.max_body,
                          max_requests=self.max_requests, concurrency=self.concurrency)


@group
class CacheOptions(OptionGroup):
    """The look-up cache, its key, and the store of the shared pacing schedule."""

    panel: ClassVar[str] = "Cache"
    cache_dir: Path | None = option(None, "Cache directory.", envvar="RCSQUALIFY_CACHE_DIR")
    cache_url: str | None = option(
        None, "The cache: a directory, or redis://[user@]host:port/db (rediss:// for TLS; "
        "the password in RCSQUALIFY_REDIS_PASSWORD).", envvar="RCSQUALIFY_CACHE_URL",
        credentials=("RCSQUALIFY_REDIS_PASSWORD",))
    cache_key_file: Path | None = option(
        None, "The cache key, kept outside the cache: a file of 64 hexadecimal characters "
        "(openssl rand -hex 32). Else RCSQUALIFY_CACHE_KEY, else the key stored in the "
        "cache.", envvar="RCSQUALIFY_CACHE_KEY_FILE", credentials=("RCSQUALIFY_CACHE_KEY",))
    cache_key_in_store: bool = option(
        False, "Accept a key stored inside a shared cache (Redis, or a cache CI saves): "
        "whoever reads the cache can then recover its numbers. Warned on every run.",
        flags=("--cache-key-in-store",))
    quota_store: str | None = option(
        None, "redis://… holding the pacing schedule every host shares (default: "
        "--cache-url when it is Redis, else a local per-user store).",
        envvar="RCSQUALIFY_QUOTA_STORE")
    no_cache: bool = option(False, "Bypass the cache.", flags=("--no-cache",))
    refresh: bool = option(False, "Ignore cache freshness.", flags=("--refresh",))
    ttl_positive_days: float = internal(defaults.TTL_POSITIVE_DAYS)
    ttl_negative_days: float = internal(defaults.TTL_NEGATIVE_DAYS)
    ttl_operator_days: float = internal(defaults.TTL_OPERATOR_DAYS)


@group
class RunOptions(OptionGroup):
    """How this run speaks, and where its profile came from."""

    panel: ClassVar[str] = "Profiles and dry run"
    quiet: bool = option(False, "Only the verdict line.", flags=("--quiet", "-q"),
                         panel="Outputs", common=True)
    lang: str | None = option(
        None, "Language of the HTML and Markdown reports: fr or en (default: from the "
        "locale; C, POSIX or unset, as under cron, gives French).",
        envvar="RCSQUALIFY_LANG", panel="Outputs", common=True, choices=defaults.LANGS,
        brief="Reports in fr or en (default: the locale).")
    #: the config file the profile was read from (never written over: CONTRACT §11)
    config: Path | None = option(
        None, "Profiles file (TOML). Default: config.toml in the user config directory; "
        "never the working directory.", envvar="RCSQUALIFY_CONFIG", common=True,
        brief="Profiles file (TOML).")
    profile: str | None = option(
        None, "Profile of the config file to apply: its values win over environment "
        "variables and defaults, options given here win over it.",
        envvar="RCSQUALIFY_PROFILE", common=True, brief="Profile of the config file to apply.")
    dry_run: bool = option(
        False, "Read, normalize, attribute (offline sources) and consult the cache, then "
        "say what the remote checks would ask and how long at the quota; no request, no "
        "verdict, exit 0. Command line only.", flags=("--dry-run",), common=True,
        brief="Say what would be asked, and stop.")
    debug: bool = option(False, "Show tracebacks.")
    #: the fields whose value the profile gave (not the command line): a reading option
    #: the input cannot use is then ignored with a note instead of refused (#26 item 3)
    from_profile: frozenset[str] = internal(frozenset())
    # profiles (issue #16): environment variable → "env:VAR" or "file:PATH", references
    # only (the wiring resolves them at the last moment)
    credential_refs: dict[str, str] = internal({})


#: options of ``check`` that mean nothing to a Python caller: what the terminal shows
#: (``quiet``, ``debug``) and ``--dry-run`` (command line only, exit 0 with no verdict);
#: ``rcsqualify.qualify`` takes every other option (api_types.py)
COMMAND_LINE_ONLY = frozenset({"quiet", "debug", "dry_run"})


def options_of(groups: tuple[type[OptionGroup], ...] | None = None
               ) -> Iterator[tuple[str, Opt, Field[Any]]]:
    """(field name, Opt, field) of every option of these groups (default: all), in
    order."""
    for cls in GROUPS if groups is None else groups:
        for f, opt in declared(cls):
            yield f.name, opt, f


def default_of(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    factory: Callable[[], Any] = f.default_factory  # type: ignore[assignment]
    return factory()


def settings_from(**values: Any) -> "Settings":
    """``Settings`` from keyword arguments named as the options' fields (``rate=25``,
    ``capability="bothub"``), every group validated: the entry point of Python callers.
    A name no group declares is a ``TypeError``, never silently dropped."""
    return Settings(**values)


def _split(values: Mapping[str, Any]) -> dict[type[OptionGroup], dict[str, Any]]:
    per: dict[type[OptionGroup], dict[str, Any]] = {}
    for name, value in values.items():
        owner = OWNER.get(name)
        if owner is None:
            raise TypeError(f"{name!r} is not an option of rcsqualify check (option "
                            "groups: settings.GROUPS)")
        per.setdefault(owner, {})[name] = value
    return per


def _with(group: G, changes: Mapping[str, Any]) -> G:
    """``group`` with ``changes``: ``dataclasses.replace`` without reading every field
    through ``getattr`` (which would count as reads under test)."""
    current = {f.name: vars(group)[f.name] for f in fields(group)}  # type: ignore[arg-type]
    return type(group)(**{**current, **changes})


@dataclass(init=False, eq=False, repr=False)  # frozen: Frozen's setters
class Settings(Frozen):
    """The option groups of one run (CONTRACT §9).

    Built from keyword arguments named as the fields (``Settings(rate=25)``) and/or
    whole groups (``Settings(bothub=BothubOptions(...))``); ``dataclasses.replace``
    works with either. Reading a flat name (``settings.rate``) delegates to the group
    that declares it: transitional, for code written before the groups.

    Its fields are the groups, in the order of ``check``'s options: a new group is a
    new field here (``GROUPS`` and the rest follow)."""

    inputs: InputOptions
    gating: GateOptions
    reports: ReportOptions
    alerts: AlertOptions
    portability_options: PortabilityOptions
    mnp: MnpOptions
    capability_options: CapabilityOptions
    bothub: BothubOptions
    rbm: RbmOptions
    sampling: SampleOptions
    network: NetworkOptions
    caching: CacheOptions
    run: RunOptions

    def __init__(self, **values: Any) -> None:
        given = {k: values.pop(k) for k in list(values) if k in _ATTRIBUTES}
        per = _split(values)
        for attribute, cls in _ATTRIBUTES.items():
            group = given.get(attribute)
            changes = per.get(cls, {})
            if group is None:
                group = cls(**changes)
            elif changes:
                group = _with(group, changes)
            object.__setattr__(self, attribute, group)

    def __eq__(self, other: object) -> bool:
        # eq=False above (no generated method, for start-up time): equal when every
        # group is (OptionGroup.__eq__), as the API and the CLI's settings must be
        return type(other) is type(self) and all(
            getattr(other, a) == getattr(self, a) for a in _ATTRIBUTES)

    __hash__ = None  # type: ignore[assignment]  # its groups hold lists

    def __getattr__(self, name: str) -> Any:
        # called only for names that are not attributes: the flat view of the groups
        owner = OWNER.get(name)
        if owner is None or name.startswith("__"):
            if _undeclared_reads is not None and not name.startswith("__"):
                _undeclared_reads.add(name)
            raise AttributeError(f"Settings has no option {name!r}")
        attribute = next(a for a, cls in _ATTRIBUTES.items() if cls is owner)
        return getattr(object.__getattribute__(self, attribute), name)

    def replace(self, **changes: Any) -> "Settings":
        """These settings with ``changes`` (flat names or whole groups)."""
        return Settings(**{**{a: getattr(self, a) for a in _ATTRIBUTES}, **changes})

    def group(self, cls: type[G]) -> G:
        """The group of class ``cls``."""
        attribute = next(a for a, c in _ATTRIBUTES.items() if c is cls)
        group: G = getattr(self, attribute)
        return group

    def groups(self) -> list[OptionGroup]:
        return [getattr(self, a) for a in _ATTRIBUTES]

    def http_policy(self) -> HttpPolicy:
        """The one HTTP policy of the run (every provider gets the same knobs)."""
        return self.network.http_policy()

    @property
    def remote(self) -> bool:
        c = self.capability_options
        return c.capability != "none" or bool(self.mnp.mnp_url) or bool(c.other_route)


#: attribute of ``Settings`` → its group
_ATTRIBUTES: dict[str, type[OptionGroup]] = {
    f.name: f.type for f in fields(Settings)}  # type: ignore[misc]
#: the groups of ``check``, in the order of its options
GROUPS: tuple[type[OptionGroup], ...] = tuple(_ATTRIBUTES.values())
#: field name → the group that declares it (every field, options and internal ones)
OWNER: dict[str, type[OptionGroup]] = {
    f.name: cls for cls in GROUPS for f in fields(cls)}  # type: ignore[arg-type]


def input_notes(s: Settings, fmt: str) -> list[str]:
    """The reading options that do not apply to the input's format, once known
    (``Opt.formats``). One given on the command line (or by its environment variable)
    is an error, never silently ignored (issue #16 item 5); one a profile gives is
    ignored, and the note returned names the profile, its file and the key (issue #26
    item 3): a profile serves bases of several formats."""
    out = []
    values, run = s.inputs, s.run
    for f, opt in declared(InputOptions):
        if not opt.formats or fmt in opt.formats or getattr(values, f.name) is None:
            continue
        applies = f"read as {fmt}; it applies to {', '.join(opt.formats)} files"
        if f.name not in run.from_profile:
            shown = opt.flags[0] if opt.flags else opt.flag(f.name)
            raise InputError(f"{shown} does not apply to {values.input} ({applies})")
        out.append(f"profile {run.profile} ({run.config}) sets {opt.flag(f.name)[2:]}, "
                   f"which does not apply to {values.input} ({applies}): ignored")
    return out


# -- which fields are read (under test: issue #24) ---------------------------------------
_undeclared_reads: set[str] | None = None


def record_reads(reads: set[tuple[str, str]], undeclared: set[str]) -> None:
    """From now on, every read of a group's field adds (group, field) to ``reads``, and
    every flat name ``Settings`` does not declare adds to ``undeclared``. For the test
    suite, which fails when a declared field is never read or an undeclared one is;
    never called in a run (it costs a Python call per attribute read)."""
    global _undeclared_reads
    _undeclared_reads = undeclared
    names = {cls: {f.name for f in fields(cls)} for cls in GROUPS}  # type: ignore[arg-type]

    def reading(self: OptionGroup, name: str) -> Any:
        cls = type(self)
        if name in names.get(cls, ()):
            reads.add((cls.__name__, name))
        return object.__getattribute__(self, name)

    OptionGroup.__getattribute__ = reading  # type: ignore[method-assign,assignment]


def option_keys() -> set[str]:
    """Every option's profile key (its long option name without the dashes)."""
    return {opt.flag(name)[2:] for name, opt, _ in options_of()}


def path_keys() -> set[str]:
    """The profile keys (long option names) whose value is a path."""
    return {opt.flag(name)[2:] for name, opt, _ in options_of() if opt.path}


def every_field() -> set[tuple[str, str]]:
    """(group, field) of every field the groups declare."""
    return {(cls.__name__, f.name) for cls in GROUPS
            for f in fields(cls)}  # type: ignore[arg-type]


def environment_names() -> set[str]:
    """Every environment variable an option reads."""
    out: set[str] = set()
    for _, opt, _ in options_of():
        if isinstance(opt.envvar, str):
            out.add(opt.envvar)
        elif opt.envvar:
            out.update(opt.envvar)
    return out
