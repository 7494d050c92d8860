"""The config-repo writer: apply a plan, commit, push, and never lose anyone's work.

On a rejected push it fetches the new tip, resets to it and re-runs the edit from
scratch (never replaying a stale diff), then commits and pushes again. Retries go through
``retry.attempts``: bounded by the step's deadline (``--timeout``), never by a count, with
full-jitter backoff whose window grows with each rejection, so many writers racing for one
branch spread out instead of colliding again in lock step.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gitops_actions import git
from gitops_actions.edit.plan import FileChange, Plan, inside
from gitops_actions.errors import ExternalError, GitopsError, InputError, UsageError
from gitops_actions.retry import Backoff, Deadline, attempts

_REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://|^[\w.-]+@[\w.-]+:")


@dataclass(frozen=True)
class Target:
    repo: str  # a local directory, a local clone, or a remote URL (or bare repo path)
    branch: str | None = None
    commit: bool = True
    push: bool = True
    timeout: float = 300.0  # seconds for the whole write: clone, every retry, every push
    identity: git.Identity = git.BOT
    auth: git.Auth | None = None
    depth: int | None = 1  # how much history a clone of a remote fetches (None: all)


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    changed: bool
    commit: str = ""
    branch: str = ""
    attempts: int = 0


def push_backoff(deadline: Deadline) -> Backoff:
    """Pauses between pushes. A retry is cheap (fetch, re-plan, push), so the first pauses
    are short; each rejection means another writer landed first, and doubles the window.
    Fifty writers on one branch need windows of tens of seconds to take turns rather than
    burn the machine colliding, so the cap is a tenth of the budget (2 to 30 s)."""
    return Backoff(base=0.1, cap=min(30.0, max(2.0, deadline.seconds / 10)))


def is_remote(repo: str) -> bool:
    path = Path(repo)
    bare = path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir()
    return bool(_REMOTE.match(repo)) or bare


def write_files(root: Path, changes: tuple[FileChange, ...]) -> None:
    """Write every changed file, all or nothing, keeping each file's mode.

    Each new text goes to a temp file beside its target first; only when all are written
    are they renamed into place. When any step fails, the files already replaced are put
    back as they were (the same inode, bytes, mode and mtime: see ``_Kept``) and no temp
    file is left; the error names the file that failed.
    """
    staged: list[tuple[FileChange, Path, Path]] = []
    replaced: list[tuple[FileChange, Path, _Kept | None]] = []
    current = ""
    try:
        for change in changes:
            current = change.path
            path = inside(root, change.path)
            staged.append((change, path, _write_beside(path, change.after)))
        for change, path, tmp in staged:
            current = change.path
            kept = _Kept.of(path, path.parent) if os.path.lexists(path) else None
            try:
                os.replace(tmp, path)
            except OSError:
                if kept is not None:
                    kept.drop()
                raise
            replaced.append((change, path, kept))
    except OSError as err:
        for change, path, kept in reversed(replaced):
            with contextlib.suppress(OSError):
                if kept is None:  # it was not there before
                    path.unlink()
                else:
                    kept.put_back(path, change.before)
        for _, _, tmp in staged:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        raise InputError(
            f"cannot write it: {err.strerror or err}; no file was changed", path=current
        ) from None
    for _, _, kept in replaced:
        if kept is not None:
            kept.drop()


@dataclass
class _Kept:
    """A file as it was before we replaced it: a hard link to its inode where one can be
    made (in ``store``, on the same file system), else its stat alone.

    ``put_back`` renames the link over the path, so the file is its very inode again, with
    its bytes, mode and mtime untouched. Without a link, the bytes are written back (when
    given) and the mode and the mtime (to the nanosecond) are set as they were."""

    link: Path | None
    stat: os.stat_result

    @classmethod
    def of(cls, path: Path, store: Path) -> _Kept:
        found = os.lstat(path)
        fd, name = tempfile.mkstemp(dir=store, prefix=".gitops-", suffix=".orig")
        os.close(fd)
        link: Path | None = Path(name)
        try:
            os.unlink(name)
            os.link(path, name, follow_symlinks=False)
        except OSError:
            link = None
        return cls(link, found)

    def put_back(self, path: Path, before: bytes | None = None) -> None:
        if self.link is not None:
            os.replace(self.link, path)
            self.link = None
            return
        if before is not None:
            os.replace(_write_beside(path, before), path)
        os.chmod(path, stat.S_IMODE(self.stat.st_mode))
        os.utime(path, ns=(self.stat.st_atime_ns, self.stat.st_mtime_ns))

    def drop(self) -> None:
        if self.link is not None:
            with contextlib.suppress(OSError):
                self.link.unlink()
            self.link = None


class _Originals:
    """The files of a local clone as they were before this write touched them.

    Each file is kept before anything rewrites it (our edit, or ``git reset`` to a newer
    tip); after the clone is reset to where it started, ``restore`` puts each kept file
    back, so a failed write leaves the clone exactly as it was, down to inodes and mtimes.
    """

    def __init__(self, repo: git.Repo) -> None:
        self.repo = repo
        git_dir = Path(repo.git("rev-parse", "--absolute-git-dir").stdout.strip())
        self.store = Path(tempfile.mkdtemp(prefix="gitops-originals-", dir=git_dir))
        self.kept: dict[str, _Kept] = {}

    @classmethod
    def of(cls, repo: git.Repo) -> _Originals | None:
        """None where nothing can be kept (a git directory we cannot write to): git itself
        will then say what is wrong."""
        try:
            return cls(repo)
        except OSError:
            return None

    def keep(self, paths: Iterable[str]) -> None:
        for rel in paths:
            path = self.repo.path / rel
            if rel in self.kept or not path.is_file() or path.is_symlink():
                continue
            with contextlib.suppress(OSError):
                self.kept[rel] = _Kept.of(path, self.store)

    def keep_changes_to(self, commit: str) -> None:
        """Keep the files that a reset to ``commit`` would rewrite."""
        names = self.repo.git("diff", "--name-only", "--no-renames", "-z", "HEAD", commit)
        self.keep(name for name in names.stdout.split("\0") if name)

    def restore(self) -> None:
        for rel, kept in self.kept.items():
            with contextlib.suppress(OSError):
                kept.put_back(self.repo.path / rel)
        self.repo.git("update-index", "-q", "--refresh", check=False)

    def discard(self) -> None:
        shutil.rmtree(self.store, ignore_errors=True)


def _write_beside(path: Path, data: bytes) -> Path:
    """A temp file next to ``path`` holding ``data``, with ``path``'s mode."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".gitops-", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        with contextlib.suppress(OSError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


@contextlib.contextmanager
def checkout(
    target: Target, env: Mapping[str, str], deadline: Deadline | None = None
) -> Iterator[tuple[git.Repo | None, str]]:
    """The working tree to edit, and the branch to push to (empty: no git). Network calls
    end by ``deadline`` (default: ``target.timeout`` from now)."""
    deadline = deadline or Deadline.after(target.timeout)
    if is_remote(target.repo):
        local = Path(target.repo)
        url = str(local.resolve()) if local.is_dir() else target.repo  # a bare repo by path
        tmp = tempfile.mkdtemp(prefix="gitops-config-")
        try:
            repo = git.clone(
                url,
                Path(tmp) / "repo",
                branch=target.branch,  # none: the remote's default branch, as clone picks it
                depth=target.depth,
                identity=target.identity,
                auth=target.auth,
                env=env,
                deadline=deadline,
            )
            yield repo, target.branch or _cloned_branch(repo, url)
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
    repo = git.Repo(path, identity=target.identity, auth=target.auth, env=env, deadline=deadline)
    lock = Path(path, repo.git("rev-parse", "--git-path", "index.lock").stdout.strip())
    if lock.exists():
        raise InputError(
            "another git process holds the index lock, or one crashed and left it",
            path=str(lock),
            hint="remove the file when no git process is running",
        )
    if not _has_commits(repo):
        raise UsageError(f"--repo {target.repo}: the repository has no commits yet")
    if repo.is_dirty():
        raise UsageError(f"--repo {target.repo}: the working tree has uncommitted changes")
    try:
        branch = repo.current_branch()
    except ExternalError:  # a detached HEAD, as CI runners check out
        if not target.branch:
            raise UsageError(
                f"--repo {target.repo}: HEAD is detached",
                hint="check out a branch, or pass --branch",
            ) from None
        branch = ""
    if target.branch and target.branch != branch:
        start = f"origin/{target.branch}" if _has_remote(repo) else target.branch
        repo.git("checkout", "--quiet", "-B", target.branch, start)
        branch = target.branch
    yield repo, branch


def _cloned_branch(repo: git.Repo, url: str) -> str:
    """The branch a clone without ``--branch`` checked out; when the remote's HEAD names a
    branch it does not have, the usual one (main, master, or its only branch)."""
    try:
        repo.head_sha()
        return repo.current_branch()
    except ExternalError:
        branch = git.remote_default_branch(url, auth=repo.auth, deadline=repo.deadline)
        repo.git("checkout", "--quiet", "-B", branch, _fetch(repo, branch))
        return branch


def _fetch(repo: git.Repo, branch: str, shallow: bool | None = None) -> str:
    """Fetch ``branch`` from origin (shallow in a shallow clone); its tip."""
    if shallow is None:
        shallow = _is_shallow(repo)
    return repo.fetch("origin", f"refs/heads/{branch}", depth=1 if shallow else None)


def _has_commits(repo: git.Repo) -> bool:
    return bool(repo.git("rev-parse", "--verify", "--quiet", "HEAD", check=False).stdout.strip())


def _is_shallow(repo: git.Repo) -> bool:
    return repo.git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"


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
    deadline = Deadline.after(target.timeout)
    if is_remote(target.repo) and not target.commit:
        raise UsageError(
            "--no-commit edits files in a local directory; --repo is a remote",
            hint="clone it first, or drop --no-commit",
        )
    with checkout(target, env, deadline) as (repo, branch):
        root = repo.path if repo else Path(target.repo)
        if repo is None:
            plan = compute(root)
            write_files(root, plan.changes)
            return Outcome(plan, plan.changed)
        if is_remote(target.repo) and not target.push:
            raise UsageError(
                "--no-push on a remote --repo would throw the commit away",
                hint="clone it first, or drop --no-push",
            )
        start = repo.head_sha()
        originals = None if is_remote(target.repo) else _Originals.of(repo)
        try:
            return _commit_and_push(
                target, repo, branch, compute, message, log, sleep, deadline, originals
            )
        except BaseException:
            try:  # a local clone is left as it was, not ahead of origin
                repo.reset_hard(start)
                if originals is not None:
                    originals.restore()
            except GitopsError as cleanup:  # the first cause is what the user needs to see
                log(f"warning: could not reset {root} to {start[:12]}: {cleanup.one_line()}")
            raise
        finally:
            if originals is not None:
                originals.discard()


def _commit_and_push(
    target: Target,
    repo: git.Repo,
    branch: str,
    compute: Callable[[Path], Plan],
    message: Callable[[Plan], str],
    log: Callable[[str], None],
    sleep: Callable[[float], Any],
    deadline: Deadline,
    originals: _Originals | None = None,
) -> Outcome:
    root = repo.path
    push = target.push and _has_remote(repo)
    shallow = push and _is_shallow(repo)

    def note(attempt: int, pause: float) -> None:
        log(
            f"push rejected: {branch} moved on; retrying on the new tip in {pause:.1f}s "
            f"(attempt {attempt}, {deadline.remaining():.0f}s left)"
        )

    what = f"push to {branch}"
    for attempt in attempts(
        deadline, what=what, backoff=push_backoff(deadline), sleep=sleep, on_retry=note
    ):
        if attempt > 1:
            try:
                tip = _fetch(repo, branch, shallow)
                if originals is not None:
                    originals.keep_changes_to(tip)
                repo.reset_hard(tip)
            except ExternalError as err:  # the remote answered a moment ago: try again
                if not err.transient:
                    raise
                log(f"fetching the new tip of {branch} failed ({err.one_line()}); trying again")
                continue
        plan = compute(root)
        if not plan.changed:
            return Outcome(plan, False, repo.head_sha(), branch, attempt)
        if originals is not None:
            originals.keep(c.path for c in plan.changes)
        write_files(root, plan.changes)
        repo.add([c.path for c in plan.changes])
        sha = repo.commit(message(plan))
        if not push:
            return Outcome(plan, True, sha, branch, attempt)
        try:
            repo.push("origin", f"HEAD:refs/heads/{branch}")
        except git.PushRejected:
            continue
        return Outcome(plan, True, sha, branch, attempt)
    raise AssertionError("unreachable")  # pragma: no cover - attempts() raises at the deadline


@dataclass(frozen=True)
class Review:
    """Where a pull request goes: the forge, the project on it, and the branch to use."""

    forge: Any  # gitops_actions.forge.Forge
    project: str
    name: str  # the pull request branch is gitops/<target branch>/<name>
    title: Callable[[Plan], str]

    def branch(self, base: str) -> str:
        return f"gitops/{base}/{self.name}"


def _origin_of(target: Target, env: Mapping[str, str]) -> Target:
    path = Path(target.repo)
    if not (path / ".git").exists():
        raise UsageError(f"--repo {target.repo}: --pull-request needs a clone with a remote")
    local = git.Repo(path, env=env)
    if not _has_remote(local):
        raise UsageError(f"--repo {target.repo}: --pull-request needs a clone with a remote")
    url = local.git("remote", "get-url", "origin").stdout.strip()
    if not _REMOTE.match(url) and not Path(url).is_absolute():
        url = str((path / url).resolve())
    return replace(target, repo=url, branch=target.branch or local.current_branch())


def _remote_tip(repo: git.Repo, branch: str) -> str | None:
    out = repo.remote_git("ls-remote", "--heads", "origin", f"refs/heads/{branch}").stdout.split()
    return out[0] if out else None


def write_pull_request(
    target: Target,
    review: Review,
    compute: Callable[[Path], Plan],
    message: Callable[[Plan], str],
    env: Mapping[str, str],
    log: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], Any] = time.sleep,
) -> tuple[Outcome, str]:
    """Rebuild the review branch as one commit on the target's tip, push it, and open or
    update its pull request. Returns the outcome and the pull request URL ("" if none).

    The branch is rebuilt from scratch each time, so it never carries stale edits; a newer
    version already on the branch is never replaced by an older one.
    """
    if not target.push or not target.commit:
        raise UsageError(
            "--pull-request pushes a branch: it cannot go with --no-push or --no-commit"
        )
    deadline = Deadline.after(target.timeout)
    review.forge.check(review.project)  # everything that can fail later, before any push
    if not is_remote(target.repo):  # never commit on the user's own branch: use its origin
        target = _origin_of(target, env)
    with checkout(target, env, deadline) as (repo, base):
        if repo is None or not _has_remote(repo):
            raise UsageError("--pull-request needs a config repo with a remote")
        root, head = repo.path, review.branch(base)

        def note(attempt: int, pause: float) -> None:
            log(f"{head} moved on; rebuilding it in {pause:.1f}s (attempt {attempt})")

        base_tip = repo.head_sha()
        what = f"push to {head}"
        for attempt in attempts(
            deadline, what=what, backoff=push_backoff(deadline), sleep=sleep, on_retry=note
        ):
            repo.reset_hard(base_tip)
            plan = compute(root)
            if not plan.changed:  # the target branch has it already: no pull request needed
                return Outcome(plan, False, base_tip, head, attempt), ""
            seen = _remote_tip(repo, head)
            if seen:  # what the open branch already holds wins over an older request
                seen = _fetch(repo, head)
                repo.reset_hard(seen)
                on_branch = compute(root)
                repo.reset_hard(base_tip)
                if not on_branch.changed:
                    url = _upsert(review, base, plan, message)
                    return Outcome(plan, False, seen, head, attempt), url
            write_files(root, plan.changes)
            repo.add([c.path for c in plan.changes])
            sha = repo.commit(message(plan))
            try:
                repo.push(
                    "origin",
                    f"HEAD:refs/heads/{head}",
                    force_with_lease=f"refs/heads/{head}:{seen or ''}",
                )
            except git.PushRejected:
                continue
            url = _upsert(review, base, plan, message)
            return Outcome(plan, True, sha, head, attempt), url
    raise AssertionError("unreachable")


def _upsert(review: Review, base: str, plan: Plan, message: Callable[[Plan], str]) -> str:
    pull = review.forge.upsert_pull_request(
        project=review.project,
        head=review.branch(base),
        base=base,
        title=review.title(plan),
        body=message(plan),
    )
    return str(pull.url)
