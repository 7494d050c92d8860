"""Argo CD ``ApplicationSet``s: the Applications their generators make from what the repo
holds. ``list``, ``git`` (directories, files), ``clusters`` (the cluster Secrets of the
repo, and the in-cluster default), and ``matrix`` and ``merge`` of those; the others
(SCM provider, pull request, plugin, cluster decision resource) draw on what only the
cluster knows and are named in a note."""

from __future__ import annotations

import copy
import fnmatch
import json
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from gitops_actions.apps.flux import config_data
from gitops_actions.apps.helmvalues import merge  # mappings merge key by key, as Argo CD's
from gitops_actions.apps.objects import Object, Repo, mapping, parse

_PLACEHOLDER = re.compile(r"\{\{-?\s*\.?([A-Za-z0-9_.\[\]-]+)\s*-?\}\}")
SECRET_TYPE = "argocd.argoproj.io/secret-type"
IN_CLUSTER = ("in-cluster", "https://kubernetes.default.svc")
_NESTING = 3  # matrix and merge hold generators, which may be matrix or merge again
_OPTIONS = ("selector", "template", "values")  # beside the generator's kind


class _Unread(Exception):
    """A generator whose parameters are not in the repo."""


def generate(repo: Repo, obj: Object) -> Iterator[dict[str, Any] | str]:
    """Each Application ``obj`` generates, and notes on what it cannot."""
    spec = obj.spec
    template = spec.get("template")
    label = f"{obj.file}: ApplicationSet {obj.name}"
    if not isinstance(template, dict):
        yield f"{label}: no template"
        return
    for generator in spec.get("generators") or ():
        if not isinstance(generator, dict):
            continue
        notes: list[str] = []
        try:
            params = _params(repo, generator, notes, _NESTING)
        except _Unread as err:
            yield f"{label}: {err}"
            continue
        yield from (f"{label}: {note}" for note in dict.fromkeys(notes))
        own = _own_template(generator)
        chosen = mapping(generator.get("selector"))
        for param in params:
            flat = _flat(param)
            if chosen and not _selects(chosen, flat):
                continue  # the generator's selector filters its parameters
            app = _fill(merge(template, own) if own else copy.deepcopy(template), flat)
            missing = _unfilled(app)
            if missing:
                name = mapping(app.get("metadata")).get("name")
                yield f"{label}: Application {name}: no generator gives {', '.join(missing)}"
                continue
            app.setdefault("apiVersion", "argoproj.io/v1alpha1")
            app["kind"] = "Application"
            yield app


def _own_template(generator: dict[str, Any]) -> dict[str, Any]:
    """A generator's own ``template``: its fields override the ApplicationSet's."""
    for key, config in generator.items():
        if key not in _OPTIONS and isinstance(config, dict):
            return mapping(config.get("template"))
    return {}


def _params(repo: Repo, generator: Any, notes: list[str], depth: int) -> list[dict[str, Any]]:
    if not isinstance(generator, dict):
        return []
    kinds = sorted(k for k in generator if k not in _OPTIONS)
    kind = kinds[0] if len(kinds) == 1 else ", ".join(kinds)
    config = generator.get(kind)
    if not isinstance(config, dict):
        raise _Unread(f"{kind or 'empty'} generator is not read")
    if kind == "list":
        return [e for e in config.get("elements") or () if isinstance(e, dict)]
    if kind == "git":
        return list(_git_params(repo, config))
    if kind == "clusters":
        return _cluster_params(repo, config, notes)
    if kind in ("matrix", "merge") and depth > 0:
        children = [g for g in config.get("generators") or () if isinstance(g, dict)]
        if kind == "matrix":
            return _matrix(repo, children, notes, depth - 1)
        keys = [str(k) for k in config.get("mergeKeys") or ()]
        return _merge(repo, children, keys, notes, depth - 1)
    raise _Unread(f"{kind} generator is not read: its parameters are not in the repo")


def _matrix(
    repo: Repo, children: list[dict[str, Any]], notes: list[str], depth: int
) -> list[dict[str, Any]]:
    """Every combination of the two children's parameters; the second child may use the
    first's parameters (a git path from a list element)."""
    if len(children) != 2:
        raise _Unread(f"matrix generator has {len(children)} generators, not 2")
    out = []
    for first in _params(repo, children[0], notes, depth):
        second = _fill(copy.deepcopy(children[1]), _flat(first))
        out += [merge(first, other) for other in _params(repo, second, notes, depth)]
    return out


def _merge(
    repo: Repo, children: list[dict[str, Any]], keys: list[str], notes: list[str], depth: int
) -> list[dict[str, Any]]:
    """The first child's parameters, each overridden by the parameters of a later child
    that have the same values for every merge key."""
    if not children or not keys:
        raise _Unread("merge generator without generators or mergeKeys")
    base = _params(repo, children[0], notes, depth)
    for child in children[1:]:
        for other in _params(repo, child, notes, depth):
            wanted = _key(other, keys)
            for index, params in enumerate(base):
                if _key(params, keys) == wanted:
                    base[index] = merge(params, other)
    return base


def _key(params: dict[str, Any], keys: list[str]) -> tuple[str | None, ...]:
    flat = _flat(params)
    return tuple(flat.get(k) for k in keys)


def _cluster_params(repo: Repo, config: dict[str, Any], notes: list[str]) -> list[dict[str, Any]]:
    """A cluster Secret of the repo (labelled ``argocd.argoproj.io/secret-type: cluster``)
    per matching cluster, and the in-cluster default when no selector narrows them and no
    Secret stands for it."""
    selector = mapping(config.get("selector"))
    found: list[dict[str, Any]] = []
    for secret in repo.of_kind("v1", "Secret"):
        labels = mapping(mapping(secret.value.get("metadata")).get("labels"))
        if secret.api != "v1" or labels.get(SECRET_TYPE) != "cluster":
            continue
        data = config_data(secret)
        meta = mapping(secret.value.get("metadata"))
        found.append(
            {
                "name": data.get("name", ""),
                "nameNormalized": _normalized(data.get("name", "")),
                "server": data.get("server", ""),
                "project": data.get("project", ""),
                "metadata": {
                    "labels": {str(k): str(v) for k, v in labels.items()},
                    "annotations": {
                        str(k): str(v) for k, v in mapping(meta.get("annotations")).items()
                    },
                },
            }
        )
    if not any(c["server"] == IN_CLUSTER[1] for c in found):
        name, server = IN_CLUSTER
        found.insert(
            0,
            {
                "name": name,
                "nameNormalized": name,
                "server": server,
                "project": "",
                "metadata": {"labels": {}, "annotations": {}},
            },
        )
    chosen = [c for c in found if _selects(selector, c["metadata"]["labels"])]
    if not any(c["metadata"]["labels"] for c in chosen):  # the in-cluster default at most
        notes.append(
            "clusters generator: no cluster Secret in the repo"
            + (" matches its selector" if selector else "")
            + "; clusters known only to Argo CD are not seen here"
        )
    values = mapping(config.get("values"))
    for params in chosen:
        if values:
            flat = _flat(params)
            params["values"] = {str(k): _fill(str(v), flat) for k, v in values.items()}
    return chosen


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector over a cluster's labels (the in-cluster default has none, so any
    selector leaves it out) or a generator's parameters; an empty one selects all."""
    if not selector:
        return True
    for key, value in mapping(selector.get("matchLabels")).items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in selector.get("matchExpressions") or ():
        if not isinstance(expression, dict):
            continue
        key, operator = str(expression.get("key")), str(expression.get("operator"))
        values = [str(v) for v in expression.get("values") or ()]
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _git_params(repo: Repo, git: dict[str, Any]) -> Iterator[dict[str, Any]]:
    folders = sorted({f for f in repo.folders} | {_parents_of(f) for f in repo.folders} - {""})
    directories = [d for d in git.get("directories") or () if isinstance(d, dict)]
    included = [str(d.get("path")) for d in directories if not d.get("exclude")]
    excluded = [str(d.get("path")) for d in directories if d.get("exclude")]
    for folder in folders:
        if any(fnmatch.fnmatchcase(folder, p) for p in included) and not any(
            fnmatch.fnmatchcase(folder, p) for p in excluded
        ):
            yield _path_params(folder)
    for entry in git.get("files") or ():
        if not isinstance(entry, dict):
            continue
        pattern = str(entry.get("path") or "")
        for file in repo.files:
            if fnmatch.fnmatchcase(file, pattern):
                for doc in _documents(repo, file):
                    params = _path_params(posixpath.dirname(file) or ".")
                    params["path"]["filename"] = posixpath.basename(file)
                    params["path"]["filenameNormalized"] = _normalized(posixpath.basename(file))
                    yield {**doc, **params}


def _parents_of(folder: str) -> str:
    return posixpath.dirname(folder)


def _documents(repo: Repo, file: str) -> list[dict[str, Any]]:
    data = repo.tree.read(file)
    if file.endswith(".json"):
        try:
            loaded = json.loads(data)
        except ValueError:
            return []
        docs = loaded if isinstance(loaded, list) else [loaded]
    else:
        docs = parse(data)
    return [d for d in docs if isinstance(d, dict)]


def _path_params(folder: str) -> dict[str, Any]:
    base = posixpath.basename(folder)
    return {
        "path": {
            "path": folder,
            "basename": base,
            "basenameNormalized": _normalized(base),
            "segments": folder.split("/"),
        }
    }


def _normalized(text: str) -> str:
    return re.sub(r"[^a-z0-9-.]", "-", text.lower())


def _flat(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"path": {"basename": "x"}}`` as ``{"path.basename": "x", "path": ...}``;
    ``path`` alone is the path, as the git generator's flat parameters have it."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, name + "."))
            if "path" in value and not prefix and key == "path":
                flat[name] = str(value["path"])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                flat[f"{name}[{index}]"] = str(item)
                if name == "path.segments":
                    flat[f"path[{index}]"] = str(item)
        else:
            flat[name] = "" if value is None else str(value)
    if "path.path" in flat:
        flat.setdefault("path", flat["path.path"])
    return flat


def _unfilled(app: dict[str, Any]) -> list[str]:
    """Placeholders left in the sources' paths: a parameter no generator gives."""
    spec = mapping(app.get("spec"))
    sources = [spec.get("source"), *(spec.get("sources") or [])]
    paths = [str(s.get("path")) for s in sources if isinstance(s, dict) and s.get("path")]
    return sorted({m[0] for p in paths for m in _PLACEHOLDER.finditer(p)})


def _fill(node: Any, params: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {_fill(k, params): _fill(v, params) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, params) for v in node]
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: params.get(m[1], m[0]), node)
    return node
