"""Shared fixtures: a loopback-only network guard and real components on loopback.

With ``CI=true`` a component that cannot start fails the run instead of skipping.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_actions import git
from gitops_actions.sandbox import DockerSandbox, GitHttpServer, Unavailable
from gitops_actions.secrets import REDACTOR

from fakes.github_api import GitHubApi
from support import BASE_IMAGE, GITHUB_PROJECT, NetworkBlocked, need

ROOT = Path(__file__).resolve().parent.parent


# -- network guard ---------------------------------------------------------------------------
def _loopback(host: Any) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a non-loopback address (or resolve a name)."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise NetworkBlocked(f"test tried to reach {address!r}: loopback only")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host if not isinstance(host, bytes) else host.decode()):
            raise NetworkBlocked(f"test tried to resolve {host!r}: loopback only")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def fresh_redactor() -> Iterator[None]:
    REDACTOR.forget_all()
    yield
    REDACTOR.forget_all()


# -- git -------------------------------------------------------------------------------------
@pytest.fixture
def bare_remote(tmp_path: Path) -> Path:
    """A bare remote whose ``main`` holds one commit with ``README.md``."""
    remote = tmp_path / "remote.git"
    git.init(remote, bare=True)
    seed = git.init(tmp_path / "seed")
    (seed.path / "README.md").write_text("config\n")
    seed.add()
    seed.commit("initial")
    seed.push(str(remote), "main")
    return remote


@pytest.fixture(scope="session")
def git_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    """``git http-backend`` behind basic auth; ``server.password`` is the token."""
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout
    if not (Path(exec_path.strip()) / "git-http-backend").exists():
        need("git-http-backend is not installed")
    root = tmp_path_factory.mktemp("git-http")
    with GitHttpServer(root, "ci-bot", "tok_" + secrets.token_hex(12)) as server:
        yield server


# -- Docker engine and registry --------------------------------------------------------------
@pytest.fixture(scope="session")
def docker_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerSandbox]:
    sandbox = DockerSandbox(tmp_path_factory.mktemp("docker"))
    try:
        sandbox.start()
    except Unavailable as err:
        need(f"Docker engine and registry: {err}")
    try:
        yield sandbox
    finally:
        sandbox.stop()


# -- image builders ---------------------------------------------------------------------------


def _base_context(tmp: Path) -> Path:
    busybox = shutil.which("busybox")
    if busybox is None:
        need("busybox is not installed (apt-get install busybox-static)")
    context = tmp / "busybox-base"
    context.mkdir()
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    return context


@pytest.fixture(scope="session")
def docker_cli(
    docker_sandbox: DockerSandbox, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Environment for the Debian ``docker`` CLI (BuildKit built in) against the sandbox's
    engine, which holds the busybox base image."""
    tmp = tmp_path_factory.mktemp("docker-cli")
    if not Path("/usr/bin/docker").exists():
        need("the docker CLI is not installed (apt-get install docker.io)")
    (tmp / "bin").mkdir()
    (tmp / "bin" / "docker").symlink_to("/usr/bin/docker")
    env = {
        "PATH": f"{tmp / 'bin'}:{os.environ.get('PATH', '')}",
        "DOCKER_HOST": docker_sandbox.docker_host,
        "DOCKER_BUILDKIT": "1",
        "DOCKER_CONFIG": str(tmp / "config"),
    }
    proc = subprocess.run(
        ["docker", "build", "--network=host", "-t", BASE_IMAGE, str(_base_context(tmp))],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        need(f"docker build of the busybox base failed: {proc.stderr[-800:]}")
    return env


@pytest.fixture(scope="session")
def buildah_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A buildah storage directory (vfs) holding the busybox base image."""
    if shutil.which("buildah") is None:
        need("buildah is not installed (apt-get install buildah)")
    tmp = tmp_path_factory.mktemp("buildah")
    root = tmp / "root"
    proc = subprocess.run(
        [
            "buildah",
            "--storage-driver",
            "vfs",
            "--root",
            str(root / "storage"),
            "--runroot",
            str(root / "run"),
            "build",
            "--isolation",
            "chroot",
            "--network",
            "host",
            "-t",
            BASE_IMAGE,
            str(_base_context(tmp)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        need(f"buildah build of the busybox base failed: {proc.stderr[-800:]}")
    return str(root)


# -- forge APIs on loopback ------------------------------------------------------------------
@pytest.fixture
def github_token() -> str:
    return "ghp_" + secrets.token_hex(16)


@pytest.fixture
def github_api(github_token: str) -> Iterator[GitHubApi]:
    """A loopback GitHub API that knows ``acme/config`` and accepts ``github_token``."""
    with GitHubApi(github_token) as api:
        api.add_repo(GITHUB_PROJECT)
        yield api
