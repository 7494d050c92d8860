"""Benchmark build: our overhead over each builder's own CLI doing the same build and push.

A throwaway Docker engine and registry on loopback (vfs storage, as in the tests). The context
is small: a busybox base, one RUN and a COPY of a few files; every round changes one file so
that both sides rebuild the same two steps and push the same amount. For each builder
(docker = the docker CLI's BuildKit, buildah), rounds alternate between

  direct:  `docker build` + `docker push`   /   `buildah build --layers` + `buildah push`,
           with the same OCI labels (and, for buildah, annotations) that build sets
  ours:    `gitops-actions build --builder ...` (probe, build, push, digest verification)

and `docker-multi`, two platforms (`FROM scratch` + `COPY`: no emulation) with the docker CLI:

  direct:  per platform `docker build --platform` + `docker push` to a tag of its own, then
           `docker manifest create` + `docker manifest push` (what a user would script)
  ours:    `gitops-actions build --builder docker --platform linux/amd64,linux/arm64`

and the medians are compared, wall and CPU (of every process each side starts; the engine's
and registry's own work is in neither), with the load average before and after. What we add
is a fixed cost (Python start-up, one `docker version`, one HEAD per tag), printed in ms as
well: the percentage shrinks as builds grow. Target: overhead < 5 %. The package is compiled
first, as the image's build does: with ``PYTHONDONTWRITEBYTECODE`` set, a checkout whose
bytecode is missing or older than its source compiles those modules again on every run.

Run (as root, with docker.io, docker-registry, buildah, busybox-static installed):
    .venv/bin/python bench/build.py [--rounds 5] [--builder docker|buildah|docker-multi]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from diff import compile_package
from gitops_actions.builders import labels
from gitops_actions.sandbox import DockerSandbox

BASE = "localhost/busybox-base"
DOCKERFILE = f"FROM {BASE}\nRUN busybox sha256sum /etc/* > /sums 2>/dev/null; true\nCOPY . /app\n"
PLATFORMS = ("linux/amd64", "linux/arm64")


def sh(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} ... failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side and builder")
    parser.add_argument(
        "--builder", choices=("docker", "buildah", "docker-multi"), help="only this builder"
    )
    args = parser.parse_args()
    why = DockerSandbox.why_not()
    for program in ("buildah", "busybox"):
        if shutil.which(program) is None:
            why = why or f"{program} is not installed"
    if why:
        sys.exit(f"cannot run: {why}")
    compile_package()  # as the image's build does: no run compiles the package again
    work = Path(tempfile.mkdtemp(prefix="gitops-bench-build-"))
    sandbox = DockerSandbox(work / "docker").start()
    try:
        return run(work, sandbox, args.rounds, args.builder)
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(work: Path, sandbox: DockerSandbox, rounds: int, only: str | None) -> int:
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

    multi = work / "Dockerfile.multi"
    multi.write_text("FROM scratch\nCOPY . /app\n")

    def multi_direct(tag: str) -> None:
        ref = f"{registry}/m/direct:{tag}"
        refs = [f"{ref}-{platform.split('/')[1]}" for platform in PLATFORMS]
        for platform, one in zip(PLATFORMS, refs, strict=True):
            build = ["build", "--network=host", "--platform", platform, "-f", str(multi)]
            sh(["docker", *build, "-t", one, *same_labels(tag, "--label"), str(context)], env)
            sh(["docker", "push", one], env)
        sh(["docker", "manifest", "create", "--insecure", ref, *refs], env)
        sh(["docker", "manifest", "push", "--purge", "--insecure", ref], env)

    def multi_ours(tag: str) -> None:
        options = ["--builder", "docker", "--file", str(multi), "--platform", ",".join(PLATFORMS)]
        sh([*ours, *options, "--image", f"{registry}/m/ours", "--tags", tag], env)

    sides: dict[str, dict[str, Callable[[str], None]]] = {
        "docker": {"direct": docker_direct, "ours": docker_ours},
        "buildah": {"direct": buildah_direct, "ours": buildah_ours},
        "docker-multi": {"direct": multi_direct, "ours": multi_ours},
    }
    print(
        f"build + push of a 3-file context (busybox base; docker-multi: scratch), {rounds} rounds"
    )
    print(f"load average {loadavg()}")
    print(f"{'builder':8} {'side':6} {'wall s':>7} {'cpu s':>7}")
    for builder, actions in sides.items():
        if only and builder != only:
            continue
        wall: dict[str, list[float]] = {"direct": [], "ours": []}
        cpu: dict[str, list[float]] = {"direct": [], "ours": []}
        for round_ in range(rounds + 1):  # round 0 warms both sides up and is not counted
            for side in ("direct", "ours") if round_ % 2 else ("ours", "direct"):
                (context / "app.py").write_text(f"round {round_} {side}\n" * 200)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                actions[side](f"r{round_}")
                took = time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                if round_:
                    wall[side].append(took)
                    cpu[side].append(used)
        for side in ("direct", "ours"):
            print(
                f"{builder:8} {side:6} {statistics.median(wall[side]):7.2f} "
                f"{statistics.median(cpu[side]):7.2f}"
            )
        direct, mine = statistics.median(wall["direct"]), statistics.median(wall["ours"])
        extra_cpu = statistics.median(cpu["ours"]) - statistics.median(cpu["direct"])
        print(
            f"{builder:8} overhead {100 * (mine - direct) / direct:+.1f} % wall "
            f"({1000 * (mine - direct):+.0f} ms), {1000 * extra_cpu:+.0f} ms cpu"
        )
    print(f"load average {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
