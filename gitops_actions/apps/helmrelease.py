"""Flux ``HelmRelease``s whose chart is a folder of this repo, as entry points."""

from __future__ import annotations

from collections.abc import Iterator

from gitops_actions.apps import helmvalues
from gitops_actions.apps.flux import elsewhere
from gitops_actions.apps.model import Build, EntryPoint, Helm
from gitops_actions.apps.objects import CHART_FILE, Repo, normpath
from gitops_actions.yamlread import dump
from gitops_actions.yamlread.shapes import listed, mapping

API = "helm.toolkit.fluxcd.io/"


def entries(repo: Repo, repo_url: str) -> Iterator[EntryPoint | str]:
    """A HelmRelease with ``chart.spec.sourceRef`` a GitRepository of this repo: its chart
    folder, templated with its release name, values files, and values (``valuesFrom``, then
    ``values``); HelmReleases of
    charts from elsewhere (Helm and OCI repositories) are resources, nothing more."""
    ours = elsewhere(repo, repo_url)
    for obj in repo.of_kind(API, "HelmRelease"):
        chart = mapping(mapping(obj.spec.get("chart")).get("spec"))
        ref = mapping(chart.get("sourceRef"))
        if ref.get("kind") != "GitRepository":
            continue
        label = f"{obj.file}: HelmRelease {obj.name}"
        url = ours(str(ref.get("namespace") or obj.namespace), str(ref.get("name")))
        if url:
            yield f"{label}: its chart is in {url}, another repo"
            continue
        path = normpath(".", str(chart.get("chart") or "."))
        if path not in repo.folders or CHART_FILE not in repo.folders[path]:
            yield f"{label}: chart {chart.get('chart')!r} is not a chart folder of the repo"
            continue
        files = tuple(normpath(path, str(f)) for f in listed(chart.get("valuesFiles")))
        composed = helmvalues.compose(repo, obj)
        namespace = str(obj.spec.get("targetNamespace") or obj.namespace)
        name = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
        helm = Helm(
            release=str(obj.spec.get("releaseName") or obj.name),
            value_files=files,
            values=dump.dump(composed.values) if composed.values else "",
        )
        yield EntryPoint(
            name=f"{obj.file}#{name}",
            kind="flux",
            path=path,
            inputs=tuple(sorted({obj.file, path, *files, *composed.files})),
            defined_in=obj.file,
            build=Build(default_namespace=namespace, helm=helm),
            notes=tuple(composed.notes),
            settings=tuple(sorted(composed.files)),
        )
