"""Hostile remotes and repository states for the writer (bump, promote and rollback share it).

A remote that accepts the connection and never answers, at the clone and at the push, ends
at ``--timeout`` with one line, exit 3, and the clone left as it was.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_actions import git
from hostile import judge, run

from support import config_remote

LOOPBACK = "127.0.0.1"


@pytest.fixture
def silent_remote() -> Iterator[str]:
    """An HTTP "git server" that accepts every connection and never says a word."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{listener.getsockname()[1]}/config.git"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_a_silent_remote_ends_at_the_timeout_when_cloning(
    tmp_path: Path, silent_remote: str
) -> None:
    result = run(
        "bump", "--repo", silent_remote, "--image", "r.test/a:1.1.0", "--timeout", "3",
        cwd=tmp_path, seconds=25,
    )  # fmt: skip
    judge(result, codes=(3,))
    assert result.seconds < 15, result.seconds
    assert "git clone did not finish within" in result.stderr


def test_a_silent_remote_ends_at_the_timeout_when_pushing(
    tmp_path: Path, silent_remote: str
) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    clone = git.clone(str(remote), tmp_path / "clone")
    start = clone.head_sha()
    clone.git("remote", "set-url", "origin", silent_remote)
    result = run(
        "bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0", "--timeout", "3",
        cwd=tmp_path, seconds=25,
    )  # fmt: skip
    judge(result, codes=(3,), writes=True)  # the file is put back as it was
    assert result.seconds < 15, result.seconds
    assert "git push did not finish within" in result.stderr
    assert clone.head_sha() == start and not clone.is_dirty()
    assert (clone.path / "a.yaml").read_text() == "image: r.test/a:1.0.0\n"


def test_a_hook_refusing_the_push_is_reported_and_not_retried(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    calls = tmp_path / "hook-calls"
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        f"#!/bin/sh\necho x >> {calls}\necho 'policy: no bumps on Fridays' >&2\nexit 1\n"
    )
    hook.chmod(0o755)
    result = run("bump", "--repo", str(remote), "--image", "r.test/a:1.1.0", cwd=tmp_path)
    judge(result, codes=(3,), writes=True)  # the hook's own log of calls
    assert "policy: no bumps on Fridays" in result.stderr
    assert "pre-receive hook declined" in result.stderr
    assert calls.read_text().count("x") == 1  # refused once, not retried as a moved branch


def test_an_error_line_does_not_dump_the_command(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    clone = git.clone(str(remote), tmp_path / "clone")
    clone.git("remote", "set-url", "origin", str(tmp_path / "gone.git"))
    result = run("bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0", cwd=tmp_path)
    judge(result, codes=(3,), writes=True)
    assert "git push exited with" in result.stderr
    assert "--porcelain" not in result.stderr and "HEAD:refs/heads" not in result.stderr
    debug = run(
        "bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0", "--debug", cwd=tmp_path
    )
    assert "command: git push --porcelain origin HEAD:refs/heads/main" in debug.stderr


@pytest.mark.parametrize("kind", ["remote", "clone"])
def test_a_repository_without_commits_says_so(tmp_path: Path, kind: str) -> None:
    empty = git.init(tmp_path / "empty", bare=kind == "remote")
    result = run("bump", "--repo", str(empty.path), "--image", "r.test/a:1.1.0", cwd=tmp_path)
    judge(result, codes=(2,))
    assert "has no commits yet" in result.stderr
