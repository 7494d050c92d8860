"""Mirrors: base and head come from the base repository, with the token through the
environment; a fork's head from the ref the forge keeps for it there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_actions.errors import ExternalError
from gitops_actions.serve.events import Job
from gitops_actions.serve.mirror import HeadMissing, Mirrors

from servebot import TOKEN, ConfigRepo, git_server

# a fork nobody but its owner may read: fetching it by its URL fails
PRIVATE_FORK = "mallory/config.git"


def job(repo: ConfigRepo, head: str, *, fork: bool, forge: str = "github", number: int = 1) -> Job:
    head_url = repo.server.repo_url(PRIVATE_FORK) if fork else repo.url
    return Job(
        forge, "acme/config", number, "opened", head_sha=head, head_ref="feature",
        head_url=head_url, base_ref="main", base_url=repo.url, fork=fork,
    )  # fmt: skip


def test_same_repository_head_is_its_branch(tmp_path: Path) -> None:
    with git_server(tmp_path / "git", "x-access-token", TOKEN) as server:
        repo = ConfigRepo(server, tmp_path / "work")
        (head,) = repo.branch("feature", {"web": 2})
        mirrors = Mirrors(tmp_path / "mirrors", "github", TOKEN, dict(os.environ))
        mirror, base = mirrors.fetch(job(repo, head, fork=False))
        assert mirror.head_sha("refs/serve/1/head") == head
        assert base == repo.work.head_sha("main") == mirror.head_sha("refs/serve/1/base")
        config = (mirror.path / "config").read_text()
        assert TOKEN not in config and repo.url not in config


@pytest.mark.parametrize(
    ("forge", "user", "ref"),
    [
        ("github", "x-access-token", "refs/pull/7/head"),
        ("gitlab", "oauth2", "refs/merge-requests/7/head"),
    ],
)
def test_fork_head_comes_from_the_base_repository(
    tmp_path: Path, forge: str, user: str, ref: str
) -> None:
    with git_server(tmp_path / "git", user, TOKEN) as server:
        repo = ConfigRepo(server, tmp_path / "work")
        (head,) = repo.fork(ref, {"web": 4})
        (other,) = repo.branch("feature", {"web": 9})  # a branch of the same name: not it
        mirrors = Mirrors(tmp_path / "mirrors", forge, TOKEN, dict(os.environ))
        mirror, base = mirrors.fetch(job(repo, head, fork=True, forge=forge, number=7))
        assert mirror.head_sha("refs/serve/7/head") == head != other
        assert base == repo.work.head_sha("main")
        assert not (server.root / PRIVATE_FORK).exists()
        config = (mirror.path / "config").read_text()
        assert TOKEN not in config and "@" not in config and repo.url not in config
        # a head the ref no longer holds (pushed over meanwhile): the run has gone stale
        repo.fork(ref, {"web": 5})
        with pytest.raises(HeadMissing):
            mirrors.fetch(job(repo, "0" * 40, fork=True, forge=forge, number=7))


def test_without_the_token_the_base_repository_refuses(tmp_path: Path) -> None:
    with git_server(tmp_path / "git", "x-access-token", TOKEN) as server:
        repo = ConfigRepo(server, tmp_path / "work")
        (head,) = repo.fork("refs/pull/1/head", {"web": 4})
        mirrors = Mirrors(tmp_path / "mirrors", "github", None, dict(os.environ))
        with pytest.raises(ExternalError, match=r"401|Authentication|could not read Username"):
            mirrors.fetch(job(repo, head, fork=True))
