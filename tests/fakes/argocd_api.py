"""A loopback Argo CD API server whose Applications move through the real status sequence.

Shapes follow Argo CD's ``v1alpha1.Application`` (``status.sync``, ``status.health``,
``status.operationState``, ``status.reconciledAt``, ``status.conditions``, the top-level
``operation``) and the gRPC-gateway error body (``error``, ``code``, ``message``).

Once a refresh (``GET ...?refresh=normal``) finds that the repo moved, an app goes:
OutOfSync at the new revision -> ``operation`` set -> ``operationState`` Running ->
Succeeded (Synced, health still the old one: ``reconciledAt`` older than ``finishedAt``)
-> ``reconciledAt`` catches up and health settles (Healthy, or Degraded). Without
auto-sync, the operation starts at ``POST .../sync``. Times in the status use the
controller's one-second resolution; each stage is stamped a few seconds after the last,
so the order of the stamps is the order of the stages.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakes import ApiError, FakeApi, Reply, Request

APP = r"/api/v1/applications/(?P<name>[^/]+)"


def _stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _grpc(status: int, code: int, message: str) -> ApiError:
    return ApiError(status, {"error": message, "code": code, "message": message})


@dataclass
class Script:
    """When (seconds after the refresh that saw the commit) each stage of a sync happens."""

    sees: float = 0.0  # before this, the repo server still reports the old commit
    operation: float = 0.1  # auto-sync sets .operation
    running: float = 0.2  # operationState Running
    finished: float = 0.4  # operationState finished; Synced at the new revision
    reconciled: float = 0.6  # reconciledAt catches up; health settles
    phase: str = "Succeeded"  # or Failed / Error
    op_message: str = "successfully synced (all tasks run)"
    health: str = "Healthy"  # the health once settled: Healthy, Degraded, Progressing...
    health_message: str = ""  # a resource's message when it is not Healthy
    touches: bool = True  # False: manifest-generate-paths says the commit is not ours
    auto_sync: bool = True

    def scaled(self, factor: float) -> Script:
        stages = ("sees", "operation", "running", "finished", "reconciled")
        values = {name: getattr(self, name) * factor for name in stages}
        return Script(**{**self.__dict__, **values})


@dataclass
class FakeApp:
    name: str
    namespace: str = "argocd"
    project: str = "default"
    script: Script = field(default_factory=Script)
    applied: str = ""  # the revision live before the handoff
    target: str = ""  # the revision a refresh found
    asked: float | None = None  # monotonic time of that refresh
    stamped: float = 0.0  # wall time stamps are counted from
    sync_asked: float | None = None  # monotonic time of POST /sync
    live_at: float | None = None  # monotonic time the final state was first served
    refreshes: int = 0
    syncs: list[Any] = field(default_factory=list)
    by_revision: dict[str, Script] = field(default_factory=dict)  # a script for one commit
    targets: list[str] = field(default_factory=list)  # every revision a refresh found

    def aim(self, head: str, now: float) -> None:
        """A refresh found ``head``: start its sync (what was synced before is now old)."""
        if self.target and self.asked is not None and self.script.phase == "Succeeded":
            self.applied = self.target
        self.by_revision.setdefault("*", self.script)  # the script for any other commit
        self.script = self.by_revision.get(head, self.by_revision["*"])
        self.target, self.asked, self.stamped = head, now, float(int(time.time()))
        self.sync_asked, self.live_at = None, None
        self.targets.append(head)

    def _op_start(self) -> float | None:
        if self.asked is None:
            return None
        if self.script.auto_sync:
            return self.asked + self.script.operation
        return self.sync_asked

    def render(self, now: float) -> dict[str, Any]:
        s, base = self.script, self.stamped
        old = self.applied
        status: dict[str, Any] = {
            "sync": {"status": "Synced", "revision": old},
            "health": {"status": "Healthy"},
            "reconciledAt": _stamp(base - 60),
            "operationState": {
                "phase": "Succeeded",
                "message": "successfully synced (all tasks run)",
                "startedAt": _stamp(base - 600),
                "finishedAt": _stamp(base - 590),
                "operation": {"sync": {"revision": old}},
                "syncResult": {"revision": old},
            },
        }
        app: dict[str, Any] = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {"project": self.project, "source": {"repoURL": "https://git.test/config"}},
            "status": status,
        }
        if self.asked is None or now < self.asked + s.sees:
            return app
        new = self.target
        status["sync"] = {"status": "OutOfSync", "revision": new}
        status["reconciledAt"] = _stamp(base + 1)
        if not s.touches:
            status["sync"]["status"] = "Synced"
            return self._settled(app, now)
        start = self._op_start()
        if start is None or now < start:
            return app
        elapsed = now - self.asked
        op_offset = start - self.asked
        if elapsed < op_offset + (s.running - s.operation):
            app["operation"] = {"sync": {"revision": new}, "initiatedBy": {"automated": True}}
            return app
        state = {
            "phase": "Running",
            "message": "one or more tasks are running",
            "startedAt": _stamp(base + 2),
            "operation": {"sync": {"revision": new}},
        }
        status["operationState"] = state
        if elapsed < op_offset + (s.finished - s.operation):
            return app
        state |= {"phase": s.phase, "message": s.op_message, "finishedAt": _stamp(base + 3)}
        if s.phase != "Succeeded":
            return app
        state["syncResult"] = {"revision": new}
        status["sync"]["status"] = "Synced"
        if elapsed < op_offset + (s.reconciled - s.operation):
            return app  # health as it was: computed before the sync
        status["reconciledAt"] = _stamp(base + 4)
        return self._settled(app, now)

    def _settled(self, app: dict[str, Any], now: float) -> dict[str, Any]:
        s = self.script
        app["status"]["health"] = {"status": s.health}
        if s.health != "Healthy":
            app["status"]["resources"] = [
                {
                    "kind": "Deployment",
                    "name": self.name,
                    "namespace": "default",
                    "health": {"status": s.health, "message": s.health_message},
                }
            ]
        if self.live_at is None:
            self.live_at = now
        return app


class ArgoCDApi(FakeApi):
    """Accepts ``Authorization: Bearer X`` for any of ``tokens``."""

    def __init__(self, *tokens: str) -> None:
        super().__init__(tokens)
        self.apps: dict[tuple[str, str], FakeApp] = {}
        self.head = "0" * 40  # the config repo's tip, as the repo server would see it
        self.remote: tuple[Path, str] | None = None
        self._after_refresh: list[tuple[int, int, dict[str, str]]] = []
        self.route("GET", APP, self._get)
        self.route("POST", APP + "/sync", self._sync)

    def token_of(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token if scheme == "Bearer" else None

    def unauthorized(self) -> Reply:
        return _grpc(401, 16, "invalid session: token signature is invalid").reply

    # -- for tests -----------------------------------------------------------------------
    def add_app(self, name: str, script: Script | None = None, **kwargs: Any) -> FakeApp:
        with self.lock:
            app = FakeApp(name, script=script or Script(), applied=self.head, **kwargs)
            self.apps[(app.namespace, name)] = app
            return app

    def push(self, sha: str) -> None:
        """The config repo moved to ``sha``; apps see it at their next refresh."""
        with self.lock:
            self.head = sha

    def follow(self, remote: Path, branch: str = "main") -> None:
        """Take the config repo's tip from ``branch`` of the git repository ``remote``."""
        self.remote = (remote, branch)
        self.head = self.tip()

    def tip(self) -> str:
        if self.remote is None:
            return self.head
        remote, branch = self.remote
        done = subprocess.run(
            ["git", "-C", str(remote), "rev-parse", branch], capture_output=True, text=True
        )
        return done.stdout.strip()

    def fail_after_refresh(
        self, status: int, count: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Once the first refresh is served, fail the next ``count`` requests (the polls)."""
        with self.lock:
            self._after_refresh.append((status, count, headers or {}))

    # -- routes --------------------------------------------------------------------------
    def _app(self, request: Request, name: str) -> FakeApp:
        namespace = request.query.get("appNamespace") or (request.body or {}).get("appNamespace")
        app = self.apps.get((namespace or "argocd", name))
        if app is None:
            raise _grpc(404, 5, f'applications.argoproj.io "{name}" not found')
        project = request.query.get("project") or (request.body or {}).get("project")
        if project and project != app.project:
            raise _grpc(403, 7, "permission denied")
        return app

    def _get(self, request: Request, name: str) -> Reply:
        app = self._app(request, name)
        now = time.monotonic()
        if request.query.get("refresh") in ("normal", "hard"):
            app.refreshes += 1
            head = self.tip()
            if app.target != head and head != app.applied:
                app.aim(head, now)
            for status, count, headers in self._after_refresh:
                self.fail_next(status, count, headers=headers)
            self._after_refresh.clear()
        return Reply(200, app.render(now))

    def _sync(self, request: Request, name: str) -> Reply:
        app = self._app(request, name)
        app.syncs.append(request.body)
        rendered = app.render(time.monotonic())
        running = rendered.get("operation") or rendered["status"]["operationState"][
            "phase"
        ] not in ("Succeeded", "Failed", "Error")
        if running:
            raise _grpc(400, 9, "another operation is already in progress")
        if (request.body or {}).get("revision"):
            raise _grpc(400, 9, "Cannot sync to a revision other than the target revision")
        if app.sync_asked is None and app.asked is not None:
            app.sync_asked = time.monotonic()
        return Reply(200, rendered)
