"""Which repository URL is this repo: ``--repo-url``, else the ``origin`` remote."""

from __future__ import annotations

import re
from pathlib import Path

from gitops_actions import git
from gitops_actions.errors import GitopsError

_SCP = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.*)$")  # git@host:org/repo


def canonical(url: str) -> str:
    """``https://user@GitHub.com/org/repo.git/`` and ``git@github.com:org/repo`` alike:
    ``github.com/org/repo``."""
    text = url.strip()
    scp = _SCP.match(text) if "://" not in text else None
    if scp:
        host, rest = scp[1], scp[2]
    else:
        rest = text.split("://", 1)[-1]
        host, _, rest = rest.partition("/")
        host = host.rpartition("@")[2]
    host = host.lower().split(":")[0] if not host.startswith("[") else host.lower()
    rest = rest.strip("/").removesuffix(".git").strip("/")
    return f"{host}/{rest}".lower()


def same_repo(url: str, other: str) -> bool:
    return canonical(url) == canonical(other)


def remote_url(root: Path) -> str:
    """The ``origin`` URL of the checkout at ``root``, or "" when there is none.

    Only a checkout's top level has one: agents resolve paths from the top of the repo, so
    a folder inside another repo (a fixture, a subtree) is not that repo as they see it.
    """
    try:
        repo = git.Repo(root)
        top = repo.git("rev-parse", "--show-toplevel", timeout=30, check=False)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root.resolve():
            return ""
        done = repo.git("remote", "get-url", "origin", timeout=30, check=False)
    except GitopsError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
