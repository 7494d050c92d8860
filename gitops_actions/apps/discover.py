"""Find the entry points of a repo: agent objects first, then what nothing else covers."""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Iterable, Sequence
from typing import Any

from gitops_actions.apps import appset, argo, flux, helmrelease
from gitops_actions.apps.model import EntryPoint, Model, Skipped, outermost
from gitops_actions.apps.objects import CHART_FILE, KUSTOMIZATION_FILES, MANIFEST, Repo
from gitops_actions.diff.tree import Tree
from gitops_actions.yamlread.shapes import listed

# files in a repo that are configuration of tools, not resources: name -> what it is
TOOL_FILES = {
    "renovate.json": "Renovate configuration",
    "renovate.json5": "Renovate configuration",
    ".renovaterc": "Renovate configuration",
    ".renovaterc.json": "Renovate configuration",
    ".sops.yaml": "SOPS configuration",
    ".gitlab-ci.yml": "GitLab CI configuration",
    ".pre-commit-config.yaml": "pre-commit configuration",
    ".yamllint": "yamllint configuration",
    ".yamllint.yaml": "yamllint configuration",
    "azure-pipelines.yml": "Azure Pipelines configuration",
    "bitbucket-pipelines.yml": "Bitbucket Pipelines configuration",
    "cloudbuild.yaml": "Cloud Build configuration",
    "Taskfile.yaml": "Task configuration",
    "Taskfile.yml": "Task configuration",
    "docker-compose.yml": "Docker Compose file",
    "docker-compose.yaml": "Docker Compose file",
    "compose.yaml": "Docker Compose file",
    "mkdocs.yml": "MkDocs configuration",
    "values.schema.json": "Helm values schema",
}


# a Helm values file by its name (values.yaml, values-prod.yaml, app.values.yaml ...): one
# a generator fills in (a path of an ApplicationSet of goTemplate) is not seen referenced
_VALUES_NAME = re.compile(r"(?:values(?:[-._].*)?|.*[-._]values)\.ya?ml")
_RESOURCE_KEY = re.compile(rb"^(?:apiVersion|kind):", re.MULTILINE)


def _helmfile(path: str) -> bool:
    """helmfile's own files: ``helmfile.yaml``, and those of a ``helmfile.d`` or
    ``helmfile`` folder (how bootstrap steps of Flux repos install the first charts)."""
    folder, _, name = path.rpartition("/")
    return name.startswith("helmfile.") or folder.rpartition("/")[2] in ("helmfile", "helmfile.d")


def discover(
    tree: Tree,
    *,
    repo_url: str = "",
    exclude: Sequence[str] = (),
    parsed: dict[str, Any] | None = None,
    grouped: bool = True,
) -> Model:
    """The entry points of ``tree``; ``parsed`` caches parsed files by blob across trees.
    Without ``grouped``, each entry point's group is left as found (diff does not read it)."""
    repo = Repo.read(tree, exclude, parsed)
    notes: list[str] = []
    entries: list[EntryPoint] = []
    agents = (flux.entries, helmrelease.entries, argo.entries)
    for found in (f for entries_of in agents for f in entries_of(repo, repo_url)):
        if isinstance(found, str):
            notes.append(found)
        else:
            entries.append(found)
    entries = _unique(entries)
    covered = {i for e in entries for i in e.rendered_inputs}
    included = repo.included()
    for folder in sorted(repo.kustomizations):
        if folder in included or repo.in_chart(folder):
            continue
        if repo.kustomization_files[folder] in covered or _covered(folder, covered):
            continue
        if repo.kustomizations[folder].get("kind") == "Component":
            continue
        entries.append(
            EntryPoint(folder, "kustomize", folder, outermost(repo.closure(folder)), group=folder)
        )
        covered |= repo.closure(folder)
    for chart in sorted(repo.charts):
        if _covered(chart, covered) or any(c != chart and _inside(chart, c) for c in repo.charts):
            continue
        entries.append(EntryPoint(chart, "helm", chart, (chart,), group=chart))
        covered.add(chart)
    skipped = list(_non_resources(repo, entries))
    skipped_files = {s.path for s in skipped}
    kustomize_covered = {repo.kustomization_folder(c) or c for c in covered}
    kustomize_covered &= set(repo.kustomizations)
    plain: list[str] = []
    for folder, names in sorted(repo.folders.items()):
        if repo.in_chart(folder) or _under_any(folder, kustomize_covered):
            continue
        for name in sorted(names):
            path = name if folder == "." else f"{folder}/{name}"
            if not name.endswith(MANIFEST) or name in KUSTOMIZATION_FILES or name[0] == ".":
                continue
            if path in skipped_files or _covered(path, covered):
                continue
            if _VALUES_NAME.fullmatch(name) and not _RESOURCE_KEY.search(repo.tree.read(path)):
                skipped.append(Skipped(path, "Helm values file (by its name; nothing names it)"))
                continue
            plain.append(path)
    folders: dict[str, list[str]] = {}
    for path in plain:
        folders.setdefault(posixpath.dirname(path) or ".", []).append(path)
    for folder, files in sorted(folders.items()):
        entries.append(EntryPoint(folder, "plain", folder, tuple(files), files=tuple(files)))
    ordered = _grouped(entries) if grouped else entries
    return Model(tuple(ordered), tuple(skipped), tuple(notes), tuple(plain))


def _all_inputs(entry: EntryPoint) -> Iterable[str]:
    yield from entry.inputs
    for part in entry.parts:
        yield from part.inputs


def _covered(path: str, covered: set[str]) -> bool:
    """``path`` is in ``covered``, or inside a folder in it (its ancestors are looked up:
    linear in the path's depth, not in the size of ``covered``)."""
    if path in covered or "." in covered:
        return True
    return any(a in covered and _is_folderish(a) for a in _ancestors(path))


def _ancestors(path: str) -> Iterable[str]:
    while "/" in path:
        path = path.rpartition("/")[0]
        yield path


def _under_any(path: str, folders: set[str]) -> bool:
    """``_inside(path, f)`` for some ``f`` in ``folders``, by ancestor lookup."""
    return path in folders or "." in folders or any(a in folders for a in _ancestors(path))


def _is_folderish(path: str) -> bool:
    return not path.endswith(MANIFEST) and not path.endswith(KUSTOMIZATION_FILES)


def _inside(path: str, folder: str) -> bool:
    return folder == "." or path == folder or path.startswith(folder + "/")


def _unique(entries: list[EntryPoint]) -> list[EntryPoint]:
    """Entry points by name; a name seen twice (two ApplicationSet elements giving one app)
    keeps the first."""
    seen: dict[str, EntryPoint] = {}
    for entry in entries:
        seen.setdefault(entry.name, entry)
    return list(seen.values())


def _grouped(entries: list[EntryPoint]) -> list[EntryPoint]:
    """Each entry point's group: the tree of entry points applying one another (an entry
    point applies those defined in the files it renders), named after the root's first
    entry point. Entry points defined in one file go together. A file two trees render
    (a folder both clusters apply) does not join the trees: its entry points go with the
    first tree reaching them."""

    def node(entry: EntryPoint) -> str:
        return entry.defined_in or entry.name

    feeding: dict[str, set[str]] = {}  # input -> nodes rendering it
    for entry in entries:
        if entry.kind != "plain":  # applied by hand, if at all: no agent tree
            here = node(entry)
            for item in entry.rendered_inputs:
                feeding.setdefault(item, set()).add(here)
    children: dict[str, set[str]] = {}
    applied: set[str] = set()
    for entry in entries:
        path, child = entry.defined_in, node(entry)
        while path:
            for parent in feeding.get(path, ()):
                if parent != child:
                    children.setdefault(parent, set()).add(child)
                    applied.add(child)
            path = "" if path == "." else (posixpath.dirname(path) or ".")
    first: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.name):
        first.setdefault(node(entry), entry.name)
    group: dict[str, str] = {}
    nodes = sorted(first, key=lambda n: (n in applied, first[n]))  # roots first
    for root in nodes:
        if root in group:
            continue
        group[root] = first[root]
        todo = [root]
        while todo:
            for child in sorted(children.get(todo.pop(), ())):
                if child not in group:
                    group[child] = first[root]
                    todo.append(child)
    return [dataclasses.replace(e, group=group[node(e)]) for e in entries]


def _non_resources(repo: Repo, entries: list[EntryPoint]) -> Iterable[Skipped]:
    """Files that are not resources and why: tool configuration, chart metadata, Helm
    values an agent or kustomize references, kustomize configurations and openapi files."""
    values: dict[str, str] = {}
    for entry in entries:
        for item in (entry, *entry.parts):
            helm = item.build.helm
            for file in helm.value_files if helm else ():
                values.setdefault(file, f"Helm values of {entry.name}")
            for file in item.inputs:
                if file.endswith(MANIFEST) and item.unrenderable and file != item.defined_in:
                    values.setdefault(file, f"Helm values of {entry.name}")
    for obj in repo.of_kind("helm.toolkit.fluxcd.io/", "HelmRelease"):
        chart = obj.spec.get("chart")
        spec = chart.get("spec") if isinstance(chart, dict) else None
        if isinstance(spec, dict):
            base = str(spec.get("chart") or ".")
            for file in listed(spec.get("valuesFiles")):
                path = posixpath.normpath(posixpath.join(base, str(file))).removeprefix("./")
                values.setdefault(path, f"Helm values of HelmRelease {obj.name}")
    for folder, doc in repo.kustomizations.items():
        for key, what in (("configurations", "kustomize configuration"), ("openapi", "")):
            refs = doc.get(key)
            items = [refs.get("path")] if isinstance(refs, dict) else listed(refs)
            for ref in items:
                if isinstance(ref, str):
                    path = posixpath.normpath(posixpath.join(folder, ref)).removeprefix("./")
                    values.setdefault(path, what or "kustomize openapi schema")
        for chart in listed(doc.get("helmCharts")):
            if isinstance(chart, dict):
                for key in ("valuesFile",):
                    if isinstance(chart.get(key), str):
                        path = posixpath.normpath(posixpath.join(folder, chart[key]))
                        values.setdefault(path.removeprefix("./"), "Helm values (helmCharts)")
    for path, what in appset.parameter_files(repo):
        values.setdefault(path, what)
    for path in repo.files:
        name = path.rpartition("/")[2]
        if name in TOOL_FILES:
            yield Skipped(path, TOOL_FILES[name])
        elif _helmfile(path):
            yield Skipped(path, "helmfile configuration")
        elif name == CHART_FILE:
            continue  # its chart is an entry point
        elif path in values:
            yield Skipped(path, values[path])
