"""Flux ``Kustomization`` objects whose source is this repo, as entry points."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gitops_actions.apps import applied, generated
from gitops_actions.apps.model import Build, EntryPoint
from gitops_actions.apps.objects import Object, Repo, normpath
from gitops_actions.apps.source import same_repo
from gitops_actions.yamlread.shapes import listed, mapping

API = "kustomize.toolkit.fluxcd.io/"
SOURCE_API = "source.toolkit.fluxcd.io/"
GENERATOR_API = "source.extensions.fluxcd.io/"
DISABLED = "kustomize.toolkit.fluxcd.io/substitute"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[=-])?")  # up to the default, if any


def entries(repo: Repo, repo_url: str) -> Iterator[EntryPoint | str]:
    """Entry points, and notes about Kustomizations that are not (another source...);
    each Kustomization as the one rendering it applies it (``applied``)."""
    ours = elsewhere(repo, repo_url)
    artifacts = _artifacts(repo, ours)

    def resolve(obj: Object) -> EntryPoint | str:
        return _resolve(repo, obj, ours, artifacts)

    objects = list(repo.of_kind(API, "Kustomization"))
    paths = set()
    for found in applied.as_applied(objects, [resolve(o) for o in objects], resolve):
        if isinstance(found, EntryPoint):
            paths.add(found.path)
        yield found
    for folder in sorted(repo.folders):
        names = repo.folders[folder]
        parent = folder.rpartition("/")[0] or "."
        if folder.rpartition("/")[2] != "flux-system" or parent in paths:
            continue
        if ours("flux-system", "flux-system"):
            continue  # the cluster syncs another repo
        bootstrap = next((n for n in ("gotk-sync.yaml", "gotk-components.yaml") if n in names), "")
        if bootstrap:  # what `flux bootstrap --path` applies, whether or not the file says so
            yield _entry(repo, _bootstrap(f"{folder}/{bootstrap}", parent), parent)


def _resolve(
    repo: Repo,
    obj: Object,
    ours: Callable[[str, str], str],
    artifacts: dict[tuple[str, str], list[tuple[str, Rules]]],
) -> EntryPoint | str:
    spec = obj.spec
    ref = mapping(spec.get("sourceRef"))
    label = f"{obj.file}: Kustomization {obj.name}"
    kind = str(ref.get("kind") or "GitRepository")
    namespace, name = str(ref.get("namespace") or obj.namespace), str(ref.get("name"))
    path = normpath(".", str(spec.get("path") or "."))
    if kind == "ExternalArtifact" and (namespace, name) in artifacts:
        found = _in_artifact(_nearest(artifacts[(namespace, name)], obj.file), path)
        if found is None:
            return f"{label}: spec.path {spec.get('path')!r} is not in artifact {name}"
        path = found
    elif kind != "GitRepository":
        return f"{label}: its source is {kind} {ref.get('name')}, not this repo"
    elif ours(namespace, name):
        return f"{label}: its source {ours(namespace, name)} is another repo or branch"
    if not repo.is_dir(path):
        return f"{label}: spec.path {spec.get('path')!r} is not in the repo"
    return _entry(repo, obj, path)


def elsewhere(repo: Repo, repo_url: str) -> Callable[[str, str], str]:
    """For a GitRepository (namespace, name): its URL when it is another repo, or another
    branch of this one (a ref other than the ``flux-system`` source's, like a tenant's
    branch); "" when it is this one, or is not defined in the repo (like the bootstrap
    ``flux-system``)."""
    sources = {(o.namespace, o.name): o for o in repo.of_kind(SOURCE_API, "GitRepository")}
    ours = [o for o in sources.values() if _ours(o, repo_url)]
    home = {_ref(o) for o in ours if o.name == "flux-system"}

    def url_of(namespace: str, name: str) -> str:
        source = sources.get((namespace, name))
        url = str(source.spec.get("url") or "") if source else ""
        if source is None or not url or not repo_url:
            return ""
        if not same_repo(url, repo_url):
            return url
        ref = _ref(source)
        if home and ref not in home:
            return f"{url} ({', '.join(f'{k} {v}' for k, v in ref) or 'its default branch'})"
        return ""

    return url_of


def _ours(source: Object, repo_url: str) -> bool:
    url = str(source.spec.get("url") or "")
    return bool(url and repo_url and same_repo(url, repo_url))


def _ref(source: Object) -> tuple[tuple[str, str], ...]:
    """The ref a GitRepository follows (branch, tag, semver, name, commit)."""
    ref = mapping(source.spec.get("ref"))
    return tuple(sorted((str(k), str(v)) for k, v in ref.items() if isinstance(v, str | int)))


def _bootstrap(file: str, path: str) -> Object:
    return Object(
        file,
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "flux-system", "namespace": "flux-system"},
            "spec": {"path": f"./{path}", "sourceRef": {"kind": "GitRepository"}},
        },
    )


Rules = list[tuple[str, str]]  # (folder in the artifact, folder in the repo)


def _artifacts(
    repo: Repo, ours: Callable[[str, str], str]
) -> dict[tuple[str, str], list[tuple[str, Rules]]]:
    """ExternalArtifacts an ArtifactGenerator makes from this repo: where each of their
    folders comes from (``copy`` rules of whole folders, ``@source/dir/**``), by the file
    of the generator (each cluster of a repo may have its own)."""
    found: dict[tuple[str, str], list[tuple[str, Rules]]] = {}
    for gen in repo.of_kind(GENERATOR_API, "ArtifactGenerator"):
        aliases = {
            str(s.get("alias")): s
            for s in listed(gen.spec.get("sources"))
            if isinstance(s, dict)
            and s.get("kind", "GitRepository") == "GitRepository"
            and not ours(str(s.get("namespace") or gen.namespace), str(s.get("name")))
        }
        for artifact in listed(gen.spec.get("artifacts")):
            rules: Rules = []
            for copy in listed(mapping(artifact).get("copy")):
                source, target = str(mapping(copy).get("from")), str(mapping(copy).get("to"))
                alias, _, rest = source.removeprefix("@").partition("/")
                if alias in aliases and rest.endswith("**") and target.startswith("@artifact/"):
                    folder = normpath(".", rest.removesuffix("**").rstrip("/") or ".")
                    rules.append((normpath(".", target.removeprefix("@artifact/") or "."), folder))
            if rules:
                key = (gen.namespace, str(mapping(artifact).get("name")))
                found.setdefault(key, []).append((gen.file, rules))
    return found


def _nearest(candidates: list[tuple[str, Rules]], file: str) -> Rules:
    """The rules of the generator whose file shares the longest folder path with ``file``."""
    return max(candidates, key=lambda c: _shared(c[0], file))[1]


def _in_artifact(rules: Rules, path: str) -> str | None:
    """The repo folder behind ``path`` of an artifact (the most specific copy rule)."""
    for inside, folder in sorted(rules, key=lambda r: -len(r[0])):
        if inside == "." or path == inside or path.startswith(inside + "/"):
            rest = path if inside == "." else path[len(inside) :].lstrip("/")
            return normpath(folder, rest or ".")
    return None


def _entry(repo: Repo, obj: Object, path: str) -> EntryPoint:
    spec = obj.spec
    generated = path not in repo.kustomizations
    inputs: set[str] = {obj.file}
    if generated:
        files, subs = repo.generated(path)
        inputs |= set(files) | {path}
        for sub in subs:
            inputs |= repo.closure(sub)
    else:
        inputs |= repo.closure(path)
    merged: dict[str, Any] = {}
    components = [c for c in listed(spec.get("components")) if isinstance(c, str)]
    for component in components:
        inputs |= repo.closure(normpath(path, component))
    if components:
        merged["components"] = components
    for key in ("patches", "images"):
        if listed(spec.get(key)):
            merged[key] = list(spec[key])
    for key in ("namePrefix", "nameSuffix"):
        if spec.get(key):
            merged[key] = str(spec[key])
    if spec.get("targetNamespace"):
        merged["namespace"] = str(spec["targetNamespace"])
    meta = mapping(spec.get("commonMetadata"))
    notes: list[str] = []
    substitute = None
    post = spec.get("postBuild")
    settings: set[str] = set()
    if isinstance(post, dict):
        substitute, settings, missing = _variables(repo, obj, post)
        settings -= inputs  # a file it renders as well is rendered, not only a setting
        inputs |= settings
        notes += missing
    name = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
    return EntryPoint(
        name=f"{obj.file}#{name}",
        kind="flux",
        path=path,
        inputs=tuple(sorted(inputs)),
        defined_in=obj.file,
        build=Build(
            generated=generated,
            kustomize=merged,
            common_labels=_strings(meta.get("labels")),
            common_annotations=_strings(meta.get("annotations")),
            substitute=substitute,
            default_namespace=str(spec.get("targetNamespace") or ""),
        ),
        notes=tuple(notes),
        settings=tuple(sorted(settings)),
    )


def _variables(
    repo: Repo, obj: Object, post: dict[str, Any]
) -> tuple[dict[str, str], set[str], list[str]]:
    """The variables of ``postBuild``: ``substituteFrom`` ConfigMaps and Secrets found in the
    repo (in order), then ``substitute``; the files they come from; notes on what is not."""
    values: dict[str, str] = {}
    files: set[str] = set()
    notes: list[str] = []
    for ref in listed(post.get("substituteFrom")):
        if not isinstance(ref, dict):
            continue
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        found = referenced(repo, obj, kind, name)
        if not found:
            if not ref.get("optional"):
                notes.append(f"substituteFrom {kind} {name} is not in the repo")
            continue
        files.update((found[0].file, *found[0].sources))
        values.update(config_data(found[0]))
    values.update(_strings(post.get("substitute")))
    return values, files, notes


def referenced(repo: Repo, obj: Object, kind: str, name: str) -> list[Object]:
    """The ConfigMaps or Secrets of the repo that ``obj`` names, written as resources or
    made by a kustomize generator: in its namespace first, then those applied nearest to
    ``obj`` first (see ``nearness``)."""
    named = [o for o in repo.named(kind, name) if o.api == "v1"]
    named += generated.named(repo, kind, name, obj)
    found = [o for o in named if (o.namespace or obj.namespace) == obj.namespace] or named
    if len(found) > 1:
        found.sort(key=lambda o: -nearness(repo, o.file, obj.file))
    return found


def nearness(repo: Repo, file: str, other: str) -> int:
    """How near ``file`` is applied to ``other`` (an agent object's file): the folders
    ``other`` shares with ``file`` itself, or with a Flux Kustomization whose path renders
    ``file`` (the cluster folder that applies both), whichever shares more."""
    best = _shared(file, other)
    for ks in repo.of_kind(API, "Kustomization"):
        shared = _shared(ks.file, other)
        if shared <= best:
            continue
        path = normpath(".", str(ks.spec.get("path") or "."))
        items = repo.closure(path) if path in repo.kustomizations else {path}
        if any(_inside(file, item) for item in items):
            best = shared
    return best


def _shared(file: str, other: str) -> int:
    """The number of leading folders two files share."""
    count = 0
    for a, b in zip(file.split("/")[:-1], other.split("/")[:-1], strict=False):
        if a != b:
            break
        count += 1
    return count


def _inside(path: str, item: str) -> bool:
    return item == "." or path == item or path.startswith(item + "/")


def config_data(obj: Object) -> dict[str, str]:
    """The string values of a ConfigMap, or a Secret (decoded; SOPS-encrypted ones left out)."""
    found = _strings(obj.value.get("data"))
    if obj.kind != "Secret":
        return found
    decoded = {}
    for key, value in found.items():
        try:
            decoded[key] = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue  # encrypted (SOPS) or not base64: left for the cluster
    return decoded | _strings(obj.value.get("stringData"))


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): _text(v) for k, v in value.items() if not isinstance(v, dict | list)}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def substitute(text: str, values: Mapping[str, str]) -> tuple[str, set[str]]:
    """``text`` with ``${VAR}`` (and ``${VAR:=default}``, ``${VAR:-default}``) replaced as
    Flux does, and the names of variables neither the repo nor a default gives a value.
    Those stay as written: their value comes from the cluster. A default is itself
    substituted (``${CLAIM:-${APP}}``), as Flux's envsubst evaluates it."""
    missing: set[str] = set()
    parts = text.split("$${")  # $${VAR} is an escaped, literal ${VAR}
    return "${".join(_expand(part, values, missing) for part in parts), missing


def _expand(text: str, values: Mapping[str, str], missing: set[str]) -> str:
    out: list[str] = []
    at = 0
    while (start := text.find("${", at)) >= 0:
        out.append(text[at:start])
        head = _VAR.match(text, start)
        end = _closing(text, head.end()) if head else -1
        if head is None or end < 0 or (not head[2] and end != head.end()):
            out.append("${")  # not a variable Flux substitutes: kept as written
            at = start + 2
            continue
        name, op, default = head[1], head[2], text[head.end() : end]
        if name in values and (values[name] != "" or not op or not op.startswith(":")):
            out.append(values[name])
        elif op:
            out.append(_expand(default, values, missing))
        else:
            missing.add(name)
            out.append(text[start : end + 1])
        at = end + 1
    out.append(text[at:])
    return "".join(out)


def _closing(text: str, at: int) -> int:
    """Where the ``}`` closing a ``${`` opened before ``at`` is (nested ``${...}`` in a
    default count), or -1."""
    depth = 1
    while at < len(text):
        if text.startswith("${", at):
            depth, at = depth + 1, at + 2
            continue
        if text[at] == "}":
            depth -= 1
            if depth == 0:
                return at
        at += 1
    return -1


def disabled(resource: Mapping[str, Any]) -> bool:
    meta = resource.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return any(
        isinstance(m, Mapping) and str(m.get(DISABLED, "")).lower() == "disabled"
        for m in (annotations, labels)
    )
