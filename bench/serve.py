"""Benchmark serve: prints figures, asserts nothing.

A real ``gitops-actions serve`` process, a git smart-HTTP remote and the loopback GitHub API,
all on loopback:
1. webhook -> comment posted, for a 1,000-application config repo (bench/diff.py's) with one
   application changed: the first run (the mirror is cloned) and warm runs (a new head);
2. deliveries acknowledged under load: signed ``pull_request`` deliveries sent at a fixed
   rate, each on a new connection; acknowledgement latency percentiles as the sender sees
   them (connect, send, first bytes of the answer).

Run: .venv/bin/python bench/serve.py [--services 334] [--rate 200] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from gitops_actions import git
from gitops_actions.sandbox import GitHttpServer

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "serve")]
from diff import make_repo  # noqa: E402

from fakes.github_api import GitHubApi  # noqa: E402
from servebot import Bot, github_pull, github_signature  # noqa: E402

TOKEN = "ghp_" + secrets.token_hex(16)


def change(work: git.Repo, service: int, tag: str) -> str:
    overlay = work.path / "apps" / f"svc{service:04d}" / "overlays" / "prod" / "kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("newTag: 1.0.0", f"newTag: {tag}"))
    work.add()
    return work.commit(f"svc{service:04d} {tag}")


def comment_for(api: GitHubApi, number: int, head: str, since: float, limit: float) -> float:
    """Seconds from ``since`` until the pull request's comment names ``head``."""
    while time.perf_counter() - since < limit:
        if any(head in c["body"] for c in api.comments_on("acme/config", number)):
            return time.perf_counter() - since
        time.sleep(0.005)
    raise SystemExit(f"no comment for {head[:12]} within {limit}s")


def webhook_to_comment(tmp: Path, services: int, runs: int) -> None:
    with GitHttpServer(tmp / "git", "x-access-token", TOKEN) as server, GitHubApi(TOKEN) as api:
        bare = server.root / "acme" / "config.git"
        git.init(bare, bare=True)
        work = git.init(tmp / "work")
        make_repo(work.path, services, 20)
        work.add()
        work.commit("1,000 applications")
        work.push(str(bare), "main")
        work.git("checkout", "-q", "-b", "feature")
        api.add_repo("acme/config", clone_url=server.repo_url("acme/config.git"))
        number = api.add_pull("acme/config", "feature")
        bot = Bot("github", tmp / "state", forge_url=api.url, token=TOKEN)
        try:
            for index in range(runs + 1):
                head = change(work, index, f"2.0.{index}")
                work.push(str(bare), "+feature:feature")
                payload = github_pull(
                    "acme/config", number, head, clone_url=server.repo_url("acme/config.git")
                )
                start = time.perf_counter()
                bot.post("pull_request", payload)
                took = comment_for(api, number, head, start, 120)
                run = bot.wait_for(
                    lambda r, h=head: r.get("msg") == "run finished" and r.get("head") == h
                )
                label = "first run (mirror cloned)" if index == 0 else f"warm run {index}"
                phases = ", ".join(f"{k} {v:.2f}" for k, v in run.get("phases", {}).items())
                print(f"  {label}: webhook -> comment {took:.2f} s (run {run['seconds']:.2f} s: "
                      f"{phases})")  # fmt: skip
        finally:
            bot.stop()
        body = api.comments_on("acme/config", number)[0]["body"]
        print(f"  comment: {len(body)} characters, {body.count('svc')} mentions of services")


def _request(host: str, index: int, action: str) -> bytes:
    """One signed ``pull_request`` delivery as raw HTTP/1.1 bytes."""
    payload = github_pull(
        "acme/load", index % 100 + 1, f"{index:040x}", action=action,
        clone_url="http://127.0.0.1:9/x",
    )  # fmt: skip
    body = json.dumps(payload).encode()
    head = (
        f"POST /webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        f"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
        f"X-Hub-Signature-256: {github_signature(body)}\r\n\r\n"
    )
    return head.encode() + body


def acknowledgements(tmp: Path, rate: float, seconds: float, action: str) -> None:
    with GitHubApi(TOKEN) as api:
        bot = Bot("github", tmp / "state-load", forge_url=api.url, token=TOKEN,
                  extra=["--workers", "1", "--max-queue", "100000"])  # fmt: skip
        total = int(rate * seconds)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        counter = iter(range(total))
        start = time.perf_counter() + 0.2

        host, port = bot.url.removeprefix("http://").split(":")
        prepared = [_request(host, index, action) for index in range(total)]  # signed before timing

        def sender() -> None:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                due = start + index / rate
                time.sleep(max(0.0, due - time.perf_counter()))
                sent = time.perf_counter()
                with socket.create_connection((host, int(port)), timeout=30) as sock:
                    sock.sendall(prepared[index])
                    answer = sock.recv(65536)
                took = time.perf_counter() - sent
                status = int(answer.split(b" ", 2)[1]) if answer else 0
                with lock:
                    latencies.append(took)
                    statuses[status] = statuses.get(status, 0) + 1

        threads = [threading.Thread(target=sender) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        bot.stop()
        inside = sorted(r["ms"] for r in bot.log() if r.get("msg") == "delivery")
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    print(f"  {total} deliveries in {elapsed:.2f} s ({total / elapsed:.0f}/s), answers {statuses}")
    print(
        f"  acknowledgement: p50 {pct(50):.1f} ms, p95 {pct(95):.1f} ms, p99 {pct(99):.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms, mean {statistics.mean(ordered) * 1000:.1f} ms"
    )
    print(
        f"  of which in the handler: p50 {inside[len(inside) // 2]:.1f} ms, "
        f"p99 {inside[int(len(inside) * 0.99)]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=334, help="x3 environments = apps")
    parser.add_argument("--runs", type=int, default=3, help="warm runs after the first")
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to send")
    parser.add_argument(
        "--action",
        default="synchronize",
        help="pull_request action of the load: synchronize queues runs (their work competes "
        "with the intake); labeled is answered without any",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        print(f"webhook -> comment, {args.services * 3} applications, one changed (target < 3 s):")
        webhook_to_comment(Path(tmp), args.services, args.runs)
        print(f"acknowledgements at {args.rate:.0f} deliveries/s, {args.action} "
              "(target p99 < 50 ms):")  # fmt: skip
        acknowledgements(Path(tmp), args.rate, args.seconds, args.action)


if __name__ == "__main__":
    main()
