"""Runs of a real ``serve`` process: real git remotes over smart HTTP on loopback, the
loopback GitHub and GitLab APIs through PyGithub and python-gitlab."""

from __future__ import annotations

import itertools
import secrets
from pathlib import Path
from typing import Any

from fakes.github_api import GitHubApi
from fakes.gitlab_api import GitLabApi
from servebot import (
    DEPLOYMENT,
    TOKEN,
    Bot,
    ConfigRepo,
    finished,
    git_server,
    github_pull,
    gitlab_merge_request,
    intervals,
)

PR = "github:acme/config#1"


def test_five_synchronize_deliveries_give_one_comment_for_the_last_head(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path
) -> None:
    api, repo = github
    heads = repo.branch("feature", *({"web": n} for n in range(2, 7)))
    number = api.add_pull("acme/config", "feature")
    api.set_head("acme/config", number, heads[-1])
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN,
              extra=["--workers", "3"])  # fmt: skip
    try:
        repo.server.delay = 0.15  # each git request takes a while: later heads arrive mid-run
        for head in heads:
            reply = bot.post(
                "pull_request", github_pull("acme/config", number, head, clone_url=repo.url)
            )
            assert reply.status_code == 202
        finished(bot, PR, heads[-1])
        runs = intervals(bot, PR)
    finally:
        repo.server.delay = 0.0
        bot.stop()
    for (_, end, _), (start, _, _) in itertools.pairwise(runs):
        assert start >= end, f"two runs of one pull request overlapped: {runs}"
    assert runs[-1][2] == heads[-1]
    assert len(runs) < len(heads), "queued heads were replaced by newer ones"
    comments = api.comments_on("acme/config", number)
    assert len(comments) == 1
    body = comments[0]["body"]
    assert f"head={heads[-1]}" in body.replace(" ", "") or heads[-1] in body
    assert "apps/web" in body and "replicas" in body
    assert len(api.requests("POST", f"/issues/{number}/comments")) == 1
    statuses = [s for s in api.statuses if s["sha"] == heads[-1]]
    assert [(s["state"], s["context"]) for s in statuses] == [("success", "gitops-actions/diff")]
    assert not [s for s in api.statuses if s["sha"] != heads[-1] and s["state"] == "success"]


def test_two_pull_requests_run_in_parallel(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path
) -> None:
    api, repo = github
    (head_a,) = repo.branch("feature-a", {"web": 3})
    (head_b,) = repo.branch("feature-b", {"other": 4})
    first = api.add_pull("acme/config", "feature-a")
    second = api.add_pull("acme/config", "feature-b")
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN,
              extra=["--workers", "2"])  # fmt: skip
    try:
        repo.server.delay = 0.3
        for number, head, ref in ((first, head_a, "feature-a"), (second, head_b, "feature-b")):
            payload = github_pull("acme/config", number, head, head_ref=ref, clone_url=repo.url)
            assert bot.post("pull_request", payload).status_code == 202
        finished(bot, f"github:acme/config#{first}", head_a)
        finished(bot, f"github:acme/config#{second}", head_b)
        (a_start, a_end, _), = intervals(bot, f"github:acme/config#{first}")  # fmt: skip
        (b_start, b_end, _), = intervals(bot, f"github:acme/config#{second}")  # fmt: skip
    finally:
        repo.server.delay = 0.0
        bot.stop()
    assert a_start < b_end and b_start < a_end, "the two runs did not overlap"
    assert "apps/web" in api.comments_on("acme/config", first)[0]["body"]
    assert "apps/other" in api.comments_on("acme/config", second)[0]["body"]


def test_comment_command_reruns_and_token_stays_out_of_git_and_logs(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path
) -> None:
    api, repo = github
    (head,) = repo.branch("feature", {"web": 9})
    number = api.add_pull("acme/config", "feature")
    api.set_head("acme/config", number, head)
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN)
    command = {
        "action": "created",
        "issue": {"number": number, "pull_request": {"url": "x"}},
        "comment": {"body": "/gitops diff", "user": {"login": "dev", "type": "User"}},
        "repository": {"full_name": "acme/config"},
    }
    try:
        assert bot.post("issue_comment", command).json()["verdict"] == "queued"
        finished(bot, PR, head)
    finally:
        bot.stop()
    assert "replicas" in api.comments_on("acme/config", number)[0]["body"]
    configs = list((tmp_path / "state" / "mirrors").glob("*.git/config"))
    assert configs and all(TOKEN not in c.read_text() for c in configs)
    assert all("@" not in c.read_text() for c in configs)
    assert TOKEN not in bot.text()


def test_bad_manifest_in_the_head_fails_the_status_with_a_comment(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path
) -> None:
    api, repo = github
    repo.work.git("checkout", "-q", "-B", "broken", "main")
    bad = repo.work.path / "apps" / "web" / "deployment.yaml"
    bad.write_text(DEPLOYMENT.format(replicas='"three"'))
    repo.work.add()
    head = repo.work.commit("replicas as text")
    repo.work.push(repo.bare, "+broken:broken")
    number = api.add_pull("acme/config", "broken")
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN)
    try:
        payload = github_pull("acme/config", number, head, head_ref="broken", clone_url=repo.url)
        bot.post("pull_request", payload)
        finished(bot, PR, head, outcome="failure")
    finally:
        bot.stop()
    body = api.comments_on("acme/config", number)[0]["body"]
    assert "Validation of the head" in body and "apps/web/deployment.yaml" in body
    assert [s["state"] for s in api.statuses] == ["failure"]


def test_gitlab_merge_request_gets_a_note_and_a_status(tmp_path: Path) -> None:
    token = "glpat-" + secrets.token_hex(10)
    with git_server(tmp_path / "git", "oauth2", token) as server, GitLabApi(token) as api:
        repo = ConfigRepo(server, tmp_path / "work")
        (head,) = repo.branch("feature", {"web": 5})
        api.add_project("acme/config")
        iid = api.add_mr("acme/config", "feature")
        bot = Bot("gitlab", tmp_path / "state", forge_url=api.url, token=token)
        try:
            payload = gitlab_merge_request("acme/config", iid, head, clone_url=repo.url)
            assert bot.post("Merge Request Hook", payload).status_code == 202
            finished(bot, f"gitlab:acme/config#{iid}", head)
        finally:
            bot.stop()
        notes = api.notes_on("acme/config", iid)
        assert len(notes) == 1 and "replicas" in notes[0]["body"]
        assert [(s["status"], s["name"], s["sha"]) for s in api.statuses] == [
            ("success", "gitops-actions/diff", head)
        ]


def gitlab_note(project: str, iid: int, head: str, clone_url: str, note: str) -> dict[str, Any]:
    """A ``Note Hook`` delivery on a merge request, with the fields GitLab sends."""
    mr = gitlab_merge_request(project, iid, head, clone_url=clone_url)["object_attributes"]
    return {
        "object_kind": "note",
        "user": {"username": "dev", "bot": False},
        "project": {"path_with_namespace": project, "git_http_url": clone_url},
        "object_attributes": {"noteable_type": "MergeRequest", "note": note},
        "merge_request": {k: v for k, v in mr.items() if k not in ("action", "oldrev")},
    }


def test_gitlab_note_command_reruns_the_merge_request(tmp_path: Path) -> None:
    token = "glpat-" + secrets.token_hex(10)
    with git_server(tmp_path / "git", "oauth2", token) as server, GitLabApi(token) as api:
        repo = ConfigRepo(server, tmp_path / "work")
        first, second = repo.branch("feature", {"web": 5}, {"web": 6})
        api.add_project("acme/config")
        iid = api.add_mr("acme/config", "feature")
        key = f"gitlab:acme/config#{iid}"
        bot = Bot("gitlab", tmp_path / "state", forge_url=api.url, token=token)
        try:
            said = gitlab_note("acme/config", iid, first, repo.url, "/gitops diff\nplease")
            assert bot.post("Note Hook", said).json()["verdict"] == "queued"
            finished(bot, key, first)
            notes = api.notes_on("acme/config", iid)
            assert len(notes) == 1 and "replicas" in notes[0]["body"] and first in notes[0]["body"]
            chat = gitlab_note("acme/config", iid, second, repo.url, "looks fine to me")
            assert bot.post("Note Hook", chat).json()["verdict"] == "ignored"
            again = gitlab_note("acme/config", iid, second, repo.url, "/gitops diff")
            assert bot.post("Note Hook", again).json()["verdict"] == "queued"
            record = finished(bot, key, second)
        finally:
            bot.stop()
        (note,) = api.notes_on("acme/config", iid)  # the same note, edited for the new head
        assert note["id"] == notes[0]["id"] and second in note["body"]
        assert "6" in note["body"] and first not in note["body"]
        assert [(s["status"], s["name"], s["sha"]) for s in api.statuses] == [
            ("success", "gitops-actions/diff", first),
            ("success", "gitops-actions/diff", second),
        ]
        assert [r["reason"] for r in bot.log() if r.get("msg") == "delivery" and "reason" in r] == [
            "/gitops diff",
            "/gitops diff",
        ]
        assert len(bot.runs()) == 2
        assert set(record["phases"]) == {"fetch", "diff", "validate", "render", "comment", "status"}


def test_a_head_the_ref_does_not_hold_yet_is_fetched_again(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path
) -> None:
    api, repo = github
    earlier, head = repo.branch("feature", {"web": 2}, {"web": 3})
    # the forge sends the delivery before it moves the ref: the branch still holds `earlier`
    repo.work.git("--git-dir", repo.bare, "update-ref", "refs/heads/feature", earlier)
    number = api.add_pull("acme/config", "feature")
    api.set_head("acme/config", number, head)
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN)
    try:
        reply = bot.post(
            "pull_request", github_pull("acme/config", number, head, clone_url=repo.url)
        )
        assert reply.status_code == 202
        bot.wait_for(lambda r: r.get("msg") == "head not fetched yet, will fetch again")
        repo.work.git("--git-dir", repo.bare, "update-ref", "refs/heads/feature", head)
        finished(bot, PR, head)
    finally:
        bot.stop()
    assert not bot.runs("stale")
    (comment,) = api.comments_on("acme/config", number)
    assert head in comment["body"].replace(" ", "") and "replicas" in comment["body"]
