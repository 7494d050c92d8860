"""What validate renders: the application model's entry points under the given paths, and
kustomizations and charts asked for by name that no entry point renders.

Each rendered entry point becomes a source whose unit is the agent tree applying it, so
duplicates count within one entry point and across entry points one agent applies both of.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_actions import apps
from gitops_actions.apps import flux
from gitops_actions.apps.build import buildable, directory_files
from gitops_actions.apps.model import EntryPoint, Kind
from gitops_actions.apps.objects import excluded_by
from gitops_actions.diff.tree import DiskTree
from gitops_actions.validate import render
from gitops_actions.validate.findings import RENDER, SCHEMA, Finding, Skipped
from gitops_actions.validate.inputs import (
    CHART_FILE,
    KUSTOMIZATION_FILES,
    Inputs,
    kustomization_file,
)
from gitops_actions.yamlread import loader


@dataclass
class Plan:
    root: Path
    model: apps.Model
    entries: list[EntryPoint] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # validated as plain files, as given
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def root_of(paths: Sequence[str]) -> Path:
    """The repo the paths are in: the working directory when they all are under it, else
    the top of the git checkout holding them, else the folder they share."""
    cwd = Path.cwd().resolve()
    resolved = [Path(p).resolve() for p in paths]
    if all(p == cwd or p.is_relative_to(cwd) for p in resolved):
        return cwd
    folders = [p if p.is_dir() else p.parent for p in resolved]
    common = Path(os.path.commonpath(folders))
    for candidate in (common, *common.parents):
        if (candidate / ".git").exists():
            return candidate
    return common


def plan(
    paths: Sequence[str], found: Inputs, *, repo_url: str = "", exclude: Sequence[str] = ()
) -> Plan:
    root = root_of(paths)
    model = apps.discover(
        DiskTree(root), repo_url=repo_url or apps.remote_url(root), exclude=exclude
    )
    given = [_rel(root, p) for p in paths]
    chosen = [e for e in model.entries if e.kind != "plain" and _selected(e, given)]
    result = Plan(root, model, chosen)
    every = {i for e in model.entries if e.kind != "plain" for i in e.rendered_inputs}
    built = {os.path.dirname(i) or "." for i in every if i.endswith(KUSTOMIZATION_FILES)}
    paths_of = {e.path for e in chosen if e.kind != "plain"}
    skipped = {s.path: s.reason for s in model.skipped}
    for text in found.files:
        rel = _rel(root, text)
        if rel in skipped:
            result.skipped.append(Skipped(text, skipped[rel]))
        elif any(excluded_by(rel, pattern) for pattern in exclude):
            result.skipped.append(Skipped(text, "excluded by --exclude"))
        elif not _covered(rel, every):
            result.files.append(text)
    for folder in [*found.kustomizations, *found.charts]:
        rel = _rel(root, str(folder))
        explicit = rel in given
        if rel in paths_of or (not explicit and (rel in built or _covered(rel, every))):
            continue
        if any(excluded_by(rel, pattern) for pattern in exclude):
            continue
        chart = (folder / CHART_FILE).is_file()
        if not chart and render._is_component(kustomization_file(folder) or folder):
            result.skipped.append(
                Skipped(
                    str(folder),
                    "a kustomize Component is rendered by the kustomizations that use it",
                )
            )
            continue
        kind: Kind = "helm" if chart else "kustomize"
        result.entries.append(EntryPoint(rel, kind, rel, (rel,), group=rel))
    result.notes = [n for n in model.notes if any(_inside(n.partition(":")[0], g) for g in given)]
    return result


def _selected(entry: EntryPoint, given: list[str]) -> bool:
    """Under the given paths: the entry point's path, or the object defining it."""
    items = [entry.path, *(p.path for p in entry.parts)]
    if entry.defined_in:
        items.append(entry.defined_in)
    return any(_inside(i, g) for g in given for i in items)


def _covered(path: str, items: set[str]) -> bool:
    return any(_inside(path, i) for i in items)


def _inside(path: str, folder: str) -> bool:
    return folder == "." or path == folder or path.startswith(folder + "/")


def _rel(root: Path, text: str) -> str:
    rel = os.path.relpath(Path(text).resolve(), root).replace(os.sep, "/")
    return "." if rel in ("", ".") else rel


def unit(entry: EntryPoint) -> str:
    """What resources may not repeat within: the entry point's group (one Flux tree, one
    app-of-apps), on one cluster (an app-of-apps may deploy to several)."""
    return f"{entry.group} on {entry.cluster}" if entry.cluster else entry.group


def label(entry: EntryPoint) -> str:
    return f"{entry.kind} {entry.name}"


def render_all(
    root: Path,
    entries: list[EntryPoint],
    scratch: Path,
    env: Mapping[str, str] | None,
    workers: int,
) -> list[apps.Rendered]:
    jobs = [e for e in entries if e.kind != "plain" and not directory(e)]
    here = Path.cwd().resolve()
    if root == here or root.is_relative_to(here):
        root = Path(os.path.relpath(root, here))  # tools are shown short paths
    if len(jobs) <= 1:
        return [apps.render(root, e, scratch, env) for e in jobs]
    with ThreadPoolExecutor(max_workers=max(2, workers * 2)) as pool:
        return list(pool.map(lambda e: apps.render(root, e, scratch, env), jobs))


def directory(entry: EntryPoint) -> bool:
    """An Argo CD directory of plain files: validated file by file."""
    return entry.kind == "argocd" and entry.build.generated and not entry.parts


def plain_sources(root: Path, entry: EntryPoint) -> list[str]:
    """The files of a directory entry point, as paths from the working directory."""
    if entry.kind == "plain":
        return [render.shown_path(root / f) for f in entry.files]
    return [render.shown_path(p) for p in directory_files(root, entry)]


def shown_file(root: Path, entry: EntryPoint) -> str:
    """The file findings about an entry point fall back to: the object defining it, its
    kustomization, its chart."""
    if entry.defined_in:
        return render.shown_path(root / entry.defined_in)
    folder = root / entry.path
    if entry.kind == "helm":
        return render.shown_path(folder / CHART_FILE)
    return render.shown_path(kustomization_file(folder) or folder / "kustomization.yaml")


def shown_entry(root: Path, entry: EntryPoint) -> str:
    if entry.defined_in:
        return f"{render.shown_path(root / entry.defined_in)}#{entry.name.partition('#')[2]}"
    return render.shown_path(root / entry.path)


@dataclass(frozen=True)
class Traced:
    """A rendered entry point, as tracing needs it."""

    item: apps.Rendered
    file: str
    label: str

    def as_render(self, root: Path, scratch: Path) -> render.Rendered:
        """What tracing re-renders: the folder built, or a mirror holding what the agent
        builds there."""
        tool = "helm" if self.item.renderer == "helm" else "kustomize"
        folder = self.item.folder or Path(self.file).parent
        if self.item.kustomization is not None:
            folder = buildable(root, self.item.entry, self.item.kustomization, scratch)
        return render.Rendered(folder, tool, self.file, self.item.text)


def unresolved_dropped(
    findings: list[Finding], traces: dict[tuple[str, str], Traced]
) -> list[Finding]:
    """Schema findings about a value holding a variable the repo gives no value to are
    not findings: the cluster gives it (the entry point's notes say which)."""
    kept = []
    documents: dict[tuple[str, str], list[object]] = {}
    for finding in findings:
        trace = traces.get((finding.file, finding.origin))
        if trace is None or not trace.item.unresolved or finding.check != SCHEMA:
            kept.append(finding)
            continue
        key = (finding.file, finding.origin)
        if key not in documents:
            documents[key] = [d.value for d in loader.documents(trace.item.text or "")]
        docs = documents[key]
        value = docs[finding.document - 1] if 0 < finding.document <= len(docs) else None
        if "${" not in json.dumps(_at(value, finding.parts)):
            kept.append(finding)
    return kept


def _at(value: Any, parts: Sequence[str | int]) -> Any:
    """The value at ``parts`` (the deepest part that exists)."""
    for part in parts:
        if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
            continue
        if not isinstance(value, dict) or part not in value:
            break
        value = value[part]
    return value


def traced(
    findings: list[Finding],
    traces: dict[tuple[str, str], Traced],
    env: Mapping[str, str] | None,
    root: Path,
    scratch: Path,
    workers: int = 1,
) -> list[Finding]:
    """Findings about rendered output, moved to the files that produced them (each entry
    point's traced by a render of its own, ``workers`` at a time)."""
    if not traces:
        return findings
    mine: dict[tuple[str, str], list[Finding]] = {}
    out = []
    for finding in findings:
        key = (finding.file, finding.origin)
        if key in traces and finding.check != RENDER:
            mine.setdefault(key, []).append(finding)
        else:
            out.append(finding)

    def one(key: tuple[str, str]) -> list[Finding]:
        trace = traces[key]
        values = trace.item.entry.build.substitute

        def rename(text: str) -> str:
            return flux.substitute(text, values)[0] if values is not None else text

        return render.trace(trace.as_render(root, scratch), mine[key], env, rename=rename)

    if len(mine) <= 1 or workers <= 1:
        done = [one(key) for key in mine]
    else:  # each traces with a kustomize or helm process: threads wait on them
        with ThreadPoolExecutor(max_workers=max(2, workers * 2)) as pool:
            done = list(pool.map(one, mine))
    for found in done:
        out.extend(found)
    return out


def once(findings: list[Finding]) -> list[Finding]:
    """One finding per file:line:column and rule, naming every entry point behind it."""
    merged: dict[tuple[str, int, int, str, str], Finding] = {}
    origins: dict[tuple[str, int, int, str, str], list[str]] = {}
    for finding in findings:
        key = (finding.file, finding.line, finding.column, finding.check, finding.message)
        merged.setdefault(key, finding)
        if finding.origin and finding.origin not in origins.setdefault(key, []):
            origins[key].append(finding.origin)
    return [
        dataclasses.replace(f, origin=", ".join(sorted(origins.get(k, []))))
        for k, f in merged.items()
    ]


def coverage(plan: Plan, rendered: list[apps.Rendered], resources: int) -> dict[str, Any]:
    """What was validated and what was not, and why."""
    kinds: dict[str, int] = {}
    for entry in plan.entries:
        kinds[entry.kind] = kinds.get(entry.kind, 0) + 1
    notes = list(plan.notes)
    for item in rendered:
        if item.unresolved:
            notes.append(
                f"{item.entry.name}: no value in the repo for {', '.join(item.unresolved)} "
                "(left to the cluster; not checked)"
            )
        notes += [f"{item.entry.name}: {n}" for n in item.entry.notes]
    return {
        "entryPoints": kinds,
        "rendered": sum(1 for r in rendered if r.text is not None),
        "resources": resources,
        "plainFiles": len(plan.files),
        "skippedFiles": len(plan.skipped),
        "notes": notes,
    }
