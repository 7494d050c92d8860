"""Which deliveries ask for a run, close a pull request, or ask for nothing."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_actions.serve import events, verify
from gitops_actions.serve.events import BadPayload, Job

from servebot import github_pull, gitlab_merge_request

SHA = "e" * 40


@pytest.mark.parametrize("action", ["opened", "reopened", "synchronize", "ready_for_review"])
def test_github_pull_request_actions_run(action: str) -> None:
    event = events.parse(
        "github", "pull_request", github_pull("acme/c", 7, SHA, action=action), "d"
    )
    assert event.job is not None
    assert (event.job.key, event.job.head_sha, event.job.reason) == ("github:acme/c#7", SHA, action)
    assert not event.job.fork


def test_github_edited_runs_only_when_the_base_changed() -> None:
    payload = github_pull("acme/c", 7, SHA, action="edited")
    assert events.parse("github", "pull_request", payload, "d").job is None
    payload["changes"] = {"base": {"ref": {"from": "release"}}}
    assert events.parse("github", "pull_request", payload, "d").job is not None


def test_github_closed_cancels_and_other_actions_are_ignored() -> None:
    closed = events.parse(
        "github", "pull_request", github_pull("acme/c", 7, SHA, action="closed"), ""
    )
    assert closed.close is not None and closed.close.key == "github:acme/c#7"
    labeled = events.parse(
        "github", "pull_request", github_pull("acme/c", 7, SHA, action="labeled"), ""
    )
    assert labeled.job is None and labeled.close is None and labeled.ignored


def test_github_fork_is_marked() -> None:
    payload = github_pull("acme/c", 7, SHA, head_repo="mallory/c", head_url="http://127.0.0.1:9/m")
    job = events.parse("github", "pull_request", payload, "d").job
    assert job is not None and job.fork and job.head_url == "http://127.0.0.1:9/m"


def comment(body: str, *, bot: bool = False, on_pull: bool = True) -> dict[str, Any]:
    issue: dict[str, Any] = {"number": 5}
    if on_pull:
        issue["pull_request"] = {"url": "x"}
    return {
        "action": "created",
        "issue": issue,
        "comment": {"body": body, "user": {"login": "u", "type": "Bot" if bot else "User"}},
        "repository": {"full_name": "acme/c"},
    }


def test_github_comment_command() -> None:
    job = events.parse("github", "issue_comment", comment("/gitops diff\nplease"), "d").job
    assert job is not None and job.reason == "/gitops diff" and job.head_sha == ""
    for ignored in (comment("looks good /gitops diff"), comment("/gitops diff", bot=True),
                    comment("/gitops diff", on_pull=False), comment("/gitops diffx")):  # fmt: skip
        assert events.parse("github", "issue_comment", ignored, "d").job is None


def test_gitlab_merge_request_actions() -> None:
    for action in ("open", "reopen", "update"):
        payload = gitlab_merge_request("g/c", 3, SHA, action=action)
        job = events.parse("gitlab", "Merge Request Hook", payload, "d").job
        assert job is not None and job.key == "gitlab:g/c#3"
    for action in ("close", "merge"):
        payload = gitlab_merge_request("g/c", 3, SHA, action=action)
        assert events.parse("gitlab", "Merge Request Hook", payload, "d").close is not None
    approved = gitlab_merge_request("g/c", 3, SHA, action="approved")
    assert events.parse("gitlab", "Merge Request Hook", approved, "d").job is None


def test_gitlab_note_command() -> None:
    request = gitlab_merge_request("g/c", 3, SHA)["object_attributes"]
    payload = {
        "object_kind": "note",
        "project": {"path_with_namespace": "g/c"},
        "user": {"username": "dev"},
        "object_attributes": {"note": "/gitops diff", "noteable_type": "MergeRequest"},
        "merge_request": request,
    }
    job = events.parse("gitlab", "Note Hook", payload, "d").job
    assert job is not None and job.head_sha == SHA and job.reason == "/gitops diff"
    payload["object_attributes"]["noteable_type"] = "Issue"
    assert events.parse("gitlab", "Note Hook", payload, "d").job is None


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"repository": {}},
        {"repository": {"full_name": "a/b"}, "number": "1", "action": "opened"},
    ],
)
def test_bad_payloads(payload: Any) -> None:
    with pytest.raises(BadPayload):
        events.parse("github", "pull_request", payload, "d")


def test_job_round_trips_and_allowlist() -> None:
    job = Job("github", "acme/c", 1, "opened", head_sha=SHA, seq=4)
    assert Job.from_json(job.to_json()) == job
    assert verify.allowed("Acme/Config", ("acme/*",))
    assert not verify.allowed("acme-evil/config", ("acme/*",))
    assert not verify.allowed("acme/config/../x", ("acme/config",))
