"""What the CI run says about the pull request: its number, head commit and run number.

GitHub Actions tells through ``GITHUB_EVENT_PATH`` (the event payload) and ``GITHUB_*``
variables; GitLab CI through ``CI_*`` variables. In a ``workflow_run`` job the payload
describes the run that triggered it, which is what a comment about that run's diff
needs; its ``pull_requests`` list is empty for pull requests from forks, so the fork-safe
workflow passes the number along with the diff.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any


def github_event(env: Mapping[str, str]) -> dict[str, Any]:
    """The event payload of a GitHub Actions run, or ``{}`` outside one."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _dig(data: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            data = data[key] if isinstance(data, list) and len(data) > key else None
        else:
            data = data.get(key) if isinstance(data, dict) else None
    return data


def _number(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def pull_request_number(env: Mapping[str, str], event: Mapping[str, Any]) -> int | None:
    """The pull (merge) request this run belongs to, when the CI run says so."""
    issue = event.get("issue")
    candidates = (
        _dig(event, "pull_request", "number"),
        _dig(issue, "number") if _dig(issue, "pull_request") else None,
        _dig(event, "workflow_run", "pull_requests", 0, "number"),
    )
    for value in candidates:
        if _number(value):
            return _number(value)
    ref = re.fullmatch(r"refs/pull/(\d+)/(?:merge|head)", env.get("GITHUB_REF", ""))
    return _number(ref.group(1) if ref else env.get("CI_MERGE_REQUEST_IID"))


def triggering_head(event: Mapping[str, Any]) -> str | None:
    """In a ``workflow_run`` job, the commit the triggering run was for, from GitHub itself."""
    value = _dig(event, "workflow_run", "head_sha")
    return value if isinstance(value, str) and value else None


def head_sha(env: Mapping[str, str], event: Mapping[str, Any]) -> str | None:
    """The pull request's head commit (not the merge commit GitHub checks out)."""
    for value in (
        _dig(event, "workflow_run", "head_sha"),
        _dig(event, "pull_request", "head", "sha"),
        env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"),
        env.get("CI_COMMIT_SHA"),
        env.get("GITHUB_SHA"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def run_number(env: Mapping[str, str], event: Mapping[str, Any]) -> int | None:
    """A number that grows with each run of the diff: it orders comments by recency."""
    for value in (
        _dig(event, "workflow_run", "run_number"),
        env.get("GITHUB_RUN_NUMBER"),
        env.get("CI_PIPELINE_IID"),
    ):
        if _number(value):
            return _number(value)
    return None


def project(env: Mapping[str, str]) -> str | None:
    return env.get("GITHUB_REPOSITORY") or env.get("CI_PROJECT_PATH") or None
