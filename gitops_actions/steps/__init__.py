"""The registry of steps. The CLI, ``action.yml`` and the GitLab components derive from it."""

from __future__ import annotations

from gitops_actions.step import Step
from gitops_actions.steps import build, bump, comment, demo, diff, promote, rollback, validate


def _pending(name: str, summary: str, *examples: str) -> Step:
    return Step(name=name, summary=summary, examples=examples, options=None)


STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        build.STEP,
        bump.STEP,
        promote.STEP,
        rollback.STEP,
        validate.STEP,
        diff.STEP,
        comment.STEP,
        _pending(
            "handoff",
            "Hand off to Argo CD or Flux and wait until the new revision is applied.",
            "gitops-actions handoff --agent argocd --app shop-prod --revision <sha>",
        ),
        _pending(
            "serve",
            "Run the PR-comment bot as a small web service.",
            "gitops-actions serve --listen 127.0.0.1:8080",
        ),
        demo.STEP,
    )
}
