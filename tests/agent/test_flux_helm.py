"""handoff to Flux for a HelmRelease: the real kubernetes client against the loopback API
server, with helm-controller played by ``FluxHelmSim`` (conditions, history, retries)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_actions import cli
from gitops_actions.agent.flux import judge

from fakes.flux_helm import FluxHelmSim, HelmPlan
from fakes.kube_api import REQUESTED, KubeApi
from support import base_env

NEW = "d4" * 20
SHORT = NEW[:12]


@pytest.fixture
def helm(kube: KubeApi) -> Iterator[FluxHelmSim]:
    sim = FluxHelmSim(kube)
    sim.git_repository("flux-system", "config")
    sim.start()
    yield sim
    sim.stop()


def handoff(
    kube: KubeApi, tmp_path: Path, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, float]:
    start = time.monotonic()
    code = cli.main(
        ["handoff", "--agent", "flux", "--revision", NEW, "--ci", "terminal", *args],
        env=base_env(KUBECONFIG=str(kube.kubeconfig_in(tmp_path))),
    )
    out = capsys.readouterr()
    return code, out.out + out.err, time.monotonic() - start


def release(kube: KubeApi, namespace: str, name: str) -> dict[str, object]:
    status: dict[str, object] = kube.get("HelmRelease", namespace, name)["status"]
    return status


def test_upgrade_from_our_commit_goes_live_through_helm_controllers_conditions(
    kube: KubeApi, helm: FluxHelmSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helm.helm_release("apps", "shop", plan=HelmPlan(seconds=0.6, test=True))
    helm.push(NEW)
    code, text, _ = handoff(kube, tmp_path, "--app", "helmrelease/apps/shop", capsys=capsys)
    assert code == 0, text
    # the chart's GitRepository (in flux-system) was asked first, then the release
    patches = [path for _, path, _ in kube.requests("PATCH")]
    assert patches[0].endswith("/namespaces/flux-system/gitrepositories/config")
    assert patches[1].endswith("/namespaces/apps/helmreleases/shop")
    assert "Ready=Unknown, Progressing" in text  # the upgrade running
    assert f"helmrelease/apps/shop: live, Ready=True, UpgradeSucceeded, at {SHORT}" in text
    status = release(kube, "apps", "shop")
    history = status["history"]
    assert isinstance(history, list)
    assert history[0]["chartVersion"] == f"1.0.0+{SHORT}" and history[0]["status"] == "deployed"
    assert history[1]["status"] == "superseded"
    token = kube.get("HelmRelease", "apps", "shop")["metadata"]["annotations"][REQUESTED]
    assert status["lastHandledReconcileAt"] == token
    apps = json.loads(next(x for x in text.splitlines() if x.startswith("output apps="))[12:])
    assert apps["helmrelease/apps/shop"]["revision"] == SHORT


@pytest.mark.parametrize("installed", [True, False], ids=["upgrade", "install"])
def test_a_failed_helm_action_fails_fast_with_helm_controllers_message(
    installed: bool,
    kube: KubeApi,
    helm: FluxHelmSim,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = HelmPlan(fails=-1, message="timed out waiting for the condition")
    helm.helm_release("flux-system", "shop", plan=plan, installed=installed)
    helm.push(NEW)
    code, text, took = handoff(
        kube, tmp_path, "--app", "hr/flux-system/shop", "--timeout", "30", capsys=capsys
    )
    assert code == 1, text
    assert took < 10
    action = "upgrade" if installed else "install"
    assert (
        f"hr/flux-system/shop failed: Helm {action} failed for release flux-system/shop "
        f"with chart shop@1.0.0+{SHORT}: timed out waiting for the condition"
    ) in text
    status = release(kube, "flux-system", "shop")
    assert status["lastAttemptedReleaseAction"] == action


def test_a_failure_with_retries_left_keeps_waiting_for_the_retry(
    kube: KubeApi, helm: FluxHelmSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helm.helm_release("flux-system", "shop", plan=HelmPlan(seconds=0.2, fails=1, retries=2))
    helm.push(NEW)
    code, text, _ = handoff(kube, tmp_path, "--app", "hr/flux-system/shop", capsys=capsys)
    assert code == 0, text
    assert "upgrade failed, retrying (1 of 2)" in text
    assert f"hr/flux-system/shop: live, Ready=True, UpgradeSucceeded, at {SHORT}" in text


def test_depends_on_a_release_that_is_not_ready_is_pending_until_it_is(
    kube: KubeApi, helm: FluxHelmSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helm.helm_release("flux-system", "infra", plan=HelmPlan(seconds=0.8))
    helm.helm_release("flux-system", "shop", depends_on=("infra",), plan=HelmPlan(seconds=0.05))
    helm.push(NEW)
    code, text, _ = handoff(kube, tmp_path, "--app", "hr/flux-system/shop", capsys=capsys)
    assert code == 0, text
    assert "DependencyNotReady" in text
    assert "dependency flux-system/infra" in text
    infra = release(kube, "flux-system", "infra")["history"]
    assert isinstance(infra, list) and infra[0]["chartVersion"] == f"1.0.0+{SHORT}"


def test_a_failed_dependency_fails_the_release_and_names_it(
    kube: KubeApi, helm: FluxHelmSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helm.helm_release("flux-system", "infra", plan=HelmPlan(fails=-1, message="boom"))
    helm.helm_release("flux-system", "shop", depends_on=("infra",))
    helm.push(NEW)
    code, text, _ = handoff(
        kube, tmp_path, "--app", "hr/flux-system/shop", "--timeout", "30", capsys=capsys
    )
    assert code == 1, text
    assert "hr/flux-system/shop failed: dependency flux-system/infra" in text and "boom" in text


def test_a_chart_version_that_names_no_commit_says_how_to_make_it_provable(
    kube: KubeApi, helm: FluxHelmSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helm.helm_release("flux-system", "shop", plan=HelmPlan(revision_in_version=False))
    helm.push(NEW)
    code, text, _ = handoff(
        kube, tmp_path, "--app", "hr/flux-system/shop", "--timeout", "1.5", capsys=capsys
    )
    assert code == 1, text
    assert "chart version 1.0.0 names no commit" in text
    assert "reconcileStrategy: Revision" in text


# -- the live rule, over HelmRelease objects ---------------------------------------------
def hr(**status: object) -> dict[str, object]:
    base = {
        "observedGeneration": 3,
        "lastHandledReconcileAt": "tok",
        "lastAttemptedRevision": f"1.0.0+{SHORT}",
        "lastAttemptedReleaseAction": "upgrade",
        "history": [{"chartVersion": f"1.0.0+{SHORT}", "status": "deployed", "version": 4}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "UpgradeSucceeded"}],
    }
    spec = {"upgrade": {"remediation": {"retries": 1}}}
    return {"metadata": {"generation": 3}, "spec": spec, "status": base | status}


def test_judge_helm_release() -> None:
    assert judge(hr(), NEW, "tok").phase == "live"
    failed_release = [{"chartVersion": f"1.0.0+{SHORT}", "status": "failed"}]
    assert judge(hr(history=failed_release), NEW, "tok").phase == "pending"
    assert judge(hr(observedGeneration=2), NEW, "tok").phase == "pending"
    broken = [
        {"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "ready"},
        {"type": "Released", "status": "False", "reason": "UpgradeFailed", "message": "helm"},
    ]
    retry = judge(hr(conditions=broken, upgradeFailures=1), NEW, "tok")
    assert retry.phase == "pending" and "retrying (1 of 1)" in retry.state
    done = judge(hr(conditions=broken, upgradeFailures=2), NEW, "tok")
    assert done.phase == "failed" and done.message == "helm"
    forever = hr(conditions=broken, upgradeFailures=9)
    forever["spec"] = {"upgrade": {"remediation": {"retries": -1}}}
    assert "retrying (9 of ∞)" in judge(forever, NEW, "tok").state
    older = hr(conditions=broken, upgradeFailures=2, lastAttemptedRevision="1.0.0+0123456789ab")
    assert judge(older, NEW, "tok").phase == "pending"  # an old release failing is not ours
