"""Report a handoff to the forge: a deployment per environment for the exact commit,
``in_progress`` while the agent works, then ``success`` or ``failure`` with the agent's URL
(GitHub Deployments; GitLab deployments go running -> success/failed).

These are deployment records, not commit statuses, so they never collide with what Flux's
notification providers post. A forge that cannot be reached is a warning: the handoff's
own result is what the job reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gitops_actions.agent.wait import Outcome
from gitops_actions.errors import GitopsError
from gitops_actions.forge import Deployment, Deployments, DeploymentStatus

DESCRIPTION = "gitops-actions handoff"


@dataclass
class Recorder:
    forge: Deployments
    project: str
    sha: str
    ref: str
    log: Callable[[str], None]
    environment: str = ""  # one environment for every app; "" is one per app, by name
    records: dict[str, Deployment] = field(default_factory=dict)  # environment -> record

    def _env(self, app: str) -> str:
        return self.environment or app

    def _try(self, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except GitopsError as err:
            self.log(f"warning: {what}: {err.one_line()}")

    def start(self, apps: Sequence[str], url: Callable[[str], str]) -> None:
        for app in apps:
            name = self._env(app)
            if name in self.records:
                continue

            def create(name: str = name, app: str = app) -> None:
                record = self.forge.create_deployment(
                    project=self.project,
                    environment=name,
                    sha=self.sha,
                    ref=self.ref,
                    description=f"{DESCRIPTION}: {self.sha[:12]}",
                )
                self.records[name] = record
                waiting = DeploymentStatus("in_progress", url(app), f"waiting for {app}")
                self.forge.set_deployment_status(self.project, record, waiting)

            self._try(f"record the deployment to {name}", create)

    def finish(self, outcome: Outcome) -> list[str]:
        """Each environment's final status; the deployment records, for the log."""
        lines = []
        for name, record in self.records.items():
            mine = [s for s in outcome.states if self._env(s.app) == name]
            live = all(s.phase == "live" for s in mine)
            first = next((s for s in mine if s.phase != "live"), mine[0])
            text = "live" if live else f"{first.app}: {first.message or first.state}"

            def update(
                record: Deployment = record,
                live: bool = live,
                text: str = text,
                url: str = first.url,
            ) -> None:
                final = DeploymentStatus("success" if live else "failure", url, text)
                self.forge.set_deployment_status(self.project, record, final)

            self._try(f"update the deployment to {name}", update)
            lines.append(
                f"deployment {record.id} to {name}: {'success' if live else 'failure'} "
                f"({record.url})"
            )
        return lines
