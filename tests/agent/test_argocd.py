"""handoff to Argo CD, through the CLI, against a loopback Argo CD API server."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_actions import cli
from gitops_actions.agent.argocd import judge

from fakes.argocd_api import ArgoCDApi, Script
from support import base_env, run_cli

NEW = "a1" * 20
OLD = "0" * 40


@pytest.fixture
def token() -> str:
    return "argo_" + secrets.token_hex(16)


@pytest.fixture
def argocd(token: str) -> Iterator[ArgoCDApi]:
    with ArgoCDApi(token) as api:
        yield api


def env_for(api: ArgoCDApi, token: str, **extra: str) -> dict[str, str]:
    return base_env(ARGOCD_SERVER=api.url, ARGOCD_AUTH_TOKEN=token, **extra)


def handoff(
    api: ArgoCDApi, token: str, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, float]:
    start = time.monotonic()
    code = cli.main(
        ["handoff", "--agent", "argocd", "--revision", NEW, "--ci", "terminal", *args],
        env=env_for(api, token),
    )
    took = time.monotonic() - start
    out = capsys.readouterr()
    return code, out.out + out.err, took


def outputs(text: str) -> dict[str, str]:
    return dict(
        line.removeprefix("output ").split("=", 1)
        for line in text.splitlines()
        if line.startswith("output ")
    )


def test_waits_through_the_whole_sync_and_returns_once_live(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = argocd.add_app("shop-prod", Script().scaled(3))  # each stage outlasts a poll pause
    argocd.push(NEW)
    code, text, _ = handoff(argocd, token, "--app", "shop-prod", capsys=capsys)
    assert code == 0, text
    assert app.refreshes >= 1 and app.live_at is not None
    assert "shop-prod: pending, OutOfSync" in text
    assert "operation Running" in text
    assert "shop-prod: live, Synced, Healthy, at a1a1a1a1a1a1" in text
    out = outputs(text)
    assert out["live"] == "true" and out["revision"] == NEW
    state = json.loads(out["apps"])["shop-prod"]
    assert state["live"] is True and state["revision"] == NEW and state["health"] == "Healthy"
    assert state["url"] == f"{argocd.url}/applications/shop-prod"
    # the refresh asked for a normal refresh, with the token as a bearer header only
    first = argocd.requests("GET", "/shop-prod")[0]
    assert first.query == {"refresh": "normal"}
    assert first.headers["authorization"] == f"Bearer {token}"


def test_old_revision_synced_and_healthy_keeps_waiting(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # the repo server has not seen the commit for a while: Synced + Healthy at the old SHA
    app = argocd.add_app(
        "shop", Script(sees=0.5, operation=0.6, running=0.7, finished=0.8, reconciled=0.9)
    )
    argocd.push(NEW)
    code, text, took = handoff(argocd, token, "--app", "shop", capsys=capsys)
    assert code == 0, text
    assert took >= 0.9
    assert f"shop: pending, Synced, Healthy, at {OLD[:12]}" in text
    assert app.live_at is not None


def test_stale_healthy_before_reconciled_at_catches_up_is_not_trusted(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Synced at our SHA and Healthy for a long second, but health predates the sync
    app = argocd.add_app("shop", Script(finished=0.3, reconciled=1.3))
    argocd.push(NEW)
    start = time.monotonic()
    code, text, _ = handoff(argocd, token, "--app", "shop", capsys=capsys)
    assert code == 0, text
    assert "health not yet compared" in text
    assert app.live_at is not None and app.live_at - start >= 1.2
    # while health was stale, the app was refreshed again
    assert app.refreshes >= 2


def test_degraded_after_our_sync_fails_fast_with_the_agents_message(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argocd.add_app(
        "shop",
        Script(
            health="Degraded", health_message='Deployment "shop" exceeded its progress deadline'
        ),
    )
    argocd.push(NEW)
    code, text, took = handoff(argocd, token, "--app", "shop", "--timeout", "30", capsys=capsys)
    assert code == 1, text
    assert took < 5
    assert 'shop failed: Deployment/shop: Deployment "shop" exceeded its progress deadline' in text
    assert outputs(text)["live"] == "false"


def test_failed_operation_for_our_sha_fails_fast(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    message = 'one or more objects failed to apply, reason: Deployment "shop" is invalid'
    argocd.add_app("shop", Script(phase="Failed", op_message=message))
    argocd.push(NEW)
    code, text, took = handoff(argocd, token, "--app", "shop", "--timeout", "30", capsys=capsys)
    assert code == 1, text
    assert took < 5
    assert f"shop failed: {message}" in text


def test_timeout_names_the_app_and_its_last_state(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argocd.add_app("shop", Script(auto_sync=False))  # nobody syncs it
    argocd.add_app("web", Script(touches=False))  # not touched by the commit: live at once
    argocd.push(NEW)
    code, text, took = handoff(
        argocd, token, "--app", "shop", "--app", "web", "--timeout", "1", capsys=capsys
    )
    assert code == 1, text
    assert 0.9 <= took < 3
    assert f"not live after 1s: shop: OutOfSync, Healthy, at {NEW[:12]}" in text
    apps = json.loads(outputs(text)["apps"])
    assert apps["web"]["live"] is True and apps["shop"]["live"] is False


def test_the_refresh_reply_is_the_first_look(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argocd.add_app("web", Script(touches=False))  # live as soon as the refresh sees the commit
    argocd.push(NEW)
    code, text, _ = handoff(argocd, token, "--app", "web", capsys=capsys)
    assert code == 0, text
    assert [r.query for r in argocd.requests("GET", "/web")] == [{"refresh": "normal"}]


def test_sync_posts_no_revision_and_starts_the_operation(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = argocd.add_app("shop", Script(auto_sync=False), namespace="team-a", project="shop")
    argocd.push(NEW)
    code, text, _ = handoff(
        argocd, token, "--app", "team-a/shop", "--sync", "--argocd-project", "shop", capsys=capsys
    )
    assert code == 0, text
    assert app.syncs == [{"prune": False, "appNamespace": "team-a", "project": "shop"}]
    get = argocd.requests("GET", "/shop")[0]
    assert get.query == {"refresh": "normal", "appNamespace": "team-a", "project": "shop"}
    assert (
        f"{argocd.url}/applications/team-a/shop"
        in json.loads(outputs(text)["apps"])["team-a/shop"]["url"]
    )


def test_survives_5xx_and_429(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argocd.add_app("shop")
    argocd.push(NEW)
    argocd.fail_next(502, 2)  # the refresh itself fails twice
    argocd.fail_after_refresh(429, 1, headers={"Retry-After": "0"})  # then the polls
    argocd.fail_after_refresh(503, 1)
    code, text, _ = handoff(argocd, token, "--app", "shop", capsys=capsys)
    assert code == 0, text
    assert len(argocd.requests("GET", "/shop")) >= 5
    assert "shop: argocd: get application shop: HTTP 429" in text  # said so, went on
    assert "shop: argocd: get application shop: HTTP 503" in text
    assert "shop: live" in text


def test_bad_token_exits_3_and_never_prints_the_token(argocd: ArgoCDApi, tmp_path: Path) -> None:
    argocd.add_app("shop")
    argocd.push(NEW)
    wrong = "argo_" + secrets.token_hex(16)
    summary = tmp_path / "summary.md"
    proc = run_cli(
        "handoff",
        "--agent",
        "argocd",
        "--app",
        "shop",
        "--revision",
        NEW,
        "--summary-file",
        str(summary),
        "--debug",
        env=env_for(argocd, wrong),
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "HTTP 401" in proc.stderr and "ARGOCD_AUTH_TOKEN" in proc.stderr
    everything = proc.stdout + proc.stderr + (summary.read_text() if summary.exists() else "")
    assert wrong not in everything
    assert len(argocd.requests()) == 1  # a refused token is not retried


def test_missing_server_or_token_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["handoff", "--agent", "argocd", "--app", "a", "--revision", NEW], env={})
    assert code == 2
    assert "ARGOCD_SERVER" in capsys.readouterr().err
    code = cli.main(
        ["handoff", "--agent", "argocd", "--app", "a", "--revision", NEW],
        env={"ARGOCD_SERVER": "127.0.0.1:1"},
    )
    assert code == 2
    assert "ARGOCD_AUTH_TOKEN" in capsys.readouterr().err


# -- the live rule, over Application objects -------------------------------------------------
def app(**status: object) -> dict[str, object]:
    base = {"sync": {"status": "Synced", "revision": NEW}, "health": {"status": "Healthy"}}
    return {"status": base | status}


def test_judge_needs_every_condition() -> None:
    assert judge(app(), NEW).phase == "live"
    assert judge(app(), NEW[:7]).phase == "live"
    assert judge(app(sync={"status": "Synced", "revision": OLD}), NEW).phase == "pending"
    assert judge(app(sync={"status": "OutOfSync", "revision": NEW}), NEW).phase == "pending"
    assert judge(app(health={"status": "Progressing"}), NEW).phase == "pending"
    assert judge(app(health={"status": "Suspended"}), NEW).phase == "pending"
    assert judge({**app(), "operation": {"sync": {}}}, NEW).phase == "pending"
    running = {"phase": "Running", "startedAt": "2026-01-01T00:00:00Z"}
    assert judge(app(operationState=running), NEW).phase == "pending"
    broken = [{"type": "ComparisonError", "message": "rpc error: manifest generation failed"}]
    verdict = judge(app(conditions=broken), NEW)
    assert verdict.phase == "pending" and "manifest generation failed" in verdict.message
    done = {"phase": "Succeeded", "finishedAt": "2026-01-01T00:00:10Z"}
    stale = judge(app(operationState=done, reconciledAt="2026-01-01T00:00:09Z"), NEW)
    assert stale.phase == "pending" and stale.stale
    fresh = judge(app(operationState=done, reconciledAt="2026-01-01T00:00:10Z"), NEW)
    assert fresh.phase == "live"


def test_judge_failed_operation_counts_only_for_our_revision() -> None:
    old_failure = {
        "phase": "Failed",
        "message": "boom",
        "syncResult": {"revision": OLD},
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:00:01Z",
    }
    state = app(sync={"status": "OutOfSync", "revision": NEW}, operationState=old_failure)
    assert judge(state, NEW).phase == "pending"
    ours = old_failure | {"syncResult": {"revision": NEW}}
    verdict = judge(app(operationState=ours), NEW)
    assert verdict.phase == "failed" and verdict.message == "boom"


def test_judge_multi_source_picks_the_config_repo_source() -> None:
    multi = {
        "spec": {
            "sources": [
                {"repoURL": "https://charts.test/x"},
                {"repoURL": "https://git.test/platform/config.git"},
            ]
        },
        "status": {
            "sync": {"status": "Synced", "revisions": ["1.2.3", NEW]},
            "health": {"status": "Healthy"},
        },
    }
    assert judge(multi, NEW, repo="git@git.test:platform/config").phase == "live"
    assert judge(multi, OLD, repo="https://git.test/platform/config").phase == "pending"


def test_without_wait_it_only_asks(
    argocd: ArgoCDApi, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = argocd.add_app("shop")
    argocd.push(NEW)
    code, text, _ = handoff(argocd, token, "--app", "shop", "--no-wait", capsys=capsys)
    assert code == 0, text
    assert app.refreshes == 1 and app.live_at is None
    assert "asked argocd to reconcile shop (not waiting)" in text


@pytest.mark.parametrize("revision", ["main", "v1.2.3", "abc12", "a1" * 40])
def test_revision_must_be_a_commit(revision: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        ["handoff", "--agent", "argocd", "--app", "a", "--revision", revision],
        env={"ARGOCD_SERVER": "127.0.0.1:1", "ARGOCD_AUTH_TOKEN": "x" * 20},
    )
    assert code == 2
    assert "expected a commit SHA" in capsys.readouterr().err
