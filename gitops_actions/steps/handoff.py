"""handoff: make Argo CD or Flux pull now, and wait until our exact commit is live."""

from __future__ import annotations

from dataclasses import dataclass

from gitops_actions.agent import AGENTS, Settings, make_agent
from gitops_actions.agent.report import outputs, summary
from gitops_actions.agent.wait import Outcome, wait
from gitops_actions.ci import Annotation
from gitops_actions.errors import UsageError
from gitops_actions.retry import Deadline
from gitops_actions.step import Context, Step, StepResult, option


@dataclass(frozen=True)
class Options:
    agent: str | None = option("the GitOps agent to hand off to (required)", choices=AGENTS)
    repo: str = option(
        "the config repo URL (picks the source of multi-source Argo CD apps)",
        default="",
        metavar="URL",
    )
    app: tuple[str, ...] = option(
        "an app to hand off: an Argo CD Application (NAME or NAMESPACE/NAME) or a Flux "
        "Kustomization ([NAMESPACE/]NAME) or HelmRelease (helmrelease/NAMESPACE/NAME) "
        "(repeatable)",
        default=(),
        metavar="NAME",
    )
    revision: str | None = option("the config repo commit that must go live", metavar="SHA")
    wait: bool = option("wait until every app is live at the revision", default=True)
    timeout: float = option("seconds to wait for the apps (and to push a revert)", default=600.0)
    sync: bool = option(
        "Argo CD: also start a sync (of the app's target revision) after the refresh",
        default=False,
    )
    argocd_project: str | None = option("Argo CD: the apps' project", metavar="PROJECT")
    receiver: str | None = option(
        "Flux: trigger through this notification-controller Receiver URL instead of "
        "annotating (the secret in FLUX_RECEIVER_TOKEN)",
        metavar="URL",
    )
    receiver_type: str = option(
        "Flux: the Receiver's type",
        default="generic",
        choices=("generic", "generic-hmac", "github"),
    )


def _settings(opts: Options) -> Settings:
    return Settings(
        sync=opts.sync,
        project=opts.argocd_project,
        repo=opts.repo,
        receiver=opts.receiver,
        receiver_type=opts.receiver_type,
    )


def run(opts: Options, ctx: Context) -> StepResult:
    if not opts.agent:
        raise UsageError(f"no agent: give --agent {' or '.join(AGENTS)}")
    if not opts.app:
        raise UsageError("no app to hand off: give --app NAME (repeatable)")
    revision = (opts.revision or "").strip()
    if not revision:
        raise UsageError("no revision: give --revision SHA (the config repo commit)")
    if opts.timeout <= 0:
        raise UsageError(f"--timeout {opts.timeout:g}: give a positive number of seconds")
    agent = make_agent(opts.agent, ctx.env, _settings(opts))
    deadline = Deadline.after(opts.timeout)
    apps = tuple(dict.fromkeys(opts.app))
    if not opts.wait:
        for app in apps:
            agent.trigger(app, deadline)
        return StepResult(
            "unchanged", f"asked {opts.agent} to reconcile {', '.join(apps)} (not waiting)"
        )
    with ctx.ci.group(f"handoff to {opts.agent}: {', '.join(apps)} at {revision[:12]}"):
        outcome = wait(agent, apps, revision, deadline, log=ctx.ci.log)
    for state in outcome.states:
        if state.phase != "live":
            why = state.message or state.state
            what = "timed out" if state.phase == "pending" else "failed"
            ctx.ci.annotate(Annotation("error", f"{state.app} {what}: {why}", title="handoff"))
    result = outputs(outcome, revision)
    table = summary(opts.agent, outcome, revision)
    if outcome.live:
        return StepResult(
            "changed",
            f"{len(apps)} app(s) live at {revision[:12]} after {outcome.seconds:.1f}s",
            result,
            table,
        )
    return StepResult("failed", _failure(outcome, opts.timeout), result, table)


def _failure(outcome: Outcome, timeout: float) -> str:
    failed = outcome.failed
    if failed:
        first = failed[0]
        return f"{first.app} failed: {first.message or first.state}"
    waiting = [s for s in outcome.states if s.phase == "pending"]
    last = "; ".join(
        f"{s.app}: {s.state}" + (f" ({s.message})" if s.message else "") for s in waiting
    )
    return f"not live after {timeout:g}s: {last}"


OUTPUTS = (
    ("live", "true when every app is live at the revision"),
    ("revision", "the config repo commit handed off"),
    ("apps", "per app, as JSON: live, revision, health, message, url"),
)

STEP = Step(
    name="handoff",
    summary="Hand off to Argo CD or Flux and wait until the new revision is applied.",
    examples=(
        "gitops-actions handoff --agent argocd --app shop-prod --revision <sha>",
        "gitops-actions handoff --agent argocd --app argocd-apps/shop --sync --timeout 300",
    ),
    options=Options,
    run=run,
    outputs=OUTPUTS,
)
