"""The entry points a change reaches, found without discovering the whole repo.

In a repo of thousands of kustomize roots, diff of one changed overlay spent most of its
time parsing every kustomization to learn which ones include which. A kustomization can
include a path only by naming it, and its text shows that name: for a path ``P`` outside
its folder ``K``, every segment of ``P`` below the folder ``P`` and ``K`` share is written
in the reference, and so in the file (``../../apps/web/base`` from ``apps/api/overlays/
prod`` names ``web`` and ``base``). A reference to a folder holding ``K`` itself (``../..``,
``.``, ``../prod``) ends in ``..``, is made of dots, or ends in one of ``K``'s own segment
names after a ``..``. So only the kustomizations whose text passes that test are parsed:
those that may include a changed file, then those that may include one of those, and so
on; they tell which roots reach the change, as full discovery would.

The answer is given only when it is provably the one full discovery gives; otherwise
(``None``) the caller discovers the whole repo: files added, removed or renamed; any Flux
or Argo CD object in the repo; any Helm chart; a changed kustomization whose references
changed; a reference cycle; a folder reference that could cover a root; a changed file no
kustomize root reaches (it may be a plain manifest); a name a YAML escape or a number could
spell; more than a few changed files.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gitops_actions.apps.model import EntryPoint, outermost
from gitops_actions.apps.objects import _AGENT_NEEDLES, KUSTOMIZATION_FILES, Repo
from gitops_actions.diff.tree import Tree

MAX_CHANGED = 50  # beyond this, full discovery (it costs the same at any size)

_END = rb"""(?=[\s"',\]}:#]|\Z)"""  # where a scalar can end in the text
_UP = re.compile(rb"\.\.([\w./-]*)" + _END)  # a reference going up: its tail
_DOTS = re.compile(rb"[\s\"'\[{,:][./]+" + _END)  # ".", "./", "/" after a delimiter
_ODD = (b'""', b"''", b"|", b">", b"\\")  # an empty string, a block scalar, an escape
# a key whose references are read as a list, holding something else (kustomize's error:
# it names nothing); such a kustomization is parsed rather than judged by its text
_KEYS = rb"resources|bases|components|crds|patchesStrategicMerge|transformers|generators|"
_KEYS += rb"configurations|validators|files|envs|additionalValuesFiles"
_NOT_A_LIST = re.compile(
    rb"[\s{,][\"']?(?:" + _KEYS + rb")[\"']?[ \t]*:(?:\s|#[^\n]*)*+(?!-\s|\[)(?=\S)"
)
_CLEAN = re.compile(r"[A-Za-z0-9_.-]+")
# what str() makes of a number, a boolean or null (kustomize generator entries are str()-ed)
_PRINTED = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:e[-+][0-9]+)?|-?inf|nan|None|True|False")

Same = Callable[[str, bytes, bytes], bool]


def reached(
    head: Tree,
    base: Tree,
    changed: Sequence[str],
    *,
    parsed: dict[str, Any] | None = None,
    same: Same = lambda path, old, new: False,
) -> list[EntryPoint] | None:
    """The entry points of ``head`` that the ``changed`` files (from ``base``) feed, each
    the same at both refs; ``None`` when that cannot be told without full discovery.
    ``same`` says whether discovery sees a changed kustomization file as unchanged."""
    if not changed:
        return []
    if len(changed) > MAX_CHANGED or list(base.files()) != list(head.files()):
        return None
    repo = Repo.listed(head, (), parsed)
    if repo.charts or any(not _clean(p) for p in changed):
        return None
    with ThreadPoolExecutor(max_workers=1) as pool:  # the search runs while we read
        agents = pool.submit(repo.agent_files)
        found = None
        if _quiet(base, head, changed, same):
            files = repo.kustomization_files
            head.prefetch(files.values())
            texts = {folder: head.read(file) for folder, file in files.items()}
            found = _reaching(repo, texts, changed)
        if agents.result() or found is None:
            return None  # an agent object's entry points: full discovery
    candidates, reach = found
    if any(_cyclic(repo, folder) for folder in candidates):
        return None  # what a closure holds depends on where it was first reached
    included = set()
    for folder in candidates:
        for target in repo.targets(folder):
            item = repo.kustomization_folder(target) or target
            if item in reach and item != folder:
                included.add(item)
            if _covers_root(repo, target, reach):
                return None  # a folder taken whole may hold a root: full discovery knows
    entries = []
    for folder in sorted(reach - included):
        if repo.kustomizations[folder].get("kind") == "Component":
            continue
        inputs = outermost(repo.closure(folder))
        entries.append(EntryPoint(folder, "kustomize", folder, inputs, group=folder))
    hit = [e for e in entries if any(_feeds(e, p) for p in changed)]
    if any(not any(_feeds(e, p) for e in hit) for p in changed):
        return None  # a file no root reaches: it may be a plain manifest
    return hit


def _quiet(base: Tree, head: Tree, changed: Sequence[str], same: Same) -> bool:
    """No changed file holds an agent object at either ref, and every changed
    kustomization file reads the same to discovery."""
    base.prefetch(changed)
    head.prefetch(changed)
    for path in changed:
        old, new = base.read(path), head.read(path)
        if any(n in old or n in new for n in _AGENT_NEEDLES):
            return False
        if path.rpartition("/")[2] in KUSTOMIZATION_FILES and not same(path, old, new):
            return False
    return True


def _reaching(
    repo: Repo, texts: dict[str, bytes], changed: Sequence[str]
) -> tuple[set[str], set[str]] | None:
    """The kustomizations parsed (those whose text may name a changed file or a folder
    reaching one), and those whose closure reaches a changed file."""
    files = repo.kustomization_files
    own = {files[f]: f for f in files}
    candidates = {own[p] for p in changed if p in own}
    reach: set[str] = set()
    upward: dict[str, bool] = {}
    pending = list(changed)
    while pending:
        wanted = [tuple(p.split("/")) for p in pending]
        for folder, text in texts.items():
            if folder in candidates:
                continue
            parts = () if folder == "." else tuple(folder.split("/"))
            if folder not in upward:
                upward[folder] = _may_name_own_folder(text, parts)
            if upward[folder] or _may_name(text, parts, wanted):
                candidates.add(folder)
        pending = []
        grown = True
        while grown:
            grown = False
            for folder in sorted(candidates - reach):
                if files[folder] in changed or any(
                    _reaches(repo, t, reach, changed) for t in repo.targets(folder)
                ):
                    reach.add(folder)
                    pending.append(files[folder])
                    grown = True
        if any(not _clean(p) for p in pending):
            return None
    return candidates, reach


def _may_name(text: bytes, parts: tuple[str, ...], wanted: Iterable[tuple[str, ...]]) -> bool:
    """Whether ``text`` (of the kustomization in the folder of ``parts``) may name a path
    outside that folder that holds a wanted file (or is one): it must spell the first
    segment below the folder they share, and every one after it."""
    for path in wanted:
        shared = 0
        while shared < len(parts) and shared < len(path) and parts[shared] == path[shared]:
            shared += 1
        if shared < len(path) and path[shared].encode() in text:
            return True
    return False


def _may_name_own_folder(text: bytes, parts: tuple[str, ...]) -> bool:
    """Whether ``text`` may name its own folder or one above it: an empty string, an
    escape or a block scalar; a reference made of dots; a reference key holding no list;
    or a reference that goes up (``..``) and ends in ``..`` or in a segment of the
    folder's own path."""
    if not all(map(_clean_segment, parts)) or any(odd in text for odd in _ODD):
        return True
    if text[:1] in (b".", b"/") or _DOTS.search(text) or _NOT_A_LIST.search(b"\n" + text):
        return True
    names = {p.encode() for p in parts}
    for match in _UP.finditer(text):
        tail = [s for s in match[1].split(b"/") if s not in (b"", b".")]
        if not tail or tail[-1] == b".." or tail[-1] in names:
            return True
    return False


def _clean(path: str) -> bool:
    """Segments written the same in any YAML text (no escapes, quotes, spaces) and not
    something a number, a boolean or null prints as."""
    return all(map(_clean_segment, path.split("/")))


@functools.cache
def _clean_segment(segment: str) -> bool:
    return bool(_CLEAN.fullmatch(segment)) and not _PRINTED.fullmatch(segment)


def _reaches(repo: Repo, target: str, reach: set[str], changed: Sequence[str]) -> bool:
    if target in repo.kustomizations:
        return target in reach
    return any(_inside(p, target) for p in changed)


def _covers_root(repo: Repo, target: str, reach: set[str]) -> bool:
    """A target that is the top or a folder above a kustomization that reaches the change,
    taken whole (not a kustomization, or one on a cycle): it would cover that root."""
    if not any(target == "." or r.startswith(target + "/") for r in reach):
        return False
    return target not in repo.kustomizations or _cyclic(repo, target)


def _cyclic(repo: Repo, start: str) -> bool:
    """Whether a chain of kustomization references from ``start`` comes back to one it
    went through (then what a closure holds depends on where it was first reached)."""
    path: list[tuple[str, list[str]]] = [(start, _next(repo, start))]
    on_path, done = {start}, set()
    while path:
        folder, todo = path[-1]
        if not todo:
            path.pop()
            on_path.discard(folder)
            done.add(folder)
            continue
        target = todo.pop()
        if target in on_path:
            return True
        if target not in done:
            path.append((target, _next(repo, target)))
            on_path.add(target)
    return False


def _next(repo: Repo, folder: str) -> list[str]:
    return [t for t in repo.targets(folder) if t in repo.kustomizations]


def _feeds(entry: EntryPoint, path: str) -> bool:
    return any(_inside(path, item) for item in entry.inputs)


def _inside(path: str, folder: str) -> bool:
    return folder in ("", ".") or path == folder or path.startswith(folder + "/")
