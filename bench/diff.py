"""Benchmark diff: prints figures, asserts nothing.

Config repos of Kustomize overlays (dev/staging/prod over shared bases, 20 resources per
application). Times, process start to exit, wall clock and CPU (user + system of diff
and the processes it starts; on a busy machine the CPU figure is the steadier one):
1. one application changed (its overlay's image tag) among 3,000: only it is rendered;
2. a full render and diff of every application (--all) of 1,000, with --workers 1 and 2.
The repo is packed before it is timed, as a clone is (committing 20,000 files otherwise
starts a ``git gc --auto`` that runs beside the first timed run). The package is compiled
first, as the image's build does: with ``PYTHONDONTWRITEBYTECODE`` set, a checkout that was
never compiled is compiled again by every run (about 0.25 s of case 1).

Run: .venv/bin/python bench/diff.py [--one-of 3000] [--all-of 1000] [--resources 20]
"""

from __future__ import annotations

import argparse
import json
import os
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


def compile_package() -> None:
    """Compile the package in place, as the image's build does."""
    package = Path(git.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


def timed(repo: Path, *args: str) -> tuple[float, float, dict[str, object]]:
    """Wall and CPU seconds of one diff run, and its JSON report."""
    out = repo.parent / "diff.json"
    before = os.times()
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
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    report: dict[str, object] = json.loads(out.read_text())
    return elapsed, cpu, report


def load() -> str:
    """The load average now (figures on a busy machine are inflated)."""
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def config_repo(root: Path, apps: int, per_app: int) -> None:
    """A repo of ``apps`` applications whose last commit bumps one image tag."""
    make_repo(root, -(-apps // len(ENVS)), per_app)
    repo = git.init(root)
    # no `gc --auto` started by a commit running beside the timed runs; packed, as a clone is
    subprocess.run(["git", "config", "gc.auto", "0"], cwd=root, check=True)
    repo.add()
    repo.commit("initial")
    overlay = root / "apps" / "svc0007" / "overlays" / "prod" / "kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("newTag: 1.0.0", "newTag: 1.0.1"))
    repo.add()
    repo.commit("bump one")
    subprocess.run(["git", "gc", "--quiet"], cwd=root, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-of", type=int, default=3000, help="applications, case 1")
    parser.add_argument("--all-of", type=int, default=1000, help="applications, case 2")
    parser.add_argument("--resources", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        compile_package()
        root = Path(tmp) / "one" / "config"
        config_repo(root, args.one_of, args.resources)
        count = len(list(root.glob("apps/*/overlays/*")))
        elapsed, cpu, report = timed(root)
        print(
            f"one application changed among {count}: {elapsed:.2f} s wall, {cpu:.2f} s CPU, "
            f"rendered {len(report['rendered'])} (target < 0.5 s; load {load()})"
        )
        root = Path(tmp) / "all" / "config"
        config_repo(root, args.all_of, args.resources)
        for workers in ("1", "2"):
            elapsed, cpu, report = timed(root, "--all", "--workers", workers)
            changes = sum(len(a["changes"]) for a in report["apps"])  # type: ignore[attr-defined,index]
            print(
                f"full render and diff (--all, --workers {workers}): {elapsed:.2f} s wall, "
                f"{cpu:.2f} s CPU, rendered {len(report['rendered'])} applications, "
                f"{changes} change(s) (target < 4 s; load {load()})"
            )


if __name__ == "__main__":
    main()
