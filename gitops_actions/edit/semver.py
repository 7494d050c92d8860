"""Semantic-version precedence, for refusing downgrades and picking the highest version."""

from __future__ import annotations

import re

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)

Key = tuple[int, int, int, tuple[tuple[int, int | str], ...]]


def key(version: str | None) -> Key | None:
    """A sort key for ``version`` (``v`` prefix and a missing patch allowed), or None."""
    match = _SEMVER.match(version or "")
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    if pre is None:
        release: tuple[tuple[int, int | str], ...] = ((2, 0),)  # a release sorts after any pre
    else:
        release = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return int(major), int(minor), int(patch or 0), release


def is_downgrade(old: str | None, new: str | None) -> bool:
    """True when both are versions and ``new`` sorts before ``old``."""
    old_key, new_key = key(old), key(new)
    return old_key is not None and new_key is not None and new_key < old_key
