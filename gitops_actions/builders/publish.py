"""Publishing a built image: push every tag with retries, then check what the registry serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gitops_actions import imageref, retry
from gitops_actions.builders import Builder, Log, index, registry
from gitops_actions.errors import CheckFailed


def push_all(
    builder: Builder,
    refs: list[str],
    auth: Path | None,
    deadline: retry.Deadline,
    log: Log,
    say: Callable[[str], None],
    credentials: registry.Credentials | None = None,
) -> str:
    """Push every tag, retrying only transient failures until the deadline; one digest.
    A builder that left one image per platform pushes them into one index instead."""
    if isinstance(builder, index.PerPlatform) and builder.images:
        return index.push(builder, refs, credentials, auth, deadline, log, say)

    def note(attempt: int, pause: float, error: BaseException) -> None:
        say(f"{error}; attempt {attempt} in {pause:.1f}s")

    digests: dict[str, str] = {}
    for ref in refs:
        digests[ref] = retry.call(
            lambda ref=ref: builder.push(ref, auth, log),  # type: ignore[misc]
            deadline,
            what=f"push of {ref}",
            on_retry=note,
        )
    if len(set(digests.values())) > 1:
        raise CheckFailed(f"the tags were pushed with different digests: {digests}")
    return next(iter(digests.values()))


def verify(
    ref: imageref.ImageRef,
    digest: str,
    credentials: registry.Credentials | None,
    deadline: retry.Deadline,
) -> None:
    """The registry must serve ``ref``'s tag as ``digest`` (asked over HTTP API v2)."""
    served = retry.call(
        lambda: registry.resolve(ref, credentials),
        deadline,
        what=f"digest of {ref.repository}:{ref.tag}",
    )
    if served != digest:
        raise CheckFailed(
            f"the registry serves {ref.repository}:{ref.tag} as {served}, not {digest}",
            hint="push the image again, or pin the digest the registry serves",
        )
