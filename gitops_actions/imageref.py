"""Image references: ``repo``, ``repo:tag``, ``repo@sha256:...``, ``repo:tag@sha256:...``."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from gitops_actions.errors import UsageError

TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
DEFAULT_REGISTRY = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    repository: str  # as written, e.g. "nginx" or "ghcr.io/acme/app"
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository normalised as Docker does: ``nginx`` is ``docker.io/library/nginx``."""
        return normalize(self.repository)

    @property
    def short_name(self) -> str:
        """The last path component: ``ghcr.io/acme/app`` is ``app``."""
        return self.repository.rsplit("/", 1)[-1]

    def with_(self, *, tag: str | None = None, digest: str | None = None) -> ImageRef:
        return replace(self, tag=tag, digest=digest)

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def normalize(repository: str) -> str:
    first, sep, rest = repository.partition("/")
    is_registry = sep and ("." in first or ":" in first or first == "localhost")
    if not is_registry:
        first, rest = DEFAULT_REGISTRY, repository
    if first in ("index.docker.io", "registry-1.docker.io"):
        first = DEFAULT_REGISTRY
    if first == DEFAULT_REGISTRY and "/" not in rest:
        rest = f"library/{rest}"
    return f"{first}/{rest}"


def parse(text: str) -> ImageRef:
    """Parse a reference; raises ``UsageError`` naming what is wrong."""
    ref = text.strip()
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not DIGEST.match(digest):
            raise UsageError(f"{text!r}: digest must be sha256: and 64 hex digits")
    tag = None
    head, colon, tail = ref.rpartition(":")
    if colon and "/" not in tail:
        ref, tag = head, tail
        if not TAG.match(tag):
            raise UsageError(f"{text!r}: {tag!r} is not a valid tag")
    if not ref:
        raise UsageError(f"{text!r}: no repository")
    path = ref.split("/")
    host_like = len(path) > 1 and ("." in path[0] or ":" in path[0] or path[0] == "localhost")
    for part in path[1:] if host_like else path:
        if not _COMPONENT.match(part):
            raise UsageError(f"{text!r}: {part!r} is not a valid repository component")
    return ImageRef(ref, tag, digest)
