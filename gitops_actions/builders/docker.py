"""The docker builder: BuildKit through the ``docker`` CLI, the engine's legacy builder (through
the SDK) only when no CLI with BuildKit is installed."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitops_actions import proc
from gitops_actions.builders import BuildSpec, Log, cache_ref, registry
from gitops_actions.errors import ExternalError, UsageError

_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
LEGACY_LIMITS = "RUN --mount (cache, secret), --secret, several --platform, --cache-to"


def reachable(docker_host: str | None, env: Mapping[str, str]) -> bool:
    """Whether a Docker engine answers at ``docker_host`` (or ``DOCKER_HOST``, or the default)."""
    if _cli(env) is not None:
        return _probe(docker_host, env)[1]
    try:
        _client(docker_host, env, timeout=5)
        return True
    except ExternalError:
        return False


def _cli(env: Mapping[str, str]) -> str | None:
    return shutil.which("docker", path=env.get("PATH", os.defpath))


_PROBED: dict[tuple[str | None, str | None], tuple[int, bool, str]] = {}


def _probe(docker_host: str | None, env: Mapping[str, str]) -> tuple[int, bool, str]:
    """(the CLI's major version, whether the engine answers, what it said) in one call."""
    key = (docker_host, env.get("DOCKER_HOST"))
    if key not in _PROBED:
        cli = _cli(env) or "docker"
        answer = proc.run(
            [cli, "version", "--format", "{{.Client.Version}}|{{.Server.Version}}"],
            env=_cli_env(docker_host, env),
            timeout=30,
            check=False,
        )
        client, _, server = answer.stdout.strip().partition("|")
        major = re.match(r"(\d+)\.", client)
        up = answer.returncode == 0 and bool(server.strip())
        _PROBED[key] = (int(major.group(1)) if major else 0, up, answer.stderr.strip())
    return _PROBED[key]


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


def choose(docker_host: str | None, env: Mapping[str, str]) -> DockerCli | Legacy:
    """BuildKit through a CLI with BuildKit built in (before 23.0, when ``docker build``
    still carried it) or ``docker buildx build``, else the legacy builder."""
    cli = _cli(env)
    if cli is None:
        return Legacy(docker_host, env)
    major, up, said = _probe(docker_host, env)
    if not up:
        raise ExternalError(f"cannot reach the Docker engine: {said}", transient=False)
    cli_env = _cli_env(docker_host, env)
    if 0 < major < 23:
        return DockerCli(cli, cli_env, buildx=False)
    if proc.run([cli, "buildx", "version"], env=cli_env, check=False).returncode == 0:
        return DockerCli(cli, cli_env, buildx=True)
    return Legacy(docker_host, env)


class DockerCli:
    name = "docker"

    def __init__(self, cli: str, env: dict[str, str], *, buildx: bool) -> None:
        self.cli, self.env, self.buildx = cli, env, buildx
        self.warning: str | None = None
        self.how = "docker buildx build" if buildx else "docker build (BuildKit)"

    def build(self, spec: BuildSpec, log: Log) -> None:
        cmd = [self.cli, "buildx", "build", "--load"] if self.buildx else [self.cli, "build"]
        cmd += ["--progress=plain", f"--network={spec.network}", "--file", str(spec.dockerfile)]
        for tag in spec.tags:
            cmd += ["--tag", tag]
        cmd += spec.flags(annotation_flag=None)
        if len(spec.platforms) > 1:
            raise UsageError(
                "several --platform need --builder buildah (the docker engine's image store "
                "holds one platform per tag)"
            )
        if spec.platforms:
            cmd += ["--platform", spec.platforms[0]]
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
            raise log.failed(f"{self.how} failed (exit {code})")

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

    def __init__(self, docker_host: str | None, env: Mapping[str, str]) -> None:
        self.client = _client(docker_host, env)
        self.warning: str | None = (
            "no docker CLI with BuildKit (buildx, or docker before 23.0): using the engine's "
            f"legacy builder, which cannot do {LEGACY_LIMITS}"
        )

    def build(self, spec: BuildSpec, log: Log) -> None:
        import docker.errors

        if spec.secrets or len(spec.platforms) > 1 or spec.cache_to:
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
