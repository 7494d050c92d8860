"""promote and rollback through the safe writer, against real bare remotes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_actions import git

from support import config_remote, run_cli, show

pytestmark = pytest.mark.component

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def overlay(tag: str, digest: str | None = None) -> str:
    pin = f"\n    digest: {digest}" if digest else ""
    return f"resources: [../../base]\nimages:\n  - name: r.test/shop\n    newTag: {tag}{pin}\n"


ENVS = {
    "apps/shop/overlays/staging/kustomization.yaml": overlay("1.4.0", D1),
    "apps/shop/overlays/prod/kustomization.yaml": overlay("1.3.0", D2),
    "clusters/prod/other.yaml": "image: r.test/other:1\n",  # a second directory named prod
}


def test_promote_copies_tag_and_digest_by_environment_name(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, ENVS)
    proc = run_cli(
        "promote",
        "--repo",
        str(remote),
        "--image",
        "r.test/shop",
        "--from",
        "staging",
        "--to",
        "prod",
        "--no-pull-request",
    )
    assert proc.returncode == 0, proc.stderr
    assert show(remote, "apps/shop/overlays/prod/kustomization.yaml") == overlay("1.4.0", D1)
    subject = git.Repo(remote).git("log", "-1", "--format=%s", "main").stdout.strip()
    assert subject == "promote shop 1.4.0 from staging to prod"


def test_promote_opens_a_pull_request_by_default(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, ENVS)
    forge = tmp_path / "forge"
    proc = run_cli(
        "promote",
        "--repo",
        str(remote),
        "--image",
        "r.test/shop",
        "--from",
        "apps/shop/overlays/staging",
        "--to",
        "apps/shop/overlays/prod",
        "--forge",
        "local",
        "--forge-dir",
        str(forge),
    )
    assert proc.returncode == 0, proc.stderr
    assert show(remote, "apps/shop/overlays/prod/kustomization.yaml") == overlay("1.3.0", D2)
    branch = "gitops/main/promote-shop-prod"
    assert show(remote, "apps/shop/overlays/prod/kustomization.yaml", branch) == overlay(
        "1.4.0", D1
    )
    assert (forge / "pulls" / "1.json").exists()


def test_promote_refuses_mixed_versions_and_downgrades(tmp_path: Path) -> None:
    files = dict(ENVS)
    files["apps/shop/overlays/staging/extra.yaml"] = "image: r.test/shop:1.5.0\n"
    remote = config_remote(tmp_path, files)
    mixed = run_cli(
        "promote",
        "--repo",
        str(remote),
        "--image",
        "r.test/shop",
        "--from",
        "staging",
        "--to",
        "prod",
        "--no-pull-request",
    )
    assert mixed.returncode == 1
    assert "holds several versions of r.test/shop" in mixed.stderr
    down = run_cli(
        "promote",
        "--repo",
        str(remote),
        "--image",
        "r.test/shop",
        "--from",
        "prod",
        "--to",
        "apps/shop/overlays/staging/kustomization.yaml",
        "--no-pull-request",
    )
    assert down.returncode == 1
    assert "refusing to downgrade r.test/shop from 1.4.0 to 1.3.0" in down.stderr
    assert git.Repo(remote).git("rev-list", "--count", "main").stdout.strip() == "1"


def test_rollback_reverts_a_bump_on_a_newer_tip(tmp_path: Path) -> None:
    remote = config_remote(
        tmp_path,
        {"a/deploy.yaml": "image: r.test/a:1.0.0\n", "b/deploy.yaml": "image: r.test/b:1.0.0\n"},
    )
    assert run_cli("bump", "--repo", str(remote), "--image", "r.test/a:1.1.0").returncode == 0
    bad = git.Repo(remote).head_sha("main")
    assert run_cli("bump", "--repo", str(remote), "--image", "r.test/b:2.0.0").returncode == 0
    proc = run_cli("rollback", "--repo", str(remote), "--commit", bad)
    assert proc.returncode == 0, proc.stderr
    assert show(remote, "a/deploy.yaml") == "image: r.test/a:1.0.0\n"
    assert show(remote, "b/deploy.yaml") == "image: r.test/b:2.0.0\n"  # later work kept
    message = git.Repo(remote).git("log", "-1", "--format=%B", "main").stdout
    assert message.startswith(f'Revert "bump a to 1.1.0"\n\nThis reverts commit {bad}.\n')
    again = run_cli("rollback", "--repo", str(remote), "--commit", bad)
    assert again.returncode == 0 and "nothing to change" in again.stdout


def test_rollback_refuses_a_conflicting_revert(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    run_cli("bump", "--repo", str(remote), "--image", "r.test/a:1.1.0")
    first = git.Repo(remote).head_sha("main")
    run_cli("bump", "--repo", str(remote), "--image", "r.test/a:1.2.0")
    tip = git.Repo(remote).head_sha("main")
    proc = run_cli("rollback", "--repo", str(remote), "--commit", first)
    assert proc.returncode == 1
    assert "cannot revert" in proc.stderr and "cleanly" in proc.stderr
    assert git.Repo(remote).head_sha("main") == tip


def test_rollback_to_a_reference(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.2.0\n"})
    proc = run_cli("rollback", "--repo", str(remote), "--image", "r.test/a", "--to", "1.1.0")
    assert proc.returncode == 0, proc.stderr
    assert show(remote, "a.yaml") == "image: r.test/a:1.1.0\n"
    assert (
        git.Repo(remote).git("log", "-1", "--format=%s", "main").stdout.strip()
        == "roll back a to 1.1.0"
    )


def test_rollback_needs_one_mode(tmp_path: Path) -> None:
    proc = run_cli("rollback", "--repo", str(tmp_path))
    assert proc.returncode == 2
    assert "give either --commit SHA, or --image REPO with --to REF" in proc.stderr


def test_unprotected_targets_are_committed_directly(tmp_path: Path) -> None:
    files = dict(ENVS)
    files["apps/shop/overlays/qa/kustomization.yaml"] = overlay("1.0.0")
    remote = config_remote(tmp_path, files)
    forge = tmp_path / "forge"
    proc = run_cli(
        "promote",
        "--repo",
        str(remote),
        "--image",
        "r.test/shop",
        "--from",
        "staging",
        "--to",
        "qa",
        "--forge",
        "local",
        "--forge-dir",
        str(forge),
    )
    assert proc.returncode == 0, proc.stderr
    assert show(remote, "apps/shop/overlays/qa/kustomization.yaml") == overlay("1.4.0", D1)
    assert not forge.exists()
    guarded = run_cli(
        "promote",
        "--repo",
        str(remote),
        "--image",
        "r.test/shop",
        "--from",
        "staging",
        "--to",
        "qa",
        "--protected",
        "qa",
        "--forge",
        "local",
        "--forge-dir",
        str(forge),
        "--allow-downgrade",
    )
    assert guarded.returncode == 0, guarded.stderr
    assert "nothing to change" in guarded.stdout  # qa has it already: no pull request needed
