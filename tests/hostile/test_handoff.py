"""Hostile replies from the agents handoff waits for: Argo CD's API and Flux's objects on
the Kubernetes API (the loopback stand-ins), with fields missing, of the wrong type, huge,
or carrying secrets in their messages.

handoff must end by its deadline with a verdict (exit 1: not live; 3: the agent answers
unlike itself), print no traceback, keep its lines bounded, and show no secret: not the
CI's tokens, not the agent's own token.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hostile import CANARY, Run, judge, run

from fakes.argocd_api import ArgoCDApi
from fakes.kube_api import KubeApi, condition

NEW = "c3" * 20
HUGE = 2_000_000  # characters of a message
LONGEST_LINE = 20_000  # characters of any line handoff prints


def tainted(token: str) -> str:
    """A message quoting secrets, as a failing controller may."""
    return f"apply failed: token={token} auth={CANARY['GITHUB_TOKEN']} {CANARY['GITLAB_TOKEN']}"


def bounded(result: Run, *, token: str) -> None:
    judge(result, codes=(1, 3), secrets=[token])
    longest = max(map(len, (result.stdout + result.stderr).splitlines()), default=0)
    assert longest <= LONGEST_LINE, f"a line of {longest} characters"
    assert result.seconds < 25, result.seconds


# -- Argo CD -----------------------------------------------------------------------------------
def application(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "shop", "namespace": "argocd"},
        "spec": {"source": {"repoURL": "https://git.test/config", "path": "apps/shop"}},
        "status": status,
    }


ARGO_REPLIES: dict[str, Any] = {
    "null": None,
    "a list": [1, 2],
    "a string": "Synced",
    "no status": {"metadata": {"name": "shop"}},
    "status is a list": application() | {"status": []},
    "sync is a string": application(sync="Synced", health="Healthy"),
    "revision is a number": application(sync={"status": "Synced", "revision": 7}),
    "health status is an object": application(health={"status": {"a": 1}}),
    "conditions is a dict": application(conditions={"type": "ComparisonError"}),
    "conditions hold numbers": application(conditions=[1, None, "x"]),
    "operationState is a string": application(operationState="Running"),
    "a huge message": application(
        sync={"status": "OutOfSync", "revision": NEW},
        health={"status": "Degraded", "message": "x" * HUGE},
        operationState={"phase": "Failed", "message": "y" * HUGE, "syncResult": {}},
    ),
    "a secret in the messages": {},  # filled in with the agent's token below
    "nested deeply": application(operationState={"syncResult": {"x": [[[[[[[[[[]]]]]]]]]]}}),
}


@pytest.fixture
def argocd_token() -> str:
    return "argo_" + secrets.token_hex(16)


@pytest.fixture
def argocd(argocd_token: str) -> Iterator[ArgoCDApi]:
    with ArgoCDApi(argocd_token) as api:
        api.add_app("shop")
        yield api


def argo_handoff(argocd: ArgoCDApi, token: str, tmp_path: Path) -> Run:
    env = {"ARGOCD_SERVER": argocd.url, "ARGOCD_AUTH_TOKEN": token}
    return run(
        "handoff", "--agent", "argocd", "--app", "shop", "--revision", NEW,
        "--timeout", "4", "--ci", "terminal", cwd=tmp_path, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(ARGO_REPLIES))
def test_argocd_replies_of_the_wrong_shape(
    argocd: ArgoCDApi, argocd_token: str, tmp_path: Path, name: str
) -> None:
    reply = copy.deepcopy(ARGO_REPLIES[name])
    if name == "a secret in the messages":
        reply = application(
            sync={"status": "OutOfSync", "revision": NEW},
            health={"status": "Degraded", "message": tainted(argocd_token)},
            operationState={"phase": "Failed", "message": tainted(argocd_token)},
            conditions=[{"type": "SyncError", "message": tainted(argocd_token)}],
        )
    argocd.fail_next(200, count=10_000, body=reply)

    bounded(argo_handoff(argocd, argocd_token, tmp_path), token=argocd_token)


def test_argocd_errors_quoting_the_token(
    argocd: ArgoCDApi, argocd_token: str, tmp_path: Path
) -> None:
    for status in (403, 500):
        body = {"error": tainted(argocd_token), "code": 7, "message": tainted(argocd_token)}
        argocd.fail_next(status, count=10_000, body=body)
        bounded(argo_handoff(argocd, argocd_token, tmp_path), token=argocd_token)


# -- Flux ----------------------------------------------------------------------------------------
def kustomization(status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "path": "./apps",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "config"},
        },
        "status": status,
    }


def ready(message: str, status: str = "False") -> dict[str, str]:
    return condition("Ready", status, "ReconciliationFailed", message)


FLUX_STATUSES: dict[str, Any] = {
    "no status": None,
    "status is a list": [],
    "conditions is a string": {"conditions": "Ready"},
    "conditions hold numbers": {"conditions": [1, None, ["x"]]},
    "condition fields of the wrong type": {
        "conditions": [{"type": 5, "status": True, "message": {"a": 1}, "reason": []}]
    },
    "revision is a number": {"lastAppliedRevision": 7, "observedGeneration": "one"},
    "a huge message": {
        "observedGeneration": 1,
        "lastAttemptedRevision": f"main@sha1:{NEW}",
        "conditions": [ready("z" * HUGE)],
    },
    "a secret in the message": {},  # filled in with the cluster token below
}


@pytest.fixture
def kube() -> Iterator[KubeApi]:
    with KubeApi("kube_" + secrets.token_hex(16)) as api:
        api.put(
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "config", "namespace": "flux-system"},
                "spec": {"url": "https://git.test/config", "ref": {"branch": "main"}},
                "status": {"artifact": {"revision": "main@sha1:" + "0" * 40}},
            }
        )
        yield api


@pytest.mark.parametrize("name", sorted(FLUX_STATUSES))
def test_flux_objects_of_the_wrong_shape(kube: KubeApi, tmp_path: Path, name: str) -> None:
    status = copy.deepcopy(FLUX_STATUSES[name])
    if name == "a secret in the message":
        attempted = f"main@sha1:{NEW}"
        status = {"lastAttemptedRevision": attempted, "conditions": [ready(tainted(kube.token))]}
    obj = kustomization(status)
    if status is None:
        del obj["status"]
    kube.put(obj)
    config = tmp_path / "kubeconfig"
    config.write_text(kube.kubeconfig())

    result = run(
        "handoff", "--agent", "flux", "--app", "apps", "--revision", NEW,
        "--timeout", "4", "--ci", "terminal", cwd=tmp_path, env={"KUBECONFIG": str(config)},
    )  # fmt: skip

    bounded(result, token=kube.token)
