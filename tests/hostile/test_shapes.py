"""Agent objects whose list fields hold something else, generated.

A Flux Kustomization, a HelmRelease, an Argo CD Application and an ApplicationSet of one
repo: each field the agent reads as a list is set, in turn, to a number and to a string
(which must not be read as a list of its characters). validate and ``diff --all`` report
it as the agent would (its schema or its renderer refuses it) or read past it, within the
harness's bounds: never a crash.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_actions import git
from hostile import judge, run

URL = "https://github.com/example/fleet.git"
SOURCE = {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}
PATCH = "- op: add\n  path: /metadata/labels/x\n  value: y\n"
OBJECTS: dict[str, dict[str, Any]] = {
    "clusters/prod/sync.yaml": {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {"url": URL, "ref": {"branch": "main"}, "interval": "1m"},
    },
    "clusters/prod/apps.yaml": {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {
            "path": "./apps/web",
            "sourceRef": SOURCE,
            "interval": "1m",
            "prune": True,
            "components": ["../../components/c"],
            "images": [{"name": "web", "newTag": "2"}],
            "patches": [{"patch": PATCH, "target": {"kind": "ConfigMap"}}],
            "postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]},
        },
    },
    "clusters/prod/vars.yaml": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "vars", "namespace": "flux-system"},
        "data": {"APP": "web"},
    },
    "clusters/prod/release.yaml": {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "chart", "namespace": "web"},
        "spec": {
            "interval": "1m",
            "chart": {
                "spec": {"chart": "./charts/c", "sourceRef": SOURCE, "valuesFiles": ["v.yaml"]}
            },
            "valuesFrom": [{"kind": "ConfigMap", "name": "vars", "valuesKey": "APP"}],
        },
    },
    "argocd/app.yaml": {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "app", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "sources": [
                {
                    "repoURL": URL,
                    "path": "apps/web",
                    "kustomize": {
                        "images": ["web:3"],
                        "patches": [{"patch": PATCH, "target": {"kind": "ConfigMap"}}],
                        "components": ["../../components/c"],
                    },
                },
                {
                    "repoURL": URL,
                    "path": "charts/c",
                    "helm": {"valueFiles": ["v.yaml"], "parameters": [{"name": "a", "value": "1"}]},
                },
            ],
            "destination": {"namespace": "web", "server": "https://kubernetes.default.svc"},
        },
    },
    "argocd/set.yaml": {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "set", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [
                {
                    "matrix": {
                        "generators": [
                            {"list": {"elements": [{"env": "prod"}]}},
                            {"git": {"repoURL": URL, "directories": [{"path": "apps/*"}]}},
                        ]
                    }
                }
            ],
            "template": {
                "metadata": {"name": "{{.env}}-{{.path.basename}}"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": URL, "path": "{{.path.path}}"},
                    "destination": {"namespace": "{{.path.basename}}"},
                },
            },
        },
    },
}
FILES = {
    "apps/web/kustomization.yaml": "resources: [cm.yaml]\n",
    "apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-${APP}\n",
    "components/c/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [c.yaml]\n"
    ),
    "components/c/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: component\n",
    "charts/c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n",
    "charts/c/v.yaml": "a: 0\n",
    "charts/c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chart\n",
}


def lists(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every list in ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, list):
            yield (*at, key)
        if isinstance(value, dict | list):
            yield from lists(value, (*at, key))


CASES = {
    f"{file} {'.'.join(map(str, path))}={bad!r}": (file, path, bad)
    for file, obj in OBJECTS.items()
    for path in lists(obj.get("spec", {}), ("spec",))
    for bad in (5, "abc")
}


def write(root: Path, objects: dict[str, dict[str, Any]]) -> None:
    for path, text in FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    for path, obj in objects.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(yaml.safe_dump(obj, sort_keys=False))


def test_every_list_field_is_found() -> None:
    assert len(CASES) >= 34, sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_list_field_of_another_shape(case: str, tmp_path: Path) -> None:
    file, path, bad = CASES[case]
    repo = git.init(tmp_path / "repo")
    repo.git("remote", "add", "origin", URL)
    write(repo.path, OBJECTS)
    repo.add()
    repo.commit("fleet")
    objects = copy.deepcopy(OBJECTS)
    node: Any = objects[file]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    write(repo.path, objects)
    repo.add()
    repo.commit("hostile")
    judge(run("validate", ".", cwd=repo.path))
    judge(run("diff", "--repo", ".", "--all", cwd=repo.path))
