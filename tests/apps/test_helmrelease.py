"""Flux HelmReleases of a chart in the repo: values composed as helm-controller does."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from gitops_actions import apps
from gitops_actions.apps import helmvalues
from gitops_actions.secrets import REDACTOR

PASSWORD = "s3cr3t-from-the-secret-9f2c"

RELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: web
spec:
  interval: 1h
  chart:
    spec:
      chart: ./charts/web
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  valuesFrom:
    - kind: ConfigMap
      name: web-values
    - kind: Secret
      name: web-secret
      valuesKey: db.yaml
    - kind: ConfigMap
      name: web-values
      valuesKey: replicas
      targetPath: deploy.replicas
    - kind: ConfigMap
      name: web-values
      valuesKey: tag
      targetPath: image\\.tag
    - kind: Secret
      name: from-the-cluster
      optional: true
    - kind: ConfigMap
      name: nowhere
  values:
    deploy: {port: 8080}
    db: {host: db.web}
"""

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "values.yaml": "deploy: {replicas: 1}\n",
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
}


def fleet(root: Path) -> Path:
    for name, text in CHART.items():
        (root / "charts/web" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "charts/web" / name).write_text(text)
    app = root / "apps/web"
    app.mkdir(parents=True)
    (app / "release.yaml").write_text(RELEASE)
    (app / "values.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-values, namespace: web}\ndata:\n"
        "  values.yaml: |\n    deploy: {replicas: 2, port: 80, mode: on}\n    db: {host: x}\n"
        "  replicas: '3'\n  tag: '\"0755\"'\n"
    )
    db = f"db:\n  password: {PASSWORD}\n  user: web\n"
    (app / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: web-secret, namespace: web}\ndata:\n"
        f"  db.yaml: {base64.b64encode(db.encode()).decode()}\n"
    )
    (app / "kustomization.yaml").write_text("resources: [release.yaml, values.yaml, secret.yaml]\n")
    return root


def test_values_from_configmaps_and_secrets_merge_in_order_before_values(tmp_path: Path) -> None:
    root = fleet(tmp_path / "repo")
    model = apps.read(root, repo_url="https://example.test/fleet")
    [web] = [e for e in model.entries if e.path == "charts/web"]
    assert web.build.helm is not None
    assert yaml.safe_load(web.build.helm.values) == {
        # values.yaml key at the root (`on` read as the API server reads it), the Secret's
        # db.yaml over it, replicas set at its targetPath (an integer, as --set types it),
        # a quoted value a string, then spec.values over everything
        "deploy": {"replicas": 3, "port": 8080, "mode": True},
        "db": {"host": "db.web", "password": PASSWORD, "user": "web"},
        "image.tag": "0755",
    }
    assert web.notes == ("valuesFrom ConfigMap nowhere is not in the repo",)
    # the ConfigMap and Secret feed the release: a change to them affects it
    assert {"apps/web/values.yaml", "apps/web/secret.yaml"} <= set(web.settings)
    assert web in apps.affected(
        root, ["apps/web/secret.yaml"], repo_url="https://example.test/fleet"
    )


def test_a_secrets_values_are_redacted_wherever_they_are_rendered(tmp_path: Path) -> None:
    apps.read(fleet(tmp_path / "repo"), repo_url="https://example.test/fleet")
    shown = REDACTOR.redact(f"data:\n  DB_PASSWORD: {PASSWORD}\n")
    assert PASSWORD not in shown


def test_target_path_values_are_typed_as_helm_set_types_them() -> None:
    values: dict[str, object] = {"a": {"keep": 1}}
    for path, text in [
        ("a.int", "42"),
        ("a.zero", "0"),
        ("a.octal", "0755"),
        ("a.flag", "True"),
        ("a.none", "null"),
        ("a.quoted", "'true'"),
        ("a.word", "1e3"),
        ("b\\.c", "x"),
    ]:
        helmvalues.set_path(values, path, text)
    assert values == {
        "a": {
            "keep": 1,
            "int": 42,
            "zero": 0,
            "octal": "0755",
            "flag": True,
            "none": None,
            "quoted": "true",
            "word": "1e3",
        },
        "b.c": "x",
    }
