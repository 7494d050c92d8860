"""A real ``gitops-actions serve`` process on loopback, and webhook deliveries for it."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from gitops_actions import git
from gitops_actions.sandbox import GitHttpServer

from support import base_env, need

SECRET = "whsec-" + "5e" * 12
TOKEN = "ghp_" + "7a" * 16

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0.0
"""


def git_server(root: Path, username: str, token: str) -> GitHttpServer:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout
    if not (Path(exec_path.strip()) / "git-http-backend").exists():
        need("git-http-backend is not installed")
    return GitHttpServer(root, username, token)


class ConfigRepo:
    """``acme/config.git`` on the git server, and a work tree to push branches from."""

    def __init__(self, server: GitHttpServer, work: Path, name: str = "acme/config.git") -> None:
        self.server, self.url = server, server.repo_url(name)
        git.init(server.root / name, bare=True)
        self.work = git.init(work)
        self.write(web=1, other=1)
        self.work.push(str(server.root / name), "main")
        self.bare = str(server.root / name)

    def write(self, **replicas: int) -> None:
        for app, count in replicas.items():
            path = self.work.path / "apps" / app / "deployment.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(DEPLOYMENT.format(replicas=count).replace("web", app))
        self.work.add()
        self.work.commit(f"replicas {replicas}")

    def branch(self, name: str, *changes: dict[str, int]) -> list[str]:
        """Commits on a new branch ``name`` from main, one per change, pushed at the end."""
        return self._commits(name, f"refs/heads/{name}", changes)

    def fork(self, ref: str, *changes: dict[str, int]) -> list[str]:
        """Commits of a pull request from a fork: the base repository holds them only under
        ``ref`` (``refs/pull/<N>/head``, ``refs/merge-requests/<IID>/head``), as forges do."""
        heads = self._commits("fork-work", ref, changes)
        self.work.git("branch", "-q", "-D", "fork-work")
        return heads

    def _commits(self, branch: str, ref: str, changes: tuple[dict[str, int], ...]) -> list[str]:
        self.work.git("checkout", "-q", "-B", branch, "main")
        heads = []
        for change in changes:
            self.write(**change)
            heads.append(self.work.head_sha())
        self.work.push(self.bare, f"+{branch}:{ref}")
        self.work.git("checkout", "-q", "main")
        return heads


def intervals(bot: Bot, pr: str) -> list[tuple[float, float, str]]:
    """(started, finished, head) of every run of ``pr``, from the run log."""
    starts = {r["seq"]: r for r in bot.log() if r.get("msg") == "run started" and r["pr"] == pr}
    ends = {r["seq"]: r for r in bot.log() if r.get("msg") == "run finished" and r["pr"] == pr}
    return sorted((starts[s]["ts"], ends[s]["ts"], ends[s]["head"]) for s in ends)


def finished(bot: Bot, pr: str, head: str, outcome: str = "success") -> Any:
    return bot.wait_for(
        lambda r: r.get("msg") == "run finished" and r.get("pr") == pr and r.get("head") == head
        and r.get("outcome") == outcome, timeout=120,
    )  # fmt: skip


class Bot:
    """``gitops-actions serve`` in a subprocess; its JSON log lines are collected."""

    def __init__(
        self,
        forge: str,
        state: Path,
        *,
        forge_url: str,
        token: str,
        allow: Sequence[str] = ("acme/*",),
        extra: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self.forge = forge
        variable = "GITHUB_TOKEN" if forge == "github" else "GITLAB_TOKEN"
        args = [
            sys.executable, "-m", "gitops_actions", "serve", "--forge", forge,
            "--listen", f"127.0.0.1:{port}", "--forge-url", forge_url, "--state", str(state),
            *(a for glob in allow for a in ("--allow", glob)), *extra,
        ]  # fmt: skip
        environment = base_env(**{variable: token, "GITOPS_WEBHOOK_SECRET": SECRET}) | dict(
            env or {}
        )
        self.proc = subprocess.Popen(
            args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        started = self.wait_for(lambda r: r.get("msg") == "listening", timeout=30)
        self.url = f"http://127.0.0.1:{started['port']}"

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line)
                with contextlib.suppress(ValueError):
                    self.records.append(json.loads(line))

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.records)

    def text(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def wait_for(self, match: Any, timeout: float = 60, count: int = 1) -> dict[str, Any]:
        """The ``count``-th log record for which ``match(record)`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.log() if match(r)]
            if len(found) >= count:
                return found[count - 1]
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader catch the last lines
                raise AssertionError(f"serve exited ({self.proc.returncode}):\n{self.text()}")
            time.sleep(0.05)
        raise AssertionError(f"no such log record within {timeout}s:\n{self.text()[-4000:]}")

    def runs(self, outcome: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.log()
            if r.get("msg") == "run finished" and outcome in (None, r.get("outcome"))
        ]

    def post(self, event: str, payload: Any, *, headers: Mapping[str, str] | None = None,
             body: bytes | None = None, sign: bool = True, delivery: str | None = None,
             ) -> requests.Response:  # fmt: skip
        """Deliver ``payload`` as the forge would: signed (GitHub) or with the token (GitLab)."""
        raw = body if body is not None else json.dumps(payload).encode()
        sent = {"Content-Type": "application/json"}
        delivery = delivery or str(uuid.uuid4())
        if self.forge == "github":
            sent |= {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
            if sign:
                sent["X-Hub-Signature-256"] = github_signature(raw)
        else:
            sent |= {"X-Gitlab-Event": event, "X-Gitlab-Event-UUID": delivery}
            if sign:
                sent["X-Gitlab-Token"] = SECRET
        sent |= dict(headers or {})
        return requests.post(self.url + "/webhook", data=raw, headers=sent, timeout=30)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=10)

    def metric(self, name: str) -> float:
        """A value from /metrics (0 when the series is absent)."""
        for line in self.get("/metrics").text.splitlines():
            key, _, value = line.rpartition(" ")
            if key == name:
                return float(value)
        return 0.0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._reader.join(timeout=5)


def github_signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_sha1(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def github_pull(
    project: str,
    number: int,
    head_sha: str,
    *,
    action: str = "synchronize",
    head_ref: str = "feature",
    clone_url: str = "http://127.0.0.1:9/acme/config.git",
    head_repo: str | None = None,
    head_url: str | None = None,
    base_ref: str = "main",
) -> dict[str, Any]:
    """A ``pull_request`` delivery with the fields GitHub sends that serve reads."""
    repository = {"full_name": project, "clone_url": clone_url}
    head_repository = {"full_name": head_repo or project, "clone_url": head_url or clone_url}
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "open",
            "head": {"sha": head_sha, "ref": head_ref, "repo": head_repository},
            "base": {"sha": "0" * 40, "ref": base_ref, "repo": repository},
        },
        "repository": repository,
    }


def gitlab_merge_request(
    project: str,
    iid: int,
    head_sha: str,
    *,
    action: str = "update",
    oldrev: str | None = "1" * 40,
    source_branch: str = "feature",
    clone_url: str = "http://127.0.0.1:9/acme/config.git",
    target_branch: str = "main",
    source: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A ``Merge Request Hook`` delivery with the fields GitLab sends that serve reads;
    ``source`` is (project, clone URL) of a fork the merge request comes from."""
    side = {"path_with_namespace": project, "git_http_url": clone_url}
    origin = {"path_with_namespace": source[0], "git_http_url": source[1]} if source else side
    attrs: dict[str, Any] = {
        "iid": iid,
        "action": action,
        "source_branch": source_branch,
        "target_branch": target_branch,
        "last_commit": {"id": head_sha},
        "source": origin,
        "target": side,
    }
    if oldrev is not None:
        attrs["oldrev"] = oldrev
    return {"object_kind": "merge_request", "project": side, "object_attributes": attrs}
