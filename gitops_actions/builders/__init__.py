"""Image builders behind one protocol: ``docker`` (BuildKit through the CLI) and ``buildah``.

A builder turns a ``BuildSpec`` into a local image (or, for several platforms, a local image
index) and pushes it tag by tag. The step decides what to build; the builder only knows
how. ``choose`` picks one by name, ``auto`` meaning docker when an engine answers, else
buildah.
"""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gitops_actions.errors import InputError, UsageError
from gitops_actions.secrets import REDACTOR

LOG_TAIL = 50  # lines of the build log quoted when a build fails
BUILDERS = ("auto", "docker", "buildah")


@dataclass(frozen=True)
class Secret:
    """A build secret: ``id`` as the Dockerfile names it, its value in a file only we read."""

    id: str
    path: Path


@dataclass(frozen=True)
class BuildSpec:
    context: Path
    dockerfile: Path
    tags: tuple[str, ...]  # full references, repository:tag
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    build_args: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[Secret, ...] = ()
    target: str | None = None
    platforms: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    network: str = "host"

    def flags(self, *, annotation_flag: str | None) -> list[str]:
        """The flags both builders spell alike: labels, annotations, build args, secrets and
        target (secrets by file: their values never reach a process's arguments)."""
        flags: list[str] = []
        named = [("--label", self.labels), ("--build-arg", self.build_args)]
        if annotation_flag:  # the docker engine's image store keeps no annotations
            named.append((annotation_flag, self.annotations))
        for flag, pairs in named:
            for key, value in pairs.items():
                flags += [flag, f"{key}={value}"]
        for secret in self.secrets:
            flags += ["--secret", f"id={secret.id},src={secret.path}"]
        return flags + (["--target", self.target] if self.target else [])


def cache_ref(cache: str, builder: str) -> str:
    """``type=registry,ref=REPO`` (build-push-action's form) or a plain ``REPO``."""
    if "=" not in cache:
        return cache
    fields = dict(part.partition("=")[::2] for part in cache.split(","))
    if fields.get("type", "registry") != "registry" or not fields.get("ref"):
        raise UsageError(f"cache {cache!r}: {builder} takes a registry cache (type=registry,ref=)")
    return fields["ref"]


@contextlib.contextmanager
def secret_files(specs: tuple[str, ...], env: Mapping[str, str]) -> Iterator[tuple[Secret, ...]]:
    """Each ``--secret`` value as a file only we can read; ``env=`` values are written to a
    private temporary directory removed afterwards. Every value is masked in all output."""
    if not specs:
        yield ()
        return
    import tempfile  # with shutil, bz2 and lzma: only when there are secrets to write

    with tempfile.TemporaryDirectory(prefix="gitops-secrets-") as tmp:
        found: list[Secret] = []
        for spec in specs:
            sid, src, var = secret_spec(spec, env)
            if var is not None:
                path = Path(tmp) / f"secret-{len(found)}"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(env[var])
                REDACTOR.learn(env[var])
            else:
                path = Path(str(src)).resolve()
                REDACTOR.learn(path.read_text(errors="replace"))
            found.append(Secret(sid, path))
        yield tuple(found)


def secret_spec(spec: str, env: Mapping[str, str]) -> tuple[str, str | None, str | None]:
    """A ``--secret`` value as (id, src, env): the shape, the variable and the file are
    checked here, before anything runs; the error names the spec, never a value."""
    fields = dict(part.partition("=")[::2] for part in spec.split(","))
    sid, src, var = fields.get("id"), fields.get("src"), fields.get("env")
    if not sid or bool(src) == bool(var) or set(fields) - {"id", "src", "env", "type"}:
        raise UsageError(f"--secret {spec!r}: expected id=ID,src=FILE or id=ID,env=VAR")
    if var is not None and var not in env:
        raise UsageError(f"--secret {spec!r}: ${var} is not set")
    if src is not None and not Path(src).is_file():
        raise InputError("no such secret file", path=src)
    return sid, src, var


class BuildFailed(Exception):
    """The build ran and failed (a RUN exited non-zero, a COPY source is missing)."""

    def __init__(self, message: str, tail: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.tail = tail


class Log:
    """The live build log: every line goes out at once; the last ``LOG_TAIL`` are kept."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self.tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL)

    def __call__(self, line: str) -> None:
        self.tail.append(line)
        self._write(line)

    def failed(self, message: str) -> BuildFailed:
        return BuildFailed(message, list(self.tail))


class Builder(Protocol):
    name: str  # docker or buildah
    how: str  # what builds, for the log: "docker build (BuildKit)", "buildah build"
    warning: str | None  # what the user should know about this choice

    def build(self, spec: BuildSpec, log: Log) -> None:
        """Build ``spec`` into local storage under every tag, or raise ``BuildFailed``."""

    def push(self, ref: str, auth_file: Path | None, log: Log) -> str:
        """Push one built tag once; return the digest the registry stored (the index digest
        for several platforms). Raise ``ExternalError`` (transient or not) on failure."""
        ...


def choose(
    name: str,
    env: Mapping[str, str],
    *,
    docker_host: str | None,
    docker_cli: str | None = None,
    buildah_root: str | None = None,
) -> Builder:
    from gitops_actions.builders import buildah, docker

    if name not in BUILDERS:
        raise UsageError(f"--builder {name!r}: expected one of {', '.join(BUILDERS)}")
    if name == "auto":
        name = "docker" if docker.reachable(docker_cli, docker_host, env) else "buildah"
    if name == "docker":
        return docker.choose(docker_cli, docker_host, env)
    return buildah.Buildah(env, root=buildah_root)
