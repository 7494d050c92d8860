"""flux-operator: the schemas of its kinds (FluxInstance, ResourceSet,
ResourceSetInputProvider) ship in schemas/written/, written from its documented API; a
repo holding a FluxInstance (or installing one with the operator's ``flux-instance``
chart) gets the notification CRDs the operator installs, whose Alert event sources and
Receiver resources also accept the operator's kinds."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from gitops_actions.validate import crds, schemas
from gitops_actions.validate.checks import Seen
from gitops_actions.yamlread.shapes import listed

GROUP = "fluxcd.controlplane.io"
KINDS = ("FluxInstance", "ResourceSet", "ResourceSetInputProvider")
NOTIFICATION = "notification.toolkit.fluxcd.io"
_EXTENDED = (("Alert", "eventSources"), ("Receiver", "resources"))  # kind, list of references
INSTANCE_CHART = "flux-instance"  # the operator's chart that makes the FluxInstance


def installs_flux(seen: Iterable[Seen]) -> bool:
    """Whether the resources include a FluxInstance (the operator then installs Flux)."""
    return any(s.resource.kind == "FluxInstance" and s.resource.group == GROUP for s in seen)


def installs_instance_chart(resource: Mapping[str, Any]) -> bool:
    """Whether ``resource`` installs the ``flux-instance`` chart, so a FluxInstance
    the repo does not hold as a file: a Flux OCIRepository of the chart or a HelmRelease
    or HelmChart naming it, or an Argo CD Application with it as a source."""
    spec, kind = resource.get("spec"), resource.get("kind")
    if not isinstance(spec, Mapping):
        return False
    if kind == "OCIRepository":
        return str(spec.get("url") or "").rstrip("/").endswith(f"/{INSTANCE_CHART}")
    if kind == "HelmRelease":
        chart = spec.get("chart")
        spec = chart.get("spec") if isinstance(chart, Mapping) else None
        return isinstance(spec, Mapping) and spec.get("chart") == INSTANCE_CHART
    if kind == "HelmChart":
        return spec.get("chart") == INSTANCE_CHART
    if kind == "Application":
        sources = [spec.get("source"), *listed(spec.get("sources"))]
        return any(isinstance(s, Mapping) and s.get("chart") == INSTANCE_CHART for s in sources)
    return False


def notification_kinds() -> tuple[crds.CustomKind, ...]:
    """Alert and Receiver as a FluxInstance installs them: the operator's kinds added to
    the kinds their references may name."""
    out = []
    for kind, field in _EXTENDED:
        for bundled in schemas.bundled_kinds(NOTIFICATION, kind):
            openapi = copy.deepcopy(dict(bundled.openapi or {}))
            spec = openapi.get("properties", {}).get("spec", {}).get("properties", {})
            item = spec.get(field, {}).get("items", {}).get("properties", {}).get("kind", {})
            if isinstance(item.get("enum"), list):
                item["enum"] = [*item["enum"], *(k for k in KINDS if k not in item["enum"])]
            out.append(
                dataclasses.replace(
                    bundled,
                    openapi=openapi,
                    source=f"{bundled.source}, as flux-operator extends it",
                )
            )
    return tuple(out)
