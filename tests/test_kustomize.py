"""The in-process kustomize subset renders exactly what kubectl kustomize renders."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_actions import kustomize
from gitops_actions.proc import run

from support import need

pytestmark = pytest.mark.component
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64

BASE = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, labels: {{app: web}}}}
spec:
  replicas: 1
  template:
    spec:
      initContainers: [{{name: init, image: "r.test/x:1@{A}"}}]
      containers:
        - {{name: a, image: r.test/x:1}}
        - {{name: b, image: r.test/x}}
        - {{name: c, image: docker.io/r.test/x:1}}
        - {{name: d, image: other:1}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: original}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {{name: w, namespace: elsewhere}}
spec: {{containers: [{{name: z, image: "r.test/x:2"}}], image: r.test/x:3}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: reader}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec: {{ports: [{{port: 80}}]}}
"""

OVERLAYS = {
    "tag-and-digest": f"images:\n  - name: r.test/x\n    newTag: '2.0'\n    digest: {B}\n",
    "tag": "images:\n  - name: r.test/x\n    newTag: '3'\n",
    "digest": f"images:\n  - name: r.test/x\n    digest: {B}\n",
    "new-name": "images:\n  - name: r.test/x\n    newName: r.test/y\n",
    "new-name-and-tag": "images:\n  - name: r.test/x\n    newName: r.test/y\n    newTag: '4'\n",
    "namespace-replicas": "namespace: prod\nreplicas:\n  - name: web\n    count: 5\n",
}


def kubectl(folder: Path) -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        need("kubectl is not installed")
    out = run(["kubectl", "kustomize", str(folder)]).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def key(resource: dict[str, Any]) -> str:
    return yaml.safe_dump(resource, sort_keys=True)


@pytest.mark.parametrize("case", sorted(OVERLAYS))
def test_matches_kubectl(case: str, tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "all.yaml").write_text(BASE)
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [all.yaml]\n")
    middle = tmp_path / "mid"
    middle.mkdir()
    (middle / "kustomization.yaml").write_text("resources: [../base]\n")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text("resources:\n  - ../mid\n" + OVERLAYS[case])
    ours = kustomize.build(overlay, tmp_path)
    assert sorted(map(key, ours)) == sorted(map(key, kubectl(overlay)))


def test_examples_match_kubectl(tmp_path: Path) -> None:
    with resources.as_file(resources.files("gitops_actions") / "examples" / "config") as src:
        shutil.copytree(src, tmp_path / "config")
    for env in ("dev", "staging", "prod"):
        folder = tmp_path / "config" / "apps" / "shop" / "overlays" / env
        with pytest.raises(kustomize.Unsupported):  # `replicas` plus fields outside the subset
            kustomize.build(folder / ".." / ".." / "base" / "missing", tmp_path)
        ours = kustomize.build(folder, tmp_path)
        assert sorted(map(key, ours)) == sorted(map(key, kubectl(folder)))


@pytest.mark.parametrize(
    "extra",
    [
        "commonLabels: {a: b}\n",
        "namePrefix: x-\n",
        "patches: [{path: p.yaml}]\n",
        "resources: [https://x/y]\n",
    ],
)
def test_anything_else_is_left_to_kustomize(extra: str, tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(extra)
    with pytest.raises(kustomize.Unsupported):
        kustomize.build(tmp_path, tmp_path)
