"""Argo CD ``ApplicationSet``s: the Applications their generators make from what the repo
holds. ``list``, ``git`` (directories, files), ``clusters`` (the cluster Secrets of the
repo, and the in-cluster default), and ``matrix`` and ``merge`` of those; the others
(SCM provider, pull request, plugin, cluster decision resource) draw on what only the
cluster knows and are named in a note."""

from __future__ import annotations

import fnmatch
import functools
import json
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from gitops_actions.apps import appfill
from gitops_actions.apps.flux import config_data
from gitops_actions.apps.helmvalues import merge  # mappings merge key by key, as Argo CD's
from gitops_actions.apps.objects import Object, Repo, parse
from gitops_actions.yamlread.shapes import listed, mapping

API = "argoproj.io/"
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
    try:
        fill = appfill.filler(spec)
    except appfill.Unsupported as err:
        yield f"{label}: {err}"
        return
    patch = spec.get("templatePatch")
    if patch is not None and not (fill.go and isinstance(patch, str)):
        yield f"{label}: templatePatch needs goTemplate and a string; not applied"
        return
    for generator in listed(spec.get("generators")):
        if not isinstance(generator, dict):
            continue
        notes: list[str] = []
        try:
            params = _params(repo, generator, notes, _NESTING, fill)
        except _Unread as err:
            yield f"{label}: {err}"
            continue
        own = _own_template(generator)
        chosen = mapping(generator.get("selector"))
        made: list[dict[str, Any]] = []
        for param in params:
            if chosen and not _selects(chosen, appfill.flat(param)):
                continue  # the generator's selector filters its parameters
            app = appfill.application(
                merge(template, own) if own else template, param, fill, patch, notes
            )
            if app is not None:
                made.append(app)
        yield from (f"{label}: {note}" for note in dict.fromkeys(notes))
        yield from made


def _own_template(generator: dict[str, Any]) -> dict[str, Any]:
    """A generator's own ``template``: its fields override the ApplicationSet's."""
    for key, config in generator.items():
        if key not in _OPTIONS and isinstance(config, dict):
            return mapping(config.get("template"))
    return {}


def _params(
    repo: Repo, generator: Any, notes: list[str], depth: int, fill: appfill.Fill
) -> list[dict[str, Any]]:
    if not isinstance(generator, dict):
        return []
    kinds = sorted(k for k in generator if k not in _OPTIONS)
    kind = kinds[0] if len(kinds) == 1 else ", ".join(kinds)
    config = generator.get(kind)
    if not isinstance(config, dict):
        raise _Unread(f"{kind or 'empty'} generator is not read")
    if kind == "list":
        return [*_elements(config.get("elements")), *_elements_yaml(config.get("elementsYaml"))]
    if kind == "git":
        found = list(_git_params(repo, config))
        if not found:  # most often a path that moved or a typo: Argo CD makes nothing
            asked = [config.get("directories"), config.get("files")]
            entries = [d for a in asked if isinstance(a, list) for d in a if isinstance(d, dict)]
            paths = ", ".join(sorted({str(d.get("path")) for d in entries if not d.get("exclude")}))
            notes.append(f"git generator: nothing in the repo matches {paths or 'no path'}")
        prefix = str(config.get("pathParamPrefix") or "")
        if prefix:  # the path's parameters go under the prefix, a file's keys stay
            found = [{**_without(p, "path"), prefix: {"path": p["path"]}} for p in found]
        return _with_values(found, config, fill, "git")
    if kind == "clusters":
        return _cluster_params(repo, config, notes, fill)
    if kind in ("matrix", "merge") and depth > 0:
        children = [g for g in listed(config.get("generators")) if isinstance(g, dict)]
        if kind == "matrix":
            return _matrix(repo, children, notes, depth - 1, fill)
        keys = [str(k) for k in listed(config.get("mergeKeys"))]
        return _merge(repo, children, keys, notes, depth - 1, fill)
    raise _Unread(f"{kind} generator is not read: its parameters are not in the repo")


def _elements(items: Any) -> list[dict[str, Any]]:
    return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


def _elements_yaml(text: Any) -> list[dict[str, Any]]:
    """``elementsYaml``: a YAML list of elements (in a matrix, often made from the first
    generator's parameters: ``{{ .key.components | toJson }}``)."""
    if not isinstance(text, str) or not text.strip():
        return []
    if "{{" in text:
        raise _Unread("list generator: elementsYaml keeps a placeholder no generator fills")
    docs = parse(text.encode())
    if len(docs) != 1 or not isinstance(docs[0], list):
        raise _Unread("list generator: elementsYaml is not a YAML list")
    return _elements(docs[0])


def _without(params: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != key}


def _matrix(
    repo: Repo, children: list[dict[str, Any]], notes: list[str], depth: int, fill: appfill.Fill
) -> list[dict[str, Any]]:
    """Every combination of the two children's parameters; the second child may use the
    first's parameters (a git path from a list element)."""
    if len(children) != 2:
        raise _Unread(f"matrix generator has {len(children)} generators, not 2")
    out = []
    for first in _params(repo, children[0], notes, depth, fill):
        try:
            second = fill(children[1], first)
        except (appfill.Unsupported, appfill.Failed) as err:
            raise _Unread(
                f"matrix generator: the second generator cannot be filled: {err}"
            ) from None
        out += [merge(first, other) for other in _params(repo, second, notes, depth, fill)]
    return out


def _merge(
    repo: Repo,
    children: list[dict[str, Any]],
    keys: list[str],
    notes: list[str],
    depth: int,
    fill: appfill.Fill,
) -> list[dict[str, Any]]:
    """The first child's parameters, each overridden by the parameters of a later child
    that have the same values for every merge key."""
    if not children or not keys:
        raise _Unread("merge generator without generators or mergeKeys")
    base = _params(repo, children[0], notes, depth, fill)
    for child in children[1:]:
        for other in _params(repo, child, notes, depth, fill):
            wanted = _key(other, keys)
            for index, params in enumerate(base):
                if _key(params, keys) == wanted:
                    base[index] = merge(params, other)
    return base


def _key(params: dict[str, Any], keys: list[str]) -> tuple[str | None, ...]:
    flat = appfill.flat(params)
    return tuple(flat.get(k) for k in keys)


def _cluster_params(
    repo: Repo, config: dict[str, Any], notes: list[str], fill: appfill.Fill
) -> list[dict[str, Any]]:
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
    return _with_values(chosen, config, fill, "clusters")


def _with_values(
    found: list[dict[str, Any]], config: dict[str, Any], fill: appfill.Fill, kind: str
) -> list[dict[str, Any]]:
    """A generator's ``values``, each filled from the parameters it is added to."""
    values = mapping(config.get("values"))
    for params in found if values else ():
        try:
            params["values"] = {str(k): fill(str(v), params) for k, v in values.items()}
        except (appfill.Unsupported, appfill.Failed) as err:
            raise _Unread(f"{kind} generator: values cannot be filled: {err}") from None
    return found


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector over a cluster's labels (the in-cluster default has none, so any
    selector leaves it out) or a generator's parameters; an empty one selects all."""
    if not selector:
        return True
    for key, value in mapping(selector.get("matchLabels")).items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in listed(selector.get("matchExpressions")):
        if not isinstance(expression, dict):
            continue
        key, operator = str(expression.get("key")), str(expression.get("operator"))
        values = [str(v) for v in listed(expression.get("values"))]
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
    directories = [d for d in listed(git.get("directories")) if isinstance(d, dict)]
    included = [str(d.get("path")) for d in directories if not d.get("exclude")]
    excluded = [str(d.get("path")) for d in directories if d.get("exclude")]
    for folder in folders:
        if any(path_match(p, folder) for p in included) and not any(
            path_match(p, folder) for p in excluded
        ):
            yield _path_params(folder)
    for entry in listed(git.get("files")):
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


def parameter_files(repo: Repo) -> Iterator[tuple[str, str]]:
    """The files git file generators read (their keys are parameters, not resources)."""
    for obj in repo.of_kind(API, "ApplicationSet"):
        patterns = [str(f.get("path")) for f in _file_entries(obj.spec.get("generators"), 0)]
        for file in repo.files:
            if any(fnmatch.fnmatchcase(file, p) for p in patterns):
                yield file, f"parameters of ApplicationSet {obj.name}"


def _file_entries(generators: Any, depth: int) -> Iterator[dict[str, Any]]:
    for generator in generators if isinstance(generators, list) and depth <= _NESTING else ():
        for kind, config in mapping(generator).items():
            config = mapping(config)
            if kind == "git":
                yield from (f for f in listed(config.get("files")) if isinstance(f, dict))
            elif kind in ("matrix", "merge"):
                yield from _file_entries(config.get("generators"), depth + 1)


def path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``, as the git directory generator matches folders: ``*`` and ``?``
    stay within one folder name, ``[^...]`` negates, ``\\`` escapes; a malformed pattern
    matches nothing."""
    compiled = _go_glob(pattern)
    return compiled is not None and compiled.fullmatch(name) is not None


@functools.lru_cache(maxsize=512)
def _go_glob(pattern: str) -> re.Pattern[str] | None:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if index == len(pattern):
                return None
            out.append(re.escape(pattern[index]))
            index += 1
        elif char == "[":
            end = pattern.find("]", index + 1 if pattern[index : index + 1] == "^" else index)
            if end < 0:
                return None
            body = pattern[index:end]
            negated = body.startswith("^")
            ranges = re.sub(r"([\\\]\[^])", r"\\\1", body[1:] if negated else body)
            if not ranges:
                return None
            out.append(f"[{'^/' if negated else ''}{ranges}]")
            index = end + 1
        else:
            out.append(re.escape(char))
    return re.compile("".join(out))


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
