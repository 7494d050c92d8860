"""bump -> handoff in one job: the revision and repo flow from bump's outputs, the apps come
from the application model, and a failure is reverted through the safe writer."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_actions import cli, git

from fakes.argocd_api import ArgoCDApi, Script
from support import base_env, config_remote, show

pytestmark = pytest.mark.component

OVERLAY = "resources: [../../base]\nimages:\n  - name: r.test/shop\n    newTag: {tag}\n"


def application(name: str, path: str, remote: Path) -> str:
    return f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {remote}
    targetRevision: main
    path: {path}
  destination:
    server: https://kubernetes.default.svc
    namespace: {name}
"""


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    where = tmp_path / "config.git"
    files = {"apps/shop/base/kustomization.yaml": "resources: []\n"}
    for env in ("dev", "prod"):
        files[f"apps/shop/overlays/{env}/kustomization.yaml"] = OVERLAY.format(tag="1.0.0")
        files[f"argocd/shop-{env}.yaml"] = application(
            f"shop-{env}", f"apps/shop/overlays/{env}", where
        )
    return config_remote(tmp_path, files)


@pytest.fixture
def token() -> str:
    return "argo_" + secrets.token_hex(16)


@pytest.fixture
def argocd(token: str, remote: Path) -> Iterator[ArgoCDApi]:
    with ArgoCDApi(token) as api:
        api.follow(remote)
        yield api


class Job:
    """Steps of one GitHub Actions job: outputs travel to later steps through GITHUB_ENV."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        (tmp_path / "runner").mkdir()
        self.env = base_env(
            GITHUB_ACTIONS="true",
            GITHUB_OUTPUT=str(tmp_path / "github_output"),
            GITHUB_ENV=str(tmp_path / "github_env"),
            GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
            RUNNER_TEMP=str(tmp_path / "runner"),
            **env,
        )
        self.carried = tmp_path / "runner" / "gitops-outputs.env"

    def outputs(self) -> dict[str, str]:
        lines = self.carried.read_text().splitlines() if self.carried.exists() else []
        return dict(line.split("=", 1) for line in lines)

    def run(self, *argv: str) -> int:
        return cli.main(list(argv), env=self.env)


def bump(job: Job, remote: Path, *extra: str) -> int:
    return job.run(
        "bump",
        "--repo",
        str(remote),
        "--image",
        "r.test/shop:1.1.0",
        "--files",
        "apps/shop/overlays/dev/*",
        *extra,
    )


def test_handoff_follows_bump_and_finds_the_affected_app(
    tmp_path: Path,
    remote: Path,
    argocd: ArgoCDApi,
    token: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dev, prod = argocd.add_app("shop-dev"), argocd.add_app("shop-prod")
    job = Job(tmp_path, ARGOCD_SERVER=argocd.url, ARGOCD_AUTH_TOKEN=token)
    assert bump(job, remote) == 0
    sha = git.Repo(remote).head_sha("main")
    carried = job.outputs()
    assert carried["GITOPS_OUT_REVISION"] == sha
    assert carried["GITOPS_OUT_REPO"] == str(remote)
    capsys.readouterr()
    assert job.run("handoff", "--agent", "argocd") == 0, capsys.readouterr()
    text = capsys.readouterr().out
    assert f"{sha[:12]} affects argocd/shop-dev" in text
    assert dev.targets == [sha] and dev.live_at is not None
    assert prod.refreshes == 0  # the commit does not feed shop-prod
    summary = (tmp_path / "summary.md").read_text()
    assert "### handoff to argocd" in summary and "| live |" in summary


def test_pull_request_mode_says_handoff_waits_for_the_merge(
    tmp_path: Path,
    remote: Path,
    argocd: ArgoCDApi,
    token: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    job = Job(tmp_path, ARGOCD_SERVER=argocd.url, ARGOCD_AUTH_TOKEN=token)
    forge = ["--pull-request", "--forge", "local", "--forge-dir", str(tmp_path / "forge")]
    assert bump(job, remote, *forge) == 0
    assert job.outputs()["GITOPS_OUT_REVISION"] == ""
    assert not (tmp_path / "github_env").exists()  # later steps' environment is untouched
    capsys.readouterr()
    assert job.run("handoff", "--agent", "argocd") == 2
    err = capsys.readouterr().out
    assert "handoff waits for the merge" in err
    assert "pulls/1" in err or "1.json" in err or "pull" in err


def test_failure_is_reverted_handed_off_and_waited_for(
    tmp_path: Path,
    remote: Path,
    argocd: ArgoCDApi,
    token: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    job = Job(tmp_path, ARGOCD_SERVER=argocd.url, ARGOCD_AUTH_TOKEN=token)
    before = show(remote, "apps/shop/overlays/dev/kustomization.yaml")
    assert bump(job, remote) == 0
    bad = git.Repo(remote).head_sha("main")
    app = argocd.add_app("shop-dev")
    app.by_revision[bad] = Script(
        health="Degraded", health_message="Back-off pulling image r.test/shop:1.1.0"
    )
    capsys.readouterr()
    code = job.run(
        "handoff",
        "--agent",
        "argocd",
        "--app",
        "argocd/shop-dev",
        "--rollback-on-failure",
        "--timeout",
        "30",
        "--report",
        "local",
        "--forge-dir",
        str(tmp_path / "forge"),
    )
    text = capsys.readouterr().out
    assert code == 1, text
    repo = git.Repo(remote)
    revert = repo.head_sha("main")
    assert revert != bad
    assert show(remote, "apps/shop/overlays/dev/kustomization.yaml") == before
    message = repo.git("log", "-1", "--format=%B", "main").stdout
    assert message.startswith('Revert "bump shop to 1.1.0"')
    assert "argocd/shop-dev failed to go live in argocd: Deployment/shop-dev: Back-off" in message
    assert f"This reverts commit {bad}." in message
    assert app.targets == [bad, revert] and app.live_at is not None  # the revert went live
    assert f"reverted by {revert[:12]}, live again" in text
    records = [
        json.loads((tmp_path / "forge" / "deployments" / f"{n}.json").read_text()) for n in (1, 2)
    ]
    assert [(r["sha"], [s["state"] for s in r["statuses"]]) for r in records] == [
        (bad, ["in_progress", "failure"]),
        (revert, ["in_progress", "success"]),
    ]
    outputs = (tmp_path / "github_output").read_text()
    assert f"reverted-by={revert}\n" in outputs and "live=false\n" in outputs
