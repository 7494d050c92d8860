"""Webhook intake of a real ``serve`` process, over HTTP on loopback: verification,
duplicates, the body cap, unknown events and the repository allowlist."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fakes.github_api import GitHubApi
from fakes.gitlab_api import GitLabApi
from servebot import SECRET, Bot, github_pull, github_sha1, github_signature, gitlab_merge_request

SHA = "a" * 40
TOKEN = "ghp_" + secrets.token_hex(16)
GL_TOKEN = "glpat-" + secrets.token_hex(10)


def running_bot(forge: str, state: Path, api: GitHubApi | GitLabApi, token: str) -> Iterator[Bot]:
    bot = Bot(forge, state, forge_url=api.url, token=token)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture(scope="module")
def github_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    with GitHubApi(TOKEN) as api:
        api.add_repo("acme/config")
        yield from running_bot("github", tmp_path_factory.mktemp("state"), api, TOKEN)


@pytest.fixture(scope="module")
def gitlab_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    with GitLabApi(GL_TOKEN) as api:
        api.add_project("acme/config")
        yield from running_bot("gitlab", tmp_path_factory.mktemp("state"), api, GL_TOKEN)


def deliveries(bot: Bot, delivery: str) -> list[str]:
    return [
        r.get("verdict", "")
        for r in bot.log()
        if r.get("delivery") == delivery and r.get("msg", "").startswith("delivery")
    ]


def test_signed_delivery_is_queued(github_bot: Bot) -> None:
    delivery = str(uuid.uuid4())
    reply = github_bot.post("pull_request", github_pull("acme/config", 1, SHA), delivery=delivery)
    assert reply.status_code == 202, reply.text
    assert reply.json()["verdict"] == "queued"
    record = github_bot.wait_for(lambda r: r.get("delivery") == delivery)
    assert record["pr"] == "github:acme/config#1" and record["head"] == SHA


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"X-Hub-Signature-256": ""}, "missing X-Hub-Signature-256"),
        ({"X-Hub-Signature-256": github_signature(b"{}", "not-the-secret")}, "does not match"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "does not match"),
        ({"X-Hub-Signature-256": "md5=abc"}, "does not match"),
    ],
)
def test_bad_signatures_are_refused(github_bot: Bot, headers: dict[str, str], why: str) -> None:
    delivery = str(uuid.uuid4())
    payload = github_pull("acme/config", 2, SHA)
    reply = github_bot.post("pull_request", payload, headers=headers, delivery=delivery)
    assert reply.status_code == 401
    assert why in reply.json()["reason"]
    github_bot.wait_for(lambda r: r.get("delivery") == delivery)
    assert deliveries(github_bot, delivery) == ["unauthorized"]


def test_signature_of_another_body_is_refused(github_bot: Bot) -> None:
    payload = github_pull("acme/config", 2, SHA)
    forged = github_signature(b'{"action": "opened"}')
    reply = github_bot.post("pull_request", payload, headers={"X-Hub-Signature-256": forged})
    assert reply.status_code == 401


def test_sha1_only_signature_is_refused(github_bot: Bot) -> None:
    payload = github_pull("acme/config", 3, SHA)
    import json

    raw = json.dumps(payload).encode()
    reply = github_bot.post(
        "pull_request", payload, body=raw, sign=False, headers={"X-Hub-Signature": github_sha1(raw)}
    )
    assert reply.status_code == 401
    assert "SHA-1" in reply.json()["reason"]


def test_replayed_delivery_is_answered_once(github_bot: Bot) -> None:
    delivery = str(uuid.uuid4())
    payload = github_pull("acme/config", 4, "b" * 40)
    first = github_bot.post("pull_request", payload, delivery=delivery)
    again = github_bot.post("pull_request", payload, delivery=delivery)
    assert (first.status_code, first.json()["verdict"]) == (202, "queued")
    assert (again.status_code, again.json()["verdict"]) == (200, "duplicate")
    github_bot.wait_for(lambda r: r.get("delivery") == delivery, count=2)
    assert deliveries(github_bot, delivery) == ["queued", "duplicate"]


def test_oversize_body_gets_413(github_bot: Bot) -> None:
    raw = b'{"pad": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    reply = github_bot.post("pull_request", None, body=raw)
    assert reply.status_code == 413


def test_oversize_chunked_body_gets_413(github_bot: Bot) -> None:
    chunk = b"x" * (1024 * 1024)

    def body() -> Iterator[bytes]:
        yield b'{"pad": "'
        for _ in range(26):
            yield chunk
        yield b'"}'

    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": github_signature(b"{}"),
    }
    try:
        reply = requests.post(github_bot.url + "/webhook", data=body(), headers=headers, timeout=30)
    except requests.ConnectionError:
        return  # the server may close the connection as soon as the cap is passed
    assert reply.status_code == 413


def test_unknown_event_does_no_work(github_bot: Bot) -> None:
    delivery = str(uuid.uuid4())
    payload = {"ref": "refs/heads/main", "repository": {"full_name": "acme/config"}}
    reply = github_bot.post("push", payload, delivery=delivery)
    assert (reply.status_code, reply.json()["verdict"]) == (202, "ignored")
    github_bot.wait_for(lambda r: r.get("delivery") == delivery)
    assert deliveries(github_bot, delivery) == ["ignored"]


def test_repository_not_allowed_gets_403_and_no_work(github_bot: Bot) -> None:
    delivery = str(uuid.uuid4())
    payload = github_pull("evil/config", 1, "c" * 40)
    reply = github_bot.post("pull_request", payload, delivery=delivery)
    assert reply.status_code == 403
    github_bot.wait_for(lambda r: r.get("delivery") == delivery)
    assert deliveries(github_bot, delivery) == ["forbidden"]
    assert not [r for r in github_bot.log() if r.get("pr") == "github:evil/config#1"]


def test_malformed_payload_gets_400(github_bot: Bot) -> None:
    reply = github_bot.post("pull_request", None, body=b"{not json")
    assert reply.status_code == 400
    reply = github_bot.post("pull_request", {"action": "opened", "repository": {}})
    assert reply.status_code == 400


def test_ping_health_and_metrics(github_bot: Bot) -> None:
    assert github_bot.post("ping", {"zen": "Keep it simple."}).json()["verdict"] == "pong"
    assert github_bot.get("/healthz").status_code == 200
    assert github_bot.get("/readyz").status_code == 200
    metrics = github_bot.get("/metrics").text
    assert "gitops_serve_queue_depth " in metrics
    assert github_bot.metric('gitops_serve_deliveries_total{verdict="unauthorized"}') >= 1


def test_secrets_never_reach_the_log(github_bot: Bot) -> None:
    github_bot.post("pull_request", github_pull("acme/config", 9, SHA))
    github_bot.post("pull_request", {}, headers={"X-Hub-Signature-256": "sha256=" + SECRET})
    text = github_bot.text()
    assert text, "the service logs"
    assert SECRET not in text and TOKEN not in text


# -- GitLab ------------------------------------------------------------------------------
def test_gitlab_token_required(gitlab_bot: Bot) -> None:
    payload = gitlab_merge_request("acme/config", 1, SHA)
    assert gitlab_bot.post("Merge Request Hook", payload).status_code == 202
    missing = gitlab_bot.post("Merge Request Hook", payload, sign=False)
    wrong = gitlab_bot.post("Merge Request Hook", payload, headers={"X-Gitlab-Token": "nope"})
    assert (missing.status_code, wrong.status_code) == (401, 401)


@pytest.mark.parametrize("header", ["X-Gitlab-Event-UUID", "Idempotency-Key"])
def test_gitlab_duplicates_answered_once(gitlab_bot: Bot, header: str) -> None:
    key = str(uuid.uuid4())
    payload = gitlab_merge_request("acme/config", 2, "d" * 40)
    headers = {"X-Gitlab-Event-UUID": "", header: key}
    first = gitlab_bot.post("Merge Request Hook", payload, headers=headers)
    again = gitlab_bot.post("Merge Request Hook", payload, headers=headers)
    assert (first.json()["verdict"], again.json()["verdict"]) == ("queued", "duplicate")


def test_gitlab_update_without_new_commits_is_ignored(gitlab_bot: Bot) -> None:
    payload = gitlab_merge_request("acme/config", 3, SHA, oldrev=None)
    assert gitlab_bot.post("Merge Request Hook", payload).json()["verdict"] == "ignored"


def test_gitlab_project_not_allowed(gitlab_bot: Bot) -> None:
    payload = gitlab_merge_request("other/config", 3, SHA)
    assert gitlab_bot.post("Merge Request Hook", payload).status_code == 403


def test_gitlab_unknown_event(gitlab_bot: Bot) -> None:
    reply = gitlab_bot.post("Push Hook", {"project": {"path_with_namespace": "acme/config"}})
    assert reply.json()["verdict"] == "ignored"


def test_secret_file_and_missing_secret(tmp_path: Path) -> None:
    from support import base_env, run_cli

    done = run_cli(
        "serve", "--forge", "github", "--allow", "acme/*", "--listen", "127.0.0.1:0",
        env=base_env(GITHUB_TOKEN=TOKEN),
    )  # fmt: skip
    assert done.returncode == 2
    assert "no webhook secret" in done.stderr and TOKEN not in done.stderr
    assert "Traceback" not in done.stderr


def test_forge_has_no_default(tmp_path: Path) -> None:
    from support import base_env, run_cli

    done = run_cli(
        "serve", "--allow", "acme/*", "--listen", "127.0.0.1:0", "--state", str(tmp_path),
        env=base_env(GITHUB_TOKEN=TOKEN, GITOPS_WEBHOOK_SECRET=SECRET),
    )  # fmt: skip
    assert done.returncode == 2
    assert "missing --forge (or GITOPS_FORGE)" in done.stderr
    assert "Traceback" not in done.stderr and not list(tmp_path.iterdir())
