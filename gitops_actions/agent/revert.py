"""Roll back by revert: a failed handoff reverts its commit through the same safe writer as
``rollback`` (re-planned on the current tip, concurrency-safe), then hands off the revert
and waits for it too. Never the Argo CD rollback API: it is refused while auto-sync is on,
and it leaves Git and the cluster saying different things."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from gitops_actions.agent import Agent, AppState, Settings, make_agent
from gitops_actions.agent.wait import Outcome
from gitops_actions.retry import Deadline
from gitops_actions.step import Context
from gitops_actions.steps.delivery import WriteOptions


def _literal(text: str) -> str:
    """``text`` as it must appear in a message template to come out unchanged."""
    return text.replace("{", "{{").replace("}", "}}")


def revert_message(agent: str, failed: AppState) -> str:
    why = " ".join((failed.message or failed.state).split())
    return (
        'Revert "{subject}"\n\n'
        + _literal(f"{failed.app} failed to go live in {agent}: {why}")
        + "\n\nThis reverts commit {reverted}."
    )


@dataclass(frozen=True)
class Reverted:
    commit: str  # the revert on the target branch ("" when none landed)
    live: bool
    message: str
    summary: str


def revert_and_wait(
    write: WriteOptions,
    ctx: Context,
    *,
    agent: str,
    settings: Settings,
    revision: str,
    failed: AppState,
    timeout: float,
    wait_for: Callable[[Agent, str, Deadline], Outcome],
) -> Reverted:
    """Revert ``revision``, then ``wait_for`` the revert with a fresh agent (a new request
    token) and a fresh ``timeout``."""
    from gitops_actions.steps import rollback

    base = {f.name: getattr(write, f.name) for f in dataclasses.fields(WriteOptions)}
    base["message"] = write.message or revert_message(agent, failed)
    options = rollback.Options(**base, revert=revision)
    with ctx.ci.group(f"roll back {revision[:12]}: {failed.app} failed"):
        result = rollback.run(options, ctx)
    ctx.ci.log(result.message)
    commit = result.outputs.get("revision", "")
    if not commit:
        where = result.outputs.get("pull-request-url", "")
        text = f"revert proposed in {where}; not waiting for it" if where else result.message
        return Reverted("", False, text, result.summary)
    outcome = wait_for(make_agent(agent, ctx.env, settings), commit, Deadline.after(timeout))
    if outcome.live:
        text = f"reverted by {commit[:12]}, live again after {outcome.seconds:.1f}s"
    else:
        stuck = next(s for s in outcome.states if s.phase != "live")
        text = f"reverted by {commit[:12]}, but {stuck.app} is not live at it: " + (
            stuck.message or stuck.state
        )
    table = f"### revert `{commit[:12]}`\n\n{text}\n"
    return Reverted(commit, outcome.live, text, result.summary + "\n" + table)
