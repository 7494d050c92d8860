"""flux-operator: its kinds are checked against the schemas written for them, and a repo
holding a FluxInstance may name the operator's kinds in Alerts and Receivers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_actions.validate import schemas
from gitops_actions.validate.runner import Request, validate

INSTANCE = """\
apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata:
  name: flux
  namespace: flux-system
  annotations:
    fluxcd.controlplane.io/reconcileEvery: "1h"
spec:
  distribution:
    version: "2.x"
    registry: ghcr.io/fluxcd
    artifact: oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests
  components: [source-controller, kustomize-controller, helm-controller, notification-controller]
  cluster:
    type: kubernetes
    size: medium
    multitenant: false
    networkPolicy: true
    domain: cluster.local
  kustomize:
    patches:
      - target: {kind: Deployment}
        patch: |
          - op: replace
            path: /spec/template/spec/nodeSelector
            value: {role: flux}
  sync:
    kind: GitRepository
    url: https://github.com/example/fleet.git
    ref: refs/heads/main
    path: clusters/staging
    interval: 1m
"""

TENANTS = """\
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSetInputProvider
metadata: {name: previews, namespace: apps}
spec:
  type: GitHubPullRequest
  url: https://github.com/example/app
  secretRef: {name: github-token}
  filter: {labels: [deploy/flux-preview], limit: 10}
  schedule:
    - cron: "*/10 * * * *"
      timeZone: UTC
      window: 5m
---
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: previews, namespace: apps}
spec:
  inputsFrom:
    - kind: ResourceSetInputProvider
      name: previews
  dependsOn:
    - {apiVersion: fluxcd.controlplane.io/v1, kind: ResourceSet, name: infra, ready: true}
  resources:
    - apiVersion: v1
      kind: Namespace
      metadata:
        name: app-<< inputs.id >>
"""

ALERTS = """\
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: slack, namespace: flux-system}
spec: {type: slack, channel: flux}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: flux, namespace: flux-system}
spec:
  providerRef: {name: slack}
  eventSources:
    - {kind: FluxInstance, name: flux}
    - {kind: ResourceSet, name: '*'}
    - {kind: Kustomization, name: '*'}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: github, namespace: flux-system}
spec:
  type: github
  secretRef: {name: webhook-token}
  resources:
    - {kind: ResourceSetInputProvider, name: previews, namespace: apps}
"""


def fleet(root: Path, instance: str | None = INSTANCE) -> Path:
    files = {
        "clusters/staging/tenants.yaml": TENANTS,
        "clusters/staging/notifications.yaml": ALERTS,
    }
    if instance is not None:
        files["clusters/staging/flux-system/flux-instance.yaml"] = instance
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def findings(root: Path) -> list[str]:
    outcome = validate(Request(paths=(str(root),), workers=1, repo_url="https://x.test/fleet"))
    return [
        f"{Path(f.file).relative_to(root)}:{f.line}: {f.check}: {f.message}"
        for f in outcome.findings
    ]


def test_a_flux_operator_fleet_validates(tmp_path: Path) -> None:
    assert findings(fleet(tmp_path)) == []


def test_alerts_and_receivers_name_operator_kinds_only_with_a_flux_instance(
    tmp_path: Path,
) -> None:
    found = findings(fleet(tmp_path, instance=None))
    assert len(found) == 3 and all("notifications.yaml" in f for f in found), found
    assert sum("FluxInstance" in f for f in found) == 1
    assert sum("ResourceSetInputProvider" in f for f in found) == 1


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ('    version: "2.x"\n', "", "version"),
        ("kustomize-controller,", "flux-controller,", "flux-controller"),
        ("type: kubernetes", "type: k3s", "k3s"),
        ("size: medium", "size: huge", "huge"),
        ("interval: 1m", "interval: 1 minute", "1 minute"),
        ("kind: GitRepository", "kind: HelmRepository", "HelmRepository"),
        ("artifact: oci://", "artifact: https://", "https://"),
        ("    networkPolicy: true", "    networkPolicy: yes-please", "yes-please"),
        ("  sync:\n", "  synch: {}\n  sync:\n", "synch"),
    ],
)
def test_a_wrong_flux_instance_field_is_caught(
    old: str, new: str, where: str, tmp_path: Path
) -> None:
    assert old in INSTANCE
    found = findings(fleet(tmp_path, INSTANCE.replace(old, new, 1)))
    assert len(found) == 1 and "flux-instance.yaml" in found[0] and where in found[0], found


def test_the_operator_schemas_are_our_own_and_ship_beside_the_generated_ones() -> None:
    for kind in ("FluxInstance", "ResourceSet", "ResourceSetInputProvider"):
        [bundled] = schemas.bundled_kinds("fluxcd.controlplane.io", kind)
        assert bundled.api_version == "fluxcd.controlplane.io/v1" and bundled.namespaced
        written = json.loads(
            (schemas.WRITTEN / bundled.api_version.split("/")[0] / f"{kind}.json").read_text()
        )
        assert written["source"].startswith("written for gitops-actions")
    assert not (schemas.BUNDLED / "fluxcd.controlplane.io").exists()  # never generated


CHART_SOURCE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: operator-instance, namespace: flux-system}
spec:
  interval: 1h
  url: oci://registry.example.test/charts/flux-instance
  ref: {tag: 0.1.0}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: operator-instance, namespace: flux-system}
spec:
  interval: 1h
  chartRef: {kind: OCIRepository, name: operator-instance}
  values:
    instance:
      distribution: {version: 2.x}
"""

CHART_RELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: instance, namespace: flux-system}
spec:
  interval: 1h
  chart:
    spec:
      chart: flux-instance
      sourceRef: {kind: HelmRepository, name: operator}
"""

CHART_APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: flux, namespace: argocd}
spec:
  project: default
  source:
    repoURL: registry.example.test/charts
    chart: flux-instance
    targetRevision: 0.1.0
  destination: {server: https://kubernetes.default.svc, namespace: flux-system}
"""


@pytest.mark.parametrize("chart", [CHART_SOURCE, CHART_RELEASE, CHART_APPLICATION])
def test_the_flux_instance_chart_installs_flux_as_a_flux_instance_does(
    chart: str, tmp_path: Path
) -> None:
    """The FluxInstance made by the operator's chart is in no file of the repo; the chart's
    source says the operator installs Flux, so the Alert may name its kinds."""
    root = fleet(tmp_path, instance=None)
    (root / "clusters/staging/flux-instance.yaml").write_text(chart)
    assert findings(root) == []
