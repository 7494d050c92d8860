"""GitLab CI/CD components (templates/) and the pipeline example (workflows/gitlab/).

Each component is checked against GitLab's CI schema (the header with its typed inputs,
and the job once its inputs are interpolated with their defaults), and run for real: the
inputs interpolated as GitLab does (an array in a string becomes its JSON text), the job's
``script:`` run by bash with the variables a runner sets, in the project directory, with
``gitops-actions`` on PATH as it is in the tool's image; then its report artifacts are read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gitops_actions import git
from gitops_actions.steps import STEPS

from support import config_remote, show

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = yaml.safe_load((ROOT / "tests/data/schemas/gitlab-ci.json").read_text())
sys.path.insert(0, str(ROOT / "scripts"))
import generate  # noqa: E402

SHIPPED = generate.shipped_steps()
INPUT = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")
D1 = "sha256:" + "1" * 64


def component(name: str) -> tuple[dict[str, Any], str]:
    """The header (spec) and the body's text, as GitLab splits them at ``---``."""
    text = (ROOT / "templates" / f"{name}.yml").read_text()
    header, body = text.split("\n---\n", 1)
    return yaml.safe_load(header), body


def interpolate(name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The body with inputs interpolated as GitLab's text interpolation does."""
    spec, body = component(name)
    inputs = spec["spec"]["inputs"]
    unknown = set(given) - set(inputs)
    assert not unknown, f"{name}: no such inputs {unknown}"

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in given and "default" not in inputs[key]:
            raise AssertionError(f"{name}: input {key} is required")
        raw = given.get(key, inputs[key].get("default"))
        if "options" in inputs[key]:
            assert raw in inputs[key]["options"], (key, raw)
        if isinstance(raw, bool):
            return str(raw).lower()
        return json.dumps(raw) if isinstance(raw, list) else str(raw)

    loaded: dict[str, Any] = yaml.safe_load(INPUT.sub(value, body))
    return loaded


def run_job(name: str, project: Path, given: Mapping[str, Any]) -> subprocess.CompletedProcess[str]:
    [(job_name, job)] = interpolate(name, given).items()
    assert job_name == f"gitops-{name}"
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/root"),
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(project),
        "CI_PROJECT_PATH": "acme/config",
        "CI_SERVER_URL": "http://127.0.0.1:9",
        "CI_API_V4_URL": "http://127.0.0.1:9/api/v4",
        "CI_JOB_ID": "42",
        "CI_JOB_NAME": job_name,
        "CI_PIPELINE_ID": "7",
        "CI_PIPELINE_IID": "3",
        "CI_PIPELINE_URL": "http://127.0.0.1:9/acme/config/-/pipelines/7",
        "CI_COMMIT_SHA": "0" * 40,
        "CI_DEFAULT_BRANCH": "main",
        **{key: str(value) for key, value in job["variables"].items()},
    }
    script = "\n".join(job["script"])
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def dotenv(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*=.*", line) for line in lines), lines
    return dict(line.split("=", 1) for line in lines)


def test_every_step_has_a_component_and_nothing_else_does() -> None:
    assert {p.stem for p in (ROOT / "templates").glob("*.yml")} == set(SHIPPED)
    assert not any(p.is_dir() for p in (ROOT / "templates").iterdir())


@pytest.mark.parametrize("name", SHIPPED)
def test_component_is_typed_carries_its_options_and_matches_gitlabs_schema(name: str) -> None:
    spec, _ = component(name)
    jsonschema.validate(spec, SCHEMA)
    inputs = spec["spec"]["inputs"]
    expected = {item.name for item in generate.component_inputs(name)}
    assert set(inputs) == expected | set(generate.JOB_INPUTS)
    hints = {item.name: item for item in generate.component_inputs(name)}
    for key, item in hints.items():
        declared = inputs[key]
        assert ("default" not in declared) == item.required, key
        kind = declared.get("type", "string")
        if item.kind == "array":
            assert kind == "array"
        if "default" in declared and kind != "string":
            typed = {"array": list, "boolean": bool, "number": (int, float)}[kind]
            assert isinstance(declared["default"], typed), key
        if item.choices:
            assert set(item.choices) <= set(declared["options"])
            assert declared.get("default", item.choices[0]) in declared["options"]
    required = {
        key: ["x"] if spec_.get("type") == "array" else spec_.get("options", ["x"])[0]
        for key, spec_ in inputs.items()
        if "default" not in spec_
    }
    job = interpolate(name, required)  # the defaults give a valid job
    jsonschema.validate(job, SCHEMA)
    [body] = job.values()
    assert body["script"] == [f"gitops-actions {name}"]
    assert body["artifacts"]["reports"]["dotenv"] == "gitops.env"
    assert set(body["variables"]) == {item.env for item in generate.component_inputs(name)}


def test_validate_component_publishes_junit_codequality_and_dotenv(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "apps").mkdir(parents=True)
    (project / "apps/ok.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {a: '1'}\n"
    )
    (project / "apps/bad.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {replicas: '3'}\n"
    )
    (project / "apps/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    proc = run_job("validate", project, {"paths": ["apps"]})
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the check failed; reports stay
    [body] = interpolate("validate", {"paths": ["apps"]}).values()
    reports = body["artifacts"]["reports"]
    assert body["artifacts"]["when"] == "always"
    suite = ET.parse(project / reports["junit"]).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases) == 3
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["apps/bad.yaml"] and suite.get("failures") == "1"
    issues = json.loads((project / reports["codequality"]).read_text())
    assert issues and all(i["location"]["path"] == "apps/bad.yaml" for i in issues)
    assert {"description", "fingerprint", "severity", "check_name"} <= set(issues[0])
    outputs = dotenv(project / reports["dotenv"])
    assert outputs["GITOPS_OUT_ERRORS"] == str(len(issues))
    assert outputs["GITOPS_OUT_RESOURCES"] == "3"


def test_bump_component_commits_and_hands_outputs_on(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"deploy.yaml": "image: r.test/shop:1.0.0\n"})
    project = tmp_path / "app"
    project.mkdir()
    given = {"repo": str(remote), "images": [f"r.test/shop:1.1.0@{D1}"], "push": True}
    proc = run_job("bump", project, given)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert show(remote, "deploy.yaml") == f"image: r.test/shop:1.1.0@{D1}\n"
    outputs = dotenv(project / "gitops.env")
    assert outputs["GITOPS_OUT_COMMIT"] == git.Repo(remote).git("rev-parse", "main").stdout.strip()
    assert outputs["GITOPS_OUT_CHANGED"] == "true"


def readme_pipelines() -> list[dict[str, Any]]:
    """The README's GitLab snippets (YAML blocks that include something)."""
    text = (ROOT / "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]
    return [b for b in blocks if isinstance(b, dict) and "include" in b]


def includes_components_with_inputs_they_take(where: str, pipeline: dict[str, Any]) -> None:
    included = [i for i in pipeline["include"] if "component" in i]
    assert included, where
    for item in included:
        match = re.fullmatch(
            r"\$CI_SERVER_FQDN/gitops-actions/gitops-actions/(\w+)@[\w.~]+", item["component"]
        )
        assert match and match.group(1) in STEPS, item["component"]
        spec, _ = component(match.group(1))
        inputs = spec["spec"]["inputs"]
        given = item.get("inputs", {})
        assert set(given) <= set(inputs), (where, match.group(1))
        missing = {k for k, s in inputs.items() if "default" not in s} - set(given)
        assert not missing, (where, match.group(1), missing)
        for key, value in given.items():  # an array input takes a list
            assert isinstance(value, list) == (inputs[key]["type"] == "array"), (where, key)


def test_pipeline_examples_include_components_with_inputs_they_take() -> None:
    for path in sorted((ROOT / "workflows" / "gitlab").glob("*.yml")):
        pipeline = yaml.safe_load(path.read_text())
        jsonschema.validate(pipeline, SCHEMA)
        includes_components_with_inputs_they_take(path.name, pipeline)


def test_readme_snippets_include_components_with_inputs_they_take() -> None:
    pipelines = readme_pipelines()
    assert pipelines, "the README shows the GitLab one-liner"
    for pipeline in pipelines:
        jsonschema.validate(pipeline, SCHEMA)
        includes_components_with_inputs_they_take("README.md", pipeline)
