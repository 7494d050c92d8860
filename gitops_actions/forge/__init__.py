"""Forges open or update the pull request (merge request) that carries a change.

Each forge sits behind the same small Protocol and is chosen by name: ``github``
(PyGithub), ``gitlab`` (python-gitlab) and ``local`` (JSON files, for demos and tests).
``upsert_pull_request`` is idempotent: an open request from ``head`` into ``base`` is
updated in place, never duplicated. The comment operations work on the conversation of a
pull request (GitHub issue comments, GitLab merge request notes, files for ``local``);
choosing which comments to write is the caller's business (``gitops_actions.comment``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from gitops_actions.errors import UsageError
from gitops_actions.secrets import REDACTOR

FORGES = ("github", "gitlab", "local")
# The most characters one comment may hold; the local forge splits the way GitHub does.
COMMENT_LIMITS = {"github": 65536, "gitlab": 1_000_000, "local": 65536}


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    created: bool  # True when this call opened it, False when it updated an open one


@dataclass(frozen=True)
class Comment:
    """A comment on a pull request: ``id`` is the forge's own, as text; ``author`` is the
    login that wrote it, when the forge says (GitHub, GitLab), else None (the local forge)."""

    id: str
    url: str
    body: str
    author: str | None = None


@dataclass(frozen=True)
class Refs:
    """Where a pull request's head and base are: commit, branches and clone URLs."""

    head_sha: str
    head_ref: str
    head_url: str
    base_ref: str
    base_url: str
    fork: bool


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


@dataclass(frozen=True)
class Deployment:
    """A deployment record on the forge: ``id`` is the forge's own, as text."""

    id: str
    url: str


@dataclass(frozen=True)
class DeploymentStatus:
    state: Literal["in_progress", "success", "failure"]
    url: str = ""  # where to see it: the agent's page of the app
    description: str = ""


@runtime_checkable
class Deployments(Protocol):
    """Where handoff records what went live: GitHub Deployments, GitLab deployments."""

    def create_deployment(
        self, *, project: str, environment: str, sha: str, ref: str, description: str
    ) -> Deployment: ...

    def set_deployment_status(
        self, project: str, deployment: Deployment, status: DeploymentStatus
    ) -> None: ...


class Forge(Protocol):
    name: str
    comment_limit: int  # the most characters one comment may hold

    def check(self, project: str) -> None:
        """Raise now what a later call would: a project name it cannot take, a directory
        it cannot write. Called before anything is pushed."""
        ...

    def upsert_pull_request(
        self, *, project: str, head: str, base: str, title: str, body: str
    ) -> PullRequest: ...

    def pull_request_head(self, *, project: str, number: int) -> str:
        """The commit at the head of pull request ``number`` ("" when the forge cannot say)."""
        ...

    def identity(self) -> str | None:
        """The login that comments written with these credentials carry as their author;
        None where comments have no authors (the local forge)."""
        ...

    def list_comments(self, *, project: str, number: int, marker: str) -> list[Comment]:
        """Comments on pull request ``number`` whose body contains ``marker``, oldest first."""
        ...

    def create_comment(self, *, project: str, number: int, body: str, key: str) -> Comment:
        """A new comment; ``key`` names it where comments are files (the local forge)."""
        ...

    def update_comment(
        self, *, project: str, number: int, comment: Comment, body: str
    ) -> Comment: ...

    def delete_comment(self, *, project: str, number: int, comment: Comment) -> None: ...

    def minimize_comment(self, *, project: str, number: int, comment: Comment) -> bool:
        """Collapse ``comment`` as outdated; False where the forge has no such thing."""
        ...


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
