"""handoff to Argo CD through the Kubernetes API (``--argocd-via kubernetes``): the real
kubernetes client against a loopback API server whose Applications are moved through
Argo CD's status sequence by ``ArgoSim``. No Argo CD API, no Argo CD token."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_actions import cli

from fakes.argocd_api import Script
from fakes.argocd_kube import REFRESH, ArgoSim
from fakes.kube_api import KubeApi
from support import base_env, run_cli

NEW = "c3" * 20
OLD = "0" * 40


@pytest.fixture
def argo(kube: KubeApi) -> Iterator[ArgoSim]:
    sim = ArgoSim(kube)
    sim.start()
    yield sim
    sim.stop()


def handoff(
    kube: KubeApi, tmp_path: Path, *args: str, capsys: pytest.CaptureFixture[str], **env: str
) -> tuple[int, str, float]:
    start = time.monotonic()
    argv = ["handoff", "--agent", "argocd", "--argocd-via", "kubernetes", "--ci", "terminal"]
    code = cli.main(
        [*argv, "--revision", NEW, *args],
        env=base_env(KUBECONFIG=str(kube.kubeconfig_in(tmp_path)), **env),
    )
    took = time.monotonic() - start
    out = capsys.readouterr()
    return code, out.out + out.err, took


def apps_output(text: str) -> dict[str, dict[str, object]]:
    line = next(x for x in text.splitlines() if x.startswith("output apps="))
    result: dict[str, dict[str, object]] = json.loads(line.split("=", 1)[1])
    return result


def refresh_patches(kube: KubeApi, name: str) -> list[str]:
    return [path for _, path, _ in kube.requests("PATCH") if path.endswith(f"/{name}")]


def test_annotates_the_application_and_watches_it_through_the_whole_sync(
    kube: KubeApi, argo: ArgoSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = argo.add_app("shop-prod", Script().scaled(3))
    argo.push(NEW)
    code, text, _ = handoff(kube, tmp_path, "--app", "shop-prod", capsys=capsys)
    assert code == 0, text
    assert app.refreshes >= 1 and app.live_at is not None
    assert "shop-prod: pending, OutOfSync" in text
    assert "operation Running" in text
    assert f"shop-prod: live, Synced, Healthy, at {NEW[:12]}" in text
    state = apps_output(text)["shop-prod"]
    assert state["live"] is True and state["revision"] == NEW and state["health"] == "Healthy"
    assert state["url"] == ""  # no ARGOCD_SERVER: no UI to link to
    # the refresh went to the Application object in the argocd namespace...
    patch = kube.requests("PATCH")[0]
    assert patch[1] == "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/shop-prod"
    # ...the controller took the annotation away, and the status came from a watch
    stored = kube.get("Application", "argocd", "shop-prod")
    assert REFRESH not in (stored["metadata"].get("annotations") or {})
    gets = kube.requests("GET")
    assert any(q.get("watch") == "true" for _, _, q in gets)
    assert not [path for _, path, q in gets if path.endswith("/shop-prod")]  # no polling


def test_old_revision_synced_and_healthy_keeps_waiting(
    kube: KubeApi, argo: ArgoSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = argo.add_app(
        "shop", Script(sees=0.5, operation=0.6, running=0.7, finished=0.8, reconciled=0.9)
    )
    argo.push(NEW)
    code, text, took = handoff(kube, tmp_path, "--app", "shop", capsys=capsys)
    assert code == 0, text
    assert took >= 0.9
    assert f"shop: pending, Synced, Healthy, at {OLD[:12]}" in text
    assert app.live_at is not None


def test_stale_healthy_before_reconciled_at_is_not_trusted_and_refreshed_again(
    kube: KubeApi, argo: ArgoSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = argo.add_app("shop", Script(finished=0.3, reconciled=1.3))
    argo.push(NEW)
    start = time.monotonic()
    code, text, _ = handoff(kube, tmp_path, "--app", "shop", capsys=capsys)
    assert code == 0, text
    assert "health not yet compared" in text
    assert app.live_at is not None and app.live_at - start >= 1.2
    assert app.refreshes >= 2  # annotated again while health was stale
    assert len(refresh_patches(kube, "shop")) >= 2


DEGRADED = 'Deployment "shop" exceeded its progress deadline'
INVALID = 'one or more objects failed to apply, reason: Deployment "shop" is invalid'


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (Script(health="Degraded", health_message=DEGRADED), f"Deployment/shop: {DEGRADED}"),
        (Script(phase="Failed", op_message=INVALID), INVALID),
    ],
    ids=["degraded", "operation-failed"],
)
def test_a_failure_for_our_sha_fails_fast_with_the_agents_message(
    script: Script,
    message: str,
    kube: KubeApi,
    argo: ArgoSim,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argo.add_app("shop", script)
    argo.push(NEW)
    code, text, took = handoff(kube, tmp_path, "--app", "shop", "--timeout", "30", capsys=capsys)
    assert code == 1, text
    assert took < 5
    assert f"shop failed: {message}" in text


def test_apps_in_any_namespace_project_and_ui_links(
    kube: KubeApi, argo: ArgoSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argo.add_app("shop", namespace="team-a", project="shop")
    argo.push(NEW)
    code, text, _ = handoff(
        kube,
        tmp_path,
        "--app",
        "team-a/shop",
        "--argocd-project",
        "shop",
        capsys=capsys,
        ARGOCD_SERVER="argocd.example.com",
    )
    assert code == 0, text
    where = "/apis/argoproj.io/v1alpha1/namespaces/team-a/applications/shop"
    assert refresh_patches(kube, "shop")[0] == where
    url = apps_output(text)["team-a/shop"]["url"]
    assert url == "https://argocd.example.com/applications/team-a/shop"
    # an app of another project is refused, not waited for
    code, text, took = handoff(
        kube, tmp_path, "--app", "team-a/shop", "--argocd-project", "web", capsys=capsys
    )
    assert code == 3, text
    assert "is in project 'shop', not 'web'" in text and took < 5


def test_timeout_names_the_app_and_its_last_state(
    kube: KubeApi, argo: ArgoSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argo.add_app("shop", Script(auto_sync=False))  # nobody syncs it
    argo.add_app("web", Script(touches=False))  # not touched by the commit: live at once
    argo.push(NEW)
    code, text, took = handoff(
        kube, tmp_path, "--app", "shop", "--app", "web", "--timeout", "1", capsys=capsys
    )
    assert code == 1, text
    assert 0.9 <= took < 3
    assert f"not live after 1s: shop: OutOfSync, Healthy, at {NEW[:12]}" in text
    apps = apps_output(text)
    assert apps["web"]["live"] is True and apps["shop"]["live"] is False


def test_survives_dropped_watches_410_gone_5xx_and_429(
    kube: KubeApi, argo: ArgoSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argo.add_app("shop", Script().scaled(4))
    argo.push(NEW)
    kube.fail_next(503)  # the list or the annotation
    kube.fail_next(429)

    thread = kube.troubled()
    code, text, _ = handoff(kube, tmp_path, "--app", "shop", capsys=capsys)
    thread.join()
    assert code == 0, text
    assert f"shop: live, Synced, Healthy, at {NEW[:12]}" in text
    gets = kube.requests("GET")
    watches = kube.watches()
    lists = [q for _, path, q in gets if path.endswith("/applications") and "watch" not in q]
    assert len(watches) >= 3 and len(lists) >= 2
    assert all(q.get("allowWatchBookmarks") == "true" for q in watches)


def test_bad_credentials_exit_3_and_never_print_the_token(
    kube: KubeApi, argo: ArgoSim, tmp_path: Path
) -> None:
    app = argo.add_app("shop")
    wrong = "kube_" + secrets.token_hex(16)
    proc = run_cli(
        "handoff",
        "--agent",
        "argocd",
        "--argocd-via",
        "kubernetes",
        "--app",
        "shop",
        "--revision",
        NEW,
        "--debug",
        env=base_env(KUBECONFIG=str(kube.kubeconfig_in(tmp_path, wrong))),
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "HTTP 401" in proc.stderr and "RBAC" in proc.stderr
    assert wrong not in proc.stdout + proc.stderr
    assert app.refreshes == 0  # refused: nothing was annotated


def test_sync_is_refused_through_kubernetes(
    tmp_path: Path, kube: KubeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, _ = handoff(kube, tmp_path, "--app", "shop", "--sync", capsys=capsys)
    assert code == 2
    assert "--sync needs --argocd-via api" in text
    assert not kube.requests("PATCH")
