"""The buildah builder: daemonless, for GitLab runners and Kubernetes executors.

Defaults that work on unprivileged runners: vfs storage and chroot isolation (``STORAGE_DRIVER``
and ``BUILDAH_ISOLATION`` override them, as for buildah itself), ``--layers`` so unchanged
steps are reused. Several platforms become a manifest list pushed with every image in it.

Before 1.41 buildah took a cached layer without looking at its platform (containers/podman
#18723, fixed by containers/buildah#6269): with ``--layers``, the second platform of a list
reuses the first one's image, and a ``FROM scratch`` list ends up with a single entry. Older
buildah builds several platforms without ``--layers``.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from gitops_actions import imageref, proc
from gitops_actions.builders import BuildSpec, Log, cache_ref, registry
from gitops_actions.errors import ExternalError, UsageError

PLATFORM_AWARE_CACHE = (1, 41)  # the first buildah whose layer cache checks the platform
_VERSIONS: dict[str, tuple[int, ...]] = {}


def version(env: Mapping[str, str]) -> tuple[int, ...]:
    """buildah's version, asked once per process; () when it prints none."""
    if "buildah" not in _VERSIONS:
        said = proc.run(["buildah", "--version"], env=env, timeout=30, check=False).stdout
        found = re.search(r"version (\d+)\.(\d+)\.(\d+)", said)
        _VERSIONS["buildah"] = tuple(int(n) for n in found.groups()) if found else ()
    return _VERSIONS["buildah"]


def layers(platforms: int, buildah_version: tuple[int, ...]) -> bool:
    """Whether ``--layers`` is safe: always for one platform, for several from 1.41 on."""
    return platforms <= 1 or buildah_version >= PLATFORM_AWARE_CACHE


def _loopback(ref: str) -> bool:
    return registry.is_loopback(registry.registry_of(imageref.parse(ref)))


class Buildah:
    name = "buildah"
    how = "buildah build"
    warning: str | None = None

    def __init__(self, env: Mapping[str, str], *, root: str | None = None) -> None:
        self.env = dict(env)
        self.base = ["buildah", "--storage-driver", env.get("STORAGE_DRIVER", "vfs")]
        if root:
            self.base += ["--root", str(Path(root) / "storage"), "--runroot", f"{root}/run"]
        self.isolation = env.get("BUILDAH_ISOLATION", "chroot")
        self._source = ""  # the local image, or manifest list, to push
        self._list = False

    def _tls(self, *refs: str) -> list[str]:
        """Loopback registries speak plain HTTP, as Docker engines assume."""
        return ["--tls-verify=false"] if refs and all(_loopback(r) for r in refs) else []

    def build(self, spec: BuildSpec, log: Log) -> None:
        several = len(spec.platforms) > 1
        cached = layers(len(spec.platforms), version(self.env) if several else ())
        cmd = [*self.base, "build", f"--layers={str(cached).lower()}"]
        cmd += ["--isolation", self.isolation]
        cmd += ["--network", spec.network, "--file", str(spec.dockerfile)]
        cmd += spec.flags(annotation_flag="--annotation")
        if len(spec.cache_from) > 1 or len(spec.cache_to) > 1:
            raise UsageError("buildah takes one --cache-from and one --cache-to")
        if several and (spec.cache_from or spec.cache_to):
            raise UsageError("buildah's registry cache needs one platform per build")
        caches = [cache_ref(c, "buildah") for c in (*spec.cache_from, *spec.cache_to)]
        for flag, caches_of in (("--cache-from", spec.cache_from), ("--cache-to", spec.cache_to)):
            for cache in caches_of:
                cmd += [flag, cache_ref(cache, "buildah")]
        cmd += self._tls(*spec.tags, *caches)  # FROM, cache and push on one loopback registry
        self._source, self._list = spec.tags[0], several
        if self._list:
            proc.run([*self.base, "manifest", "rm", self._source], env=self.env, check=False)
            cmd += ["--manifest", self._source, "--platform", ",".join(spec.platforms)]
        else:
            cmd += [f"--platform={p}" for p in spec.platforms]
            for tag in spec.tags:
                cmd += ["--tag", tag]
        cmd.append(str(spec.context))
        code = proc.stream(cmd, log, env=self.env)
        if code != 0:
            raise log.failed(f"{self.how} failed (exit {code})")

    def push(self, ref: str, auth_file: Path | None, log: Log) -> str:
        with tempfile.TemporaryDirectory(prefix="gitops-push-") as tmp:
            digest_file = Path(tmp) / "digest"
            cmd = [*self.base, "manifest", "push", "--all"] if self._list else [*self.base, "push"]
            if not self._list:
                cmd += ["--retry", "0"]  # retries are ours: only the transient errors
            cmd += ["--digestfile", str(digest_file), *self._tls(ref)]
            if auth_file is not None:
                cmd += ["--authfile", str(auth_file)]
            lines: list[str] = []

            def keep(line: str) -> None:
                lines.append(line)
                log(line)

            code = proc.stream(
                [*cmd, self._source, f"docker://{ref}"], keep, env=self.env, timeout=1800
            )
            if code != 0:
                raise registry.push_error(ref, "\n".join(lines))
            digest = digest_file.read_text().strip() if digest_file.exists() else ""
        if not digest.startswith("sha256:"):
            raise ExternalError(f"push of {ref}: buildah wrote no digest", transient=False)
        return digest
