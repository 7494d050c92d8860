"""What a pipeline runs for, as tag rules see it: from GitHub Actions, GitLab CI or git.

The fields mean what docker/metadata-action's do: ``branch`` only for a branch ref (empty
for tags and pull requests), ``base_ref`` the pull request's target branch, and scheduled
runs (and GitHub's create, discussion and issues events) count as the default branch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_actions.errors import ExternalError, UsageError

_ON_DEFAULT = re.compile(r"create|discussion|issues|schedule")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Source:
    """What the pipeline runs for."""

    event: str  # branch, tag, pr, schedule
    sha: str = ""
    branch: str = ""  # the branch ref built (also on schedule), never a tag's or a PR's
    tag: str = ""
    pr: str = ""
    default_branch: str = ""
    base_ref: str = ""  # a pull request's target branch
    on_default: bool = False  # an event that always runs on the default branch
    now: dt.datetime = field(default_factory=_now)
    commit_date: dt.datetime | None = None
    sha_length: int = 7  # of {{sha}} and type=sha (DOCKER_METADATA_SHORT_SHA_LENGTH)

    @property
    def short_sha(self) -> str:
        return self.sha[: self.sha_length]

    @property
    def is_default_branch(self) -> bool:
        if not self.branch:
            return False
        return self.branch == self.default_branch or self.on_default


def _date(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _payload(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return {}
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def github(env: Mapping[str, str]) -> Source:
    ref, event_name = env.get("GITHUB_REF", ""), env.get("GITHUB_EVENT_NAME", "")
    payload = _payload(env)
    common: dict[str, Any] = {
        "sha": env.get("GITHUB_SHA", ""),
        "default_branch": str((payload.get("repository") or {}).get("default_branch") or ""),
        "on_default": bool(_ON_DEFAULT.search(event_name)),
        "commit_date": _date(str((payload.get("head_commit") or {}).get("timestamp") or "")),
    }
    if ref.startswith("refs/tags/"):
        base = str(payload.get("base_ref") or "").removeprefix("refs/heads/")
        return Source("tag", tag=ref.removeprefix("refs/tags/"), base_ref=base, **common)
    pull = re.match(r"^refs/pull/(\d+)/", ref)
    if pull:
        base = env.get("GITHUB_BASE_REF", "")
        return Source("pr", pr=pull.group(1), base_ref=base, **common)
    event = "schedule" if event_name == "schedule" else "branch"
    return Source(event, branch=ref.removeprefix("refs/heads/"), **common)


def gitlab(env: Mapping[str, str]) -> Source:
    common: dict[str, Any] = {
        "sha": env.get("CI_COMMIT_SHA", ""),
        "default_branch": env.get("CI_DEFAULT_BRANCH", ""),
        "commit_date": _date(env.get("CI_COMMIT_TIMESTAMP", "")),
    }
    if env.get("CI_COMMIT_TAG"):
        return Source("tag", tag=env["CI_COMMIT_TAG"], **common)
    if env.get("CI_MERGE_REQUEST_IID"):
        base = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "")
        return Source("pr", pr=env["CI_MERGE_REQUEST_IID"], base_ref=base, **common)
    branch = env.get("CI_COMMIT_BRANCH") or env.get("CI_COMMIT_REF_NAME", "")
    if env.get("CI_PIPELINE_SOURCE") == "schedule":
        return Source("schedule", branch=branch, on_default=True, **common)
    return Source("branch", branch=branch, **common)


def git(context: Path) -> Source:
    from gitops_actions.git import Repo

    repo = Repo(context)
    try:
        sha, _, date = repo.git("log", "-1", "--format=%H %cI").stdout.strip().partition(" ")
    except ExternalError:
        raise UsageError(
            "no CI variables and the context is not a git checkout: give --tags"
        ) from None
    tag = repo.git("describe", "--exact-match", "--tags", "HEAD", check=False).stdout.strip()
    head = repo.git("symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD", check=False)
    default = head.stdout.strip().removeprefix("origin/") or "main"
    common: dict[str, Any] = {"sha": sha, "default_branch": default, "commit_date": _date(date)}
    if tag:
        return Source("tag", tag=tag, **common)
    branch = repo.git("symbolic-ref", "--short", "-q", "HEAD", check=False).stdout.strip()
    return Source("branch", branch=branch, **common)


def source(env: Mapping[str, str], context: Path) -> Source:
    """The event from GitHub Actions, GitLab CI, or (in a terminal) the git checkout."""
    length = env.get("DOCKER_METADATA_SHORT_SHA_LENGTH", "7").strip()
    if not length.isdigit() or int(length) < 1:
        raise UsageError(f"DOCKER_METADATA_SHORT_SHA_LENGTH={length}: expected a whole number")
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REF"):
        found = github(env)
    elif env.get("GITLAB_CI") == "true":
        found = gitlab(env)
    else:
        found = git(context)
    return dataclasses.replace(found, sha_length=int(length))
