"""Charts and OCI artifacts: what bump says about what it leaves alone."""

from __future__ import annotations

import shutil
from pathlib import Path

from support import run_cli

DATA = Path(__file__).resolve().parent.parent / "data" / "bump"


def test_semver_ranges_are_left_alone_and_said_so(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(DATA / "oci-repository-force-pin" / "input", repo)
    proc = run_cli(
        "bump", "--repo", str(repo), "--no-commit", "--image", "ghcr.io/acme/manifests/shop:1.1.0"
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "note: OCIRepository/shop-ranged spec.ref: semver '>=1.0.0' is a range; left alone "
        "(--force-pin pins it)" in proc.stdout
    )
    assert "output changed=false" in proc.stdout
    assert "already up to date" not in proc.stdout
    assert (
        "nothing to change (left alone: OCIRepository/shop-ranged spec.ref: semver" in proc.stdout
    )
    assert (repo / "source.yaml").read_bytes() == (
        DATA / "oci-repository-force-pin" / "input" / "source.yaml"
    ).read_bytes()


def test_chart_version_ranges_are_said_so(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(DATA / "helmrelease-helmrepository" / "input", repo)
    proc = run_cli(
        "bump", "--repo", str(repo), "--no-commit", "--image", "charts.example.com/shop:1.1.0"
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "HelmRelease/shop-ranged spec.chart.spec.version: '>=1.0.0 <2.0.0' is a semver "
        "range; left alone" in proc.stdout
    )
    assert "version: 1.1.0  # chart version" in (repo / "apps" / "releases.yaml").read_text()


def test_removed_digest_pin_is_said_so(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(DATA / "helm-values-tag-only-drops-pin" / "input", repo)
    proc = run_cli("bump", "--repo", str(repo), "--no-commit", "--image", "ghcr.io/acme/shop:1.1.0")
    assert proc.returncode == 0, proc.stderr
    assert "digest pin removed (the new reference has no digest)" in proc.stdout


HELM_REPOSITORY = """apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  url: https://charts.example.com
"""


def test_a_helm_release_without_a_chart_version_says_so(tmp_path: Path) -> None:
    (tmp_path / "repo.yaml").write_text(HELM_REPOSITORY)
    (tmp_path / "release.yaml").write_text(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: shop\n"
        "  namespace: flux-system\nspec:\n  chart:\n    spec:\n      chart: shop\n"
        "      sourceRef:\n        kind: HelmRepository\n        name: charts\n"
    )
    before = (tmp_path / "release.yaml").read_bytes()
    proc = run_cli(
        "bump", "--repo", str(tmp_path), "--no-commit", "--image", "charts.example.com/shop:1.1.0"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing references" not in proc.stdout + proc.stderr
    assert "HelmRelease/shop spec.chart.spec.version: not set" in proc.stdout
    assert "already up to date" not in proc.stdout
    assert (tmp_path / "release.yaml").read_bytes() == before


def test_helm_values_without_a_digest_field_say_the_digest_is_not_written(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("image:\n  repository: r.test/shop\n  tag: 1.0.0\n")
    digest = "sha256:" + "ab" * 32
    proc = run_cli(
        "bump", "--repo", str(tmp_path), "--no-commit", "--image", f"r.test/shop:1.1.0@{digest}"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "note: warning: values.yaml:3 values r.test/shop: no digest: field" in proc.stdout
    assert "output new-ref=r.test/shop:1.1.0\n" in proc.stdout  # the digest is not claimed
    assert (
        tmp_path / "values.yaml"
    ).read_text() == "image:\n  repository: r.test/shop\n  tag: 1.1.0\n"


def test_setter_parts_are_reported_as_whole_references(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text(
        "image:\n"
        '  repository: ghcr.io/acme/app # {"$imagepolicy": "flux-system:app:name"}\n'
        '  tag: 1.0.0 # {"$imagepolicy": "flux-system:app:tag"}\n'
    )
    proc = run_cli(
        "bump", "--repo", str(tmp_path), "--no-commit",
        "--setter", "flux-system:app=ghcr.io/acme/app2:1.1.0",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "output old-ref=ghcr.io/acme/app:1.0.0\n" in proc.stdout
    assert "output new-ref=ghcr.io/acme/app2:1.1.0\n" in proc.stdout
