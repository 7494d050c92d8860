"""Argo CD through the Kubernetes API, for a CI that holds Kubernetes RBAC on the
Application objects and no Argo CD API token (``--argocd-via kubernetes``).

Trigger: annotate the Application with ``argocd.argoproj.io/refresh: normal``; the
application controller refreshes it and removes the annotation. Status: the Applications
(``argoproj.io/v1alpha1``) of the app's namespace are listed, then watched, through the
``kubernetes`` client (kubeconfig or the pod's service account), and judged by the same
live rule as the API path (``argocd.judge``). When health predates the last sync, the
app is annotated again once the controller took the last request away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gitops_actions.agent import AppState, Settings, shaped
from gitops_actions.agent.argocd import app_url, judge, server_url, split_app, state_of
from gitops_actions.agent.kube import Caches, Kind, annotate, api_client
from gitops_actions.errors import ExternalError, UsageError
from gitops_actions.retry import Deadline

REFRESH = "argocd.argoproj.io/refresh"
APPLICATIONS = Kind("argoproj.io", "v1alpha1", "applications", "Application")
DEFAULT_NAMESPACE = "argocd"


def _where(app: str) -> tuple[str, str]:
    namespace, name = split_app(app)
    return namespace or DEFAULT_NAMESPACE, name


@dataclass
class ArgoCDKube:
    api: Any
    settings: Settings = field(default_factory=Settings)
    server: str = ""  # the Argo CD UI, for links, when ARGOCD_SERVER is set
    name: str = "argocd"
    _asked: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._caches = Caches(self.api)

    @classmethod
    def from_env(cls, env: Mapping[str, str], settings: Settings) -> ArgoCDKube:
        if settings.sync:
            raise UsageError(
                "--sync needs --argocd-via api",
                hint="through Kubernetes, rely on the app's auto-sync, or use the API",
            )
        from kubernetes import client

        return cls(client.CustomObjectsApi(api_client(env)), settings, server_url(env))

    def _annotate(self, app: str, deadline: Deadline) -> None:
        namespace, name = _where(app)
        annotate(self.api, APPLICATIONS, namespace, name, {REFRESH: "normal"}, deadline)

    # -- Agent ---------------------------------------------------------------------------
    def trigger(self, app: str, deadline: Deadline) -> None:
        namespace, _ = _where(app)
        self._caches.of(APPLICATIONS, namespace, deadline)  # watching before asking
        self._asked.setdefault(app, datetime.now().astimezone().replace(microsecond=0))
        self._annotate(app, deadline)

    def observe(self, app: str, revision: str, deadline: Deadline) -> AppState:
        namespace, name = _where(app)
        cache = self._caches.of(APPLICATIONS, namespace, deadline)
        if not cache.listed.is_set():
            cache.get(name)  # raises what stopped the listing, if anything did
            return AppState(app, "pending", "not listed yet", url=self.url(app))
        data = cache.get(name)
        if data is None:
            raise ExternalError(
                f"argocd: no Application {namespace}/{name}", transient=False, hint="check --app"
            )
        with shaped("argocd", app):
            project = data.get("spec", {}).get("project")
        if self.settings.project and project != self.settings.project:
            raise ExternalError(
                f"argocd: Application {namespace}/{name} is in project {project!r}, "
                f"not {self.settings.project!r}",
                transient=False,
                hint="check --app and --argocd-project",
            )
        with shaped("argocd", app):
            verdict = judge(data, revision, repo=self.settings.repo, since=self._asked.get(app))
            annotations = data.get("metadata", {}).get("annotations") or {}
            stale = verdict.stale and REFRESH not in annotations
            state = state_of(app, data, verdict, repo=self.settings.repo, url=self.url(app))
        if stale:
            self._annotate(app, deadline)
        return state

    def url(self, app: str) -> str:
        return app_url(self.server, app) if self.server else ""

    def pause(self, seconds: float) -> None:
        self._caches.pause(seconds)

    def close(self) -> None:
        self._caches.close()
