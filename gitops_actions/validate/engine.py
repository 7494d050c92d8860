"""One source's text in, its findings out: parse, identify, check each resource.

Everything here is pure and picklable at the edges, so the runner can spread sources
over worker processes and merge what comes back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from gitops_actions.secrets import secret_values
from gitops_actions.validate import crds, formats, operator, positions
from gitops_actions.validate.checks import Seen, lifecycle_finding
from gitops_actions.validate.findings import (
    NOT_A_RESOURCE,
    SCHEMA,
    YAML,
    Finding,
    Resource,
    json_path,
)
from gitops_actions.validate.schemas import Catalog
from gitops_actions.yamlread import loader

MAX_ERRORS_PER_DOCUMENT = 50


@dataclass(frozen=True)
class Settings:
    """What every worker needs to know, beyond the source itself."""

    version: str
    skip: frozenset[str] = frozenset()  # Kind, or apiVersion/Kind
    custom: tuple[crds.CustomKind, ...] = ()

    def skipped(self, api_version: str, kind: str) -> bool:
        return bool(self.skip) and (kind in self.skip or f"{api_version}/{kind}" in self.skip)


@dataclass(frozen=True)
class Source:
    """Text to validate: a file on disk (``text`` None: read it) or rendered output."""

    file: str  # as findings name it
    unit: str  # the duplicate check compares resources within one unit
    text: str | None = None
    json: bool = False
    origin: str = ""  # "kustomize overlays/prod", "helm charts/web"
    namespace: str = ""  # for namespaced resources without one (an Argo CD directory app's)


@dataclass(frozen=True)
class Unknown:
    """A resource whose kind had no schema; a CRD elsewhere in the input may supply one."""

    resource: Resource
    document: int
    line: int
    column: int


@dataclass
class Result:
    """What one source yielded (without the source: it goes back to the parent process)."""

    findings: list[Finding] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    custom: list[crds.CustomKind] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)
    unusable: bool = False  # the file could not be read or parsed (whole or in part)
    secrets: list[str] = field(default_factory=list)  # values of the Secrets it holds
    installs_flux: bool = False  # it installs the flux-operator's flux-instance chart


def read(source: Source) -> str:
    """The source's text; a ``LoadError`` if it is too big, binary, not UTF-8 or not a
    regular file."""
    if source.text is not None:
        return source.text
    return loader.decode(loader.read_file(source.file))


def check_source(source: Source, catalog: Catalog, settings: Settings) -> Result:
    result = Result()
    try:
        text = read(source)
        parsed = loader.json_documents(text) if source.json else loader.documents(text)
        for document in parsed:
            value = document.value
            items = value.get("items") if isinstance(value, dict) else None
            for resource in [value, *(items if isinstance(items, list) else ())]:
                result.secrets.extend(secret_values(resource))  # hidden in every report
            _check_document(source, document, text, result, catalog, settings)
    except loader.LoadError as err:
        result.unusable = True
        result.findings.append(
            Finding(source.file, err.line, err.column, YAML, err.message, origin=source.origin)
        )
    except OSError as err:
        result.unusable = True
        result.findings.append(
            Finding(source.file, 1, 1, YAML, f"cannot read: {err.strerror or err}")
        )
    return result


def _check_document(
    source: Source,
    document: loader.Document,
    text: str,
    result: Result,
    catalog: Catalog,
    settings: Settings,
) -> None:
    value = document.value
    resource = _identity(value) if document.problems else None
    for problem in document.problems:
        line, column = (
            (problem.node.start_mark.line + 1, problem.node.start_mark.column + 1)
            if problem.node is not None and problem.node.start_mark is not None
            else (document.line, 1)
        )
        result.findings.append(
            Finding(
                source.file,
                line,
                column,
                problem.check,
                problem.message,
                document=document.index,
                resource=resource,
                origin=source.origin,
            )
        )
    if isinstance(value, dict) and value.get("kind") == "List" and value.get("apiVersion") == "v1":
        items = value.get("items")
        if isinstance(items, list):
            for i, item in enumerate(items):
                _check_resource(
                    source, item, ("items", i), document, text, result, catalog, settings
                )
            return
    _check_resource(source, value, (), document, text, result, catalog, settings)


def _check_resource(
    source: Source,
    value: Any,
    prefix: tuple[str | int, ...],
    document: loader.Document,
    text: str,
    result: Result,
    catalog: Catalog,
    settings: Settings,
) -> None:
    def node() -> yaml.Node | None:
        if document.node is None and source.json:
            document.node = loader.compose_document(text, 1)
        return document.node

    def finding(check: str, message: str, path: Sequence[str | int] = (), **kw: Any) -> Finding:
        full = (*prefix, *path)
        line, column = positions.locate(node(), full)
        return Finding(
            source.file,
            line,
            column,
            check,
            message,
            document=document.index,
            path=json_path(full),
            origin=source.origin,
            parts=full,
            **kw,
        )

    if not isinstance(value, dict):
        what = "list" if isinstance(value, list) else "scalar"
        result.findings.append(
            finding(NOT_A_RESOURCE, f"the document is a {what}, not a Kubernetes resource")
        )
        return
    api_version, kind = value.get("apiVersion"), value.get("kind")
    missing = [k for k, v in (("apiVersion", api_version), ("kind", kind)) if not v]
    if missing or not isinstance(api_version, str) or not isinstance(kind, str):
        what = " and ".join(missing) if missing else "a string apiVersion and kind"
        result.findings.append(finding(NOT_A_RESOURCE, f"not a Kubernetes resource: no {what}"))
        return
    meta = value.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name = meta.get("name") or ""  # generateName makes a new name each time: no duplicates
    namespace = meta.get("namespace") or source.namespace
    if catalog.namespaced(api_version, kind) is False:
        namespace = ""
    resource = Resource(api_version, kind, str(namespace), str(name))
    start = _start(document, prefix)
    result.seen.append(
        Seen(
            resource,
            source.file,
            start[0],
            start[1],
            document.index,
            source.unit,
            source.origin,
            prefix,
        )
    )
    if crds.is_crd(value):
        result.custom.extend(crds.kinds_of(value, f"{source.file}:{start[0]}"))
    if operator.installs_instance_chart(value):
        result.installs_flux = True

    life = lifecycle_finding(
        resource, settings.version, (source.file, *start), document.index, source.origin
    )
    if life is not None:
        line, column = positions.locate(node(), (*prefix, "apiVersion"))
        result.findings.append(_moved(life, line, column))
        if life.severity == "error":
            return  # removed: its schema is gone too, one finding says it all
    if settings.skipped(api_version, kind):
        return
    validator = catalog.validator(api_version, kind)
    if validator is None:
        result.unknown.append(Unknown(resource, document.index, *start))
        return
    if validator.is_valid(value):
        return
    for error in _errors(validator, value):
        path = list(error.instance_path)
        kind_name = error.kind.name
        details = error.kind.as_dict()
        if kind_name == "additionalProperties":
            for key in details.get("unexpected", ()):
                full = (*prefix, *path, key)
                line, column = positions.locate_key(node(), full)
                result.findings.append(
                    Finding(
                        source.file,
                        line,
                        column,
                        SCHEMA,
                        f"unknown field {json.dumps(key)}",
                        document=document.index,
                        resource=resource,
                        path=json_path(full),
                        origin=source.origin,
                        parts=full,
                    )
                )
            continue
        if kind_name == "required":
            field_name = details.get("property", "")
            message = f"missing required field {json.dumps(field_name)}"
        else:
            secret = kind == "Secret" and bool(path) and path[0] in ("data", "stringData")
            message = describe(kind_name, details, error.instance, error.message, hide=secret)
        result.findings.append(finding(SCHEMA, message, path, resource=resource))


def _identity(value: Any) -> Resource | None:
    if not isinstance(value, dict):
        return None
    api_version, kind = value.get("apiVersion"), value.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    meta = value.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return Resource(
        api_version, kind, str(meta.get("namespace") or ""), str(meta.get("name") or "")
    )


def _errors(validator: Any, value: Any) -> Iterable[Any]:
    for count, error in enumerate(validator.iter_errors(value)):
        if count >= MAX_ERRORS_PER_DOCUMENT:
            return
        yield error


def _start(document: loader.Document, prefix: tuple[str | int, ...]) -> tuple[int, int]:
    if document.node is None:
        return 1, 1
    if not prefix:
        return document.node.start_mark.line + 1, document.node.start_mark.column + 1
    return positions.locate(document.node, prefix)


def _moved(finding: Finding, line: int, column: int) -> Finding:
    return dataclasses.replace(finding, line=line, column=column)


_PATTERNS = {
    formats.BASE64: "not valid base64",
    formats.RFC3339: "not an RFC 3339 date-time (like 2024-05-01T12:00:00Z)",
    formats.QUANTITY: "not a valid quantity (like 500m, 2, 1.5Gi)",
}
_LIMITS = {
    formats.INT32[0]: "int32",
    formats.INT32[1]: "int32",
    formats.INT64[0]: "int64",
    formats.INT64[1]: "int64",
}


def describe(
    kind: str, details: dict[str, Any], instance: Any, default: str, *, hide: bool = False
) -> str:
    """A schema error in the words a Kubernetes user expects; with ``hide`` (a Secret's
    data) the value itself is never quoted."""
    got = "the value" if hide else _shown(instance)
    if hide and kind not in ("type", "pattern"):
        return f"the value fails the schema's {kind!r} check"
    if kind == "type":
        wanted = [t for t in details.get("types", ()) if t != "null"]
        shown = "" if hide else f" {got}"
        return f"expected {' or '.join(wanted) or 'null'}, got {_type_of(instance)}{shown}".rstrip()
    if kind == "enum":
        options = [_shown(o) for o in details.get("options", ()) if o is not None]
        return f"{got} is not one of {', '.join(options)}"
    if kind == "pattern":
        text = _PATTERNS.get(details.get("pattern", ""))
        if text:
            return f"{got} is {text}"
        return f"{got} does not match the pattern {details.get('pattern')}"
    if kind in ("minimum", "maximum"):
        limit = details.get("limit")
        if limit in _LIMITS:
            return f"{got} is out of range for an {_LIMITS[limit]}"
    return default


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return ""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + '..."'
