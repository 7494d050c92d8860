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


class Bounds:
    """``escapes`` for many paths under one ``root``: the real path of each folder is found
    once, then each path costs one look at its last part (the tree must not change)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(root)
        self._prefix = self.root.rstrip("/") + "/"
        self._real: dict[str, str] = {}

    def escapes(self, path: str | os.PathLike[str]) -> bool:
        real = self.realpath(os.fspath(path))
        return real != self.root and not real.startswith(self._prefix)

    def realpath(self, path: str) -> str:
        """``os.path.realpath`` of an absolute, normalised ``path``."""
        found = self._real.get(path)
        if found is None:
            parent, _, name = path.rpartition("/")
            if not parent or name in ("", ".", ".."):
                found = os.path.realpath(path)
            else:
                here = os.path.join(self.realpath(parent), name)
                found = os.path.realpath(here) if os.path.islink(here) else here
            self._real[path] = found
        return found
