"""What a CI run says about its pull request: number, head commit, run number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops_actions.comment import cienv


def event_env(tmp_path: Path, payload: Any) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return {"GITHUB_EVENT_PATH": str(path)}


@pytest.mark.parametrize(
    ("payload", "env", "number"),
    [
        ({"pull_request": {"number": 12, "head": {"sha": "abc"}}}, {}, 12),
        ({"issue": {"number": 13, "pull_request": {"url": "x"}}}, {}, 13),
        ({"issue": {"number": 14}}, {}, None),  # a comment on an issue, not a pull request
        ({"workflow_run": {"pull_requests": [{"number": 15}]}}, {}, 15),
        ({"workflow_run": {"pull_requests": []}}, {}, None),  # from a fork: no number
        ({}, {"GITHUB_REF": "refs/pull/16/merge"}, 16),
        ({}, {"GITHUB_REF": "refs/heads/main"}, None),
        ({}, {"CI_MERGE_REQUEST_IID": "17"}, 17),
        ({}, {}, None),
    ],
)
def test_pull_request_number(
    payload: dict[str, Any], env: dict[str, str], number: int | None
) -> None:
    assert cienv.pull_request_number(env, payload) == number


def test_event_is_read_from_github_event_path(tmp_path: Path) -> None:
    env = event_env(tmp_path, {"pull_request": {"number": 3}})
    assert cienv.github_event(env) == {"pull_request": {"number": 3}}
    assert cienv.github_event({"GITHUB_EVENT_PATH": str(tmp_path / "missing.json")}) == {}
    (tmp_path / "bad.json").write_text("[1, 2")
    assert cienv.github_event({"GITHUB_EVENT_PATH": str(tmp_path / "bad.json")}) == {}


def test_workflow_run_head_and_number_come_from_the_triggering_run() -> None:
    event = {"workflow_run": {"head_sha": "abc123", "run_number": 41}}
    env = {"GITHUB_RUN_NUMBER": "7", "GITHUB_SHA": "main-sha"}

    assert cienv.triggering_head(event) == "abc123"
    assert cienv.head_sha(env, event) == "abc123"
    assert cienv.run_number(env, event) == 41


def test_head_and_run_number_elsewhere() -> None:
    pull = {"pull_request": {"head": {"sha": "head-sha"}}}
    assert cienv.head_sha({"GITHUB_SHA": "merge-sha"}, pull) == "head-sha"
    assert cienv.triggering_head(pull) is None
    gitlab = {"CI_COMMIT_SHA": "c1", "CI_PIPELINE_IID": "88"}
    assert (cienv.head_sha(gitlab, {}), cienv.run_number(gitlab, {})) == ("c1", 88)
    assert cienv.run_number({"GITHUB_RUN_NUMBER": "x"}, {}) is None
