"""Forges open or update the pull request (merge request) that carries a change.

Each forge sits behind the same small Protocol and is chosen by name: ``github``
(PyGithub), ``gitlab`` (python-gitlab) and ``local`` (JSON files, for demos and tests).
``upsert_pull_request`` is idempotent: an open request from ``head`` into ``base`` is
updated in place, never duplicated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from gitops_actions.errors import UsageError
from gitops_actions.secrets import REDACTOR

FORGES = ("github", "gitlab", "local")


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    created: bool  # True when this call opened it, False when it updated an open one


@dataclass(frozen=True)
class HttpOptions:
    """How hard a forge client tries before giving up.

    ``retries`` counts tries after the first. ``backoff`` is the urllib3 backoff factor
    for GitHub; python-gitlab uses its own short doubling backoff. A ``Retry-After`` header
    always wins. ``write_interval`` spaces GitHub writes to avoid secondary rate limits.
    """

    timeout: int = 30
    retries: int = 5
    backoff: float = 1.0
    write_interval: float = 1.0
    max_rate_limit_wait: float = 300.0


class Forge(Protocol):
    name: str

    def upsert_pull_request(
        self, *, project: str, head: str, base: str, title: str, body: str
    ) -> PullRequest: ...


def env_token(env: Mapping[str, str], names: Sequence[str], forge: str) -> tuple[str, str]:
    """The first non-empty token among ``names`` (and its variable), learned as a secret."""
    for name in names:
        token = env.get(name, "").strip()
        if token:
            REDACTOR.learn(token)
            return name, token
    raise UsageError(f"{forge}: no API token", hint=f"set {' or '.join(names)}")


def api_detail(text: object, limit: int = 200) -> str:
    """An API error detail fit for a one-line message: redacted, one line, bounded."""
    line = " ".join(REDACTOR.redact(str(text)).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def make_forge(
    name: str,
    env: Mapping[str, str],
    *,
    url: str | None = None,
    directory: str | None = None,
    http: HttpOptions | None = None,
) -> Forge:
    """The forge called ``name``, configured from ``env`` and the explicit arguments."""
    options = http or HttpOptions()
    if name == "github":
        from gitops_actions.forge.github import GitHubForge

        return GitHubForge.from_env(env, url=url, http=options)
    if name == "gitlab":
        from gitops_actions.forge.gitlab import GitLabForge

        return GitLabForge.from_env(env, url=url, http=options)
    if name == "local":
        from gitops_actions.forge.local import LocalForge

        if not directory:
            raise UsageError("the local forge needs a directory to write pull requests to")
        return LocalForge(directory)
    raise UsageError(f"unknown forge {name!r}", hint=f"choose one of {', '.join(FORGES)}")
