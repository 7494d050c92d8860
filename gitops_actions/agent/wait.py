"""Wait for many apps at once: trigger each, then observe the pending ones until each is
live or failed, or the deadline passes.

Observations run in parallel, in rounds paced by the one retry helper; the first round
runs as soon as every app was asked, and an agent that watches wakes the pause between
rounds early when something changed. A transient error on one app (5xx, 429, a dropped
connection) keeps its last state for the next round. One progress line is printed per
state change: app, state, seconds since the start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from gitops_actions.agent import Agent, AppState
from gitops_actions.errors import GitopsError
from gitops_actions.retry import Backoff, Deadline, DeadlineExceeded, attempts

WORKERS = 16
POLL = Backoff(base=0.05, cap=0.25)  # the template: each wait gets its own copy


@dataclass(frozen=True)
class Outcome:
    states: tuple[AppState, ...]  # in the order the apps were given
    timed_out: bool
    seconds: float

    @property
    def live(self) -> bool:
        return all(s.phase == "live" for s in self.states)

    @property
    def failed(self) -> tuple[AppState, ...]:
        return tuple(s for s in self.states if s.phase == "failed")


def wait(
    agent: Agent,
    apps: Sequence[str],
    revision: str,
    deadline: Deadline,
    *,
    log: Callable[[str], None],
) -> Outcome:
    """Trigger ``apps`` and wait until each is live at ``revision``, or one fails (then
    the others are not waited for). The agent is closed on the way out."""
    start = time.monotonic()
    states = {app: AppState(app, "pending", "not seen yet", url=agent.url(app)) for app in apps}

    def note(state: AppState) -> None:
        before = states[state.app]
        states[state.app] = state
        if (before.phase, before.state) != (state.phase, state.state):
            line = f"{state.app}: {state.phase}, {state.state} ({time.monotonic() - start:.1f}s)"
            log(line + (f": {state.message}" if state.message else ""))

    troubles: dict[str, str] = {}

    def look(app: str) -> AppState:
        try:
            state = agent.observe(app, revision, deadline)
        except GitopsError as err:
            if not err.transient:
                raise
            if troubles.get(app) != err.one_line():  # say what went wrong, once
                troubles[app] = err.one_line()
                log(f"{app}: {err.one_line()}; trying again")
            return states[app]  # keep the last state
        troubles.pop(app, None)
        return state

    timed_out = False
    with ThreadPoolExecutor(max_workers=min(WORKERS, max(len(apps), 1))) as pool:
        try:
            list(pool.map(lambda app: agent.trigger(app, deadline), apps))
            pending = list(apps)
            backoff = Backoff(POLL.base, POLL.cap)
            for _ in attempts(deadline, what="handoff", backoff=backoff, sleep=agent.pause):
                for state in pool.map(look, pending):
                    note(state)
                pending = [app for app in pending if states[app].phase == "pending"]
                if not pending or any(s.phase == "failed" for s in states.values()):
                    break
                backoff.collisions = min(backoff.collisions, 4)  # poll, do not drift away
        except DeadlineExceeded:
            timed_out = True
        finally:
            agent.close()
    return Outcome(tuple(states[a] for a in apps), timed_out, time.monotonic() - start)
