"""What we ship for CI systems, derived from the step registry so it cannot drift.

``python -m gitops_actions.distribution`` rewrites ``action.yml``; a test checks that the
committed file matches and validates against GitHub's action schema.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from gitops_actions.step import env_name, public
from gitops_actions.steps import STEPS

SHIPPED_STEPS = tuple(name for name, step in STEPS.items() if step.built and name != "demo")


def action_inputs() -> dict[str, tuple[str, str]]:
    """Input name -> (environment variable, description), over every shipped step."""
    inputs: dict[str, tuple[str, str]] = {}
    for name in SHIPPED_STEPS:
        for field in STEPS[name].fields():
            key = public(field).replace("_", "-")
            help_text = field.metadata["gitops"].help
            if key in inputs:
                continue
            inputs[key] = (env_name(public(field)), f"{name}: {help_text}")
    return inputs


def action_outputs() -> dict[str, str]:
    outputs: dict[str, str] = {}
    for name in SHIPPED_STEPS:
        for key, description in STEPS[name].outputs:
            outputs.setdefault(key, f"{name}: {description}")
    return outputs


def render_action() -> str:
    inputs = action_inputs()
    doc = {
        "name": "gitops-actions",
        "description": "CI steps for GitOps: build and push an image, bump it in the config "
        "repo, validate, diff and comment, hand off to Argo CD or Flux.",
        "branding": {"icon": "git-commit", "color": "blue"},
        "inputs": {
            "step": {
                "description": f"the step to run: {', '.join(SHIPPED_STEPS)}",
                "required": True,
            },
            **{
                key: {"description": text, "required": False, "default": ""}
                for key, (_, text) in inputs.items()
            },
            "version-spec": {
                "description": "pip requirement to install instead of this action's checkout",
                "required": False,
                "default": "",
            },
        },
        "outputs": {
            key: {"description": text, "value": f"${{{{ steps.run.outputs.{key} }}}}"}
            for key, text in action_outputs().items()
        },
        "runs": {
            "using": "composite",
            "steps": [
                {
                    "name": "Install gitops-actions",
                    "shell": "bash",
                    "env": {
                        "ACTION_PATH": "${{ github.action_path }}",
                        "VERSION_SPEC": "${{ inputs.version-spec }}",
                    },
                    "run": 'python3 -m venv "$RUNNER_TEMP/gitops-actions"\n'
                    '"$RUNNER_TEMP/gitops-actions/bin/pip" install --quiet '
                    '"${VERSION_SPEC:-$ACTION_PATH}"\n'
                    'echo "$RUNNER_TEMP/gitops-actions/bin" >> "$GITHUB_PATH"\n',
                },
                {
                    "id": "run",
                    "name": "gitops-actions ${{ inputs.step }}",
                    "shell": "bash",
                    "env": {
                        "GITOPS_STEP": "${{ inputs.step }}",
                        **{var: f"${{{{ inputs.{key} }}}}" for key, (var, _) in inputs.items()},
                    },
                    "run": 'gitops-actions "$GITOPS_STEP"\n',
                },
            ],
        },
    }
    header = (
        "# Generated from the step registry by `python -m gitops_actions.distribution`.\n"
        "# Inputs reach the CLI as GITOPS_* environment variables, never as arguments.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, width=100)


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    (root / "action.yml").write_text(render_action(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
