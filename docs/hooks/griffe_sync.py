"""A Griffe extension: the sync clients' reference shows the async signatures.

``send = blocking(AsyncWorkNotice.send)`` is, to a reader of the source, an attribute;
to users it is a method with ``AsyncWorkNotice.send``'s parameters, return type and
description. This replaces each such attribute (and each ``@constructor_of(Async)``
``__init__``) of ``dingnotify.sync`` with a copy of the async function, without ``async``.
"""

from __future__ import annotations

from typing import Any

import griffe

DECLARATIONS = {"blocking", "plain"}


def _async_function(cls: griffe.Class, expression: griffe.Expr) -> griffe.Function | None:
    """The function an expression such as ``AsyncWorkNotice.send`` names, seen from the
    module that defines ``cls``."""
    text = str(expression)
    head, _, rest = text.partition(".")
    imported = cls.module.imports.get(head)
    if imported is None:
        return None
    path = f"{imported}.{rest}" if rest else imported
    try:
        found = cls.module.modules_collection.get_member(path)
    except (KeyError, griffe.AliasResolutionError):
        return None
    target = found.final_target if isinstance(found, griffe.Alias) else found
    return target if isinstance(target, griffe.Function) else None


def _copy(name: str, source: griffe.Function, cls: griffe.Class) -> griffe.Function:
    copied = griffe.Function(
        name, lineno=source.lineno, endlineno=source.endlineno,
        parameters=source.parameters, returns=source.returns,
        docstring=None if source.docstring is None else griffe.Docstring(
            source.docstring.value, parser=source.docstring.parser,
            parser_options=source.docstring.parser_options))
    copied.labels = set(source.labels) - {"async"}
    copied.parent = cls
    if copied.docstring is not None:
        copied.docstring.parent = copied
    return copied


class SyncSignatures(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != "dingnotify":
            return
        module = pkg.get_member("sync._clients")
        for cls in module.classes.values():
            self._declare(cls)

    def _declare(self, cls: griffe.Class) -> None:
        for name, member in list(cls.members.items()):
            if isinstance(member, griffe.Attribute) and isinstance(member.value, griffe.ExprCall) \
                    and str(member.value.function) in DECLARATIONS:
                source = _async_function(cls, member.value.arguments[0])
                if source is not None:
                    cls.set_member(name, _copy(name, source, cls))
            elif name == "__init__" and isinstance(member, griffe.Function):
                for decorator in member.decorators:
                    value = decorator.value
                    if isinstance(value, griffe.ExprCall) and \
                            str(value.function) == "constructor_of":
                        source = _async_function(cls, value.arguments[0])
                        if source is None:
                            source = _async_function(
                                cls, griffe.ExprAttribute([value.arguments[0], "__init__"]))
                        if source is not None:
                            member.parameters = source.parameters
