"""Webhook payloads to work: a job to run, a pull request closed, or nothing to do.

Pure functions on parsed JSON. GitHub: ``pull_request`` (opened, reopened, synchronize,
ready_for_review, edited when the base changed, closed) and ``issue_comment`` commands on
pull requests. GitLab: ``Merge Request Hook`` (open, reopen, update with ``oldrev``, close,
merge) and ``Note Hook`` commands on merge requests.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

COMMANDS = ("/gitops diff",)
GITHUB_RUN = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
GITLAB_RUN = frozenset({"open", "reopen"})
GITLAB_CLOSE = frozenset({"close", "merge"})


class BadPayload(ValueError):
    """The payload is not shaped like the event it claims to be."""


@dataclass(frozen=True)
class Job:
    """One run for one head of one pull request. Empty ``head_sha``: ask the forge."""

    forge: str
    project: str
    number: int
    reason: str
    delivery: str = ""
    head_sha: str = ""
    head_ref: str = ""
    head_url: str = ""
    base_ref: str = ""
    base_url: str = ""
    fork: bool = False
    seq: int = 0  # order of acceptance, given by the store; the sticky comment's run number
    attempt: int = 0  # tries that failed transiently so far

    @property
    def key(self) -> str:
        return f"{self.forge}:{self.project}#{self.number}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))

    def numbered(self, seq: int) -> Job:
        return replace(self, seq=seq)


@dataclass(frozen=True)
class Event:
    """What a delivery asks for: ``job`` to run, ``close`` a pull request, or neither."""

    project: str
    job: Job | None = None
    close: Job | None = None  # a pull request closed (or merged): drop its queued work
    ignored: str = ""  # why nothing is done


def _get(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def _text(data: Any, *path: str) -> str:
    value = _get(data, *path)
    return value if isinstance(value, str) else ""


def _number(data: Any, *path: str) -> int:
    value = _get(data, *path)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise BadPayload(f"{'.'.join(path)}: expected a pull request number")
    return value


def project_of(forge: str, payload: Any) -> str:
    """The repository a delivery is about (what the allowlist is matched against)."""
    path = ("repository", "full_name") if forge == "github" else ("project", "path_with_namespace")
    project = _text(payload, *path)
    if not project:
        raise BadPayload(f"{'.'.join(path)}: missing")
    return project


def command(body: str) -> str:
    """The command a comment gives on its first non-blank line, or ""."""
    for line in body.splitlines():
        line = line.strip()
        if line:
            return next((c for c in COMMANDS if line == c or line.startswith(c + " ")), "")
    return ""


def parse(forge: str, kind: str, payload: Any, delivery: str) -> Event:
    """The event in a verified delivery; ``BadPayload`` when its shape is wrong."""
    if not isinstance(payload, dict):
        raise BadPayload("the body is not a JSON object")
    project = project_of(forge, payload)
    if forge == "github":
        return _github(kind, payload, project, delivery)
    return _gitlab(kind, payload, project, delivery)


def _github(kind: str, payload: dict[str, Any], project: str, delivery: str) -> Event:
    action = _text(payload, "action")
    if kind == "pull_request":
        pull = _get(payload, "pull_request")
        number = _number(payload, "number")
        if action == "closed":
            return Event(project, close=Job("github", project, number, action, delivery))
        if action == "edited" and _get(payload, "changes", "base") is None:
            return Event(project, ignored="edited without a base change")
        if action not in GITHUB_RUN and action != "edited":
            return Event(project, ignored=f"pull_request {action or '?'}")
        head_repo = _text(pull, "head", "repo", "full_name")
        job = Job(
            forge="github",
            project=project,
            number=number,
            reason=action,
            delivery=delivery,
            head_sha=_text(pull, "head", "sha"),
            head_ref=_text(pull, "head", "ref"),
            head_url=_text(pull, "head", "repo", "clone_url"),
            base_ref=_text(pull, "base", "ref"),
            base_url=_text(pull, "base", "repo", "clone_url")
            or _text(payload, "repository", "clone_url"),
            fork=bool(head_repo) and head_repo.lower() != project.lower(),
        )
        if not (job.head_sha and job.head_ref and job.head_url and job.base_ref):
            raise BadPayload("pull_request: head and base are incomplete")
        return Event(project, job=job)
    if kind == "issue_comment":
        if action != "created" or _get(payload, "issue", "pull_request") is None:
            return Event(project, ignored="not a new comment on a pull request")
        if _text(payload, "comment", "user", "type") == "Bot":
            return Event(project, ignored="comment by a bot")
        said = command(_text(payload, "comment", "body"))
        if not said:
            return Event(project, ignored="no command")
        number = _number(payload, "issue", "number")
        return Event(project, job=Job("github", project, number, said, delivery))
    return Event(project, ignored=f"event {kind or '?'}")


def _gitlab_job(request: Any, project: str, number: int, reason: str, delivery: str) -> Job:
    source, target = _text(request, "source", "path_with_namespace"), project
    job = Job(
        forge="gitlab",
        project=project,
        number=number,
        reason=reason,
        delivery=delivery,
        head_sha=_text(request, "last_commit", "id"),
        head_ref=_text(request, "source_branch"),
        head_url=_text(request, "source", "git_http_url"),
        base_ref=_text(request, "target_branch"),
        base_url=_text(request, "target", "git_http_url"),
        fork=bool(source) and source.lower() != target.lower(),
    )
    if not (job.head_sha and job.head_ref and job.head_url and job.base_ref and job.base_url):
        raise BadPayload("merge request: source and target are incomplete")
    return job


def _gitlab(kind: str, payload: dict[str, Any], project: str, delivery: str) -> Event:
    if kind == "Merge Request Hook":
        attrs = _get(payload, "object_attributes")
        action = _text(attrs, "action")
        number = _number(payload, "object_attributes", "iid")
        if action in GITLAB_CLOSE:
            return Event(project, close=Job("gitlab", project, number, action, delivery))
        if action == "update" and not _text(attrs, "oldrev"):
            return Event(project, ignored="update without new commits")
        if action not in GITLAB_RUN and action != "update":
            return Event(project, ignored=f"merge request {action or '?'}")
        return Event(project, job=_gitlab_job(attrs, project, number, action, delivery))
    if kind == "Note Hook":
        if _text(payload, "object_attributes", "noteable_type") != "MergeRequest":
            return Event(project, ignored="not a note on a merge request")
        if _get(payload, "user", "bot") is True:
            return Event(project, ignored="note by a bot")
        said = command(_text(payload, "object_attributes", "note"))
        if not said:
            return Event(project, ignored="no command")
        request = _get(payload, "merge_request")
        number = _number(payload, "merge_request", "iid")
        return Event(project, job=_gitlab_job(request, project, number, said, delivery))
    return Event(project, ignored=f"event {kind or '?'}")
