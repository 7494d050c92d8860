"""build: build a container image, push it, and output its exact reference (tag and digest)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_actions import imageref
from gitops_actions.errors import ExternalError, InputError, UsageError
from gitops_actions.step import Context, Step, StepResult, option


@dataclass(frozen=True)
class Options:
    image: str = option(
        "image repository to build and push, without tag", required=True, metavar="REPO"
    )
    context: str = option("build context directory", default=".", metavar="DIR")
    file: str | None = option("Dockerfile (default: Dockerfile in the context)", metavar="FILE")
    tag: tuple[str, ...] = option(
        "tag to apply, repeatable (default: the source commit's short SHA)", default=()
    )
    build_arg: tuple[str, ...] = option(
        "build argument KEY=VALUE, repeatable", default=(), metavar="KEY=VALUE"
    )
    label: tuple[str, ...] = option(
        "image label KEY=VALUE, repeatable", default=(), metavar="KEY=VALUE"
    )
    push: bool = option("push the image to its registry", default=True)
    network: str = option("network mode for RUN instructions", default="host")
    docker_host: str | None = option("Docker engine address (default: DOCKER_HOST)", metavar="URL")
    registry_username: str | None = option("registry user name", metavar="USER")
    registry_password: str | None = option(
        "registry password or token", secret=True, metavar="SECRET"
    )
    retries: int = option("push attempts before giving up", default=3)


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--{what} {item!r}: expected KEY=VALUE")
        pairs[key] = value
    return pairs


def source_labels(env: Mapping[str, str]) -> dict[str, str]:
    """OCI labels linking the image back to the commit and pipeline that built it."""
    labels = {}
    if env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        labels["org.opencontainers.image.source"] = f"{server}/{env['GITHUB_REPOSITORY']}"
    elif env.get("CI_PROJECT_URL"):
        labels["org.opencontainers.image.source"] = env["CI_PROJECT_URL"]
    revision = env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA")
    if revision:
        labels["org.opencontainers.image.revision"] = revision
    return labels


def _default_tag(env: Mapping[str, str], context: Path) -> str:
    sha = env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA")
    if sha:
        return sha[:12]
    from gitops_actions.git import Repo

    try:
        return Repo(context).head_sha()[:12]
    except ExternalError:
        raise UsageError("no --tag given and the context is not a git checkout") from None


def _client(docker_host: str | None, env: Mapping[str, str]) -> Any:
    import docker

    try:
        if docker_host:
            client = docker.DockerClient(base_url=docker_host, timeout=600)
        else:
            client = docker.from_env(environment=dict(env), timeout=600)
        client.ping()
        return client
    except Exception as err:
        raise ExternalError(f"cannot reach the Docker engine: {err}") from None


def _push(client: Any, ref: imageref.ImageRef, auth: dict[str, str] | None, retries: int) -> str:
    """Push one tag and return the digest the registry answered with."""
    error = ""
    for attempt in range(1, retries + 1):
        stream: Iterator[dict[str, Any]] = client.images.push(
            ref.repository, tag=ref.tag, stream=True, decode=True, auth_config=auth
        )
        digest, error = "", ""
        for event in stream:
            error = event.get("error", error)
            digest = event.get("aux", {}).get("Digest", digest)
        if digest and not error:
            return str(digest)
        if attempt < retries:
            time.sleep(min(8.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))
    raise ExternalError(f"push of {ref} failed after {retries} attempts: {error or 'no digest'}")


def run(opts: Options, ctx: Context) -> StepResult:
    repo = imageref.parse(opts.image)
    if repo.tag or repo.digest:
        raise UsageError(f"--image {opts.image!r}: give the repository only, tags with --tag")
    context = Path(opts.context)
    if not context.is_dir():
        raise UsageError(f"--context {opts.context}: not a directory")
    dockerfile = Path(opts.file) if opts.file else context / "Dockerfile"
    if not dockerfile.is_file():
        raise InputError("no such Dockerfile", path=str(dockerfile))
    tags = opts.tag or (_default_tag(ctx.env, context),)
    for tag in tags:
        imageref.parse(f"{repo.repository}:{tag}")
    labels = source_labels(ctx.env) | _pairs(opts.label, "label")
    build_args = _pairs(opts.build_arg, "build-arg")
    auth = None
    if opts.registry_username and opts.registry_password:
        auth = {"username": opts.registry_username, "password": opts.registry_password}

    import docker.errors

    client = _client(opts.docker_host, ctx.env)
    first = repo.with_(tag=tags[0])
    with ctx.ci.group(f"docker build {first}"):
        try:
            image, logs = client.images.build(
                path=str(context.resolve()),
                dockerfile=str(dockerfile.resolve()),
                tag=str(first),
                buildargs=build_args,
                labels=labels,
                network_mode=opts.network,
                rm=True,
                forcerm=True,
            )
        except docker.errors.BuildError as err:
            for entry in err.build_log:
                if "stream" in entry:
                    ctx.ci.out.write(entry["stream"])
            return StepResult("failed", f"build of {first} failed: {err.msg}")
        except docker.errors.APIError as err:
            raise ExternalError(f"Docker engine error while building {first}: {err}") from None
        for entry in logs:
            if "stream" in entry:
                ctx.ci.out.write(entry["stream"])
        for tag in tags[1:]:
            image.tag(repo.repository, tag=tag)

    digest = ""
    if opts.push:
        with ctx.ci.group(f"docker push {repo.repository}"):
            for tag in tags:
                digest = _push(client, repo.with_(tag=tag), auth, opts.retries)
    pinned = repo.with_(tag=tags[0], digest=digest or None)
    outputs = {
        "image": repo.repository,
        "tag": tags[0],
        "tags": "\n".join(tags),
        "digest": digest,
        "ref": str(pinned),
        "image-id": str(image.id),
    }
    summary = (
        f"### Image built\n\n| image | tag | digest |\n|---|---|---|\n"
        f"| `{repo.repository}` | `{tags[0]}` | `{digest or 'not pushed'}` |\n"
    )
    verb = "built and pushed" if opts.push else "built"
    return StepResult("changed", f"{verb} {pinned}", outputs, summary)


STEP = Step(
    name="build",
    summary="Build a container image, push it, and output its tag and digest.",
    examples=(
        "gitops-actions build --image ghcr.io/acme/shop --context . --tag 1.4.2",
        "GITOPS_IMAGE=registry.example.com/shop GITOPS_TAG=1.4.2 gitops-actions build",
        "gitops-actions build --image 127.0.0.1:5000/shop --tag dev --no-push",
    ),
    options=Options,
    run=run,
    outputs=(
        ("image", "the image repository"),
        ("tag", "the first tag"),
        ("tags", "every tag, one per line"),
        ("digest", "the manifest digest the registry answered with (empty with --no-push)"),
        ("ref", "repository:tag@digest, the exact reference to deploy"),
        ("image-id", "the local image ID"),
    ),
)
