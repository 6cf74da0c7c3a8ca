"""rcsqualify: qualify a French contact base before an RCS campaign on Orange's BotHub."""

from typing import Any

__version__ = "0.1.0"


def dependency_version(name: str) -> str:
    """The installed version of the distribution ``name`` (a top-level package of the same
    name), from its metadata, never by importing it.

    The ``name-*.dist-info/METADATA`` beside the package is read directly: importing
    ``importlib.metadata`` (email, zipfile, csv…) costs ~8 ms of every check. Any other
    layout (egg-info, several dist-infos, a zipped install) asks ``importlib.metadata``.
    """
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec(name)
    if spec is not None and spec.origin and spec.submodule_search_locations:
        site = Path(spec.origin).parent.parent
        found = list(site.glob(f"{name}-*.dist-info/METADATA"))
        if len(found) == 1:
            try:
                with found[0].open(encoding="utf-8") as fh:
                    for line in fh:
                        if not line.strip():
                            break  # the headers end at the first blank line
                        if line.startswith("Version:"):
                            return line.partition(":")[2].strip()
            except OSError:
                pass
    from importlib.metadata import version

    return version(name)


#: the Python API (``rcsqualify.api``), loaded on first use: ``import rcsqualify`` stays
#: cheap (no pandas, pyarrow or httpx) for the command line and for callers who only
#: read ``__version__``
_API = ("qualify", "Result", "Report", "QualifyOptions")


def __getattr__(name: str) -> Any:
    """``rcsqualify.qualify`` and the API's types, loaded when first asked for. A type
    checker cannot follow this: it reads ``__init__.pyi`` beside this file, which
    names the same objects typed (``rcsqualify.qualify`` is ``rcsqualify.api.qualify``;
    tests/test_typing.py holds the two files to the same names)."""
    if name in _API:
        # importlib, not an import statement: the package's top is the lowest layer, and
        # this is a re-export of the API (the highest), loaded when first asked for
        from importlib import import_module

        return getattr(import_module("rcsqualify.api"), name)
    raise AttributeError(f"module 'rcsqualify' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
