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


def _scalars_by_line(source: Source) -> dict[int, tuple[yaml.ScalarNode, int]]:
    """The last scalar value ending on each line (0-based), keys excluded, with the id of
    the collection holding it (so a reference's parts marked apart are found together)."""
    by_line: dict[int, tuple[yaml.ScalarNode, int]] = {}
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
                if known is None or known[0].end_mark.index < value.end_mark.index:
                    by_line[line] = (value, id(node))
        stack.extend(c for c in children(node) if not isinstance(c, yaml.ScalarNode))
    return by_line


def plan_setters(source: Source, setters: dict[str, ImageRef]) -> list[Hit]:
    """Hits for every marked field whose policy is in ``setters``.

    Fields of one reference marked apart (``:name``, ``:tag``, ``:digest`` in one mapping)
    are reported as that reference: each hit's old and new are the whole image reference
    the fields make up, before and after, not a part dressed as a reference."""
    if "$imagepolicy" not in source.text:
        return []
    by_line = _scalars_by_line(source)
    found: list[tuple[int, str, str | None, yaml.ScalarNode, int]] = []
    for number, line in enumerate(source.text.splitlines()):
        match = MARKER.search(line)
        if not match:
            continue
        policy, part = split_marker(match.group(1))
        entry = by_line.get(number)
        if policy not in setters or entry is None or entry[0].end_mark.column > match.start():
            continue
        found.append((number, match.group(1), part, entry[0], entry[1]))
    parts: dict[tuple[str, int], dict[str, str]] = {}
    for _, marker, part, node, parent in found:
        if part is not None:
            parts.setdefault((split_marker(marker)[0], parent), {})[part] = node.value
    hits: list[Hit] = []
    for number, marker, part, node, parent in found:
        policy = split_marker(marker)[0]
        ref = setters[policy]
        value = _value_for(part, ref)
        if value is None:
            continue
        if part is None:
            old, new = _parse_or(node.value, ref), ref
        else:
            old, new = _whole(parts[(policy, parent)], ref)
        what = f'setter "{marker}"'
        splices = () if node.value == value else (source.replace_scalar(node, value, what),)
        hits.append(Hit(source.path, number + 1, what, old, new, splices))
    return hits


def _parse_or(value: str, ref: ImageRef) -> ImageRef:
    try:
        return parse(value)
    except Exception:
        return ImageRef(ref.repository)


def _whole(fields: dict[str, str], ref: ImageRef) -> tuple[ImageRef, ImageRef]:
    """The reference the marked fields hold now, and the one they will hold."""
    old = ImageRef(fields.get("name") or ref.repository, fields.get("tag"), fields.get("digest"))
    new = ImageRef(
        ref.repository if "name" in fields else old.repository,
        ref.tag if "tag" in fields and ref.tag else old.tag,
        ref.digest if "digest" in fields and ref.digest else old.digest,
    )
    return old, new
