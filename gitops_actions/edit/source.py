"""A YAML file as text plus the node positions a real parser gives, and byte-minimal splices.

Everything outside the spliced spans is kept as it was: comments, blank lines, key order,
quoting, indentation, flow or block style, anchors, CRLF, a BOM, a missing final newline.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from gitops_actions.errors import InputError
from gitops_actions.yamlread.compose import LoadError, compose_all

_PROPERTY = re.compile(r"(?:[&!][^\s]*\s+)*")  # anchors and tags before a scalar
_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./@+=~-][A-Za-z0-9_./@:+=~-]*$")
_TEMPLATE = re.compile(r"\{\{|\$\{|\$\(|\{%")
_RESOLVER = yaml.resolver.Resolver()


@dataclass(frozen=True)
class Splice:
    """Replace ``text[start:end]`` with ``new``; ``line`` is 1-based, for messages."""

    start: int
    end: int
    new: str
    line: int
    what: str
    old_value: str = ""
    new_value: str = ""


class Source:
    """One file's text and its YAML documents as composed nodes (tags are not constructed,
    so CloudFormation ``!Ref`` or Ansible ``!vault`` parse like any other node)."""

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.bom = data.startswith(codecs.BOM_UTF8)
        try:
            self.text = data[3:].decode() if self.bom else data.decode()
        except UnicodeDecodeError as err:
            raise InputError(f"not UTF-8 text (byte {err.start})", path=path) from None
        self.newline = "\r\n" if "\r\n" in self.text else "\n"
        try:
            self.docs: list[yaml.Node] = [
                d for d in compose_all(self.text, _RESOLVER.resolve) if d is not None
            ]
        except LoadError as err:
            raise InputError(err.message, path=path, line=err.line, column=err.column) from None
        self.shared = _shared_nodes(self.docs)
        self._parents: dict[int, yaml.MappingNode] | None = None  # built on the first edit

    def line_of(self, node: yaml.Node) -> int:
        return int(node.start_mark.line) + 1

    def value_span(self, node: yaml.ScalarNode) -> tuple[int, int]:
        """The span of the scalar's text, without its anchor or tag."""
        start, end = node.start_mark.index, node.end_mark.index
        skip = _PROPERTY.match(self.text, start, end)
        return (skip.end() if skip else start), end

    def replace_scalar(self, node: yaml.Node, value: str, what: str) -> Splice:
        """A splice that sets one scalar, in the quoting style it already has."""
        line = self.line_of(node)
        if not isinstance(node, yaml.ScalarNode):
            raise InputError(
                f"{what}: expected a scalar, found a {_kind_of(node)}",
                path=self.path,
                line=line,
            )
        self._refuse_duplicate_key(node, what)
        if id(node) in self.shared:
            raise InputError(
                f"{what}: the value is an anchor or alias shared elsewhere; refusing to edit it",
                path=self.path,
                line=line,
            )
        if node.style in ("|", ">"):
            raise InputError(
                f"{what}: the value is a block scalar; refusing to edit it",
                path=self.path,
                line=line,
            )
        if _TEMPLATE.search(node.value):
            raise InputError(
                f"{what}: the value is built by a template ({node.value!r}); refusing to edit it",
                path=self.path,
                line=line,
            )
        start, end = self.value_span(node)
        return Splice(start, end, render_scalar(node, value), line, what, node.value, value)

    def _refuse_duplicate_key(self, node: yaml.Node, what: str) -> None:
        """Editing one of two equal keys would leave a file the API server refuses (strict
        decoding) and that tools read differently (first or last wins): refuse it."""
        if self._parents is None:
            self._parents = {}
            for parent in mappings(*self.docs):
                for _key, value in parent.value:
                    self._parents[id(value)] = parent
        mapping = self._parents.get(id(node))
        if mapping is None:
            return
        key = next(k for k, v in mapping.value if v is node)
        same = [
            k for k, _ in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key.value
        ]
        if len(same) > 1:
            lines = ", ".join(str(self.line_of(k)) for k in same)
            raise InputError(
                f"{what}: duplicate key {key.value!r} (lines {lines}); the API server refuses "
                "it and tools disagree on which one counts",
                path=self.path,
                line=self.line_of(key),
            )

    def apply(self, splices: list[Splice]) -> bytes:
        """The file's bytes with ``splices`` applied (they must not overlap)."""
        text = self.text
        for splice in sorted(splices, key=lambda s: s.start, reverse=True):
            text = text[: splice.start] + splice.new + text[splice.end :]
        data = text.encode()
        return codecs.BOM_UTF8 + data if self.bom else data


def render_scalar(node: yaml.ScalarNode, value: str) -> str:
    """``value`` as YAML source in ``node``'s style, quoting a plain scalar only when
    leaving it plain would change its type (``1.10`` would become a float)."""
    style = node.style or ""
    if style == "":
        implicit = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        if _PLAIN_SAFE.match(value) and implicit == node.tag:
            return value
        style = '"'
    if style == "'" and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def _shared_nodes(docs: list[yaml.Node]) -> set[int]:
    """Nodes reached more than once (through an alias), and everything inside them.

    Linear in the number of distinct nodes, so an alias bomb costs nothing extra.
    """
    seen: set[int] = set()
    shared: set[int] = set()
    stack = list(reversed(docs))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            mark = [node]
            while mark:
                inner = mark.pop()
                if id(inner) not in shared:
                    shared.add(id(inner))
                    mark.extend(children(inner))
            continue
        seen.add(id(node))
        stack.extend(children(node))
    return shared


def mappings(*roots: yaml.Node) -> Iterator[yaml.MappingNode]:
    """Every mapping under ``roots``, each once (aliases share nodes), in document order."""
    stack = list(reversed(roots))
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            yield node
        stack.extend(reversed(list(children(node))))


def children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def mapping_get(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                found: yaml.Node = v
                return found
    return None


def scalar(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _kind_of(node: yaml.Node) -> str:
    return type(node).__name__.removesuffix("Node").lower()
