"""The layers hold (issue #11): every import in the package, top-level or inside a
function, goes down the data flow, never up; no private name crosses a module; the
emulator imports no client code; no module of the package is in an import cycle, even
one closed by a function-level or ``TYPE_CHECKING`` import (issue #24: the layers allow
imports within a layer, so they alone saw neither ``pacing`` ↔ ``store`` nor
``pipeline`` ↔ ``stages``); an import by name (``importlib.import_module``) counts as
an import unless LAZY_IMPORTS lets it pass, saying why; every module belongs to a
layer. Read from the source with
``ast``, so it runs in the test suite (and therefore in .ci/run) with nothing to
install."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rcsqualify"

#: lowest first; a module may import from its own layer and the ones before it
LAYERS: list[tuple[str, ...]] = [
    ("rcsqualify", "rcsqualify.errors", "rcsqualify.verdict", "rcsqualify.textsafe",
     "rcsqualify.notes", "rcsqualify.l10n",
     "rcsqualify.masking", "rcsqualify.bulkwindow", "rcsqualify.files",
     "rcsqualify.sequential", "rcsqualify.defaults", "rcsqualify.api_options"),
    ("rcsqualify.numbering", "rcsqualify.remote"),
    ("rcsqualify.contacts", "rcsqualify.xls"),
    ("rcsqualify.operators",),
    ("rcsqualify.capability",),
    ("rcsqualify.distinct",),
    ("rcsqualify.pipeline", "rcsqualify.stages", "rcsqualify.sample_auto",
     "rcsqualify.contact_check", "rcsqualify.contact_sample"),
    ("rcsqualify.report",),
    ("rcsqualify.settings", "rcsqualify.config", "rcsqualify.wiring", "rcsqualify.runner",
     "rcsqualify.result",
     "rcsqualify.refresh", "rcsqualify.ci", "rcsqualify.learn", "rcsqualify.alerting",
     "rcsqualify.providers", "rcsqualify.probe", "rcsqualify.dryrun",
     "rcsqualify.display", "rcsqualify.validation", "rcsqualify.outputs", "rcsqualify.costs"),
    ("rcsqualify.cli", "rcsqualify.__main__", "rcsqualify.api", "rcsqualify.api_types"),
]
#: the emulator stands apart: it may use only these (it must not test our client
#: against itself)
EMULATOR_ALLOWED = ("rcsqualify.bulkwindow", "rcsqualify.emulator", "rcsqualify")


def module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    """The layer of ``module``: its longest prefix in LAYERS. ``rcsqualify`` itself is
    only the package's ``__init__``, never a prefix (else every module had a layer)."""
    best: tuple[int, int] | None = None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or (prefix != "rcsqualify"
                                     and module.startswith(prefix + "."))) and (
                    best is None or len(prefix) > best[1]):
                best = (i, len(prefix))
    return best[0] if best else None


def imports(path: Path, root: Path = PACKAGE.parent) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every rcsqualify import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path, root).rsplit(".", 1)[0] if path.name != "__init__.py" \
        else module_name(path, root)
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
#: what the package may call to import a module by its name at run time
_BY_NAME = ("import_module", "__import__")


def _is_import_by_name(node: ast.AST) -> bool:
    func = node.func if isinstance(node, ast.Call) else None
    return (isinstance(func, ast.Name) and func.id in _BY_NAME) or (
        isinstance(func, ast.Attribute) and func.attr in _BY_NAME)


def imports_by_name(path: Path, modules: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every module of the package ``path`` imports by its name at
    run time (``importlib.import_module("rcsqualify.api")``): an import like any other,
    which the statements alone would miss. When the name is not written in the call (a
    table of modules, ``import_module(table[name])``), every string of the file that
    names a module of the package is taken as imported; a call that names none is
    reported as ``(line, "")``: the checks could not follow it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    named = [(n.lineno, n.value) for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and isinstance(n.value, str)
             and n.value in modules]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not _is_import_by_name(node):
            continue
        assert isinstance(node, ast.Call)
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            if first.value.startswith("rcsqualify"):
                out.append((node.lineno, first.value))
        elif named:
            out += named
        else:
            out.append((node.lineno, ""))
    return list(dict.fromkeys(out))


#: imports by name (``importlib``) that the layer and cycle checks let pass, each with
#: why; any other import of the package by its name counts as an import statement would
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    ("rcsqualify", "rcsqualify.api"):
        "PEP 562 re-export: rcsqualify.qualify is rcsqualify.api.qualify, loaded on its "
        "first reading, once the package is imported; the package's top is its lowest "
        "layer (every module reads __version__ there) and also its public face",
}


def import_graph(paths: list[Path], root: Path = PACKAGE.parent
                 ) -> dict[str, dict[str, int]]:
    """module → {module it imports: the first line doing so}, for every import of the
    package anywhere in a file (top level, functions, ``TYPE_CHECKING``).
    ``from rcsqualify.remote import store`` is an import of ``rcsqualify.remote.store``;
    a name that is not a module is an import of the module that holds it."""
    names = {module_name(p, root) for p in paths}
    graph: dict[str, dict[str, int]] = {}
    for path in paths:
        me = module_name(path, root)
        edges = graph.setdefault(me, {})
        for line, target, imported in imports(path, root):
            for name in imported or [""]:
                module = f"{target}.{name}" if f"{target}.{name}" in names else target
                while module not in names and "." in module:
                    module = module.rsplit(".", 1)[0]
                if module in names and module != me:
                    edges.setdefault(module, line)
        for line, module in imports_by_name(path, names):
            if module in names and module != me and (me, module) not in LAZY_IMPORTS:
                edges.setdefault(module, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def describe(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    return "; ".join(f"{a} line {line} imports {b}" for a in component
                     for b, line in sorted(graph[a].items()) if b in component)


#: cycles being taken apart by their owner, each with why it is still there; the test
#: fails on any other cycle, and on one of these once it is gone (so the list shrinks)
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def test_no_import_cycles() -> None:
    graph = import_graph(MODULES)
    found = cycles(graph)
    assert [describe(graph, c) for c in found if frozenset(c) not in KNOWN_CYCLES] == []
    gone = [why for c, why in KNOWN_CYCLES.items() if sorted(c) not in found]
    assert gone == [], f"no longer a cycle: remove it from KNOWN_CYCLES: {gone}"


def test_the_cycle_check_sees_function_level_and_type_checking_imports(
        tmp_path: Path) -> None:
    """The check itself: a cycle closed only inside a function, or only under
    ``TYPE_CHECKING``, is found (the two cycles of issue #24 were closed so)."""
    package = tmp_path / "rcsqualify"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from rcsqualify.b import x\n")
    (package / "b.py").write_text("def f():\n    from rcsqualify import a\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\n"
                                  "if TYPE_CHECKING:\n    from rcsqualify.d import y\n")
    (package / "d.py").write_text("from rcsqualify.c import z\n")
    (package / "e.py").write_text("from rcsqualify.a import x\n")
    graph = import_graph(sorted(package.rglob("*.py")), tmp_path)
    assert cycles(graph) == [["rcsqualify.a", "rcsqualify.b"],
                             ["rcsqualify.c", "rcsqualify.d"]]


def test_a_top_level_module_outside_every_layer_is_found() -> None:
    """``rcsqualify`` is the package's ``__init__`` only: it gives no module a layer."""
    assert layer_of("rcsqualify") == 0
    assert layer_of("rcsqualify.no_such_module") is None
    assert layer_of("rcsqualify.remote.no_such_module") == layer_of("rcsqualify.remote")


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
    for line, target in imports_by_name(path, {module_name(p) for p in MODULES}):
        mine, theirs = layer_of(me), layer_of(target)
        if not target:
            problems.append(f"line {line}: an import by a name the checks cannot read "
                            "(write the module's name in the file)")
        elif (me, target) not in LAZY_IMPORTS and mine is not None and \
                theirs is not None and theirs > mine:
            problems.append(f"line {line}: {me} (layer {mine}) imports {target} "
                            f"(layer {theirs}) by its name")
    assert problems == []


def test_every_lazy_import_let_pass_is_still_made() -> None:
    """An entry of LAZY_IMPORTS whose import is gone goes too (the list only shrinks)."""
    names = {module_name(p) for p in MODULES}
    made = {(module_name(p), target) for p in MODULES
            for _, target in imports_by_name(p, names)}
    assert set(LAZY_IMPORTS) - made == set()


def test_the_checks_see_imports_by_name(tmp_path: Path) -> None:
    """``importlib.import_module`` escapes no check: a module named in the call, or in
    a table the call reads, is imported; a cycle or a climb closed so is found."""
    package = tmp_path / "rcsqualify"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("import importlib\n"
                                  "def f():\n    importlib.import_module('rcsqualify.b')\n")
    (package / "b.py").write_text("from rcsqualify.a import f\n")
    (package / "c.py").write_text("from importlib import import_module\n"
                                  "TABLE = {'x': 'rcsqualify.d'}\n"
                                  "def g(n):\n    return import_module(TABLE[n])\n")
    (package / "d.py").write_text("from rcsqualify.c import g\n")
    (package / "e.py").write_text("def h(n):\n    return __import__(n)\n")
    paths = sorted(package.rglob("*.py"))
    assert cycles(import_graph(paths, tmp_path)) == [["rcsqualify.a", "rcsqualify.b"],
                                                     ["rcsqualify.c", "rcsqualify.d"]]
    names = {module_name(p, tmp_path) for p in paths}
    assert imports_by_name(package / "e.py", names) == [(2, "")]
    assert imports_by_name(package / "c.py", names) == [(2, "rcsqualify.d")]


def test_every_error_class_is_used() -> None:
    """An error class no module raises or catches is a promise nothing keeps (issue #24:
    ``ServiceError`` was declared and never raised)."""
    errors = PACKAGE / "errors.py"
    declared = [n.name for n in ast.parse(errors.read_text(encoding="utf-8")).body
                if isinstance(n, ast.ClassDef) and n.name != "ExitCode"]
    others = "\n".join(p.read_text(encoding="utf-8") for p in MODULES if p != errors)
    assert [name for name in declared if name not in others] == []
