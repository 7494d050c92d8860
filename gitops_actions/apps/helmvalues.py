"""A Flux ``HelmRelease``'s values as helm-controller composes them: each ``valuesFrom``
reference in order (a ConfigMap or Secret of the repo, its ``valuesKey``, merged at the
root or set at ``targetPath``), then ``spec.values`` over them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from gitops_actions.apps.flux import config_data, referenced
from gitops_actions.apps.objects import Object, Repo
from gitops_actions.errors import InputError
from gitops_actions.secrets import REDACTOR, secret_values
from gitops_actions.yamlread import loader
from gitops_actions.yamlread.shapes import listed, mapping

DEFAULT_KEY = "values.yaml"


@dataclass
class Values:
    values: dict[str, Any] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)  # the ConfigMaps' and Secrets' files
    notes: list[str] = field(default_factory=list)


def compose(repo: Repo, release: Object) -> Values:
    """The values ``release`` is installed with (a Secret's values are learned by the
    redactor, so they never reach an output)."""
    out = Values()
    for ref in listed(release.spec.get("valuesFrom")):
        if not isinstance(ref, dict):
            continue
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        key = str(ref.get("valuesKey") or DEFAULT_KEY)
        what = f"valuesFrom {kind} {name}"
        found = referenced(repo, release, kind, name) if kind in ("ConfigMap", "Secret") else []
        if not found:
            if not ref.get("optional"):
                out.notes.append(f"{what} is not in the repo")
            continue
        source = found[0]
        out.files.update((source.file, *source.sources))
        data = config_data(source)
        if kind == "Secret":
            REDACTOR.learn_resources([source.value])
        if key not in data:
            if not ref.get("optional"):
                out.notes.append(f"{what} has no readable key {key}")
            continue
        text = data[key]
        target = str(ref.get("targetPath") or "")
        if target:
            set_path(out.values, target, text)
            continue
        try:
            docs = loader.read_values(text, f"{source.file} ({kind} {name} {key})")
        except InputError as err:  # its message names the file and line
            out.notes.append(f"{what} key {key} is not YAML: {err}")
            continue
        loaded = mapping(docs[0]) if docs else {}
        if kind == "Secret":
            REDACTOR.learn_values(secret_values({"kind": "Secret", "stringData": loaded}))
        out.values = merge(out.values, loaded)
    own = release.spec.get("values")
    if isinstance(own, dict):
        out.values = merge(out.values, own)
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """helm-controller's ``MergeMaps``: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def set_path(values: dict[str, Any], path: str, text: str) -> None:
    """``helm --set path=text`` as helm-controller applies a ``targetPath``: typed as Helm
    types a ``--set`` value (``true``, ``null``, an integer), a quoted value as the string
    inside its quotes. ``a\\.b`` is one key holding a dot."""
    keys, current = [], ""
    index = 0
    while index < len(path):
        char = path[index]
        if char == "\\" and index + 1 < len(path):
            current += path[index + 1]
            index += 2
            continue
        if char == ".":
            keys.append(current)
            current = ""
        else:
            current += char
        index += 1
    keys.append(current)
    node = values
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[-1]] = _typed(text)


def _typed(text: str) -> Any:
    """Helm's ``strvals`` typing of a ``--set`` value; a quoted one stays the text inside."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text.strip("'\"")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0":
        try:
            number = int(text, 10)
        except ValueError:
            return text
        if -(1 << 63) <= number < (1 << 63) and text.lstrip("+-").isdigit():
            return number
    return text
