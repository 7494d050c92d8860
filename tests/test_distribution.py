"""What we ship for CI systems matches the registry and the platforms' schemas."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from gitops_actions import distribution
from gitops_actions.step import env_name, public
from gitops_actions.steps import STEPS

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "data" / "schemas"  # copied from shared/schemas, see SOURCES.txt


def schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((SCHEMAS / name).read_text())
    return loaded


def test_action_yml_is_generated_from_the_registry() -> None:
    assert (ROOT / "action.yml").read_text() == distribution.render_action(), (
        "action.yml is stale: run python -m gitops_actions.distribution"
    )


def test_action_yml_covers_every_option_of_every_shipped_step() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    env = action["runs"]["steps"][1]["env"]
    for name in distribution.SHIPPED_STEPS:
        for field in STEPS[name].fields():
            key = public(field).replace("_", "-")
            assert key in action["inputs"]
            assert env[env_name(public(field))] == f"${{{{ inputs.{key} }}}}"
        for key, _ in STEPS[name].outputs:
            assert action["outputs"][key]["value"] == f"${{{{ steps.run.outputs.{key} }}}}"


def test_action_yml_never_puts_inputs_in_a_script() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for step in action["runs"]["steps"]:
        assert "${{" not in step["run"], "inputs must reach scripts through env only"


def test_action_yml_matches_githubs_schema() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    jsonschema.validate(action, schema("github-action.json"))


@pytest.mark.parametrize("path", sorted((ROOT / "workflows").glob("*.yml")), ids=str)
def test_example_workflows_match_githubs_schema(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True)  # GitHub reads `on:` as a key, YAML 1.1 as a boolean
    jsonschema.validate(workflow, schema("github-workflow.json"))


def test_readme_reference_is_generated_from_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    assert distribution.update_readme(readme) == readme, (
        "README's configuration reference is stale: run python -m gitops_actions.distribution"
    )
    for name, step in STEPS.items():
        for field in step.fields():
            assert f"`{env_name(public(field))}`" in readme, (name, field.name)
