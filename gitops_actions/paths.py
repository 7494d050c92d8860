"""Walking a tree without leaving it: no symlink is followed, none leads out.

Every reader of a config tree (diff, validate, the application model, in-process
kustomize) walks with ``walk`` and checks a referenced path with ``escapes``, so a
symlink committed to a repo never makes a step read a file outside the tree it was given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

SKIPPED_DIRS = (".git",)


def walk(top: str | os.PathLike[str]) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top)`` with symlinks left out: a symlinked directory is neither listed
    nor entered, a symlinked file is not listed (nor ``.git``). ``dirs`` may be pruned."""
    for folder, dirs, names in os.walk(top):
        dirs[:] = [
            d for d in dirs if d not in SKIPPED_DIRS and not os.path.islink(os.path.join(folder, d))
        ]
        names[:] = [n for n in names if not os.path.islink(os.path.join(folder, n))]
        yield folder, dirs, names


def escapes(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Whether ``path``, with every symlink on the way resolved, lies outside ``root``."""
    real_root = Path(os.path.realpath(root))
    return not Path(os.path.realpath(path)).is_relative_to(real_root)
