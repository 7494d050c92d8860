"""build: build a container image, push every tag, and output the digest the registry serves."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitops_actions import builders, imageref, retry
from gitops_actions.builders import (
    BuildFailed,
    BuildSpec,
    Log,
    events,
    labels,
    publish,
    registry,
    tags,
)
from gitops_actions.ci import Annotation
from gitops_actions.errors import InputError, UsageError
from gitops_actions.step import Context, Step, StepResult, option


@dataclass(frozen=True)
class Options:
    image: str = option(
        "image repository to build and push, without tag", required=True, metavar="REPO"
    )
    context: str = option("build context directory", default=".", metavar="DIR")
    file: str | None = option("Dockerfile (default: Dockerfile in the context)", metavar="FILE")
    builder: str = option(
        "auto: docker when an engine answers, else buildah",
        default="auto",
        choices=builders.BUILDERS,
    )
    tags: tuple[str, ...] = option(
        "tag rules as docker/metadata-action writes them (type=ref,event=branch, "
        "type=semver,pattern={{version}}, type=sha, ...), plain tags, or references as its "
        "`tags` output lists them; repeatable (default: type=schedule and type=ref for "
        "branch, tag and pr events)",
        default=(),
        aliases=("tag",),
    )
    flavor: tuple[str, ...] = option(
        "metadata-action's flavor: latest=auto|true|false, prefix=...[,onlatest=true], "
        "suffix=...[,onlatest=true]; repeatable",
        default=(),
        metavar="KEY=VALUE",
    )
    build_args: tuple[str, ...] = option(
        "build argument KEY=VALUE, repeatable",
        default=(),
        metavar="KEY=VALUE",
        aliases=("build-arg",),
    )
    labels: tuple[str, ...] = option(
        "image label KEY=VALUE, repeatable; on top of the org.opencontainers.image.* labels "
        "filled from the CI context and the repo (an empty VALUE removes one)",
        default=(),
        metavar="KEY=VALUE",
        aliases=("label",),
    )
    annotations: tuple[str, ...] = option(
        "manifest annotation KEY=VALUE, repeatable (buildah; default: the OCI labels)",
        default=(),
        metavar="KEY=VALUE",
        aliases=("annotation",),
    )
    secrets: tuple[str, ...] = option(
        "build secret id=ID,src=FILE or id=ID,env=VARIABLE, repeatable; never in the image, "
        "its history or the log",
        default=(),
        metavar="SPEC",
        aliases=("secret",),
    )
    target: str | None = option("Dockerfile stage to build", metavar="STAGE")
    platforms: tuple[str, ...] = option(
        "target platform, repeatable or comma list; several make a multi-arch index",
        default=(),
        metavar="OS/ARCH",
        aliases=("platform",),
    )
    cache_from: tuple[str, ...] = option(
        "registry cache to reuse layers from (REPO or type=registry,ref=REPO)", default=()
    )
    cache_to: tuple[str, ...] = option(
        "registry cache to export layers to (REPO or type=registry,ref=REPO)", default=()
    )
    push: bool = option("push the image to its registry", default=True)
    network: str = option("network mode for RUN instructions", default="host")
    docker_host: str | None = option("Docker engine address (default: DOCKER_HOST)", metavar="URL")
    docker_cli: str | None = option(
        "docker CLI to build with (default: the first `docker` on PATH that has buildx or "
        "BuildKit built in)",
        metavar="PATH",
    )
    buildah_root: str | None = option(
        "buildah storage directory (default: buildah's own)", metavar="DIR"
    )
    registry_user: str | None = option("registry user name", metavar="USER")
    registry_password_stdin: bool = option(
        "read the registry password or token from standard input", default=False
    )
    timeout: float = option("seconds to keep retrying a push that fails transiently", default=300)


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--{what} {item!r}: expected KEY=VALUE")
        pairs[key] = value
    return pairs


def _split(items: tuple[str, ...]) -> list[str]:
    """Values that may each be a newline or comma list, as metadata-action outputs them."""
    return [
        part.strip()
        for item in items
        for part in item.replace(",", "\n").splitlines()
        if part.strip()
    ]


def _platforms(items: tuple[str, ...]) -> tuple[str, ...]:
    """``--platform`` values as OS[/ARCH[/VARIANT]], as the engines take them."""
    found = tuple(dict.fromkeys(_split(items)))  # each once: an index lists a platform once
    for platform in found:
        if not _PLATFORM.match(platform):
            raise UsageError(f"--platform {platform!r}: expected OS/ARCH or OS/ARCH/VARIANT")
    if items and not found:
        raise UsageError("--platform: no platform given")
    return found


_PLATFORM = re.compile(r"^[A-Za-z0-9_-]{1,40}(/[A-Za-z0-9_-]{1,40}(/[A-Za-z0-9_.-]{1,40})?)?$")


def _lines(items: tuple[str, ...]) -> list[str]:
    """Values that may each be a newline list (build-push-action's cache inputs)."""
    return [line.strip() for item in items for line in item.splitlines() if line.strip()]


def _references(opts: Options, repo: imageref.ImageRef, ctx: Context, context: Path) -> list[str]:
    """Full references from ``--tags``: rules (``type=...``), plain tags, or references as
    metadata-action outputs them; no ``--tags`` at all means metadata-action's default rules."""
    rules, refs = [], []
    for line in _lines(opts.tags):
        if "=" in line:  # a rule (type=raw when no type= is given); references hold no "="
            rules.append(line)
            continue
        for value in _split((line,)):
            if "/" in value or ":" in value:
                refs.append(value)
            else:
                rules.append(f"type=raw,value={value}")
    if rules or not refs:
        plain = rules and all(r.startswith("type=raw,value=") and "{{" not in r for r in rules)
        src = events.Source("branch") if plain else events.source(ctx.env, context)
        made = tags.render(tuple(rules), tuple(_lines(opts.flavor)), src)
        if not made:
            raise UsageError(f"no tag rule gives a tag for this {src.event} event: add --tags")
        refs += [f"{repo.repository}:{tag}" for tag in made]
    unique: list[str] = []
    for item in refs:
        ref = imageref.parse(item)
        if not ref.tag or ref.digest:
            raise UsageError(f"--tags {item!r}: give a tag or repository:tag")
        if str(ref) not in unique:
            unique.append(str(ref))
    return unique


def _credentials(
    opts: Options, repo: imageref.ImageRef, ctx: Context
) -> registry.Credentials | None:
    host = registry.registry_of(repo)
    if opts.registry_password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not opts.registry_user or not password:
            raise UsageError("--registry-password-stdin needs --registry-user and a password")
        return registry.Credentials(host, opts.registry_user, password)
    return registry.from_env(host, ctx.env)


def _preloading(write: Callable[[str], None]) -> Callable[[str], None]:
    """``write``, which also starts loading the registry's HTTP client (``registry.preload``)
    at the build's first line: the builder is running by then. Started before it, the import
    thread holds the GIL while the builder's process is spawned, which then starts 10 to 25 ms
    later."""
    pending = [registry.preload]

    def first(line: str) -> None:
        while pending:
            pending.pop()()
        write(line)

    return first


def _failure(how: str, failed: BuildFailed) -> StepResult:
    tail = "\n".join(failed.tail)
    message = f"{failed.message}; the last {len(failed.tail)} lines of the log:\n{tail}"
    summary = f"### Image build failed\n\n{failed.message} ({how})\n\n```text\n{tail}\n```\n"
    return StepResult("failed", message, {}, summary)


def run(opts: Options, ctx: Context) -> StepResult:
    repo = imageref.parse(opts.image)
    if repo.tag or repo.digest:
        raise UsageError(f"--image {opts.image!r}: give the repository only, tags with --tags")
    context = Path(opts.context)
    if not context.is_dir():
        raise UsageError(f"--context {opts.context}: not a directory")
    dockerfile = Path(opts.file) if opts.file else context / "Dockerfile"
    if not dockerfile.is_file():
        raise InputError("no such Dockerfile", path=str(dockerfile))
    refs = _references(opts, repo, ctx, context)
    oci = labels.oci(ctx.env, context, version=imageref.parse(refs[0]).tag or "")
    image_labels = labels.merged(oci, _pairs(opts.labels, "labels"))
    annotations = labels.merged(oci, _pairs(opts.annotations, "annotations"))
    platforms = _platforms(opts.platforms)
    build_args = _pairs(opts.build_args, "build-args")
    for given in opts.secrets:  # all options are checked before an engine is looked for
        builders.secret_spec(given, ctx.env)
    credentials = _credentials(opts, repo, ctx) if opts.push else None
    builder = builders.choose(
        opts.builder,
        ctx.env,
        docker_host=opts.docker_host,
        docker_cli=opts.docker_cli,
        buildah_root=opts.buildah_root,
    )
    if builder.warning:
        ctx.ci.annotate(Annotation("warning", builder.warning))
    with builders.secret_files(opts.secrets, ctx.env) as secrets:
        spec = BuildSpec(
            context=context.resolve(),
            dockerfile=dockerfile.resolve(),
            tags=tuple(refs),
            labels=image_labels,
            annotations=annotations,
            build_args=build_args,
            secrets=secrets,
            target=opts.target,
            platforms=platforms,
            cache_from=tuple(_lines(opts.cache_from)),
            cache_to=tuple(_lines(opts.cache_to)),
            network=opts.network,
        )
        live = _preloading(ctx.ci.log) if opts.push else ctx.ci.log
        with ctx.ci.group(f"{builder.how} {refs[0]}"):
            try:
                builder.build(spec, Log(live))
            except BuildFailed as failed:
                return _failure(builder.how, failed)
    digest = ""
    if opts.push:
        deadline = retry.Deadline.after(opts.timeout)
        with registry.auth_file(credentials) as auth, ctx.ci.group(f"push {', '.join(refs)}"):
            digest = publish.push_all(
                builder, refs, auth, deadline, Log(ctx.ci.log), ctx.ci.log, credentials
            )
        for ref in refs:
            publish.verify(imageref.parse(ref), digest, credentials, deadline)
    first = imageref.parse(refs[0])
    pinned = first.with_(tag=first.tag, digest=digest or None)
    outputs = {
        "image": repo.repository,
        "tags": "\n".join(refs),
        "labels": "\n".join(f"{k}={v}" for k, v in image_labels.items()),
        "digest": digest,
        "ref": str(pinned),
        "platforms": ",".join(platforms),
        "builder": builder.name,
    }
    rows = "".join(f"| `{ref}` | `{digest or 'not pushed'}` |\n" for ref in refs)
    summary = f"### Image built with {builder.how}\n\n| reference | digest |\n|---|---|\n{rows}"
    if len(platforms) > 1:
        summary += f"\nOne image index for {', '.join(platforms)}.\n"
    verb = "built, pushed and verified" if opts.push else "built"
    return StepResult("changed", f"{verb} {pinned}", outputs, summary)


STEP = Step(
    name="build",
    summary="Build a container image, push it, and output its tag and digest.",
    examples=(
        "gitops-actions build --image ghcr.io/acme/shop --context . --tags 1.4.2",
        "gitops-actions build --image registry.example.com/shop --builder buildah "
        "--platform linux/amd64,linux/arm64 --secret id=npm,env=NPM_TOKEN",
        "gitops-actions build --image 127.0.0.1:5000/shop --tags dev --no-push",
    ),
    options=Options,
    run=run,
    outputs=(
        ("image", "the image repository"),
        ("tags", "every reference pushed (repository:tag), one per line"),
        ("labels", "the image's labels, KEY=VALUE one per line"),
        ("digest", "the digest the registry serves for every tag (the index for multi-arch)"),
        ("ref", "repository:tag@digest, the exact reference to deploy (bump --image)"),
        (
            "platforms",
            "the platforms built, comma-separated (empty: the builder's own); "
            "several: digest is their index's",
        ),
        ("builder", "docker or buildah"),
    ),
)
