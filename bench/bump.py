"""Benchmark bump: prints figures, asserts nothing.

1. A 5,000-file config repo (500 apps: Kustomize base and dev/staging/prod overlays, Helm
   values): time scan + edit + commit of one image in a local clone (no clone, no push),
   in-process and as a whole CLI process.
2. 20 concurrent bumpers, each bumping its own image, against one loopback smart-HTTP
   remote: how many land, and p50/p95 of their wall time.

Run: .venv/bin/python bench/bump.py [--apps 500] [--bumpers 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
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


def concurrent(bumpers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seed = git.init(Path(tmp) / "seed")
        for n in range(bumpers):
            (seed.path / f"app{n}.yaml").write_text(f"image: registry.example.com/app{n}:1.0.0\n")
        seed.add()
        seed.commit("initial")
        served = Path(tmp) / "served"
        served.mkdir()
        subprocess.run(
            ["git", "clone", "--quiet", "--bare", str(seed.path), str(served / "config.git")],
            check=True,
        )
        with GitHttpServer(served, "bench", "bench-token") as server:
            env = {
                "PATH": "/usr/bin:/bin",
                "GITOPS_GIT_TOKEN": "bench-token",
                "GITOPS_GIT_USERNAME": "bench",
            }
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
                            server.repo_url("config.git"),
                            "--image",
                            f"registry.example.com/app{n}:1.1.0",
                        ],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    ),
                    time.perf_counter(),
                )
                for n in range(bumpers)
            ]
            walls, failed = [], 0
            for proc, began in procs:
                code = proc.wait()
                walls.append(time.perf_counter() - began)
                failed += code != 0
            total = time.perf_counter() - start
        log = subprocess.run(
            ["git", "-C", str(served / "config.git"), "rev-list", "--count", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        landed = int(log) - 1
        walls.sort()
        p95 = walls[max(0, round(0.95 * len(walls)) - 1)]
        print(
            f"{bumpers} concurrent bumpers over loopback smart HTTP: {landed}/{bumpers} "
            f"landed, {failed} failed; wall p50 {statistics.median(walls):.2f} s, "
            f"p95 {p95:.2f} s, all done in {total:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--bumpers", type=int, default=20)
    args = parser.parse_args()
    single(args.apps)
    concurrent(args.bumpers)


if __name__ == "__main__":
    main()
