"""Mirrors: the token goes to the base repository's remote only, through the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_actions.errors import ExternalError
from gitops_actions.serve.events import Job
from gitops_actions.serve.mirror import Mirrors

from servebot import TOKEN, ConfigRepo, git_server


def job(repo: ConfigRepo, head: str, *, fork: bool) -> Job:
    return Job(
        "github", "acme/config", 1, "opened", head_sha=head, head_ref="feature",
        head_url=repo.url, base_ref="main", base_url=repo.url, fork=fork,
    )  # fmt: skip


def test_fork_head_is_fetched_without_the_token(tmp_path: Path) -> None:
    with git_server(tmp_path / "git", "x-access-token", TOKEN) as server:
        repo = ConfigRepo(server, tmp_path / "work")
        (head,) = repo.branch("feature", {"web": 2})
        mirrors = Mirrors(tmp_path / "mirrors", "github", TOKEN, dict(os.environ))
        mirror, base = mirrors.fetch(job(repo, head, fork=False))
        assert mirror.head_sha(head) == head and base == mirror.head_sha("refs/serve/1/base")
        with pytest.raises(ExternalError) as refused:
            mirrors.fetch(job(repo, head, fork=True))
        assert (
            "401" in str(refused.value)
            or "Authentication" in str(refused.value)
            or ("could not read Username" in str(refused.value))
        ), "the fork's head went to a remote that wants the token, and got none"
        config = (mirror.path / "config").read_text()
        assert TOKEN not in config and repo.url not in config
