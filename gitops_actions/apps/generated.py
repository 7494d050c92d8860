"""ConfigMaps and Secrets that a kustomization's ``configMapGenerator`` or
``secretGenerator`` makes, as substitutions (Flux ``postBuild.substituteFrom``) and
HelmRelease ``valuesFrom`` find them in the cluster: by name, so those generated without
the name hash (``options.disableNameSuffixHash`` or the kustomization's
``generatorOptions``), or with it where kustomize writes the hashed name into the object
naming it (a ``nameReference`` of the kustomization's ``configurations``); named with the
kustomization's ``namePrefix``/``nameSuffix``, in its ``namespace``. Their data as
kustomize reads it: ``literals`` (``KEY=VALUE``, one pair of quotes removed), ``envs``
files (``KEY=VALUE`` lines, ``#`` comments) and ``files`` (``[key=]path``: the file's text
under its name)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from gitops_actions.apps.objects import Object, Repo, normpath, parse
from gitops_actions.errors import GitopsError
from gitops_actions.secrets import REDACTOR
from gitops_actions.yamlread.shapes import mapping

_KINDS = {"configMapGenerator": "ConfigMap", "secretGenerator": "Secret"}
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")  # kustomize's IsEnvVarName


# the field of each referring kind that names a ConfigMap or Secret
FIELDS = {
    "HelmRelease": "spec/valuesFrom/name",
    "Kustomization": "spec/postBuild/substituteFrom/name",
}


@dataclass
class _Generator:
    kind: str
    folder: str
    generator: dict[str, Any]
    doc: dict[str, Any]
    references: set[tuple[str, str]] | None  # hashed: (kind, path) rewritten to its name
    made: Object | None = None


def named(repo: Repo, kind: str, name: str, by: Object) -> list[Object]:
    """The generated ConfigMaps or Secrets of the repo with this kind and (final) name that
    ``by`` (a HelmRelease or a Flux Kustomization) finds: one without the name hash, or
    one with it when ``by`` is built with it and its ``configurations`` tell kustomize to
    write the hashed name into ``by``'s field (``nameReference``)."""
    if repo.generated_values is None:
        repo.generated_values = _index(repo)
    found = []
    for item in repo.generated_values.get((kind, name), ()):
        if item.references is not None and not _rewritten(repo, item, by):
            continue
        if item.made is None:  # read once per ref
            item.made = _object(repo, item.kind, item.folder, item.generator, item.doc)
        found.append(item.made)
    return found


def _rewritten(repo: Repo, item: _Generator, by: Object) -> bool:
    field = FIELDS.get(by.kind, "")
    if not item.references or not ({(by.kind, field), ("", field)} & item.references):
        return False
    return any(
        by.file == part or by.file.startswith(part + "/") or part == "."
        for part in repo.closure(item.folder)
    )


def _index(repo: Repo) -> dict[tuple[str, str], list[Any]]:
    """Generators by the (kind, name) of what they make; nothing is read yet."""
    index: dict[tuple[str, str], list[Any]] = {}
    for folder in sorted(repo.kustomizations):
        doc = repo.kustomizations[folder]
        if not any(doc.get(key) for key in _KINDS):
            continue
        hashless = bool(mapping(doc.get("generatorOptions")).get("disableNameSuffixHash"))
        for key, kind in _KINDS.items():
            generators = doc.get(key)
            for generator in generators if isinstance(generators, list) else ():
                if not isinstance(generator, dict) or not generator.get("name"):
                    continue
                if str(generator.get("behavior") or "create") != "create":
                    continue  # merges into one of a base: its data is not here alone
                references = None
                if not mapping(generator.get("options")).get("disableNameSuffixHash", hashless):
                    references = _name_references(repo, folder, doc, kind)
                    if not references:
                        continue  # its name ends in a hash nothing writes where it is named
                final = _final_name(generator, doc)
                found = _Generator(kind, folder, generator, doc, references)
                index.setdefault((kind, final), []).append(found)
    return index


def _name_references(
    repo: Repo, folder: str, doc: dict[str, Any], kind: str
) -> set[tuple[str, str]]:
    """The (referring kind, field path) pairs the kustomization's ``configurations`` add
    to kustomize's ``nameReference`` for ``kind``: where the hashed name is written."""
    found: set[tuple[str, str]] = set()
    for ref in _list(doc.get("configurations")):
        text = _text(repo, normpath(folder, str(ref)))
        for config in parse(text.encode()) if text else ():
            for entry in _list(mapping(config).get("nameReference")):
                if mapping(entry).get("kind") != kind:
                    continue
                for spec in _list(mapping(entry).get("fieldSpecs")):
                    spec = mapping(spec)
                    found.add((str(spec.get("kind") or ""), str(spec.get("path") or "")))
    return found


def _final_name(generator: dict[str, Any], doc: dict[str, Any]) -> str:
    return f"{doc.get('namePrefix') or ''}{generator['name']}{doc.get('nameSuffix') or ''}"


def _object(repo: Repo, kind: str, folder: str, generator: dict[str, Any], doc: Any) -> Object:
    data: dict[str, str] = {}
    sources: list[str] = []
    envs = [*_list(generator.get("envs")), *([generator["env"]] if generator.get("env") else [])]
    for env in envs:
        path = normpath(folder, str(env))
        sources.append(path)
        data.update(_env_file(_text(repo, path)))
    for source in _list(generator.get("files")):
        key, sep, ref = str(source).partition("=")
        path = normpath(folder, ref if sep else key)
        sources.append(path)
        text = _text(repo, path)
        if text is not None:
            data[key if sep else posixpath.basename(path)] = text
    for literal in _list(generator.get("literals")):
        key, sep, text = str(literal).partition("=")
        if sep and key:
            data[key] = _unquoted(text)
    meta = {"name": _final_name(generator, doc)}
    namespace = generator.get("namespace") or doc.get("namespace")
    if namespace:
        meta["namespace"] = str(namespace)
    value: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": meta}
    value["stringData" if kind == "Secret" else "data"] = data
    if kind == "Secret":
        REDACTOR.learn_resources([value])  # never shown, wherever its values go
    file = repo.kustomization_files.get(folder, folder)
    return Object(file, value, sources=tuple(sources))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []  # kustomize refuses anything else


def _text(repo: Repo, path: str) -> str | None:
    try:
        return repo.tree.read(path).decode("utf-8")
    except (GitopsError, OSError, UnicodeDecodeError, KeyError):
        return None  # binaryData, or not there: kustomize says so when it builds


def _env_file(text: str | None) -> dict[str, str]:
    """kustomize's ``envs`` reading: ``KEY=VALUE`` per line, the value as written (quotes
    kept); a line with only a key takes the build's environment, unknown here."""
    found: dict[str, str] = {}
    for line in (text or "").removeprefix("\ufeff").splitlines():
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep and _ENV_NAME.fullmatch(key):
            found[key] = value
    return found


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
