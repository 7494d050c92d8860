"""Argo CD's application controller behind the loopback Kubernetes API server.

``ArgoSim`` keeps Application objects (``argoproj.io/v1alpha1``) in a ``KubeApi`` and moves
them through the same status sequence as the Argo CD API stand-in (``FakeApp.render``):
an Application annotated with ``argocd.argoproj.io/refresh`` is refreshed (the annotation
is then removed, as the controller does); when the repo moved, OutOfSync at the new
revision -> ``operation`` -> ``operationState`` Running -> finished -> ``reconciledAt``
catches up and health settles. Every change is written as a new version of the object,
so watches see each stage.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fakes.argocd_api import FakeApp, Script
from fakes.kube_api import Controller, KubeApi

REFRESH = "argocd.argoproj.io/refresh"
PLURAL = "applications"


@dataclass
class ArgoSim(Controller):
    api: KubeApi
    head: str = "0" * 40  # the config repo's tip, as the repo server sees it
    apps: dict[tuple[str, str], FakeApp] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add_app(
        self,
        name: str,
        script: Script | None = None,
        *,
        namespace: str = "argocd",
        project: str = "default",
    ) -> FakeApp:
        with self.api.lock:
            app = FakeApp(name, namespace, project, script or Script(), applied=self.head)
            self.apps[(namespace, name)] = app
            self.api.put(app.render(time.monotonic()))
            return app

    def push(self, sha: str) -> None:
        with self.api.lock:
            self.head = sha

    # -- the controller ------------------------------------------------------------------
    def _patched(self, plural: str, namespace: str, name: str, obj: dict[str, Any]) -> None:
        app = self.apps.get((namespace, name))
        annotations = obj["metadata"].get("annotations") or {}
        if plural != PLURAL or app is None or REFRESH not in annotations:
            return
        app.refreshes += 1
        if app.target != self.head and self.head != app.applied:
            app.aim(self.head, time.monotonic())

    def tick(self, now: float) -> None:
        for (namespace, name), app in self.apps.items():
            self._step(app, self.api.get("Application", namespace, name), now)

    def _step(self, app: FakeApp, stored: dict[str, Any], now: float) -> None:
        """Write the app's state at ``now`` when it differs from the stored one."""
        rendered = app.render(now)
        updated = copy.deepcopy(stored)
        annotations = updated["metadata"].get("annotations") or {}
        annotations.pop(REFRESH, None)  # the request is consumed
        updated["status"] = rendered["status"]
        updated.pop("operation", None)
        if "operation" in rendered:
            updated["operation"] = rendered["operation"]
        if updated != stored:
            self.api.put(updated, "MODIFIED")
