"""GitOps agents (Argo CD, Flux) behind one small Protocol, chosen by name.

An agent is asked to pull now (``trigger``) and then observed (``observe``) until each app
is *live*, that is: the agent applied our exact commit and reports it healthy, or until it
*failed* for our commit. Each agent module owns its rule for "live", as a pure function
over the objects the agent reports; waiting for many apps at once is ``agent.wait``'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from gitops_actions.errors import ExternalError, UsageError
from gitops_actions.retry import Deadline

AGENTS = ("argocd", "flux")

Phase = Literal["pending", "live", "failed"]


@dataclass(frozen=True)
class AppState:
    """What an agent says about one app, judged against the revision we wait for.

    ``state`` is a short description for progress lines ("OutOfSync, operation Running");
    ``message`` is the agent's own words when it has some (why it failed, what blocks it).
    """

    app: str
    phase: Phase
    state: str
    revision: str = ""
    health: str = ""
    message: str = ""
    url: str = ""

    def __post_init__(self) -> None:  # an agent's message may be megabytes long
        if len(self.message) > MESSAGE_LIMIT:
            cut = self.message[: MESSAGE_LIMIT - 30]
            object.__setattr__(self, "message", f"{cut} ... ({len(self.message)} characters)")


MESSAGE_LIMIT = 2000  # characters of an agent's message that handoff repeats


@contextmanager
def shaped(agent: str, app: str) -> Iterator[None]:
    """What an agent reports about ``app``, read where it may be of the wrong shape (a list
    for an object, a number for a text): the agent answering unlike itself is an external
    failure naming the app, never a crash."""
    try:
        yield
    except (AttributeError, TypeError, KeyError, ValueError) as err:
        raise ExternalError(
            f"{agent}: {app}: the reply is not shaped as {agent} sends it ({type(err).__name__})",
            transient=False,
            hint=f"check that the server is {agent}'s API",
        ) from None


@dataclass(frozen=True)
class Judgement:
    """An agent's live rule applied to what it reports about one app."""

    phase: Phase
    state: str
    message: str = ""
    stale: bool = False  # what the agent says predates its last change: ask again


class Agent(Protocol):
    name: str

    def trigger(self, app: str, deadline: Deadline) -> None:
        """Ask the agent to fetch the config repo and reconcile ``app`` now."""
        ...

    def observe(self, app: str, revision: str, deadline: Deadline) -> AppState:
        """One look at ``app``: pending, live at ``revision``, or failed for it."""
        ...

    def url(self, app: str) -> str:
        """Where a person sees ``app`` (the agent's UI), or "" when there is none."""
        ...

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` before the next look, or less when the agent has news (a
        watched object changed) that the next look should see at once."""
        ...

    def close(self) -> None:
        """Stop watching; the agent is not used again."""
        ...


@dataclass(frozen=True)
class Settings:
    """How the step configures an agent, besides the environment."""

    sync: bool = False  # Argo CD: also start a sync (no revision) after the refresh
    project: str | None = None  # Argo CD: the app's project
    repo: str = ""  # the config repo URL: picks the source of multi-source apps
    receiver: str | None = None  # Flux: a notification-controller Receiver URL
    receiver_type: str = "generic"  # Flux: generic, generic-hmac or github
    branch: str = "main"  # Flux: the branch a github Receiver is told was pushed
    via: str = "api"  # Argo CD: its API, or "kubernetes" (the Application objects)


def same_revision(have: str, want: str) -> bool:
    """``have`` (as an agent reports it) is the commit ``want`` (full, or 7+ hex digits)."""
    if not have or not want:
        return False
    return have == want or (len(want) >= 7 and have.startswith(want))


def make_agent(name: str, env: Mapping[str, str], settings: Settings) -> Agent:
    if name == "argocd" and settings.via == "kubernetes":
        from gitops_actions.agent.argocd_kube import ArgoCDKube

        return ArgoCDKube.from_env(env, settings)
    if name == "argocd":
        from gitops_actions.agent.argocd import ArgoCD

        return ArgoCD.from_env(env, settings)
    if name == "flux":
        from gitops_actions.agent.flux import Flux

        return Flux.from_env(env, settings)
    raise UsageError(f"unknown agent {name!r}", hint=f"choose one of {', '.join(AGENTS)}")
