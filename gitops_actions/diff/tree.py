"""A config tree at one ref, read from disk or straight from git objects.

Reading a ref from git objects (``ls-tree``, ``cat-file --batch``, ``grep``) costs nothing
per file; only what must be rendered is written to disk (``git archive`` of those paths).
Both kinds name file contents by git blob id, so trees compare without reading files.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from gitops_actions import git
from gitops_actions.errors import InputError
from gitops_actions.paths import walk
from gitops_actions.proc import run_binary
from gitops_actions.yamlread.loader import LoadError, read_file


def blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class Tree(Protocol):
    def files(self) -> Sequence[str]: ...  # sorted posix paths

    def read(self, path: str) -> bytes: ...

    def blob(self, path: str) -> str: ...

    def grep(self, *needles: bytes) -> list[str]: ...  # files containing any needle

    def prefetch(self, paths: Iterable[str]) -> None: ...  # read these in one go

    def materialize(self, paths: Iterable[str]) -> Path: ...  # a directory holding them


def under(files: Sequence[str], folder: str) -> Sequence[str]:
    """Files in sorted ``files`` that sit under ``folder`` (or equal it)."""
    if folder in ("", "."):
        return files
    found = []
    prefix = folder + "/"
    index = bisect.bisect_left(files, folder)
    if index < len(files) and files[index] == folder:
        found.append(folder)
        index += 1
    index = bisect.bisect_left(files, prefix, index)  # "a/b" sorts before "a/b-c" and "a/b/"
    while index < len(files) and files[index].startswith(prefix):  # in place: no copy
        found.append(files[index])
        index += 1
    return found


def hidden(path: str) -> bool:
    """A file in a hidden directory, or a hidden file (``.vscode/settings.json``)."""
    return path.startswith(".") or "/." in path


class DiskTree:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        paths = []
        for folder, _, names in walk(self.root):  # no symlinks, as git trees are read
            rel = os.path.relpath(folder, self.root).replace(os.sep, "/")
            for name in names:  # regular files only: no symlink, FIFO, socket or device
                if stat.S_ISREG(os.lstat(os.path.join(folder, name)).st_mode):
                    paths.append(name if rel == "." else f"{rel}/{name}")
        self._files = sorted(paths)
        self._blobs: dict[str, str] = {}

    def files(self) -> Sequence[str]:
        return self._files

    def read(self, path: str) -> bytes:
        try:
            return read_file(self.root / path)
        except LoadError as err:
            raise InputError(err.message, path=path) from None

    def blob(self, path: str) -> str:
        if path not in self._blobs:
            self._blobs[path] = blob_id(self.read(path))
        return self._blobs[path]

    def grep(self, *needles: bytes) -> list[str]:
        found = []
        for path in self._files:
            with contextlib.suppress(InputError, OSError):
                if any(n in self.read(path) for n in needles):
                    found.append(path)
        return found

    def prefetch(self, paths: Iterable[str]) -> None:
        """Nothing to do: files on disk are read when asked."""

    def materialize(self, paths: Iterable[str]) -> Path:
        return self.root


# a record of ``ls-tree -z`` for a file: any mode but a symlink's; not a submodule's
_FILE_RECORD = re.compile(rb"(?:^|(?<=\0))(?!120000 )[0-7]+ blob ([0-9a-f]+)\t([^\0]*)\0")


class GitTree:
    """The tree of commit ``sha`` in ``repo``, without a checkout."""

    def __init__(self, repo: git.Repo, sha: str, workdir: Path) -> None:
        self.repo, self.sha, self.workdir = repo, sha, workdir
        out = run_binary(["git", "ls-tree", "-r", "-z", "--full-tree", sha], cwd=repo.path)
        self._blobs: dict[str, str] = {
            path.decode(): blob.decode() for blob, path in _FILE_RECORD.findall(out)
        }
        self._files = sorted(self._blobs)
        self._cache: dict[str, bytes] = {}
        self._found: dict[tuple[bytes, ...], list[str]] = {}  # grep's answers
        self._other: GitTree | None = None
        self._root: Path | None = None

    def files(self) -> Sequence[str]:
        return self._files

    def blob(self, path: str) -> str:
        return self._blobs[path]

    def read(self, path: str) -> bytes:
        if path not in self._cache:
            self.prefetch([path])
        return self._cache[path]

    def prefetch(self, paths: Iterable[str]) -> None:
        wanted = [p for p in paths if p not in self._cache and p in self._blobs]
        if not wanted:
            return
        out = run_binary(
            ["git", "cat-file", "--batch"],
            cwd=self.repo.path,
            input="".join(f"{self._blobs[p]}\n" for p in wanted).encode(),
        )
        pos = 0
        for path in wanted:
            header_end = out.index(b"\n", pos)
            size = int(out[pos:header_end].split()[2])
            self._cache[path] = out[header_end + 1 : header_end + 1 + size]
            pos = header_end + 1 + size + 1

    def grep(self, *needles: bytes) -> list[str]:
        if needles not in self._found:
            derived = self._derived(needles) if self._other is not None else None
            self._found[needles] = self._grep(needles) if derived is None else derived
        return list(self._found[needles])

    def derive(self, other: GitTree) -> None:
        """Answer a search ``other`` (another commit of the repo) has answered from its
        answer: only the files whose blob differs are searched here."""
        self._other = other

    def _derived(self, needles: tuple[bytes, ...]) -> list[str] | None:
        other = self._other
        if other is None or needles not in other._found:
            return None
        theirs, ours = other._blobs, self._blobs
        differing = [p for p, blob in ours.items() if theirs.get(p) != blob]
        if len(differing) > DERIVE_LIMIT or any(
            p.rpartition("/")[2] == ".gitattributes" for p in (*ours, *theirs)
        ):  # many to read; or attributes may call a text file binary, as grep -I sees it
            return None
        same = [p for p in other._found[needles] if p in ours and ours[p] == theirs.get(p)]
        self.prefetch(differing)
        found = [p for p in differing if _holds(self.read(p), needles)]
        return sorted(same + found)

    def _grep(self, needles: tuple[bytes, ...]) -> list[str]:
        args = ["git", "grep", "-l", "-z", "-I", "-F"]
        for needle in needles:
            args += ["-e", needle.decode()]
        try:
            out = run_binary([*args, self.sha, "--"], cwd=self.repo.path)
        except Exception:  # git grep exits 1 when nothing matches
            return []
        prefix = f"{self.sha}:"
        return sorted(p.decode().removeprefix(prefix) for p in out.split(b"\0") if p)

    def materialize(self, paths: Iterable[str]) -> Path:
        """Write these files and directories (as of ``sha``) under one directory: read in
        one ``git cat-file --batch`` run and written from memory (to ``/dev/shm`` when
        there is one), for the renderers that read files from disk."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="tree-", dir=self.workdir))
        wanted = sorted({f for p in paths if p for f in under(self._files, p)})
        self.prefetch(wanted)
        made: set[Path] = set()
        for path in wanted:
            target = self._root / path
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.write_bytes(self._cache.pop(path))  # written once: no need to keep it
        return self._root


DERIVE_LIMIT = 2000  # files differing from the other tree, beyond which git grep runs


def _holds(data: bytes, needles: tuple[bytes, ...]) -> bool:
    """What ``git grep -I -F`` finds: a needle, in a file without a NUL in its first 8,000
    bytes (git's test for binary data)."""
    return b"\0" not in data[:8000] and any(n in data for n in needles)


def scratch_parent() -> str | None:
    """Where scratch trees go: memory-backed ``/dev/shm`` when it is there and writable."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


_PATHSPEC_SAFE = re.compile(r"^[^*?\[\]:!]+$")


def existing(tree: Tree, paths: Iterable[str]) -> list[str]:
    """The given paths that exist in ``tree`` as a file or a directory, pathspec-safe."""
    files = tree.files()
    return [p for p in paths if _PATHSPEC_SAFE.match(p) and under(files, p)]


def changed_paths(base: Tree, head: Tree) -> list[str]:
    """Paths added, removed or changed from ``base`` to ``head`` (by blob id: no reading)."""
    if isinstance(base, GitTree) and isinstance(head, GitTree):  # both listings at hand
        old, new = base._blobs, head._blobs
        paths = {p for p, b in new.items() if old.get(p) != b}
        return sorted(paths.union(p for p in old if p not in new))
    before, after = set(base.files()), set(head.files())
    paths = before.symmetric_difference(after)
    paths |= {p for p in before & after if base.blob(p) != head.blob(p)}
    return sorted(paths)


class Recorder:
    """A tree that notes what is read from it and what is searched for, so that a change
    can be checked against what a reader (discovery) depended on."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.read_paths: set[str] = set()
        self.needles: set[bytes] = set()

    def files(self) -> Sequence[str]:
        return self.tree.files()

    def read(self, path: str) -> bytes:
        self.read_paths.add(path)
        return self.tree.read(path)

    def blob(self, path: str) -> str:
        self.read_paths.add(path)  # a reader may cache contents by blob id
        return self.tree.blob(path)

    def grep(self, *needles: bytes) -> list[str]:
        self.needles.update(needles)
        return self.tree.grep(*needles)

    def prefetch(self, paths: Iterable[str]) -> None:
        self.tree.prefetch(paths)

    def materialize(self, paths: Iterable[str]) -> Path:
        return self.tree.materialize(paths)

    def depends_on(
        self,
        base: Tree,
        changed: Sequence[str],
        same: Callable[[str, bytes, bytes], bool] = lambda path, old, new: False,
    ) -> bool:
        """Whether reading ``base`` instead could give another answer: a file was added or
        removed, or a changed file was read (unless ``same`` says the reader sees no
        difference), or held something searched for at ``base``."""
        if list(base.files()) != list(self.tree.files()):
            return True
        base.prefetch(changed)
        for path in changed:
            old = base.read(path)
            if path in self.read_paths and not same(path, old, self.tree.read(path)):
                return True
            if any(n in old for n in self.needles):
                return True
        return False
