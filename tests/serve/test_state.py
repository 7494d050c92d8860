"""State that outlives a process: SQLite across ``kill -9``, Redis across replicas."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from fakes.github_api import GitHubApi
from servebot import TOKEN, Bot, ConfigRepo, finished, github_pull, intervals


def open_pulls(api: GitHubApi, repo: ConfigRepo, count: int) -> tuple[str, list[int]]:
    (head,) = repo.branch("feature", {"web": 7})
    numbers = [api.add_pull("acme/config", "feature") for _ in range(count)]
    for number in numbers:
        api.set_head("acme/config", number, head)
    return head, numbers


def one_pull(api: GitHubApi, repo: ConfigRepo) -> tuple[str, int, str, dict[str, Any]]:
    """One open pull request: its head, number, queue key and a delivery for it."""
    head, (number,) = open_pulls(api, repo, 1)
    payload = github_pull("acme/config", number, head, clone_url=repo.url)
    return head, number, f"github:acme/config#{number}", payload


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_jobs_survive_kill_9(github: tuple[GitHubApi, ConfigRepo], tmp_path: Path) -> None:
    api, repo = github
    head, numbers = open_pulls(api, repo, 3)
    state = tmp_path / "state"
    bot = Bot("github", state, forge_url=api.url, token=TOKEN, extra=["--workers", "1"])
    repo.server.delay = 2.0  # the first run is still fetching when the process dies
    try:
        for number in numbers:
            payload = github_pull("acme/config", number, head, clone_url=repo.url)
            assert bot.post("pull_request", payload).status_code == 202
        bot.wait_for(lambda r: r.get("msg") == "run started")
        workers = children(bot.proc.pid)
        assert workers, "the worker process runs beside the intake"
    finally:
        bot.kill()
        repo.server.delay = 0.0
    assert not bot.runs(), "nothing had finished before the kill"
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "the worker died too"
    again = Bot("github", state, forge_url=api.url, token=TOKEN, extra=["--workers", "2"])
    try:
        for number in numbers:
            finished(again, f"github:acme/config#{number}", head)
    finally:
        again.stop()
    for number in numbers:
        assert len(api.comments_on("acme/config", number)) == 1


# -- Redis -------------------------------------------------------------------------------
def replicas(api: GitHubApi, tmp_path: Path, url: str, count: int, *extra: str) -> list[Bot]:
    options = ["--queue", url, "--workers", "2", *extra]
    return [
        Bot("github", tmp_path / f"state-{i}", forge_url=api.url, token=TOKEN, extra=options)
        for i in range(count)
    ]


def test_three_replicas_on_redis_run_each_pull_request_once(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path, redis_url: str
) -> None:
    api, repo = github
    head, numbers = open_pulls(api, repo, 20)
    bots = replicas(api, tmp_path, redis_url, 3)
    try:
        for index, number in enumerate(numbers):
            delivery = str(uuid.uuid4())
            payload = github_pull("acme/config", number, head, clone_url=repo.url)
            first = bots[index % 3].post("pull_request", payload, delivery=delivery)
            again = bots[(index + 1) % 3].post("pull_request", payload, delivery=delivery)
            assert (first.json()["verdict"], again.json()["verdict"]) == ("queued", "duplicate")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            done = [r for bot in bots for r in bot.runs()]
            if len(done) >= 20:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # a second run of any pull request would show by now
        done = [r for bot in bots for r in bot.runs()]
    finally:
        for bot in bots:
            bot.stop()
    assert Counter(r["outcome"] for r in done) == {"success": 20}
    assert sorted(Counter(r["pr"] for r in done).values()) == [1] * 20
    assert sum(1 for bot in bots if bot.runs()) >= 2, "the work spread over the replicas"
    for number in numbers:
        assert len(api.comments_on("acme/config", number)) == 1


def test_replica_killed_mid_run_another_finishes_after_the_lease_expires(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path, redis_url: str
) -> None:
    api, repo = github
    head, number, pr, payload = one_pull(api, repo)
    bots = replicas(api, tmp_path, redis_url, 3, "--lease-ttl", "2")
    repo.server.delay = 1.5
    try:
        assert bots[0].post("pull_request", payload).status_code == 202
        deadline = time.monotonic() + 30
        holder = None
        while holder is None and time.monotonic() < deadline:
            holder = next((b for b in bots if any(r.get("msg") == "run started"
                                                   for r in b.log())), None)  # fmt: skip
            time.sleep(0.02)
        assert holder is not None, "no replica started the run"
        holder.kill()
        killed_at = time.time()
        repo.server.delay = 0.0
        others = [b for b in bots if b is not holder]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(b.runs("success") for b in others):
            time.sleep(0.1)
        finisher = next(b for b in others if b.runs("success"))
        ((started, _, ran_head),) = intervals(finisher, pr)
    finally:
        repo.server.delay = 0.0
        for bot in bots:
            bot.stop()
    assert ran_head == head
    assert started >= killed_at + 1.0, "the other replica waited for the lease to expire"
    assert not holder.runs()
    assert len(api.comments_on("acme/config", number)) == 1


def test_replica_that_loses_its_lease_stops_without_replying(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path, redis_url: str
) -> None:
    api, repo = github
    head, number, pr, payload = one_pull(api, repo)
    (bot,) = replicas(api, tmp_path, redis_url, 1, "--lease-ttl", "3")
    repo.server.delay = 1.0
    client = redis.Redis.from_url(redis_url)
    try:
        bot.post("pull_request", payload)
        bot.wait_for(lambda r: r.get("msg") == "run started")
        client.delete(f"gitops-serve:lease:{pr}")  # as if it had expired during a partition
        bot.wait_for(lambda r: r.get("msg") == "lease lost" and r.get("pr") == pr)
        repo.server.delay = 0.0
        finished(bot, pr, head, outcome="lost")
        finished(bot, pr, head)
    finally:
        repo.server.delay = 0.0
        client.close()
        bot.stop()
    assert sorted(r["outcome"] for r in bot.runs()) == ["lost", "success"]
    assert len(api.comments_on("acme/config", number)) == 1
    assert len(api.requests("POST", f"/issues/{number}/comments")) == 1
