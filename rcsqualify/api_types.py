"""The typed keyword arguments of ``rcsqualify.qualify``, generated from the option
declarations (issue #24 item 5): ``python -m rcsqualify.api_types`` writes
``rcsqualify/api_options.py``.

Type checkers read static text: ``qualify(**options: Unpack[QualifyOptions])`` needs a
``TypedDict`` written out, which a hand copy kept one line per option away from
``settings.py``. The declarations say it all: the field's type (a ``Path`` or a
``path=True`` string is any path-like; a list takes one value or several), its choices (a
``Literal``), or ``Opt.api_type`` where the Python type differs from the field's
(``--sample auto``, the output files). ``tests/test_api.py`` fails while the checked-in
file differs from what this writes, and names the command: a new option changes the
generated file by the command, never by hand.

Not imported at run time: ``api.py`` imports the generated module.
"""

from __future__ import annotations

import sys
import types
import typing
from dataclasses import Field
from pathlib import Path
from typing import Any

from rcsqualify.settings import COMMAND_LINE_ONLY, OWNER, Opt, options_of

#: the generated module, beside this one
TARGET = Path(__file__).with_name("api_options.py")
COMMAND = "python -m rcsqualify.api_types"

_HEADER = f'''"""The keyword arguments of ``rcsqualify.qualify``, typed for mypy and pyright.

GENERATED from the option declarations (``settings.py``) by
``{COMMAND}``: do not edit (``tests/test_api.py`` fails while this
file differs from what the command writes). ``api.py`` re-exports ``QualifyOptions``
and ``COMMAND_LINE_ONLY``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal, TypedDict

PathLike = str | os.PathLike[str]


class QualifyOptions(TypedDict, total=False):
    """The keyword arguments of ``qualify``: every option of ``rcsqualify check`` by its
    field name (``--json-report`` is ``json_report``, ``--format`` is
    ``input_format``), typed for Python callers; not those of ``COMMAND_LINE_ONLY``."""

'''


def _name(t: Any, opt: Opt) -> str:
    if t is Path or (t is str and opt.path):
        return "PathLike"
    if isinstance(t, type):
        return t.__name__
    raise TypeError(f"no Python type written for {t!r}: give the option an api_type")


def python_type(hint: Any, opt: Opt) -> str:
    """The type a Python caller gives an option as, written as in source: ``hint`` is
    its field's type."""
    if opt.api_type:
        return opt.api_type
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    core = next(a for a in args if a is not type(None)) if optional else hint
    if typing.get_origin(core) is list:
        item = _name(typing.get_args(core)[0], opt)
        text = f"{item} | Sequence[{item}]"
    elif opt.choices:
        text = "Literal[" + ", ".join(f'"{c}"' for c in opt.choices) + "]"
    else:
        text = _name(core, opt)
    return f"{text} | None" if optional else text


def _hint(name: str, f: Field[Any]) -> Any:
    return (typing.get_type_hints(OWNER[name])[name] if isinstance(f.type, str)
            else f.type)


def source() -> str:
    """The text of ``api_options.py`` for the declarations as they are."""
    lines = [f"    {name}: {python_type(_hint(name, f), opt)}"
             for name, opt, f in options_of() if name not in COMMAND_LINE_ONLY]
    only = ", ".join(f'"{n}"' for n in sorted(COMMAND_LINE_ONLY))
    return (_HEADER + "\n".join(lines) + "\n\n\n"
            "#: options of ``check`` that mean nothing to a Python caller "
            "(``settings.COMMAND_LINE_ONLY``)\n"
            f"COMMAND_LINE_ONLY = frozenset({{{only}}})\n")


def main() -> int:
    """Write the generated module; say whether it changed."""
    text = source()
    old = TARGET.read_text(encoding="utf-8") if TARGET.exists() else None
    if old == text:
        print(f"{TARGET.name}: up to date")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"{TARGET.name}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
