"""What validating a changed application needs from the head: its kustomize closure only."""

from __future__ import annotations

from pathlib import Path

from gitops_actions import git
from gitops_actions.diff.tree import GitTree
from gitops_actions.serve.run import kustomize_inputs


def test_closure_of_an_overlay_reads_only_what_it_references(tmp_path: Path) -> None:
    files = {
        "apps/web/base/kustomization.yaml": "resources: [deployment.yaml]\n",
        "apps/web/base/deployment.yaml": "kind: Deployment\n",
        "apps/web/overlays/prod/kustomization.yaml": (
            "resources: [../../base, ../../../../shared/ns.yaml]\n"
            "patches: [{path: replicas.yaml}]\n"
            "configMapGenerator: [{name: c, files: [conf=settings.ini]}]\n"
        ),
        "apps/web/overlays/prod/replicas.yaml": "kind: Deployment\n",
        "apps/web/overlays/prod/settings.ini": "a=1\n",
        "apps/other/kustomization.yaml": "resources: [broken.yaml]\n",
        "shared/ns.yaml": "kind: Namespace\n",
    }
    work = git.init(tmp_path / "repo")
    for rel, text in files.items():
        (work.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (work.path / rel).write_text(text)
    work.add()
    head = work.commit("apps")
    tree = GitTree(work, head, tmp_path)
    assert kustomize_inputs(tree, ["apps/web/overlays/prod"]) == [
        "apps/web/base",
        "apps/web/base/deployment.yaml",
        "apps/web/overlays/prod",
        "apps/web/overlays/prod/replicas.yaml",
        "apps/web/overlays/prod/settings.ini",
        "shared/ns.yaml",
    ]
    assert kustomize_inputs(tree, ["plain/dir"]) == ["plain/dir"]
