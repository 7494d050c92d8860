"""Helpers shared by the tests: the CLI as users run it, the CI-or-skip rule, and what a
loopback registry serves, read over its HTTP API."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import pytest

IN_CI = os.environ.get("CI") == "true"
BASE_IMAGE = "localhost/busybox-base"  # busybox-static as a base image, built locally


GITHUB_PROJECT = "acme/config"  # the config repo the loopback GitHub API serves


class NetworkBlocked(AssertionError):
    """A test tried to reach beyond loopback."""


def need(reason: str) -> NoReturn:
    """A real component is missing: fail in CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"required component unavailable in CI: {reason}")
    pytest.skip(reason)


REGISTRY_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def fetch(registry: str, path: str, method: str = "GET") -> tuple[dict[str, str], bytes]:
    """A loopback registry's answer over its HTTP API v2, every manifest type accepted."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{path}", headers={"Accept": REGISTRY_ACCEPT}, method=method
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(response.headers), response.read()


def served_digest(registry: str, repository: str, tag: str) -> str:
    """The digest the registry serves for a tag."""
    headers, _ = fetch(registry, f"{repository}/manifests/{tag}", "HEAD")
    return headers["Docker-Content-Digest"]


def manifest(registry: str, repository: str, ref: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fetch(registry, f"{repository}/manifests/{ref}")[1])
    return loaded


def image_config(registry: str, repository: str, ref: str) -> dict[str, Any]:
    config = manifest(registry, repository, ref)["config"]["digest"]
    loaded: dict[str, Any] = json.loads(fetch(registry, f"{repository}/blobs/{config}")[1])
    return loaded


def layer_files(registry: str, repository: str, ref: str) -> dict[str, bytes]:
    """Every regular file in every layer of the image: path -> content (later layers win)."""
    files: dict[str, bytes] = {}
    for layer in manifest(registry, repository, ref)["layers"]:
        blob = fetch(registry, f"{repository}/blobs/{layer['digest']}")[1]
        if blob[:2] == b"\x1f\x8b":
            blob = gzip.decompress(blob)
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    extracted = tar.extractfile(member)
                    files[member.name.lstrip("./")] = extracted.read() if extracted else b""
    return files


def base_env(**extra: str) -> dict[str, str]:
    """A clean environment: no CI variables, no GITOPS_* leaking in from the caller."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return env | extra


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: int = 300,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``gitops-actions ARGS`` in a subprocess, as a pipeline would."""
    return subprocess.run(
        [sys.executable, "-m", "gitops_actions", *args],
        env=dict(base_env() if env is None else env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def config_remote(tmp_path: Path, files: dict[str, str], name: str = "config.git") -> Path:
    """A bare remote whose ``main`` holds one commit with ``files``."""
    from gitops_actions import git

    remote = tmp_path / name
    git.init(remote, bare=True)
    seed = git.init(tmp_path / f"seed-{name}")
    for rel, text in files.items():
        (seed.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed.path / rel).write_text(text)
    seed.add()
    seed.commit("initial")
    seed.push(str(remote), "main")
    return remote


def show(remote: Path, rel: str, ref: str = "main") -> str:
    """A file's text at ``ref`` of a (bare) repository."""
    from gitops_actions import git

    return git.Repo(remote).git("show", f"{ref}:{rel}").stdout


@contextlib.contextmanager
def process_table() -> Iterator[list[str]]:
    """Snapshots of every process's arguments (``ps``), taken while the block runs."""
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(
                subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            )
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()


class hung_server:
    """A TCP server on loopback that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        self.stop = threading.Event()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                continue

    def __enter__(self) -> str:
        threading.Thread(target=self._accept, daemon=True).start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def helm_charts_tree(root: Path) -> None:
    """An Argo CD-style layout: a base inflating a chart with kustomize's ``helmCharts``,
    an overlay over it, and a plain kustomization beside them."""
    files = {
        "apps/base/dashboard/kustomization.yaml": (
            "resources: [namespace.yaml]\n"
            "helmCharts:\n"
            "  - name: dashboard\n"
            "    repo: https://charts.example.test\n"
            "    version: 1.2.0\n"
            "    releaseName: dashboard\n"
            "    valuesFile: values.yaml\n"
        ),
        "apps/base/dashboard/namespace.yaml": (
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: dashboard}\n"
        ),
        "apps/base/dashboard/values.yaml": "replicas: 2\n",
        "apps/dev/dashboard/kustomization.yaml": "resources: [../../base/dashboard]\n",
        "apps/dev/web/kustomization.yaml": "resources: [service.yaml]\n",
        "apps/dev/web/service.yaml": (
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n"
        ),
    }
    write_tree(root, files)


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (path under ``root`` -> text), making folders as needed."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
