"""Parsing of the Go ``text/template`` subset (see ``gotemplate``): the text split into
text and actions (``{{-``/``-}}`` trimming, comments), each action's pipeline read into
commands and operands, ``if``/``else if``/``else``/``range``/``with`` nested into blocks.
What Go would not parse is a ``TemplateError``; what the subset leaves out, ``Unsupported``."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gitops_actions.apps.gofuncs import TemplateError, Unsupported

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


@dataclass(frozen=True)
class Pipe:
    declare: tuple[str, ...]  # $x := ... (or $i, $e := in range)
    assign: bool  # $x = ...
    commands: tuple[tuple[tuple[str, Any], ...], ...]  # each: operands (kind, value)


@dataclass
class Node:
    kind: str  # text, action, if, range, with, break, continue
    text: str = ""
    pipe: Pipe | None = None
    body: list[Node] = field(default_factory=list)
    other: list[Node] = field(default_factory=list)  # else
    chained: bool = False  # the ``if`` of an ``else if``: ended by its first ``if``'s end


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> tuple[Node, ...]:
    nodes: list[Node] = []
    stack: list[tuple[Node, list[Node]]] = []  # open blocks, and the list they fill
    current = nodes
    for kind, value in _lex(text):
        if kind == "text":
            if value:
                current.append(Node("text", value))
            continue
        words = value.split(None, 1)
        word, rest = (words[0], words[1] if len(words) > 1 else "") if words else ("", "")
        if word in _UNSUPPORTED:
            raise Unsupported(f"{{{{{word}}}}}")
        if word in ("if", "range", "with"):
            node = Node(word, pipe=_pipe(rest, word == "range"))
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
                node = Node(inner[0], pipe=_pipe(inner[1] if len(inner) > 1 else "", False))
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
            current.append(Node(word))
        else:
            current.append(Node("action", pipe=_pipe(value, False)))
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


def _pipe(text: str, in_range: bool) -> Pipe:
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
    return Pipe(declare, assign, commands)


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
            operands.append(("sub", (Pipe((), False, inner), chain)))
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
