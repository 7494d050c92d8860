"""The config-repo writer: apply a plan, commit, push, and never lose anyone's work.

On a rejected push it fetches the new tip, resets to it and re-runs the edit from
scratch (never replaying a stale diff), then commits and pushes again, with jittered
exponential backoff, bounded by a number of attempts and a deadline.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_actions import git
from gitops_actions.edit.plan import FileChange, Plan, inside
from gitops_actions.errors import ExternalError, UsageError

_REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://|^[\w.-]+@[\w.-]+:")


@dataclass(frozen=True)
class Target:
    repo: str  # a local directory, a local clone, or a remote URL (or bare repo path)
    branch: str | None = None
    commit: bool = True
    push: bool = True
    retries: int = 10
    timeout: float = 300.0
    identity: git.Identity = git.BOT
    auth: git.Auth | None = None


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    changed: bool
    commit: str = ""
    branch: str = ""
    attempts: int = 0


def is_remote(repo: str) -> bool:
    path = Path(repo)
    bare = path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir()
    return bool(_REMOTE.match(repo)) or bare


def write_files(root: Path, changes: tuple[FileChange, ...]) -> None:
    """Write each changed file atomically (temp file, then rename), keeping its mode."""
    for change in changes:
        path = inside(root, change.path)
        tmp = path.with_name(f".{path.name}.gitops-tmp")
        tmp.write_bytes(change.after)
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode)
        os.replace(tmp, path)


@contextlib.contextmanager
def checkout(target: Target, env: Mapping[str, str]) -> Iterator[tuple[git.Repo | None, str]]:
    """The working tree to edit, and the branch to push to (empty: no git)."""
    if is_remote(target.repo):
        branch = target.branch or git.remote_default_branch(target.repo, auth=target.auth, env=env)
        tmp = tempfile.mkdtemp(prefix="gitops-config-")
        try:
            repo = git.clone(
                target.repo,
                Path(tmp) / "repo",
                branch=branch,
                depth=1,
                identity=target.identity,
                auth=target.auth,
                env=env,
            )
            yield repo, branch
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    path = Path(target.repo)
    if not path.is_dir():
        raise UsageError(f"--repo {target.repo}: no such directory")
    if not target.commit:
        yield None, ""
        return
    if not (path / ".git").exists():
        raise UsageError(
            f"--repo {target.repo}: not a git checkout (use --no-commit to edit files only)"
        )
    repo = git.Repo(path, identity=target.identity, auth=target.auth, env=env)
    if repo.is_dirty():
        raise UsageError(f"--repo {target.repo}: the working tree has uncommitted changes")
    branch = repo.current_branch()
    if target.branch and target.branch != branch:
        repo.git("checkout", "--quiet", target.branch)
        branch = target.branch
    yield repo, branch


def _has_remote(repo: git.Repo) -> bool:
    return "origin" in repo.git("remote").stdout.split()


def write(
    target: Target,
    compute: Callable[[Path], Plan],
    message: Callable[[Plan], str],
    env: Mapping[str, str],
    log: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], Any] = time.sleep,
) -> Outcome:
    """Plan on the current tip, write, commit and push; on rejection start over."""
    deadline = time.monotonic() + target.timeout
    with checkout(target, env) as (repo, branch):
        root = repo.path if repo else Path(target.repo)
        if repo is None:
            plan = compute(root)
            write_files(root, plan.changes)
            return Outcome(plan, plan.changed)
        push = target.push and _has_remote(repo)
        for attempt in range(1, target.retries + 1):
            plan = compute(root)
            if not plan.changed:
                return Outcome(plan, False, repo.head_sha(), branch, attempt)
            write_files(root, plan.changes)
            repo.add([c.path for c in plan.changes])
            sha = repo.commit(message(plan))
            if not push:
                return Outcome(plan, True, sha, branch, attempt)
            try:
                repo.push("origin", f"HEAD:refs/heads/{branch}")
                return Outcome(plan, True, sha, branch, attempt)
            except git.PushRejected:
                if attempt == target.retries or time.monotonic() > deadline:
                    break
                pause = min(10.0, 0.2 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
                log(
                    f"push rejected: the branch moved on; retrying on the new tip in "
                    f"{pause:.1f}s (attempt {attempt + 1} of {target.retries})"
                )
                sleep(pause)
                shallow = repo.git("rev-parse", "--is-shallow-repository").stdout.strip()
                tip = repo.fetch(
                    "origin", f"refs/heads/{branch}", depth=1 if shallow == "true" else None
                )
                repo.reset_hard(tip)
        raise ExternalError(
            f"push to {branch} still rejected after {attempt} attempts",
            hint="raise --retries or --timeout",
        )
