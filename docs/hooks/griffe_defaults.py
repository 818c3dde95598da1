"""A Griffe extension: parameter defaults shown as their values, not constant names.

Griffe reads the source, so ``timeout: float = DEFAULT_TIMEOUT`` would show the name;
this imports the module and asks ``inspect.signature`` for the value instead (only for
defaults that are names or attributes, so literals stay as written).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import griffe


def _runtime(path: str) -> Any:
    """The object at a dotted ``path`` (module first, then attributes)."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            value = getattr(value, name)
        return value
    raise ImportError(path)


def _shown(value: object) -> str:
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{value.__module__}.{value.__qualname__}".replace("builtins.", "")
    return repr(value)


class DefaultValues(griffe.Extension):
    def on_function(self, *, func: griffe.Function, **kwargs: Any) -> None:
        named = [p for p in func.parameters
                 if isinstance(p.default, griffe.ExprName | griffe.ExprAttribute)]
        if not named:
            return
        try:
            signature = inspect.signature(_runtime(func.path))
        except (ImportError, AttributeError, TypeError, ValueError):
            return
        for parameter in named:
            runtime = signature.parameters.get(parameter.name)
            if runtime is not None and runtime.default is not inspect.Parameter.empty:
                parameter.default = _shown(runtime.default)


class StructConstructors(griffe.Extension):
    """msgspec Structs have no ``__init__`` in the source: give them the one msgspec
    builds (from ``inspect.signature``), with the fields' own annotations."""

    def on_class(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        if "__init__" in cls.members:
            return
        try:
            runtime = _runtime(cls.path)
        except (ImportError, AttributeError):
            return
        msgspec = importlib.import_module("msgspec")
        if not (isinstance(runtime, type) and issubclass(runtime, msgspec.Struct)):
            return
        parameters = [griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword)]
        for name, field in inspect.signature(runtime).parameters.items():
            member = cls.all_members.get(name)
            annotation = member.annotation if isinstance(member, griffe.Attribute) else None
            default = None if field.default is inspect.Parameter.empty else repr(field.default)
            parameters.append(griffe.Parameter(
                name, annotation=annotation, default=default,
                kind=griffe.ParameterKind(field.kind.description)))
        init = griffe.Function("__init__", parameters=griffe.Parameters(*parameters),
                               returns="None")
        cls.set_member("__init__", init)
