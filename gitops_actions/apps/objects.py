"""The repo as read for the model: its files, kustomizations, and agent objects."""

from __future__ import annotations

import copy
import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gitops_actions import kustomize
from gitops_actions.diff.tree import Tree
from gitops_actions.yamlread import loader
from gitops_actions.yamlread.shapes import listed, mapping
from gitops_actions.yamlread.values import values

KUSTOMIZATION_FILES = kustomize.KUSTOMIZATION_FILES
CHART_FILE = "Chart.yaml"
MANIFEST = (".yaml", ".yml", ".json")
_AGENT_NEEDLES = (b"fluxcd.io", b"argoproj.io")
_VALUE_NEEDLES = (b"ConfigMap", b"Secret")
_VALUE_KINDS = ("ConfigMap", "Secret")
_LITERAL_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")  # as written in the file
_PLAIN_REF = re.compile(r"(?!\.\.?(?:/|$))[^/]+(?:/(?!\.\.?(?:/|$))[^/]+)*")  # no ., .., //
_PRINTED = re.compile(r"[-+0-9._:e]*|[-+.]?(inf|nan)")  # how a number may print


@dataclass(frozen=True)
class Object:
    """A YAML document of the repo that the model reads (a Flux or Argo CD object, a
    ConfigMap or Secret that substitutions come from)."""

    file: str
    value: dict[str, Any]
    sources: tuple[str, ...] = ()  # other files it is made from (a generator's env files)

    @property
    def kind(self) -> str:
        return str(self.value.get("kind") or "")

    @property
    def api(self) -> str:
        return str(self.value.get("apiVersion") or "")

    @property
    def name(self) -> str:
        return str(_meta(self.value).get("name") or "")

    @property
    def namespace(self) -> str:
        return str(_meta(self.value).get("namespace") or "")

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.value.get("spec")
        return spec if isinstance(spec, dict) else {}


def _meta(value: dict[str, Any]) -> dict[str, Any]:
    return mapping(value.get("metadata"))


def merge_patch(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``patch`` merged into ``base`` as a JSON merge patch (RFC 7386), which is what a
    strategic merge patch does to a custom resource: mappings merge, lists and scalars
    are replaced, a null removes."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def normpath(base: str, ref: str) -> str:
    if _PLAIN_REF.fullmatch(ref):  # nothing to normalise (most references)
        return ref if base == "." else f"{base}/{ref}"
    joined = posixpath.normpath(posixpath.join(base, ref.lstrip("/") if base == "." else ref))
    return "." if joined in ("", ".") else joined.removeprefix("./")


def parse(data: bytes) -> list[Any]:
    """Every document's value; nothing when the file is not readable YAML (validate
    reports that file on its own)."""
    try:
        return values(loader.decode(data))
    except (loader.LoadError, ValueError, UnicodeDecodeError):
        return []


@dataclass
class Repo:
    """One ref of the config repo, indexed for discovery."""

    tree: Tree
    exclude: tuple[str, ...] = ()
    files: list[str] = field(default_factory=list)
    folders: dict[str, list[str]] = field(default_factory=dict)  # folder -> file names
    kustomizations: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # folder -> doc
    kustomization_files: dict[str, str] = field(default_factory=dict)  # folder -> file
    charts: set[str] = field(default_factory=set)
    objects: list[Object] = field(default_factory=list)
    _closures: dict[str, frozenset[str]] = field(default_factory=dict)
    _targets: dict[str, list[str]] = field(default_factory=dict)
    _named: dict[tuple[str, str], list[Object]] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)  # parsed files by blob
    _agent_files: list[str] = field(default_factory=list)
    _value_files: list[str] | None = None
    _value_objects: dict[str, list[Object]] = field(default_factory=dict)  # by name
    generated_values: dict[tuple[str, str], list[Any]] | None = None  # see apps.generated

    @classmethod
    def read(
        cls, tree: Tree, exclude: Sequence[str] = (), parsed: dict[str, Any] | None = None
    ) -> Repo:
        repo = cls.listed(tree, exclude, parsed)
        with ThreadPoolExecutor(max_workers=1) as pool:  # the search runs while we parse
            agents = pool.submit(repo.agent_files)
            repo._read_kustomizations()
            patches = repo._patch_files()
            repo._agent_files = [p for p in agents.result() if p not in patches]
        repo.objects = repo._parsed(repo._agent_files)
        return repo

    @classmethod
    def listed(
        cls, tree: Tree, exclude: Sequence[str] = (), parsed: dict[str, Any] | None = None
    ) -> Repo:
        """The repo's files, folders, charts and kustomization files, read from the listing
        alone: each kustomization is parsed when first asked for, and no agent object is
        read (``read`` reads them all)."""
        repo = cls(tree, tuple(exclude))
        ignored = repo.ignored
        if exclude:
            repo.files = [f for f in tree.files() if not ignored(f)]
        else:  # most paths hold no "/." and do not start with "." : kept at once
            repo.files = [
                f for f in tree.files() if ("/." not in f and f[0] != ".") or not ignored(f)
            ]
        for path in repo.files:
            folder, _, name = path.rpartition("/")
            repo.folders.setdefault(folder or ".", []).append(name)
        repo.charts = {f for f, names in repo.folders.items() if CHART_FILE in names}
        repo._cache = {} if parsed is None else parsed
        for folder, names in repo.folders.items():
            found = next((n for n in KUSTOMIZATION_FILES if n in names), None)
            if found and not repo.in_chart(folder):
                repo.kustomization_files[folder] = found if folder == "." else f"{folder}/{found}"
        repo.kustomizations = _Lazy(repo._kustomization, repo.kustomization_files)
        return repo

    def agent_files(self) -> list[str]:
        """The files that may hold a Flux or Argo CD object (one search of the tree)."""
        return self._candidates(_AGENT_NEEDLES)

    def _kustomization(self, folder: str) -> dict[str, Any]:
        rel = self.kustomization_files[folder]
        key = "k:" + self.tree.blob(rel)
        if key not in self._cache:
            docs = parse(self.tree.read(rel))
            self._cache[key] = docs[0] if docs and isinstance(docs[0], dict) else {}
        doc: dict[str, Any] = self._cache[key]
        return doc

    def _read_kustomizations(self) -> None:
        """Every kustomization, parsed now (read in one go)."""
        blob = self.tree.blob
        files = self.kustomization_files.values()
        self.tree.prefetch(f for f in files if "k:" + blob(f) not in self._cache)
        self.kustomizations = {f: self._kustomization(f) for f in self.kustomization_files}

    def _patch_files(self) -> set[str]:
        """Files kustomizations read as patches: partial objects that change others, never
        applied as they are (a Kustomization patch setting one cluster's spec.path)."""
        found: set[str] = set()
        for folder, doc in self.kustomizations.items():
            for patch in listed(doc.get("patches")):
                if isinstance(patch, dict) and isinstance(patch.get("path"), str):
                    found.add(normpath(folder, patch["path"]))
            for patch in listed(doc.get("patchesStrategicMerge")):
                if isinstance(patch, str) and "\n" not in patch:  # not an inline patch
                    found.add(normpath(folder, patch))
        return found

    def _candidates(self, needles: Sequence[bytes]) -> list[str]:
        """Manifests outside charts holding any of ``needles`` (not kustomization files)."""
        kept = set(self.files)
        return [
            p
            for p in self.tree.grep(*needles)
            if p in kept
            and p.endswith(MANIFEST)
            and not p.endswith(KUSTOMIZATION_FILES)
            and not self.in_chart(posixpath.dirname(p) or ".")
        ]

    def _parsed(self, paths: Sequence[str]) -> list[Object]:
        """The mapping documents of these files, in order (parsed once per blob)."""
        self.tree.prefetch(p for p in paths if "o:" + self.tree.blob(p) not in self._cache)
        found: list[Object] = []
        for path in paths:
            key = "o:" + self.tree.blob(path)
            if key not in self._cache:
                docs = parse(self.tree.read(path))
                self._cache[key] = [d for d in docs if isinstance(d, dict)]
            found.extend(Object(path, d) for d in self._cache[key])
        return found

    def ignored(self, path: str) -> bool:
        """Hidden directories and files (.git, .github, .sops.yaml) and --exclude globs."""
        folder = path.rpartition("/")[0]
        if folder and (folder[0] == "." or "/." in folder):  # a folder's name starts with "."
            return True
        return bool(self.exclude) and any(excluded_by(path, p) for p in self.exclude)

    def in_chart(self, folder: str) -> bool:
        """``folder`` is a chart's, or inside one (its ancestors are looked up)."""
        charts = self.charts
        if not charts:
            return False
        if folder in charts:
            return True
        while "/" in folder:
            folder = folder.rpartition("/")[0]
            if folder in charts:
                return True
        return False

    def is_dir(self, folder: str) -> bool:
        if folder == ".":
            return True
        return folder in self.folders or any(f.startswith(folder + "/") for f in self.folders)

    def closure(self, folder: str) -> frozenset[str]:
        """Everything the kustomization in ``folder`` is built from: its kustomization file,
        the files it references, and theirs (a folder stands for all files under it)."""
        return self._closure(folder, frozenset())

    def targets(self, folder: str) -> list[str]:
        """The paths the kustomization in ``folder`` references, from the repo's top."""
        found = self._targets.get(folder)
        if found is None:
            refs = kustomize.references(self.kustomizations.get(folder, {}))
            found = self._targets[folder] = [normpath(folder, ref) for ref in refs]
        return found

    def included(self) -> set[str]:
        """What some kustomization includes: the paths they reference (a kustomization
        file by its folder), each but a kustomization's reference to itself. (All that a
        closure holds besides its own file is some kustomization's reference.)"""
        found: set[str] = set()
        for folder in self.kustomizations:
            for target in self.targets(folder):
                item = self.kustomization_folder(target) or target
                if item != folder:
                    found.add(item)
        return found

    def kustomization_folder(self, item: str) -> str | None:
        """The folder of ``item`` when it is a kustomization file."""
        if not item.endswith(KUSTOMIZATION_FILES):  # most items: at once
            return None
        folder = item.rpartition("/")[0] or "."
        return folder if self.kustomization_files.get(folder) == item else None

    def _closure(self, folder: str, seen: frozenset[str]) -> frozenset[str]:
        if folder in self._closures:
            return self._closures[folder]
        found = {self.kustomization_files.get(folder, folder)}
        for target in self.targets(folder):
            if target in self.kustomizations and target not in seen:
                found |= self._closure(target, seen | {folder})
            else:
                found.add(target)
        result = frozenset(found)
        self._closures[folder] = result
        return result

    def manifests_under(self, folder: str, *, recurse: bool = True) -> Iterator[str]:
        """Manifest files in ``folder`` (and below it, with ``recurse``)."""
        prefix = "" if folder == "." else folder + "/"
        for path in self.files:
            if not path.startswith(prefix) or not path.endswith(MANIFEST):
                continue
            rest = path[len(prefix) :]
            if "/" in rest and not recurse:
                continue
            yield path

    def generated(self, folder: str) -> tuple[list[str], list[str]]:
        """What Flux generates for a path without a kustomization: (files, folders) -
        every .yaml/.yml manifest below it, and sub-folders holding a kustomization taken
        whole."""
        subs = sorted(
            f for f in self.kustomizations if f != folder and _inside(f, folder) and f != "."
        )
        outer = [s for s in subs if not any(_inside(s, o) and s != o for o in subs)]
        files = [
            p
            for p in self.manifests_under(folder)
            if p.endswith((".yaml", ".yml"))
            and not any(_inside(p, o) for o in outer)
            and not self.in_chart(posixpath.dirname(p) or ".")
        ]
        return files, outer

    def named(self, kind: str, name: str) -> list[Object]:
        """The objects of this kind and name (any namespace), in file order."""
        if not self._named:
            for obj in self.objects:
                self._named.setdefault((obj.kind, obj.name), []).append(obj)
        found = self._named.get((kind, name), [])
        if kind not in _VALUE_KINDS:
            return found
        extra = [o for o in self._values(name) if o.kind == kind and o.name == name]
        return sorted(found + extra, key=lambda o: o.file) if extra else found

    def of_kind(self, api_prefix: str, *kinds: str) -> Iterable[Object]:
        found = (o for o in self.objects if o.api.startswith(api_prefix) and o.kind in kinds)
        if any(n.decode() in api_prefix for n in _AGENT_NEEDLES):
            return found  # such an object's file holds the needle: parsed already
        values = (o for o in self._values("") if o.api.startswith(api_prefix) and o.kind in kinds)
        return sorted((*found, *values), key=lambda o: o.file)

    def _values(self, name: str) -> list[Object]:
        """Objects of the files that may hold a ConfigMap or Secret named ``name`` ("": any
        name) and hold no agent object: read only when asked for, since a repo may hold
        thousands. A file is parsed only when its bytes hold the name or an escape; a name
        that a number, a boolean or a null could print as is looked for everywhere."""
        if self._value_files is None:
            skip = set(self._agent_files) | self._patch_files()
            self._value_files = [p for p in self._candidates(_VALUE_NEEDLES) if p not in skip]
        key = name if _LITERAL_NAME.fullmatch(name) and not _PRINTED.fullmatch(name) else ""
        if key not in self._value_objects:
            paths = self._value_files
            if key:
                self.tree.prefetch(paths)
                needle = key.encode()
                paths = [p for p in paths if _may_hold(self.tree.read(p), needle)]
            self._value_objects[key] = self._parsed(paths)
        return self._value_objects[key]


class _Lazy(Mapping[str, dict[str, Any]]):
    """Kustomizations by folder, each parsed when first asked for."""

    def __init__(self, load: Callable[[str], dict[str, Any]], files: Mapping[str, str]) -> None:
        self._load, self._files = load, files

    def __getitem__(self, folder: str) -> dict[str, Any]:
        if folder not in self._files:
            raise KeyError(folder)
        return self._load(folder)

    def __contains__(self, folder: object) -> bool:
        return folder in self._files

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def _may_hold(data: bytes, needle: bytes) -> bool:
    return needle in data or b"\\" in data  # a name may be written with escapes


def _inside(path: str, folder: str) -> bool:
    return folder == "." or path == folder or path.startswith(folder + "/")


def excluded_by(path: str, pattern: str) -> bool:
    """Whether ``--exclude pattern`` covers ``path`` (the path, or a folder above it)."""
    pattern = pattern.strip("/").removeprefix("./")
    return (
        fnmatch.fnmatchcase(path, pattern)
        or fnmatch.fnmatchcase(path, pattern + "/*")
        or path.startswith(pattern + "/")
    )
