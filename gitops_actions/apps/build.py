"""Render an entry point as its agent would: the path's kustomization with the agent's
options merged in (or the one Flux generates), then what the agent does to the result
(common metadata, ``postBuild`` substitution, the destination namespace).

Common overlays build in-process; the rest with the same ``kustomize``/``helm`` runs as
``validate``. A kustomization that the agent changes is built from a mirror of the repo:
symbolic links to the repo's files, and real folders down to the path, which holds the
merged kustomization. The repo itself is never written to.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import os
import posixpath
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_actions import kustomize
from gitops_actions.apps import flux
from gitops_actions.apps.model import EntryPoint
from gitops_actions.apps.objects import KUSTOMIZATION_FILES, MANIFEST
from gitops_actions.paths import SKIPPED_DIRS, escapes, walk
from gitops_actions.validate import render as renderer
from gitops_actions.yamlread import dump, loader
from gitops_actions.yamlread.shapes import listed, mapping


@dataclass(frozen=True)
class Rendered:
    """What an entry point renders to, or why it does not."""

    entry: EntryPoint
    resources: tuple[dict[str, Any], ...] = ()
    text: str | None = None  # the output as YAML; None when not rendered
    renderer: str = ""  # in-process, kustomize, helm, plain
    skipped: str = ""  # not rendered, on purpose or for want of a tool
    error: str = ""  # cannot be rendered (the input is wrong)
    folder: Path | None = None  # what was built (for tracing findings to files)
    unresolved: tuple[str, ...] = ()  # substitution variables with no value in the repo
    kustomization: dict[str, Any] | None = None  # built in-process from this, not the folder's


def render(
    root: Path,
    entry: EntryPoint,
    scratch: Path,
    env: Mapping[str, str] | None = None,
    *,
    text: bool = True,
) -> Rendered:
    """Render ``entry`` from ``root`` (a checkout, or a directory holding its inputs).
    Without ``text``, resources built in-process are not written out as YAML (``text``
    is then ``""``): for readers of ``resources`` only."""
    if entry.unrenderable:
        return Rendered(entry, skipped=entry.unrenderable)
    if entry.parts:
        parts = [render(root, p, scratch, env, text=text) for p in entry.parts]
        return _combined(entry, parts, text)
    try:
        done = _build(root, entry, scratch, env)
    except loader.LoadError as err:
        return Rendered(entry, error=f"cannot parse YAML: {err.message}")
    except OSError as err:
        return Rendered(entry, error=f"cannot read: {err.strerror or err}")
    except kustomize.Refused as err:
        return Rendered(entry, error=str(err))
    if done.text is None and not done.resources:
        return done
    return _after(entry, done, text)


def _combined(entry: EntryPoint, parts: list[Rendered], text: bool) -> Rendered:
    resources = tuple(r for p in parts for r in p.resources)
    errors = [p.error for p in parts if p.error]
    skipped = [p.skipped for p in parts if p.skipped]
    rendered = [p for p in parts if p.text is not None]
    return Rendered(
        entry,
        resources,
        (_dump(resources) if text else "") if rendered else None,
        "+".join(dict.fromkeys(p.renderer for p in rendered)),
        "; ".join(skipped),
        "; ".join(errors),
        unresolved=tuple(sorted({v for p in parts for v in p.unresolved})),
    )


def _build(root: Path, entry: EntryPoint, scratch: Path, env: Mapping[str, str] | None) -> Rendered:
    build = entry.build
    folder = root / entry.path
    if entry.kind == "plain":
        return _files(entry, [root / f for f in entry.files])
    if build.helm is not None or entry.kind == "helm":
        return _helm(root, entry, env)
    if build.generated and entry.kind == "argocd":
        return _files(entry, directory_files(root, entry))
    doc: dict[str, Any] | None = None  # the kustomization, when not the folder's own
    own = _generated(root, entry.path) if build.generated else _kustomization(folder)
    if build.generated or build.kustomize:
        doc = _merged(own, build.kustomize)
    given = doc if doc is not None else own or None
    components = (doc or own).get("components")
    inlined = _inlined(root, entry.path, doc or own, components) if components else None
    try:
        restricted = doc is None and inlined is None  # the folder's own, as it is
        resources = kustomize.build(folder, root, inlined or given, restricted=restricted)
        return Rendered(
            entry, tuple(_resources(resources)), "", "in-process", folder=folder, kustomization=doc
        )
    except kustomize.Unsupported:
        pass
    folder = buildable(root, entry, doc, scratch)
    shown = entry.defined_in or str(folder)
    # Flux builds with kustomize's load restrictor off: files outside the path may be read
    unrestricted = doc is not None or entry.kind == "flux"
    done = renderer.render_kustomization(folder, env, unrestricted=unrestricted, shown=shown)
    return _from(entry, done, folder)


def buildable(root: Path, entry: EntryPoint, doc: dict[str, Any] | None, scratch: Path) -> Path:
    """A folder ``kustomize build`` gives the entry point's resources from: its own, or
    a mirror of the repo holding ``doc`` there."""
    return _mirror(root, entry.path, doc, scratch)[1] if doc is not None else root / entry.path


def _from(entry: EntryPoint, done: renderer.Rendered, folder: Path) -> Rendered:
    if done.error:
        return Rendered(entry, error=done.error, renderer=done.tool, folder=folder)
    if done.text is None:
        return Rendered(entry, skipped=done.skipped, renderer=done.tool, folder=folder)
    docs = [d.value for d in loader.documents(done.text)]
    return Rendered(entry, tuple(_resources(docs)), done.text, done.tool, folder=folder)


def _helm(root: Path, entry: EntryPoint, env: Mapping[str, str] | None) -> Rendered:
    helm = entry.build.helm
    options: list[str] = []
    release = ""
    extra = None
    if helm is not None:
        release = helm.release
        for file in helm.value_files:
            options += ["--values", str(root / file)]
        for name, value in helm.parameters:
            options += ["--set", f"{name}={value}"]
    if entry.build.default_namespace:
        options += ["--namespace", entry.build.default_namespace]
    with tempfile.TemporaryDirectory(prefix="gitops-values-") as tmp:
        if helm is not None and helm.values.strip():
            extra = Path(tmp) / "values.yaml"
            extra.write_text(helm.values, encoding="utf-8")
            options += ["--values", str(extra)]
        done = renderer.render_chart(
            root / entry.path, env, release=release, options=options, shown=entry.defined_in
        )
    return _from(entry, done, root / entry.path)


def _files(entry: EntryPoint, files: Iterable[Path]) -> Rendered:
    docs: list[Any] = []
    for file in files:
        text = loader.decode(file.read_bytes())
        parsed = loader.json_documents(text) if file.suffix == ".json" else loader.documents(text)
        docs += [d.value for d in parsed]
    # a document without apiVersion and kind (a tool's config beside the manifests) is
    # nothing the agent applies: validate reports it, diff has no resource to compare
    found = (r for r in _resources(docs) if r.get("apiVersion") and r.get("kind"))
    return Rendered(entry, tuple(found), "", "plain", folder=None)


def directory_files(root: Path, entry: EntryPoint) -> list[Path]:
    """The files of an Argo CD directory source (recurse, include, exclude)."""
    build, base = entry.build, root / entry.path
    found = []
    listed = [n for n in os.listdir(base) if not os.path.islink(base / n)]
    top: list[tuple[str, list[str], list[str]]] = [(str(base), [], listed)]
    for folder, dirs, names in walk(base) if build.recurse else top:  # no symlinks
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            rel = path.relative_to(base).as_posix()
            if not name.endswith(MANIFEST) or not path.is_file():
                continue
            if build.include and not _globs(rel, build.include):
                continue
            if build.exclude and _globs(rel, build.exclude):
                continue
            found.append(path)
    return found


def _globs(path: str, pattern: str) -> bool:
    """Argo CD globs: one, or ``{a,b}`` alternatives."""
    text = pattern.strip()
    options = text[1:-1].split(",") if text.startswith("{") and text.endswith("}") else [text]
    name = posixpath.basename(path)
    return any(fnmatch.fnmatchcase(path, o) or fnmatch.fnmatchcase(name, o) for o in options)


def _generated(root: Path, path: str) -> dict[str, Any]:
    """The kustomization Flux writes for a path without one."""
    base = root / path
    resources: list[str] = []
    for folder, dirs, names in walk(base):  # no symlinks
        here = Path(folder)
        if here != base and any(n in KUSTOMIZATION_FILES for n in names):
            resources.append(here.relative_to(base).as_posix())
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.endswith((".yaml", ".yml")) and not name.startswith("."):
                if here == base and name in KUSTOMIZATION_FILES:
                    continue
                resources.append((here / name).relative_to(base).as_posix())
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(resources),
    }


def _kustomization(folder: Path) -> dict[str, Any]:
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            text = loader.decode((folder / name).read_bytes())
            docs = list(loader.documents(text, kustomize=True))  # as kustomize reads it
            return dict(docs[0].value) if docs and isinstance(docs[0].value, dict) else {}
    return {}


def _inlined(root: Path, path: str, doc: dict[str, Any], components: Any) -> dict[str, Any] | None:
    """``doc`` with its components built as its resources, when every component only adds
    resources (kustomize adds them to the kustomization's own), so the in-process builder
    can take it; None when one does more. For the in-process builder only: kustomize
    itself refuses a Component among resources."""
    extra: list[str] = []
    for component in components if isinstance(components, list) else ():
        if not isinstance(component, str) or "://" in component:
            return None
        folder = posixpath.normpath(posixpath.join(path, component))
        found = _kustomization(root / folder)
        if found.get("kind") != "Component" or set(found) - {"apiVersion", "kind", "resources"}:
            return None
        extra.append(posixpath.relpath(folder, path))
    inlined = {k: v for k, v in doc.items() if k != "components"}
    inlined["resources"] = [*listed(doc.get("resources")), *extra]
    return inlined


def _merged(doc: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(doc)
    for key, value in extra.items():
        if isinstance(value, list):
            merged[key] = [*listed(merged.get(key)), *copy.deepcopy(value)]
        elif isinstance(value, Mapping):
            merged[key] = {**mapping(merged.get(key)), **value}
        else:
            merged[key] = value
    return merged


def _mirror(root: Path, path: str, doc: dict[str, Any], scratch: Path) -> tuple[Path, Path]:
    """A folder mirroring ``root``, with ``doc`` as ``path``'s kustomization.

    kustomize reads the mirror with no load restrictions (its files are links into the
    repo), so nothing reachable from it may lead out of the repo: a folder holding such a
    symlink at any depth is mirrored as a real folder, and the symlink itself is left out.
    A symlink within the repo points at its target's place in the mirror; every other
    folder and file is one link to the repo's own."""
    base = Path(tempfile.mkdtemp(prefix="mirror-", dir=scratch))
    root = root.resolve()
    parts = [] if path == "." else path.split("/")
    along = [Path(os.path.realpath(root.joinpath(*parts[:n]))) for n in range(len(parts) + 1)]
    if any(not folder.is_relative_to(root) for folder in along):
        raise kustomize.Refused(f"{path!r} leads out of the tree; not following it")
    real = _holding_ways_out(root) | set(along)
    on_path = {root.joinpath(*parts[:n]) for n in range(len(parts) + 1)}

    def copy(here: Path, given: Path, there: Path) -> None:  # ``here``: ``given``, resolved
        with os.scandir(here) as entries:
            found = sorted(entries, key=lambda e: e.name)
        for entry in found:
            source, mirrored = here / entry.name, there / entry.name
            if here == along[-1] and entry.name in KUSTOMIZATION_FILES:
                continue
            if given / entry.name in on_path or (source in real and not entry.is_symlink()):
                mirrored.mkdir()
                copy(Path(os.path.realpath(source)), given / entry.name, mirrored)
            elif entry.is_symlink():
                if not escapes(root, source):  # one out of the tree is not mirrored
                    target = Path(os.path.realpath(source)).relative_to(root)
                    os.symlink(base / target, mirrored)
            else:
                os.symlink(source, mirrored)

    copy(root, root, base)
    there = base.joinpath(*parts)
    if there.is_symlink() or not there.is_dir():
        raise kustomize.Refused(f"{path!r} is not a folder of the tree")
    (there / "kustomization.yaml").write_text(dump.dump(doc), encoding="utf-8")
    return base, there


def _holding_ways_out(root: Path) -> set[Path]:
    """The folders of ``root`` that hold, at any depth, a symlink leading out of it."""
    found: set[Path] = set()
    for folder, dirs, names in os.walk(root):  # lists symlinked folders, does not enter them
        for name in (*dirs, *names):
            path = Path(folder, name)
            if path.is_symlink() and escapes(root, path):
                here = Path(folder)
                while here not in found and here.is_relative_to(root):
                    found.add(here)
                    here = here.parent
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
    return found


def _resources(docs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List" and "items" in doc:
            yield from _resources(listed(doc.get("items")))
        elif isinstance(doc, dict):
            yield doc


# -- what the agent does after building ---------------------------------------------------------
def _after(entry: EntryPoint, done: Rendered, as_text: bool = True) -> Rendered:
    build = entry.build
    changes = (
        build.common_labels or build.common_annotations or build.default_namespace
    ) or build.substitute is not None
    if not changes:
        if done.text:
            return done
        return dataclasses.replace(done, text=_dump(done.resources) if as_text else "")
    resources = [copy.deepcopy(r) for r in done.resources]
    unresolved: set[str] = set()
    out = []
    for resource in resources:
        meta = resource.setdefault("metadata", {})
        if not isinstance(meta, dict):
            out.append(resource)
            continue
        if build.common_labels:
            meta["labels"] = {**(meta.get("labels") or {}), **build.common_labels}
        if build.common_annotations:
            meta["annotations"] = {**(meta.get("annotations") or {}), **build.common_annotations}
        if (
            build.default_namespace
            and not meta.get("namespace")
            and resource.get("kind") not in kustomize.CLUSTER_SCOPED
        ):
            meta["namespace"] = build.default_namespace
        if build.substitute is not None and not flux.disabled(resource):
            text, missing = flux.substitute(_dump([resource]), build.substitute)
            unresolved |= missing
            out += [d.value for d in loader.documents(text) if isinstance(d.value, dict)]
        else:
            out.append(resource)
    return dataclasses.replace(
        done,
        resources=tuple(out),
        text=_dump(out) if as_text else "",
        unresolved=tuple(sorted(unresolved)),
    )


def _dump(resources: Iterable[Mapping[str, Any]]) -> str:
    """As kustomize writes them: a string stays a string for every reader (``0o644``,
    ``1e3``, ``y``), so a ``postBuild`` round trip changes nothing but the variables."""
    return dump.dump_documents(resources)
