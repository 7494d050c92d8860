"""Render kustomizations and Helm charts, and trace findings back to the files behind them.

Rendering goes through ``proc.run``. Tracing is paid for only when a rendered resource
has findings: the kustomization is rendered once more, wrapped so that kustomize adds
``config.kubernetes.io/origin`` and transformer annotations, and each finding moves to
the file (and, where the path exists there, the line) that produced it. Helm output
names its template in ``# Source:`` comments.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gitops_actions.errors import ExternalError, InputError
from gitops_actions.proc import ProcessFailed, run
from gitops_actions.validate import positions
from gitops_actions.validate.findings import SCHEMA, Finding
from gitops_actions.validate.inputs import CHART_FILE, kustomization_file
from gitops_actions.yamlread import loader
from gitops_actions.yamlread.shapes import listed

RENDER_TIMEOUT = 180
_NEEDS_HELM = "must specify --enable-helm"
_ACCUMULATING = re.compile(r"accumulating resources from '([^']+)'")
_REMOTE = re.compile(r"(?:[a-z][a-z0-9+.-]*://|git@|(?:github|gitlab|bitbucket)\.(?:com|org)/)")
HELM_CHARTS_SKIPPED = (
    "its helmCharts are inflated only by kustomize --enable-helm, which downloads the "
    "charts, so it was not rendered offline"
)
ORIGIN = "config.kubernetes.io/origin"
TRANSFORMATIONS = "alpha.config.kubernetes.io/transformations"
_SOURCE = re.compile(r"^# Source: (.+)$", re.MULTILINE)
_KLOG_ERROR = re.compile(r'"command failed" err="(.*)"\s*$')
_SECURITY = re.compile(
    r"accumulating resources from '([^']*)': security; file '([^']*)' is not in or below '([^']*)'"
)


@dataclass(frozen=True)
class Rendered:
    """A kustomization or chart: its rendered text, or why there is none."""

    directory: Path
    tool: str  # kustomize or helm
    file: str  # the file findings fall back to (kustomization.yaml, Chart.yaml)
    text: str | None = None
    error: str = ""  # it could not be rendered
    skipped: str = ""  # it was not rendered, on purpose

    @property
    def label(self) -> str:
        return f"{self.tool} {self.directory}"


@cache
def kustomize_command() -> tuple[str, ...] | None:
    """``kustomize build`` when that binary is installed, else ``kubectl kustomize``."""
    if shutil.which("kustomize"):
        return ("kustomize", "build")
    if shutil.which("kubectl"):
        return ("kubectl", "kustomize")
    return None


def render_kustomization(
    directory: Path,
    env: Mapping[str, str] | None = None,
    *,
    unrestricted: bool = False,
    shown: str = "",
) -> Rendered:
    """``kustomize build`` of ``directory``; ``unrestricted`` lets it read files outside
    (a generated kustomization beside the repo's files)."""
    file = kustomization_file(directory) or directory / "kustomization.yaml"
    shown = shown or str(file)
    if _is_component(file):
        return Rendered(
            directory,
            "kustomize",
            shown,
            skipped="a kustomize Component is rendered by the kustomizations that use it",
        )
    command = kustomize_command()
    if command is None:
        return Rendered(
            directory,
            "kustomize",
            shown,
            error="cannot render: neither kustomize nor kubectl is installed",
        )
    extra = ["--load-restrictor", "LoadRestrictionsNone"] if unrestricted else []
    try:
        done = run([*command, str(directory), *extra], env=env, timeout=RENDER_TIMEOUT)
    except ProcessFailed as err:
        output = err.stderr or err.stdout
        if _NEEDS_HELM in output:  # valid input, but not renderable offline
            return Rendered(directory, "kustomize", shown, skipped=HELM_CHARTS_SKIPPED)
        remote = next((u for u in _ACCUMULATING.findall(output) if _REMOTE.match(u)), None)
        if remote is not None:  # not the repo's to fix: its remote base is out of reach
            why = f"its remote resource {remote} could not be fetched, so it was not rendered"
            return Rendered(directory, "kustomize", shown, skipped=why)
        return Rendered(directory, "kustomize", shown, error=_last_error(output))
    except ExternalError as err:
        return Rendered(directory, "kustomize", shown, error=err.message)
    return Rendered(directory, "kustomize", shown, text=done.stdout)


def render_chart(
    directory: Path,
    env: Mapping[str, str] | None = None,
    *,
    release: str = "",
    options: Sequence[str] = (),
    shown: str = "",
) -> Rendered:
    """``helm template`` of the chart in ``directory``; ``options`` are more arguments
    (``--values FILE``, ``--set k=v``, ``--namespace NS``)."""
    shown = shown or str(directory / CHART_FILE)
    if not shutil.which("helm"):
        return Rendered(
            directory, "helm", shown, skipped="helm is not installed, so the chart was not rendered"
        )
    name = release or (
        re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-") or "release"
    )
    try:
        done = run(
            ["helm", "template", name, str(directory), *options], env=env, timeout=RENDER_TIMEOUT
        )
    except ProcessFailed as err:
        return Rendered(directory, "helm", shown, error=_last_error(err.stderr or err.stdout))
    except ExternalError as err:
        return Rendered(directory, "helm", shown, error=err.message)
    return Rendered(directory, "helm", shown, text=done.stdout)


def _is_component(file: Path) -> bool:
    data = _first(file)
    return isinstance(data, dict) and data.get("kind") == "Component"


def _first(file: Path) -> Any:
    """The first document of a file, or None when it cannot be read."""
    try:
        docs = loader.read_values(file.read_bytes(), str(file))
    except (OSError, InputError):
        return None
    return docs[0] if docs else None


def _parse(annotation: Any) -> Any:
    """An annotation holding YAML (kustomize's origin and transformations), or None."""
    if not isinstance(annotation, str):
        return None
    try:
        docs = loader.read_values(annotation, "annotation")
    except InputError:
        return None
    return docs[0] if docs else None


def _last_error(output: str) -> str:
    """The gist of a renderer's error output (kubectl wraps it in a klog line)."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    text = " | ".join(lines[-3:]) if lines else "no output"
    wrapped = _KLOG_ERROR.search(text)
    if wrapped:
        text = wrapped[1].replace('\\"', '"')
    security = _SECURITY.search(text)
    if security:  # kustomize's load restrictor, said once instead of three times
        text = f"{security[1]}: {security[2]} is not in or below {security[3]}"
    return "cannot render: " + text.removeprefix("Error: ")


# -- tracing --------------------------------------------------------------------------------
def trace(
    rendered: Rendered,
    findings: list[Finding],
    env: Mapping[str, str] | None = None,
    *,
    rename: Callable[[str], str] | None = None,
) -> list[Finding]:
    """``findings`` about the rendered output, moved to the files that produced them.

    A finding's resource is matched by kind and name in the annotated render (``rename``
    turns names there into the rendered ones, as a substitution does), else by position.
    """
    if not findings:
        return []
    if rendered.tool == "helm":
        return [_trace_helm(rendered, f) for f in findings]
    origins = _kustomize_origins(rendered.directory, env)
    named: dict[tuple[str, str], list[_Origin]] = {}
    for origin in origins.values():
        name = rename(origin.name) if rename else origin.name
        named.setdefault((origin.kind, name), []).append(origin)
    out = []
    for finding in findings:
        resource = finding.resource
        found = named.get((resource.kind, resource.name), []) if resource else []
        chosen = found[0] if len(found) == 1 else origins.get(finding.document)
        out.append(_trace_kustomize(rendered, finding, chosen))
    return out


@dataclass(frozen=True)
class _Origin:
    file: Path | None  # None: generated (configMapGenerator) or remote
    patches: tuple[Path, ...]  # kustomization files whose patches touched it
    kind: str = ""
    name: str = ""


def _kustomize_origins(directory: Path, env: Mapping[str, str] | None) -> dict[int, _Origin]:
    """Document index (1-based) -> where it came from, from a second, annotated render."""
    command = kustomize_command()
    if command is None:
        return {}
    with tempfile.TemporaryDirectory(prefix="gitops-validate-") as tmp:
        wrapper = Path(tmp)
        target = os.path.relpath(directory.resolve(), wrapper)
        (wrapper / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"resources:\n- {_quoted(target)}\n"
            "buildMetadata: [originAnnotations, transformerAnnotations]\n",
            encoding="utf-8",
        )
        try:
            done = run(
                [*command, str(wrapper), "--load-restrictor", "LoadRestrictionsNone"],
                env=env,
                timeout=RENDER_TIMEOUT,
            )
        except ExternalError:
            return {}
        origins: dict[int, _Origin] = {}
        try:
            docs = loader.read_values(done.stdout, "kustomize output")
        except InputError:
            return {}
        for index, doc in enumerate(docs, start=1):
            meta = (doc or {}).get("metadata") or {}
            annotations = meta.get("annotations") or {}
            origins[index] = _Origin(
                _origin_file(wrapper, annotations.get(ORIGIN)),
                _patch_sources(wrapper, annotations.get(TRANSFORMATIONS)),
                str((doc or {}).get("kind") or ""),
                str(meta.get("name") or ""),
            )
        return origins


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _origin_file(wrapper: Path, annotation: Any) -> Path | None:
    origin = _parse(annotation)
    if not isinstance(origin, dict) or "repo" in origin or not isinstance(origin.get("path"), str):
        return None
    return Path(os.path.normpath(wrapper / origin["path"]))


def _patch_sources(wrapper: Path, annotation: Any) -> tuple[Path, ...]:
    steps = _parse(annotation)
    found: list[Path] = []
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        by = step.get("configuredBy") or {}
        if "Patch" in str(by.get("kind", "")) and isinstance(step.get("configuredIn"), str):
            path = Path(os.path.normpath(wrapper / step["configuredIn"]))
            if path not in found:
                found.append(path)
    return tuple(found)


def _trace_kustomize(rendered: Rendered, finding: Finding, origin: _Origin | None) -> Finding:
    """Where the value at fault was written: a patch that sets exactly that path, else the
    resource's own file (at the deepest part of the path it has)."""
    moved = dataclasses.replace(
        finding, file=rendered.file, line=1, column=1, origin=finding.origin or rendered.label
    )
    if origin is None or origin.file is None:
        return moved
    patches: list[Path] = []
    if finding.parts and not finding.message.startswith("missing required field"):
        for kustomization in reversed(origin.patches):
            patches.extend(_patch_files(kustomization))
    for path in patches:
        found = _find_in_file(path, finding, exact=True)
        if found is not None:
            return _at(moved, path, found)
    found = _find_in_file(origin.file, finding, exact=False)
    if found is None:
        return dataclasses.replace(moved, file=shown_path(origin.file))
    return _at(moved, origin.file, found)


def _at(finding: Finding, path: Path, found: tuple[int, int, int]) -> Finding:
    document, line, column = found
    return dataclasses.replace(
        finding, file=shown_path(path), line=line, column=column, document=document
    )


def _patch_files(kustomization: Path) -> Iterable[Path]:
    data = _first(kustomization)
    if not isinstance(data, dict):
        return
    entries = listed(data.get("patches")) + listed(data.get("patchesStrategicMerge"))
    for entry in entries:
        path = entry.get("path") if isinstance(entry, dict) else entry
        if isinstance(path, str) and "\n" not in path:
            yield Path(os.path.normpath(kustomization.parent / path))


def _find_in_file(path: Path, finding: Finding, *, exact: bool) -> tuple[int, int, int] | None:
    """The document of ``path`` that holds ``finding``'s resource, and the line and column
    of its path there (the deepest part that exists; with ``exact``, all of it or None)."""
    try:
        text = path.read_text(encoding="utf-8")
        documents = list(loader.documents(text))
    except (OSError, UnicodeDecodeError, loader.LoadError):
        return None
    resource = finding.resource
    matches = [
        d
        for d in documents
        if isinstance(d.value, dict) and (resource is None or d.value.get("kind") == resource.kind)
    ]
    if resource is not None and len(matches) > 1:
        named = [d for d in matches if _name(d.value) and _name(d.value) in resource.name]
        matches = named or matches
    if not matches:
        return None
    document = matches[0]
    depth = positions.reach(document.node, finding.parts)
    if exact and depth < len(finding.parts):
        return None
    parts = finding.parts[:depth]
    key = finding.check == SCHEMA and finding.message.startswith("unknown field")
    if key and depth == len(finding.parts) and parts:
        line, column = positions.locate_key(document.node, parts)
    else:
        line, column = positions.locate(document.node, parts)
    return document.index, line, column


def _name(value: dict[str, Any]) -> str:
    meta = value.get("metadata")
    return str(meta.get("name") or "") if isinstance(meta, dict) else ""


def _trace_helm(rendered: Rendered, finding: Finding) -> Finding:
    """To the template named in the ``# Source:`` comment before the document; the line is
    the first that sets the last key of the path (templates are not YAML, so no more)."""
    moved = dataclasses.replace(
        finding, file=rendered.file, line=1, column=1, origin=finding.origin or rendered.label
    )
    text = rendered.text or ""
    node = loader.compose_document(text, finding.document)
    if node is None:
        return moved
    sources = _SOURCE.findall(text, 0, node.start_mark.index)
    if not sources:
        return moved
    relative = Path(sources[-1].strip()).parts[1:]  # drop the chart's name
    template = rendered.directory.joinpath(*relative)
    line = 1
    key = next((p for p in reversed(finding.parts) if isinstance(p, str)), None)
    if key and template.is_file():
        source = template.read_text(encoding="utf-8", errors="replace")
        match = re.search(rf"^[ \t]*(?:- )?{re.escape(key)}[ \t]*:", source, re.MULTILINE)
        if match:
            line = source.count("\n", 0, match.start()) + 1
    return dataclasses.replace(moved, file=shown_path(template), line=line)


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
