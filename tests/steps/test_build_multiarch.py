"""build --builder docker with several platforms: each built in turn by the CLI's BuildKit,
pushed, and listed in one index put to every tag (a real engine and registry on loopback)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from test_build import context_dir

from gitops_actions.sandbox import DockerSandbox

from fakes.registry_proxy import RegistryProxy
from support import (
    base_env,
    fetch,
    image_config,
    layer_files,
    manifest,
    run_cli,
    served_digest,
)

pytestmark = pytest.mark.component

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SCRATCH = "FROM scratch\nARG TARGETARCH\nCOPY hello.txt /\nLABEL arch=$TARGETARCH\n"


def build(
    sandbox: DockerSandbox, env: dict[str, str], context: Path, *args: str, stdin: str = ""
) -> Any:
    return run_cli(
        "build",
        "--builder",
        "docker",
        "--docker-host",
        sandbox.docker_host,
        "--context",
        str(context),
        *args,
        env=base_env() | env,
        stdin=stdin,
    )


def tags_of(registry: str, repository: str) -> list[str]:
    """The tags the registry holds for ``repository`` (none when it holds nothing)."""
    try:
        listed: list[str] = json.loads(fetch(registry, f"{repository}/tags/list")[1])["tags"]
    except urllib.error.HTTPError as err:
        assert err.code == 404
        return []
    return sorted(listed or [])


def platforms_of(index: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]]


@pytest.mark.parametrize("tags", [("1.0",), ("2.0", "2", "latest")])
def test_two_platforms_make_an_index_on_every_tag(
    tags: tuple[str, ...], docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    registry = docker_sandbox.registry
    repository = f"acme/multi-{len(tags)}"
    context = context_dir(tmp_path, SCRATCH, **{"hello.txt": "hello\n"})
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    proc = build(
        docker_sandbox,
        docker_cli | {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)},
        context,
        "--image",
        f"{registry}/{repository}",
        "--tags",
        ",".join(tags),
        "--label",
        "team=shop",
        "--platform",
        "linux/amd64,linux/arm64",
        "--platform",
        "linux/amd64",  # once is enough
        "--summary-file",
        str(summary),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "One image index for linux/amd64, linux/arm64." in summary.read_text()
    text = output.read_text()
    digest = text.split("digest=", 1)[1].split("\n", 1)[0]
    assert "platforms=linux/amd64,linux/arm64\n" in text
    assert f"ref={registry}/{repository}:{tags[0]}@{digest}\n" in text
    for tag in tags:
        assert served_digest(registry, repository, tag) == digest
    assert tags_of(registry, repository) == sorted(tags)  # no tag of our own left behind
    headers, _ = fetch(registry, f"{repository}/manifests/{digest}")
    assert headers["Content-Type"] == DOCKER_LIST
    index = manifest(registry, repository, digest)
    assert platforms_of(index) == [("linux", "amd64"), ("linux", "arm64")]
    for entry in index["manifests"]:
        arch = entry["platform"]["architecture"]
        headers, body = fetch(registry, f"{repository}/manifests/{entry['digest']}")
        assert (headers["Content-Type"], len(body)) == (entry["mediaType"], entry["size"])
        config = image_config(registry, repository, entry["digest"])
        assert (config["os"], config["architecture"]) == ("linux", arch)
        labels = config["config"]["Labels"]
        assert labels["arch"] == arch and labels["team"] == "shop"
        assert labels["org.opencontainers.image.version"] == tags[0]


STAMP = """FROM scratch
COPY busybox /bin/busybox
ARG TARGETARCH
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox date +%s%N > /stamp; echo $TARGETARCH >> /stamp"]
"""


def test_each_platform_rebuilds_from_its_own_inline_cache(
    docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    """--cache-to puts inline cache into each platform's image; --cache-from the index
    gives each platform's build its own, with the engine's build cache gone."""
    registry, repository = docker_sandbox.registry, "acme/multi-cached"
    context = context_dir(tmp_path, STAMP)
    shutil.copy(shutil.which("busybox") or "/bin/busybox", context / "busybox")
    image = ["--image", f"{registry}/{repository}", "--platform", "linux/amd64,linux/arm64"]
    first = build(
        docker_sandbox, docker_cli, context, *image, "--tags", "1", "--cache-to", "type=inline"
    )
    assert first.returncode == 0, first.stdout + first.stderr
    built = re.findall(r"^push linux/\w+ \((sha256:\w+)\)", first.stdout, re.M)
    for cmd in (["rmi", "--force", *built], ["builder", "prune", "--all", "--force"]):
        subprocess.run(
            ["docker", *cmd], env=os.environ | docker_cli, check=True, capture_output=True
        )
    second = build(
        docker_sandbox,
        docker_cli,
        context,
        *image,
        "--tags",
        "2",
        "--cache-from",
        f"{registry}/{repository}:1",
    )
    assert second.returncode == 0, second.stdout + second.stderr
    stamps = {}
    for tag in ("1", "2"):
        for entry in manifest(registry, repository, tag)["manifests"]:
            files = layer_files(registry, repository, entry["digest"])
            stamps[tag, entry["platform"]["architecture"]] = files["stamp"]
    for arch in ("amd64", "arm64"):
        assert stamps["1", arch] == stamps["2", arch], second.stdout  # the RUN was cached
        assert stamps["1", arch].endswith(f"\n{arch}\n".encode())


def aarch64_executable() -> bytes:
    """The headers of an aarch64 ELF executable: an x86-64 kernel will not run it, as it
    would not run any arm64 binary without emulation."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, 0x400078, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    segment = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 0x84, 0x84, 0x1000)
    return ident + header + segment + bytes(12)


def test_a_platform_whose_run_fails_pushes_nothing(
    docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    """The arm64 binary cannot run here (no emulation): the engine's own error, exit 1, and
    the tag still holds what it held."""
    registry, repository = docker_sandbox.registry, "acme/multi-failing"
    context = context_dir(
        tmp_path,
        "FROM scratch\nARG TARGETARCH\nCOPY tool-$TARGETARCH /bin/busybox\n"
        'RUN ["/bin/busybox", "true"]\n',
    )
    shutil.copy(shutil.which("busybox") or "/bin/busybox", context / "tool-amd64")
    (context / "tool-arm64").write_bytes(aarch64_executable())
    os.chmod(context / "tool-arm64", 0o755)
    image = ["--image", f"{registry}/{repository}", "--tags", "1"]
    before = build(docker_sandbox, docker_cli, context, *image, "--platform", "linux/amd64")
    assert before.returncode == 0, before.stdout + before.stderr
    held = served_digest(registry, repository, "1")
    summary = tmp_path / "summary.md"
    proc = build(
        docker_sandbox,
        docker_cli,
        context,
        *image,
        "--platform",
        "linux/amd64,linux/arm64",
        "--summary-file",
        str(summary),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    message = proc.stdout[proc.stdout.index("failed (exit 1) for linux/arm64") :]
    assert "exec format error" in message and "exec format error" in summary.read_text()
    assert served_digest(registry, repository, "1") == held  # nothing was pushed
    assert tags_of(registry, repository) == ["1"]


def test_a_failed_index_push_says_what_each_tag_holds(
    docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    """Through the bearer-token flow; the index reaches the first tag, the second refuses."""
    context = context_dir(tmp_path, SCRATCH, **{"hello.txt": "partial\n"})
    with RegistryProxy(docker_sandbox.registry) as proxy:
        proxy.require("ci", "right-password-1234")
        proxy.fail(500, times=1, method="PUT", path="/manifests/a")  # retried
        proxy.fail(403, times=1, method="PUT", path="/manifests/b")  # not
        proc = build(
            docker_sandbox,
            docker_cli,
            context,
            "--image",
            f"{proxy.address}/acme/multi-partial",
            "--tags",
            "a,b",
            "--platform",
            "linux/amd64,linux/arm64",
            "--registry-user",
            "ci",
            "--registry-password-stdin",
            stdin="right-password-1234\n",
        )
        faults_served = proxy.failed
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "right-password-1234" not in proc.stdout + proc.stderr
    (line,) = proc.stderr.splitlines()
    first, second = (f"{proxy.address}/acme/multi-partial:{t}" for t in "ab")
    assert "HTTP 403" in line and f"the index is on {first}; not on {second}" in line
    assert faults_served == 2 and "attempt 2" in proc.stdout  # the 500 was tried again
    registry = docker_sandbox.registry
    index = manifest(registry, "acme/multi-partial", "a")
    assert platforms_of(index) == [("linux", "amd64"), ("linux", "arm64")]
    assert tags_of(registry, "acme/multi-partial") == ["a"]


def test_a_tag_that_held_an_image_gets_it_back_until_the_index_comes(
    docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    """A moving tag (main) held an image: each platform's image pushed to it is replaced at
    once by what it held, and a failure before the index leaves it so."""
    registry, repository = docker_sandbox.registry, "acme/multi-restored"
    context = context_dir(tmp_path, SCRATCH, **{"hello.txt": "restored\n"})
    with RegistryProxy(registry) as proxy:
        image = ["--image", f"{proxy.address}/{repository}", "--tags", "main,extra"]
        one = build(docker_sandbox, docker_cli, context, *image, "--platform", "linux/amd64")
        assert one.returncode == 0, one.stdout + one.stderr
        held = served_digest(registry, repository, "main")
        (context / "hello.txt").write_text("changed\n")
        proxy.fail(403, times=1, method="GET", path="/manifests/sha256:")
        failed = build(
            docker_sandbox, docker_cli, context, *image, "--platform", "linux/amd64,linux/arm64"
        )
        assert failed.returncode == 3, failed.stdout + failed.stderr
        for tag in ("main", "extra"):
            assert served_digest(registry, repository, tag) == held
        puts = proxy.count("PUT", "/manifests/main$")
        again = build(
            docker_sandbox, docker_cli, context, *image, "--platform", "linux/amd64,linux/arm64"
        )
        puts = proxy.count("PUT", "/manifests/main$") - puts
    (line,) = failed.stderr.splitlines()
    assert "HTTP 403" in line and "; no tag was changed (check the registry credentials" in line
    assert "linux/amd64 (" in failed.stdout and "linux/arm64 (" not in failed.stdout
    assert again.returncode == 0, again.stdout + again.stderr
    assert puts == 2 + 2 + 1  # each image, what the tag held after each, the index
    digest = served_digest(registry, repository, "main")
    assert served_digest(registry, repository, "extra") == digest != held
    assert platforms_of(manifest(registry, repository, "main")) == [
        ("linux", "amd64"),
        ("linux", "arm64"),
    ]


def test_the_legacy_builder_refuses_several_platforms(
    docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    context = context_dir(tmp_path, SCRATCH, **{"hello.txt": "x"})
    proc = build(
        docker_sandbox,
        {"PATH": str(tmp_path / "no-docker-cli")},
        context,
        "--image",
        f"{docker_sandbox.registry}/acme/multi-legacy",
        "--tags",
        "1",
        "--platform",
        "linux/amd64,linux/arm64",
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "several --platform need a docker CLI with BuildKit" in line
    assert "the engine's legacy builder builds one platform per tag" in line
    assert tags_of(docker_sandbox.registry, "acme/multi-legacy") == []
