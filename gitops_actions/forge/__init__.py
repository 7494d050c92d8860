"""Forges open or update the pull request (merge request) that carries a change.

Each forge sits behind the same small Protocol and is chosen by name: ``github``
(PyGithub), ``gitlab`` (python-gitlab) and ``local`` (JSON files, for demos and tests).
``upsert_pull_request`` is idempotent: an open request from ``head`` into ``base`` is
updated in place, never duplicated. The comment operations work on the conversation of a
pull request (GitHub issue comments, GitLab merge request notes, files for ``local``);
choosing which comments to write is the caller's business (``gitops_actions.comment``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal, Protocol, TypeVar, runtime_checkable

from gitops_actions import retry
from gitops_actions.errors import ExternalError, GitopsError, UsageError
from gitops_actions.retry import Backoff, Deadline
from gitops_actions.secrets import REDACTOR

T = TypeVar("T")
U = TypeVar("U")

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
    """How long a forge client waits.

    ``timeout`` bounds one request; ``budget`` bounds one operation with all its retries
    when the step gives no deadline of its own. The client libraries' own retries are off:
    ``call_api`` (over ``retry.call``) is the only retry loop. ``write_interval`` spaces
    GitHub writes to avoid secondary rate limits.
    """

    timeout: float = 30.0
    budget: float = 120.0
    write_interval: float = 1.0


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


def asked_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The seconds a reply asks to wait: its ``Retry-After`` (seconds or an HTTP date), or,
    when a rate limit is spent (``X-RateLimit-Remaining: 0`` on GitHub,
    ``RateLimit-Remaining: 0`` on GitLab), the time until its reset (epoch seconds). None
    when it asks nothing or nothing readable."""
    lower = {str(k).lower(): str(v).strip() for k, v in headers.items()}
    clock = time.time() if now is None else now
    try:
        if "retry-after" in lower:
            value = lower["retry-after"]
            if value[:1].isalpha():  # RFC 9110: an HTTP date, as in "Wed, 21 Oct 2015 07:28:00 GMT"
                return max(0.0, parsedate_to_datetime(value).timestamp() - clock)
            return max(0.0, float(value))
        for prefix in ("x-ratelimit-", "ratelimit-"):
            if lower.get(prefix + "remaining") == "0" and prefix + "reset" in lower:
                reset = float(lower[prefix + "reset"])
                return max(0.0, reset - clock)
    except (ValueError, TypeError, OverflowError):  # garbage: wait as backoff says
        return None
    return None


def call_api(
    operation: Callable[[], T],
    deadline: Deadline,
    *,
    what: str,
    find: Callable[[], T | None] | None = None,
    unsent_only: bool = False,
) -> T:
    """``operation()`` through ``retry.call``: transient failures (HTTP 5xx and 429, rate
    limits, connections refused, reset or timed out) are tried again until ``deadline``,
    after at least the wait the forge asked for; 401, 403, 404 and 422 never are.

    A create is not repeated blindly: before trying again, ``find()`` looks for what the
    failed try may have made anyway (its reply lost) and returns it when found; with
    ``unsent_only``, only failures that prove the request was not acted on (429, a rate
    limit, a connection that never opened) are tried again.
    """
    tried = False

    def once() -> T:
        nonlocal tried
        if tried and find is not None:
            found = find()
            if found is not None:
                return found
        tried = True
        return operation()

    def retryable(error: BaseException) -> bool:
        if not isinstance(error, GitopsError) or not error.transient:
            return False
        return not unsent_only or isinstance(error, Unsent)

    return retry.call(once, deadline, what=what, retryable=retryable, backoff=Backoff(0.5, 8.0))


def never_sent(error: BaseException) -> bool:
    """Whether a ``requests`` failure proves the request never reached the server: no
    connection was made (refused, or timed out while connecting)."""
    import requests

    reason = getattr(error.args[0], "reason", None) if error.args else None
    kinds = {kind.__name__ for kind in type(reason).__mro__}  # urllib3's, through requests
    never = bool(kinds & {"NewConnectionError", "ConnectTimeoutError"})
    return isinstance(error, requests.ConnectTimeout) or never


class Retrying:
    """What the GitHub and GitLab forges share: each operation through ``call_api``, within
    the step's deadline (else ``budget`` seconds), each try inside ``_attempt``."""

    name: str
    _deadline: Deadline | None
    _options: HttpOptions

    def _run(
        self,
        where: str,
        operation: Callable[[], T],
        *,
        find: Callable[[], T | None] | None = None,
        unsent_only: bool = False,
    ) -> T:
        deadline = self._deadline or Deadline.after(self._options.budget)
        return call_api(
            self._guarded(where, deadline, operation),
            deadline,
            what=f"{self.name}: {where}",
            find=self._guarded(where, deadline, find) if find is not None else None,
            unsent_only=unsent_only,
        )

    def _guarded(self, where: str, deadline: Deadline, step: Callable[[], U]) -> Callable[[], U]:
        def run() -> U:
            with self._attempt(where, deadline):
                return step()

        return run

    def _attempt(self, where: str, deadline: Deadline) -> AbstractContextManager[None]:
        """Around one try: cut request timeouts to ``deadline``, turn errors into ours."""
        raise NotImplementedError


class Unsent(ExternalError):
    """A transient failure that proves the forge did not act on the request: a rate limit
    (429, or 403 with the rate limit spent), or a connection that never opened."""


def make_forge(
    name: str,
    env: Mapping[str, str],
    *,
    url: str | None = None,
    directory: str | None = None,
    http: HttpOptions | None = None,
    deadline: Deadline | None = None,
) -> Forge:
    """The forge called ``name``, configured from ``env`` and the explicit arguments; its
    API calls end by ``deadline`` (default: ``http.budget`` for each operation)."""
    options = http or HttpOptions()
    if name == "github":
        from gitops_actions.forge.github import GitHubForge

        return GitHubForge.from_env(env, url=url, http=options, deadline=deadline)
    if name == "gitlab":
        from gitops_actions.forge.gitlab import GitLabForge

        return GitLabForge.from_env(env, url=url, http=options, deadline=deadline)
    if name == "local":
        from gitops_actions.forge.local import LocalForge

        if not directory:
            raise UsageError("the local forge needs a directory to write pull requests to")
        return LocalForge(directory)
    raise UsageError(f"unknown forge {name!r}", hint=f"choose one of {', '.join(FORGES)}")
