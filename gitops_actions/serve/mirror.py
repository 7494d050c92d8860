"""One bare mirror per repository; each run fetches the base branch and the head into it.

Both come from the base repository, in one fetch: the head of a pull request from the same
repository is its branch; the head of one from a fork is the ref the forge keeps for it in
the base repository (``refs/pull/<N>/head`` on GitHub, ``refs/merge-requests/<IID>/head``
on GitLab), since a private fork cannot be fetched by its own URL and a public one needs
no trust in the URL a delivery names. Credentials reach git through the environment only
(``git.Auth``): never in a URL, never in ``.git/config``.

The mirror stays between runs, so a fetch transfers only the new commits. Fetches into one
mirror take turns (a thread lock, and a file lock for other processes sharing the
directory); reading objects for the renders needs no lock.
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
FORK_HEADS = {"github": "refs/pull/{number}/head", "gitlab": "refs/merge-requests/{number}/head"}
# a fetch does no more than fetch: no FETCH_HEAD, no forced-update scan, no maintenance
FETCH = ("fetch", "--quiet", "--no-tags", "--force", "--no-write-fetch-head",
         "--no-show-forced-updates", "--no-auto-maintenance", "--no-auto-gc")  # fmt: skip


class HeadMissing(ExternalError):
    """The pull request's ref does not hold the commit: not moved there yet, or pushed over."""


class Mirrors:
    def __init__(self, root: Path, forge: str, token: str | None, env: dict[str, str]) -> None:
        self.root, self.forge = root, forge
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

    def head_source(self, job: Job) -> str:
        """The ref of the base repository that holds the job's head."""
        if job.fork:
            return FORK_HEADS[self.forge].format(number=job.number)
        return f"refs/heads/{job.head_ref}"

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
                git.Repo(path, auth=self.auth, env=self.env).git(
                    *FETCH, "--", job.base_url,
                    f"+refs/heads/{job.base_ref}:{base_ref}",
                    f"+{self.head_source(job)}:{head_ref}",
                )  # fmt: skip
        repo = git.Repo(path, env=self.env)
        found = repo.git("cat-file", "-e", f"{job.head_sha}^{{commit}}", check=False)
        if found.returncode != 0:
            raise HeadMissing(f"{job.key}: {job.head_ref} no longer holds {job.head_sha[:12]}")
        return repo, repo.head_sha(base_ref)
