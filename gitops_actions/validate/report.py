"""Reporters, chosen by name: text, json, junit, sarif, codequality, and github.

Each file reporter turns an ``Outcome`` into text. ``github`` is different: it speaks
through the CI dialect (annotations), never printing workflow commands itself. The
markdown summary table is shared by every run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import PurePath
from typing import Any
from xml.etree import ElementTree as ET

from gitops_actions.ci import Annotation, Dialect
from gitops_actions.validate.findings import CHECKS, Finding, Outcome

TOOL = "gitops-actions validate"
SUMMARY_ROWS = 100


def text(outcome: Outcome, *, summary_line: bool = True) -> str:
    lines = []
    for f in outcome.findings:
        where = f"{f.file}:{f.line}:{f.column}"
        about = [str(f.resource)] if f.resource else []
        if f.path:
            about.append(f.path)
        if f.document:
            about.append(f"document {f.document}")
        if f.origin:
            about.append(f"via {f.origin}")
        detail = f" ({', '.join(about)})" if about else ""
        lines.append(f"{where}: {f.severity}: {_one_line(f.message)} [{f.check}]{detail}")
    if outcome.omitted_note:
        lines.append(f"note: {outcome.omitted_note}")
    for s in outcome.skipped:
        lines.append(f"{s.file}: skipped: {s.reason}")
    for note in outcome.coverage.get("notes", ()):
        lines.append(f"note: {_one_line(note)}")
    if outcome.coverage:
        lines.append(coverage_line(outcome))
    if summary_line:
        lines.append(outcome.summary_line())
    return "".join(line + "\n" for line in lines)


def coverage_line(outcome: Outcome) -> str:
    """Entry points by kind, resources rendered, plain files, skipped files."""
    c = outcome.coverage
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(c.get("entryPoints", {}).items()))
    return (
        f"coverage: {sum(c.get('entryPoints', {}).values())} entry point(s)"
        f"{f' ({kinds})' if kinds else ''}, {c.get('rendered', 0)} rendered, "
        f"{c.get('resources', 0)} resource(s) checked, {c.get('plainFiles', 0)} plain file(s), "
        f"{c.get('skippedFiles', 0)} file(s) skipped as not resources"
    )


def _one_line(message: str) -> str:
    return " ".join(message.splitlines())


def _resource(f: Finding) -> dict[str, str] | None:
    if f.resource is None:
        return None
    r = f.resource
    return {"apiVersion": r.api_version, "kind": r.kind, "namespace": r.namespace, "name": r.name}


def as_json(outcome: Outcome) -> str:
    doc = {
        "tool": TOOL,
        "kubernetesVersion": outcome.kubernetes_version,
        "summary": {
            "files": outcome.files,
            "resources": outcome.resources,
            "errors": outcome.errors,
            "warnings": outcome.warnings,
            "skipped": len(outcome.skipped),
            "unusable": len(outcome.unusable),
            "notListed": sum(outcome.omitted.values()),
        },
        "findings": [
            {
                "file": f.file,
                "line": f.line,
                "column": f.column,
                "document": f.document,
                "severity": f.severity,
                "check": f.check,
                "message": f.message,
                "path": f.path,
                "resource": _resource(f),
                "origin": f.origin,
            }
            for f in outcome.findings
        ],
        "skipped": [{"file": s.file, "reason": s.reason} for s in outcome.skipped],
        "coverage": outcome.coverage,
    }
    return json.dumps(doc, indent=2) + "\n"


def junit(outcome: Outcome) -> str:
    """One test case per file checked (or with findings) and per skip; errors fail it,
    warnings go to its system-out."""
    by_file: dict[str, list[Finding]] = {name: [] for name in outcome.sources}
    for f in outcome.findings:
        by_file.setdefault(f.file, []).append(f)
    failures = sum(1 for items in by_file.values() if any(f.severity == "error" for f in items))
    suite = ET.Element(
        "testsuite",
        name=TOOL,
        tests=str(len(by_file) + len(outcome.skipped)),
        failures=str(failures),
        errors="0",
        skipped=str(len(outcome.skipped)),
    )
    for file, items in sorted(by_file.items()):
        case = ET.SubElement(suite, "testcase", classname="validate", name=file)
        errors = [f for f in items if f.severity == "error"]
        if errors:
            failure = ET.SubElement(
                case, "failure", message=errors[0].message, type=errors[0].check
            )
            failure.text = "\n".join(_line(f) for f in errors)
        warnings = [f for f in items if f.severity != "error"]
        if warnings:
            ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in warnings)
    for s in outcome.skipped:
        case = ET.SubElement(suite, "testcase", classname="validate", name=s.file)
        ET.SubElement(case, "skipped", message=s.reason)
    root = ET.Element("testsuites", name=TOOL)
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _line(f: Finding) -> str:
    path = f" at {f.path}" if f.path else ""
    return f"{f.file}:{f.line}:{f.column}: {f.severity}: {_one_line(f.message)}{path} [{f.check}]"


def _uri(file: str) -> str:
    return PurePath(file).as_posix()


def sarif(outcome: Outcome) -> str:
    used = sorted({f.check for f in outcome.findings})
    rules = [
        {"id": check, "shortDescription": {"text": CHECKS.get(check, check)}} for check in used
    ]
    results = []
    for f in outcome.findings:
        message = f"{f.message} (at {f.path})" if f.path else f.message
        results.append(
            {
                "ruleId": f.check,
                "ruleIndex": used.index(f.check),
                "level": "error" if f.severity == "error" else "warning",
                "message": {"text": message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(f.file)},
                            "region": {"startLine": f.line, "startColumn": f.column},
                        }
                    }
                ],
                "partialFingerprints": {"gitopsValidate/v1": _fingerprint(f)},
            }
        )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": TOOL, "rules": rules}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _fingerprint(f: Finding) -> str:
    """Stable across line moves: file, check, resource, path and message, not position."""
    key = "\0".join([f.file, f.check, str(f.resource or ""), f.path, f.message])
    return hashlib.sha256(key.encode()).hexdigest()


def codequality(outcome: Outcome) -> str:
    """GitLab Code Quality: a JSON array of issues."""
    issues: list[dict[str, Any]] = []
    for f in outcome.findings:
        message = f"{f.message} (at {f.path})" if f.path else f.message
        issues.append(
            {
                "description": f"{f.resource}: {message}" if f.resource else message,
                "check_name": f.check,
                "fingerprint": _fingerprint(f),
                "severity": "major" if f.severity == "error" else "minor",
                "location": {"path": _uri(f.file), "lines": {"begin": f.line}},
            }
        )
    return json.dumps(issues, indent=2) + "\n"


FILE_REPORTERS: dict[str, Callable[[Outcome], str]] = {
    "text": text,
    "json": as_json,
    "junit": junit,
    "sarif": sarif,
    "codequality": codequality,
}
REPORTERS = (*FILE_REPORTERS, "github")


def annotate(outcome: Outcome, ci: Dialect) -> None:
    """The ``github`` reporter: one annotation per finding, through the dialect."""
    for f in outcome.findings:
        message = f"{f.message} (at {f.path})" if f.path else f.message
        if f.origin:
            message += f" [rendered by {f.origin}]"
        ci.annotate(
            Annotation(f.severity, message, file=f.file, line=f.line, col=f.column, title=f.title)
        )
    for s in outcome.skipped:
        ci.annotate(Annotation("notice", s.reason, file=s.file, title="validate: skipped"))


def _cell(value: object) -> str:
    return (
        str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    )


def summary(outcome: Outcome) -> str:
    """Markdown for the CI step summary: counts, then a table of the first findings."""
    status = "failed" if outcome.errors else "passed"
    lines = [
        f"### Validation {status}",
        "",
        f"{outcome.summary_line().removeprefix('validate: ')}",
        "",
    ]
    if outcome.findings:
        lines += ["| | file | resource | path | check | message |", "|---|---|---|---|---|---|"]
        for f in outcome.findings[:SUMMARY_ROWS]:
            mark = "❌" if f.severity == "error" else "⚠️"
            path = f"`{_cell(f.path)}`" if f.path else ""
            lines.append(
                f"| {mark} | `{_cell(f.file)}:{f.line}` | {_cell(f.resource or '')} | "
                f"{path} | {f.check} | {_cell(f.message)} |"
            )
        if len(outcome.findings) > SUMMARY_ROWS:
            lines += ["", f"… and {len(outcome.findings) - SUMMARY_ROWS} more findings."]
    if outcome.skipped:
        lines += ["", "Skipped:", ""]
        lines += [f"- `{_cell(s.file)}`: {_cell(s.reason)}" for s in outcome.skipped]
    return "\n".join(lines) + "\n"
