"""Benchmark the application model: prints figures, asserts nothing.

A generated Flux repo of 100 apps in the ``kubernetes/apps/<ns>/<app>/ks.yaml`` + ``app/``
layout: each app a Flux Kustomization with two components and postBuild substitutions
(``substitute`` and ``substituteFrom`` a cluster ConfigMap), its ``app/`` a kustomization
with a HelmRelease and a ConfigMap. Times, process start to exit:

1. ``validate .`` of every entry point, beside the script users write today: ``kubectl
   kustomize`` of each entry point's folder, two in parallel (kubeconform is not installed
   here, so the baseline renders only: it is faster than the real one);
2. ``diff`` of one changed app;
3. ``diff`` of an edit to a component every app uses.

Run: .venv/bin/python bench/apps.py [--apps 100] [--namespaces 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gitops_actions import git


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_repo(root: Path, apps: int, namespaces: int) -> list[Path]:
    """The repo; returns each entry point's folder (what a user's script renders)."""
    write(
        root / "kubernetes/flux/cluster/ks.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
        "  name: cluster-apps\n  namespace: flux-system\nspec:\n  interval: 30m\n"
        "  path: ./kubernetes/apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n"
        "    name: flux-system\n  postBuild:\n    substituteFrom:\n      - kind: ConfigMap\n"
        "        name: cluster-settings\n",
    )
    write(
        root / "kubernetes/flux/vars/cluster-settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-settings\n"
        "  namespace: flux-system\ndata:\n  TIMEZONE: Europe/Paris\n  DOMAIN: example.com\n",
    )
    write(
        root / "kubernetes/components/volsync/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - pvc.yaml\n",
    )
    write(
        root / "kubernetes/components/volsync/pvc.yaml",
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: ${APP}\nspec:\n"
        "  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n"
        "      storage: ${CAPACITY:=1Gi}\n",
    )
    write(
        root / "kubernetes/components/alerts/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n"
        "  - rule.yaml\n",
    )
    write(
        root / "kubernetes/components/alerts/rule.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${APP}-alerts\ndata:\n"
        "  host: ${APP}.${DOMAIN}\n",
    )
    folders = [root / "kubernetes/apps"]
    per_ns: dict[str, list[str]] = {}
    for n in range(apps):
        ns, app = f"ns{n % namespaces}", f"app{n:03d}"
        per_ns.setdefault(ns, []).append(app)
        base = root / "kubernetes/apps" / ns / app
        write(
            base / "ks.yaml",
            f"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
            f"  name: &app {app}\n  namespace: flux-system\nspec:\n  targetNamespace: {ns}\n"
            f"  commonMetadata:\n    labels:\n      app.kubernetes.io/name: *app\n"
            f"  components:\n    - ../../../../components/volsync\n"
            f"    - ../../../../components/alerts\n"
            f"  path: ./kubernetes/apps/{ns}/{app}/app\n  interval: 30m\n  prune: true\n"
            f"  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  postBuild:\n"
            f"    substitute:\n      APP: *app\n      CAPACITY: {n % 5 + 1}Gi\n"
            f"    substituteFrom:\n      - kind: ConfigMap\n        name: cluster-settings\n",
        )
        write(
            base / "app/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "resources:\n  - helmrelease.yaml\n  - config.yaml\n",
        )
        write(
            base / "app/helmrelease.yaml",
            f"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n"
            f"  name: {app}\nspec:\n  interval: 30m\n  chart:\n    spec:\n"
            f"      chart: app-template\n      version: 3.5.1\n      sourceRef:\n"
            f"        kind: HelmRepository\n        name: bjw-s\n        namespace: flux-system\n"
            f"  values:\n    controllers:\n      {app}:\n        containers:\n          app:\n"
            f"            image:\n              repository: ghcr.io/example/{app}\n"
            f"              tag: 1.0.0\n            env:\n              TZ: ${{TIMEZONE}}\n",
        )
        write(
            base / "app/config.yaml",
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}-config\ndata:\n"
            f"  level: info\n  url: https://{app}.${{DOMAIN}}\n",
        )
        folders.append(base / "app")
    write(
        root / "kubernetes/apps/kustomization.yaml",
        "resources:\n" + "".join(f"  - ./{ns}\n" for ns in sorted(per_ns)),
    )
    for ns, names in per_ns.items():
        write(
            root / "kubernetes/apps" / ns / "namespace.yaml",
            f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n",
        )
        write(
            root / "kubernetes/apps" / ns / "kustomization.yaml",
            "resources:\n  - namespace.yaml\n" + "".join(f"  - ./{a}/ks.yaml\n" for a in names),
        )
    return folders


CPU: list[float] = []  # CPU seconds of each cli() run, the processes it started included


def cli(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gitops_actions", *args], cwd=root, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    after = os.times()
    CPU.append(
        after.children_user - before.children_user + after.children_system - before.children_system
    )
    return elapsed, done


def load() -> str:
    """The load average now (figures on a busy machine are inflated)."""
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def baseline(folders: list[Path]) -> float:
    """``kubectl kustomize`` of each folder, two at a time (``xargs -P 2``)."""
    start = time.perf_counter()
    subprocess.run(
        ["xargs", "-0", "-P", "2", "-n", "1", "sh", "-c", 'kubectl kustomize "$0" >/dev/null'],
        input="\0".join(map(str, folders)),
        text=True,
        check=True,
    )
    return time.perf_counter() - start


def best(runs: int, fn: object) -> float:
    return min(fn() for _ in range(runs))  # type: ignore[operator]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "config"
        folders = make_repo(root, args.apps, args.namespaces)
        repo = git.init(root)
        repo.add()
        repo.commit("initial")

        elapsed, done = cli(root, "validate", ".", "--format", "json")
        report = json.loads(done.stdout)
        coverage = report["coverage"]
        print(
            f"repo: {args.apps} apps; validate found {coverage['entryPoints']} entry points, "
            f"{coverage['resources']} resources, {report['summary']['errors']} errors"
        )
        del CPU[:]
        ours = min([elapsed] + [cli(root, "validate", ".")[0] for _ in range(args.runs - 1)])
        cpu = min(CPU)
        if shutil.which("kubectl"):
            theirs = best(args.runs, lambda: baseline(folders))
            print(
                f"validate, every entry point: {ours:.2f} s ({cpu:.2f} s CPU); kubectl kustomize "
                f"of each of the {len(folders)} folders, 2 in parallel (no kubeconform): "
                f"{theirs:.2f} s; ratio {ours / theirs:.2f} (target <= 0.3; load {load()})"
            )
        else:
            print(f"validate, every entry point: {ours:.2f} s (kubectl not installed: no baseline)")

        app = root / "kubernetes/apps/ns3/app013/app/helmrelease.yaml"
        app.write_text(app.read_text().replace("tag: 1.0.0", "tag: 1.0.1"))
        repo.add()
        repo.commit("bump one app")
        times = []
        del CPU[:]
        for _ in range(args.runs):
            elapsed, done = cli(root, "diff", "--repo", ".", "--format", "json")
            times.append(elapsed)
        report = json.loads(done.stdout)
        print(
            f"diff, one app changed: {min(times):.2f} s ({min(CPU):.2f} s CPU), rendered "
            f"{len(report['rendered'])}, {sum(len(a['changes']) for a in report['apps'])} "
            f"change(s) (target < 0.3 s; load {load()})"
        )

        component = root / "kubernetes/components/volsync/pvc.yaml"
        component.write_text(component.read_text().replace("ReadWriteOnce", "ReadWriteMany"))
        repo.add()
        repo.commit("edit a component")
        times = []
        del CPU[:]
        for _ in range(args.runs):
            elapsed, done = cli(root, "diff", "--repo", ".", "--format", "json")
            times.append(elapsed)
        report = json.loads(done.stdout)
        print(
            f"diff, a component every app uses: {min(times):.2f} s ({min(CPU):.2f} s CPU), "
            f"rendered {len(report['rendered'])}, {len(report['apps'])} app(s) changed "
            f"(target < 2 s; load {load()})"
        )
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import gitops_actions.cli"], check=True)
        print(f"(python start and import: {time.perf_counter() - start:.2f} s of each figure)")


if __name__ == "__main__":
    main()
