"""flux-operator: the schemas of its kinds (FluxInstance, ResourceSet,
ResourceSetInputProvider) ship in schemas/written/, written from its documented API; a
repo holding a FluxInstance gets the notification CRDs the operator installs, whose
Alert event sources and Receiver resources also accept the operator's kinds."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable

from gitops_actions.validate import crds, schemas
from gitops_actions.validate.checks import Seen

GROUP = "fluxcd.controlplane.io"
KINDS = ("FluxInstance", "ResourceSet", "ResourceSetInputProvider")
NOTIFICATION = "notification.toolkit.fluxcd.io"
_EXTENDED = (("Alert", "eventSources"), ("Receiver", "resources"))  # kind, list of references


def installs_flux(seen: Iterable[Seen]) -> bool:
    """Whether the resources include a FluxInstance (the operator then installs Flux)."""
    return any(s.resource.kind == "FluxInstance" and s.resource.group == GROUP for s in seen)


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
