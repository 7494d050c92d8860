"""Merge requests and their notes on GitLab (gitlab.com or self-managed), via python-gitlab."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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
    api_detail,
    env_token,
)
from gitops_actions.secrets import REDACTOR

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


class GitLabForge:
    """Opens or updates merge requests with a personal, project or CI job token."""

    name = "gitlab"
    comment_limit = COMMENT_LIMIT

    def __init__(
        self,
        token: str,
        *,
        url: str = DEFAULT_URL,
        job_token: bool = False,
        http: HttpOptions | None = None,
    ) -> None:
        REDACTOR.learn(token)
        options = http or HttpOptions()
        self.url = url.rstrip("/")
        self._retries = options.retries
        self._job_token = job_token
        self._username: str | None = None
        self._client = gitlab.Gitlab(
            self.url,
            private_token=None if job_token else token,
            job_token=token if job_token else None,
            retry_transient_errors=True,
            timeout=options.timeout,
        )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, url: str | None = None, http: HttpOptions | None = None
    ) -> GitLabForge:
        variable, token = env_token(env, TOKEN_ENV, "gitlab")
        return cls(
            token,
            url=url or env.get("CI_SERVER_URL") or DEFAULT_URL,
            job_token=variable == "CI_JOB_TOKEN",
            http=http,
        )

    def check(self, project: str) -> None:
        if "/" not in project.strip("/"):
            raise UsageError(f"gitlab: project {project!r} is not group/name")

    def upsert_pull_request(
        self, *, project: str, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        self.check(project)
        retries = self._retries
        with _api_errors(f"{project} {head} -> {base}", self.url):
            repo = self._client.projects.get(project.strip("/"), max_retries=retries)
            request = self._open_request(repo, head, base)
            if request is None:
                fields = {"source_branch": head, "target_branch": base}
                try:
                    created = repo.mergerequests.create(
                        {**fields, "title": title, "description": body}, max_retries=retries
                    )
                    return PullRequest(int(created.iid), str(created.web_url), created=True)
                except GitlabError as err:
                    # A create retried after a lost reply: the first try opened it.
                    conflict = err.response_code == 409
                    request = self._open_request(repo, head, base) if conflict else None
                    if request is None:
                        raise
            if request.title != title or (request.description or "") != body:
                request.title = title
                request.description = body
                request.save(max_retries=retries)
            return PullRequest(int(request.iid), str(request.web_url), created=False)

    def _open_request(self, repo: Project, head: str, base: str) -> ProjectMergeRequest | None:
        found = repo.mergerequests.list(
            state="opened",
            source_branch=head,
            target_branch=base,
            iterator=True,
            max_retries=self._retries,
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
        with _api_errors(f"{project}!{number}", self.url):
            repo = self._client.projects.get(project.strip("/"), lazy=True)
            found = repo.mergerequests.get(number, max_retries=self._retries)
            return str(found.sha or "")

    def pull_request_refs(self, *, project: str, number: int) -> Refs:
        with _api_errors(f"{project}!{number}", self.url):
            repo = self._client.projects.get(project.strip("/"), max_retries=self._retries)
            found = repo.mergerequests.get(number, max_retries=self._retries)
            source = found.source_project_id
            head_url = str(repo.http_url_to_repo)
            if source != found.target_project_id:
                fork = self._client.projects.get(source, max_retries=self._retries)
                head_url = str(fork.http_url_to_repo)
            return Refs(
                head_sha=str(found.sha or ""),
                head_ref=str(found.source_branch),
                head_url=head_url,
                base_ref=str(found.target_branch),
                base_url=str(repo.http_url_to_repo),
                fork=source != found.target_project_id,
            )

    def set_commit_status(
        self, *, project: str, sha: str, state: str, context: str, description: str
    ) -> None:
        state = {"failure": "failed", "error": "failed"}.get(state, state)
        with _api_errors(f"{project} status of {sha[:12]}", self.url):
            repo = self._client.projects.get(project.strip("/"), lazy=True)
            repo.commits.get(sha, lazy=True).statuses.create(
                {"state": state, "name": context, "description": description[:255]},
                max_retries=self._retries,
            )

    # -- deployments ---------------------------------------------------------------------
    def create_deployment(
        self, *, project: str, environment: str, sha: str, ref: str, description: str
    ) -> Deployment:
        with _api_errors(f"{project} deployment of {sha[:12]} to {environment}", self.url):
            repo = self._client.projects.get(project.strip("/"), lazy=True)
            found = repo.deployments.create(
                {
                    "environment": environment,
                    "sha": sha,
                    "ref": ref,
                    "tag": False,
                    "status": "running",
                },
                max_retries=self._retries,
            )
            return Deployment(str(found.id), f"{self.url}/{project.strip('/')}/-/environments")

    def set_deployment_status(
        self, project: str, deployment: Deployment, status: DeploymentStatus
    ) -> None:
        if status.state == "in_progress":
            return  # created running: the API takes no earlier status
        state = "failed" if status.state == "failure" else status.state
        with _api_errors(f"{project} deployment {deployment.id}", self.url):
            repo = self._client.projects.get(project.strip("/"), lazy=True)
            found = repo.deployments.get(int(deployment.id), lazy=True)
            found.status = state
            found.save(max_retries=self._retries)

    def identity(self) -> str | None:
        """The token's user (a project or group access token has a bot user of its own)."""
        self._writable()
        if self._username is None:
            with _api_errors("who am I (/user)", self.url):
                data = self._client.http_get("/user", max_retries=self._retries)
                name = data.get("username") if isinstance(data, dict) else None
            if not isinstance(name, str) or not name:
                raise ExternalError(f"gitlab: {api_detail(self.url)}/user named no user")
            self._username = name
        return self._username

    def list_comments(self, *, project: str, number: int, marker: str) -> list[Comment]:
        self._writable()
        request = self._request(project, number)
        with _api_errors(f"{project}!{number} notes", self.url):
            notes = request.notes.list(
                iterator=True,
                per_page=100,
                sort="asc",
                order_by="created_at",
                max_retries=self._retries,
            )
            return [
                _as_comment(note, self._web(project, number))
                for note in notes
                if not getattr(note, "system", False) and marker in (note.body or "")
            ]

    def create_comment(self, *, project: str, number: int, body: str, key: str) -> Comment:
        self._writable()
        request = self._request(project, number)
        with _api_errors(f"{project}!{number} new note", self.url):
            note = request.notes.create({"body": body}, max_retries=self._retries)
            return _as_comment(note, self._web(project, number))

    def update_comment(self, *, project: str, number: int, comment: Comment, body: str) -> Comment:
        self._writable()
        request = self._request(project, number)
        with _api_errors(f"{project}!{number} note {comment.id}", self.url):
            note = request.notes.get(int(comment.id), lazy=True)
            note.body = body
            note.save(max_retries=self._retries)
            url = comment.url or self._web(project, number)
            return Comment(comment.id, url, body, comment.author)

    def delete_comment(self, *, project: str, number: int, comment: Comment) -> None:
        self._writable()
        request = self._request(project, number)
        with _api_errors(f"{project}!{number} note {comment.id}", self.url):
            try:
                request.notes.delete(int(comment.id), max_retries=self._retries)
            except GitlabError as err:
                if err.response_code != 404:  # a retried delete whose first try went through
                    raise

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
def _api_errors(where: str, url: str) -> Iterator[None]:
    """Turn what python-gitlab and requests raise after their retries into ``ExternalError``."""
    try:
        yield
    except GitlabError as err:
        status = err.response_code or 0
        transient = status >= 500 or status == 429
        hint = "try again later" if transient else _HINTS.get(status, "")
        message = f"gitlab: {where}: HTTP {status} {_detail(err)}".rstrip()
        raise ExternalError(message, transient=transient, hint=hint) from err
    except requests.RequestException as err:
        message = f"gitlab: {where}: cannot reach {api_detail(url)} ({type(err).__name__})"
        raise ExternalError(message, hint="check the GitLab URL and the network") from err
