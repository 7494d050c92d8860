"""Runs of a real ``serve`` process: real git remotes over smart HTTP on loopback, the
loopback GitHub and GitLab APIs through PyGithub and python-gitlab."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_actions import git
from gitops_actions.sandbox import GitHttpServer

from fakes.github_api import GitHubApi
from fakes.gitlab_api import GitLabApi
from servebot import Bot, github_pull, gitlab_merge_request
from support import need

TOKEN = "ghp_" + secrets.token_hex(16)
PR = "github:acme/config#1"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0.0
"""


def git_server(root: Path, username: str, token: str) -> GitHttpServer:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout
    if not (Path(exec_path.strip()) / "git-http-backend").exists():
        need("git-http-backend is not installed")
    return GitHttpServer(root, username, token)


class ConfigRepo:
    """``acme/config.git`` on the git server, and a work tree to push branches from."""

    def __init__(self, server: GitHttpServer, work: Path, name: str = "acme/config.git") -> None:
        self.server, self.url = server, server.repo_url(name)
        git.init(server.root / name, bare=True)
        self.work = git.init(work)
        self.write(web=1, other=1)
        self.work.push(str(server.root / name), "main")
        self.bare = str(server.root / name)

    def write(self, **replicas: int) -> None:
        for app, count in replicas.items():
            path = self.work.path / "apps" / app / "deployment.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(DEPLOYMENT.format(replicas=count).replace("web", app))
        self.work.add()
        self.work.commit(f"replicas {replicas}")

    def branch(self, name: str, *changes: dict[str, int]) -> list[str]:
        """Commits on a new branch ``name`` from main, one per change, pushed at the end."""
        self.work.git("checkout", "-q", "-B", name, "main")
        heads = []
        for change in changes:
            self.write(**change)
            heads.append(self.work.head_sha())
        self.work.push(self.bare, f"+{name}:{name}")
        self.work.git("checkout", "-q", "main")
        return heads


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[GitHubApi, ConfigRepo]]:
    with git_server(tmp_path / "git", "x-access-token", TOKEN) as server, GitHubApi(TOKEN) as api:
        repo = ConfigRepo(server, tmp_path / "work")
        api.add_repo("acme/config", clone_url=repo.url)
        yield api, repo


def intervals(bot: Bot, pr: str) -> list[tuple[float, float, str]]:
    """(started, finished, head) of every run of ``pr``, from the run log."""
    starts = {r["seq"]: r for r in bot.log() if r.get("msg") == "run started" and r["pr"] == pr}
    ends = {r["seq"]: r for r in bot.log() if r.get("msg") == "run finished" and r["pr"] == pr}
    return sorted((starts[s]["ts"], ends[s]["ts"], ends[s]["head"]) for s in ends)


def finished(bot: Bot, pr: str, head: str, outcome: str = "success") -> Any:
    return bot.wait_for(
        lambda r: r.get("msg") == "run finished" and r.get("pr") == pr and r.get("head") == head
        and r.get("outcome") == outcome, timeout=120,
    )  # fmt: skip


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
    for (_, end, _), (start, _, _) in zip(runs, runs[1:], strict=False):
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
