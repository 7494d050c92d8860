"""Operating a real ``serve`` process: SIGTERM drains, a bounded queue, rate limits,
metrics and JSON logs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fakes.github_api import GitHubApi
from servebot import TOKEN, Bot, ConfigRepo, finished, github_pull


def pull(api: GitHubApi, repo: ConfigRepo, branch: str, replicas: int) -> tuple[int, str]:
    (head,) = repo.branch(branch, {"web": replicas})
    number = api.add_pull("acme/config", branch)
    api.set_head("acme/config", number, head)
    return number, head


def deliver(bot: Bot, repo: ConfigRepo, number: int, head: str, branch: str) -> int:
    payload = github_pull("acme/config", number, head, head_ref=branch, clone_url=repo.url)
    return bot.post("pull_request", payload).status_code


def test_sigterm_drains_the_run_in_flight(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path
) -> None:
    api, repo = github
    number, head = pull(api, repo, "feature", 3)
    options = ["--drain-timeout", "300"]  # a busy machine must not turn this into a cut-off
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN, extra=options)
    repo.server.delay = 1.0
    try:
        assert deliver(bot, repo, number, head, "feature") == 202
        bot.wait_for(lambda r: r.get("msg") == "run started")
        bot.proc.send_signal(15)
        bot.wait_for(lambda r: r.get("msg") == "draining")
        assert bot.get("/readyz").status_code == 503
        assert bot.get("/healthz").status_code == 200
    finally:
        repo.server.delay = 0.0
    assert bot.stop(timeout=300) == 0, bot.text()[-3000:]
    messages = [r["msg"] for r in bot.log()]
    assert messages.index("run finished") < messages.index("stopped")
    assert bot.runs()[0]["outcome"] == "success"
    assert bot.log()[-1]["cut_off"] == 0
    assert len(api.comments_on("acme/config", number)) == 1


def test_drain_timeout_cuts_off_and_the_next_start_finishes(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path
) -> None:
    api, repo = github
    number, head = pull(api, repo, "feature", 3)
    options = ["--drain-timeout", "1"]
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN, extra=options)
    repo.server.delay = 4.0
    try:
        deliver(bot, repo, number, head, "feature")
        bot.wait_for(lambda r: r.get("msg") == "run started")
        began = time.monotonic()
        assert bot.stop() == 0
        assert time.monotonic() - began < 3.5, "the drain timeout, not the run, ended it"
    finally:
        repo.server.delay = 0.0
    assert bot.log()[-1]["msg"] == "stopped" and bot.log()[-1]["cut_off"] == 1
    again = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN)
    try:
        finished(again, f"github:acme/config#{number}", head)
    finally:
        again.stop()


def test_full_queue_answers_503(github: tuple[GitHubApi, ConfigRepo], tmp_path: Path) -> None:
    api, repo = github
    pulls = [pull(api, repo, f"feature-{i}", i + 2) for i in range(3)]
    options = ["--workers", "1", "--max-queue", "1"]
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN, extra=options)
    repo.server.delay = 1.0
    try:
        (n0, h0), (n1, h1), (n2, h2) = pulls
        assert deliver(bot, repo, n0, h0, "feature-0") == 202
        bot.wait_for(lambda r: r.get("msg") == "run started")
        assert deliver(bot, repo, n1, h1, "feature-1") == 202
        payload = github_pull("acme/config", n2, h2, head_ref="feature-2", clone_url=repo.url)
        full = bot.post("pull_request", payload)
        assert full.status_code == 503 and full.headers["Retry-After"] == "30"
        assert deliver(bot, repo, n1, h1, "feature-1") == 202, "a newer head still fits"
        repo.server.delay = 0.0
        finished(bot, f"github:acme/config#{n1}", h1)
        refused = full.request.headers["X-GitHub-Delivery"]
        again = bot.post("pull_request", payload, delivery=refused)
        assert again.status_code == 202, "a refused delivery was not recorded as seen"
        finished(bot, f"github:acme/config#{n2}", h2)
        assert bot.metric('gitops_serve_deliveries_total{verdict="full"}') == 1
    finally:
        repo.server.delay = 0.0
        bot.stop()


def test_rate_limit_waits_for_retry_after_and_metrics_and_logs(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path
) -> None:
    api, repo = github
    number, head = pull(api, repo, "feature", 3)
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN)
    try:
        api.rate_limit(status=403, count=1, retry_after=2)
        deliver(bot, repo, number, head, "feature")
        run = finished(bot, f"github:acme/config#{number}", head)
        assert run["seconds"] >= 2.0, "the client waited as Retry-After said"
        assert len(api.comments_on("acme/config", number)) == 1
        assert bot.metric('gitops_serve_runs_total{outcome="success"}') == 1
        assert bot.metric("gitops_serve_run_duration_seconds_count") == 1
        assert bot.metric('gitops_serve_deliveries_total{verdict="queued"}') == 1
        assert bot.metric("gitops_serve_queue_depth") == 0
    finally:
        bot.stop()
    records = [json.loads(line) for line in bot.text().splitlines()]
    assert all({"ts", "level", "msg"} <= set(r) for r in records)
    delivery = next(r["delivery"] for r in records if r["msg"] == "delivery")
    assert {r["msg"] for r in records if r.get("delivery") == delivery} >= {
        "delivery",
        "run started",
        "run finished",
    }
