"""YAML text to nodes, as go-yaml composes it: an anchor may be defined again (an alias
means the latest definition), and nesting is bounded without recursion.

libyaml's parser produces the events (iteratively, in C); this loop stacks them into
PyYAML nodes. Tags are left as written (``""`` for none), so that each reader resolves
scalars its own way: ``scalars`` as Kubernetes does, or a ``resolve`` function given here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import yaml
from yaml._yaml import CParser

MAX_DEPTH = 200  # nesting of collections; real resources stay well under 50

Resolve = Callable[[type[yaml.Node], str, tuple[bool, bool]], str]


class LoadError(Exception):
    """The text (or what is left of it) cannot be read; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def position(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _tag(tag: str | None, resolve: Resolve | None, kind: Any, value: Any, implicit: Any) -> str:
    if tag is not None and tag != "!":
        return tag
    if resolve is None:
        return ""
    return resolve(kind, value, implicit)


def compose_all(text: str, resolve: Resolve | None = None) -> Iterator[yaml.Node | None]:
    """The root node of each document in ``text`` (``None`` for an empty one).

    Raises ``LoadError`` with the parser's own message at the first unreadable spot;
    the documents before it have been yielded already.
    """
    parser = CParser(text)
    scalar_cls, mapping_cls, sequence_cls = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode
    scalar_ev, alias_ev = yaml.ScalarEvent, yaml.AliasEvent
    mapping_ev, sequence_ev = yaml.MappingStartEvent, yaml.SequenceStartEvent
    end_evs = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    try:
        anchors: dict[str, yaml.Node] = {}
        stack: list[yaml.Node] = []  # open collections
        pending: list[Any] = []  # a mapping's key, until its value arrives
        root: yaml.Node | None = None
        while True:
            event = _next(parser, text)
            if event is None:
                return
            cls = event.__class__
            node: yaml.Node
            if cls is scalar_ev:
                node = scalar_cls(
                    _tag(event.tag, resolve, scalar_cls, event.value, event.implicit),
                    event.value,
                    event.start_mark,
                    event.end_mark,
                    style=event.style or "",
                )
            elif cls is alias_ev:
                found = anchors.get(event.anchor)
                if found is None:
                    raise LoadError(
                        f"cannot parse YAML: found undefined alias {event.anchor!r}",
                        *position(event.start_mark),
                    )
                node = found
            elif cls is mapping_ev or cls is sequence_ev:
                if len(stack) >= MAX_DEPTH:
                    raise LoadError(
                        f"nesting deeper than {MAX_DEPTH} levels", *position(event.start_mark)
                    )
                kind = mapping_cls if cls is mapping_ev else sequence_cls
                node = kind(
                    _tag(event.tag, resolve, kind, None, event.implicit),
                    [],
                    event.start_mark,
                    None,
                    flow_style=event.flow_style,
                )
                if event.anchor is not None:
                    anchors[event.anchor] = node  # defined again: the latest counts
                _attach(stack, pending, node)
                stack.append(node)
                pending.append(_NO_KEY)
                continue
            elif cls in end_evs:
                done = stack.pop()
                pending.pop()
                done.end_mark = event.end_mark
                if not stack:
                    root = done
                continue
            elif cls is yaml.DocumentStartEvent:
                anchors, root = {}, None
                continue
            elif cls is yaml.DocumentEndEvent:
                yield root
                continue
            else:  # stream start and end
                continue
            if cls is scalar_ev and event.anchor is not None:
                anchors[event.anchor] = node
            if stack:
                _attach(stack, pending, node)
            else:
                root = node
    finally:
        parser.dispose()


_NO_KEY = object()


def _attach(stack: list[yaml.Node], pending: list[Any], node: yaml.Node) -> None:
    if not stack:
        return
    parent = stack[-1]
    if parent.__class__ is yaml.SequenceNode:
        parent.value.append(node)
    elif pending[-1] is _NO_KEY:
        pending[-1] = node
    else:
        parent.value.append((pending[-1], node))
        pending[-1] = _NO_KEY


def _next(parser: Any, text: str) -> Any:
    """The next event, or a ``LoadError`` that keeps the parser's own words."""
    try:
        return parser.get_event()
    except yaml.MarkedYAMLError as err:
        where = position(err.problem_mark or err.context_mark)
        if "nesting depth" in (err.problem or ""):  # libyaml's own limit, hit first
            raise LoadError(f"nesting deeper than {MAX_DEPTH} levels", *where) from None
        raise LoadError(f"cannot parse YAML: {_words(err)}", *where) from None
    except yaml.reader.ReaderError as err:
        raise LoadError(
            f"cannot parse YAML: unacceptable character #x{err.character:04x}: {err.reason}",
            *_offset(text, err.position),
        ) from None
    except yaml.YAMLError as err:
        raise LoadError(f"cannot parse YAML: {' '.join(str(err).split())}") from None


def _words(err: yaml.MarkedYAMLError) -> str:
    """The parser's message whole: its context and its problem."""
    parts = [p for p in (err.context, err.problem) if p]
    return " ".join(" ".join(parts).split())


def _offset(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)
