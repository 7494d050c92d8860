"""The demo end to end, with the throwaway Docker engine and registry."""

from __future__ import annotations

import json
import shutil
import subprocess
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
    # the bump and promote sections say what they did, right where they ran
    bump_section = proc.stdout.split("== bump ", 1)[1].split("== ", 1)[0]
    assert "bump dev: committed " in bump_section
    assert "  changed apps/shop/overlays/dev/kustomization.yaml" in bump_section
    assert ":9.9.9@sha256:" in bump_section and " -> " in bump_section
    promote_section = proc.stdout.split("== promote ", 1)[1].split("== ", 1)[0]
    assert "promote dev to prod: pull request " in promote_section
    assert "  pull request file://" in promote_section
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


def _demo_script(tmp_path: Path, setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    """scripts/demo.sh copied beside a stand-in setup.sh and installed command, then run."""
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "scripts").mkdir()
    shutil.copy(root / "scripts" / "demo.sh", tmp_path / "scripts" / "demo.sh")
    (tmp_path / "scripts" / "setup.sh").write_text(setup)
    cli = tmp_path / ".venv" / "bin" / "gitops-actions"
    cli.parent.mkdir(parents=True)
    cli.write_text('#!/bin/sh\necho "the demo runs: $*"\n')
    cli.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    script = str(tmp_path / "scripts" / "demo.sh")
    return subprocess.run(
        ["bash", script, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_demo_script_sends_the_installation_to_a_log_and_says_so(tmp_path: Path) -> None:
    setup = "for i in $(seq 500); do echo pip line $i; done\n"
    proc = _demo_script(tmp_path, setup, "--no-docker")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("demo: installing packages (log: ") and lines[0].endswith("done")
    assert lines[1:] == ["the demo runs: demo --no-docker"]
    log = Path(lines[0].split("(log: ", 1)[1].split(")", 1)[0])
    assert log.read_text().count("pip line") == 500


def test_demo_script_shows_the_end_of_the_log_when_installation_fails(tmp_path: Path) -> None:
    proc = _demo_script(tmp_path, "echo early; echo 'no such package: x'; exit 3\n")
    assert proc.returncode == 1
    assert "failed; the end of the log:" in proc.stdout and "no such package: x" in proc.stdout
    assert "the demo runs" not in proc.stdout
