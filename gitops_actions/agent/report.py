"""What a handoff reports: step outputs per app, and a summary table for the CI summary."""

from __future__ import annotations

import json

from gitops_actions.agent.wait import Outcome

MARK = {"live": "live", "failed": "**failed**", "pending": "**not live**"}


def outputs(outcome: Outcome, revision: str) -> dict[str, str]:
    apps = {
        s.app: {
            "live": s.phase == "live",
            "revision": s.revision,
            "health": s.health,
            "message": s.message or ("" if s.phase == "live" else s.state),
            "url": s.url,
        }
        for s in outcome.states
    }
    return {
        "live": "true" if outcome.live else "false",
        "revision": revision,
        "apps": json.dumps(apps, sort_keys=True),
        "reverted-by": "",
    }


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split()) or " "


def summary(agent: str, outcome: Outcome, revision: str) -> str:
    rows = []
    for s in outcome.states:
        name = f"[{_cell(s.app)}]({s.url})" if s.url else _cell(s.app)
        detail = s.message or s.state
        rows.append(
            f"| {name} | {MARK[s.phase]} | `{_cell(s.revision[:12]) or '-'}` | "
            f"{_cell(s.health) or '-'} | {_cell(detail)} |\n"
        )
    waited = "timed out" if outcome.timed_out else "done"
    return (
        f"### handoff to {agent} at `{revision[:12]}`\n\n"
        f"{waited} after {outcome.seconds:.1f}s\n\n"
        "| app | state | revision | health | detail |\n|---|---|---|---|---|\n" + "".join(rows)
    )
