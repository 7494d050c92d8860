"""What the application model is made of: entry points, what feeds them, what was skipped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["flux", "argocd", "kustomize", "helm", "plain"]
KINDS: tuple[Kind, ...] = ("flux", "argocd", "kustomize", "helm", "plain")


@dataclass(frozen=True)
class Helm:
    """How a chart is templated (Argo CD ``source.helm``, or defaults for a bare chart)."""

    release: str = ""
    value_files: tuple[str, ...] = ()  # repo-relative
    values: str = ""  # YAML text (``values`` / ``valuesObject``)
    parameters: tuple[tuple[str, str], ...] = ()  # --set name=value


@dataclass(frozen=True)
class Build:
    """What the agent does beyond ``kustomize build`` of the path, in the agent's terms.

    Kustomize-level options are merged into the path's kustomization (as Flux and Argo CD
    do); the rest applies to the built resources.
    """

    generated: bool = False  # the path has no kustomization: every manifest under it
    recurse: bool = True  # generated: walk subdirectories (Argo CD directory.recurse)
    include: str = ""  # generated: glob of files to take (Argo CD directory.include)
    exclude: str = ""  # generated: glob of files to leave out
    kustomize: Mapping[str, Any] = field(default_factory=dict)  # merged into the kustomization
    common_labels: Mapping[str, str] = field(default_factory=dict)  # Flux commonMetadata
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    substitute: Mapping[str, str] | None = None  # Flux postBuild; None: no substitution
    default_namespace: str = ""  # for namespaced resources without one (Argo CD)
    helm: Helm | None = None  # the path is a chart


@dataclass(frozen=True)
class EntryPoint:
    """One thing the agent applies: a Flux Kustomization, an Argo CD Application, or (with
    no agent object pointing at it) a kustomize root, a Helm chart, a directory of files.

    ``inputs`` are the repo-relative files and directories it is built from; a directory
    stands for every file under it. ``group`` names what applies it: entry points applied
    by one Flux Kustomization tree or one Argo CD app-of-apps share it.
    """

    name: str
    kind: Kind
    path: str  # the directory rendered (a file, for a lone plain manifest set's folder)
    inputs: tuple[str, ...]
    defined_in: str = ""  # the file holding the Flux/Argo CD object
    group: str = ""
    cluster: str = ""  # Argo CD: the destination cluster; resources on two never clash
    build: Build = field(default_factory=Build)
    files: tuple[str, ...] = ()  # plain: the manifests
    parts: tuple[EntryPoint, ...] = ()  # Argo CD multi-source: one entry point per source
    unrenderable: str = ""  # why it cannot be rendered here (a chart from elsewhere)
    notes: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()  # inputs that configure it and are not rendered

    @property
    def rendered_inputs(self) -> tuple[str, ...]:
        """The inputs whose content it renders (not the object defining it, not the
        ConfigMaps its variables come from)."""
        own = set(self.settings) | {self.defined_in}
        parts = (i for p in self.parts for i in p.rendered_inputs)
        return tuple(sorted({*(i for i in self.inputs if i not in own), *parts}))

    def feeds(self, path: str) -> bool:
        """Whether ``path`` (a repo-relative file or directory) is one of its inputs."""
        return any(_inside(path, item) or _inside(item, path) for item in self.inputs)


@dataclass(frozen=True)
class Skipped:
    """A file that is not a resource, and why it is not validated as one."""

    path: str
    reason: str


@dataclass(frozen=True)
class Model:
    entries: tuple[EntryPoint, ...]
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()
    plain_files: tuple[str, ...] = ()  # manifests no entry point covers, validated as files

    def by_kind(self) -> dict[str, int]:
        counts = {kind: 0 for kind in KINDS}
        for entry in self.entries:
            counts[entry.kind] += 1
        return {k: v for k, v in counts.items() if v}

    def affected(self, changed: Iterable[str]) -> list[EntryPoint]:
        paths = [_clean(p) for p in changed]
        return [e for e in self.entries if any(_covers(e, p) for p in paths)]


def _covers(entry: EntryPoint, path: str) -> bool:
    items = (*entry.inputs, *(i for part in entry.parts for i in part.inputs))
    return any(_inside(path, item) for item in items)


def _inside(path: str, folder: str) -> bool:
    return folder in ("", ".") or path == folder or path.startswith(folder + "/")


def _clean(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts) or "."


def outermost(paths: Iterable[str]) -> tuple[str, ...]:
    """The paths, without those inside another one of them."""
    items = set(paths)
    if "" in items:  # the whole repo
        return ("",)
    if "." in items:  # the whole repo too: only what sorts before it stays
        return (*outermost(p for p in items if p < "."), ".")
    kept: list[str] = []
    last = "\0"
    # ordered so that what is inside a path comes right after it ("a/b/c" before "a/b-c")
    for path in sorted(items, key=_tree_order):
        if not path.startswith(last):
            kept.append(path)
            last = path + "/"
    return tuple(sorted(kept))


def _tree_order(path: str) -> str:
    return path.replace("/", "\0")


def under(paths: Sequence[str], folder: str) -> list[str]:
    return [p for p in paths if _inside(p, folder)]
