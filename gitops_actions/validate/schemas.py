"""Schemas, offline: Kubernetes and bundled CRDs from the package's schemas/, CRDs from files.

schemas/kubernetes/ holds the OpenAPI definitions of every Kubernetes release from 1.25 on,
one compressed JSON file per release, as the kubernetes-validate project publishes them
(scripts/vendor-kubernetes-schemas.py copies them). We index them by group, version and kind, make
them strict the way the API server is (unknown fields rejected, nulls accepted for
optional fields, int-or-string and quantities as the decoder reads them), and compile
one validator per (apiVersion, kind), lazily, with jsonschema-rs.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from gitops_actions.errors import InputError, UsageError
from gitops_actions.validate import crds
from gitops_actions.validate.formats import QUANTITY, constrain

OLDEST, NEWEST = (1, 25), (1, 37)
DEFAULT_VERSION = "1.32"
BUNDLED = Path(__file__).resolve().parent.parent / "schemas" / "crds"  # schemas/, packaged
WRITTEN = BUNDLED.parent / "written"  # schemas written here from an API's documentation
KUBERNETES = BUNDLED.parent / "kubernetes"
_REF = "#/$defs/"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_VERSION = re.compile(r"v?([0-9]{1,9})\.([0-9]{1,9})(?:\.[0-9]{1,9})?")


def parse_version(text: str) -> str:
    """``1.32``, ``v1.32`` or ``1.32.4`` as ``1.32``, within the releases we ship."""
    match = _VERSION.fullmatch(text.strip())
    if not match:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise UsageError(f"--kubernetes-version {shown!r}: expected MAJOR.MINOR, e.g. 1.32")
    version = (int(match[1]), int(match[2]))
    if not OLDEST <= version <= NEWEST:
        raise UsageError(
            f"--kubernetes-version {text}: schemas ship for "
            f"{OLDEST[0]}.{OLDEST[1]} to {NEWEST[0]}.{NEWEST[1]}"
        )
    return f"{version[0]}.{version[1]}"


@cache
def _definitions(version: str) -> dict[str, Any]:
    path = KUBERNETES / f"v{version}.json.gz"
    try:
        with gzip.open(path, "rb") as f:
            loaded: dict[str, Any] = json.load(f)["$defs"]
    except FileNotFoundError:
        raise UsageError(
            f"no Kubernetes {version} schemas in this installation ({path} is missing)",
            hint="reinstall gitops-actions or pick another --kubernetes-version",
        ) from None
    return loaded


@cache
def _gvk_index(version: str) -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for name, schema in _definitions(version).items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            group, api = gvk.get("group", ""), gvk.get("version", "")
            index.setdefault((f"{group}/{api}" if group else api, gvk.get("kind", "")), name)
    return index


def preload(version: str) -> None:
    """Read the definitions now, so that forked workers share them."""
    _gvk_index(version)


def _strict(node: Any) -> Any:
    """A definition as the API server reads it (see the module docstring)."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key == "description" or key == "format" or key.startswith("x-kubernetes-"):
            continue
        else:
            out[key] = _strict(value)
    fmt = node.get("format")
    if isinstance(fmt, str):
        constrain(out, fmt)
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    types = out.get("type")
    if "enum" in out and isinstance(types, list) and "null" in types and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


class Catalog:
    """Every schema one run knows: Kubernetes ``version``, plus custom kinds from CRDs."""

    def __init__(self, version: str, custom: Iterable[crds.CustomKind] = ()) -> None:
        self.version = version
        self.custom: dict[tuple[str, str], crds.CustomKind] = {}
        self._defs: dict[str, Any] = {}
        self._validators: dict[tuple[str, str], Any] = {}
        self._bundled_seen: set[tuple[str, str]] = set()
        self.add(custom)

    # -- what is known ------------------------------------------------------------------
    def add(self, kinds: Iterable[crds.CustomKind]) -> list[crds.CustomKind]:
        """Register custom kinds (later ones win); returns those that were new or changed."""
        changed = []
        for kind in kinds:
            if self.custom.get(kind.key) != kind:
                self.custom[kind.key] = kind
                self._validators.pop(kind.key, None)
                changed.append(kind)
        return changed

    @property
    def index(self) -> dict[tuple[str, str], str]:
        """(apiVersion, kind) -> definition name, for every built-in kind."""
        return _gvk_index(self.version)

    def builtin(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) in self.index

    def namespaced(self, api_version: str, kind: str) -> bool | None:
        custom = self._custom(api_version, kind)
        if custom is not None:
            return custom.namespaced
        if self.builtin(api_version, kind):
            return kind not in CLUSTER_SCOPED
        return None

    def knows(self, api_version: str, kind: str) -> bool:
        return self.builtin(api_version, kind) or self._custom(api_version, kind) is not None

    def _custom(self, api_version: str, kind: str) -> crds.CustomKind | None:
        key = (api_version, kind)
        found = self.custom.get(key)
        if found is None and key not in self._bundled_seen:
            self._bundled_seen.add(key)
            for bundled in bundled_kinds(api_version.partition("/")[0], kind):
                self.custom.setdefault(bundled.key, bundled)
            found = self.custom.get(key)
        return found

    # -- validators ---------------------------------------------------------------------
    def validator(self, api_version: str, kind: str) -> Any | None:
        """A compiled validator for the kind, or None when no schema is known."""
        key = (api_version, kind)
        if key in self._validators:
            return self._validators[key]
        custom = self._custom(api_version, kind)
        if custom is not None:
            schema = crds.to_json_schema(custom, _REF + crds.OBJECT_META)
            schema["$defs"] = self._closure([crds.OBJECT_META])
        elif key in self.index:
            name = self.index[key]
            schema = {"$ref": _REF + name, "$defs": self._closure([name])}
        else:
            self._validators[key] = None
            return None
        try:
            validator = compile_schema(schema)
        except ValueError as err:  # jsonschema-rs: "Recursion limit reached"
            where = custom.source if custom is not None else ""
            file, _, line = where.rpartition(":")
            raise InputError(
                f"the schema of {kind} ({api_version}) cannot be compiled: {err}",
                path=file or None,
                line=int(line) if line.isdigit() else None,
            ) from None
        self._validators[key] = validator
        return validator

    def _closure(self, roots: list[str]) -> dict[str, Any]:
        """The strict definitions reachable from ``roots``."""
        defs = _definitions(self.version)
        out: dict[str, Any] = {}
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in out or name not in defs:
                continue
            out[name] = self._def(name)
            todo.extend(_refs(out[name]))
        return out

    def _def(self, name: str) -> Any:
        found = self._defs.get(name)
        if found is None:
            if name == _INT_OR_STRING:
                found = {"type": ["integer", "string", "null"]}
            elif name == _QUANTITY:
                found = {"type": ["string", "number", "null"], "pattern": QUANTITY}
            else:
                found = _strict(_definitions(self.version)[name])
            self._defs[name] = found
        return found


def compile_schema(schema: dict[str, Any]) -> Any:
    """A jsonschema-rs validator: linear-time regexes (RE2-like, as Go's), no network."""
    try:
        return jsonschema_rs.Draft202012Validator(
            schema, pattern_options=jsonschema_rs.RegexOptions(), offline=True
        )
    except (ValueError, jsonschema_rs.ValidationError):
        return jsonschema_rs.Draft202012Validator(schema, offline=True)


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF):
                yield value[len(_REF) :]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@cache
def _bundled_index() -> dict[tuple[str, str], Path]:
    index: dict[tuple[str, str], Path] = {}
    for folder in (BUNDLED, WRITTEN):
        for path in folder.glob("*/*.json") if folder.is_dir() else ():
            index[(path.parent.name, path.stem)] = path
    return index


@cache
def bundled_kinds(group: str, kind: str) -> tuple[crds.CustomKind, ...]:
    """The served versions of a bundled CRD (Argo CD, Flux, flux-operator), if we ship it."""
    path = _bundled_index().get((group, kind))
    if path is None:
        return ()
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        crds.CustomKind(
            f"{data['group']}/{version}",
            data["kind"],
            data.get("scope", "Namespaced") != "Cluster",
            schema,
            source=f"bundled {data['group']} {data['kind']} schema",
        )
        for version, schema in data["versions"].items()
    )


CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersion",
        "StorageVersionMigration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)
