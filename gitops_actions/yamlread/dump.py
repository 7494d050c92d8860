"""Values written back as YAML that every reader of the project reads as the same values.

PyYAML quotes a string only when its own (YAML 1.1) resolver would misread it, so strings
such as ``0o644``, ``1e3`` or ``y`` come out plain, and the API server's rules
(``scalars.resolve_plain``) or kustomize's (``scalars.resolve_kustomize``) read them back
as ``420``, ``1000`` and ``true``. Here a string is quoted whenever either would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from gitops_actions.yamlread.scalars import HINTS, resolve_kustomize, resolve_plain

try:
    from yaml import CSafeDumper as _Base
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as _Base  # type: ignore[assignment]


class Dumper(_Base):
    """PyYAML's safe dumper, with strings quoted as Go readers need them."""


def _string(dumper: Dumper, text: str) -> yaml.Node:
    style = "'" if _ambiguous(text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def _ambiguous(text: str) -> bool:
    """Whether ``text``, written plain, would be read as something else than itself."""
    if not text or text[0] not in HINTS or "\n" in text:
        return False
    for resolve in (resolve_plain, resolve_kustomize):
        value = resolve(text)
        if not isinstance(value, str) or value != text:
            return True
    return False


Dumper.add_representer(str, _string)


def dump(value: Any, *, sort_keys: bool = False) -> str:
    """One document, as block YAML."""
    return yaml.dump(value, Dumper=Dumper, sort_keys=sort_keys, width=1 << 16)


def dump_documents(values: Iterable[Mapping[str, Any]]) -> str:
    """Documents, each after a ``---`` line."""
    return "".join("---\n" + dump(dict(v)) for v in values)
