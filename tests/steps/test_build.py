"""build against a real Docker engine and registry on loopback."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from gitops_actions.sandbox import DockerSandbox

from support import base_env, run_cli

pytestmark = pytest.mark.component

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


def registry_digest(registry: str, repository: str, tag: str) -> str:
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{tag}",
        headers={"Accept": MANIFEST_TYPES},
        method="HEAD",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def app_context(tmp_path: Path, text: str) -> Path:
    context = tmp_path / "app"
    context.mkdir()
    (context / "hello.txt").write_text(text)
    (context / "Dockerfile").write_text(
        "FROM scratch\nARG GREETING\nCOPY hello.txt /\nLABEL greeting=$GREETING\n"
    )
    return context


def test_build_push_outputs_registry_digest(docker_sandbox: DockerSandbox, tmp_path: Path) -> None:
    context = app_context(tmp_path, "hello build\n")
    output = tmp_path / "github-output"
    env = base_env(
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(output),
        GITHUB_SHA="0123456789abcdef0123",
        GITHUB_REPOSITORY="acme/shop",
    )
    image = f"{docker_sandbox.registry}/acme/shop"
    proc = run_cli(
        "build",
        "--image",
        image,
        "--context",
        str(context),
        "--tag",
        "1.2.3",
        "--tag",
        "latest",
        "--build-arg",
        "GREETING=hi",
        "--docker-host",
        docker_sandbox.docker_host,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    digest = registry_digest(docker_sandbox.registry, "acme/shop", "1.2.3")
    assert registry_digest(docker_sandbox.registry, "acme/shop", "latest") == digest
    text = output.read_text()
    delimiter = re.search(r"^tags<<(ghadelimiter_\w+)$", text, re.MULTILINE)
    assert delimiter, text
    d = delimiter.group(1)
    assert text == (
        f"image={image}\ntag=1.2.3\ntags<<{d}\n1.2.3\nlatest\n{d}\ndigest={digest}\n"
        f"ref={image}:1.2.3@{digest}\n" + re.search(r"image-id=sha256:\w+\n", text).group(0)
    )
    assert "::group::docker build" in proc.stdout

    import docker

    client = docker.DockerClient(base_url=docker_sandbox.docker_host)
    labels = client.images.get(f"{image}:1.2.3").labels
    assert labels["greeting"] == "hi"
    assert labels["org.opencontainers.image.revision"] == "0123456789abcdef0123"
    assert labels["org.opencontainers.image.source"] == "https://github.com/acme/shop"


def test_failed_build_exits_1(docker_sandbox: DockerSandbox, tmp_path: Path) -> None:
    context = app_context(tmp_path, "x")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY missing.txt /\n")
    proc = run_cli(
        "build",
        "--image",
        f"{docker_sandbox.registry}/acme/broken",
        "--context",
        str(context),
        "--tag",
        "1",
        "--docker-host",
        docker_sandbox.docker_host,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "build of" in proc.stdout and "failed" in proc.stdout


def test_unreachable_engine_exits_3(tmp_path: Path) -> None:
    context = app_context(tmp_path, "x")
    proc = run_cli(
        "build",
        "--image",
        "127.0.0.1:1/acme/x",
        "--context",
        str(context),
        "--tag",
        "1",
        "--docker-host",
        f"unix://{tmp_path}/nothing.sock",
    )
    assert proc.returncode == 3
    assert proc.stderr.startswith("gitops-actions build: error: cannot reach the Docker engine")


def test_registry_unreachable_exits_3(docker_sandbox: DockerSandbox, tmp_path: Path) -> None:
    context = app_context(tmp_path, "x")
    proc = run_cli(
        "build",
        "--image",
        "127.0.0.1:9/acme/x",
        "--context",
        str(context),
        "--tag",
        "1",
        "--retries",
        "2",
        "--docker-host",
        docker_sandbox.docker_host,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "failed after 2 attempts" in proc.stderr
    assert json.dumps  # registry errors surface as one line
