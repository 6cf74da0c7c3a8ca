"""The layers hold (issue #11): every import in the package, top-level or inside a
function, goes down the data flow, never up; no private name crosses a module; the
emulator imports no client code. Read from the source with ``ast``, so it runs in the
test suite (and therefore in .ci/run) with nothing to install."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rcsqualify"

#: lowest first; a module may import from its own layer and the ones before it
LAYERS: list[tuple[str, ...]] = [
    ("rcsqualify", "rcsqualify.errors", "rcsqualify.verdict",
     "rcsqualify.textsafe", "rcsqualify.masking", "rcsqualify.bulkwindow", "rcsqualify.files",
     "rcsqualify.sequential"),
    ("rcsqualify.numbering", "rcsqualify.remote"),
    ("rcsqualify.contacts", "rcsqualify.xls"),
    ("rcsqualify.operators",),
    ("rcsqualify.capability",),
    ("rcsqualify.pipeline", "rcsqualify.stages", "rcsqualify.sample_auto",
     "rcsqualify.contact_check"),
    ("rcsqualify.report",),
    ("rcsqualify.settings", "rcsqualify.wiring", "rcsqualify.runner", "rcsqualify.refresh",
     "rcsqualify.ci", "rcsqualify.learn", "rcsqualify.alerting",
     "rcsqualify.providers"),
    ("rcsqualify.cli", "rcsqualify.__main__"),
]
#: the emulator stands apart: it may use only these (it must not test our client
#: against itself)
EMULATOR_ALLOWED = ("rcsqualify.bulkwindow", "rcsqualify.emulator", "rcsqualify")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                    best is None or len(prefix) > best[1]):
                best = (i, len(prefix))
    return best[0] if best else None


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every rcsqualify import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" \
        else module_name(path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names
                    if a.name.startswith("rcsqualify")]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, target] if target else base)
            if target.startswith("rcsqualify"):
                out.append((node.lineno, target, [a.name for a in node.names]))
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    missing = [module_name(p) for p in MODULES
               if not module_name(p).startswith("rcsqualify.emulator")
               and layer_of(module_name(p)) is None]
    assert missing == [], f"add these modules to LAYERS: {missing}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_go_down_the_data_flow(path: Path) -> None:
    me = module_name(path)
    problems = []
    for line, target, names in imports(path):
        if me.startswith("rcsqualify.emulator"):
            if not any(target == a or target.startswith(a + ".") for a in EMULATOR_ALLOWED
                       if a != "rcsqualify") and target != "rcsqualify":
                problems.append(f"line {line}: the emulator imports client code {target}")
            continue
        mine, theirs = layer_of(me), layer_of(target)
        if target.startswith("rcsqualify.emulator"):
            if not me.startswith("rcsqualify.cli"):
                problems.append(f"line {line}: {target} is only for the cli")
            continue
        if mine is not None and theirs is not None and theirs > mine:
            problems.append(f"line {line}: {me} (layer {mine}) imports {target} "
                            f"(layer {theirs})")
        # a private name of another module
        for name in names:
            if name.startswith("_") and not name.startswith("__") and target != me:
                problems.append(f"line {line}: private {target}.{name}")
    assert problems == []
