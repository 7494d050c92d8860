"""Setters: fields marked with Flux's comment ``# {"$imagepolicy": "NS:NAME[:tag|:name|:digest]"}``.

Teams leaving Flux image automation keep their markers. A marker without suffix gets the
whole reference; ``:tag``, ``:name`` and ``:digest`` get just that part.
"""

from __future__ import annotations

import re

import yaml

from gitops_actions.edit.images import Hit
from gitops_actions.edit.source import Source, children
from gitops_actions.imageref import ImageRef, parse

MARKER = re.compile(r'#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"]+)"\s*\}')
PARTS = ("tag", "name", "digest")


def split_marker(text: str) -> tuple[str, str | None]:
    """``flux-system:app:tag`` is (``flux-system:app``, ``tag``)."""
    head, sep, tail = text.rpartition(":")
    if sep and tail in PARTS:
        return head, tail
    return text, None


def _value_for(part: str | None, ref: ImageRef) -> str | None:
    if part is None:
        return str(ref)
    if part == "name":
        return ref.repository
    return ref.tag if part == "tag" else ref.digest


def _scalars_by_line(source: Source) -> dict[int, yaml.ScalarNode]:
    """The last scalar value ending on each line (0-based), keys excluded."""
    by_line: dict[int, yaml.ScalarNode] = {}
    stack: list[yaml.Node] = list(source.docs)
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            values = [v for _, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            values = list(node.value)
        else:
            continue
        for value in values:
            if isinstance(value, yaml.ScalarNode):
                line = value.end_mark.line
                known = by_line.get(line)
                if known is None or known.end_mark.index < value.end_mark.index:
                    by_line[line] = value
        stack.extend(c for c in children(node) if not isinstance(c, yaml.ScalarNode))
    return by_line


def plan_setters(source: Source, setters: dict[str, ImageRef]) -> list[Hit]:
    """Hits for every marked field whose policy is in ``setters``."""
    if "$imagepolicy" not in source.text:
        return []
    by_line = _scalars_by_line(source)
    hits: list[Hit] = []
    for number, line in enumerate(source.text.splitlines()):
        match = MARKER.search(line)
        if not match:
            continue
        policy, part = split_marker(match.group(1))
        node = by_line.get(number)
        if policy not in setters or node is None or node.end_mark.column > match.start():
            continue
        ref = setters[policy]
        value = _value_for(part, ref)
        if value is None:
            continue
        old = _old_ref(node.value, part, ref)
        new = (
            ref
            if part is None
            else old.with_(
                tag=ref.tag if part == "tag" else old.tag,
                digest=ref.digest if part == "digest" else old.digest,
            )
        )
        what = f'setter "{match.group(1)}"'
        splices = () if node.value == value else (source.replace_scalar(node, value, what),)
        hits.append(Hit(source.path, number + 1, what, old, new, splices))
    return hits


def _old_ref(value: str, part: str | None, ref: ImageRef) -> ImageRef:
    if part is None:
        try:
            return parse(value)
        except Exception:
            return ImageRef(ref.repository)
    if part == "tag":
        return ImageRef(ref.repository, value or None)
    if part == "digest":
        return ImageRef(ref.repository, None, value or None)
    return ImageRef(value or ref.repository)
