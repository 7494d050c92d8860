"""Flux Kustomizations as the Kustomization that applies them sees them.

A Kustomization that renders other Kustomization objects (``cluster-apps`` over
``apps/<ns>/<app>/ks.yaml``) changes them before they reach the cluster: its ``patches``
aimed at Kustomizations are merged into them (defaults for every app, often a
``postBuild.substitute``), then its ``postBuild`` variables are substituted in them, as in
everything it renders. A child's ``spec.path: ./apps/${CLUSTER}/...`` is a folder only
after that. The model reads each child as its parent applies it (but for ``LEFT_OUT``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitops_actions.apps import flux
from gitops_actions.apps.model import EntryPoint
from gitops_actions.apps.objects import Object, merge_patch, parse
from gitops_actions.yamlread.shapes import listed, mapping

DEPTH = 4  # levels of Kustomizations applying Kustomizations followed
# what a parent's patch may set in its children but the model leaves out: patches for
# every app (HelmRelease install/upgrade defaults) would take every app out of the
# in-process builder, multiplying the cost of a run, to change no resource's identity
LEFT_OUT = ("patches",)
_SELECTOR = re.compile(r"\s*([^=!\s]+)\s*(==|=|!=)?\s*([^,\s]*)\s*")

Found = EntryPoint | str  # an entry point, or a note on why the object is none


@dataclass(frozen=True)
class Parent:
    """A Kustomization whose rendering changes the Kustomizations among its inputs."""

    rendered: frozenset[str]  # files and folders it renders
    patches: tuple[tuple[Mapping[str, Any], Mapping[str, Any]], ...]  # (target, patch)
    values: Mapping[str, str] | None

    def renders(self, file: str) -> bool:
        folder = file
        while folder:
            if folder in self.rendered:
                return True
            folder = folder.rpartition("/")[0]
        return "." in self.rendered

    def apply(self, obj: Object) -> Object:
        """``obj`` as this one applies it (what is unchanged is shared, not copied)."""
        value = obj.value
        for target, patch in self.patches:
            if _selected(target, value):
                value = _merged(value, patch)
        if self.values and not flux.disabled(value):
            value = _substituted(value, self.values)
        return Object(obj.file, value)


def as_applied(
    objects: Sequence[Object], found: Sequence[Found], resolve: Callable[[Object], Found]
) -> list[Found]:
    """``found`` (what ``resolve`` made of each object as written) again, for each object
    that another Kustomization renders and changes, from the object as that one applies it
    (the first such parent, parents themselves as their own parents apply them)."""
    current, result = list(objects), list(found)
    for _ in range(DEPTH):
        parents = [
            (i, parent)
            for i, (obj, entry) in enumerate(zip(current, result, strict=True))
            if isinstance(entry, EntryPoint) and (parent := _parent(obj, entry)) is not None
        ]
        changed = False
        for i, obj in enumerate(objects):
            parent = next((p for j, p in parents if j != i and p.renders(obj.file)), None)
            view = parent.apply(obj) if parent is not None else obj
            if view.value is not current[i].value and view.value != current[i].value:
                current[i], result[i], changed = view, resolve(view), True
        if not changed:
            break
    return result


def _parent(obj: Object, entry: EntryPoint) -> Parent | None:
    patches = []
    for item in listed(obj.spec.get("patches")):
        target = mapping(mapping(item).get("target"))
        text = mapping(item).get("patch")
        if target.get("kind") != "Kustomization" or not isinstance(text, str):
            continue
        if str(target.get("group") or flux.API.rstrip("/")) + "/" != flux.API:
            continue
        docs = parse(text.encode())
        if len(docs) == 1 and isinstance(docs[0], dict):  # a strategic merge patch
            patches.append((target, docs[0]))
    values = entry.build.substitute
    if not patches and not values:
        return None
    return Parent(frozenset(entry.rendered_inputs), tuple(patches), values)


def _selected(target: Mapping[str, Any], value: Mapping[str, Any]) -> bool:
    meta = mapping(value.get("metadata"))
    for key, selector in (("name", "name"), ("namespace", "namespace")):
        wanted = target.get(key)
        if wanted and not re.fullmatch(str(wanted), str(meta.get(selector) or "")):
            return False
    for key, field in (("labelSelector", "labels"), ("annotationSelector", "annotations")):
        if target.get(key) and not _matches(str(target[key]), mapping(meta.get(field))):
            return False
    return True


def _matches(selector: str, labels: Mapping[str, Any]) -> bool:
    """An equality-based selector (``a=b,c!=d,e``); a set-based one matches nothing."""
    for term in selector.split(","):
        found = _SELECTOR.fullmatch(term)
        if found is None:
            return False
        key, op, wanted = found[1], found[2], found[3]
        have = labels.get(key)
        if op is None and have is None:
            return False
        if op in ("=", "==") and (have is None or str(have) != wanted):
            return False
        if op == "!=" and have is not None and str(have) == wanted:
            return False
    return True


def _merged(value: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A strategic merge patch of a custom resource: maps merge, lists and scalars are
    replaced, a null removes. The patch's own name is a placeholder; the target keeps its."""
    kept = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")}
    if isinstance(kept.get("metadata"), dict):
        kept["metadata"] = {
            k: v for k, v in kept["metadata"].items() if k not in ("name", "namespace")
        }
    if isinstance(kept.get("spec"), dict):  # see LEFT_OUT
        kept["spec"] = {k: v for k, v in kept["spec"].items() if k not in LEFT_OUT}
    return merge_patch(value, kept)


def _substituted(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with its strings substituted; ``value`` itself when none changes."""
    if isinstance(value, dict):
        out = {k: _substituted(v, values) for k, v in value.items()}
        return value if all(out[k] is v for k, v in value.items()) else out
    if isinstance(value, list):
        items = [_substituted(v, values) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, str) and "${" in value:
        text = flux.substitute(value, values)[0]
        return value if text == value else text
    return value
