"""What validation finds: one frozen record per problem, with where and what."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Severity = Literal["error", "warning"]

# check names, as reports show them
YAML = "yaml"  # the file cannot be read or parsed
DUPLICATE_KEY = "duplicate-key"
SCHEMA = "schema"
MISSING_SCHEMA = "missing-schema"
NOT_A_RESOURCE = "not-a-resource"
DUPLICATE_RESOURCE = "duplicate-resource"
REMOVED_API = "removed-api"
DEPRECATED_API = "deprecated-api"
RENDER = "render"

CHECKS: dict[str, str] = {
    YAML: "the file is not readable YAML or JSON",
    DUPLICATE_KEY: "a mapping repeats a key",
    SCHEMA: "the resource does not match its schema",
    MISSING_SCHEMA: "no schema is known for the resource's kind",
    NOT_A_RESOURCE: "the document is not a Kubernetes resource",
    DUPLICATE_RESOURCE: "two resources share group, kind, namespace and name",
    REMOVED_API: "the apiVersion is removed in the target Kubernetes version",
    DEPRECATED_API: "the apiVersion is deprecated in the target Kubernetes version",
    RENDER: "a kustomization or chart cannot be rendered",
}


class Resource(NamedTuple):
    """A resource's identity: the same group, kind, namespace and name is the same object."""

    api_version: str
    kind: str
    namespace: str = ""
    name: str = ""

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}".rstrip()


@dataclass(frozen=True)
class Finding:
    """One problem: file, line and column (1-based), the document, the resource, the
    JSON path inside it, and a message. ``check`` names the rule that found it."""

    file: str
    line: int
    column: int
    check: str
    message: str
    severity: Severity = "error"
    document: int = 0  # 1-based index of the YAML document in the file; 0: the whole file
    resource: Resource | None = None
    path: str = ""  # e.g. .spec.template.spec.containers[0].image
    origin: str = ""  # the kustomization or chart that rendered the resource, if any
    parts: tuple[str | int, ...] = field(default=(), compare=False, repr=False)  # of path

    @property
    def title(self) -> str:
        return f"{self.check}: {self.resource}" if self.resource else self.check


@dataclass(frozen=True)
class Skipped:
    """An input that was not validated, and why (a chart without helm, a skipped kind)."""

    file: str
    reason: str


MAX_FINDINGS = 10_000  # listed per run; the rest are counted (a report stays readable)


def capped(findings: list[Finding]) -> tuple[list[Finding], dict[str, int]]:
    """The first ``MAX_FINDINGS`` findings (and every one saying why a file could not be
    read: those are few), and how many of each severity were left out."""
    if len(findings) <= MAX_FINDINGS:
        return findings, {}
    kept: list[Finding] = []
    omitted: dict[str, int] = {}
    room = MAX_FINDINGS
    for f in findings:
        if f.check == YAML:
            kept.append(f)
        elif room > 0:
            kept.append(f)
            room -= 1
        else:
            omitted[f.severity] = omitted.get(f.severity, 0) + 1
    return kept, omitted


@dataclass(frozen=True)
class Outcome:
    """Everything one validation run found, in a stable order."""

    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...] = ()
    files: int = 0
    resources: int = 0
    sources: tuple[str, ...] = ()  # the files and rendered entry points checked, by name
    kubernetes_version: str = ""
    unusable: tuple[str, ...] = ()  # files that could not be read, parsed or rendered
    stats: dict[str, float] = field(default_factory=dict, compare=False)
    coverage: dict[str, Any] = field(default_factory=dict, compare=False)  # entry points...
    omitted: dict[str, int] = field(default_factory=dict)  # severity -> findings not listed

    @property
    def errors(self) -> int:
        listed = sum(1 for f in self.findings if f.severity == "error")
        return listed + self.omitted.get("error", 0)

    @property
    def warnings(self) -> int:
        listed = sum(1 for f in self.findings if f.severity == "warning")
        return listed + self.omitted.get("warning", 0)

    @property
    def omitted_note(self) -> str:
        """Says how many findings the report leaves out, if any."""
        count = sum(self.omitted.values())
        if not count:
            return ""
        return (
            f"{count} more finding(s) not listed: a run lists at most {MAX_FINDINGS} "
            "(fix the first ones, or validate fewer paths at a time)"
        )

    def summary_line(self) -> str:
        def n(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        parts = [
            n(self.resources, "resource"),
            n(self.files, "file"),
            n(self.errors, "error"),
            n(self.warnings, "warning"),
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        if self.omitted:
            parts.append(f"{sum(self.omitted.values())} findings not listed")
        return f"validate: {', '.join(parts)} (Kubernetes {self.kubernetes_version})"


def json_path(parts: Sequence[str | int]) -> str:
    """``["spec", "containers", 0, "image"]`` as ``.spec.containers[0].image``."""
    out = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part and all(c.isalnum() or c in "_-" for c in part):
            out.append(f".{part}")
        else:
            out.append("[" + _quote(part) + "]")
    return "".join(out)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
