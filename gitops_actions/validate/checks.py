"""Checks over resources rather than documents: removed or deprecated APIs, duplicates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from gitops_actions.validate.findings import (
    DEPRECATED_API,
    DUPLICATE_RESOURCE,
    REMOVED_API,
    Finding,
    Resource,
)


@dataclass(frozen=True)
class Lifecycle:
    deprecated: tuple[int, int]
    removed: tuple[int, int] | None
    replacement: str  # "" when the API has no successor


def _api(deprecated: str, removed: str | None, replacement: str) -> Lifecycle:
    def version(text: str) -> tuple[int, int]:
        major, minor = text.split(".")
        return int(major), int(minor)

    return Lifecycle(version(deprecated), version(removed) if removed else None, replacement)


# (apiVersion, kind) -> lifecycle, from the Kubernetes deprecated API migration guide
_WORKLOADS = ("Deployment", "DaemonSet", "ReplicaSet", "StatefulSet")
_RBAC = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
_STORAGE = ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment")
_FLOW = ("FlowSchema", "PriorityLevelConfiguration")
LIFECYCLES: dict[tuple[str, str], Lifecycle] = {
    **{("extensions/v1beta1", k): _api("1.8", "1.16", "apps/v1") for k in _WORKLOADS[:3]},
    **{("apps/v1beta1", k): _api("1.9", "1.16", "apps/v1") for k in ("Deployment", "StatefulSet")},
    **{("apps/v1beta2", k): _api("1.9", "1.16", "apps/v1") for k in _WORKLOADS},
    ("extensions/v1beta1", "NetworkPolicy"): _api("1.9", "1.16", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "PodSecurityPolicy"): _api("1.11", "1.16", "policy/v1beta1"),
    ("extensions/v1beta1", "Ingress"): _api("1.14", "1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "Ingress"): _api("1.19", "1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "IngressClass"): _api("1.19", "1.22", "networking.k8s.io/v1"),
    **{
        ("admissionregistration.k8s.io/v1beta1", k): _api(
            "1.16", "1.22", "admissionregistration.k8s.io/v1"
        )
        for k in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
    },
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"): _api(
        "1.16", "1.22", "apiextensions.k8s.io/v1"
    ),
    ("apiregistration.k8s.io/v1beta1", "APIService"): _api(
        "1.19", "1.22", "apiregistration.k8s.io/v1"
    ),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"): _api(
        "1.19", "1.22", "certificates.k8s.io/v1"
    ),
    ("coordination.k8s.io/v1beta1", "Lease"): _api("1.19", "1.22", "coordination.k8s.io/v1"),
    **{
        ("rbac.authorization.k8s.io/v1beta1", k): _api(
            "1.17", "1.22", "rbac.authorization.k8s.io/v1"
        )
        for k in _RBAC
    },
    ("scheduling.k8s.io/v1beta1", "PriorityClass"): _api("1.14", "1.22", "scheduling.k8s.io/v1"),
    **{("storage.k8s.io/v1beta1", k): _api("1.19", "1.22", "storage.k8s.io/v1") for k in _STORAGE},
    ("batch/v1beta1", "CronJob"): _api("1.21", "1.25", "batch/v1"),
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): _api("1.21", "1.25", "discovery.k8s.io/v1"),
    ("events.k8s.io/v1beta1", "Event"): _api("1.19", "1.25", "events.k8s.io/v1"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): _api("1.22", "1.25", "autoscaling/v2"),
    ("policy/v1beta1", "PodDisruptionBudget"): _api("1.21", "1.25", "policy/v1"),
    ("policy/v1beta1", "PodSecurityPolicy"): _api("1.21", "1.25", ""),
    ("node.k8s.io/v1beta1", "RuntimeClass"): _api("1.20", "1.25", "node.k8s.io/v1"),
    **{
        ("flowcontrol.apiserver.k8s.io/v1beta1", k): _api(
            "1.23", "1.26", "flowcontrol.apiserver.k8s.io/v1"
        )
        for k in _FLOW
    },
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): _api("1.23", "1.26", "autoscaling/v2"),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): _api("1.24", "1.27", "storage.k8s.io/v1"),
    **{
        ("flowcontrol.apiserver.k8s.io/v1beta2", k): _api(
            "1.26", "1.29", "flowcontrol.apiserver.k8s.io/v1"
        )
        for k in _FLOW
    },
    **{
        ("flowcontrol.apiserver.k8s.io/v1beta3", k): _api(
            "1.29", "1.32", "flowcontrol.apiserver.k8s.io/v1"
        )
        for k in _FLOW
    },
    ("v1", "ComponentStatus"): _api("1.19", None, ""),
    ("v1", "Endpoints"): _api("1.33", None, "discovery.k8s.io/v1 EndpointSlice"),
}


def lifecycle_finding(
    resource: Resource, version: str, where: tuple[str, int, int], document: int, origin: str = ""
) -> Finding | None:
    """A finding when ``resource``'s apiVersion is removed (error) or deprecated (warning)
    in Kubernetes ``version`` (``1.32``)."""
    life = LIFECYCLES.get((resource.api_version, resource.kind))
    if life is None:
        return None
    major, minor = version.split(".")
    target = (int(major), int(minor))
    if target < life.deprecated:
        return None
    use = f"; use {life.replacement}" if life.replacement else "; it has no replacement"
    removed = life.removed is not None and target >= life.removed
    if removed and life.removed is not None:
        verb, check = f"was removed in Kubernetes {_v(life.removed)}", REMOVED_API
    else:
        verb = f"is deprecated since Kubernetes {_v(life.deprecated)}"
        if life.removed is not None:
            verb += f" and removed in {_v(life.removed)}"
        check = DEPRECATED_API
    file, line, column = where
    return Finding(
        file,
        line,
        column,
        check,
        f"{resource.api_version} {resource.kind} {verb}{use}",
        "error" if removed else "warning",
        document,
        resource,
        ".apiVersion",
        origin,
        ("apiVersion",),
    )


def _v(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


class Seen(NamedTuple):
    """A resource where it was found, for the duplicate check (cheap to pickle)."""

    resource: Resource
    file: str
    line: int
    column: int
    document: int
    unit: str  # resources in different units (kustomizations, charts) may repeat
    origin: str = ""
    prefix: tuple[str | int, ...] = ()  # where the resource sits in its document (List items)


def duplicates(seen: Iterable[Seen]) -> list[Finding]:
    """One finding per resource that repeats another in the same unit (same group, kind,
    namespace and name); it points at the repeat and names the first."""
    first: dict[tuple[str, str, str, str, str], Seen] = {}
    found = []
    for item in sorted(seen, key=lambda s: (s.unit, s.file, s.document, s.line)):
        r = item.resource
        if not r.name:
            continue
        key = (item.unit, r.group, r.kind, r.namespace, r.name)
        earlier = first.setdefault(key, item)
        if earlier is item:
            continue
        found.append(
            Finding(
                item.file,
                item.line,
                item.column,
                DUPLICATE_RESOURCE,
                f"{r.kind} {r.namespace + '/' if r.namespace else ''}{r.name} is defined again "
                f"(first in {earlier.file}:{earlier.line})",
                "error",
                item.document,
                r,
                ".metadata.name",
                item.origin,
                (*item.prefix, "metadata", "name"),
            )
        )
    return found
