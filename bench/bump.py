"""Benchmark bump: prints figures, asserts nothing.

1. A 5,000-file config repo (500 apps: Kustomize base and dev/staging/prod overlays, Helm
   values): time scan + edit + commit of one image in a local clone (no clone, no push),
   in-process and as a whole CLI process.
2. 50 concurrent bumpers, each bumping its own image into one branch, against a bare
   repo by path (file remote) and a loopback smart-HTTP remote, with and without a
   background CPU hog: how many land, and p50/p95 of their wall time.

Run: .venv/bin/python bench/bump.py [--apps 500] [--bumpers 50] [--remote file|http|both]
     [--load no|yes|both] [--only-concurrent]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gitops_actions import git
from gitops_actions.edit.plan import Request, plan
from gitops_actions.imageref import parse
from gitops_actions.sandbox import GitHttpServer

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  labels:
    app.kubernetes.io/name: {app}
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: {app}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {app}
    spec:
      containers:
        - name: {app}
          image: registry.example.com/team/{app}:1.0.0
          ports:
            - containerPort: 8080
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {app}
spec:
  selector:
    app.kubernetes.io/name: {app}
  ports:
    - port: 80
      targetPort: 8080
"""
BASE = "resources:\n  - deployment.yaml\n  - service.yaml\n  - configmap.yaml\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}\ndata:\n  LOG: info\n"
OVERLAY = """resources:
  - ../../base
namespace: {app}-{env}
images:
  - name: registry.example.com/team/{app}
    newTag: 1.0.0
"""
VALUES = """image:
  repository: registry.example.com/team/{app}
  tag: "1.0.0"
replicaCount: 2
"""


def make_repo(root: Path, apps: int) -> int:
    count = 0
    for n in range(apps):
        app = f"app{n:04d}"
        files = {
            "base/deployment.yaml": DEPLOYMENT,
            "base/service.yaml": SERVICE,
            "base/configmap.yaml": CONFIGMAP,
            "base/kustomization.yaml": BASE,
            "values.yaml": VALUES,
            **{f"overlays/{env}/kustomization.yaml": OVERLAY for env in ("dev", "staging", "prod")},
        }
        for rel, text in files.items():
            path = root / "apps" / app / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            env = rel.split("/")[1] if rel.startswith("overlays/") else ""
            path.write_text(text.format(app=app, env=env))
            count += 1
    for n in range(apps * 2):  # unrelated platform files fill the repo to 10 per app
        path = root / "platform" / f"policy{n:05d}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"kind: ConfigMap\nmetadata:\n  name: policy{n}\ndata:\n  x: '1'\n")
        count += 1
    return count


def single(apps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "config"
        files = make_repo(root, apps)
        repo = git.init(root)
        repo.add()
        repo.commit("initial")
        print(f"config repo: {files} files")
        target = f"app{min(42, apps - 1):04d}"
        timings = []
        for n in range(5):
            start = time.perf_counter()
            result = plan(
                root, Request(images=(parse(f"registry.example.com/team/{target}:1.{n + 1}.0"),))
            )
            scanned = time.perf_counter()
            for change in result.changes:
                (root / change.path).write_bytes(change.after)
            repo.add(list(result.files))
            repo.commit(f"bump {n}")
            done = time.perf_counter()
            timings.append((scanned - start, done - start, len(result.files)))
        for scan, total, changed in timings:
            print(
                f"  in-process: scan+plan {scan * 1000:6.1f} ms, +write+commit "
                f"{total * 1000:6.1f} ms ({changed} files changed)"
            )
        cli = []
        for n in range(3):
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gitops_actions",
                    "bump",
                    "--repo",
                    str(root),
                    "--image",
                    f"registry.example.com/team/{target}:2.{n}.0",
                ],
                check=True,
                capture_output=True,
            )
            cli.append(time.perf_counter() - start)
        print(
            f"  whole CLI process (start to exit, scan+edit+commit): "
            f"median {statistics.median(cli) * 1000:.0f} ms"
        )


def _hog() -> subprocess.Popen[bytes]:
    """A background process that keeps one core busy, as other jobs on a CI runner do."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def concurrent(bumpers: int, remote: str, loaded: bool) -> None:
    """``bumpers`` processes bump one image each into one branch at once."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        seed = git.init(Path(tmp) / "seed")
        for n in range(bumpers):
            (seed.path / f"app{n}.yaml").write_text(f"image: registry.example.com/app{n}:1.0.0\n")
        seed.add()
        seed.commit("initial")
        served = Path(tmp) / "served"
        served.mkdir()
        bare = served / "config.git"
        subprocess.run(["git", "clone", "--quiet", "--bare", str(seed.path), str(bare)], check=True)
        env = {"PATH": "/usr/bin:/bin"}
        url = str(bare)
        if remote == "http":
            server = stack.enter_context(GitHttpServer(served, "bench", "bench-token"))
            env |= {"GITOPS_GIT_TOKEN": "bench-token", "GITOPS_GIT_USERNAME": "bench"}
            url = server.repo_url("config.git")
        load = os.getloadavg()[0]
        hog = _hog() if loaded else None
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            start = time.perf_counter()
            procs = [
                (
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "gitops_actions",
                            "bump",
                            "--repo",
                            url,
                            "--image",
                            f"registry.example.com/app{n}:1.1.0",
                        ],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                    ),
                    time.perf_counter(),
                )
                for n in range(bumpers)
            ]
            walls: list[float] = [0.0] * len(procs)
            outputs: list[str] = [""] * len(procs)

            def finish(n: int) -> None:  # each writer's own wall time, whoever ends first
                proc, began = procs[n]
                err, _ = proc.communicate()
                walls[n] = time.perf_counter() - began
                outputs[n] = err.decode(errors="replace")

            threads = [threading.Thread(target=finish, args=(n,)) for n in range(len(procs))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            errors = [
                out.strip().splitlines()[-1:]
                for (proc, _), out in zip(procs, outputs, strict=True)
                if proc.returncode
            ]
            tries = [out.count("push rejected") + 1 for out in outputs]
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = sum(
                getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("ru_utime", "ru_stime")
            )
            total = time.perf_counter() - start
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        count = subprocess.run(
            ["git", "-C", str(bare), "rev-list", "--count", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        landed = int(count) - 1
        walls.sort()
        p95 = walls[max(0, round(0.95 * len(walls)) - 1)]
        print(
            f"{bumpers} concurrent bumpers, {remote} remote, "
            f"{'loaded (1 CPU hog)' if loaded else 'unloaded'}: {landed}/{bumpers} landed, "
            f"{len(errors)} failed; wall p50 {statistics.median(walls):.2f} s, "
            f"p95 {p95:.2f} s, all done in {total:.2f} s; attempts per writer: "
            f"median {statistics.median(tries):.0f}, max {max(tries)}; "
            f"writers' CPU {cpu:.1f} s; load average before {load:.1f}"
        )
        for line in errors[:3]:
            print(f"  failed: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--bumpers", type=int, default=50)
    parser.add_argument("--remote", choices=("file", "http", "both"), default="both")
    parser.add_argument("--load", choices=("no", "yes", "both"), default="both")
    parser.add_argument("--only-concurrent", action="store_true")
    args = parser.parse_args()
    if not args.only_concurrent:
        single(args.apps)
    for remote in ("file", "http") if args.remote == "both" else (args.remote,):
        for loaded in (False, True) if args.load == "both" else (args.load == "yes",):
            concurrent(args.bumpers, remote, loaded)


if __name__ == "__main__":
    main()
