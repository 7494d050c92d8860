"""handoff to Flux: the real kubernetes client against a loopback API server with Flux's
controllers played by ``FluxSim``."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_actions import cli
from gitops_actions.agent.flux import judge, parse_app

from fakes.kube_api import REQUESTED, FluxSim, KubeApi, Plan
from support import base_env, run_cli

NEW = "b2" * 20


@pytest.fixture
def flux(kube: KubeApi) -> Iterator[FluxSim]:
    sim = FluxSim(kube)
    sim.git_repository("flux-system", "config")
    sim.start()
    yield sim
    sim.stop()


def handoff(
    kube: KubeApi, tmp_path: Path, *args: str, capsys: pytest.CaptureFixture[str], **env: str
) -> tuple[int, str]:
    code = cli.main(
        ["handoff", "--agent", "flux", "--revision", NEW, "--ci", "terminal", *args],
        env=base_env(KUBECONFIG=str(kube.kubeconfig_in(tmp_path)), **env),
    )
    out = capsys.readouterr()
    return code, out.out + out.err


def apps_output(text: str) -> dict[str, dict[str, object]]:
    line = next(x for x in text.splitlines() if x.startswith("output apps="))
    result: dict[str, dict[str, object]] = json.loads(line.split("=", 1)[1])
    return result


def test_annotates_source_then_kustomization_and_waits_for_our_revision(
    kube: KubeApi, flux: FluxSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flux.kustomization("flux-system", "apps", plan=Plan(seconds=0.6))
    flux.push(NEW)
    code, text = handoff(kube, tmp_path, "--app", "apps", capsys=capsys)
    assert code == 0, text
    repo = kube.get("GitRepository", "flux-system", "config")
    ks = kube.get("Kustomization", "flux-system", "apps")
    token = ks["metadata"]["annotations"][REQUESTED]
    assert repo["metadata"]["annotations"][REQUESTED] == token
    assert ks["status"]["lastHandledReconcileAt"] == token
    assert ks["status"]["lastAppliedRevision"] == f"main@sha1:{NEW}"
    assert "apps: pending, Ready=Unknown, Progressing" in text
    assert f"apps: live, Ready=True, ReconciliationSucceeded, at {NEW[:12]}" in text
    patches = [path for _, path, _ in kube.requests("PATCH")]
    assert patches[0].endswith("/gitrepositories/config")
    assert patches[1].endswith("/kustomizations/apps")
    assert apps_output(text)["apps"]["live"] is True
    # the cluster's state is read through a watch, not by polling each object
    assert any(q.get("watch") == "true" for _, _, q in kube.requests("GET"))


def test_dependency_not_ready_is_pending_until_it_is(
    kube: KubeApi, flux: FluxSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flux.kustomization("flux-system", "infra", plan=Plan(seconds=0.8))
    flux.kustomization("flux-system", "apps", depends_on=("infra",), plan=Plan(seconds=0.05))
    flux.push(NEW)
    code, text = handoff(kube, tmp_path, "--app", "apps", capsys=capsys)
    assert code == 0, text
    assert "DependencyNotReady" in text
    assert "dependency flux-system/infra" in text
    infra = kube.get("Kustomization", "flux-system", "infra")
    assert infra["status"]["lastAppliedRevision"] == f"main@sha1:{NEW}"


def test_failed_health_check_for_our_revision_fails_fast(
    kube: KubeApi, flux: FluxSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "health check failed after 30s: timeout waiting for: [Deployment/shop/shop]"
    flux.kustomization(
        "flux-system", "apps", plan=Plan(ready=False, reason="HealthCheckFailed", message=message)
    )
    flux.push(NEW)
    start = time.monotonic()
    code, text = handoff(kube, tmp_path, "--app", "apps", "--timeout", "30", capsys=capsys)
    assert code == 1, text
    assert time.monotonic() - start < 10
    assert f"apps failed: {message}" in text


def test_stalled_fails_with_its_message(
    kube: KubeApi, flux: FluxSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "kustomize build failed: accumulating resources: 'apps/missing' does not exist"
    flux.kustomization(
        "flux-system",
        "apps",
        plan=Plan(ready=False, reason="BuildFailed", message=message, stalled=True),
    )
    flux.push(NEW)
    code, text = handoff(kube, tmp_path, "--app", "apps", "--timeout", "30", capsys=capsys)
    assert code == 1, text
    assert f"apps failed: {message}" in text


def test_a_failed_dependency_fails_the_app_and_names_it(
    kube: KubeApi, flux: FluxSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flux.kustomization(
        "flux-system", "infra", plan=Plan(ready=False, reason="HealthCheckFailed", message="boom")
    )
    flux.kustomization("flux-system", "apps", depends_on=("infra",))
    flux.push(NEW)
    code, text = handoff(kube, tmp_path, "--app", "apps", "--timeout", "30", capsys=capsys)
    assert code == 1, text
    assert "apps failed: dependency flux-system/infra" in text and "boom" in text


def test_timeout_names_the_blocked_dependency(
    kube: KubeApi, flux: FluxSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flux.kustomization("flux-system", "infra", plan=Plan(seconds=60))
    flux.kustomization("flux-system", "apps", depends_on=("infra",), plan=Plan(seconds=0.05))
    flux.push(NEW)
    code, text = handoff(kube, tmp_path, "--app", "apps", "--timeout", "1.5", capsys=capsys)
    assert code == 1, text
    assert "not live after 1.5s: apps:" in text
    assert "dependency flux-system/infra" in text


def test_survives_dropped_watches_410_gone_5xx_and_429(
    kube: KubeApi, flux: FluxSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flux.kustomization("flux-system", "apps", plan=Plan(seconds=1.0))
    flux.push(NEW)
    kube.fail_next(503)  # the first GET
    kube.fail_next(429)  # then a PATCH or the list

    thread = kube.troubled()
    code, text = handoff(kube, tmp_path, "--app", "apps", capsys=capsys)
    thread.join()
    assert code == 0, text
    gets = kube.requests("GET")
    watches = kube.watches()
    lists = [q for _, path, q in gets if path.endswith("/kustomizations") and "watch" not in q]
    assert len(watches) >= 3  # the first, the resume after the drop, the one after the relist
    assert len(lists) >= 2  # listed again after 410 Gone
    assert all(q.get("allowWatchBookmarks") == "true" for q in watches)


def test_bad_credentials_exit_3_and_never_print_the_token(
    kube: KubeApi, flux: FluxSim, tmp_path: Path
) -> None:
    flux.kustomization("flux-system", "apps")
    wrong = "kube_" + secrets.token_hex(16)
    proc = run_cli(
        "handoff",
        "--agent",
        "flux",
        "--app",
        "apps",
        "--revision",
        NEW,
        "--debug",
        env=base_env(KUBECONFIG=str(kube.kubeconfig_in(tmp_path, wrong))),
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "HTTP 401" in proc.stderr
    assert wrong not in proc.stdout + proc.stderr


def via_receiver(
    kube: KubeApi, tmp_path: Path, kind: str, secret: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    hook = ["--receiver", f"{kube.url}/hook/abc123", "--receiver-type", kind]
    return handoff(
        kube, tmp_path, "--app", "apps", *hook, capsys=capsys, FLUX_RECEIVER_TOKEN=secret
    )


@pytest.mark.parametrize("kind", ["generic", "generic-hmac", "github"])
def test_receiver_triggers_instead_of_annotating(
    kind: str, kube: KubeApi, flux: FluxSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "recv_" + secrets.token_hex(12)
    flux.receiver("/hook/abc123", kind, secret, "flux-system", "config")
    flux.kustomization("flux-system", "apps")
    flux.push(NEW)
    code, text = via_receiver(kube, tmp_path, kind, secret, capsys)
    assert code == 0, text
    assert not kube.requests("PATCH")  # the receiver did the asking
    assert any(path == "/hook/abc123" for _, path, _ in kube.requests("POST"))
    assert secret not in text


def test_receiver_with_the_wrong_secret_exits_3(
    kube: KubeApi, flux: FluxSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flux.receiver("/hook/abc123", "generic-hmac", "right-secret", "flux-system", "config")
    flux.kustomization("flux-system", "apps")
    code, text = via_receiver(kube, tmp_path, "generic-hmac", "wrong-secret", capsys)
    assert code == 3, text
    assert "HTTP 401" in text


# -- the live rule -----------------------------------------------------------------------
def ks(**status: object) -> dict[str, object]:
    ready = {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}
    base = {
        "observedGeneration": 2,
        "lastHandledReconcileAt": "tok",
        "lastAppliedRevision": f"main@sha1:{NEW}",
        "lastAttemptedRevision": f"main@sha1:{NEW}",
        "conditions": [ready],
    }
    return {"metadata": {"generation": 2}, "status": base | status}


def test_judge_needs_every_condition() -> None:
    assert judge(ks(), NEW, "tok").phase == "live"
    assert judge(ks(lastHandledReconcileAt="other"), NEW, "tok").phase == "pending"
    assert judge(ks(lastHandledReconcileAt="other"), NEW, None).phase == "live"  # receiver
    assert judge(ks(observedGeneration=1), NEW, "tok").phase == "pending"
    assert judge(ks(lastAppliedRevision="main@sha1:" + "0" * 40), NEW, "tok").phase == "pending"
    reconciling = [{"type": "Ready", "status": "True"}, {"type": "Reconciling", "status": "True"}]
    assert judge(ks(conditions=reconciling), NEW, "tok").phase == "pending"
    waiting = [{"type": "Ready", "status": "False", "reason": "DependencyNotReady"}]
    assert judge(ks(conditions=waiting), NEW, "tok").phase == "pending"
    broken = [{"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "no"}]
    assert judge(ks(conditions=broken), NEW, "tok").phase == "failed"
    old = ks(conditions=broken, lastAttemptedRevision="main@sha1:" + "0" * 40)
    assert judge(old, NEW, "tok").phase == "pending"  # an old failure is not ours


def test_judge_helm_release_chart_version_from_git() -> None:
    release = {
        "metadata": {"generation": 1},
        "status": {
            "observedGeneration": 1,
            "lastHandledReconcileAt": "tok",
            "history": [{"chartVersion": f"1.2.0+{NEW[:12]}"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    assert judge(release, NEW, "tok").phase == "live"
    assert judge(release, "c3" * 20, "tok").phase == "pending"


def test_app_names() -> None:
    assert str(parse_app("apps")) == "Kustomization/flux-system/apps"
    assert str(parse_app("team/apps")) == "Kustomization/team/apps"
    assert str(parse_app("hr/team/shop")) == "HelmRelease/team/shop"
    with pytest.raises(cli.UsageError):
        parse_app("nope/team/shop")


def test_a_broken_kubeconfig_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nclusters: [\n")
    code = cli.main(
        ["handoff", "--agent", "flux", "--app", "apps", "--revision", NEW],
        env=base_env(KUBECONFIG=str(broken)),
    )
    assert code == 2
    err = capsys.readouterr().err
    assert f"{broken}:3: not a kubeconfig" in err and "Traceback" not in err
