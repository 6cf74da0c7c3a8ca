"""``rcsqualify.qualify`` is typed for mypy and pyright users (issue #27 item 2).

``rcsqualify/__init__.py`` loads the API lazily (``__getattr__``: ``import rcsqualify``
stays free of pandas, pyarrow and httpx, tests/test_startup.py); a type checker reads
``rcsqualify/__init__.pyi`` instead. These tests run mypy, through its Python API, on a
caller's snippet: the call is checked against the options' types, the result is a
``Result``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rcsqualify

ROOT = Path(rcsqualify.__file__).resolve().parent
#: third-party packages mypy need not read for this (the API's signature names pandas
#: and pyarrow types only in its ``source`` union): seconds instead of a minute
SKIPPED = ("pandas", "pyarrow", "numpy", "httpx", "httpcore", "anyio", "rich", "typer",
           "click", "starlette", "uvicorn", "redis", "openpyxl", "phonenumbers", "jwt",
           "google", "cryptography", "diskcache", "tenacity", "filelock", "platformdirs",
           "xlrd", "yaml")


def mypy_on(snippet: str, tmp_path: Path) -> tuple[str, int]:
    """mypy's report on ``snippet`` (a caller's module) and its exit status; rcsqualify
    is read from this checkout (the current directory of the run)."""
    from mypy import api

    config = tmp_path / "mypy.ini"
    config.write_text(
        "[mypy]\nignore_missing_imports = True\nfollow_imports = silent\n"
        "python_version = 3.11\n"
        f"[mypy-{','.join(f'{name}.*' for name in SKIPPED)}]\nfollow_imports = skip\n",
        encoding="utf-8")
    source = tmp_path / "caller.py"
    source.write_text(snippet, encoding="utf-8")
    out, err, status = api.run([str(source), "--config-file", str(config),
                                "--cache-dir", str(tmp_path / "cache")])
    assert not err, err
    return out, status


def test_qualify_is_typed_through_the_package(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT.parent)  # mypy finds this checkout's rcsqualify
    out, status = mypy_on(
        "import rcsqualify\n"
        "result = rcsqualify.qualify('contacts.csv', threshold=0.1, column=['Tel'])\n"
        "reveal_type(result)\n"
        "reveal_type(result.decision)\n"
        "rcsqualify.qualify('contacts.csv', threshold='high')\n"
        "rcsqualify.qualify('contacts.csv', colum='Tel')\n"
        "reveal_type(rcsqualify.__version__)\n", tmp_path)
    assert status == 1, out
    assert 'caller.py:3: note: Revealed type is "rcsqualify.result.Result"' in out
    assert "caller.py:4: note: Revealed type is \"Literal['pass'] | Literal['fail'] | " \
           "Literal['undecided']\"" in out
    assert ('caller.py:5: error: Argument "threshold" to "qualify" has incompatible type '
            '"str"; expected "float"') in out
    assert 'caller.py:6: error: Unexpected keyword argument "colum"' in out
    assert 'caller.py:7: note: Revealed type is "str"' in out
    assert "Found 2 errors in 1 file" in out  # nothing else: lines 2 and 3 are clean


def public_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return {n for n in names if not n.startswith("_") or n in ("__version__", "__dir__")}


def test_the_stub_names_what_the_package_gives() -> None:
    """A name the package gives (or loads lazily) and its stub lacks is an error for
    every type-checked caller; a name only the stub has would fail at run time."""
    module = ast.parse((ROOT / "__init__.py").read_text(encoding="utf-8"))
    stub = ast.parse((ROOT / "__init__.pyi").read_text(encoding="utf-8"))
    given = public_names(module) | set(rcsqualify._API) | {"__version__"}
    given -= {"TYPE_CHECKING", "Any"}
    assert public_names(stub) == given
    for name in rcsqualify._API:  # the stub's objects are the lazy ones
        assert getattr(rcsqualify, name) is not None
