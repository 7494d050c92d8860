"""The demo end to end, with the throwaway Docker engine and registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_actions import git
from gitops_actions.sandbox import DockerSandbox

from support import need, run_cli

pytestmark = pytest.mark.component


def test_demo_runs_the_pipeline(tmp_path: Path) -> None:
    reason = DockerSandbox.why_not()
    if reason:
        need(reason)
    work = tmp_path / "demo"
    proc = run_cli("demo", "--workdir", str(work), "--tag", "9.9.9")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "build: built, pushed and verified 127.0.0.1:" in proc.stdout
    ref = next(line for line in proc.stdout.splitlines() if line.startswith("output image-ref="))
    assert ":9.9.9@sha256:" in ref
    config = git.Repo(work / "remotes" / "config.git")
    tree = config.git("ls-tree", "-r", "--name-only", "main").stdout.split()
    assert "apps/shop/overlays/prod/kustomization.yaml" in tree
    assert "argocd/shop-prod.yaml" in tree
    # the example config points at the registry the demo started
    registry = ref.split("=", 1)[1].split("/", 1)[0]
    values = config.git("show", "main:apps/payments/values.yaml").stdout
    assert f"repository: {registry}/demo/payments" in values
    assert (work / "forge" / "comments").is_dir()
    # bump landed the exact built reference in dev; promote opened a pull request for prod
    dev = config.git("show", "main:apps/shop/overlays/dev/kustomization.yaml").stdout
    image_ref = ref.split("=", 1)[1]
    digest = image_ref.split("@")[1]
    assert "    newTag: 9.9.9\n" in dev and f"    digest: {digest}\n" in dev
    prod = config.git(
        "show", "gitops/main/promote-shop-prod:apps/shop/overlays/prod/kustomization.yaml"
    ).stdout
    assert f"    digest: {digest}\n" in prod
    assert (work / "forge" / "pulls" / "1.json").exists()
    # the pull request was diffed offline and the diff posted as a sticky comment
    posted = (work / "forge" / "comments" / "1" / "config-1.md").read_text()
    assert "<!-- gitops-actions:diff:config -->" in posted
    assert "Deployment shop-prod/shop" in posted and digest in posted


def test_demo_refuses_a_non_empty_workdir(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    proc = run_cli("demo", "--workdir", str(tmp_path), "--no-docker")
    assert proc.returncode == 2
    assert "not empty" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_demo_hands_off_to_the_stand_in_agent_and_records_the_deployment(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    proc = run_cli("demo", "--workdir", str(work), "--no-docker")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sha = git.Repo(work / "remotes" / "config.git").head_sha("main")
    assert f"shop-dev: pending, OutOfSync, Healthy, at {sha[:12]}, operation Running" in proc.stdout
    assert f"handoff: 1 app(s) live at {sha[:12]} after 2." in proc.stdout
    record = json.loads((work / "forge" / "deployments" / "1.json").read_text())
    assert record["sha"] == sha and record["environment"] == "shop-dev"
    assert [s["state"] for s in record["statuses"]] == ["in_progress", "success"]
