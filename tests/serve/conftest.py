"""Fixtures of the serve tests: a config repo on a git smart-HTTP server, the GitHub API,
a real redis-server."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fakes.github_api import GitHubApi
from servebot import TOKEN, ConfigRepo, git_server
from support import need


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[GitHubApi, ConfigRepo]]:
    with git_server(tmp_path / "git", "x-access-token", TOKEN) as server, GitHubApi(TOKEN) as api:
        repo = ConfigRepo(server, tmp_path / "work")
        api.add_repo("acme/config", clone_url=repo.url)
        yield api, repo


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real ``redis-server`` on loopback, thrown away afterwards."""
    port = free_port()
    try:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    except FileNotFoundError:
        need("redis-server is not installed (Debian package redis-server)")
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None:
                    need(f"redis-server exited with {proc.returncode}")
                time.sleep(0.05)
        else:
            need("redis-server did not answer within 5s")
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
