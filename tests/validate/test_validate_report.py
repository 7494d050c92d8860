"""Reports: each format against a golden file and, where one exists, its schema; GitHub
annotations go through the dialect, escaped."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from gitops_actions.ci import GitHub
from gitops_actions.validate import report
from gitops_actions.validate.findings import Finding, Outcome, Resource, Skipped

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "validate" / "reports"
UPDATE = os.environ.get("GITOPS_UPDATE_GOLDEN") == "1"  # rewrite the golden files

DEPLOY = Resource("apps/v1", "Deployment", "shop", "web")
OUTCOME = Outcome(
    findings=(
        Finding(
            "apps/web.yaml",
            6,
            13,
            "schema",
            'expected integer, got string "3"',
            document=1,
            resource=DEPLOY,
            path=".spec.replicas",
        ),
        Finding(
            "apps/web.yaml",
            20,
            15,
            "schema",
            'unknown field "protocl"',
            document=1,
            resource=DEPLOY,
            path=".spec.template.spec.containers[0].ports[0].protocl",
        ),
        Finding(
            "base/hpa.yaml",
            1,
            13,
            "deprecated-api",
            "autoscaling/v2beta2 "
            "HorizontalPodAutoscaler is deprecated since Kubernetes 1.23 and removed in "
            "1.26; use autoscaling/v2",
            "warning",
            1,
            Resource("autoscaling/v2beta2", "HorizontalPodAutoscaler", "", "web"),
            ".apiVersion",
            "kustomize overlays/prod",
        ),
        Finding("odd, name: 100%.yaml", 3, 1, "yaml", "cannot parse YAML: 50% | done\nnext"),
    ),
    skipped=(Skipped("charts/redis", "helm is not installed, so the chart was not rendered"),),
    files=4,
    resources=3,
    sources=("apps/web.yaml", "base/hpa.yaml", "odd, name: 100%.yaml", "base/web.yaml"),
    kubernetes_version="1.32",
    unusable=("odd, name: 100%.yaml",),
    coverage={
        "entryPoints": {"flux": 2, "kustomize": 1},
        "rendered": 2,
        "resources": 3,
        "plainFiles": 1,
        "skippedFiles": 1,
        "notes": ["clusters/prod/apps.yaml#apps: no value in the repo for DOMAIN"],
    },
)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


def schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((GOLDEN / name).read_text())
    return loaded


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("text", "text.txt"),
        ("json", "report.json"),
        ("junit", "junit.xml"),
        ("sarif", "report.sarif"),
        ("codequality", "codequality.json"),
    ],
)
def test_file_reports_match_their_golden_files(name: str, file: str) -> None:
    golden(file, report.FILE_REPORTERS[name](OUTCOME))


def test_json_report_matches_its_schema() -> None:
    jsonschema.validate(json.loads(report.as_json(OUTCOME)), schema("report.schema.json"))


def test_codequality_report_matches_gitlabs_format() -> None:
    issues = json.loads(report.codequality(OUTCOME))
    jsonschema.validate(issues, schema("codequality.schema.json"))
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_sarif_report_matches_the_sarif_subset_code_scanning_reads() -> None:
    doc = json.loads(report.sarif(OUTCOME))
    jsonschema.validate(doc, schema("sarif.schema.json"))
    [run] = doc["runs"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


def test_junit_report_fails_files_with_errors_only() -> None:
    root = ET.fromstring(report.junit(OUTCOME))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "2", "1")
    by_name = {case.get("name"): case for case in suite.iter("testcase")}
    assert by_name["apps/web.yaml"].find("failure") is not None
    assert by_name["base/hpa.yaml"].find("failure") is None
    assert list(by_name["base/web.yaml"]) == []  # passed
    assert len(by_name) == 5
    assert by_name["charts/redis"].find("skipped") is not None


def test_fingerprints_survive_lines_moving() -> None:
    moved = Outcome(tuple(Finding(**{**f.__dict__, "line": f.line + 10}) for f in OUTCOME.findings))
    before = [i["fingerprint"] for i in json.loads(report.codequality(OUTCOME))]
    after = [i["fingerprint"] for i in json.loads(report.codequality(moved))]
    assert before == after


def test_github_annotations_go_through_the_dialect_escaped() -> None:
    out = io.StringIO()
    report.annotate(OUTCOME, GitHub({}, out))
    golden("github.txt", out.getvalue())
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("::notice file=charts/redis,title=validate%3A skipped::")
    bad = next(line for line in lines if "100%25.yaml" in line)
    assert bad.startswith("::error file=odd%2C name%3A 100%25.yaml,line=3,col=1,title=yaml::")
    assert bad.endswith("cannot parse YAML: 50%25 | done%0Anext")


def test_summary_table_escapes_cells() -> None:
    text = report.summary(OUTCOME)
    golden("summary.md", text)
    assert "50% \\| done next" in text
    assert text.startswith("### Validation failed\n")
