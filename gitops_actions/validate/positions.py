"""Where a JSON path points in a YAML document: the line and column of its node.

Only called for documents that failed, so valid input never pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from gitops_actions.yamlread.scalars import HINTS, key_string, resolve_plain

_MAPPING, _SEQUENCE, _SCALAR = yaml.MappingNode, yaml.SequenceNode, yaml.ScalarNode


def _position(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def locate(node: yaml.Node | None, parts: Sequence[str | int]) -> tuple[int, int]:
    """The line and column (1-based) of the deepest node along ``parts`` that exists."""
    if node is None:
        return 1, 1
    current = node
    for part in parts:
        found = _child(current, part)
        if found is None:
            break
        current = found
    return _position(current.start_mark)


def reach(node: yaml.Node | None, parts: Sequence[str | int]) -> int:
    """How many of ``parts`` lead to an existing node."""
    if node is None:
        return 0
    depth, current = 0, node
    for part in parts:
        found = _child(current, part)
        if found is None:
            break
        depth, current = depth + 1, found
    return depth


def locate_key(node: yaml.Node | None, parts: Sequence[str | int]) -> tuple[int, int]:
    """Like ``locate``, but pointing at the key of the last part rather than its value."""
    if node is None or not parts:
        return locate(node, parts)
    parent = node
    for part in parts[:-1]:
        found = _child(parent, part)
        if found is None:
            return _position(parent.start_mark)
        parent = found
    key = _key_node(parent, parts[-1])
    return _position((key or parent).start_mark)


def _entry(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key, value) pair for ``part`` in a mapping, the last one winning, and through
    ``<<`` merge keys."""
    if node.__class__ is not _MAPPING:
        return None
    for key, value in reversed(node.value):
        if key.__class__ is _SCALAR and _key_matches(key, part):
            return key, value
    for key, value in node.value:
        if key.__class__ is _SCALAR and key.value == "<<":
            for source in value.value if value.__class__ is _SEQUENCE else [value]:
                inner = _entry(source, part)
                if inner is not None:
                    return inner
    return None


def _key_node(node: yaml.Node, part: str | int) -> yaml.Node | None:
    entry = _entry(node, part)
    return entry[0] if entry else None


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if node.__class__ is _SEQUENCE:
        if isinstance(part, int) and 0 <= part < len(node.value):
            item: yaml.Node = node.value[part]
            return item
        return None
    entry = _entry(node, part)
    return entry[1] if entry else None
    if node.__class__ is not _MAPPING:
        return None
    for key, value in reversed(node.value):
        if key.__class__ is _SCALAR and _key_matches(key, part):
            found: yaml.Node = value
            return found
    for key, value in node.value:
        if key.__class__ is _SCALAR and key.value == "<<":
            for source in value.value if value.__class__ is _SEQUENCE else [value]:
                inner = _child(source, part)
                if inner is not None:
                    return inner
    return None


def _key_matches(key: Any, part: str | int) -> bool:
    if key.value == part:
        return True
    if key.tag == "" and key.style == "" and key.value and key.value[0] in HINTS:
        return key_string(resolve_plain(key.value)) == str(part)
    return False
