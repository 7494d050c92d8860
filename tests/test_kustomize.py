"""The in-process kustomize subset renders exactly what kubectl kustomize renders."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from gitops_actions import kustomize
from gitops_actions.diff import compare
from gitops_actions.proc import run
from gitops_actions.yamlread import loader

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
    return [d for d in loader.read_values(out, "kubectl output") if d]


def key(resource: dict[str, Any]) -> str:
    """A resource serialised: equal keys mean byte-equal documents."""
    return compare.dump(resource)


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


# scalars that YAML 1.1, YAML 1.2 and go-yaml read differently (.inf and .nan are left
# out: kustomize cannot render them, JSON has no such numbers)
SENSITIVE = (
    *("1:20", "1:25", "on", "On", "off", "y", "n", "yes", "NO", "1e3", "1.5e-3", "12e03"),
    *("0o644", "0755", "0x1F", "0x_1F", "08", "010", "0b101", "+12", "-0", "+.5", "1."),
    *("12.0", "1.10", "0.1e-5", "1e21", "1_000", "~", "null", "true", "False", "=", ""),
    *("9223372036854775808", "18446744073709551616", "-9223372036854775809"),
    *("2024-05-01", "2024-5-1", "2024-02-30", "2024-05-01T12:00:00Z", "2024-05-01T1:2:3Z"),
    *("2024-05-01t01:02:03.500+02:00", "2024-05-01 01:02:03.120", "2024-05-01T01:02:03+00:00"),
    *("2024-05-01T01:02:03.1234567891Z", "2024-05-01T01:02:03-05:30", "2001-12-14 21:59:43.10 -5"),
)


def _fields(indent: str) -> str:
    lines = []
    for index, text in enumerate(SENSITIVE):
        lines.append(f"{indent}plain{index}: {text}")
        lines.append(f'{indent}double{index}: "{text}"')
        lines.append(f"{indent}single{index}: '{text}'")
    return "\n".join(lines) + "\n"


def test_scalars_are_read_as_kubectl_renders_them(tmp_path: Path) -> None:
    """In-process output equals kubectl kustomize's, byte for byte once serialised, for
    every YAML 1.1-sensitive scalar, plain and quoted, in a resource and in HelmRelease
    values: which renderer ran never shows up in a diff."""
    (tmp_path / "widget.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n"
        + _fields("  ")
        + "  list: ["
        + ", ".join(t or "''" for t in SENSITIVE)
        + "]\n"
        + "  flowmap: {"
        + ", ".join(f"k{i}: " + (t or "''") for i, t in enumerate(SENSITIVE))
        + "}\n"
    )
    (tmp_path / "release.yaml").write_text(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: r\n"
        "spec:\n  chart:\n    spec: {chart: app, version: 1.0.0}\n  values:\n" + _fields("    ")
    )
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [widget.yaml, release.yaml]\nnamespace: prod\n"
    )
    ours = sorted(map(key, kustomize.build(tmp_path, tmp_path)))
    theirs = sorted(map(key, kubectl(tmp_path)))
    assert ours == theirs
    [widget] = [r for r in kustomize.build(tmp_path, tmp_path) if r["kind"] == "Widget"]
    spec = widget["spec"]
    index = SENSITIVE.index
    assert spec[f"plain{index('1:20')}"] == "1:20"  # no sexagesimal: not 80
    assert spec[f"plain{index('on')}"] == "on"  # kustomize reads YAML 1.2: not True
    assert spec[f"plain{index('0o644')}"] == 420 and spec[f"plain{index('0755')}"] == 493
    assert spec[f"plain{index('2024-05-01')}"] == "2024-05-01T00:00:00Z"  # a Go time
    assert spec[f"plain{index('=')}"] == "="


def test_overlays_sharing_a_base_each_get_their_own_resources(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base/deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: web\n          image: web:1\n"
    )
    (tmp_path / "base/kustomization.yaml").write_text("resources:\n  - deploy.yaml\n")
    built = {}
    for env, tag in (("dev", "2"), ("prod", "3"), ("qa", None)):
        (tmp_path / env).mkdir()
        images = f"images:\n  - name: web\n    newTag: '{tag}'\n" if tag else ""
        (tmp_path / env / "kustomization.yaml").write_text(
            f"resources:\n  - ../base\nnamespace: {env}\n{images}"
        )
        built[env] = kustomize.build(tmp_path / env, tmp_path)
    found = {
        env: (d["metadata"]["namespace"], d["spec"]["template"]["spec"]["containers"][0]["image"])
        for env, [d] in built.items()
    }
    assert found == {"dev": ("dev", "web:2"), "prod": ("prod", "web:3"), "qa": ("qa", "web:1")}
