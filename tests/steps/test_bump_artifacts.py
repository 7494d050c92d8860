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
