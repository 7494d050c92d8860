"""Git verbs against real remotes: bare repos and smart HTTP with basic auth."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitops_actions import git
from gitops_actions.errors import ExternalError
from gitops_actions.sandbox import GitHttpServer

from support import process_table

pytestmark = pytest.mark.component


def test_clone_commit_push(bare_remote: Path, tmp_path: Path) -> None:
    repo = git.clone(str(bare_remote), tmp_path / "work", depth=1)
    (repo.path / "app.yaml").write_text("image: app:1\n")
    repo.add()
    sha = repo.commit("bump app to 1\n\nSource-Commit: abc")
    repo.push("origin", "HEAD:main")
    remote = git.Repo(bare_remote)
    assert remote.head_sha("main") == sha
    log = remote.git("log", "-1", "--format=%an <%ae>%n%cn%n%B", "main").stdout
    assert log.startswith(f"{git.BOT.name} <{git.BOT.email}>\n{git.BOT.name}\nbump app to 1")
    assert git.remote_default_branch(str(bare_remote)) == "main"


def test_inherited_git_variables_are_ignored(bare_remote: Path, tmp_path: Path) -> None:
    hostile = {"PATH": "/usr/bin:/bin", "GIT_DIR": "/nonexistent", "GIT_AUTHOR_NAME": "mallory"}
    repo = git.clone(str(bare_remote), tmp_path / "w", env=hostile)
    (repo.path / "f").write_text("x")
    repo.add()
    repo.commit("x")
    assert repo.git("log", "-1", "--format=%an").stdout.strip() == git.BOT.name


def test_push_rejected_when_remote_moved_on(bare_remote: Path, tmp_path: Path) -> None:
    first = git.clone(str(bare_remote), tmp_path / "a")
    second = git.clone(str(bare_remote), tmp_path / "b")
    for repo, name in ((first, "one"), (second, "two")):
        (repo.path / name).write_text(name)
        repo.add()
        repo.commit(name)
    first.push("origin", "HEAD:main")
    with pytest.raises(git.PushRejected) as info:
        second.push("origin", "HEAD:main")
    assert info.value.transient
    tip = second.fetch("origin", "main")
    assert tip == first.head_sha()


def _http_repo(server: GitHttpServer, bare_remote: Path, name: str) -> str:
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(bare_remote), str(server.root / name)], check=True
    )
    return server.repo_url(name)


def test_http_auth_required(git_http: GitHttpServer, bare_remote: Path, tmp_path: Path) -> None:
    url = _http_repo(git_http, bare_remote, "auth-required.git")
    with pytest.raises(ExternalError) as info:
        git.clone(url, tmp_path / "anon")
    assert (
        "401" in str(info.value)
        or "Authentication failed" in str(info.value)
        or "could not read Username" in str(info.value)
    )
    wrong = git.Auth(token="not-the-token")
    with pytest.raises(ExternalError):
        git.clone(url, tmp_path / "wrong", auth=wrong)


def test_http_token_never_leaks(git_http: GitHttpServer, bare_remote: Path, tmp_path: Path) -> None:
    url = _http_repo(git_http, bare_remote, "no-leak.git")
    token = git_http.password
    auth = git.Auth(token=token, username=git_http.username)
    repo = git.clone(url, tmp_path / "w", auth=auth)
    (repo.path / "new.yaml").write_text("a: 1\n")
    repo.add()
    sha = repo.commit("change")

    git_http.delay = 0.4
    try:
        with process_table() as seen:
            repo.push("origin", "HEAD:main")
    finally:
        git_http.delay = 0.0
    assert git.Repo(git_http.root / "no-leak.git").head_sha("main") == sha
    assert any("git" in snapshot and "push" in snapshot for snapshot in seen)
    assert not any(token in snapshot for snapshot in seen)
    assert token not in (repo.path / ".git" / "config").read_text()
    assert "http://" in (repo.path / ".git" / "config").read_text()
    assert "@" not in (repo.path / ".git" / "config").read_text()


def test_ssh_deploy_key_travels_in_the_environment() -> None:
    env = git.git_env(
        {"PATH": "/bin", "GIT_SSH_COMMAND": "evil"},
        auth=git.Auth(ssh_key="/run/secrets/deploy key"),
    )
    assert env["GIT_SSH_COMMAND"] == (
        "ssh -i '/run/secrets/deploy key' -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new"
    )
    assert "GIT_CONFIG_COUNT" not in env  # no HTTP header without a token


def test_token_becomes_a_basic_auth_header_in_the_environment() -> None:
    env = git.git_env({"PATH": "/bin"}, auth=git.Auth(token="tok-123456", username="bot"))
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"] == "Authorization: Basic Ym90OnRvay0xMjM0NTY="
