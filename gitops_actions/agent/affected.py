"""Which apps a config repo commit affects, through the application model: the Argo CD
Applications or Flux Kustomizations whose inputs include a file the commit changed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from gitops_actions import apps, git, writer
from gitops_actions.errors import ExternalError, UsageError

KIND = {"argocd": "argocd", "flux": "flux"}


def changed_files(repo: git.Repo, revision: str) -> list[str]:
    """The files ``revision`` changed (all of them for a root commit)."""
    parents = repo.git("rev-list", "--parents", "-n", "1", revision).stdout.split()[1:]
    if not parents:
        return repo.git("ls-tree", "-r", "--name-only", revision).stdout.splitlines()
    return repo.git("diff", "--name-only", "--no-renames", parents[0], revision).stdout.split("\n")


def affected(
    target: writer.Target, env: Mapping[str, str], revision: str, agent: str
) -> tuple[str, ...]:
    """The names (as ``--app`` takes them) of ``agent``'s apps that ``revision`` feeds."""
    source = target.repo
    if not writer.is_remote(source):
        if not (Path(source) / ".git").exists():
            raise UsageError(f"--repo {source}: not a git checkout, so no way to find the apps")
        source = str(Path(source).resolve())
    scratch = Path(tempfile.mkdtemp(prefix="gitops-handoff-"))
    try:
        repo = git.clone(source, scratch / "repo", branch=target.branch, auth=target.auth, env=env)
        try:
            repo.git("checkout", "--quiet", "--detach", revision)
        except ExternalError:
            raise UsageError(
                f"--revision {revision}: not in {target.repo}"
                + (f" (branch {target.branch})" if target.branch else "")
            ) from None
        changed = [path for path in changed_files(repo, revision) if path]
        url = target.repo if writer.is_remote(target.repo) else ""
        entries = apps.affected(repo.path, changed, repo_url=url)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    names = [e.name.split("#", 1)[-1] for e in entries if e.kind == KIND[agent]]
    return tuple(dict.fromkeys(names))
