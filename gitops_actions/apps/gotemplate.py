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
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitops_actions.apps import gofuncs
from gitops_actions.apps.gofuncs import MISSING, TemplateError, Unsupported, printed, truth

__all__ = ["TemplateError", "Unsupported", "render"]

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:[^"\\\n]|\\.)*")
    |(?P<raw>`[^`]*`)
    |(?P<char>'(?:[^'\\]|\\.)+')
    |(?P<num>[-+]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][-+]?\d+)?))
    |(?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
    |(?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>:=|=|\||\(|\)|,)
    )""",
    re.VERBOSE,
)
_KEYWORDS = ("if", "else", "end", "range", "with", "break", "continue")
_UNSUPPORTED = ("define", "template", "block")


def render(text: str, data: Any, *, missing_error: bool = False) -> str:
    """``text`` executed with ``data`` as dot (and ``$``)."""
    if "{{" not in text:
        return text
    out: list[str] = []
    try:
        run = _Exec(data, missing_error, out)
        run.body(_parse(text), run.root)
    except RecursionError:
        raise Unsupported("nesting this deep") from None
    return "".join(out)


# -- parsing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Pipe:
    declare: tuple[str, ...]  # $x := ... (or $i, $e := in range)
    assign: bool  # $x = ...
    commands: tuple[tuple[tuple[str, Any], ...], ...]  # each: operands (kind, value)


@dataclass
class _Node:
    kind: str  # text, action, if, range, with, break, continue
    text: str = ""
    pipe: _Pipe | None = None
    body: list[_Node] = field(default_factory=list)
    other: list[_Node] = field(default_factory=list)  # else
    chained: bool = False  # the ``if`` of an ``else if``: ended by its first ``if``'s end


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[_Node, ...]:
    nodes: list[_Node] = []
    stack: list[tuple[_Node, list[_Node]]] = []  # open blocks, and the list they fill
    current = nodes
    for kind, value in _lex(text):
        if kind == "text":
            if value:
                current.append(_Node("text", value))
            continue
        words = value.split(None, 1)
        word, rest = (words[0], words[1] if len(words) > 1 else "") if words else ("", "")
        if word in _UNSUPPORTED:
            raise Unsupported(f"{{{{{word}}}}}")
        if word in ("if", "range", "with"):
            node = _Node(word, pipe=_pipe(rest, word == "range"))
            current.append(node)
            stack.append((node, current))
            current = node.body
        elif word == "else":
            if not stack:
                raise TemplateError("unexpected {{else}}")
            block = stack[-1][0]
            if block.other or current is block.other:
                raise TemplateError("{{else}} after {{else}}")
            current = block.other
            inner = rest.split(None, 1)
            if inner and inner[0] in ("if", "with"):  # else if: an if inside the else
                node = _Node(inner[0], pipe=_pipe(inner[1] if len(inner) > 1 else "", False))
                current.append(node)
                stack.append((node, current))
                current = node.body
                node.chained = True
        elif word == "end":
            if not stack:
                raise TemplateError("unexpected {{end}}")
            while True:
                node, current = stack.pop()
                if not node.chained:
                    break
        elif word in ("break", "continue"):
            if not any(n.kind == "range" for n, _ in stack):
                raise TemplateError(f"{{{{{word}}}}} outside {{{{range}}}}")
            current.append(_Node(word))
        else:
            current.append(_Node("action", pipe=_pipe(value, False)))
    if stack:
        raise TemplateError(f"unexpected EOF: {{{{{stack[-1][0].kind}}}}} without {{{{end}}}}")
    return tuple(nodes)


def _lex(text: str) -> Iterator[tuple[str, str]]:
    """("text", ...) and ("action", its inside), with trim markers applied."""
    position = 0
    trim_next = False
    while True:
        start = text.find("{{", position)
        chunk = text[position : start if start >= 0 else len(text)]
        if trim_next:
            chunk = chunk.lstrip(" \t\r\n")
        if start < 0:
            yield "text", chunk
            return
        inner = start + 2
        if text.startswith("- ", inner) or text[inner : inner + 2] in ("-\t", "-\r", "-\n"):
            chunk = chunk.rstrip(" \t\r\n")
            inner += 2
        yield "text", chunk
        end = _action_end(text, inner)
        body = text[inner:end]
        trim_next = False
        if body.endswith((" -", "\t-", "\r-", "\n-")):
            body, trim_next = body[:-2], True
        position = end + 2
        stripped = body.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateError("unclosed comment")
            continue
        yield "action", stripped


def _action_end(text: str, index: int) -> int:
    quote = ""
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and quote != "`":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif text.startswith("}}", index):
            return index
        elif text.startswith("/*", index):
            close = text.find("*/", index + 2)
            if close < 0:
                break
            index = close + 1
        index += 1
    raise TemplateError("unclosed action")


def _pipe(text: str, in_range: bool) -> _Pipe:
    tokens = _tokens(text)
    declare: tuple[str, ...] = ()
    assign = False
    ops = [i for i, t in enumerate(tokens) if t[0] == "op" and t[1] in (":=", "=")]
    if ops:
        at = ops[0]
        names = [t for t in tokens[:at] if not (t[0] == "op" and t[1] == ",")]
        if not names or any(t[0] != "var" or "." in t[1] for t in names):
            raise TemplateError(f"bad declaration in {{{{{text}}}}}")
        if len(names) > (2 if in_range else 1):
            raise TemplateError(f"too many declarations in {{{{{text}}}}}")
        declare, assign = tuple(t[1] for t in names), tokens[at][1] == "="
        tokens = tokens[at + 1 :]
    commands, rest = _commands(tokens, text)
    if rest:
        raise TemplateError(f"unexpected {rest[0][1]!r} in {{{{{text}}}}}")
    if not commands:
        raise TemplateError(f"missing value in {{{{{text}}}}}")
    return _Pipe(declare, assign, commands)


Token = tuple[str, Any]


def _commands(tokens: list[Token], text: str) -> tuple[tuple[tuple[Token, ...], ...], list[Token]]:
    """The commands of a pipeline, up to an unmatched ``)``; what is left after it."""
    commands: list[tuple[Token, ...]] = []
    operands: list[Token] = []
    while tokens:
        kind, value = tokens[0]
        if kind == "op" and value == ")":
            break
        tokens = tokens[1:]
        if kind == "op" and value == "|":
            if not operands:
                raise TemplateError(f"missing command in {{{{{text}}}}}")
            commands.append(tuple(operands))
            operands = []
        elif kind == "op" and value == "(":
            inner, tokens = _commands(tokens, text)
            if not tokens:
                raise TemplateError(f"unclosed ( in {{{{{text}}}}}")
            tokens = tokens[1:]
            chain: tuple[str, ...] = ()
            if tokens and tokens[0][0] == "chain":
                chain, tokens = tokens[0][1], tokens[1:]
            operands.append(("sub", (_Pipe((), False, inner), chain)))
        elif kind == "op":
            raise TemplateError(f"unexpected {value!r} in {{{{{text}}}}}")
        else:
            operands.append((kind, value))
    if operands:
        commands.append(tuple(operands))
    return tuple(commands), tokens


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    index = 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        if match is None or match.end() == index:
            if text[index:].strip() == "":
                break
            raise Unsupported(f"{{{{{text}}}}}")
        glued = match.start(match.lastgroup or 0) == index and out and out[-1] == ("op", ")")
        index = match.end()
        kind, value = match.lastgroup or "", match[match.lastgroup or 0]
        if kind == "field" and glued and value != ".":
            out.append(("chain", tuple(value[1:].split("."))))
        elif kind == "str":
            out.append(("lit", _unquote(value)))
        elif kind == "raw":
            out.append(("lit", value[1:-1]))
        elif kind == "char":
            raise Unsupported(f"character constant {value}")
        elif kind == "num":
            out.append(("lit", _number(value)))
        elif kind == "field":
            out.append(("field", () if value == "." else tuple(value[1:].split("."))))
        elif kind == "var":
            name, _, chain = value.partition(".")
            out.append(
                ("var", value) if not chain else ("varfield", (name, tuple(chain.split("."))))
            )
        elif kind == "ident":
            if value in ("true", "false"):
                out.append(("lit", value == "true"))
            elif value == "nil":
                out.append(("nil", None))
            elif value in _KEYWORDS or value in _UNSUPPORTED:
                raise TemplateError(f"unexpected {value} in {{{{{text}}}}}")
            else:
                out.append(("func", value))
        else:
            out.append(("op", value))
    return out


def _unquote(text: str) -> str:
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "a": "\a"}
    escapes |= {"b": "\b", "f": "\f", "v": "\v"}

    def one(match: re.Match[str]) -> str:
        code = match[1]
        if code[0] in escapes:
            return escapes[code[0]]
        if code[0] in "xuU" and len(code) > 1 and int(code[1:], 16) <= 0x10FFFF:
            return chr(int(code[1:], 16))
        if code[0] in "xuU":
            raise TemplateError(f"invalid escape \\{code} in a string")
        raise Unsupported(f"escape \\{code} in a string")

    pattern = r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)"
    return re.sub(pattern, one, text[1:-1])


def _number(text: str) -> int | float:
    clean = text.replace("_", "")
    try:
        return int(clean, 0)
    except ValueError:
        return float(clean)


# -- execution -------------------------------------------------------------------------------
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

    def node(self, node: _Node, dot: Any) -> None:
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

    def block(self, node: _Node, dot: Any) -> None:
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

    def body(self, nodes: Sequence[_Node], dot: Any) -> None:
        for node in nodes:
            self.node(node, dot)

    def range(self, node: _Node, dot: Any) -> None:
        assert node.pipe is not None
        pipe = node.pipe
        value = self.pipe(_Pipe((), False, pipe.commands), dot)
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

    def pipe(self, pipe: _Pipe, dot: Any, *, declare: bool = True) -> Any:
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
