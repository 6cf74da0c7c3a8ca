"""Each default is written once (issue #24): in ``rcsqualify/defaults.py`` (BotHub's in
``capability/defaults.py``, the HTTP ones in ``remote/policy.py``). The option
declarations and every function whose parameter means the same thing read it from
there; a literal copy anywhere else in the package fails here, naming file and line."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from rcsqualify import defaults, settings

PACKAGE = Path(settings.__file__).parent
#: where defaults are written (the emulator is a fake server with its own defaults)
HOMES = {PACKAGE / "defaults.py", PACKAGE / "capability" / "defaults.py",
         PACKAGE / "remote" / "policy.py"}

#: constant of defaults.py → the option it is the default of, and the names a parameter
#: or field meaning the same thing goes by elsewhere
MEANS: dict[str, tuple[str, ...]] = {
    "OPERATOR": ("operator", "target_operator"),
    "THRESHOLD": ("threshold",),
    "GATE": ("gate", "gate_mode"),
    "WARN_AT": ("warn_at",),
    "SEND_RATE": ("send_rate",),
    "CONFIDENCE": ("confidence",),
    "SAMPLE_MAX": ("sample_max",),
    "PORTABILITY_MAX_UNMAPPED": ("portability_max_unmapped", "max_unmapped"),
    "PORTABILITY_MAX_AGE_DAYS": ("portability_max_age", "max_age_days", "max_age"),
    "TTL_POSITIVE_DAYS": ("ttl_positive_days", "positive_days"),
    "TTL_NEGATIVE_DAYS": ("ttl_negative_days", "negative_days"),
    "TTL_OPERATOR_DAYS": ("ttl_operator_days", "operator_days"),
}
#: the choices whose tuple is written once
CHOICES = ("GATE_MODES", "LANGS", "NOTIFY_FORMATS")


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p not in HOMES and "emulator" not in p.parts)


def literal(node: ast.AST | None) -> Any:
    """The value of a literal default (``0.15``, ``"FRTE"``, ``-1``), else None."""
    try:
        return ast.literal_eval(node) if node is not None else None
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None


def defaults_in(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    """(name, default) of every parameter with a default, every annotated class field
    with a value, and every ``option(default, …)``/``internal(default)`` declaration."""
    out: list[tuple[str, ast.AST]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            positional = [*a.posonlyargs, *a.args]
            out += [(arg.arg, d) for arg, d in
                    zip(positional[len(positional) - len(a.defaults):], a.defaults,
                        strict=True)]
            out += [(arg.arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
                    if d is not None]
        elif isinstance(node, ast.ClassDef):
            for st in node.body:
                if (isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name)
                        and st.value is not None):
                    value = st.value
                    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                            and value.func.id in ("option", "internal", "field")
                            and value.args):
                        value = value.args[0]
                    out.append((st.target.id, value))
    return out


def copies(paths: list[Path]) -> list[str]:
    """'file:line: what: write defaults.NAME' for each literal copy of a default."""
    names = {n: c for c, ns in MEANS.items() for n in ns}
    found = []
    for path in paths:
        shown = path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE) else path
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, node in defaults_in(tree):
            value = literal(node)
            if name in names and value is not None and not isinstance(value, bool):
                found.append(f"{shown}:{node.lineno}: {name} = "
                             f"{value!r}: write defaults.{names[name]}")
        typed = {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)
                 and isinstance(n.value, ast.Name) and n.value.id == "Literal"}
        for node in ast.walk(tree):
            # a type's Literal[...] must spell its values (test_the_api_types_...)
            value = (literal(node) if isinstance(node, ast.Tuple) and id(node) not in typed
                     else None)
            for name in CHOICES:
                if value == getattr(defaults, name):
                    found.append(f"{shown}:{node.lineno}: {value!r}: write defaults.{name}")
            if isinstance(node, ast.Constant) and node.value == defaults.OPERATOR:
                found.append(f"{shown}:{node.lineno}: "
                             f"{node.value!r}: write defaults.OPERATOR")
    return found


def test_no_default_is_written_outside_its_home() -> None:
    assert copies(sources()) == []


def test_the_scan_finds_a_copy(tmp_path: Path) -> None:
    """The scan above can fail: each kind of copy it looks for is found."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from dataclasses import dataclass\n"
        "def run(source, *, target_operator='FRTE', confidence=0.95): ...\n"
        "def age(max_age_days=30): ...\n"
        "@dataclass\nclass Fresh:\n    positive_days: float = 90.0\n"
        "class Opts:\n    warn_at: float = option(0.12, 'help')\n"
        "MODES = ('decide', 'known', 'upper')\n"
        "def target(s): return s.operator == 'FRTE'\n", encoding="utf-8")
    found = copies([bad])
    assert sorted(line.split(": ", 1)[1] for line in found) == sorted([
        "target_operator = 'FRTE': write defaults.OPERATOR",
        "confidence = 0.95: write defaults.CONFIDENCE",
        "max_age_days = 30: write defaults.PORTABILITY_MAX_AGE_DAYS",
        "positive_days = 90.0: write defaults.TTL_POSITIVE_DAYS",
        "warn_at = 0.12: write defaults.WARN_AT",
        "'FRTE': write defaults.OPERATOR",
        "('decide', 'known', 'upper'): write defaults.GATE_MODES",
        "'FRTE': write defaults.OPERATOR",
    ])


@pytest.mark.parametrize("constant", sorted(MEANS))
def test_the_declaration_reads_the_constant(constant: str) -> None:
    """The option's declared default is the constant itself (not an equal copy)."""
    field_name = MEANS[constant][0]
    owner = settings.OWNER[field_name]
    declared = next(f.default for f in fields(owner)  # type: ignore[arg-type]
                    if f.name == field_name)
    assert declared is getattr(defaults, constant)


def test_the_api_types_spell_the_same_choices() -> None:
    """``api.QualifyOptions`` must spell its choices (a ``Literal`` type): they are
    the declared ones all the same."""
    from typing import get_args, get_type_hints

    from rcsqualify import api

    hints = get_type_hints(api.QualifyOptions)

    def choices(name: str) -> tuple[Any, ...]:
        return tuple(v for arg in (hints[name], *get_args(hints[name]))
                     for v in get_args(arg) if isinstance(v, str))

    assert choices("gate") == defaults.GATE_MODES
    assert choices("notify_format") == defaults.NOTIFY_FORMATS
    assert choices("lang") == defaults.LANGS


def test_the_paced_rate_is_computed_once() -> None:
    """``rate × (1 − rate_margin)`` is ``policy.paced_rate``: the pacer's interval and
    the plans (dry run, costs) read it, so they cannot drift apart."""
    import re

    from rcsqualify.remote.pacing import Pacer
    from rcsqualify.remote.policy import HttpPolicy

    policy = HttpPolicy(rate=20.0, rate_margin=0.05)
    pacer = Pacer(policy.rate, rate_margin=policy.rate_margin)
    assert pacer.interval == pytest.approx(1 / policy.paced) and policy.paced == 19.0
    written = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
               if re.search(r"\(\s*1(\.0)?\s*-\s*(self\.)?(rate_)?margin\s*\)",
                            p.read_text(encoding="utf-8"))]
    assert written == ["remote/policy.py"]
