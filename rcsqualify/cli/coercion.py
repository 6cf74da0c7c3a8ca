"""Typer's value coercion, built only for the values that need it (issue #18 item 1).

Typer (0.2x with pydantic) converts every parameter's value through a pydantic
``TypeAdapter`` built on first use: for ``check``'s ~80 options that is the pydantic
import and ~80 adapters (≈ 0.1 s) before the command runs, although nearly every value
is a default (``None``, ``"FRTE"``, ``0.15``) or a string for a ``str`` option, which the
adapter returns unchanged.

``defer(group)`` gives each parameter a stand-in that returns such values as they are
and hands any other value (a number or a path typed on the command line or read from
the environment, a value out of range) to Typer's own coercion, built then: the values,
the errors and their messages are Typer's. With a Typer that coerces otherwise (no
``_runtime_param``), nothing is changed.
"""

from __future__ import annotations

from typing import Any


def _unchanged(param: Any, value: Any) -> bool:
    """Whether Typer's adapter would return ``value`` itself: a ``str`` for a plain
    ``str`` parameter, an ``int``/``float`` within its bounds for an unclamped number."""
    descriptor = param.type_descriptor
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    if getattr(info, "parser", None) is not None or descriptor.is_choice:
        return False
    if annotation is str:
        return type(value) is str
    if annotation in (int, float) and type(value) is annotation:
        if getattr(info, "clamp", False):
            return False
        low, high = info.min, info.max
        return (low is None or value >= low) and (high is None or value <= high)
    return False


class DeferredCoercion:
    """Stands in for a parameter's runtime coercion (Typer's ``RuntimeParam``)."""

    def __init__(self, param: Any) -> None:
        self.param = param

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:  # what Typer's own ``coerce`` answers, before any adapter
            return () if param.multiple or param.nargs == -1 else None
        if _unchanged(self.param, value):
            return value
        self.param._runtime_param = None  # Typer builds its own now, once, and keeps it
        real = self.param.get_runtime_param()
        return real.coerce(value, param=param, ctx=ctx)


def _install(param: Any) -> None:
    if (getattr(param, "_runtime_param", ...) is None and hasattr(param, "type_descriptor")
            and hasattr(param, "get_runtime_param")):
        param._runtime_param = DeferredCoercion(param)


def defer(command: Any, subcommands: bool = True) -> None:
    """Install the stand-in on every parameter of ``command`` and (unless
    ``subcommands`` is false: the root group, whose commands are built when read) of the
    commands under it, the help option (made when a context asks for it) included."""
    for param in command.params:
        _install(param)
    if getattr(command, "_deferred_help", False):
        return
    command._deferred_help = True
    get_help_option = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = get_help_option(ctx)
        if option is not None:
            _install(option)
        return option

    command.get_help_option = help_option
    if subcommands:
        for sub in getattr(command, "commands", {}).values():
            defer(sub)
