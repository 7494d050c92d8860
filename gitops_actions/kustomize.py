"""Kustomize: which files a kustomization is built from, and an in-process build of the
common overlay subset.

The subset is what most overlays are: ``resources``/``bases`` (files and kustomization
directories), ``namespace``, ``images`` and ``replicas``. Anything else raises
``Unsupported`` and the caller runs the real ``kustomize``/``kubectl kustomize``; tests
hold this builder's output equal to kubectl's, scalar for scalar: files are read with the
project's one YAML reading (``yamlread``), resolving scalars as kustomize does (``on``
stays a string, a date becomes RFC 3339 text), so that its values equal kustomize's
output read as the API server reads it. Building in-process saves the ~60 ms a kustomize
process costs, which is most of rendering a thousand applications.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitops_actions.errors import InputError
from gitops_actions.paths import Bounds
from gitops_actions.yamlread.loader import read_values
from gitops_actions.yamlread.shapes import listed

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED = {"apiVersion", "kind", "resources", "bases", "namespace", "images", "replicas"}
_LISTS = ("resources", "bases", "images", "replicas")  # of SUPPORTED, what kustomize reads as lists
_REF_KEYS = (
    "resources",
    "bases",
    "components",
    "crds",
    "patchesStrategicMerge",
    "transformers",
    "generators",
    "configurations",
    "validators",
)
# kinds a namespace does not apply to
CLUSTER_SCOPED = {
    "APIService",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
}
# kinds whose cross-namespace references kustomize rewrites: left to the real kustomize
_REFERENCING = {
    "RoleBinding",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
    "CustomResourceDefinition",
}


_SCALABLE = {"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"}


# fields that change what a kustomization renders, not which files it is built from
RENDER_ONLY = frozenset(
    {
        "images",
        "namespace",
        "replicas",
        "namePrefix",
        "nameSuffix",
        "commonLabels",
        "commonAnnotations",
        "labels",
    }
)


def same_inputs(old: bytes, new: bytes, path: str) -> bool:
    """Two versions of a kustomization file that differ only in ``RENDER_ONLY`` fields (an
    image bump): built from the same files, of the same kind."""
    try:
        before, after = (read_values(data, path, kustomize=True)[:1] for data in (old, new))
    except InputError:
        return False
    if not before or not after or not isinstance(before[0], dict):
        return False
    if not isinstance(after[0], dict):
        return False
    return _structure(before[0]) == _structure(after[0])


def _structure(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in RENDER_ONLY}


class Unsupported(Exception):
    """The kustomization uses something outside the in-process subset."""


class Refused(Exception):
    """The kustomization refers to a file through a symlink that leads out of the tree:
    no renderer may read it."""


def references(doc: dict[str, Any]) -> Iterator[str]:
    """Every local file or directory a kustomization reads."""
    for key in _REF_KEYS:
        for item in listed(doc.get(key)):
            if isinstance(item, str) and "://" not in item and not item.startswith("git@"):
                yield item
    for key in ("patches", "patchesJson6902"):
        for patch in listed(doc.get(key)):
            if isinstance(patch, dict) and isinstance(patch.get("path"), str):
                yield patch["path"]
    generators = listed(doc.get("configMapGenerator")) + listed(doc.get("secretGenerator"))
    for generator in generators:
        if not isinstance(generator, dict):
            continue
        for entry in listed(generator.get("files")):
            yield str(entry).partition("=")[2] or str(entry)
        for entry in listed(generator.get("envs")):
            yield str(entry)
        if isinstance(generator.get("env"), str) and generator["env"]:
            yield generator["env"]
    for replacement in listed(doc.get("replacements")):  # a file of replacements, or inline
        if isinstance(replacement, dict) and isinstance(replacement.get("path"), str):
            yield replacement["path"]
    openapi = doc.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield openapi["path"]
    for chart in listed(doc.get("helmCharts")):
        if not isinstance(chart, dict):
            continue
        if isinstance(chart.get("valuesFile"), str):
            yield chart["valuesFile"]
        for extra in listed(chart.get("additionalValuesFiles")):
            if isinstance(extra, str):
                yield extra


def _kustomization(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    for name in KUSTOMIZATION_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            docs = _values(path)
            return docs[0] if docs and isinstance(docs[0], dict) else {}
    return None


class _Memo:
    """Files' values by content, so that a base many overlays share is parsed once per
    process; each reader gets its own copy to change. Bounded by the text it holds."""

    LIMIT = 64 * 2**20

    def __init__(self) -> None:
        self.values: dict[bytes, list[Any]] = {}
        self.size = 0

    def read(self, path: str) -> list[Any]:
        with open(path, "rb") as file:
            data = file.read()
        found = self.values.get(data)
        if found is None:
            found = read_values(data, str(path), kustomize=True)
            if self.size + len(data) > self.LIMIT:
                self.values.clear()
                self.size = 0
            self.values[data] = found
            self.size += len(data)
        copied: list[Any] = _copy(found)
        return copied


def _copy(value: Any) -> Any:
    """A copy of parsed YAML (maps, lists and immutable scalars), faster than deepcopy."""
    if value.__class__ is dict:
        return {k: _copy(v) for k, v in value.items()}
    if value.__class__ is list:
        return [_copy(v) for v in value]
    return value


_values = _Memo().read


def build(
    folder: Path,
    root: Path,
    kustomization: dict[str, Any] | None = None,
    *,
    restricted: bool | None = None,
) -> list[dict[str, Any]]:
    """The resources ``kustomize build folder`` would output (in no particular order).
    ``root`` bounds where files may be read from; ``kustomization`` stands for the
    folder's own (one an agent generates or extends). ``restricted`` (by default: when the
    kustomization is the folder's own) refuses resource files outside ``folder``, as
    kustomize's load restrictor does."""
    top = os.fspath(root)
    return _build(os.fspath(folder), top, kustomization, restricted, Bounds(top), ())


def _build(
    folder: str,
    root: str,
    kustomization: dict[str, Any] | None,
    restricted: bool | None,
    bounds: Bounds,
    within: tuple[str, ...],
) -> list[dict[str, Any]]:
    if restricted is None:
        restricted = kustomization is None
    if folder in within:  # kustomize's own error names the cycle
        raise Unsupported(f"{folder}: a cycle of kustomizations")
    within += (folder,)
    doc = kustomization if kustomization is not None else _kustomization(folder)
    if doc is None:
        raise Unsupported(f"{folder}: no kustomization")
    extra = set(doc) - SUPPORTED
    if extra:
        raise Unsupported(f"{folder}: {', '.join(sorted(extra))}")
    misshapen = [k for k in _LISTS if k in doc and not isinstance(doc[k], list | None)]
    if misshapen or not isinstance(doc.get("namespace"), str | None):
        raise Unsupported(f"{folder}: {', '.join(misshapen) or 'namespace'} of another shape")
    resources: list[dict[str, Any]] = []
    for ref in [*(doc.get("resources") or []), *(doc.get("bases") or [])]:
        if not isinstance(ref, str) or "://" in ref or ref.startswith("git@"):
            raise Unsupported(f"remote resource {ref!r}")
        target = os.path.normpath(os.path.join(folder, ref))
        if not _within(target, root):
            raise Unsupported(f"{ref!r} is outside the tree")
        if bounds.escapes(target):
            raise Refused(f"{ref!r} is a symlink that leads out of the tree; not following it")
        if os.path.isdir(target):
            resources += _build(target, root, None, None, bounds, within)
        elif restricted and not _within(target, folder):  # kustomize refuses it
            raise Unsupported(f"{ref!r} is a file outside the kustomization's directory")
        elif os.path.isfile(target):
            loaded = _values(target)
            resources += [d for d in loaded if isinstance(d, dict)]
        else:
            raise Unsupported(f"{ref!r} does not exist")
    if any(r.get("kind") == "List" for r in resources):
        raise Unsupported("List resources")
    if doc.get("namespace"):
        _namespace(resources, str(doc["namespace"]))
    for image in doc.get("images") or ():
        _images(resources, image)
    for replica in doc.get("replicas") or ():
        _replicas(resources, replica)
    return resources


def _within(path: str, folder: str) -> bool:
    """``PurePath(path).is_relative_to(folder)`` for a normalised ``path``."""
    if folder == ".":
        return not path.startswith("/")
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _namespace(resources: list[dict[str, Any]], namespace: str) -> None:
    for resource in resources:
        kind = resource.get("kind")
        if kind in _REFERENCING:
            raise Unsupported(f"namespace with {kind}")
        meta = resource.setdefault("metadata", {})
        if kind == "Namespace":
            meta["name"] = namespace
        elif kind not in CLUSTER_SCOPED:
            meta["namespace"] = namespace


def _split(image: str) -> tuple[str, str, str]:
    """name, ":tag" and "@digest" of an image string, as kustomize splits it."""
    name, at, digest = image.partition("@")
    head, colon, tag = name.rpartition(":")
    if colon and "/" not in tag:
        name = head
    else:
        tag = ""
    return name, f":{tag}" if tag else "", f"@{digest}" if at else ""


def _images(resources: list[dict[str, Any]], rule: Any) -> None:
    if not isinstance(rule, dict) or not rule.get("name"):
        raise Unsupported("images entry without a name")
    if set(rule) - {"name", "newName", "newTag", "digest"}:
        raise Unsupported("images entry fields")
    name = str(rule["name"])
    new_name = str(rule.get("newName") or name)
    new_tag = rule.get("newTag")
    digest = rule.get("digest")

    def rewrite(image: str) -> str:
        old_name, tag, old_digest = _split(image)
        if old_name != name:
            return image
        if new_tag is None and digest is None:
            return new_name + tag + old_digest
        suffix = f":{new_tag}" if new_tag is not None else ""
        return new_name + suffix + (f"@{digest}" if digest else "")

    for resource in resources:
        for container in _containers(resource):
            if isinstance(container.get("image"), str):
                container["image"] = rewrite(container["image"])


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def _replicas(resources: list[dict[str, Any]], rule: Any) -> None:
    if not isinstance(rule, dict) or "name" not in rule or "count" not in rule:
        raise Unsupported("replicas entry")
    for resource in resources:
        if (resource.get("metadata") or {}).get("name") != rule["name"]:
            continue
        if resource.get("kind") in _SCALABLE:
            resource.setdefault("spec", {})["replicas"] = rule["count"]
        elif "replicas" in (resource.get("spec") or {}):
            raise Unsupported(f"replicas on a {resource.get('kind')}")
