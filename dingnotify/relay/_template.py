"""A small template language that can only read data: no attribute access, no calls.

``{{ a.b.0 }}`` looks up dict keys and list indexes of the JSON data, nothing else;
``{% for x in list %}``/``{% for k, v in dict %}``, ``{% if path %}``/``{% if path == "s" %}``,
``{% else %}``, ``{% endif %}``, ``{% endfor %}``. A template is data, never code, so a
request's data cannot reach a Python object.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"({{.*?}}|{%.*?%})", re.S)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")
_FOR = re.compile(r"^for\s+(\w+)(?:\s*,\s*(\w+))?\s+in\s+(\S+)$")
_IF = re.compile(r'^if\s+(not\s+)?(\S+?)(?:\s*(==|!=)\s*"([^"]*)")?$')
MAX_OUTPUT = 1 << 20


class TemplateError(Exception):
    """A template that does not parse, or output above ``MAX_OUTPUT`` characters."""


@dataclass
class _Node:
    kind: str  # text | var | for | if
    arg: Any = None
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


def _path(text: str) -> list[str]:
    if not _PATH.match(text):
        raise TemplateError(f"not a data path: {text!r}")
    return text.split(".")


def _parse(source: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node, list[_Node]]] = []
    target = root
    for token in _TOKEN.split(source):
        if token.startswith("{{") and token.endswith("}}"):
            target.append(_Node("var", _path(token[2:-2].strip())))
        elif token.startswith("{%") and token.endswith("%}"):
            target = _statement(token[2:-2].strip(), target, stack)
        elif token:
            target.append(_Node("text", token))
    if stack:
        raise TemplateError(f"unclosed {{% {stack[-1][0].kind} %}}")
    return root


def _statement(text: str, target: list[_Node],
               stack: list[tuple[_Node, list[_Node]]]) -> list[_Node]:
    if m := _FOR.match(text):
        node = _Node("for", (m[1], m[2], _path(m[3])))
    elif m := _IF.match(text):
        node = _Node("if", (bool(m[1]), _path(m[2]), m[3], m[4]))
    elif text == "else" and stack and stack[-1][0].kind == "if":
        return stack[-1][0].orelse
    elif text in ("endif", "endfor") and stack and stack[-1][0].kind == text[3:]:
        return stack.pop()[1]
    else:
        raise TemplateError(f"unknown or misplaced tag {{% {text} %}}")
    target.append(node)
    stack.append((node, target))
    return node.body


def _lookup(scope: dict[str, Any], path: list[str]) -> Any:
    value: Any = scope
    for part in path:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return ""  # a table or list renders as nothing, never as a Python repr


def _items(value: Any, pair: bool) -> Iterator[tuple[Any, Any]]:
    if isinstance(value, dict):
        yield from (sorted(value.items()) if pair else ((k, None) for k in sorted(value)))
    elif isinstance(value, list):
        yield from ((v, None) for v in value)


def _truth(node: _Node, scope: dict[str, Any]) -> bool:
    negate: bool
    negate, path, op, literal = node.arg
    value = _lookup(scope, path)
    result: bool = bool(value) if op is None else ((_text(value) == literal) == (op == "=="))
    return result != negate


class _Out(list[str]):
    """The rendered pieces, refusing to grow past ``MAX_OUTPUT`` (a loop over a huge list)."""

    size = 0

    def add(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise TemplateError(f"the output is over {MAX_OUTPUT} characters")
        self.append(text)


def _render(nodes: list[_Node], scope: dict[str, Any], out: _Out) -> None:
    for node in nodes:
        if node.kind == "text":
            out.add(node.arg)
        elif node.kind == "var":
            out.add(_text(_lookup(scope, node.arg)))
        elif node.kind == "if":
            _render(node.body if _truth(node, scope) else node.orelse, scope, out)
        else:
            first, second, path = node.arg
            for key, value in _items(_lookup(scope, path), second is not None):
                inner = {**scope, first: key}
                if second is not None:
                    inner[second] = value
                _render(node.body, inner, out)


class Template:
    """A parsed template; ``render(data)`` reads only dicts, lists and scalars of ``data``."""

    def __init__(self, source: str) -> None:
        self._nodes = _parse(source)

    def render(self, data: dict[str, Any]) -> str:
        out = _Out()
        _render(self._nodes, dict(data), out)
        return "".join(out)
