"""Several platforms built one by one, published as one image index.

The docker engine's image store holds one platform per tag, so the docker builder builds
each platform in turn into an image of its own. Publishing pushes them one after the other
to the first tag (the registry keeps each manifest by digest; no other tag is made), reads
what it stored for each (digest, size, media type) over HTTP API v2, then puts one index
listing them to every tag: a Docker manifest list over Docker manifests, an OCI index over
OCI ones. A first tag that held something gets it back after each image (an untagged
manifest stays in the registry by digest); a failure says what each tag holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from gitops_actions import imageref, retry
from gitops_actions.builders import Log, registry
from gitops_actions.errors import CheckFailed, ExternalError, GitopsError

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PLATFORM_FORMAT = "{{.Os}}/{{.Architecture}}/{{.Variant}}"  # docker image inspect --format
T = TypeVar("T")


@dataclass(frozen=True)
class PlatformImage:
    """One platform's local image, and the platform its config says."""

    platform: str  # as asked: linux/arm64
    image: str  # the engine's image id
    os: str
    architecture: str
    variant: str = ""


def platform_image(platform: str, image: str, said: str) -> PlatformImage | None:
    """``image`` as its config says (``PLATFORM_FORMAT``), or None when that is not the
    ``platform`` asked for (a variant counts only when asked for)."""
    os, architecture, variant = [*said.strip().split("/"), "", ""][:3]
    asked = [*platform.split("/"), "", ""][:3]
    if [os, architecture] != asked[:2] or asked[2] not in ("", variant):
        return None
    return PlatformImage(platform, image, os, architecture, variant)


@dataclass(frozen=True)
class Child:
    """A platform's manifest as the registry stores it."""

    image: PlatformImage
    media_type: str
    digest: str
    size: int


@runtime_checkable
class PerPlatform(Protocol):
    """A builder that leaves one local image per platform, for ``push`` to index."""

    images: tuple[PlatformImage, ...]

    def push_image(self, image: str, ref: str, auth_file: Path | None, log: Log) -> str:
        """Push local ``image`` as ``ref`` once; the digest the registry stored."""
        ...


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def short(digest: str) -> str:
    """A digest as an error line quotes it: ``sha256:`` and 12 hex digits, as docker does."""
    return digest[:19]


def render(children: list[Child]) -> tuple[str, bytes]:
    """(media type, bytes) of the index listing ``children``, in the order built."""
    kinds = {child.media_type for child in children}
    if not kinds <= {DOCKER_MANIFEST, OCI_MANIFEST}:
        raise ExternalError(f"cannot index manifests of type {', '.join(kinds)}", transient=False)
    media_type = OCI_INDEX if OCI_MANIFEST in kinds else DOCKER_LIST
    entries = []
    for child in children:
        platform = {"architecture": child.image.architecture, "os": child.image.os}
        if child.image.variant:
            platform["variant"] = child.image.variant
        entries.append(
            {
                "mediaType": child.media_type,
                "size": child.size,
                "digest": child.digest,
                "platform": platform,
            }
        )
    index = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
    return media_type, json.dumps(index, indent=2).encode() + b"\n"


def stored(api: registry.Api, image: PlatformImage, digest: str) -> Child:
    """What the registry stored for ``image`` pushed as ``digest``, read back by digest."""
    media_type, body = api.manifest(digest)
    if digest_of(body) != digest:
        raise ExternalError(
            f"{api.host} serves other bytes for {api.repository}@{short(digest)}",
            transient=False,
        )
    return Child(image, media_type, digest, len(body))


def push(
    builder: PerPlatform,
    refs: list[str],
    credentials: registry.Credentials | None,
    auth: Path | None,
    deadline: retry.Deadline,
    log: Log,
    say: Callable[[str], None],
) -> str:
    """Push every platform's image, then the index to every tag; the index digest.

    A first tag that held something gets it back as soon as each image is in the registry,
    so that it holds a single platform only between two requests, not while the next image
    uploads; a tag that held nothing holds the last image pushed until the index comes."""

    def call(what: str, operation: Callable[[], T]) -> T:
        def note(attempt: int, pause: float, error: BaseException) -> None:
            say(f"{error}; attempt {attempt} in {pause:.1f}s")

        return retry.call(operation, deadline, what=what, on_retry=note)

    api = registry.Api(imageref.parse(refs[0]).name, credentials)
    first = imageref.parse(refs[0]).tag or "latest"
    try:
        before = api.find(first)
    except GitopsError:
        before = None
    holds = ""  # what the first tag holds while it is not what it held
    children: list[Child] = []
    done: list[str] = []
    try:
        for image in builder.images:
            say(f"push {image.platform} ({image.image}) as {refs[0]}")
            digest = call(
                f"push of {image.platform} to {refs[0]}",
                lambda i=image: builder.push_image(i.image, refs[0], auth, log),  # type: ignore[misc]
            )
            holds = f"the {image.platform} image alone ({short(digest)})"
            children.append(
                call(
                    f"manifest of {image.platform}",
                    lambda i=image, d=digest: stored(api, i, d),  # type: ignore[misc]
                )
            )
            if before is not None:
                call(f"{refs[0]} as it was", lambda: api.put_manifest(first, *before))
                holds = ""
        media_type, body = render(children)
        digest = digest_of(body)
        for ref in refs:
            tag = imageref.parse(ref).tag or "latest"
            answer = call(
                f"index to {ref}",
                lambda t=tag: api.put_manifest(t, media_type, body),  # type: ignore[misc]
            )
            if answer and answer != digest:
                raise CheckFailed(
                    f"{api.host} stored the index for {ref} as {answer}, not {digest}"
                )
            done.append(ref)
    except GitopsError as error:
        if holds and before is not None and not done:
            with contextlib.suppress(GitopsError):
                api.put_manifest(first, *before)
                holds = ""
        error.message = f"{error.message}; {left(refs, holds, done)}"
        raise
    say(f"index {digest} ({media_type}) on {', '.join(refs)}")
    return digest


def left(refs: list[str], holds: str, done: list[str]) -> str:
    """What each tag holds after a failed publication, for the error; ``holds`` is what
    the first tag holds when that is not what it held."""
    if done:
        return f"the index is on {', '.join(done)}; not on {', '.join(refs[len(done) :])}"
    if not holds:
        return "no tag was changed"
    rest = ", ".join(refs[1:])
    return f"no index was pushed: {refs[0]} holds {holds}" + (f"; {rest} unchanged" if rest else "")
