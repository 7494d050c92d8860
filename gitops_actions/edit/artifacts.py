"""Helm charts and OCI artifacts, matched by repository like images.

- Flux ``OCIRepository``: ``spec.url: oci://REPO`` with ``spec.ref.tag|digest|semver``;
- Argo CD sources: ``repoURL`` (Helm or OCI) + ``chart``, or an ``oci://`` repoURL alone,
  with ``targetRevision``;
- Flux ``HelmRelease`` ``spec.chart.spec.version``, when its ``sourceRef`` is a
  ``HelmRepository`` in the repo whose ``url`` plus the chart name gives REPO (a
  ``spec.chartRef`` to an ``OCIRepository`` is covered by that OCIRepository);
- Kustomize ``helmCharts:`` entries (``repo`` + ``name`` + ``version``).

A semver range (``>=1.0.0``, ``1.x``, ``~1.2``) is left alone, and said so, unless
``force_pin``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

from gitops_actions.edit import semver
from gitops_actions.edit.images import Planner, _resource
from gitops_actions.edit.source import Source, mapping_get, mappings, scalar
from gitops_actions.imageref import ImageRef, normalize

HelmRepos = Mapping[tuple[str, str], str]  # (namespace, name) -> url
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def strip_scheme(url: str) -> str:
    return _SCHEME.sub("", url.strip()).rstrip("/")


def is_range(version: str | None) -> bool:
    """A version constraint rather than one version."""
    if not version or semver.key(version) is not None:
        return False
    return bool(re.search(r"[<>=~^*|,]|\bx\b|\.x\b|\.X\b| - ", version))


def helm_repositories(source: Source) -> dict[tuple[str, str], str]:
    found = {}
    for doc in source.docs:
        if scalar(mapping_get(doc, "kind")) != "HelmRepository":
            continue
        meta = mapping_get(doc, "metadata")
        name, url = scalar(mapping_get(meta, "name")) if meta else None, None
        url = scalar(mapping_get(mapping_get(doc, "spec") or doc, "url"))
        if name and url:
            namespace = scalar(mapping_get(meta, "namespace")) if meta else None
            found[(namespace or "", name)] = url
    return found


class ArtifactPlanner:
    """Adds chart and artifact targets to an image ``Planner``'s hits."""

    def __init__(self, planner: Planner, helm_repos: HelmRepos, *, force_pin: bool) -> None:
        self.p = planner
        self.target = planner.target
        self.helm_repos = helm_repos
        self.force_pin = force_pin

    def matches(self, repository: str | None) -> bool:
        if not repository:
            return False
        try:
            return normalize(repository) == self.target.name
        except ValueError:
            return False

    def plan(self, *, kustomization: bool) -> None:
        for doc in self.p.src.docs:
            kind, label = scalar(mapping_get(doc, "kind")), _resource(doc)
            spec = mapping_get(doc, "spec")
            if kind == "OCIRepository" and isinstance(spec, yaml.MappingNode):
                self._oci_repository(spec, label)
            if kind == "HelmRelease" and isinstance(spec, yaml.MappingNode):
                self._helm_release(doc, spec, label)
            for mapping in mappings(doc):
                self._chart_source(mapping, label)
            if kustomization:
                self._helm_charts(doc)

    def _version(
        self, what: str, node: yaml.Node | None, anchor: yaml.Node, repository: str
    ) -> None:
        """Point a single version field (a tag, or an OCI digest) at the target."""
        old_value = scalar(node)
        new_value = self.target.tag or self.target.digest
        old = ImageRef(
            repository,
            old_value if old_value and not old_value.startswith("sha256:") else None,
            old_value if old_value and old_value.startswith("sha256:") else None,
        )
        new = ImageRef(repository, self.target.tag, None if self.target.tag else self.target.digest)
        if new_value is None:
            return
        if node is None:
            kept = f"{what}: not set, the chart follows its latest version"
            self.p._record(what, anchor, old, old, [], [f"{kept}; left alone"], kept)
            return
        if is_range(old_value) and not self.force_pin:
            kept = f"{what}: {old_value!r} is a semver range"
            self.p._record(
                what, node, old, old, [], [f"{kept}; left alone (--force-pin pins it)"], kept
            )
            return
        self.p._hit(what, node, old, new, [(node, new_value)])

    def _oci_repository(self, spec: yaml.MappingNode, label: str) -> None:
        url = scalar(mapping_get(spec, "url"))
        if not url or not url.startswith("oci://") or not self.matches(strip_scheme(url)):
            return
        ref = mapping_get(spec, "ref")
        what = f"{label}spec.ref"
        repository = strip_scheme(url)
        if not isinstance(ref, yaml.MappingNode):
            return
        old_range = scalar(mapping_get(ref, "semver"))
        old = ImageRef(
            repository, scalar(mapping_get(ref, "tag")), scalar(mapping_get(ref, "digest"))
        )
        if old_range and not self.force_pin:
            kept = f"{what}: semver {old_range!r} is a range"
            self.p._record(
                what, ref, old, old, [], [f"{kept}; left alone (--force-pin pins it)"], kept
            )
            return
        fields: dict[str, str | None] = {"digest": self.target.digest}
        if self.target.tag or old.tag:
            fields["tag"] = self.target.tag or old.tag
        if old_range:
            fields["semver"] = None
        new = ImageRef(repository, fields.get("tag"), self.target.digest)
        self.p._record(what, ref, old, new, self.p.set_fields(ref, fields, what), [])

    def _chart_source(self, mapping: yaml.MappingNode, label: str) -> None:
        url = scalar(mapping_get(mapping, "repoURL"))
        revision = mapping_get(mapping, "targetRevision")
        if not url or revision is None:
            return
        chart = scalar(mapping_get(mapping, "chart"))
        if not chart and not url.startswith("oci://"):
            return  # a git source
        repository = strip_scheme(url) + (f"/{chart}" if chart else "")
        if self.matches(repository):
            self._version(
                f"{label}source {repository} targetRevision", revision, mapping, repository
            )

    def _helm_release(self, doc: yaml.Node, spec: yaml.MappingNode, label: str) -> None:
        chart_spec = mapping_get(mapping_get(spec, "chart") or spec, "spec")
        if not isinstance(chart_spec, yaml.MappingNode):
            return
        chart, ref = scalar(mapping_get(chart_spec, "chart")), mapping_get(chart_spec, "sourceRef")
        if not chart or scalar(mapping_get(ref, "kind") if ref else None) != "HelmRepository":
            return
        name = scalar(mapping_get(ref, "name")) if ref else None
        meta = mapping_get(doc, "metadata")
        namespace = scalar(mapping_get(ref, "namespace")) if ref else None
        namespace = namespace or (scalar(mapping_get(meta, "namespace")) if meta else None) or ""
        url = self.helm_repos.get((namespace, name or ""))
        if url is None:
            candidates = [u for (_, n), u in self.helm_repos.items() if n == name]
            url = candidates[0] if len(candidates) == 1 else None
        if url is None:
            return
        repository = f"{strip_scheme(url)}/{chart}"
        if self.matches(repository):
            self._version(
                f"{label}spec.chart.spec.version",
                mapping_get(chart_spec, "version"),
                chart_spec,
                repository,
            )

    def _helm_charts(self, doc: yaml.Node) -> None:
        charts = mapping_get(doc, "helmCharts")
        if not isinstance(charts, yaml.SequenceNode):
            return
        for entry in charts.value:
            repo, name = scalar(mapping_get(entry, "repo")), scalar(mapping_get(entry, "name"))
            if not repo or not name:
                continue
            repository = f"{strip_scheme(repo)}/{name}"
            if self.matches(repository):
                self._version(
                    f"kustomization helmCharts {name}",
                    mapping_get(entry, "version"),
                    entry,
                    repository,
                )
