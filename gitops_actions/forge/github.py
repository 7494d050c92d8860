"""Pull requests and their comments on GitHub and GitHub Enterprise Server, via PyGithub."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import github
import requests
from github.GithubException import GithubException, RateLimitExceededException
from github.GithubRetry import GithubRetry
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
    api_detail,
    env_token,
)
from gitops_actions.secrets import REDACTOR

DEFAULT_URL = "https://api.github.com"
COMMENT_LIMIT = COMMENT_LIMITS["github"]
TOKEN_ENV = ("GITHUB_TOKEN", "GH_TOKEN")
# GithubRetry adds 403, retried only when it is a rate limit; PATCH edits are idempotent.
_RETRY_STATUS = (429, *range(500, 600))
_RETRY_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
_HINTS = {
    401: "check GITHUB_TOKEN or GH_TOKEN",
    403: "the token needs contents and pull-requests write access",
    404: "check the repository name and that the token can see it",
    422: "check that both branches exist and differ",
}


class GitHubForge:
    """Opens or updates pull requests with a token on the REST API at ``url``."""

    name = "github"
    comment_limit = COMMENT_LIMIT

    def __init__(
        self, token: str, *, url: str = DEFAULT_URL, http: HttpOptions | None = None
    ) -> None:
        REDACTOR.learn(token)
        options = http or HttpOptions()
        retry = GithubRetry(
            total=options.retries,
            backoff_factor=options.backoff,
            status_forcelist=list(_RETRY_STATUS),
            allowed_methods=_RETRY_METHODS,
            raise_on_status=False,
            max_rate_limit_wait=options.max_rate_limit_wait,
        )
        self.url = url.rstrip("/")
        self._client = github.Github(
            base_url=self.url,
            auth=github.Auth.Token(token),
            retry=retry,
            timeout=options.timeout,
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
        cls, env: Mapping[str, str], *, url: str | None = None, http: HttpOptions | None = None
    ) -> GitHubForge:
        _, token = env_token(env, TOKEN_ENV, "github")
        return cls(token, url=url or env.get("GITHUB_API_URL") or DEFAULT_URL, http=http)

    def check(self, project: str) -> None:
        _owner(project)

    def upsert_pull_request(
        self, *, project: str, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        owner = _owner(project)
        label = head if ":" in head else f"{owner}:{head}"
        with _api_errors(f"{project} {head} -> {base}", self.url):
            repo = self._client.get_repo(project)
            pull = _open_pull(repo, label, base)
            if pull is None:
                try:
                    pull = repo.create_pull(base=base, head=head, title=title, body=body)
                    return PullRequest(pull.number, pull.html_url, created=True)
                except GithubException as err:
                    # A create retried after a lost reply: the first try opened it.
                    pull = _open_pull(repo, label, base) if err.status == 422 else None
                    if pull is None:
                        raise
            if pull.title != title or (pull.body or "") != body:
                pull.edit(title=title, body=body)
            return PullRequest(pull.number, pull.html_url, created=False)

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
        with _api_errors(f"{project}#{number}", self.url):
            return str(self._pull(project, number).head.sha or "")

    def pull_request_refs(self, *, project: str, number: int) -> Refs:
        with _api_errors(f"{project}#{number}", self.url):
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

    def set_commit_status(
        self, *, project: str, sha: str, state: str, context: str, description: str
    ) -> None:
        with _api_errors(f"{project} status of {sha[:12]}", self.url):
            commit = self._comments_client.get_repo(project).get_commit(sha)
            commit.create_status(state=state, description=description[:140], context=context)

    # -- deployments ---------------------------------------------------------------------
    def create_deployment(
        self, *, project: str, environment: str, sha: str, ref: str, description: str
    ) -> Deployment:
        with _api_errors(f"{project} deployment of {sha[:12]} to {environment}", self.url):
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

    def set_deployment_status(
        self, project: str, deployment: Deployment, status: DeploymentStatus
    ) -> None:
        with _api_errors(f"{project} deployment {deployment.id}", self.url):
            repo = self._comments_client.get_repo(project)
            found = repo.get_deployment(int(deployment.id))
            text = status.description[:140]
            if status.url:
                found.create_status(status.state, target_url=status.url, description=text)
            else:
                found.create_status(status.state, description=text)

    def identity(self) -> str | None:
        """The token's login from GraphQL ``viewer``: a user's login, or ``NAME[bot]`` for an
        app installation token (such as Actions' GITHUB_TOKEN), which REST ``/user`` refuses."""
        if self._login is None:
            with _api_errors("who am I (GraphQL viewer)", self.url):
                _, data = self._client.requester.graphql_query("query { viewer { login } }", {})
                login = data["data"]["viewer"]["login"]
                if not isinstance(login, str) or not login:
                    raise ValueError("no login")
                self._login = login
        return self._login

    def list_comments(self, *, project: str, number: int, marker: str) -> list[Comment]:
        found = []
        with _api_errors(f"{project}#{number} comments", self.url):
            for item in self._pull(project, number).get_issue_comments():
                if marker in (item.body or ""):
                    self._seen[str(item.id)] = item
                    found.append(_as_comment(item))
        return found

    def create_comment(self, *, project: str, number: int, body: str, key: str) -> Comment:
        with _api_errors(f"{project}#{number} new comment", self.url):
            item = self._pull(project, number).create_issue_comment(body)
            self._seen[str(item.id)] = item
            return _as_comment(item)

    def update_comment(self, *, project: str, number: int, comment: Comment, body: str) -> Comment:
        with _api_errors(f"{project}#{number} comment {comment.id}", self.url):
            item = self._comment(project, number, comment)
            item.edit(body)
            return Comment(comment.id, item.html_url or comment.url, body, comment.author)

    def delete_comment(self, *, project: str, number: int, comment: Comment) -> None:
        with _api_errors(f"{project}#{number} comment {comment.id}", self.url):
            try:
                self._comment(project, number, comment).delete()
            except GithubException as err:
                if err.status != 404:  # a retried delete whose first try went through
                    raise
            self._seen.pop(comment.id, None)

    def minimize_comment(self, *, project: str, number: int, comment: Comment) -> bool:
        with _api_errors(f"{project}#{number} comment {comment.id}", self.url):
            return self._comment(project, number, comment).minimize("OUTDATED")


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


@contextmanager
def _api_errors(where: str, url: str) -> Iterator[None]:
    """Turn what PyGithub and requests raise after their retries into ``ExternalError``."""
    try:
        yield
    except GithubException as err:
        status = err.status
        transient = status >= 500 or status == 429 or isinstance(err, RateLimitExceededException)
        hint = "try again later" if transient else _HINTS.get(status, "")
        message = f"github: {where}: HTTP {status} {_detail(err.data)}".rstrip()
        raise ExternalError(message, transient=transient, hint=hint) from err
    except requests.RequestException as err:
        message = f"github: {where}: cannot reach {api_detail(url)} ({type(err).__name__})"
        raise ExternalError(message, hint="check the API URL and the network") from err
    except (AssertionError, ValueError, KeyError, TypeError) as err:  # not the GitHub API
        message = f"github: {where}: {api_detail(url)} did not answer like the GitHub API"
        raise ExternalError(
            message, transient=False, hint="check --forge-url (GitHub Enterprise: .../api/v3)"
        ) from err
