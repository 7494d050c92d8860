"""Small git verbs over the subprocess chokepoint.

Every call strips inherited ``GIT_*`` variables, sets author and committer explicitly,
never prompts, and passes credentials through the environment only: an HTTP
``Authorization`` header via ``GIT_CONFIG_*`` variables, or an SSH key via
``GIT_SSH_COMMAND``. Tokens never reach the remote URL, ``.git/config`` or argv.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops_actions.errors import ExternalError, UsageError
from gitops_actions.proc import Completed, ProcessFailed, run
from gitops_actions.retry import Deadline, DeadlineExceeded
from gitops_actions.secrets import REDACTOR
from gitops_actions.secrets import redact as redact_text


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


BOT = Identity("gitops-actions[bot]", "gitops-actions-bot@users.noreply.localhost")


@dataclass(frozen=True)
class Auth:
    """HTTPS token (with its basic-auth user name) or an SSH private key file."""

    token: str | None = None
    username: str = "x-access-token"
    ssh_key: str | None = None

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.token:
            REDACTOR.learn(self.token)
            basic = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
            REDACTOR.learn(basic)
            env |= {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            }
        if self.ssh_key:
            env["GIT_SSH_COMMAND"] = shlex.join(
                [
                    "ssh",
                    "-i",
                    self.ssh_key,
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    "StrictHostKeyChecking=accept-new",
                ]
            )
        return env


class PushRejected(ExternalError):
    """The remote moved on: fetch, redo the change on the new tip, push again."""


class PushRefused(ExternalError):
    """The remote refused the push for a reason of its own (a hook, a protected branch):
    trying again will not help; the remote's own words say why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


# a race with another writer: the ref moved, or was locked, while we pushed
_MOVED = re.compile(
    r"non-fast-forward|fetch first|stale info|incorrect old value|cannot lock ref|"
    r"failed to update ref|failed to lock"
)
_REFUSED = re.compile(r"\[remote rejected\]\s*(?:\((.*)\))?")


NETWORK_TIMEOUT = 300.0  # for one network call when no deadline is given
LOW_SPEED_SECONDS = 120  # an HTTP transfer stalled (< 1 byte/s) this long is abandoned by git


def network_timeout(deadline: Deadline | None, what: str) -> float:
    """How long one network call may take: what is left of ``deadline``."""
    if deadline is None:
        return NETWORK_TIMEOUT
    if deadline.remaining() < 0.05:
        raise DeadlineExceeded(f"{what}: the {deadline.seconds:g}s budget (--timeout) is spent")
    return deadline.remaining()


def git_env(
    base: Mapping[str, str], identity: Identity = BOT, auth: Auth | None = None
) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("GIT_")}
    env |= {
        "GIT_HTTP_LOW_SPEED_LIMIT": "1",
        "GIT_HTTP_LOW_SPEED_TIME": str(LOW_SPEED_SECONDS),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": identity.name,
        "GIT_AUTHOR_EMAIL": identity.email,
        "GIT_COMMITTER_NAME": identity.name,
        "GIT_COMMITTER_EMAIL": identity.email,
        "LC_ALL": "C",
    }
    if auth is not None:
        env |= auth.env()
    return env


class Repo:
    """A working tree (or bare repository) and the identity and auth used on it."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        identity: Identity = BOT,
        auth: Auth | None = None,
        env: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.path = Path(path)
        self.identity = identity
        self.auth = auth
        self.deadline = deadline  # bounds every network call (fetch, push, ls-remote)
        self._env = git_env(os.environ if env is None else env, identity, auth)

    def git(self, *args: str, timeout: float = 300, check: bool = True) -> Completed:
        return run(["git", *args], cwd=self.path, env=self._env, timeout=timeout, check=check)

    def remote_git(self, *args: str, check: bool = True) -> Completed:
        """A git command that talks to a remote: bounded by what is left of the deadline."""
        return self.git(
            *args, timeout=network_timeout(self.deadline, f"git {args[0]}"), check=check
        )

    def head_sha(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", "--verify", f"{ref}^{{commit}}").stdout.strip()

    def current_branch(self) -> str:
        return self.git("symbolic-ref", "--short", "HEAD").stdout.strip()

    def is_dirty(self) -> bool:
        return bool(self.git("status", "--porcelain").stdout.strip())

    def add(self, paths: Sequence[str] = (".",)) -> None:
        self.git("add", "--", *paths)

    def commit(self, message: str, *, allow_empty: bool = False) -> str:
        """Commit what is staged; the message goes through stdin, never argv."""
        args = ["commit", "--quiet", "--no-verify", "--file=-"]
        if allow_empty:
            args.append("--allow-empty")
        run(["git", *args], cwd=self.path, env=self._env, input=message)
        return self.head_sha()

    def fetch(self, remote: str, ref: str, *, depth: int | None = None) -> str:
        args = ["fetch", "--quiet", "--no-tags"]
        if depth:
            args.append(f"--depth={depth}")
        self.remote_git(*args, remote, ref)
        return self.head_sha("FETCH_HEAD")

    def reset_hard(self, ref: str) -> None:
        self.git("reset", "--quiet", "--hard", ref)

    def push(self, remote: str, refspec: str, *, force_with_lease: str | None = None) -> None:
        """Push; a rejection because the remote moved on raises ``PushRejected``."""
        args = ["push", "--porcelain", remote, refspec]
        if force_with_lease is not None:
            args.insert(1, f"--force-with-lease={force_with_lease}")
        try:
            self.remote_git(*args)
        except ProcessFailed as err:
            said = err.stderr + err.stdout
            if _MOVED.search(said):
                raise PushRejected(f"push to {remote} rejected: the branch moved on") from None
            refused = _REFUSED.search(said)
            if refused:
                why = refused.group(1) or "no reason given"
                words = [
                    line.removeprefix("remote:").strip()
                    for line in err.stderr.splitlines()
                    if line.startswith("remote:") and line.removeprefix("remote:").strip()
                ]
                told = f": {' | '.join(words)}" if words else ""
                raise PushRefused(
                    redact_text(
                        f"the remote refused the push to {refspec.split(':')[-1]} ({why}){told}"
                    )
                ) from None
            raise


def init(
    path: str | os.PathLike[str], *, branch: str = "main", bare: bool = False, **kwargs: object
) -> Repo:
    Path(path).mkdir(parents=True, exist_ok=True)
    repo = Repo(path, **kwargs)  # type: ignore[arg-type]
    repo.git("init", "--quiet", f"--initial-branch={branch}", *(["--bare"] if bare else []))
    return repo


def clone(
    url: str,
    dest: str | os.PathLike[str],
    *,
    branch: str | None = None,
    depth: int | None = None,
    identity: Identity = BOT,
    auth: Auth | None = None,
    env: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
) -> Repo:
    """Clone ``url`` into ``dest`` (shallow when ``depth`` is set)."""
    repo = Repo(Path(dest).parent, identity=identity, auth=auth, env=env, deadline=deadline)
    args = ["clone", "--quiet", "--no-tags"]
    if depth:
        args.append(f"--depth={depth}")
    if branch:
        args += ["--branch", branch]
    try:
        repo.remote_git(*args, "--", url, str(dest))
    except ProcessFailed as err:
        if branch and "not found in upstream" in err.stderr:
            raise UsageError(f"--branch {branch}: no such branch in {url}") from None
        raise
    return Repo(dest, identity=identity, auth=auth, env=env, deadline=deadline)


def remote_default_branch(
    url: str,
    *,
    auth: Auth | None = None,
    env: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
) -> str:
    """The branch the remote's HEAD points at."""
    out = run(
        ["git", "ls-remote", "--symref", "--", url, "HEAD", "refs/heads/*"],
        env=git_env(os.environ if env is None else env, auth=auth),
        timeout=network_timeout(deadline, "git ls-remote"),
    ).stdout
    match = re.search(r"^ref: refs/heads/(\S+)\s+HEAD$", out, re.MULTILINE)
    heads = re.findall(r"^[0-9a-f]+\s+refs/heads/(\S+)$", out, re.MULTILINE)
    if match and match.group(1) in heads:
        return match.group(1)
    for usual in ("main", "master"):  # HEAD unborn or missing: the usual names, or the only one
        if usual in heads:
            return usual
    if len(heads) == 1:
        return str(heads[0])
    if not heads:
        raise UsageError(f"{url}: the repository has no commits yet", hint="push a first commit")
    raise ExternalError(
        f"{url}: cannot tell the remote's default branch", transient=False, hint="pass --branch"
    )
