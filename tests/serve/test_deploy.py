"""The Kubernetes manifests in deploy/ pass our own validate and run serve safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_actions import cli
from gitops_actions.steps.serve import Options
from gitops_actions.validate.render import kustomize_command

from support import need

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def deployment() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "deployment.yaml").read_text())
    return loaded


def test_deploy_passes_validate(capsys: pytest.CaptureFixture[str]) -> None:
    if kustomize_command() is None:
        need("neither kustomize nor kubectl is installed")
    code = cli.main(["validate", str(DEPLOY)], env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert "0 errors" in out.out + out.err


def test_deployment_is_locked_down_and_probed() -> None:
    spec = deployment()["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/var/lib/gitops-serve", "/tmp"}
    drain = next(a for a in container["args"] if a.startswith("--drain-timeout="))
    assert spec["terminationGracePeriodSeconds"] > float(drain.split("=")[1])


def test_secrets_come_from_a_secret_never_from_values() -> None:
    spec = deployment()["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    secret_volume = next(v for v in spec["volumes"] if "secret" in v)
    mount = next(m for m in container["volumeMounts"] if m["name"] == secret_volume["name"])
    for flag in ("--webhook-secret-file", "--token-file"):
        value = next(a.split("=", 1)[1] for a in container["args"] if a.startswith(flag + "="))
        assert value.startswith(mount["mountPath"] + "/")
    for variable in container["env"]:
        if variable["name"] in ("GITOPS_QUEUE", "GITHUB_TOKEN", "GITLAB_TOKEN"):
            assert "secretKeyRef" in variable["valueFrom"]
        assert "TOKEN" not in variable["name"] and "SECRET" not in variable["name"]


def test_deployment_uses_real_options() -> None:
    (container,) = deployment()["spec"]["template"]["spec"]["containers"]
    known = {f"--{name.replace('_', '-')}" for name in Options.__dataclass_fields__}
    for arg in container["args"][1:]:
        assert arg.split("=", 1)[0] in known, arg
    names = {f"GITOPS_{name.upper()}" for name in Options.__dataclass_fields__}
    for variable in container["env"]:
        assert variable["name"] in names | {"HOME"}, variable["name"]
