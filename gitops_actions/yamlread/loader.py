"""YAML read as the Kubernetes decoder reads it, with node positions kept for errors.

The one YAML reading of the project: validate, diff, bump and the in-process kustomize
build all read through here. ``kubectl`` and the API server turn YAML into JSON with
go-yaml v2 (through sigs.k8s.io/yaml); ``scalars`` resolves plain scalars the same way,
and an anchor may be defined again, as go-yaml allows. Repeated keys are reported, not
silently dropped, and hostile input (alias bombs, deep nesting, huge documents, huge
document counts) is refused in bounded time and memory.

``compose`` turns libyaml's events into nodes; ``_Converter`` turns them into plain
values in one pass. The nodes are kept with each document, so that ``positions`` can find
where a failing path points. ``values`` reads plain YAML straight to values (no nodes),
for readers that need no positions, and reads anything else through here.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from gitops_actions.errors import InputError
from gitops_actions.yamlread.compose import MAX_DEPTH, LoadError, compose_all
from gitops_actions.yamlread.scalars import (
    HINTS,
    key_string,
    resolve_kustomize,
    resolve_kustomize_flow,
    resolve_plain,
    resolve_tagged,
)

__all__ = ["MAX_DEPTH", "Document", "LoadError", "Problem", "decode", "documents", "read_values"]

MAX_FILE_BYTES = 32 * 1024 * 1024  # larger files are refused unread
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # the API server refuses objects over 3 MiB anyway
MAX_ALIAS_NODES = 200_000  # nodes copied through aliases in one file (alias bombs)
MAX_DOCUMENTS = 10_000  # documents in one file; the rest is refused

_MAPPING, _SEQUENCE, _SCALAR = yaml.MappingNode, yaml.SequenceNode, yaml.ScalarNode
_DOCUMENT_MARK = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE)


@dataclass(frozen=True)
class Problem:
    """Something the decoder would reject, found while converting (a repeated key)."""

    check: str
    message: str
    node: yaml.Node | None


@dataclass
class Document:
    """One YAML document: its value as JSON would carry it, and its nodes for positions."""

    index: int  # 1-based
    value: Any
    node: yaml.Node | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1 if self.node is not None else 1


def read_file(path: str | os.PathLike[str]) -> bytes:
    """A regular file's bytes, bounded by ``MAX_FILE_BYTES``: a FIFO, a device or a socket
    named ``x.yaml`` is refused at once, never waited on."""
    limit = MAX_FILE_BYTES
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LoadError(f"not a regular file ({_file_type(info.st_mode)}); not read")
        size = info.st_size
        if size > limit:
            raise LoadError(
                f"file of {size / 2**20:.0f} MiB is larger than the {limit // 2**20} MiB "
                "limit; not read"
            )
        parts = [os.read(fd, size)] if size else []
        if not parts or len(parts[0]) < size:  # a file changing under us
            total = sum(map(len, parts))
            while chunk := os.read(fd, 1 << 16):
                parts.append(chunk)
                total += len(chunk)
                if total > limit:
                    raise LoadError(f"larger than the {limit // 2**20} MiB limit")
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _file_type(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a directory" if stat.S_ISDIR(mode) else "not a file"


def decode(data: bytes) -> str:
    """The file's text, or a ``LoadError`` for binary or non-UTF-8 input (UTF-16 and
    UTF-32 named as such: kubectl and the API server read UTF-8 only)."""
    encoding = _wide_encoding(data)
    if encoding:
        raise LoadError(f"{encoding} text, not UTF-8: save the file as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise LoadError(f"binary data, not YAML (NUL byte at offset {nul})", line)
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise LoadError(f"not UTF-8 text (invalid byte at offset {err.start})", line) from None


def _wide_encoding(data: bytes) -> str:
    """``UTF-16``/``UTF-32`` when ``data`` starts with their byte order mark or with ASCII
    text in their shape (a NUL next to each character), else ``""``."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    head = data[:4]
    if len(head) == 4 and head[0] and not head[1] and not head[2] and not head[3]:
        return "UTF-32"
    if len(head) == 4 and not head[0] and not head[1] and not head[2] and head[3]:
        return "UTF-32"
    if len(head) >= 2 and bool(head[0]) != bool(head[1]) and head[0] < 0x80 and head[1] < 0x80:
        return "UTF-16"
    return ""


class _Converter:
    """Nodes to plain values in one pass, recording repeated keys and bounding aliases."""

    def __init__(self, aliases: bool, kustomize: bool = False) -> None:
        self.plain = resolve_kustomize if kustomize else resolve_plain
        self.flow_plain = resolve_kustomize_flow if kustomize else resolve_plain
        self.problems: list[Problem] = []
        self.aliases = aliases  # the text has anchors: track reuse and cycles
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.copied = 0
        self.sizes: dict[int, int] = {}

    def value(self, node: Any, depth: int = 0) -> Any:
        cls = node.__class__
        if cls is _SCALAR:
            if node.tag:
                return resolve_tagged(node)
            return self.plain(node.value) if node.style == "" else node.value
        if depth >= MAX_DEPTH:
            raise LoadError(f"nesting deeper than {MAX_DEPTH} levels", *_position(node.start_mark))
        if self.aliases:
            return self._shared(node, depth)
        if cls is _MAPPING:
            return self._mapping(node, depth)
        return self._sequence(node, depth)

    def _sequence(self, node: yaml.Node, depth: int) -> list[Any]:
        scalar, hints = _SCALAR, HINTS
        plain = self.flow_plain if getattr(node, "flow_style", False) else self.plain
        out = []
        depth += 1
        for item in node.value:
            if item.__class__ is scalar:
                value = item.value
                if item.tag:
                    value = resolve_tagged(item)
                elif item.style == "" and (not value or value[0] in hints):
                    value = plain(value)
                out.append(value)
            else:
                out.append(self.value(item, depth))
        return out

    def _shared(self, node: yaml.Node, depth: int) -> Any:
        ident = id(node)
        if ident in self.active:
            raise LoadError("recursive alias", *_position(node.start_mark))
        if ident in self.seen:
            self.copied += self._size(node)
            if self.copied > MAX_ALIAS_NODES:
                raise LoadError(
                    f"excessive aliasing: aliases expand to over {MAX_ALIAS_NODES} nodes",
                    *_position(node.start_mark),
                )
        self.seen.add(ident)
        self.active.add(ident)
        try:
            if node.__class__ is _MAPPING:
                return self._mapping(node, depth)
            return self._sequence(node, depth)
        finally:
            self.active.discard(ident)

    def _size(self, node: yaml.Node) -> int:
        """Nodes in ``node`` once aliases are expanded, memoised (linear in distinct nodes)."""
        ident = id(node)
        size = self.sizes.get(ident)
        if size is None:
            self.sizes[ident] = MAX_ALIAS_NODES + 1  # a cycle counts as too many
            size = 1
            if node.__class__ is _MAPPING:
                for key, value in node.value:
                    size += self._size(key) + self._size(value)
                    if size > MAX_ALIAS_NODES:
                        break
            elif node.__class__ is _SEQUENCE:
                for item in node.value:
                    size += self._size(item)
                    if size > MAX_ALIAS_NODES:
                        break
            self.sizes[ident] = size
        return size

    def _mapping(self, node: yaml.Node, depth: int) -> dict[str, Any]:
        # the hot loop: scalars are resolved inline, and globals are bound to locals
        scalar, hints = _SCALAR, HINTS
        plain = self.flow_plain if getattr(node, "flow_style", False) else self.plain
        out: dict[str, Any] = {}
        merged: dict[str, Any] | None = None
        depth += 1
        for key_node, value_node in node.value:
            if key_node.__class__ is scalar:
                key = key_node.value
                if key_node.tag:
                    key = resolve_tagged(key_node)
                elif key_node.style == "" and key and key[0] in hints:
                    key = plain(key)
                elif key == "<<" and key_node.style == "":
                    merged = self._merge(value_node, depth, merged)
                    continue
                if key.__class__ is not str:
                    key = self._key(key, key_node)
            else:
                key = self._key(None, key_node)
            if value_node.__class__ is scalar:
                value = value_node.value
                if value_node.tag:
                    value = resolve_tagged(value_node)
                elif value_node.style == "" and (not value or value[0] in hints):
                    value = plain(value)
            else:
                value = self.value(value_node, depth)
            if key in out:
                self._repeated(node, key, key_node)
            out[key] = value
        if merged:
            return {**merged, **out}
        return out

    def _repeated(self, node: yaml.Node, key: str, key_node: yaml.Node) -> None:
        first = self._key_nodes(node).get(key, key_node)
        self.problems.append(
            Problem(
                "duplicate-key",
                f"duplicate key {key!r} (first at line {first.start_mark.line + 1})",
                key_node,
            )
        )

    def _key(self, key: Any, node: yaml.Node) -> str:
        if node.__class__ is _SCALAR and key is not None:
            text = key_string(key)
            if text is not None:
                return text
        what = "null" if node.__class__ is _SCALAR else node.__class__.__name__[:-4].lower()
        raise LoadError(f"unsupported mapping key: {what}", *_position(node.start_mark))

    def _key_nodes(self, node: yaml.Node) -> dict[str, yaml.Node]:
        """The first key node for each key (only computed once a key repeats)."""
        first: dict[str, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.__class__ is _SCALAR:
                value = key_node.value
                if key_node.tag == "" and key_node.style == "":
                    value = key_string(self.plain(value)) or value
                first.setdefault(value, key_node)
        return first

    def _merge(self, node: yaml.Node, depth: int, merged: dict[str, Any] | None) -> dict[str, Any]:
        """``<<: *base`` or ``<<: [*a, *b]``: earlier maps win, explicit keys win over all."""
        sources = node.value if node.__class__ is _SEQUENCE else [node]
        out = dict(merged or {})
        for source in sources:
            if source.__class__ is not _MAPPING:
                raise LoadError(
                    "map merge requires a mapping or a sequence of mappings",
                    *_position(source.start_mark),
                )
            value = self.value(source, depth)
            for key, item in value.items():
                out.setdefault(key, item)
        return out


def _position(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _check_document_sizes(text: str) -> None:
    starts = [m.start() for m in _DOCUMENT_MARK.finditer(text)]
    bounds = [0, *starts, len(text)]
    for start, end in itertools.pairwise(bounds):
        if end - start > MAX_DOCUMENT_BYTES:
            line = text.count("\n", 0, start) + 1
            raise LoadError(
                f"a document of {(end - start) / 2**20:.1f} MiB is larger than the "
                f"{MAX_DOCUMENT_BYTES // 2**20} MiB limit (the API server refuses objects "
                "over 3 MiB)",
                line,
            )


def documents(text: str, *, kustomize: bool = False) -> Iterator[Document]:
    """Each non-empty YAML document in ``text``, in order; with ``kustomize``, plain
    scalars are read as kustomize reads its input (``scalars.resolve_kustomize``).

    A ``LoadError`` ends the stream at the first unreadable spot; the documents before it
    have been yielded already, so their findings are not lost.
    """
    if len(text) > MAX_DOCUMENT_BYTES:
        _check_document_sizes(text)
    aliases = "&" in text
    for index, node in enumerate(compose_all(text), start=1):
        if node is None:
            continue
        if index > MAX_DOCUMENTS:
            raise LoadError(
                f"more than {MAX_DOCUMENTS} documents in one file; the rest is not read",
                *_position(node.start_mark),
            )
        converter = _Converter(aliases, kustomize)
        value = converter.value(node)
        if value is None:
            continue  # an empty document (only comments, or a bare ---)
        yield Document(index, value, node, converter.problems)


def json_documents(text: str) -> Iterator[Document]:
    """A JSON file: one document. Its nodes are composed (as YAML) only when needed."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    repeated.append(key)
                seen.add(key)
        return out

    try:
        value = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        raise LoadError(f"cannot parse JSON: {err.msg}", err.lineno, err.colno) from None
    except RecursionError:
        raise LoadError(f"nesting deeper than {MAX_DEPTH} levels") from None
    _check_json_depth(value)
    document = Document(1, value, None)
    if repeated:
        node = compose_document(text, 1)
        if node is not None:
            document.node = node
            converter = _Converter("&" in text)
            with contextlib.suppress(LoadError):
                converter.value(node)
            document.problems = converter.problems
        if not document.problems:
            for key in dict.fromkeys(repeated):
                document.problems.append(Problem("duplicate-key", f"duplicate key {key!r}", None))
    yield document


def _check_json_depth(value: Any) -> None:
    """The YAML bound on nesting, for JSON too (without recursion)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise LoadError(f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))


def compose_document(text: str, index: int) -> yaml.Node | None:
    """The nodes of document ``index`` (1-based), composed again for positions."""
    if index < 1:
        return None
    with contextlib.suppress(LoadError):
        for number, node in enumerate(compose_all(text), start=1):
            if number == index:
                return node
    return None


def read_values(data: bytes | str, path: str, *, kustomize: bool = False) -> list[Any]:
    """The value of every non-empty document in a file, for readers that need no positions.

    Unreadable input is an ``InputError`` naming ``path`` and the line; a repeated key is
    one too (the API server's strict decoding and kustomize refuse it).
    """
    try:
        text = decode(data) if isinstance(data, bytes) else data
        found = []
        for document in documents(text, kustomize=kustomize):
            if document.problems:
                problem = document.problems[0]
                line = problem.node.start_mark.line + 1 if problem.node is not None else 1
                raise LoadError(problem.message, line)
            found.append(document.value)
        return found
    except LoadError as err:
        raise InputError(err.message, path=path, line=err.line, column=err.column) from None
