"""Benchmark diff: prints figures, asserts nothing.

A config repo of 1,000 applications (Kustomize overlays dev/staging/prod over shared bases,
about 20,000 rendered resources). Times, process start to exit:
1. one application changed (its overlay's image tag): only it is rendered;
2. a full render and diff of every application (--all).

Run: .venv/bin/python bench/diff.py [--services 334] [--resources 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gitops_actions import git

ENVS = ("dev", "staging", "prod")


def make_repo(root: Path, services: int, per_app: int) -> None:
    for n in range(services):
        name = f"svc{n:04d}"
        base = root / "apps" / name / "base"
        base.mkdir(parents=True)
        files = ["deployment.yaml", "service.yaml"]
        (base / "deployment.yaml").write_text(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n"
            f"    app: {name}\n    helm.sh/chart: {name}-1.0.0\nspec:\n  replicas: 2\n"
            f"  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n"
            f"      labels:\n        app: {name}\n    spec:\n      containers:\n"
            f"        - name: app\n          image: registry.example.com/{name}:1.0.0\n"
            f"          ports:\n            - containerPort: 8080\n"
        )
        (base / "service.yaml").write_text(
            f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n"
            f"    app: {name}\n  ports:\n    - port: 80\n      targetPort: 8080\n"
        )
        for i in range(per_app - 2):
            files.append(f"cm{i}.yaml")
            (base / f"cm{i}.yaml").write_text(
                f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-cm{i}\n"
                f"data:\n  key: value-{i}\n  level: info\n"
            )
        (base / "kustomization.yaml").write_text(
            "resources:\n" + "".join(f"  - {f}\n" for f in files)
        )
        for env in ENVS:
            overlay = root / "apps" / name / "overlays" / env
            overlay.mkdir(parents=True)
            (overlay / "kustomization.yaml").write_text(
                f"resources:\n  - ../../base\nnamespace: {name}-{env}\nimages:\n"
                f"  - name: registry.example.com/{name}\n    newTag: 1.0.0\n"
            )


def timed(repo: Path, *args: str) -> tuple[float, dict[str, object]]:
    out = repo.parent / "diff.json"
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gitops_actions",
            "diff",
            "--repo",
            str(repo),
            "--format",
            f"json={out}",
            *args,
        ],
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - start
    report: dict[str, object] = json.loads(out.read_text())
    return elapsed, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=334)
    parser.add_argument("--resources", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "config"
        make_repo(root, args.services, args.resources)
        repo = git.init(root)
        repo.add()
        repo.commit("initial")
        apps = args.services * len(ENVS)
        print(f"config repo: {apps} applications, about {apps * args.resources} resources")
        overlay = root / "apps" / "svc0007" / "overlays" / "prod" / "kustomization.yaml"
        overlay.write_text(overlay.read_text().replace("newTag: 1.0.0", "newTag: 1.0.1"))
        repo.add()
        repo.commit("bump one")
        elapsed, report = timed(root)
        print(
            f"one application changed: {elapsed:.2f} s, rendered {len(report['rendered'])}"
            f" (target < 3 s)"
        )
        elapsed, report = timed(root, "--all")
        changes = sum(len(a["changes"]) for a in report["apps"])  # type: ignore[attr-defined,index]
        print(
            f"full render and diff (--all): {elapsed:.2f} s, rendered "
            f"{len(report['rendered'])} applications, {changes} change(s) (target < 20 s)"
        )


if __name__ == "__main__":
    main()
