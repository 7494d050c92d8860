"""Parsed YAML taken in the shape a reader expects: a field of another shape is the
agent's own error to report (kustomize, Flux and Argo CD refuse it), never a crash here."""

from __future__ import annotations

from typing import Any


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one."""
    return value if isinstance(value, dict) else {}


def listed(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one (a string is no list of its
    characters, a number or a mapping no list at all)."""
    return value if isinstance(value, list) else []
