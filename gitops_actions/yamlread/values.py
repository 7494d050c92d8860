"""YAML text straight to values, for readers that need no positions.

The values are those ``loader.documents`` gives, built from libyaml's events without
composing nodes first (which costs most of the time of reading a small file). Only the
plain shape of YAML takes this way: anything else - an anchor, an alias, a tag, a merge
key, a key that is not a string, a repeated key, deep nesting, many documents, a syntax
error - is read again through ``loader.documents``, so that there is one meaning and one
set of errors for every reader.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml._yaml import CParser

from gitops_actions.yamlread.loader import MAX_DOCUMENT_BYTES, documents
from gitops_actions.yamlread.scalars import (
    HINTS,
    resolve_kustomize,
    resolve_kustomize_flow,
    resolve_plain,
)

# beyond these the full reading applies its bounds (and its errors)
_MAX_DEPTH = 50
_MAX_DOCUMENTS = 1000

_SCALAR, _MAPPING_START, _SEQUENCE_START = (
    yaml.ScalarEvent,
    yaml.MappingStartEvent,
    yaml.SequenceStartEvent,
)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_NO_KEY: Any = object()


def values(text: str, *, kustomize: bool = False) -> list[Any]:
    """The value of every non-empty document in ``text``: ``[d.value for d in
    documents(text, kustomize=kustomize)]``, its ``LoadError`` included, read faster."""
    if len(text) <= MAX_DOCUMENT_BYTES:
        found = _plain_values(text, kustomize)
        if found is not None:
            return found
    return [d.value for d in documents(text, kustomize=kustomize)]


def _plain_values(text: str, kustomize: bool) -> list[Any] | None:
    """The documents' values, or None when ``text`` is not plain YAML (see above)."""
    block = resolve_kustomize if kustomize else resolve_plain
    flow = resolve_kustomize_flow if kustomize else resolve_plain
    hints = HINTS
    parser = CParser(text)
    try:
        found: list[Any] = []
        count = 0
        # open collections, each with how its plain scalars resolve and its pending key
        stack: list[Any] = []
        resolvers: list[Any] = []
        keys: list[Any] = []
        root: Any = _NO_KEY
        while True:
            try:
                event: Any = parser.get_event()
            except yaml.YAMLError:
                return None
            if event is None:
                return found
            cls = event.__class__
            if cls is _SCALAR:
                if event.anchor is not None or event.tag is not None:
                    return None
                value = event.value
                if not stack:  # a document that is one scalar
                    root = block(value) if not event.style else value
                    continue
                plain = resolvers[-1]
                parent = stack[-1]
                if parent.__class__ is list:
                    if not event.style and (not value or value[0] in hints):
                        value = plain(value)
                    parent.append(value)
                elif keys[-1] is _NO_KEY:  # a key
                    if not event.style:
                        if value and value[0] in hints:
                            value = plain(value)
                        elif value == "<<":
                            return None  # a merge key
                    if value.__class__ is not str or value in parent:
                        return None  # a key to convert, or a repeated key
                    keys[-1] = value
                else:
                    if not event.style and (not value or value[0] in hints):
                        value = plain(value)
                    parent[keys[-1]] = value
                    keys[-1] = _NO_KEY
            elif cls is _MAPPING_START or cls is _SEQUENCE_START:
                if event.anchor is not None or event.tag is not None or len(stack) >= _MAX_DEPTH:
                    return None
                node: Any = {} if cls is _MAPPING_START else []
                if stack:
                    parent = stack[-1]
                    if parent.__class__ is list:
                        parent.append(node)
                    elif keys[-1] is _NO_KEY:
                        return None  # a collection as a key
                    else:
                        parent[keys[-1]] = node
                        keys[-1] = _NO_KEY
                else:
                    root = node
                stack.append(node)
                resolvers.append(flow if event.flow_style else block)
                keys.append(_NO_KEY)
            elif cls in _ENDS:
                stack.pop()
                resolvers.pop()
                keys.pop()
            elif cls is yaml.DocumentStartEvent:
                root = _NO_KEY
                count += 1
                if count > _MAX_DOCUMENTS:
                    return None
            elif cls is yaml.DocumentEndEvent:
                if root is not _NO_KEY and root is not None:
                    found.append(root)
            elif cls is yaml.AliasEvent:
                return None
    finally:
        parser.dispose()
