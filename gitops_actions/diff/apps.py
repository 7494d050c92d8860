"""Applications in a config tree, what each is built from, and rendering them.

An application is a Kustomize root (a kustomization no other kustomization includes, or
one an Argo CD Application / Flux Kustomization points at), a Helm chart, or a directory
of plain manifests. Its inputs are every file and directory it is built from, so a change
maps to exactly the applications it can affect.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_actions import kustomize
from gitops_actions.diff.tree import Tree, hidden, under
from gitops_actions.errors import InputError
from gitops_actions.validate import render as renderer
from gitops_actions.yamlread.loader import read_values

KUSTOMIZATION_FILES = kustomize.KUSTOMIZATION_FILES
_MANIFEST = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class App:
    path: str  # directory relative to the repo root
    kind: str  # kustomize, helm, plain
    inputs: tuple[str, ...]  # files and directories it is built from


def _load(data: bytes, path: str) -> list[Any]:
    return read_values(data, path)


def _pointed_paths(tree: Tree) -> Iterator[str]:
    """Paths that Argo CD Applications and Flux Kustomizations deploy."""
    found = [
        p
        for p in tree.grep(b"kind: Application", b"kind: Kustomization")
        if p.endswith((".yaml", ".yml")) and not p.endswith(KUSTOMIZATION_FILES)
    ]
    tree.prefetch(found)
    for path in found:
        try:
            docs = _load(tree.read(path), path)
        except InputError:
            continue
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") not in ("Application", "Kustomization"):
                continue
            spec = doc.get("spec") or {}
            for source in [spec.get("source") or {}, *(spec.get("sources") or []), spec]:
                if isinstance(source, dict) and isinstance(source.get("path"), str):
                    yield posixpath.normpath(source["path"].strip("/")) or "."


def discover(tree: Tree, parsed: dict[str, Any] | None = None) -> list[App]:
    """Applications in ``tree``; ``parsed`` caches kustomizations by blob id across trees."""
    parsed = {} if parsed is None else parsed
    files = tree.files()
    folders: dict[str, list[str]] = {}
    for path in files:
        if hidden(path):  # .git, .github, .vscode ...: skipped, as validate skips them
            continue
        folder, _, name = path.rpartition("/")
        folders.setdefault(folder or ".", []).append(name)
    charts = {f for f, names in folders.items() if "Chart.yaml" in names}

    def in_chart(folder: str) -> bool:
        return any(folder == c or folder.startswith(c + "/") for c in charts)

    kustomizations: dict[str, dict[str, Any]] = {}
    tree.prefetch(
        f"{folder}/{n}".removeprefix("./")
        for folder, names in folders.items()
        for n in names
        if n in KUSTOMIZATION_FILES
    )
    for folder, names in folders.items():
        found = next((n for n in KUSTOMIZATION_FILES if n in names), None)
        if found and not in_chart(folder):
            rel = found if folder == "." else f"{folder}/{found}"
            blob = tree.blob(rel)
            if blob not in parsed:
                docs = _load(tree.read(rel), rel)
                parsed[blob] = docs[0] if docs and isinstance(docs[0], dict) else {}
            kustomizations[folder] = parsed[blob]
    inputs: dict[str, set[str]] = {}

    def collect(folder: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if folder not in inputs:
            found = {folder}
            for ref in kustomize.references(kustomizations.get(folder, {})):
                target = posixpath.normpath(posixpath.join(folder, ref))
                if target in kustomizations and target not in seen:
                    found |= collect(target, seen | {folder})
                else:
                    found.add(target)
            inputs[folder] = found
        return inputs[folder]

    included = {i for f in kustomizations for i in collect(f) if i != f and i in kustomizations}
    pointed = set(_pointed_paths(tree))
    covered = {i for f in kustomizations for i in collect(f)}
    apps = [
        App(f, "kustomize", _outermost(collect(f)))
        for f in sorted(kustomizations)
        if f not in included or f in pointed
    ]
    apps += [App(c, "helm", (c,)) for c in sorted(charts)]
    for folder, names in sorted(folders.items()):
        manifests = [n for n in names if n.endswith(_MANIFEST) and n not in KUSTOMIZATION_FILES]
        if not manifests or folder in covered or in_chart(folder):
            continue
        if any(folder.startswith(c + "/") for c in covered if c in kustomizations):
            continue
        apps.append(
            App(
                folder,
                "plain",
                tuple(n if folder == "." else f"{folder}/{n}" for n in sorted(manifests)),
            )
        )
    return apps


def _outermost(paths: set[str]) -> tuple[str, ...]:
    """The paths, without those inside another one of them."""
    kept: list[str] = []
    for path in sorted(paths):
        if not any(path.startswith(k + "/") for k in kept):
            kept.append(path)
    return tuple(kept)


def input_files(tree: Tree, app: App) -> list[str]:
    files = tree.files()
    return sorted({f for item in app.inputs for f in under(files, item)})


def fingerprint(tree: Tree, app: App) -> str:
    """Equal fingerprints mean equal inputs: nothing to re-render."""
    digest = hashlib.sha256()
    for path in input_files(tree, app):
        digest.update(f"{path}\0{tree.blob(path)}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Rendered:
    app: App
    resources: tuple[dict[str, Any], ...]
    skipped: str = ""
    renderer: str = ""


def resources_of(docs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List" and "items" in doc:
            yield from resources_of(doc.get("items") or [])
        elif isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"):
            yield doc


def render(root: Path, app: App) -> Rendered:
    """Render one application from a directory that holds its inputs: common overlays
    in-process, everything else with the same kustomize and helm runs as ``validate``."""
    folder = root / app.path
    if app.kind == "plain":
        docs: list[Any] = []
        for rel in app.inputs:
            docs += _load((root / rel).read_bytes(), rel)
        return Rendered(app, tuple(resources_of(docs)), renderer="plain")
    if app.kind == "kustomize":
        try:
            built = kustomize.build(folder, root)
            return Rendered(app, tuple(resources_of(built)), renderer="in-process")
        except kustomize.Unsupported:
            done = renderer.render_kustomization(folder)
    else:
        done = renderer.render_chart(folder)
    if done.error:
        raise InputError(f"{done.tool} failed: {done.error}", path=app.path)
    if done.text is None:
        return Rendered(app, (), done.skipped, renderer=done.tool)
    return Rendered(
        app, tuple(resources_of(_load(done.text.encode(), app.path))), renderer=done.tool
    )
