"""Compare rendered resources: normalise, redact Secrets, hide noise, summarise, diff.

Pure: dictionaries in, change records out. Secret values (``data``/``stringData`` of a
Secret, SOPS ``ENC[...]`` strings, extra paths) never leave this module in plain text or
base64: only which keys were added, removed or changed, and their sizes.
"""

from __future__ import annotations

import base64
import copy
import difflib
import fnmatch
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from gitops_actions.diffmodel import Action, Change
from gitops_actions.secrets import REDACTOR

DEFAULT_FILTERS = (
    "label:helm.sh/chart",
    "label:app.kubernetes.io/version",
    "annotation:checksum/*",
)
_SOPS = re.compile(r"^ENC\[[A-Z0-9_]+,data:")
try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
_VOLATILE = (
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
)

Key = tuple[str, str, str, str]  # group, kind, namespace, name


def identity(resource: Mapping[str, Any]) -> Key:
    api = str(resource.get("apiVersion") or "")
    group = api.rpartition("/")[0]
    meta = resource.get("metadata") or {}
    return (
        group,
        str(resource.get("kind") or ""),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


Mask = Callable[[str], str]


def _as_is(text: str) -> str:
    return text


@dataclass
class Options:
    filters: tuple[str, ...] = DEFAULT_FILTERS  # label:KEY, annotation:GLOB, path:a.b.c
    redact: tuple[str, ...] = ()  # extra paths: a.b (any kind) or Kind:a.b
    hidden: Counter[str] = field(default_factory=Counter)
    # applied to every string (keys too) of every resource: hides secrets seen elsewhere,
    # such as a Secret's value copied into a ConfigMap
    mask: Callable[[str], str] = REDACTOR.redact


def _size(value: Any, encoded: bool) -> int:
    text = "" if value is None else str(value)
    if encoded:
        try:
            return len(base64.b64decode(text, validate=False))
        except ValueError:
            return len(text)
    return len(text.encode())


def _redact_secrets(resource: dict[str, Any], options: Options) -> dict[str, tuple[int, Any]]:
    """Replace secret values in place with placeholders; return path -> (size, fingerprint)
    where the fingerprint is compared in memory only and never printed."""
    found: dict[str, tuple[int, Any]] = {}
    if resource.get("kind") == "Secret":  # any apiVersion: a payload is hidden whatever it is
        for section, encoded in (("data", True), ("stringData", False)):
            values = resource.get(section)
            if isinstance(values, dict):
                for key, value in values.items():
                    found[f"{section}.{key}"] = (_size(value, encoded), value)
                    values[key] = "<redacted>"
            elif section in resource:  # a list, a scalar: not a map, hidden whole
                found[section] = (_size(values, False), values)
                resource[section] = "<redacted>"
    for spec in options.redact:
        kind, _, path = spec.rpartition(":")
        if kind and kind != resource.get("kind"):
            continue
        parent, last = _walk_to(resource, path.split("."))
        if isinstance(parent, dict) and last in parent:
            found[path] = (_size(parent[last], False), parent[last])
            parent[last] = "<redacted>"

    def sops(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            return {k: sops(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [sops(v, f"{path}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, str) and _SOPS.match(node):
            found[path] = (len(node), node)
            return "<redacted>"
        return node

    if "sops" in resource:
        resource.update(sops({k: v for k, v in resource.items() if k != "sops"}, ""))
    return found


def _walk_to(node: Any, parts: list[str]) -> tuple[Any, str]:
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    return node, parts[-1]


def _hide_noise(resource: dict[str, Any], filters: Iterable[str]) -> dict[str, Any]:
    """Values that filters hide, by filter: removed from ``resource`` in place."""
    hidden: dict[str, Any] = {}

    def visit(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key in list(node):
                child = node[key]
                if key in ("labels", "annotations") and isinstance(child, dict):
                    for name in list(child):
                        rule = _matching(key, name, filters)
                        if rule:
                            hidden[f"{rule}@{path}.{key}.{name}"] = child.pop(name)
                    if not child:
                        del node[key]
                    continue
                visit(child, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                visit(child, f"{path}[{index}]")

    visit(resource, "")
    for rule in filters:
        if rule.startswith("path:"):
            parent, last = _walk_to(resource, rule[5:].split("."))
            if isinstance(parent, dict) and last in parent:
                hidden[f"{rule}@{rule[5:]}"] = parent.pop(last)
    return hidden


def _matching(section: str, name: str, filters: Iterable[str]) -> str | None:
    kind = "label" if section == "labels" else "annotation"
    for rule in filters:
        prefix, _, pattern = rule.partition(":")
        if prefix == kind and fnmatch.fnmatchcase(name, pattern):
            return rule
    return None


def normalise(
    resource: Mapping[str, Any], options: Options
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(normalised resource, hidden noise, secret fingerprints)."""
    copied: dict[str, Any] = copy.deepcopy(dict(resource))
    copied.pop("status", None)
    meta = copied.get("metadata")
    if isinstance(meta, dict):
        for key in _VOLATILE:
            meta.pop(key, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    secrets = _redact_secrets(copied, options)
    noise = _hide_noise(copied, options.filters)
    return copied, noise, secrets


def _masked(node: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(node, dict):
        return {_masked(k, mask): _masked(v, mask) for k, v in node.items()}
    if isinstance(node, list):
        return [_masked(v, mask) for v in node]
    return mask(node) if isinstance(node, str) else node


def field_changes(old: Any, new: Any, path: str = "", mask: Mask = _as_is) -> list[str]:
    """One line per changed leaf: ``spec.template.spec.containers[app].image: a -> b``;
    ``mask`` hides secrets in each value before it is shortened."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                lines.append(f"{sub}: added")
            elif key not in new:
                lines.append(f"{sub}: removed")
            else:
                lines += field_changes(old[key], new[key], sub, mask)
        return lines
    if isinstance(old, list) and isinstance(new, list):
        if all(isinstance(i, dict) and "name" in i for i in old + new):
            named = {str(i["name"]): i for i in old}, {str(i["name"]): i for i in new}
            return _named(*named, path, mask)
        if len(old) == len(new):
            out: list[str] = []
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                out += field_changes(a, b, f"{path}[{index}]", mask)
            return out
        return [f"{path}: {len(old)} -> {len(new)} items"]
    if old != new:
        return [mask(f"{path}: {_short(old, mask)} -> {_short(new, mask)}")]
    return []


def _named(before: dict[str, Any], after: dict[str, Any], path: str, mask: Mask) -> list[str]:
    lines: list[str] = []
    for name in sorted(set(before) | set(after)):
        sub = f"{path}[{name}]"
        if name not in before:
            lines.append(f"{sub}: added")
        elif name not in after:
            lines.append(f"{sub}: removed")
        else:
            lines += field_changes(before[name], after[name], sub, mask)
    return [mask(line) for line in lines]


def _short(value: Any, mask: Mask = _as_is, limit: int = 60) -> str:
    text = "null" if value is None else mask(str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dump(resource: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(resource), Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=120
    )


def _secret_lines(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines = []
    for path in sorted(set(before) | set(after)):
        if path not in before:
            lines.append(f"{path}: <redacted, added, {after[path][0]} bytes>")
        elif path not in after:
            lines.append(f"{path}: <redacted, removed>")
        elif before[path][1] != after[path][1]:
            lines.append(f"{path}: <redacted, changed, {after[path][0]} bytes>")
    return lines


def compare(
    base: Iterable[Mapping[str, Any]],
    head: Iterable[Mapping[str, Any]],
    options: Options,
    *,
    label: str = "",
) -> list[Change]:
    """Changes from ``base`` to ``head`` resources, keyed by group/kind/namespace/name."""
    before = {identity(r): r for r in base}
    after = {identity(r): r for r in head}
    changes: list[Change] = []
    for key in sorted(set(before) | set(after)):
        group, kind, namespace, name = key
        old, new = before.get(key), after.get(key)
        if old is not None and (old is new or old == new):
            continue  # identical: nothing to show, nothing hidden
        version = str((new or old or {}).get("apiVersion", "")).rpartition("/")[2]
        old_n, old_noise, old_secrets = normalise(old, options) if old else ({}, {}, {})
        new_n, new_noise, new_secrets = normalise(new, options) if new else ({}, {}, {})
        where = "/".join(p for p in (label, kind, namespace, name) if p)
        text = "".join(  # from masked copies: a secret is hidden before it is quoted
            difflib.unified_diff(
                dump(_masked(old_n, options.mask)).splitlines(keepends=True) if old else [],
                dump(_masked(new_n, options.mask)).splitlines(keepends=True) if new else [],
                f"a/{where}",
                f"b/{where}",
            )
        )
        redacted = tuple(_secret_lines(old_secrets, new_secrets))
        if old is None or new is None:
            action: Action = "added" if old is None else "removed"
            changes.append(
                Change(action, group, version, kind, namespace, name, (), text, redacted)
            )
            continue
        for rule_path in set(old_noise) | set(new_noise):
            if old_noise.get(rule_path) != new_noise.get(rule_path):
                options.hidden[rule_path.split("@")[0]] += 1
        if old_n == new_n and not redacted:
            continue
        summary = tuple(field_changes(old_n, new_n, mask=options.mask))
        changes.append(
            Change("changed", group, version, kind, namespace, name, summary, text, redacted)
        )
    return changes
