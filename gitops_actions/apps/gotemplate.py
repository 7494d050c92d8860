"""The Go ``text/template`` subset ApplicationSets with ``goTemplate: true`` use in practice:
field chains (``.path.basename``, ``$.name``, ``(pipeline).field``), pipelines, the
functions of ``gofuncs``, ``{{-``/``-}}`` trimming, comments, variables, ``if``/``else
if``/``else``, ``range`` (with ``break``/``continue``) and ``with``.

Values are read as Go reads them: a missing map key prints ``<no value>`` (an error with
``missingkey=error``), a field of nothing is an error, numbers are float64 (as Argo CD
reads its parameters from JSON). Anything else (``define``, ``template``, ``block``, a
function not in the subset) raises ``Unsupported`` naming it: never a guessed render.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from gitops_actions.apps import gofuncs
from gitops_actions.apps.gofuncs import MISSING, TemplateError, Unsupported, printed, truth
from gitops_actions.apps.goparse import Node, Pipe, Token, parse

__all__ = ["TemplateError", "Unsupported", "render"]


def render(text: str, data: Any, *, missing_error: bool = False) -> str:
    """``text`` executed with ``data`` as dot (and ``$``)."""
    if "{{" not in text:
        return text
    out: list[str] = []
    try:
        run = _Exec(data, missing_error, out)
        run.body(parse(text), run.root)
    except RecursionError:
        raise Unsupported("nesting this deep") from None
    return "".join(out)


class _Stop(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _Exec:
    def __init__(self, data: Any, missing_error: bool, out: list[str]) -> None:
        self.root = gofuncs.from_data(data)
        self.missing_error = missing_error
        self.out = out
        self.scopes: list[dict[str, Any]] = [{"$": self.root}]

    def node(self, node: Node, dot: Any) -> None:
        if node.kind == "text":
            self.out.append(node.text)
        elif node.kind == "action":
            assert node.pipe is not None
            value = self.pipe(node.pipe, dot)
            if not node.pipe.declare:
                self.out.append(printed(value))
        elif node.kind in ("break", "continue"):
            raise _Stop(node.kind)
        else:
            self.block(node, dot)

    def block(self, node: Node, dot: Any) -> None:
        assert node.pipe is not None
        self.scopes.append({})
        try:
            if node.kind == "range":
                self.range(node, dot)
                return
            value = self.pipe(node.pipe, dot, declare=node.kind != "range")
            chosen = node.body if truth(value) else node.other
            inner = value if node.kind == "with" and truth(value) else dot
            self.body(chosen, inner)
        finally:
            self.scopes.pop()

    def body(self, nodes: Sequence[Node], dot: Any) -> None:
        for node in nodes:
            self.node(node, dot)

    def range(self, node: Node, dot: Any) -> None:
        assert node.pipe is not None
        pipe = node.pipe
        value = self.pipe(Pipe((), False, pipe.commands), dot)
        if isinstance(value, dict):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list):
            items = list(enumerate(value))
        elif value is None or value is MISSING:
            items = []
        else:
            raise Unsupported(f"range over {gofuncs.type_name(value)}")
        if not items:
            self.body(node.other, dot)
            return
        for key, item in items:
            if len(pipe.declare) == 1:
                self.scopes[-1][pipe.declare[0]] = item
            elif len(pipe.declare) == 2:
                self.scopes[-1][pipe.declare[0]] = key
                self.scopes[-1][pipe.declare[1]] = item
            try:
                self.body(node.body, item)
            except _Stop as stop:
                if stop.kind == "break":
                    break

    def call(self, name: str, args: list[Callable[[], Any]]) -> Any:
        if name not in gofuncs.NAMES and isinstance(self.root, dict) and name in self.root:
            # the plain style's {{name}} in a Go template: Go does not parse it
            raise TemplateError(f'function "{name}" not defined (a parameter is .{name})')
        return gofuncs.call(name, args)

    def variable(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise TemplateError(f"undefined variable: {name}")

    def pipe(self, pipe: Pipe, dot: Any, *, declare: bool = True) -> Any:
        value: Any = _NOTHING
        for command in pipe.commands:
            value = self.command(command, dot, value)
        if pipe.declare and declare:
            if pipe.assign:
                for scope in reversed(self.scopes):
                    if pipe.declare[0] in scope:
                        scope[pipe.declare[0]] = value
                        break
                else:
                    raise TemplateError(f"undefined variable: {pipe.declare[0]}")
            else:
                self.scopes[-1][pipe.declare[0]] = value
        return value

    def command(self, operands: tuple[Token, ...], dot: Any, piped: Any) -> Any:
        kind, value = operands[0]
        if kind == "func":
            args: list[Callable[[], Any]] = [
                functools.partial(self.operand, o, dot) for o in operands[1:]
            ]
            if piped is not _NOTHING:
                args.append(lambda: piped)
            return self.call(value, args)
        if kind == "nil":
            raise TemplateError("nil is not a command")
        if len(operands) > 1 or piped is not _NOTHING:
            raise TemplateError(f"can't give argument to non-function {_shown(operands[0])}")
        return self.operand(operands[0], dot)

    def operand(self, operand: Token, dot: Any) -> Any:
        kind, value = operand
        if kind == "lit":
            return value
        if kind == "nil":
            return None
        if kind == "field":
            return self.fields(dot, value, ".")
        if kind == "var":
            return self.variable(value)
        if kind == "varfield":
            return self.fields(self.variable(value[0]), value[1], value[0])
        if kind == "sub":
            pipe, chain = value
            return self.fields(self.pipe(pipe, dot), chain, "(...)")
        if kind == "func":
            return self.call(value, [])
        raise TemplateError(f"unexpected {value!r}")

    def fields(self, value: Any, names: tuple[str, ...], start: str) -> Any:
        for name in names:
            if isinstance(value, dict):
                if name in value:
                    value = value[name]
                elif self.missing_error:
                    raise TemplateError(f'map has no entry for key "{name}"')
                else:
                    value = MISSING
            elif value is MISSING:  # what is not there has no fields either
                if self.missing_error:
                    raise TemplateError(f'nil data; no entry for key "{name}"')
            elif value is None:
                raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
            else:
                kind = gofuncs.type_name(value)
                raise TemplateError(f"can't evaluate field {name} in type {kind}")
        return value


_NOTHING = object()  # no value piped in


def _shown(operand: Token) -> str:
    kind, value = operand
    if kind == "field":
        return "." + ".".join(value)
    return str(value)
