"""Benchmark build: our overhead over each builder's own CLI doing the same build and push.

A throwaway Docker engine and registry on loopback (vfs storage, as in the tests). The context
is small: a busybox base, one RUN and a COPY of a few files; every round changes one file so
that both sides rebuild the same two steps and push the same amount. For each builder
(docker = the docker CLI's BuildKit, buildah), rounds alternate between

  direct:  `docker build` + `docker push`   /   `buildah build --layers` + `buildah push`,
           with the same OCI labels (and, for buildah, annotations) that build sets
  ours:    `gitops-actions build --builder ...` (probe, build, push, digest verification)

and the medians are compared. Target: overhead < 5 %.

Run (as root, with docker.io, docker-registry, buildah, busybox-static installed):
    .venv/bin/python bench/build.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gitops_actions.builders import labels
from gitops_actions.sandbox import DockerSandbox

BASE = "localhost/busybox-base"
DOCKERFILE = f"FROM {BASE}\nRUN busybox sha256sum /etc/* > /sums 2>/dev/null; true\nCOPY . /app\n"


def sh(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} ... failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side and builder")
    args = parser.parse_args()
    why = DockerSandbox.why_not()
    for program in ("buildah", "busybox"):
        if shutil.which(program) is None:
            why = why or f"{program} is not installed"
    if why:
        sys.exit(f"cannot run: {why}")
    work = Path(tempfile.mkdtemp(prefix="gitops-bench-build-"))
    sandbox = DockerSandbox(work / "docker").start()
    try:
        return run(work, sandbox, args.rounds)
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, sandbox: DockerSandbox, rounds: int) -> int:
    bin_dir = work / "bin"  # the Debian docker CLI, BuildKit built in
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to("/usr/bin/docker")
    env = dict(os.environ) | {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DOCKER_HOST": sandbox.docker_host,
        "DOCKER_BUILDKIT": "1",
        "DOCKER_CONFIG": str(work / "docker-config"),
    }
    (work / "docker-config").mkdir()  # buildah reads DOCKER_CONFIG's config.json too
    (work / "docker-config" / "config.json").write_text('{"auths": {}}\n')
    root = work / "buildah"
    buildah = ["buildah", "--storage-driver", "vfs", "--root", f"{root}/storage"]
    buildah += ["--runroot", f"{root}/run"]
    base = work / "base"
    base.mkdir()
    shutil.copy(str(shutil.which("busybox")), base / "busybox")
    (base / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    sh(["docker", "build", "--network=host", "-t", BASE, str(base)], env)
    sh(
        [*buildah, "build", "--isolation", "chroot", "--network", "host", "-t", BASE, str(base)],
        env,
    )
    context = work / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    for name in ("app.py", "config.yaml", "README"):
        (context / name).write_text(f"{name}\n" * 200)
    registry = sandbox.registry
    ours = [sys.executable, "-m", "gitops_actions", "build", "--context", str(context)]

    def same_labels(tag: str, *flags: str) -> list[str]:
        """The labels (and annotations) build sets, so that both sides build the same image."""
        found = labels.oci(env, context, tag)
        return [arg for key, value in found.items() for f in flags for arg in (f, f"{key}={value}")]

    def docker_direct(tag: str) -> None:
        ref = f"{registry}/d/direct:{tag}"
        build = ["build", "--network=host", "-t", ref, *same_labels(tag, "--label")]
        sh(["docker", *build, str(context)], env)
        sh(["docker", "push", ref], env)

    def buildah_direct(tag: str) -> None:
        ref = f"{registry}/b/direct:{tag}"
        build = ["build", "--layers", "--isolation", "chroot", "--network", "host", "-t", ref]
        build += same_labels(tag, "--label", "--annotation")
        sh([*buildah, *build, str(context)], env)
        sh([*buildah, "push", "--tls-verify=false", ref, f"docker://{ref}"], env)

    def docker_ours(tag: str) -> None:
        sh([*ours, "--builder", "docker", "--image", f"{registry}/d/ours", "--tags", tag], env)

    def buildah_ours(tag: str) -> None:
        options = ["--builder", "buildah", "--buildah-root", str(root)]
        sh([*ours, *options, "--image", f"{registry}/b/ours", "--tags", tag], env)

    sides: dict[str, dict[str, Callable[[str], None]]] = {
        "docker": {"direct": docker_direct, "ours": docker_ours},
        "buildah": {"direct": buildah_direct, "ours": buildah_ours},
    }
    print(f"build + push of a 3-file context on a busybox base, {rounds} rounds per side")
    print(f"{'builder':8} {'direct s':>9} {'ours s':>9} {'overhead':>9}")
    for builder, actions in sides.items():
        times: dict[str, list[float]] = {"direct": [], "ours": []}
        for round_ in range(rounds + 1):  # round 0 warms both sides up and is not counted
            for side in ("direct", "ours") if round_ % 2 else ("ours", "direct"):
                (context / "app.py").write_text(f"round {round_} {side}\n" * 200)
                started = time.perf_counter()
                actions[side](f"r{round_}")
                took = time.perf_counter() - started
                if round_:
                    times[side].append(took)
        direct, mine = statistics.median(times["direct"]), statistics.median(times["ours"])
        print(f"{builder:8} {direct:9.2f} {mine:9.2f} {100 * (mine - direct) / direct:8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
