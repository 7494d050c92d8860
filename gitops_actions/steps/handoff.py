"""handoff: make Argo CD or Flux pull now, and wait until our exact commit is live."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitops_actions.agent import AGENTS, Agent, Settings, make_agent
from gitops_actions.agent.report import outputs, summary
from gitops_actions.agent.wait import Outcome, wait
from gitops_actions.ci import Annotation
from gitops_actions.errors import UsageError
from gitops_actions.retry import Deadline
from gitops_actions.step import Context, Step, StepResult, option
from gitops_actions.steps.delivery import WriteOptions, project_from, target_of

if TYPE_CHECKING:
    from gitops_actions.agent.deploy import Recorder


@dataclass(frozen=True)
class Options(WriteOptions):
    repo: str = option(
        "config repo: a directory, a local clone, or a remote URL (default: the repo "
        "output of bump, promote or rollback earlier in the job, else .)",
        default="",
        metavar="PATH_OR_URL",
    )
    timeout: float = option("seconds to wait for the apps (and to push a revert)", default=600.0)
    message: str = option(
        "commit message template of the revert (--rollback-on-failure); {subject} and "
        "{reverted} name the reverted commit",
        default="",
    )
    agent: str | None = option("the GitOps agent to hand off to (required)", choices=AGENTS)
    app: tuple[str, ...] = option(
        "an app to hand off: an Argo CD Application (NAME or NAMESPACE/NAME) or a Flux "
        "Kustomization ([NAMESPACE/]NAME) or HelmRelease (helmrelease/NAMESPACE/NAME) "
        "(repeatable; default: the apps the revision affects)",
        default=(),
        metavar="NAME",
    )
    revision: str | None = option(
        "the config repo commit that must go live (default: the revision output of bump, "
        "promote or rollback earlier in the job)",
        metavar="SHA",
    )
    wait: bool = option("wait until every app is live at the revision", default=True)
    sync: bool = option(
        "Argo CD: also start a sync (of the app's target revision) after the refresh",
        default=False,
    )
    argocd_project: str | None = option("Argo CD: the apps' project", metavar="PROJECT")
    argocd_via: str = option(
        "Argo CD: reach it through its API (ARGOCD_SERVER, ARGOCD_AUTH_TOKEN) or through "
        "the Kubernetes API (the Application objects; KUBECONFIG or the pod's service account)",
        default="api",
        choices=("api", "kubernetes"),
    )
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
    report: str = option(
        "record a deployment per environment on the forge (GITHUB_TOKEN or GITLAB_TOKEN, "
        "--forge-url, --project)",
        default="none",
        choices=("github", "gitlab", "local", "none"),
    )
    environment: str | None = option(
        "with --report: the environment every app deploys to (default: one per app, by name)",
        metavar="NAME",
    )
    rollback_on_failure: bool = option(
        "when an app fails, revert the revision through the safe writer and wait for the "
        "revert to go live",
        default=False,
    )


def _settings(opts: Options) -> Settings:
    return Settings(
        sync=opts.sync,
        project=opts.argocd_project,
        repo=opts.repo,
        receiver=opts.receiver,
        receiver_type=opts.receiver_type,
        branch=opts.branch or "main",
        via=opts.argocd_via,
    )


def _revision(opts: Options, ctx: Context) -> str:
    if opts.revision:
        revision = opts.revision.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{7,64}", revision):
            raise UsageError(
                f"--revision {opts.revision!r}: expected a commit SHA (7 to 64 hex digits)",
                hint="a branch or tag name cannot prove which commit is live",
            )
        return revision
    landed = ctx.ci.earlier_output("revision")
    if landed:
        return landed
    pull = ctx.ci.earlier_output("pull-request-url")
    if pull:
        raise UsageError(
            f"the change waits in {pull}: handoff waits for the merge",
            hint="run handoff after the merge, on the target branch, with --revision",
        )
    raise UsageError("no revision: give --revision SHA (or run bump, promote or rollback first)")


def run(opts: Options, ctx: Context) -> StepResult:
    if not opts.agent:
        raise UsageError(f"no agent: give --agent {' or '.join(AGENTS)}")
    name = opts.agent
    if opts.timeout <= 0:
        raise UsageError(f"--timeout {opts.timeout:g}: give a positive number of seconds")
    opts = dataclasses.replace(opts, repo=opts.repo or ctx.ci.earlier_output("repo") or ".")
    revision = _revision(opts, ctx)
    apps = tuple(dict.fromkeys(opts.app))
    if not apps:
        from gitops_actions.agent.affected import affected

        apps = affected(target_of(opts, commit=False, depth=None), ctx.env, revision, name)
        if not apps:
            return StepResult("unchanged", f"{revision[:12]} affects no {opts.agent} app")
        ctx.ci.log(f"{revision[:12]} affects {', '.join(apps)}")
    agent = make_agent(name, ctx.env, _settings(opts))
    deadline = Deadline.after(opts.timeout)
    if not opts.wait:
        for app in apps:
            agent.trigger(app, deadline)
        agent.close()
        return StepResult(
            "unchanged", f"asked {opts.agent} to reconcile {', '.join(apps)} (not waiting)"
        )

    def recorded(agent: Agent, revision: str, deadline: Deadline) -> Outcome:
        """Wait for ``apps`` at ``revision``, with a deployment record if asked."""
        recorder = _recorder(opts, ctx, revision)
        if recorder is not None:
            recorder.start(apps, agent.url)
        with ctx.ci.group(f"handoff to {name}: {', '.join(apps)} at {revision[:12]}"):
            outcome = wait(agent, apps, revision, deadline, log=ctx.ci.log)
        for line in recorder.finish(outcome) if recorder is not None else ():
            ctx.ci.log(line)
        return outcome

    outcome = recorded(agent, revision, deadline)
    _annotate(outcome, ctx)
    result = outputs(outcome, revision)
    table = summary(name, outcome, revision)
    if outcome.live:
        message = f"{len(apps)} app(s) live at {revision[:12]} after {outcome.seconds:.1f}s"
        return StepResult("changed", message, result, table)
    failure = _failure(outcome, opts.timeout)
    if opts.rollback_on_failure and outcome.failed:
        from gitops_actions.agent.revert import revert_and_wait

        back = revert_and_wait(
            opts,
            ctx,
            agent=name,
            settings=_settings(opts),
            revision=revision,
            failed=outcome.failed[0],
            timeout=opts.timeout,
            wait_for=recorded,
        )
        result["reverted-by"] = back.commit
        return StepResult("failed", f"{failure}; {back.message}", result, table + back.summary)
    return StepResult("failed", failure, result, table)


def _recorder(opts: Options, ctx: Context, revision: str) -> Recorder | None:
    if opts.report == "none":
        return None
    from gitops_actions import forge
    from gitops_actions.agent.deploy import Recorder

    where = forge.make_forge(opts.report, ctx.env, url=opts.forge_url, directory=opts.forge_dir)
    assert isinstance(where, forge.Deployments)
    ref = opts.branch or ctx.ci.earlier_output("branch") or "main"
    project = opts.project or project_from(opts.repo)
    return Recorder(where, project, revision, ref, ctx.ci.log, opts.environment or "")


def _annotate(outcome: Outcome, ctx: Context) -> None:
    for state in outcome.states:
        if state.phase != "live":
            why = state.message or state.state
            what = "did not go live" if state.phase == "pending" else "failed"
            ctx.ci.annotate(Annotation("error", f"{state.app} {what}: {why}", title="handoff"))


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
    ("reverted-by", "with --rollback-on-failure: the revert commit, when one was made"),
)

STEP = Step(
    name="handoff",
    summary="Hand off to Argo CD or Flux and wait until the new revision is applied.",
    examples=(
        "gitops-actions handoff --agent argocd --app shop-prod --revision <sha>",
        "gitops-actions handoff --agent argocd --app argocd-apps/shop --sync --timeout 300",
        "gitops-actions handoff --agent flux --app flux-system/apps --rollback-on-failure",
    ),
    options=Options,
    run=run,
    outputs=OUTPUTS,
)
