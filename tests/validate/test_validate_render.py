"""Kustomizations rendered with the real ``kubectl kustomize`` and findings traced back to
the files behind them; Helm charts rendered when ``helm`` is installed, skipped otherwise."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from gitops_actions.validate.runner import Request, validate

from support import base_env, helm_charts_tree, need, run_cli

DATA = Path(__file__).resolve().parent.parent / "data" / "validate"


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("kubectl") is None:
        need("kubectl (its built-in kustomize renders kustomizations)")
    root = tmp_path / "shop"
    shutil.copytree(DATA / "kustomize" / "shop", root)
    monkeypatch.chdir(root)
    return root


def lines(*paths: str) -> list[str]:
    outcome = validate(Request(paths=paths, workers=1))
    return [
        f"{f.file}:{f.line}:{f.column}: {f.check}: {f.message} [{f.origin}]"
        for f in outcome.findings
    ]


def test_findings_are_traced_to_the_base_file_and_the_patch(shop: Path) -> None:
    assert lines("overlays/prod") == [
        'base/deployment.yaml:15:11: schema: unknown field "imagePullPolcy" '
        "[kustomize overlays/prod]",
        "overlays/prod/extra.yaml:1:13: removed-api: policy/v1beta1 PodDisruptionBudget was "
        "removed in Kubernetes 1.25; use policy/v1 [kustomize overlays/prod]",
        'overlays/prod/replicas.yaml:6:13: schema: expected integer, got string "3" '
        "[kustomize overlays/prod]",
    ]


def test_files_under_a_kustomization_are_not_validated_raw(shop: Path) -> None:
    found = lines("base")
    assert found == [
        'base/deployment.yaml:15:11: schema: unknown field "imagePullPolcy" [kustomize base]'
    ]  # not-referenced.yaml, a bad file the kustomization does not list, is not checked


def test_walking_a_tree_renders_each_kustomization_and_skips_components(shop: Path) -> None:
    outcome = validate(Request(paths=(".",), workers=1))
    origins = sorted({f.origin for f in outcome.findings})
    # base is rendered through the overlay that applies it, not on its own
    assert origins == ["kustomize overlays/broken", "kustomize overlays/prod"]
    assert [s.file for s in outcome.skipped] == ["components/probes"]
    assert outcome.unusable == ("overlays/broken/kustomization.yaml",)
    [broken] = [f for f in outcome.findings if f.check == "render"]
    assert "missing.yaml" in broken.message and broken.file == "overlays/broken/kustomization.yaml"


def test_a_render_failure_is_unusable_input(shop: Path) -> None:
    done = run_cli("validate", "overlays/broken", cwd=shop)
    assert done.returncode == 2
    assert "overlays/broken/kustomization.yaml:1:1: cannot render:" in done.stderr


def test_a_kustomize_binary_is_preferred_when_installed(shop: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "kustomize.log"
    script(bin_dir / "kustomize", f'echo "$@" >> {log}\nshift\nexec kubectl kustomize "$@"\n')
    env = base_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    done = run_cli("validate", "base", cwd=shop, env=env)
    assert done.returncode == 1
    assert 'base/deployment.yaml:15:11: error: unknown field "imagePullPolcy"' in done.stdout
    calls = log.read_text().splitlines()  # base builds in-process; tracing runs kustomize
    assert calls and all(call.startswith("build ") for call in calls)


def script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


# -- Helm ------------------------------------------------------------------------------------
def test_a_chart_is_skipped_with_the_reason_when_helm_is_missing(tmp_path: Path) -> None:
    shutil.copytree(DATA / "helm", tmp_path / "charts")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()  # a PATH without helm
    done = run_cli("validate", "charts", cwd=tmp_path, env=base_env(PATH=str(bin_dir)))
    assert done.returncode == 0, done.stderr
    assert "charts/web: skipped: helm is not installed, so the chart was not rendered" in (
        done.stdout
    )
    assert "1 skipped" in done.stdout


RENDERED = """---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: release-web
spec:
  ports:
    - port: 80
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: release-web
spec:
  replicas: "2"
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx
"""


def test_helm_output_is_traced_to_its_template(tmp_path: Path) -> None:
    """``helm`` is not installable here: a stand-in prints what ``helm template`` prints
    for this chart, so the adapter (command, # Source: tracing) is what is tested."""
    shutil.copytree(DATA / "helm", tmp_path / "charts")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "rendered.yaml").write_text(RENDERED)
    log = tmp_path / "helm.log"
    script(bin_dir / "helm", f'echo "$@" > {log}\ncat {tmp_path / "rendered.yaml"}\n')
    env = base_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    done = run_cli("validate", "charts", cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stderr
    assert log.read_text().split() == ["template", "web", "charts/web"]
    assert (
        'charts/web/templates/deployment.yaml:6:1: error: expected integer, got string "2" '
        "[schema] (Deployment release-web, .spec.replicas, document 2, via helm charts/web)"
    ) in done.stdout


def test_a_kustomization_inflating_helm_charts_is_skipped_with_the_reason(
    tmp_path: Path,
) -> None:
    """kustomize inflates ``helmCharts`` only with ``--enable-helm``, downloading the chart:
    offline, the kustomization is reported as not rendered, not as broken input."""
    if shutil.which("kubectl") is None:
        need("kubectl (its built-in kustomize renders kustomizations)")
    helm_charts_tree(tmp_path)
    done = run_cli("validate", "apps", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["findings"] == []
    assert report["skipped"] == [
        {
            "file": "apps/dev/dashboard",
            "reason": "its helmCharts are inflated only by kustomize --enable-helm, which "
            "downloads the charts, so it was not rendered offline",
        }
    ]
    assert report["summary"]["resources"] == 1  # the Service beside it is still checked


@pytest.mark.parametrize(
    "remote",
    ["https://git.example.test/fleet//base?ref=v1", "https://files.example.test/app.yaml"],
)
def test_a_remote_base_out_of_reach_is_skipped_with_the_reason(remote: str, tmp_path: Path) -> None:
    """A base in another repo (an Argo CD autopilot bootstrap, a release's install.yaml)
    is fetched by kustomize; offline, the kustomization is reported as not rendered, not
    as broken input. (``.test`` hosts never resolve.)"""
    if shutil.which("kubectl") is None:
        need("kubectl (its built-in kustomize renders kustomizations)")
    (tmp_path / "apps/web").mkdir(parents=True)
    (tmp_path / "apps/web/kustomization.yaml").write_text("resources: [../base]\n")
    (tmp_path / "apps/base").mkdir(parents=True)
    (tmp_path / "apps/base/kustomization.yaml").write_text(f"resources: ['{remote}']\n")
    done = run_cli("validate", "apps", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["skipped"] == [
        {
            "file": "apps/web",
            "reason": f"its remote resource {remote} could not be fetched, so it was not rendered",
        }
    ]
