"""Outcome profiles: how to read one platform's delivery events (issue #28).

A profile is a small TOML file, like the MNP profiles: built-in ones live in
``rcsqualify/data/outcome_profiles/`` (``generic``, ``rbm``, ``maap``) and are chosen by
name; a user's profile is given by its path (``--outcomes my.toml``). A bare name is
never looked up in the working directory: a checked-out repository must not be able to
change what a name means.

Keys (``docs/learn.md`` shows the built-ins and their sources):

- ``number``, ``message_id``, ``time``, ``outcome``: lists of field names, the first
  present wins; a dotted name reaches into nested JSON (``messageContact.userContact``);
  in a table (CSV, XLSX, Parquet) names match column headers, case-insensitively;
- ``reachable``, ``not_rcs``, ``failed``: outcome values (case-insensitive) meaning the
  number is RCS-reachable now, is not RCS now (not RCS, unknown user, not the operator),
  or failed for another reason (a failure, no conclusion); any other value (``SENT``,
  ``IS_TYPING``) is counted and teaches nothing;
- ``decode`` (optional): a field holding the event as base64-encoded JSON (a Google
  Pub/Sub push carries RBM events in ``message.data``);
- ``name``, ``description``: shown in messages and reports.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rcsqualify.errors import InputError
from rcsqualify.textsafe import safe_text

BUILTIN = ("generic", "rbm", "maap")
#: outcome classes of one event
OTHER, REACHABLE, NOT_RCS, FAILED = 0, 1, 2, 3
CLASS_NAMES = ("other", "reachable", "not_rcs", "failed")
_LISTS = ("number", "message_id", "time", "outcome", "reachable", "not_rcs", "failed")
_KEYS = (*_LISTS, "name", "description", "decode")
#: a profile file larger than this is not a profile
MAX_PROFILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class OutcomeProfile:
    name: str
    description: str
    number: tuple[str, ...]
    message_id: tuple[str, ...]
    time: tuple[str, ...]
    outcome: tuple[str, ...]
    #: lower-cased outcome value → class (REACHABLE, NOT_RCS, FAILED)
    classes: dict[str, int]
    decode: str = ""

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field name the profile reads."""
        return (*self.number, *self.message_id, *self.time, *self.outcome)

    @property
    def indexes_lists(self) -> bool:
        """A field name reaches into a JSON list (``a.0.b``): read line by line."""
        return any(part.isdigit() for path in (*self.number, *self.message_id,
                                               *self.time, *self.outcome, self.decode)
                   for part in path.split("."))

    def classify(self, value: Any) -> int:
        """The class of one outcome value (OTHER when the profile does not name it)."""
        if value is None:
            return OTHER
        return self.classes.get(str(value).strip().lower(), OTHER)


def load_outcome_profile(spec: str) -> OutcomeProfile:
    """A built-in profile by name, or a user's profile file by path (exit 2 naming the
    file and the key when it does not validate)."""
    if spec in BUILTIN:
        text = (resources.files("rcsqualify") / "data" / "outcome_profiles" / f"{spec}.toml"
                ).read_text(encoding="utf-8")
        return parse_outcome_profile(text, f"built-in profile {spec}")
    if not (spec.endswith(".toml") or "/" in spec or os.sep in spec):
        raise InputError(f"--outcomes {safe_text(spec, 60)}: no such profile; built-in "
                         f"profiles are {', '.join(BUILTIN)}, or give the path of a .toml "
                         "profile file")
    path = Path(spec)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{safe_text(path)}: cannot read the outcome profile "
                         f"({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_PROFILE_BYTES:
        raise InputError(f"{safe_text(path)}: not an outcome profile (over "
                         f"{MAX_PROFILE_BYTES // 1024} KB)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{safe_text(path)}: the outcome profile is not UTF-8") from None
    return parse_outcome_profile(text, safe_text(path))


def parse_outcome_profile(text: str, source: str) -> OutcomeProfile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not valid TOML ({safe_text(exc, 120)})") from None
    except RecursionError:  # tomllib recurses on nested arrays and tables
        raise InputError(f"{source}: not valid TOML (nested too deeply)") from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise InputError(f"{source}: unknown key {safe_text(unknown[0], 40)!r} (keys: "
                         f"{', '.join(_KEYS)})")
    lists: dict[str, tuple[str, ...]] = {}
    for key in _LISTS:
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(
                isinstance(v, str | int) and not isinstance(v, bool) and str(v).strip()
                for v in value):
            raise InputError(f"{source}: {key} must be a list of names or values")
        lists[key] = tuple(str(v).strip() for v in value)
    for key in ("number", "outcome"):
        if not lists[key]:
            raise InputError(f"{source}: {key} must name at least one field")
    classes: dict[str, int] = {}
    for key, cls in (("reachable", REACHABLE), ("not_rcs", NOT_RCS), ("failed", FAILED)):
        for value in lists[key]:
            word = value.lower()
            if classes.get(word, cls) != cls:
                raise InputError(f"{source}: outcome {safe_text(value, 40)!r} is in two "
                                 "of reachable, not_rcs, failed")
            classes[word] = cls
    if REACHABLE not in classes.values() and NOT_RCS not in classes.values():
        raise InputError(f"{source}: reachable or not_rcs must name at least one outcome "
                         "(else nothing can be learned)")
    for key in ("name", "description", "decode"):
        if not isinstance(data.get(key, ""), str):
            raise InputError(f"{source}: {key} must be a string")
    return OutcomeProfile(
        name=safe_text(data.get("name") or source, 60),
        description=safe_text(data.get("description", ""), 200),
        number=lists["number"], message_id=lists["message_id"], time=lists["time"],
        outcome=lists["outcome"], classes=classes, decode=str(data.get("decode", "")))
