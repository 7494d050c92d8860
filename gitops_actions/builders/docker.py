"""The docker builder: BuildKit through a ``docker`` CLI that can do it, the engine's legacy
builder (through the SDK) only when no CLI on ``PATH`` can.

A CLI can do BuildKit when it has the buildx plugin (``docker buildx version`` answers) or
has BuildKit built in (before 23.0, ``DOCKER_BUILDKIT=1 docker build``). Several CLIs may
be installed (a newer one in /usr/local/bin without buildx before the distribution's one):
each ``docker`` on ``PATH`` is asked in turn, once per process, and the first that can is
used; ``--docker-cli`` (``GITOPS_DOCKER_CLI``) names one instead.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_actions import proc
from gitops_actions.builders import BuildSpec, Log, cache_ref, registry
from gitops_actions.builders.index import PLATFORM_FORMAT, PlatformImage, platform_image
from gitops_actions.errors import ExternalError, UsageError

_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
LEGACY_LIMITS = "RUN --mount (cache, secret), --secret, several --platform, --cache-to"
BUILTIN_BEFORE = 23  # docker build lost its built-in BuildKit to buildx in 23.0


@dataclass(frozen=True)
class Cli:
    path: str
    version: str  # the client's version, "" when it printed none
    buildkit: str  # "buildx", "builtin" or "" (neither)

    @property
    def about(self) -> str:
        can = {"buildx": "buildx", "builtin": "BuildKit built in", "": "no buildx plugin"}
        return f"{self.path} {self.version or '(no version)'}: {can[self.buildkit]}"


_CLIS: dict[str, Cli] = {}  # by path: what each CLI can do, asked once per process
_PROBED: dict[tuple[str, str | None, str | None], tuple[str, bool, str]] = {}


def _major(version: str) -> int:
    found = re.match(r"(\d+)\.", version)
    return int(found.group(1)) if found else 0


def on_path(env: Mapping[str, str]) -> list[str]:
    """Every ``docker`` executable on ``PATH``, in its order (each file once)."""
    found: list[str] = []
    seen: set[str] = set()
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", "docker")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            real = os.path.realpath(candidate)
            if real not in seen:
                seen.add(real)
                found.append(candidate)
    return found


def inspect(path: str, env: Mapping[str, str], version: str | None = None) -> Cli:
    """What the CLI at ``path`` can do: its version (``docker --version`` unless known), and
    for 23.0 and later whether ``docker buildx version`` answers."""
    if path not in _CLIS:
        if version is None:
            said = proc.run([path, "--version"], env=env, timeout=30, check=False).stdout
            found = re.search(r"version (\d+\.[^\s,]*)", said)
            version = found.group(1) if found else ""
        kind = ""
        if 0 < _major(version) < BUILTIN_BEFORE:
            kind = "builtin"
        elif (
            proc.run([path, "buildx", "version"], env=env, timeout=30, check=False).returncode == 0
        ):
            kind = "buildx"
        _CLIS[path] = Cli(path, version, kind)
    return _CLIS[path]


def _named(docker_cli: str, env: Mapping[str, str]) -> str:
    import shutil

    path = shutil.which(docker_cli, path=env.get("PATH", os.defpath))
    if path is None:
        raise UsageError(f"--docker-cli {docker_cli}: no such executable")
    return path


def _probe(cli: str, docker_host: str | None, env: Mapping[str, str]) -> tuple[str, bool, str]:
    """(the CLI's version, whether the engine answers, what it said) in one call."""
    key = (cli, docker_host, env.get("DOCKER_HOST"))
    if key not in _PROBED:
        answer = proc.run(
            [cli, "version", "--format", "{{.Client.Version}}|{{.Server.Version}}"],
            env=_cli_env(docker_host, env),
            timeout=30,
            check=False,
        )
        client, _, server = answer.stdout.strip().partition("|")
        up = answer.returncode == 0 and bool(server.strip())
        _PROBED[key] = (client.strip(), up, answer.stderr.strip())
    return _PROBED[key]


def pick(
    docker_cli: str | None, docker_host: str | None, env: Mapping[str, str]
) -> tuple[Cli | None, list[Cli]]:
    """(the CLI to build with, every CLI asked): the first on ``PATH`` that can do BuildKit,
    or the one named, None when none can. The engine must answer first (exit 3 if not)."""
    paths = [_named(docker_cli, env)] if docker_cli else on_path(env)
    if not paths:
        return None, []
    version, up, said = _probe(paths[0], docker_host, env)  # the version comes for free
    if not up:
        raise ExternalError(f"cannot reach the Docker engine: {said}", transient=False)
    cli_env = _cli_env(docker_host, env)
    tried = [inspect(paths[0], cli_env, version)]
    for path in paths[1:]:
        if tried[-1].buildkit:
            break
        tried.append(inspect(path, cli_env))
    return (tried[-1] if tried[-1].buildkit else None), tried


def reachable(docker_cli: str | None, docker_host: str | None, env: Mapping[str, str]) -> bool:
    """Whether a Docker engine answers at ``docker_host`` (or ``DOCKER_HOST``, or the default)."""
    paths = [_named(docker_cli, env)] if docker_cli else on_path(env)
    if paths:
        return _probe(paths[0], docker_host, env)[1]
    try:
        _client(docker_host, env, timeout=5)
        return True
    except ExternalError:
        return False


def _client(docker_host: str | None, env: Mapping[str, str], timeout: int = 600) -> Any:
    import docker

    try:
        if docker_host:
            client = docker.DockerClient(base_url=docker_host, timeout=timeout)
        else:
            client = docker.from_env(environment=dict(env), timeout=timeout)
        client.ping()
        return client
    except Exception as err:
        raise ExternalError(f"cannot reach the Docker engine: {err}", transient=False) from None


def _cli_env(docker_host: str | None, env: Mapping[str, str]) -> dict[str, str]:
    cli_env = dict(env) | {"DOCKER_BUILDKIT": "1"}
    if docker_host:
        cli_env["DOCKER_HOST"] = docker_host
    return cli_env


def choose(
    docker_cli: str | None, docker_host: str | None, env: Mapping[str, str]
) -> DockerCli | Legacy:
    """BuildKit through the first CLI that can do it, else the legacy builder."""
    cli, tried = pick(docker_cli, docker_host, env)
    if cli is not None:
        return DockerCli(cli, _cli_env(docker_host, env))
    return Legacy(docker_host, env, tried)


class DockerCli:
    name = "docker"

    def __init__(self, cli: Cli, env: dict[str, str]) -> None:
        self.cli, self.env, self.buildx = cli.path, env, cli.buildkit == "buildx"
        self.warning: str | None = None
        self.images: tuple[PlatformImage, ...] = ()  # one per platform, several asked
        kind = "docker buildx build" if self.buildx else "docker build (BuildKit)"
        self.how = f"{kind} of {cli.path}"

    def build(self, spec: BuildSpec, log: Log) -> None:
        """One platform under every tag; several, one after the other, each into an image
        of its own (the engine's image store holds one platform per tag): ``push_image``
        pushes them, ``index.push`` lists them in one index."""
        self.images = ()
        if len(spec.platforms) <= 1:
            self._build(spec, log, spec.platforms[0] if spec.platforms else None, spec.tags)
            return
        import tempfile

        ids = []
        with tempfile.TemporaryDirectory(prefix="gitops-iid-") as tmp:
            for platform in spec.platforms:
                log(f"{self.how}: {platform}")
                self._build(spec, log, platform, (), Path(tmp) / "iid")
                ids.append((Path(tmp) / "iid").read_text().strip())
        self.images = self._platform_images(spec.platforms, ids, log)

    def _build(
        self,
        spec: BuildSpec,
        log: Log,
        platform: str | None,
        tags: tuple[str, ...],
        iidfile: Path | None = None,
    ) -> None:
        cmd = [self.cli, "buildx", "build", "--load"] if self.buildx else [self.cli, "build"]
        cmd += ["--progress=plain", f"--network={spec.network}", "--file", str(spec.dockerfile)]
        for tag in tags:
            cmd += ["--tag", tag]
        cmd += spec.flags(annotation_flag=None)
        if platform:
            cmd += ["--platform", platform]
        if iidfile:
            cmd += ["--iidfile", str(iidfile)]
        for cache in spec.cache_from:
            cmd += ["--cache-from", cache if self.buildx else cache_ref(cache, self.how)]
        for cache in spec.cache_to:
            if self.buildx:
                cmd += ["--cache-to", cache]
            else:  # the built-in BuildKit exports inline cache only: into the image pushed
                cmd += ["--build-arg", "BUILDKIT_INLINE_CACHE=1"]
        cmd.append(str(spec.context))
        code = proc.stream(cmd, log, env=self.env)
        if code != 0:
            raise log.failed(
                f"{self.how} failed (exit {code})" + (f" for {platform}" if iidfile else "")
            )

    def _platform_images(
        self, platforms: tuple[str, ...], ids: list[str], log: Log
    ) -> tuple[PlatformImage, ...]:
        """Each image built, with the platform its config says (the engine's word), which
        must be the one asked for."""
        inspect = [self.cli, "image", "inspect", "--format", PLATFORM_FORMAT, *ids]
        said = proc.run(inspect, env=self.env, timeout=60).stdout.split()
        images = []
        for platform, image, config in zip(platforms, ids, said, strict=True):
            built = platform_image(platform, image, config)
            if built is None:
                raise log.failed(f"{self.how} gave a {config.rstrip('/')} image for {platform}")
            images.append(built)
        return tuple(images)

    def push_image(self, image: str, ref: str, auth_file: Path | None, log: Log) -> str:
        """Push local ``image`` as ``ref`` (the tag moves to it)."""
        proc.run([self.cli, "tag", image, ref], env=self.env, timeout=60)
        return self.push(ref, auth_file, log)

    def push(self, ref: str, auth_file: Path | None, log: Log) -> str:
        cmd = [self.cli]
        if auth_file is not None:
            cmd += ["--config", str(auth_file.parent)]
        lines: list[str] = []

        def keep(line: str) -> None:
            lines.append(line)
            log(line)

        code = proc.stream([*cmd, "push", ref], keep, env=self.env, timeout=1800)
        output = "\n".join(lines)
        if code != 0:
            raise registry.push_error(ref, output)
        digest = _DIGEST.search(output)
        if not digest:
            raise ExternalError(f"push of {ref}: docker printed no digest", transient=False)
        return digest.group(1)


class Legacy:
    """The engine's legacy builder through the SDK: the last resort, with a warning."""

    name = "docker"
    how = "docker engine legacy builder"

    def __init__(self, docker_host: str | None, env: Mapping[str, str], tried: list[Cli]) -> None:
        self.client = _client(docker_host, env)
        asked = "; ".join(cli.about for cli in tried) or "none on PATH"
        self.warning: str | None = (
            f"no docker CLI with BuildKit (buildx, or docker before 23.0; asked: {asked}): "
            f"using the engine's legacy builder, which cannot do {LEGACY_LIMITS}"
        )

    def build(self, spec: BuildSpec, log: Log) -> None:
        import docker.errors

        if len(spec.platforms) > 1:
            raise UsageError(
                "several --platform need a docker CLI with BuildKit, which builds each "
                "platform in turn for an image index; the engine's legacy builder builds one "
                "platform per tag: install a docker CLI with BuildKit (Debian's docker.io, or "
                "the buildx plugin), or use --builder buildah"
            )
        if spec.secrets or spec.cache_to:
            raise UsageError(f"the legacy builder cannot do {LEGACY_LIMITS}; install buildx")
        try:
            events = self.client.api.build(
                path=str(spec.context.resolve()),
                dockerfile=str(spec.dockerfile.resolve()),
                tag=spec.tags[0],
                buildargs=dict(spec.build_args),
                labels=dict(spec.labels),
                target=spec.target,
                platform=spec.platforms[0] if spec.platforms else None,
                cache_from=[cache_ref(c, self.how) for c in spec.cache_from] or None,
                network_mode=spec.network,
                rm=True,
                forcerm=True,
                decode=True,
            )
            image_id = ""
            for event in events:
                for line in str(event.get("stream", "")).splitlines():
                    log(line)
                if "error" in event:
                    log(str(event["error"]))
                    raise log.failed(f"{self.how} failed: {event['error']}")
                image_id = event.get("aux", {}).get("ID", image_id)
        except docker.errors.APIError as err:
            raise ExternalError(f"Docker engine error while building: {err}") from None
        for other in spec.tags[1:]:
            repository, _, tag = other.rpartition(":")
            self.client.api.tag(image_id, repository, tag)

    def push(self, ref: str, auth_file: Path | None, log: Log) -> str:
        auth = None
        if auth_file is not None:
            entry = next(iter(json.loads(auth_file.read_text())["auths"].values()))
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            auth = {"username": user, "password": password}
        repository, _, tag = ref.rpartition(":")
        digest, error = "", ""
        for event in self.client.api.push(
            repository, tag=tag, stream=True, decode=True, auth_config=auth
        ):
            if "status" in event:
                log(str(event["status"]))
            error = event.get("error", error)
            digest = event.get("aux", {}).get("Digest", digest)
        if error:
            raise registry.push_error(ref, error)
        if not digest:
            raise ExternalError(f"push of {ref}: the engine reported no digest", transient=False)
        return str(digest)
