"""Pull requests and their comments on GitHub and GitHub Enterprise Server, via PyGithub."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import github
import requests
from github.GithubException import GithubException, RateLimitExceededException
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest as GithubPull
from github.Repository import Repository

from gitops_actions.errors import ExternalError, UsageError
from gitops_actions.forge import (
    COMMENT_LIMITS,
    Comment,
    Deployment,
    DeploymentStatus,
    HttpOptions,
    PullRequest,
    Refs,
    Retrying,
    Unsent,
    api_detail,
    asked_wait,
    env_token,
    never_sent,
)
from gitops_actions.retry import Deadline
from gitops_actions.secrets import REDACTOR

T = TypeVar("T")

DEFAULT_URL = "https://api.github.com"
COMMENT_LIMIT = COMMENT_LIMITS["github"]
TOKEN_ENV = ("GITHUB_TOKEN", "GH_TOKEN")
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: without Retry-After, wait at least a minute
_HINTS = {
    401: "check GITHUB_TOKEN or GH_TOKEN",
    403: "the token needs contents and pull-requests write access",
    404: "check the repository name and that the token can see it",
    422: "check that both branches exist and differ",
}


class GitHubForge(Retrying):
    """Opens or updates pull requests with a token on the REST API at ``url``.

    PyGithub's own retries are off (``retry=None``): each operation goes through
    ``call_api``, bounded by ``deadline`` (or ``http.budget`` per operation), and each
    request's timeout is cut to what is left of it."""

    name = "github"
    comment_limit = COMMENT_LIMIT

    def __init__(
        self,
        token: str,
        *,
        url: str = DEFAULT_URL,
        http: HttpOptions | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        REDACTOR.learn(token)
        options = http or HttpOptions()
        self.url = url.rstrip("/")
        self._options = options
        self._deadline = deadline
        self._client = github.Github(
            base_url=self.url,
            auth=github.Auth.Token(token),
            retry=None,  # call_api retries, within the deadline
            timeout=max(1, int(options.timeout)),
            seconds_between_requests=None,
            seconds_between_writes=options.write_interval or None,
            per_page=100,
        )
        self._comments_client = self._client.withLazy(True)  # no fetch before each write
        self._pulls: dict[tuple[str, int], GithubPull] = {}
        self._seen: dict[str, IssueComment] = {}
        self._login: str | None = None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        url: str | None = None,
        http: HttpOptions | None = None,
        deadline: Deadline | None = None,
    ) -> GitHubForge:
        _, token = env_token(env, TOKEN_ENV, "github")
        url = url or env.get("GITHUB_API_URL") or DEFAULT_URL
        return cls(token, url=url, http=http, deadline=deadline)

    def _attempt(self, where: str, deadline: Deadline) -> AbstractContextManager[None]:
        for client in (self._client, self._comments_client):
            _cut_timeout(client, deadline.clamp(self._options.timeout))
        return _api_errors(where, self.url)

    def check(self, project: str) -> None:
        _owner(project)

    def upsert_pull_request(
        self, *, project: str, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        owner = _owner(project)
        label = head if ":" in head else f"{owner}:{head}"

        def upsert() -> PullRequest:  # a retry looks for an open one first: never two
            repo = self._client.get_repo(project)
            pull = _open_pull(repo, label, base)
            if pull is None:
                try:
                    pull = repo.create_pull(base=base, head=head, title=title, body=body)
                    return PullRequest(pull.number, pull.html_url, created=True)
                except GithubException as err:
                    # Opened by another writer just now: update that one.
                    pull = _open_pull(repo, label, base) if err.status == 422 else None
                    if pull is None:
                        raise
            if pull.title != title or (pull.body or "") != body:
                pull.edit(title=title, body=body)
            return PullRequest(pull.number, pull.html_url, created=False)

        return self._run(f"{project} {head} -> {base}", upsert)

    # -- comments ------------------------------------------------------------------------
    def _pull(self, project: str, number: int) -> GithubPull:
        _owner(project)
        key = (project, number)
        if key not in self._pulls:
            self._pulls[key] = self._comments_client.get_repo(project).get_pull(number)
        return self._pulls[key]

    def _comment(self, project: str, number: int, comment: Comment) -> IssueComment:
        return self._seen.get(comment.id) or self._pull(project, number).get_issue_comment(
            int(comment.id)
        )

    def pull_request_head(self, *, project: str, number: int) -> str:
        return self._run(
            f"{project}#{number}", lambda: str(self._pull(project, number).head.sha or "")
        )

    def pull_request_refs(self, *, project: str, number: int) -> Refs:
        def refs() -> Refs:
            pull = self._client.get_repo(project).get_pull(number)
            head_repo = pull.head.repo
            return Refs(
                head_sha=str(pull.head.sha or ""),
                head_ref=str(pull.head.ref or ""),
                head_url=str(head_repo.clone_url if head_repo else ""),
                base_ref=str(pull.base.ref or ""),
                base_url=str(pull.base.repo.clone_url or ""),
                fork=head_repo is None or head_repo.full_name.lower() != project.lower(),
            )

        return self._run(f"{project}#{number}", refs)

    def set_commit_status(
        self, *, project: str, sha: str, state: str, context: str, description: str
    ) -> None:
        def status() -> None:  # again after a lost reply: the newest status of a context wins
            commit = self._comments_client.get_repo(project).get_commit(sha)
            commit.create_status(state=state, description=description[:140], context=context)

        self._run(f"{project} status of {sha[:12]}", status)

    # -- deployments ---------------------------------------------------------------------
    def create_deployment(
        self, *, project: str, environment: str, sha: str, ref: str, description: str
    ) -> Deployment:
        def create() -> Deployment:
            found = self._comments_client.get_repo(
                project
            ).create_deployment(
                ref=sha,  # the exact commit: no merge of the default branch, no status checks
                task="deploy",
                auto_merge=False,
                required_contexts=[],
                environment=environment,
                description=description[:140],
                transient_environment=False,
            )
            return Deployment(str(found.id), str(found.url))

        # A deployment is a new record each time: tried again only when the first try
        # cannot have made one (a rate limit, a connection that never opened).
        where = f"{project} deployment of {sha[:12]} to {environment}"
        return self._run(where, create, unsent_only=True)

    def set_deployment_status(
        self, project: str, deployment: Deployment, status: DeploymentStatus
    ) -> None:
        def record() -> None:  # again after a lost reply: the newest status wins
            repo = self._comments_client.get_repo(project)
            found = repo.get_deployment(int(deployment.id))
            text = status.description[:140]
            if status.url:
                found.create_status(status.state, target_url=status.url, description=text)
            else:
                found.create_status(status.state, description=text)

        self._run(f"{project} deployment {deployment.id}", record)

    def identity(self) -> str | None:
        """The token's login from GraphQL ``viewer``: a user's login, or ``NAME[bot]`` for an
        app installation token (such as Actions' GITHUB_TOKEN), which REST ``/user`` refuses."""
        if self._login is None:

            def viewer() -> str:
                _, data = self._client.requester.graphql_query("query { viewer { login } }", {})
                login = data["data"]["viewer"]["login"]
                if not isinstance(login, str) or not login:
                    raise ValueError("no login")
                return login

            self._login = self._run("who am I (GraphQL viewer)", viewer)
        return self._login

    def _comments(self, project: str, number: int, keep: Callable[[str], bool]) -> list[Comment]:
        found = []
        for item in self._pull(project, number).get_issue_comments():
            if keep(item.body or ""):
                self._seen[str(item.id)] = item
                found.append(_as_comment(item))
        return found

    def list_comments(self, *, project: str, number: int, marker: str) -> list[Comment]:
        where = f"{project}#{number} comments"
        return self._run(where, lambda: self._comments(project, number, lambda b: marker in b))

    def create_comment(self, *, project: str, number: int, body: str, key: str) -> Comment:
        def create() -> Comment:
            item = self._pull(project, number).create_issue_comment(body)
            self._seen[str(item.id)] = item
            return _as_comment(item)

        def made() -> Comment | None:  # the failed try may have posted it: never post twice
            ours = self.identity()
            same = self._comments(project, number, lambda text: text == body)
            return next((c for c in reversed(same) if c.author == ours), None)

        return self._run(f"{project}#{number} new comment", create, find=made)

    def update_comment(self, *, project: str, number: int, comment: Comment, body: str) -> Comment:
        def update() -> Comment:  # an edit: the same again is harmless
            item = self._comment(project, number, comment)
            item.edit(body)
            return Comment(comment.id, item.html_url or comment.url, body, comment.author)

        return self._run(f"{project}#{number} comment {comment.id}", update)

    def delete_comment(self, *, project: str, number: int, comment: Comment) -> None:
        def delete() -> None:
            try:
                self._comment(project, number, comment).delete()
            except GithubException as err:
                if err.status != 404:  # a retried delete whose first try went through
                    raise
            self._seen.pop(comment.id, None)

        self._run(f"{project}#{number} comment {comment.id}", delete)

    def minimize_comment(self, *, project: str, number: int, comment: Comment) -> bool:
        return self._run(
            f"{project}#{number} comment {comment.id}",
            lambda: self._comment(project, number, comment).minimize("OUTDATED"),
        )


def _as_comment(item: IssueComment) -> Comment:
    user = item.raw_data.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    author = login if isinstance(login, str) else ""  # a deleted account: nobody's
    return Comment(str(item.id), str(item.html_url or item.url), item.body or "", author)


def _owner(project: str) -> str:
    parts = project.split("/")
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"github: project {project!r} is not owner/name")
    return parts[0]


def _open_pull(repo: Repository, label: str, base: str) -> GithubPull | None:
    return next(iter(repo.get_pulls(state="open", head=label, base=base)), None)


def _detail(data: Any) -> str:
    if not isinstance(data, dict):
        return api_detail(data or "")
    errors = [e.get("message", "") for e in data.get("errors") or [] if isinstance(e, dict)]
    return api_detail(": ".join(str(part) for part in (data.get("message"), *errors) if part))


def _cut_timeout(client: github.Github, seconds: float) -> None:
    """Let each request of ``client`` wait ``seconds`` at most. PyGithub takes one timeout
    when the client is made, and keeps it on the requester and its open connection."""
    requester = client.requester
    seconds = max(seconds, 0.05)
    if hasattr(requester, "_Requester__timeout"):
        requester._Requester__timeout = seconds
    connection = getattr(requester, "_Requester__connection", None)
    if connection is not None:
        connection.timeout = seconds


@contextmanager
def _api_errors(where: str, url: str) -> Iterator[None]:
    """Turn what PyGithub and requests raise into ``ExternalError``: transient for HTTP 5xx,
    429, rate limits and the network (``Unsent`` when the request was not acted on, with
    the wait the reply asked for); permanent for the rest (401, 403, 404, 422)."""
    try:
        yield
    except GithubException as err:
        status = err.status
        limited = status == 429 or isinstance(err, RateLimitExceededException)
        transient = status >= 500 or limited
        hint = "try again later" if transient else _HINTS.get(status, "")
        message = f"github: {where}: HTTP {status} {_detail(err.data)}".rstrip()
        kind = Unsent if limited else ExternalError
        error = kind(message, transient=transient, hint=hint)
        if limited:
            asked = asked_wait(err.headers or {})
            secondary = "secondary rate limit" in str(err.data).lower()
            error.retry_after = SECONDARY_LIMIT_WAIT if asked is None and secondary else asked
        raise error from err
    except requests.RequestException as err:
        message = f"github: {where}: cannot reach {api_detail(url)} ({type(err).__name__})"
        kind = Unsent if never_sent(err) else ExternalError
        raise kind(message, hint="check the API URL and the network") from err
    except (AssertionError, ValueError, KeyError, TypeError) as err:  # not the GitHub API
        message = f"github: {where}: {api_detail(url)} did not answer like the GitHub API"
        raise ExternalError(
            message, transient=False, hint="check --forge-url (GitHub Enterprise: .../api/v3)"
        ) from err
