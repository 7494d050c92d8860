"""Applications in a config tree, what each is built from, and rendering them.

An application is a Kustomize root (a kustomization no other kustomization includes, or
one an Argo CD Application / Flux Kustomization points at), a Helm chart, or a directory
of plain manifests. Its inputs are every file and directory it is built from, so a change
maps to exactly the applications it can affect.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops_actions.errors import InputError
from gitops_actions.proc import ProcessFailed, run

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_REF_KEYS = (
    "resources",
    "bases",
    "components",
    "crds",
    "patchesStrategicMerge",
    "transformers",
    "generators",
    "configurations",
)


@dataclass(frozen=True)
class App:
    path: str  # directory relative to the repo root
    kind: str  # kustomize, helm, plain
    inputs: tuple[str, ...]  # files and directories it is built from

    def uses(self, rel: str) -> bool:
        return any(rel == i or rel.startswith(i.rstrip("/") + "/") or i == "." for i in self.inputs)


def _walk(root: Path) -> Iterator[tuple[str, list[str]]]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if d != ".git" and not os.path.islink(os.path.join(folder, d))
        )
        yield os.path.relpath(folder, root).replace(os.sep, "/"), sorted(files)


def _load(path: Path) -> list[Any]:
    try:
        return [
            d
            for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=Loader)
            if d is not None
        ]
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"cannot parse: {err}".splitlines()[0], path=str(path)) from None


def _kustomization(root: Path, folder: str) -> dict[str, Any] | None:
    for name in KUSTOMIZATION_FILES:
        path = root / folder / name
        if path.is_file():
            docs = _load(path)
            return docs[0] if docs and isinstance(docs[0], dict) else {}
    return None


def _refs(doc: dict[str, Any]) -> Iterator[str]:
    for key in _REF_KEYS:
        for item in doc.get(key) or ():
            if isinstance(item, str) and "://" not in item:
                yield item
    for patch in doc.get("patches") or ():
        if isinstance(patch, dict) and isinstance(patch.get("path"), str):
            yield patch["path"]
    for generator in (doc.get("configMapGenerator") or []) + (doc.get("secretGenerator") or []):
        for entry in (generator or {}).get("files") or ():
            yield str(entry).partition("=")[2] or str(entry)
        for entry in (generator or {}).get("envs") or ():
            yield str(entry)
    for chart in doc.get("helmCharts") or ():
        if isinstance(chart, dict) and isinstance(chart.get("valuesFile"), str):
            yield chart["valuesFile"]


def _pointed_paths(root: Path, folder: str, files: list[str]) -> Iterator[str]:
    """Paths Argo CD Applications and Flux Kustomizations in ``folder`` deploy."""
    for name in files:
        if not name.endswith((".yaml", ".yml")):
            continue
        try:
            docs = _load(root / folder / name)
        except InputError:
            continue
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") not in ("Application", "Kustomization"):
                continue
            spec = doc.get("spec") or {}
            sources = [spec.get("source") or {}, *(spec.get("sources") or [])]
            for source in sources:
                if isinstance(source, dict) and isinstance(source.get("path"), str):
                    yield source["path"].strip("./") or "."
            if isinstance(spec.get("path"), str):
                yield spec["path"].strip("./") or "."


def discover(root: Path) -> list[App]:
    kustomizations: dict[str, dict[str, Any]] = {}
    charts: set[str] = set()
    plain: dict[str, list[str]] = {}
    pointed: set[str] = set()
    for folder, files in _walk(root):
        if any(folder == c or folder.startswith(c + "/") for c in charts):
            continue
        if "Chart.yaml" in files:
            charts.add(folder)
            continue
        doc = _kustomization(root, folder)
        if doc is not None:
            kustomizations[folder] = doc
        manifests = [
            f
            for f in files
            if f.endswith((".yaml", ".yml", ".json")) and f not in KUSTOMIZATION_FILES
        ]
        if manifests:
            plain[folder] = manifests
        pointed.update(_pointed_paths(root, folder, manifests))

    inputs: dict[str, set[str]] = {}

    def collect(folder: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if folder in inputs:
            return inputs[folder]
        found = {folder}
        for ref in _refs(kustomizations.get(folder, {})):
            target = os.path.normpath(os.path.join(folder, ref)).replace(os.sep, "/")
            if target in kustomizations and target not in seen:
                found |= collect(target, seen | {folder})
            elif target in charts:
                found.add(target)
            else:
                found.add(target)
        inputs[folder] = found
        return found

    included: set[str] = set()
    for folder in kustomizations:
        included |= {i for i in collect(folder) if i != folder and i in kustomizations}
    covered = {i for folder in kustomizations for i in collect(folder)}
    apps = [
        App(f, "kustomize", tuple(sorted(collect(f))))
        for f in sorted(kustomizations)
        if f not in included or f in pointed
    ]
    apps += [App(c, "helm", (c,)) for c in sorted(charts)]
    apps += [
        App(f, "plain", tuple(f"{f}/{name}" if f != "." else name for name in names))
        for f, names in sorted(plain.items())
        if f not in covered
        and not any(f.startswith(c + "/") for c in covered if c in kustomizations)
    ]
    return apps


def fingerprint(root: Path, app: App) -> str:
    """A hash of every input file's path and bytes: equal means nothing to re-render."""
    digest = hashlib.sha256()
    for item in app.inputs:
        path = root / item
        files = (
            [path]
            if path.is_file()
            else sorted(p for p in path.rglob("*") if p.is_file() and ".git" not in p.parts)
            if path.is_dir()
            else []
        )
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Rendered:
    app: App
    resources: tuple[dict[str, Any], ...]
    skipped: str = ""


def _resources(docs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List" and "items" in doc:
            yield from _resources(doc.get("items") or [])
        elif isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"):
            yield doc


def render(root: Path, app: App) -> Rendered:
    folder = root / app.path
    if app.kind == "kustomize":
        binary = shutil.which("kustomize")
        cmd = [binary, "build", str(folder)] if binary else ["kubectl", "kustomize", str(folder)]
        try:
            out = run(cmd, timeout=120).stdout
        except ProcessFailed as err:
            raise InputError(f"kustomize failed: {err.message}", path=app.path) from None
        return Rendered(app, tuple(_resources(yaml.load_all(out, Loader=Loader))))
    if app.kind == "helm":
        if shutil.which("helm") is None:
            return Rendered(app, (), "helm is not installed")
        try:
            out = run(["helm", "template", "release", str(folder)], timeout=120).stdout
        except ProcessFailed as err:
            raise InputError(f"helm template failed: {err.message}", path=app.path) from None
        return Rendered(app, tuple(_resources(yaml.load_all(out, Loader=Loader))))
    docs: list[Any] = []
    for rel in app.inputs:
        docs += _load(root / rel)
    return Rendered(app, tuple(_resources(docs)))
