"""handoff --report: deployments on GitHub and GitLab through PyGithub and python-gitlab,
against the loopback forge APIs, around a handoff to the loopback Argo CD."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from gitops_actions import cli

from fakes.argocd_api import ArgoCDApi, Script
from fakes.github_api import GitHubApi
from fakes.gitlab_api import GitLabApi
from support import base_env

NEW = "c3" * 20
ARGO_TOKEN = "argo_" + secrets.token_hex(16)


@pytest.fixture
def argocd() -> Iterator[ArgoCDApi]:
    with ArgoCDApi(ARGO_TOKEN) as api:
        yield api


def handoff(argocd: ArgoCDApi, *args: str, **env: str) -> tuple[int, str]:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        code = cli.main(
            ["handoff", "--agent", "argocd", "--revision", NEW, "--ci", "terminal", *args],
            env=base_env(ARGOCD_SERVER=argocd.url, ARGOCD_AUTH_TOKEN=ARGO_TOKEN, **env),
        )
    return code, out.getvalue()


def on_github(argocd: ArgoCDApi, github_api: GitHubApi, token: str, *args: str) -> tuple[int, str]:
    forge = ["--forge-url", github_api.url, "--project", "acme/config"]
    return handoff(argocd, *args, "--report", "github", *forge, GITHUB_TOKEN=token)


@pytest.mark.parametrize(("health", "final"), [("Healthy", "success"), ("Degraded", "failure")])
def test_github_deployment_per_app_for_the_exact_commit(
    health: str, final: str, argocd: ArgoCDApi, github_api: GitHubApi, github_token: str
) -> None:
    argocd.add_app("shop-dev", Script(health=health, health_message="CrashLoopBackOff"))
    argocd.add_app("web-dev", Script(touches=False))
    argocd.push(NEW)
    code, text = on_github(
        argocd,
        github_api,
        github_token,
        "--app",
        "shop-dev",
        "--app",
        "web-dev",
    )
    assert code == (0 if final == "success" else 1), text
    found = {d["environment"]: d for d in github_api.deployments.values()}
    assert set(found) == {"shop-dev", "web-dev"}
    shop = found["shop-dev"]
    assert shop["ref"] == NEW and shop["request"]["auto_merge"] is False
    assert shop["request"]["required_contexts"] == []
    states = [s["state"] for s in shop["statuses"]]
    assert states == ["in_progress", final]
    assert shop["statuses"][-1]["target_url"] == f"{argocd.url}/applications/shop-dev"
    assert [s["state"] for s in found["web-dev"]["statuses"]] == ["in_progress", "success"]
    assert f"deployment {shop['id']} to shop-dev: {final}" in text
    assert github_token not in text


def test_one_environment_for_every_app(
    argocd: ArgoCDApi, github_api: GitHubApi, github_token: str
) -> None:
    argocd.add_app("a")
    argocd.add_app("b")
    argocd.push(NEW)
    code, text = on_github(
        argocd,
        github_api,
        github_token,
        "--app",
        "a",
        "--app",
        "b",
        "--environment",
        "prod",
    )
    assert code == 0, text
    (deployment,) = github_api.deployments.values()
    assert deployment["environment"] == "prod"
    assert [s["state"] for s in deployment["statuses"]] == ["in_progress", "success"]


def test_gitlab_deployment_runs_then_succeeds_or_fails(argocd: ArgoCDApi) -> None:
    token = "glpat-" + secrets.token_hex(10)
    argocd.add_app("shop-dev")
    # fails after shop-dev is live: a failure stops the wait for the apps still pending
    argocd.add_app("shop-prod", Script(phase="Failed", op_message="hook failed").scaled(3))
    argocd.push(NEW)
    with GitLabApi(token) as gitlab:
        pid = gitlab.add_project("platform/config")
        code, text = handoff(
            argocd,
            "--app",
            "shop-dev",
            "--app",
            "shop-prod",
            "--report",
            "gitlab",
            "--branch",
            "main",
            "--forge-url",
            gitlab.url,
            "--project",
            "platform/config",
            GITLAB_TOKEN=token,
        )
        assert code == 1, text
        found = {d["environment"]: d for d in gitlab.deployments.values()}
    assert {d["project"] for d in found.values()} == {pid}
    assert found["shop-dev"]["history"] == ["running", "success"]
    assert found["shop-prod"]["history"] == ["running", "failed"]
    assert found["shop-prod"]["sha"] == NEW and found["shop-prod"]["ref"] == "main"
    assert token not in text


def test_an_unreachable_forge_is_a_warning_not_a_failed_handoff(
    argocd: ArgoCDApi, github_api: GitHubApi, github_token: str
) -> None:
    argocd.add_app("shop-dev")
    argocd.push(NEW)
    github_api.fail_next(403, 1, method="POST", body={"message": "Resource not accessible"})
    code, text = on_github(
        argocd,
        github_api,
        github_token,
        "--app",
        "shop-dev",
    )
    assert code == 0, text
    assert "warning: record the deployment to shop-dev: github:" in text
