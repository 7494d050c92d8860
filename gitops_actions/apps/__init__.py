"""The application model: which entry points the agent applies from a config repo, what
each renders to, and which files feed it. validate, diff and handoff read the repo
through it.

    model = apps.discover(DiskTree(root))        # every entry point, what is skipped
    apps.affected(root, ["apps/base/x.yaml"])    # the entry points those files feed
    apps.reached(head, base, changed)            # the same for a diff, or None: discover
    apps.render(root, entry, scratch)            # what one entry point applies
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from gitops_actions.apps.build import Rendered, render
from gitops_actions.apps.discover import discover
from gitops_actions.apps.model import Build, EntryPoint, Helm, Model, Skipped
from gitops_actions.apps.scope import reached
from gitops_actions.apps.source import remote_url
from gitops_actions.diff.tree import DiskTree, Tree, under

__all__ = [
    "Build",
    "EntryPoint",
    "Helm",
    "Model",
    "Rendered",
    "Skipped",
    "affected",
    "all_inputs",
    "discover",
    "fingerprint",
    "input_files",
    "reached",
    "read",
    "remote_url",
    "render",
]


def all_inputs(entry: EntryPoint) -> tuple[str, ...]:
    """Every file and folder ``entry`` is built from, its sources' included."""
    return tuple(sorted({*entry.inputs, *(i for p in entry.parts for i in p.inputs)}))


def input_files(tree: Tree, entry: EntryPoint) -> list[str]:
    files = tree.files()
    return sorted({f for item in all_inputs(entry) for f in under(files, item)})


def fingerprint(tree: Tree, entry: EntryPoint) -> str:
    """Equal fingerprints mean equal inputs: nothing to render again."""
    digest = hashlib.sha256()
    for path in input_files(tree, entry):
        digest.update(f"{path}\0{tree.blob(path)}\n".encode())
    return digest.hexdigest()


def read(root: str | os.PathLike[str], *, repo_url: str = "", exclude: Sequence[str] = ()) -> Model:
    """The model of the checkout at ``root``; ``repo_url`` defaults to its ``origin``."""
    path = Path(root)
    return discover(DiskTree(path), repo_url=repo_url or remote_url(path), exclude=exclude)


def affected(
    root: str | os.PathLike[str], changed: Iterable[str], *, repo_url: str = ""
) -> list[EntryPoint]:
    """The entry points of the checkout at ``root`` that the changed files feed (paths
    relative to ``root``; a deleted file counts by where it was)."""
    return read(root, repo_url=repo_url).affected(changed)
