"""What a run reads: for validating, a changed application's kustomize closure only; for
discovery, files parsed in earlier runs are not parsed again."""

from __future__ import annotations

import io
import json
from pathlib import Path

from gitops_actions import git
from gitops_actions.diff.tree import GitTree
from gitops_actions.serve.run import RunConfig, Runner, kustomize_inputs
from gitops_actions.serve.store import SqliteStore
from gitops_actions.serve.telemetry import Log

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {app}}}\ndata: {{n: '{value}'}}\n"


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


def test_parsed_files_kept_between_runs_follow_each_head(tmp_path: Path) -> None:
    work = git.init(tmp_path / "repo")
    for app in ("web", "api"):
        (work.path / "apps" / app).mkdir(parents=True)
        (work.path / "apps" / app / "kustomization.yaml").write_text(
            "resources: [cm.yaml]\nnamespace: shop\n"
        )
        (work.path / "apps" / app / "cm.yaml").write_text(CONFIGMAP.format(app=app, value=1))
    work.add()
    base = work.commit("apps")
    config = RunConfig("github", "http://127.0.0.1:9", "t", tmp_path / "state", {"PATH": "/bin"})
    runner = Runner(config, SqliteStore(tmp_path / "db", "me"), Log(io.StringIO()))
    seen = []
    for value, kustomization in ((2, None), (3, "resources: [cm.yaml]\nnamespace: other\n")):
        (work.path / "apps/web/cm.yaml").write_text(CONFIGMAP.format(app="web", value=value))
        if kustomization:
            (work.path / "apps/web/kustomization.yaml").write_text(kustomization)
        work.add()
        head = work.commit(f"web {value}")
        scratch = tmp_path / f"scratch-{value}"
        scratch.mkdir()
        diff = runner._diff(work.path, base, head, scratch, "acme/config")
        seen.append(json.dumps(diff.to_dict(), sort_keys=True))
    cached = runner.parsed("acme/config")
    assert cached and cached is runner.parsed("acme/config")
    assert "apps/api" not in seen[0] and "n: '2'" in seen[0]
    assert "n: '3'" in seen[1] and "ConfigMap/other/web" in seen[1]  # the second head's
    assert runner.parsed("other/repo") == {} and runner.parsed("acme/config") is cached
