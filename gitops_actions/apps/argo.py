"""Argo CD ``Application``s (and those ``ApplicationSet``s generate, see ``appset``) whose
source is this repo, as entry points."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

from gitops_actions import imageref
from gitops_actions.apps import appset
from gitops_actions.apps.model import Build, EntryPoint, Helm
from gitops_actions.apps.objects import CHART_FILE, Object, Repo, normpath
from gitops_actions.apps.source import same_repo
from gitops_actions.errors import UsageError
from gitops_actions.yamlread import dump
from gitops_actions.yamlread.shapes import listed, mapping

API = "argoproj.io/"


def entries(repo: Repo, repo_url: str) -> Iterator[EntryPoint | str]:
    for obj in repo.of_kind(API, "Application"):
        yield from _application(repo, repo_url, obj.file, obj.value)
    for obj in repo.of_kind(API, "ApplicationSet"):
        for app in appset.generate(repo, obj):
            if isinstance(app, str):
                yield app
            else:
                yield from _application(repo, repo_url, obj.file, app)


def _application(
    repo: Repo, repo_url: str, file: str, value: dict[str, Any]
) -> Iterator[EntryPoint | str]:
    app = Object(file, value)
    spec = app.spec
    label = f"{file}: Application {app.name}"
    sources = [s for s in [spec.get("source"), *listed(spec.get("sources"))] if isinstance(s, dict)]
    ours = [s for s in sources if _ours(repo, repo_url, s)]
    if not ours:
        urls = ", ".join(sorted({str(s.get("repoURL")) for s in sources})) or "no source"
        yield f"{label}: its source is another repo ({urls})"
        return
    destination = mapping(spec.get("destination"))
    namespace = str(destination.get("namespace") or "")
    cluster = _cluster(destination)
    refs = {
        str(s["ref"]): normpath(".", str(s.get("path") or "."))
        for s in ours
        if isinstance(s.get("ref"), str)
    }
    name = f"{app.namespace}/{app.name}" if app.namespace else app.name
    parts: list[EntryPoint] = []
    notes: list[str] = []
    for source in sources:
        if source.get("ref") and not source.get("path") and not source.get("chart"):
            continue  # only provides value files to the others
        if source in ours and source.get("path") is not None:
            part = _part(repo, file, name, source, namespace, refs)
        elif source.get("ref") and source in ours:
            continue
        else:
            what = source.get("chart") or source.get("path") or ""
            part = EntryPoint(
                name=f"{file}#{name}",
                kind="argocd",
                path=".",
                inputs=(file,),
                defined_in=file,
                unrenderable=f"{what} from {source.get('repoURL')} is not in this repo",
            )
            part = _with_values(part, source, refs)
        parts.append(part)
    if not parts:
        yield f"{label}: no source with a path in this repo"
        return
    if len(parts) == 1:
        yield dataclasses.replace(parts[0], cluster=cluster)
        return
    inputs = sorted({i for p in parts for i in p.inputs})
    notes = [p.unrenderable for p in parts if p.unrenderable]
    yield EntryPoint(
        name=f"{file}#{name}",
        kind="argocd",
        path=parts[0].path,
        inputs=tuple(inputs),
        defined_in=file,
        parts=tuple(parts),
        notes=tuple(notes),
        cluster=cluster,
    )


def _cluster(destination: dict[str, Any]) -> str:
    """The cluster an Application deploys to, by its server or its name (the local
    cluster however it is named)."""
    server = str(destination.get("server") or "").rstrip("/")
    name = str(destination.get("name") or "")
    if server == "https://kubernetes.default.svc" or (not server and name == "in-cluster"):
        return "in-cluster"
    return server or name or "in-cluster"


def _ours(repo: Repo, repo_url: str, source: dict[str, Any]) -> bool:
    if source.get("chart"):
        return False
    url = str(source.get("repoURL") or "")
    if repo_url and url:
        return same_repo(url, repo_url)
    path = normpath(".", str(source.get("path") or "."))
    return repo.is_dir(path)  # no URL to compare: this repo if the path is here


def _part(
    repo: Repo,
    file: str,
    name: str,
    source: dict[str, Any],
    namespace: str,
    refs: dict[str, str],
) -> EntryPoint:
    path = normpath(".", str(source.get("path") or "."))
    inputs: set[str] = {file}
    helm = None
    merged: dict[str, Any] = {}
    generated = False
    directory = mapping(source.get("directory"))
    settings: tuple[str, ...] = ()
    if path in repo.charts or (path in repo.folders and CHART_FILE in repo.folders[path]):
        helm = _helm(source, path, refs, name)
        inputs |= {path, *helm.value_files}
        settings = tuple(f for f in helm.value_files if not f.startswith(path + "/"))
    elif path in repo.kustomizations:
        inputs |= repo.closure(path)
        merged = _kustomize(source.get("kustomize"))
        for component in listed(merged.get("components")):
            inputs |= repo.closure(normpath(path, str(component)))
    else:
        generated = True
        inputs.add(path)
    return EntryPoint(
        name=f"{file}#{name}",
        kind="argocd",
        path=path,
        inputs=tuple(sorted(inputs)),
        defined_in=file,
        build=Build(
            generated=generated,
            recurse=bool(directory.get("recurse", False)),
            include=str(directory.get("include") or ""),
            exclude=str(directory.get("exclude") or ""),
            kustomize=merged,
            default_namespace=namespace,
            helm=helm,
        ),
        settings=settings,
    )


def _with_values(part: EntryPoint, source: dict[str, Any], refs: dict[str, str]) -> EntryPoint:
    helm = mapping(source.get("helm"))
    files = [_value_file(str(f), ".", refs) for f in listed(helm.get("valueFiles"))]
    kept = tuple(f for f in files if f)
    return dataclasses.replace(part, inputs=tuple(sorted({*part.inputs, *kept})), settings=kept)


def _value_file(text: str, path: str, refs: dict[str, str]) -> str:
    if text.startswith("$"):
        ref, _, rest = text[1:].partition("/")
        return normpath(refs[ref], rest) if ref in refs else ""
    if "://" in text:
        return ""
    return normpath(path, text)


def _helm(source: dict[str, Any], path: str, refs: dict[str, str], name: str) -> Helm:
    spec = mapping(source.get("helm"))
    files = [_value_file(str(f), path, refs) for f in listed(spec.get("valueFiles"))]
    values = spec.get("valuesObject") or spec.get("values") or ""
    if not isinstance(values, str):
        values = dump.dump(values)
    parameters = tuple(
        (str(p.get("name")), str(p.get("value")))
        for p in listed(spec.get("parameters"))
        if isinstance(p, dict) and p.get("name")
    )
    release = str(spec.get("releaseName") or name.rpartition("/")[2])
    return Helm(release, tuple(f for f in files if f), values, parameters)


def _kustomize(options: Any) -> dict[str, Any]:
    """Argo CD ``source.kustomize`` as the kustomization fields ``kustomize edit`` sets."""
    if not isinstance(options, dict):
        return {}
    merged: dict[str, Any] = {}
    images = [_image(str(i)) for i in listed(options.get("images"))]
    if images:
        merged["images"] = images
    for key in ("namePrefix", "nameSuffix", "namespace"):
        if options.get(key):
            merged[key] = str(options[key])
    for key in ("commonLabels", "commonAnnotations"):
        if isinstance(options.get(key), dict) and options[key]:
            merged[key] = {str(k): str(v) for k, v in options[key].items()}
    for key in ("patches", "components", "replicas"):
        if listed(options.get(key)):
            merged[key] = copy.deepcopy(options[key])
    return merged


def _image(text: str) -> dict[str, str]:
    """``[old=]new[:tag][@digest]`` as a kustomize images entry."""
    old, sep, new = text.partition("=")
    try:
        ref = imageref.parse(new if sep else text)
    except UsageError:
        return {"name": old or text}  # kustomize says what is wrong with it
    entry = {"name": old or ref.repository}
    if old and ref.repository != old:
        entry["newName"] = ref.repository
    if ref.tag:
        entry["newTag"] = ref.tag
    if ref.digest:
        entry["digest"] = ref.digest
    return entry
