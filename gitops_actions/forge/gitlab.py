"""Merge requests and their notes on GitLab (gitlab.com or self-managed), via python-gitlab."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import gitlab
import requests
from gitlab.exceptions import GitlabError
from gitlab.v4.objects import Project, ProjectMergeRequest, ProjectMergeRequestNote

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

DEFAULT_URL = "https://gitlab.com"
TOKEN_ENV = ("GITLAB_TOKEN", "CI_JOB_TOKEN")
COMMENT_LIMIT = COMMENT_LIMITS["gitlab"]
_HINTS = {
    401: "check GITLAB_TOKEN or CI_JOB_TOKEN",
    403: "the token needs the api scope and Developer access to the project",
    404: "check the project path and that the token can see it",
    409: "an open merge request for this branch may already exist",
    422: "check that both branches exist and differ",
}


class _Client(gitlab.Gitlab):
    """python-gitlab with its own retries off, on 429 as well (``call_api`` retries, within
    the deadline); each request waits ``request_timeout`` seconds at most, and the headers
    of the last reply are kept (per thread) for the wait a refusal asks for."""

    request_timeout = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replies = threading.local()
        self.session.hooks["response"].append(self._note)

    def _note(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._replies.headers = dict(response.headers)

    def last_headers(self) -> dict[str, str]:
        headers: dict[str, str] = getattr(self._replies, "headers", {})
        return headers

    def http_request(self, verb: str, path: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.update(max_retries=0, obey_rate_limit=False, retry_transient_errors=False)
        kwargs["timeout"] = max(self.request_timeout, 0.05)
        return super().http_request(verb, path, *args, **kwargs)


class GitLabForge(Retrying):
    """Opens or updates merge requests with a personal, project or CI job token.

    python-gitlab's own retries are off: each operation goes through ``call_api``, bounded
    by ``deadline`` (or ``http.budget`` per operation), and each request's timeout is cut
    to what is left of it."""

    name = "gitlab"
    comment_limit = COMMENT_LIMIT

    def __init__(
        self,
        token: str,
        *,
        url: str = DEFAULT_URL,
        job_token: bool = False,
        http: HttpOptions | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        REDACTOR.learn(token)
        options = http or HttpOptions()
        self.url = url.rstrip("/")
        self._options = options
        self._deadline = deadline
        self._job_token = job_token
        self._username: str | None = None
        self._client = _Client(
            self.url,
            private_token=None if job_token else token,
            job_token=token if job_token else None,
            retry_transient_errors=False,  # call_api retries, within the deadline
            timeout=options.timeout,
        )

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        url: str | None = None,
        http: HttpOptions | None = None,
        deadline: Deadline | None = None,
    ) -> GitLabForge:
        variable, token = env_token(env, TOKEN_ENV, "gitlab")
        return cls(
            token,
            url=url or env.get("CI_SERVER_URL") or DEFAULT_URL,
            job_token=variable == "CI_JOB_TOKEN",
            http=http,
            deadline=deadline,
        )

    def _attempt(self, where: str, deadline: Deadline) -> AbstractContextManager[None]:
        self._client.request_timeout = deadline.clamp(self._options.timeout)
        return _api_errors(where, self.url, self._client.last_headers)

    def check(self, project: str) -> None:
        if "/" not in project.strip("/"):
            raise UsageError(f"gitlab: project {project!r} is not group/name")

    def upsert_pull_request(
        self, *, project: str, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        self.check(project)

        def upsert() -> PullRequest:  # a retry looks for an open one first: never two
            repo = self._client.projects.get(project.strip("/"))
            request = self._open_request(repo, head, base)
            if request is None:
                fields = {"source_branch": head, "target_branch": base}
                try:
                    created = repo.mergerequests.create(
                        {**fields, "title": title, "description": body}
                    )
                    return PullRequest(int(created.iid), str(created.web_url), created=True)
                except GitlabError as err:
                    # Opened by another writer just now: update that one.
                    conflict = err.response_code == 409
                    request = self._open_request(repo, head, base) if conflict else None
                    if request is None:
                        raise
            if request.title != title or (request.description or "") != body:
                request.title = title
                request.description = body
                request.save()
            return PullRequest(int(request.iid), str(request.web_url), created=False)

        return self._run(f"{project} {head} -> {base}", upsert)

    def _open_request(self, repo: Project, head: str, base: str) -> ProjectMergeRequest | None:
        found = repo.mergerequests.list(
            state="opened",
            source_branch=head,
            target_branch=base,
            iterator=True,
        )
        return next(iter(found), None)

    # -- notes ---------------------------------------------------------------------------
    def _request(self, project: str, number: int) -> ProjectMergeRequest:
        if "/" not in project.strip("/"):
            raise UsageError(f"gitlab: project {project!r} is not group/name")
        repo = self._client.projects.get(project.strip("/"), lazy=True)
        return repo.mergerequests.get(number, lazy=True)

    def _web(self, project: str, number: int) -> str:
        return f"{self.url}/{project.strip('/')}/-/merge_requests/{number}"

    def _writable(self) -> None:
        if self._job_token:
            raise UsageError(
                "gitlab: CI_JOB_TOKEN cannot write merge request notes",
                hint="set GITLAB_TOKEN to a project access token with the api scope",
            )

    def pull_request_head(self, *, project: str, number: int) -> str:
        def head() -> str:
            repo = self._client.projects.get(project.strip("/"), lazy=True)
            return str(repo.mergerequests.get(number).sha or "")

        return self._run(f"{project}!{number}", head)

    def pull_request_refs(self, *, project: str, number: int) -> Refs:
        def refs() -> Refs:
            repo = self._client.projects.get(project.strip("/"))
            found = repo.mergerequests.get(number)
            source = found.source_project_id
            head_url = str(repo.http_url_to_repo)
            if source != found.target_project_id:
                fork = self._client.projects.get(source)
                head_url = str(fork.http_url_to_repo)
            return Refs(
                head_sha=str(found.sha or ""),
                head_ref=str(found.source_branch),
                head_url=head_url,
                base_ref=str(found.target_branch),
                base_url=str(repo.http_url_to_repo),
                fork=source != found.target_project_id,
            )

        return self._run(f"{project}!{number}", refs)

    def set_commit_status(
        self, *, project: str, sha: str, state: str, context: str, description: str
    ) -> None:
        state = {"failure": "failed", "error": "failed"}.get(state, state)

        def status() -> None:  # again after a lost reply: the newest status of a name wins
            repo = self._client.projects.get(project.strip("/"), lazy=True)
            repo.commits.get(sha, lazy=True).statuses.create(
                {"state": state, "name": context, "description": description[:255]}
            )

        self._run(f"{project} status of {sha[:12]}", status)

    # -- deployments ---------------------------------------------------------------------
    def create_deployment(
        self, *, project: str, environment: str, sha: str, ref: str, description: str
    ) -> Deployment:

        def create() -> Deployment:
            repo = self._client.projects.get(project.strip("/"), lazy=True)
            found = repo.deployments.create(
                {
                    "environment": environment,
                    "sha": sha,
                    "ref": ref,
                    "tag": False,
                    "status": "running",
                }
            )
            return Deployment(str(found.id), f"{self.url}/{project.strip('/')}/-/environments")

        # A deployment is a new record each time: tried again only when the first try
        # cannot have made one (a rate limit, a connection that never opened).
        where = f"{project} deployment of {sha[:12]} to {environment}"
        return self._run(where, create, unsent_only=True)

    def set_deployment_status(
        self, project: str, deployment: Deployment, status: DeploymentStatus
    ) -> None:
        if status.state == "in_progress":
            return  # created running: the API takes no earlier status
        state = "failed" if status.state == "failure" else status.state

        def record() -> None:  # a PUT of the status: the same again is harmless
            repo = self._client.projects.get(project.strip("/"), lazy=True)
            found = repo.deployments.get(int(deployment.id), lazy=True)
            found.status = state
            found.save()

        self._run(f"{project} deployment {deployment.id}", record)

    def identity(self) -> str | None:
        """The token's user (a project or group access token has a bot user of its own)."""
        self._writable()
        if self._username is None:
            data = self._run("who am I (/user)", lambda: self._client.http_get("/user"))
            name = data.get("username") if isinstance(data, dict) else None
            if not isinstance(name, str) or not name:
                raise ExternalError(f"gitlab: {api_detail(self.url)}/user named no user")
            self._username = name
        return self._username

    def _notes(self, project: str, number: int, keep: Callable[[str], bool]) -> list[Comment]:
        notes = self._request(project, number).notes.list(
            iterator=True, per_page=100, sort="asc", order_by="created_at"
        )
        return [
            _as_comment(note, self._web(project, number))
            for note in notes
            if not getattr(note, "system", False) and keep(str(note.body or ""))
        ]

    def list_comments(self, *, project: str, number: int, marker: str) -> list[Comment]:
        self._writable()
        self._request(project, number)
        where = f"{project}!{number} notes"
        return self._run(where, lambda: self._notes(project, number, lambda b: marker in b))

    def create_comment(self, *, project: str, number: int, body: str, key: str) -> Comment:
        self._writable()
        request = self._request(project, number)

        def create() -> Comment:
            note = request.notes.create({"body": body})
            return _as_comment(note, self._web(project, number))

        def made() -> Comment | None:  # the failed try may have posted it: never post twice
            ours = self.identity()
            same = self._notes(project, number, lambda text: text == body)
            return next((c for c in reversed(same) if c.author == ours), None)

        return self._run(f"{project}!{number} new note", create, find=made)

    def update_comment(self, *, project: str, number: int, comment: Comment, body: str) -> Comment:
        self._writable()
        request = self._request(project, number)

        def update() -> Comment:  # a PUT: the same again is harmless
            note = request.notes.get(int(comment.id), lazy=True)
            note.body = body
            note.save()
            url = comment.url or self._web(project, number)
            return Comment(comment.id, url, body, comment.author)

        return self._run(f"{project}!{number} note {comment.id}", update)

    def delete_comment(self, *, project: str, number: int, comment: Comment) -> None:
        self._writable()
        request = self._request(project, number)

        def delete() -> None:
            try:
                request.notes.delete(int(comment.id))
            except GitlabError as err:
                if err.response_code != 404:  # a retried delete whose first try went through
                    raise

        self._run(f"{project}!{number} note {comment.id}", delete)

    def minimize_comment(self, *, project: str, number: int, comment: Comment) -> bool:
        return False  # GitLab cannot collapse a note; the caller has already emptied it


def _as_comment(note: ProjectMergeRequestNote, web: str) -> Comment:
    author = getattr(note, "author", None)
    name = author.get("username") if isinstance(author, dict) else None
    author_name = name if isinstance(name, str) else ""  # a deleted account: nobody's
    return Comment(str(note.id), f"{web}#note_{note.id}", str(note.body or ""), author_name)


def _detail(error: GitlabError) -> str:
    message: Any = error.error_message
    if isinstance(message, dict):
        message = "; ".join(f"{k} {v}" for k, v in message.items())
    elif isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    return api_detail(message)


@contextmanager
def _api_errors(where: str, url: str, headers: Callable[[], dict[str, str]]) -> Iterator[None]:
    """Turn what python-gitlab and requests raise into ``ExternalError``: transient for HTTP
    5xx, 429 and the network (``Unsent`` when the request was not acted on, with the wait
    the reply asked for); permanent for the rest (401, 403, 404, 409, 422)."""
    try:
        yield
    except GitlabError as err:
        status = err.response_code or 0
        transient = status >= 500 or status == 429
        hint = "try again later" if transient else _HINTS.get(status, "")
        message = f"gitlab: {where}: HTTP {status} {_detail(err)}".rstrip()
        if status == 429:
            error = Unsent(message, hint=hint)
            error.retry_after = asked_wait(headers())
            raise error from err
        raise ExternalError(message, transient=transient, hint=hint) from err
    except requests.RequestException as err:
        message = f"gitlab: {where}: cannot reach {api_detail(url)} ({type(err).__name__})"
        kind = Unsent if never_sent(err) else ExternalError
        raise kind(message, hint="check the GitLab URL and the network") from err
