"""build with real builders (the docker CLI's BuildKit, buildah) and a real registry."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from gitops_actions.errors import UsageError
from gitops_actions.sandbox import DockerSandbox

from fakes.registry_proxy import RegistryProxy
from support import (
    BASE_IMAGE,
    base_env,
    image_config,
    layer_files,
    manifest,
    need,
    run_cli,
    served_digest,
)

pytestmark = pytest.mark.component

SECRET = "tok-7f3a9c1e5b2d4a6f"


def context_dir(tmp_path: Path, dockerfile: str, **files: str) -> Path:
    context = tmp_path / "app"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (context / name).write_text(text)
    return context


@pytest.fixture(params=["docker", "buildah"])
def builder(request: pytest.FixtureRequest) -> tuple[str, list[str], dict[str, str]]:
    """(name, its options, its environment) for each builder, with the busybox base."""
    sandbox: DockerSandbox = request.getfixturevalue("docker_sandbox")
    if request.param == "docker":
        env = request.getfixturevalue("docker_cli")
        return "docker", ["--builder", "docker", "--docker-host", sandbox.docker_host], env
    root = request.getfixturevalue("buildah_root")
    if shutil.which("runc") is None:
        need("runc is not installed (apt-get install runc)")
    # These tests read what a RUN prints. buildah's chroot runtime exits with the command's
    # status without waiting for the goroutine that relays the command's output, so on a busy
    # machine a RUN's whole output can be missing from the log (3 builds in 135 at load 9-14;
    # still so upstream): the oci runtime (runc) relays all of it before it returns. buildah
    # keeps RUN --mount=type=cache directories in $TMPDIR/buildah-cache, shared by every build
    # on the machine: each test session gets its own, as the docker sandbox's BuildKit does.
    tmp = Path(root).parent / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {"BUILDAH_ISOLATION": "oci", "TMPDIR": str(tmp)}
    return "buildah", ["--builder", "buildah", "--buildah-root", root], env


MOUNTS = f"""FROM {BASE_IMAGE}
ARG ROUND
RUN --mount=type=cache,target=/cache echo "$ROUND" >> /cache/rounds && cp /cache/rounds /rounds
RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /token-length \\
 && cat /run/secrets/token
"""


def test_cache_and_secret_mounts(
    builder: tuple[str, list[str], dict[str, str]],
    docker_sandbox: DockerSandbox,
    tmp_path: Path,
) -> None:
    name, options, extra = builder
    context = context_dir(tmp_path, MOUNTS)
    registry = docker_sandbox.registry
    repository = f"acme/mounts-{name}"
    outputs = []
    rounds = [f"round-{secrets.token_hex(4)}" for _ in range(2)]
    for round_ in rounds:
        output = tmp_path / f"output-{round_}"
        env = (
            base_env(
                GITHUB_ACTIONS="true",
                GITHUB_OUTPUT=str(output),
                BUILD_TOKEN=SECRET,
                GITHUB_REPOSITORY="acme/mounts",
                GITHUB_SHA="0123456789abcdef0123",
            )
            | extra
        )
        proc = run_cli(
            "build",
            *options,
            "--image",
            f"{registry}/{repository}",
            "--context",
            str(context),
            "--tags",
            f"{round_},latest",
            "--build-arg",
            f"ROUND={round_}",
            "--secret",
            "id=token,env=BUILD_TOKEN",
            env=env,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        everything = (proc.stdout + proc.stderr).splitlines()
        assert f"::add-mask::{SECRET}" in everything  # the runner masks it too
        assert not [line for line in everything if SECRET in line and "::add-mask::" not in line]
        assert "::group::" in proc.stdout and "***" in proc.stdout  # the RUN's cat, masked
        outputs.append(output.read_text())
    digest = served_digest(registry, repository, rounds[1])
    assert served_digest(registry, repository, "latest") == digest
    assert f"digest={digest}\n" in outputs[1]
    assert f"ref={registry}/{repository}:{rounds[1]}@{digest}\n" in outputs[1]
    files = layer_files(registry, repository, rounds[1])
    # the cache mount outlived the first build (the builder keeps it across runs)
    assert files["rounds"].endswith(f"{rounds[0]}\n{rounds[1]}\n".encode())
    assert files["token-length"].strip() == str(len(SECRET)).encode()  # the secret was there
    assert not any(SECRET.encode() in content for content in files.values())
    config = image_config(registry, repository, rounds[1])
    assert SECRET not in json.dumps(config)  # history, environment, labels
    oci = "org.opencontainers.image."
    expected = {
        oci + "title": "mounts",
        oci + "source": "https://github.com/acme/mounts",
        oci + "revision": "0123456789abcdef0123",
        oci + "version": rounds[1],
    }
    assert expected.items() <= config["config"]["Labels"].items()
    assert re.match(r"\d{4}-\d\d-\d\dT", config["config"]["Labels"][oci + "created"])
    if name == "buildah":  # the manifest carries them as annotations too
        annotations = manifest(registry, repository, rounds[1])["annotations"]
        assert expected.items() <= annotations.items()


def test_failing_run_exits_1_with_the_last_lines(
    builder: tuple[str, list[str], dict[str, str]],
    docker_sandbox: DockerSandbox,
    tmp_path: Path,
) -> None:
    _, options, extra = builder
    context = context_dir(
        tmp_path, f"FROM {BASE_IMAGE}\nRUN for i in $(seq 1 80); do echo line-$i; done; exit 7\n"
    )
    summary = tmp_path / "summary.md"
    proc = run_cli(
        "build",
        *options,
        "--image",
        f"{docker_sandbox.registry}/acme/broken",
        "--context",
        str(context),
        "--tags",
        "1",
        "--summary-file",
        str(summary),
        env=base_env() | extra,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    message = proc.stdout[proc.stdout.index("failed (exit") :]
    assert "line-80" in message and "line-3\n" not in message
    assert len(message.splitlines()) <= 51
    assert "line-80" in summary.read_text() and "Image build failed" in summary.read_text()


def test_from_scratch_labels_and_outputs(
    docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    context = context_dir(
        tmp_path,
        "FROM scratch\nARG GREETING\nCOPY hello.txt /\nLABEL greeting=$GREETING\n",
        **{"hello.txt": "hello build\n"},
    )
    output = tmp_path / "github-output"
    env = (
        base_env(
            GITHUB_ACTIONS="true",
            GITHUB_OUTPUT=str(output),
            GITHUB_SHA="0123456789abcdef0123",
            GITHUB_REPOSITORY="acme/shop",
            GITHUB_REF="refs/tags/v1.2.3",
            GITHUB_EVENT_NAME="push",
        )
        | docker_cli
    )
    image = f"{docker_sandbox.registry}/acme/shop"
    proc = run_cli(
        "build",
        "--image",
        image,
        "--context",
        str(context),
        "--tags",
        "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}",
        "--tag",
        "type=sha",
        "--build-arg",
        "GREETING=hi",
        "--label",
        "team=shop",
        "--docker-host",
        docker_sandbox.docker_host,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "docker build (BuildKit)" in proc.stdout
    digest = served_digest(docker_sandbox.registry, "acme/shop", "1.2.3")
    assert served_digest(docker_sandbox.registry, "acme/shop", "latest") == digest
    text = output.read_text()
    assert f"digest={digest}\n" in text and "builder=docker\n" in text
    listed = "\n".join(f"{image}:{t}" for t in ("1.2.3", "1.2", "sha-0123456", "latest"))
    assert re.search(rf"^tags<<(\w+)\n{listed}\n\1$", text, re.M), text
    for tag in ("1.2", "sha-0123456"):
        assert served_digest(docker_sandbox.registry, "acme/shop", tag) == digest
    labels = image_config(docker_sandbox.registry, "acme/shop", "1.2.3")["config"]["Labels"]
    assert labels["greeting"] == "hi" and labels["team"] == "shop"
    assert labels["org.opencontainers.image.revision"] == "0123456789abcdef0123"
    assert labels["org.opencontainers.image.source"] == "https://github.com/acme/shop"
    assert layer_files(docker_sandbox.registry, "acme/shop", "1.2.3") == {
        "hello.txt": b"hello build\n"
    }


def test_two_platforms_with_buildah_make_an_index(
    buildah_root: str, docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    context = context_dir(tmp_path, "FROM scratch\nCOPY hello.txt /\n", **{"hello.txt": "hi\n"})
    output = tmp_path / "output"
    proc = run_cli(
        "build",
        "--builder",
        "buildah",
        "--buildah-root",
        buildah_root,
        "--image",
        f"{docker_sandbox.registry}/acme/multi",
        "--context",
        str(context),
        "--tags",
        "1.0",
        "--platform",
        "linux/amd64,linux/arm64",
        env=base_env(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(output)),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    index = manifest(docker_sandbox.registry, "acme/multi", "1.0")
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]}
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}
    digest = served_digest(docker_sandbox.registry, "acme/multi", "1.0")
    assert f"digest={digest}\n" in output.read_text()
    assert "platforms=linux/amd64,linux/arm64\n" in output.read_text()


def test_rebuild_on_a_fresh_runner_hits_the_registry_cache(
    buildah_root: str, docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    import subprocess

    registry = docker_sandbox.registry
    subprocess.run(  # the base, from the registry: the same image on every runner
        [
            "buildah",
            "--storage-driver",
            "vfs",
            "--root",
            f"{buildah_root}/storage",
            "--runroot",
            f"{buildah_root}/run",
            "push",
            "--tls-verify=false",
            BASE_IMAGE,
            f"docker://{registry}/acme/base:1",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    context = context_dir(tmp_path, f"FROM {registry}/acme/base:1\nRUN date +%s%N > /stamp\n")
    cache = f"{registry}/acme/cache"
    stamps, logs = [], []
    for run, root in (("first", buildah_root), ("second", str(tmp_path / "fresh-runner"))):
        proc = run_cli(
            "build",
            "--builder",
            "buildah",
            "--buildah-root",
            root,
            "--image",
            f"{registry}/acme/cached",
            "--context",
            str(context),
            "--tags",
            run,
            "--cache-from",
            cache,
            "--cache-to",
            f"type=registry,ref={cache}",
            env=base_env(),
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        stamps.append(layer_files(registry, "acme/cached", run)["stamp"])
        logs.append(proc.stdout)
    assert stamps[0] == stamps[1], logs[1]  # the RUN did not run again on the fresh runner


def test_missing_dockerfile_exits_2(tmp_path: Path) -> None:
    proc = run_cli(
        "build", "--image", "127.0.0.1:1/acme/x", "--context", str(tmp_path), "--tags", "1"
    )
    assert proc.returncode == 2
    assert "Dockerfile: no such Dockerfile" in proc.stderr


# -- push: retries, credentials, verification ---------------------------------------------------
@pytest.fixture
def proxy(docker_sandbox: DockerSandbox) -> Any:
    with RegistryProxy(docker_sandbox.registry) as proxy:
        yield proxy


def push(
    proxy: RegistryProxy,
    builder: tuple[str, list[str], dict[str, str]],
    tmp_path: Path,
    *args: str,
    stdin: str | None = None,
) -> Any:
    """``build`` of a one-file image to ``proxy`` with ``builder``; temporary files (the auth
    file among them) in ``tmp_path``."""
    import subprocess
    import sys

    name, options, extra = builder
    context = context_dir(tmp_path, "FROM scratch\nCOPY hello.txt /\n", **{"hello.txt": "x\n"})
    image = ["--image", f"{proxy.address}/acme/pushed-{name}", "--context", str(context)]
    return subprocess.run(
        [sys.executable, "-m", "gitops_actions", "build", *options, *image, "--tags", "1", *args],
        env=base_env() | extra | {"TMPDIR": str(tmp_path)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_push_retries_server_errors(
    proxy: RegistryProxy, docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    proxy.fail(500, times=2, method="PUT", path="/manifests/")
    docker = ["--builder", "docker", "--docker-host", docker_sandbox.docker_host]
    proc = push(proxy, ("docker", docker, docker_cli), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proxy.failed == 2
    assert proxy.count("PUT", "/manifests/1$") == 3
    digest = served_digest(docker_sandbox.registry, "acme/pushed-docker", "1")
    assert f"@{digest}" in proc.stdout


@pytest.mark.parametrize("status", [429, 503])
def test_both_builders_retry_rate_limits_and_unavailable_registries(
    status: int,
    builder: tuple[str, list[str], dict[str, str]],
    proxy: RegistryProxy,
    docker_sandbox: DockerSandbox,
    tmp_path: Path,
) -> None:
    """429 as Docker Hub answers it (TOOMANYREQUESTS) and 503 are retried by the step, with
    the docker CLI's and buildah's wording of them alike."""
    name, options, extra = builder
    proxy.fail(status, times=2, method="PUT", path="/manifests/")
    context = context_dir(tmp_path, "FROM scratch\nCOPY hello.txt /\n", **{"hello.txt": "y\n"})
    repository = f"acme/limited-{name}-{status}"
    args = ["--image", f"{proxy.address}/{repository}", "--context", str(context), "--tags", "1"]
    proc = run_cli("build", *options, *args, env=base_env() | extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proxy.failed == 2 and proxy.count("PUT", "/manifests/1$") == 3
    assert f"@{served_digest(docker_sandbox.registry, repository, '1')}" in proc.stdout


@pytest.mark.parametrize("password", ["right-password-1234", "wrong-password-5678"])
def test_credentials_through_the_token_flow(
    password: str,
    builder: tuple[str, list[str], dict[str, str]],
    proxy: RegistryProxy,
    docker_sandbox: DockerSandbox,
    tmp_path: Path,
) -> None:
    """Right credentials push and verify through the bearer token; wrong ones fail at once."""
    proxy.require("ci", "right-password-1234")
    started = time.monotonic()
    login = ["--registry-user", "ci", "--registry-password-stdin"]
    proc = push(proxy, builder, tmp_path, *login, stdin=f"{password}\n")
    assert password not in proc.stdout + proc.stderr
    assert not list(tmp_path.glob("gitops-auth-*"))  # the auth file is gone
    if password.startswith("wrong"):
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "refused" in proc.stderr and "attempt 2" not in proc.stdout
        assert time.monotonic() - started < 60
        assert proxy.count("PUT", "/manifests/") == 0
        return
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proxy.count("HEAD", "/manifests/1$") >= 1  # the verification, through the token
    served = served_digest(docker_sandbox.registry, f"acme/pushed-{builder[0]}", "1")
    assert f"@{served}" in proc.stdout


def test_registry_unreachable_exits_3(
    builder: tuple[str, list[str], dict[str, str]], tmp_path: Path
) -> None:
    _, options, extra = builder
    context = context_dir(tmp_path, "FROM scratch\nCOPY hello.txt /\n", **{"hello.txt": "x\n"})
    args = ["--image", "127.0.0.1:9/acme/x", "--context", str(context), "--tags", "1"]
    proc = run_cli("build", *options, *args, "--timeout", "20", env=base_env() | extra)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "push of 127.0.0.1:9/acme/x:1" in proc.stderr


# -- tags as the step reads them -----------------------------------------------------------------
def references(tmp_path: Path, *tags: str, env: dict[str, str] | None = None) -> list[str]:
    from gitops_actions import imageref
    from gitops_actions.ci import Dialect
    from gitops_actions.step import Context
    from gitops_actions.steps import build

    env = (
        env
        if env is not None
        else {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_SHA": "ab" * 20,
        }
    )
    opts = build.Options(image="ghcr.io/acme/app", tags=tags)
    ctx = Context(ci=Dialect(env, io.StringIO()), env=env)
    return build._references(opts, imageref.parse(opts.image), ctx, tmp_path)


def test_metadata_action_output_is_taken_as_is(tmp_path: Path) -> None:
    output = "ghcr.io/acme/app:main\nghcr.io/acme/app:sha-abababa\ndocker.io/acme/app:main"
    assert references(tmp_path, output) == output.splitlines()
    assert references(tmp_path, "ghcr.io/acme/app:1.0,ghcr.io/acme/app:1") == [
        "ghcr.io/acme/app:1.0",
        "ghcr.io/acme/app:1",
    ]


def test_rules_plain_tags_and_defaults(tmp_path: Path) -> None:
    assert references(tmp_path) == ["ghcr.io/acme/app:main"]  # metadata-action's defaults
    assert references(tmp_path, "type=ref,event=branch\ntype=sha", "dev,edge") == [
        "ghcr.io/acme/app:main",
        "ghcr.io/acme/app:dev",
        "ghcr.io/acme/app:edge",
        "ghcr.io/acme/app:sha-abababa",
    ]
    # a rule without type= is type=raw, attributes and all
    assert references(tmp_path, "stable,suffix=-{{branch}}", "beta,enable=false") == [
        "ghcr.io/acme/app:stable-main"
    ]
    with pytest.raises(UsageError, match="no tag rule gives a tag for this branch event"):
        references(tmp_path, "type=ref,event=pr")


def test_plain_tags_need_no_git(tmp_path: Path) -> None:
    assert references(tmp_path, "1.0", env={}) == ["ghcr.io/acme/app:1.0"]
    with pytest.raises(UsageError, match="not a git checkout"):
        references(tmp_path, "type=sha", env={})


def test_bump_verify_image_against_the_registry(
    docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    """bump --verify-image writes only a reference the registry serves."""
    context = context_dir(tmp_path, "FROM scratch\nCOPY hello.txt /\n", **{"hello.txt": "v\n"})
    image = f"{docker_sandbox.registry}/acme/verified"
    built = run_cli(
        "build",
        "--builder",
        "docker",
        "--docker-host",
        docker_sandbox.docker_host,
        "--image",
        image,
        "--context",
        str(context),
        "--tags",
        "2.0",
        env=base_env() | docker_cli,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    digest = served_digest(docker_sandbox.registry, "acme/verified", "2.0")
    config = tmp_path / "config"
    config.mkdir()
    deployment = "spec:\n  containers:\n    - name: app\n      image: {}\n"
    (config / "deploy.yaml").write_text(deployment.format(f"{image}:1.0"))
    wrong = "sha256:" + "0" * 64
    refused = run_cli(
        "bump",
        "--repo",
        str(config),
        "--no-commit",
        "--verify-image",
        "--image",
        f"{image}:2.0@{wrong}",
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"serves {image}:2.0 as {digest}, not {wrong}" in refused.stderr
    assert (config / "deploy.yaml").read_text() == deployment.format(f"{image}:1.0")
    never_pushed = f"{image}:2.1@{digest}"  # a tag the registry does not serve: refused too
    args = ["bump", "--repo", str(config), "--no-commit", "--verify-image"]
    unknown = run_cli(*args, "--image", never_pushed)
    assert unknown.returncode == 1, unknown.stdout + unknown.stderr
    assert f"does not serve {never_pushed} (HTTP 404)" in unknown.stderr
    assert (config / "deploy.yaml").read_text() == deployment.format(f"{image}:1.0")
    bumped = run_cli(
        "bump",
        "--repo",
        str(config),
        "--no-commit",
        "--verify-image",
        "--image",
        f"{image}:2.0@{digest}",
    )
    assert bumped.returncode == 0, bumped.stdout + bumped.stderr
    assert (config / "deploy.yaml").read_text() == deployment.format(f"{image}:2.0@{digest}")


def test_legacy_builder_is_the_last_resort_with_a_warning(
    docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    """No docker CLI at all: the engine's legacy builder, saying what it cannot do."""
    context = context_dir(tmp_path, "FROM scratch\nCOPY hello.txt /\n", **{"hello.txt": "old\n"})
    env = base_env() | {"PATH": str(tmp_path / "empty-bin")}
    args = ["build", "--builder", "docker", "--docker-host", docker_sandbox.docker_host]
    args += ["--image", f"{docker_sandbox.registry}/acme/legacy", "--context", str(context)]
    proc = run_cli(*args, "--tags", "1", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: no docker CLI with BuildKit" in proc.stdout
    assert "cannot do RUN --mount (cache, secret), --secret" in proc.stdout
    assert layer_files(docker_sandbox.registry, "acme/legacy", "1") == {"hello.txt": b"old\n"}
    (tmp_path / "s").write_text("x")
    refused = run_cli(*args, "--tags", "2", "--secret", f"id=s,src={tmp_path / 's'}", env=env)
    assert refused.returncode == 2
    assert "the legacy builder cannot do" in refused.stderr


def test_unreachable_engine_exits_3(docker_cli: dict[str, str], tmp_path: Path) -> None:
    context = context_dir(tmp_path, "FROM scratch\nCOPY Dockerfile /\n")
    proc = run_cli(
        "build",
        "--builder",
        "docker",
        "--docker-host",
        f"unix://{tmp_path}/no.sock",
        "--image",
        "127.0.0.1:1/acme/x",
        "--context",
        str(context),
        "--tags",
        "1",
        env=base_env() | docker_cli,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stderr.startswith("gitops-actions build: error: cannot reach the Docker engine")


def test_docker_rebuild_hits_the_inline_registry_cache(
    docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    """The CLI's built-in BuildKit: --cache-to exports inline cache into the pushed image;
    with the local build cache gone, --cache-from that image skips the RUN."""
    import subprocess

    context = context_dir(tmp_path, f"FROM {BASE_IMAGE}\nRUN date +%s%N > /stamp\n")
    image = f"{docker_sandbox.registry}/acme/inline"
    args = ["build", "--builder", "docker", "--docker-host", docker_sandbox.docker_host]
    args += ["--image", image, "--context", str(context)]
    first = run_cli(
        *args, "--tags", "first", "--cache-to", "type=inline", env=base_env() | docker_cli
    )
    assert first.returncode == 0, first.stdout + first.stderr
    for cmd in (["rmi", f"{image}:first"], ["builder", "prune", "--all", "--force"]):
        subprocess.run(
            ["docker", *cmd], env=os.environ | docker_cli, check=True, capture_output=True
        )
    second = run_cli(
        *args, "--tags", "second", "--cache-from", f"{image}:first", env=base_env() | docker_cli
    )
    assert second.returncode == 0, second.stdout + second.stderr
    stamps = [
        layer_files(docker_sandbox.registry, "acme/inline", t)["stamp"] for t in ("first", "second")
    ]
    assert stamps[0] == stamps[1], second.stdout  # the RUN came from the registry's cache


# a docker 28 CLI without the buildx plugin, as /usr/local/bin/docker may be: BuildKit is out
# of its reach; every call it gets is logged
NO_BUILDX = """#!/bin/sh
echo "$*" >> {log}
case "$1" in
  --version) echo "Docker version 28.2.2, build e6534b4" ;;
  buildx) echo "docker: unknown command: docker buildx" >&2; exit 1 ;;
  version) /usr/bin/docker "$@" | sed 's/^[^|]*|/28.2.2|/' ;;
  build) echo "ERROR: BuildKit is enabled but the buildx component is missing or broken." >&2
         exit 1 ;;
  *) exec /usr/bin/docker "$@" ;;
esac
"""


def test_the_first_docker_cli_on_path_that_can_do_buildkit_builds(
    docker_cli: dict[str, str], docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    newer, log = tmp_path / "newer", tmp_path / "calls.log"
    newer.mkdir()
    (newer / "docker").write_text(NO_BUILDX.format(log=log))
    (newer / "docker").chmod(0o755)
    debian = docker_cli["PATH"].split(os.pathsep)[0]  # holds docker -> /usr/bin/docker
    context = context_dir(
        tmp_path,
        f"FROM {BASE_IMAGE}\nRUN --mount=type=cache,target=/c echo hi > /c/x && cp /c/x /x\n",
    )
    args = ["build", "--docker-host", docker_sandbox.docker_host, "--context", str(context)]
    args += ["--image", f"{docker_sandbox.registry}/acme/cli-choice"]
    for tag, first, second, calls in (
        ("newer-first", newer, debian, ["version", "buildx"]),
        ("debian-first", debian, newer, []),
    ):
        log.write_text("")
        env = base_env() | docker_cli | {"PATH": f"{first}:{second}:{os.environ['PATH']}"}
        proc = run_cli(*args, "--tags", tag, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"docker build (BuildKit) of {debian}/docker" in proc.stdout
        assert "legacy" not in proc.stdout
        assert [line.split()[0] for line in log.read_text().splitlines()] == calls
        assert layer_files(docker_sandbox.registry, "acme/cli-choice", tag)["x"] == b"hi\n"
    # named, the CLI is used as it is: without BuildKit, the legacy builder says why
    env = base_env() | docker_cli | {"GITOPS_DOCKER_CLI": str(newer / "docker")}
    (tmp_path / "named").mkdir()
    scratch = context_dir(
        tmp_path / "named", "FROM scratch\nCOPY hello.txt /\n", **{"hello.txt": "x"}
    )
    named = run_cli(*args[:-4], "--context", str(scratch), *args[-2:], "--tags", "named", env=env)
    assert named.returncode == 0, named.stdout + named.stderr
    assert f"asked: {newer}/docker 28.2.2: no buildx plugin" in named.stdout
    assert "using the engine's legacy builder" in named.stdout
