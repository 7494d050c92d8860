"""CustomResourceDefinitions turned into JSON schemas that accept what the API server does.

A CRD's ``openAPIV3Schema`` is a structural OpenAPI 3.0 schema. The API server prunes
unknown fields (strict field validation reports them) except under
``x-kubernetes-preserve-unknown-fields``, drops nulls for fields that are not
``nullable``, reads ``x-kubernetes-int-or-string`` as integer or string, and fills in
``apiVersion``, ``kind`` and ``metadata`` for embedded resources and at the root.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_actions.validate.formats import constrain

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
CRD_KIND = "CustomResourceDefinition"
CRD_GROUP = "apiextensions.k8s.io"

_COPIED = (
    "enum",
    "maximum",
    "minimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "maxProperties",
    "minProperties",
    "required",
)
_JUNCTORS = ("allOf", "anyOf", "oneOf")


@dataclass(frozen=True)
class CustomKind:
    """One served version of a CRD: what it accepts, as raw OpenAPI."""

    api_version: str
    kind: str
    namespaced: bool
    openapi: Mapping[str, Any] | None  # None: the version declares no schema
    prune: bool = True  # v1beta1's preserveUnknownFields: true turns pruning off
    source: str = ""  # where the CRD came from, for messages

    @property
    def key(self) -> tuple[str, str]:
        return self.api_version, self.kind


def is_crd(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("kind") == CRD_KIND
        and str(value.get("apiVersion", "")).startswith(CRD_GROUP + "/")
    )


def kinds_of(crd: Mapping[str, Any], source: str = "") -> Iterator[CustomKind]:
    """The served versions of a CRD document (apiextensions.k8s.io v1 or v1beta1)."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    group, names = spec.get("group"), spec.get("names")
    if not isinstance(group, str) or not isinstance(names, dict):
        return
    kind = names.get("kind")
    if not isinstance(kind, str):
        return
    namespaced = spec.get("scope", "Namespaced") != "Cluster"
    prune = not spec.get("preserveUnknownFields", crd.get("apiVersion") != f"{CRD_GROUP}/v1")
    shared = _schema_of(spec.get("validation"))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        version = spec.get("version")
        versions = [{"name": version, "served": True}] if isinstance(version, str) else []
    for entry in versions:
        if not isinstance(entry, dict) or entry.get("served", True) is False:
            continue
        name = entry.get("name")
        if isinstance(name, str):
            openapi = _schema_of(entry.get("schema")) or shared
            yield CustomKind(f"{group}/{name}", kind, namespaced, openapi, prune, source)


def _schema_of(holder: Any) -> Mapping[str, Any] | None:
    if isinstance(holder, dict):
        schema = holder.get("openAPIV3Schema")
        if isinstance(schema, dict):
            return schema
    return None


def to_json_schema(custom: CustomKind, meta_ref: str) -> dict[str, Any]:
    """The JSON schema (2020-12) for a custom resource; ``meta_ref`` points at ObjectMeta."""
    openapi = dict(
        custom.openapi or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    )
    properties = dict(openapi.get("properties") or {})
    metadata = properties.pop("metadata", None)
    openapi["properties"] = properties
    root = _convert(openapi, prune=custom.prune, structural=True, nullable=False)
    props = root.setdefault("properties", {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    meta: dict[str, Any] = {"$ref": meta_ref}
    if isinstance(metadata, dict):
        extra = _convert(metadata, prune=False, structural=False, nullable=False)
        extra.pop("type", None)
        extra.pop("properties", None)  # ObjectMeta's own fields rule; constraints stay
        if extra:
            meta = {"allOf": [meta, extra]}
    props["metadata"] = meta
    root["type"] = "object"
    return root


def _convert(
    node: Mapping[str, Any], *, prune: bool, structural: bool, nullable: bool
) -> dict[str, Any]:
    """One OpenAPI node. ``structural``: part of the tree the API server prunes against
    (not inside allOf/anyOf/oneOf/not); ``nullable``: a field the API server drops when
    it is null."""
    out: dict[str, Any] = {}
    types: list[str] = []
    if node.get("x-kubernetes-int-or-string"):
        types = ["integer", "string"]
    elif isinstance(node.get("type"), str):
        types = [node["type"]]
    null_ok = bool(node.get("nullable")) or nullable
    if types:
        out["type"] = [*types, "null"] if null_ok else (types[0] if len(types) == 1 else types)
    for key in _COPIED:
        if key in node:
            out[key] = node[key]
    if "enum" in out and null_ok and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    if node.get("exclusiveMinimum") is True and "minimum" in out:
        out["exclusiveMinimum"] = out.pop("minimum")
    if node.get("exclusiveMaximum") is True and "maximum" in out:
        out["exclusiveMaximum"] = out.pop("maximum")
    fmt = node.get("format")
    if isinstance(fmt, str):
        constrain(out, fmt)

    properties = node.get("properties")
    if isinstance(properties, dict):
        out["properties"] = {
            name: _convert(sub, prune=prune, structural=structural, nullable=True)
            for name, sub in properties.items()
            if isinstance(sub, dict)
        }
    items = node.get("items")
    if isinstance(items, dict):
        out["items"] = _convert(items, prune=prune, structural=structural, nullable=False)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = _convert(
            extra, prune=prune, structural=structural, nullable=True
        )
    elif isinstance(extra, bool):
        out["additionalProperties"] = extra
    for junctor in _JUNCTORS:
        branches = node.get(junctor)
        if isinstance(branches, list):
            out[junctor] = [
                _convert(b, prune=prune, structural=False, nullable=null_ok)
                for b in branches
                if isinstance(b, dict)
            ]
    negated = node.get("not")
    if isinstance(negated, dict):
        out["not"] = _convert(negated, prune=prune, structural=False, nullable=False)

    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    is_object = "object" in types or "properties" in out
    if prune and structural and is_object and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out
