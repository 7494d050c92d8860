"""One bare mirror per repository; each run fetches the base branch and the head into it.

Credentials reach git through the environment only (``git.Auth``): never in a URL, never
in ``.git/config``. The head of a pull request from a fork is fetched without any.
Fetches into one mirror take turns (a thread lock, and a file lock for other processes
sharing the directory); reading objects for the renders needs no lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import threading
from pathlib import Path

from gitops_actions import git
from gitops_actions.errors import ExternalError
from gitops_actions.serve.events import Job

USERNAMES = {"github": "x-access-token", "gitlab": "oauth2"}


class HeadMissing(ExternalError):
    """The pull request's branch no longer holds the commit (force-pushed meanwhile)."""


class Mirrors:
    def __init__(self, root: Path, forge: str, token: str | None, env: dict[str, str]) -> None:
        self.root = root
        self.auth = git.Auth(token=token, username=USERNAMES[forge]) if token else None
        self.env = env
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, project: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", project)[:80]
        digest = hashlib.sha256(project.encode()).hexdigest()[:10]
        return self.root / f"{slug}-{digest}.git"

    def _lock(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def fetch(self, job: Job) -> tuple[git.Repo, str]:
        """The mirror holding the job's base and head, and the base branch's commit."""
        path = self.path(job.project)
        base_ref = f"refs/serve/{job.number}/base"
        head_ref = f"refs/serve/{job.number}/head"
        with self._lock(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path.parent / (path.name + ".lock"), "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                if not (path / "HEAD").exists():
                    git.init(path, bare=True, env=self.env)
                trusted = git.Repo(path, auth=self.auth, env=self.env)
                trusted.git(
                    "fetch", "--quiet", "--no-tags", "--force", "--", job.base_url,
                    f"+refs/heads/{job.base_ref}:{base_ref}",
                )  # fmt: skip
                fetcher = git.Repo(path, env=self.env) if job.fork else trusted
                fetcher.git(
                    "fetch", "--quiet", "--no-tags", "--force", "--", job.head_url,
                    f"+refs/heads/{job.head_ref}:{head_ref}",
                )  # fmt: skip
        repo = git.Repo(path, env=self.env)
        found = repo.git("cat-file", "-e", f"{job.head_sha}^{{commit}}", check=False)
        if found.returncode != 0:
            raise HeadMissing(f"{job.key}: {job.head_ref} no longer holds {job.head_sha[:12]}")
        return repo, repo.head_sha(base_ref)
