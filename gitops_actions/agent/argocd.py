"""Argo CD through its REST API, with a bearer token from ``ARGOCD_AUTH_TOKEN``.

Trigger: ``GET /api/v1/applications/{name}?refresh=normal`` (needs only ``get``; it returns
once the refresh is consumed), then with ``--sync`` a ``POST .../sync`` that names no
revision (with auto-sync on, Argo CD refuses any other revision than the target's).

Live means all of: no pending ``operation``; ``operationState`` absent or finished; health
trusted only once ``status.reconciledAt >= operationState.finishedAt`` (else refresh again);
no ``ComparisonError`` / ``InvalidSpecError`` condition; ``sync.status == Synced``;
``sync.revision`` (``sync.revisions[i]`` for multi-source apps) is our commit; and
``health.status == Healthy``. ``operationState.syncResult.revision`` alone is not enough:
with ``manifest-generate-paths`` a commit that does not touch an app starts no operation,
while ``sync.revision`` still moves.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from gitops_actions.agent import AppState, Judgement, Settings, same_revision, shaped
from gitops_actions.errors import ExternalError, UsageError
from gitops_actions.forge import api_detail, env_token
from gitops_actions.retry import Deadline, call

REQUEST_TIMEOUT = 30.0
WORKERS = 16  # as many as the wait loop's threads
FINISHED = ("Succeeded", "Failed", "Error")
BROKEN_SPEC = ("ComparisonError", "InvalidSpecError")
_TRUE = ("1", "true", "yes", "on")


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _repo_key(url: str) -> str:
    """``https://host/a/b.git`` and ``git@host:a/b`` are both ``host/a/b``."""
    key = re.sub(r"^[a-z][a-z0-9+.-]*://([^@/]*@)?|^[\w.-]+@", "", url.strip().lower())
    return key.replace(":", "/").rstrip("/").removesuffix(".git")


def revision_of(app: Mapping[str, Any], repo: str = "") -> tuple[str, ...]:
    """The revision(s) Argo CD compared the app at: one, or one per source."""
    sync = app.get("status", {}).get("sync", {})
    revisions = sync.get("revisions") or []
    if not revisions:
        return (sync.get("revision") or "",)
    sources = app.get("spec", {}).get("sources") or []
    if repo and len(sources) == len(revisions):
        mine = tuple(
            rev
            for rev, source in zip(revisions, sources, strict=True)
            if _repo_key(str(source.get("repoURL", ""))) == _repo_key(repo)
        )
        if mine:
            return mine
    return tuple(str(r) for r in revisions)


def _operation_revisions(op: Mapping[str, Any]) -> set[str]:
    result = op.get("syncResult") or {}
    sync = (op.get("operation") or {}).get("sync") or {}
    found = {result.get("revision"), sync.get("revision")}
    found |= set(result.get("revisions") or []) | set(sync.get("revisions") or [])
    return {str(r) for r in found if r}


def _degraded_detail(app: Mapping[str, Any]) -> str:
    status = app.get("status", {})
    message = str(status.get("health", {}).get("message") or "")
    if message:
        return message
    for resource in status.get("resources") or []:
        health = resource.get("health") or {}
        if health.get("status") == "Degraded":
            what = f"{resource.get('kind', '')}/{resource.get('name', '')}"
            return f"{what}: {health.get('message') or 'Degraded'}"
    return ""


def judge(
    app: Mapping[str, Any], sha: str, *, repo: str = "", since: datetime | None = None
) -> Judgement:
    """The live rule, over one Application as the API returns it.

    ``since`` is when we asked: an operation that started after it is ours even when it
    failed before it could name a revision.
    """
    status = app.get("status", {})
    sync = status.get("sync", {})
    sync_status = str(sync.get("status") or "Unknown")
    health = str(status.get("health", {}).get("status") or "Unknown")
    revisions = revision_of(app, repo)
    at = ", ".join(r[:12] for r in revisions if r) or "no revision"
    op = status.get("operationState") or {}
    phase = str(op.get("phase") or "")
    words = [sync_status, health, f"at {at}"]

    if app.get("operation"):
        return Judgement("pending", ", ".join([*words, "operation pending"]))
    if op and phase not in FINISHED:
        return Judgement("pending", ", ".join([*words, f"operation {phase or 'Running'}"]))
    if phase in ("Failed", "Error"):
        started = _time(op.get("startedAt"))
        ours = any(same_revision(r, sha) for r in _operation_revisions(op)) or (
            since is not None and started is not None and started >= since
        )
        if ours:
            message = str(op.get("message") or f"sync {phase.lower()}")
            return Judgement("failed", ", ".join([*words, f"operation {phase}"]), message)
    for condition in status.get("conditions") or []:
        if condition.get("type") in BROKEN_SPEC:
            message = str(condition.get("message") or "")
            return Judgement("pending", ", ".join([*words, condition["type"]]), message)
    if sync_status != "Synced" or not any(same_revision(r, sha) for r in revisions):
        return Judgement("pending", ", ".join(words))
    finished, reconciled = _time(op.get("finishedAt")), _time(status.get("reconciledAt"))
    if finished is not None and (reconciled is None or reconciled < finished):
        return Judgement("pending", ", ".join([*words, "health not yet compared"]), stale=True)
    if health == "Healthy":
        return Judgement("live", ", ".join(words))
    if health == "Degraded":
        return Judgement("failed", ", ".join(words), _degraded_detail(app) or "app is Degraded")
    return Judgement("pending", ", ".join(words), str(status.get("health", {}).get("message", "")))


def state_of(
    app: str, data: Mapping[str, Any], verdict: Judgement, *, repo: str, url: str
) -> AppState:
    """What handoff reports of one Application, judged."""
    return AppState(
        app=app,
        phase=verdict.phase,
        state=verdict.state,
        revision=",".join(r for r in revision_of(data, repo) if r),
        health=str(data.get("status", {}).get("health", {}).get("status") or ""),
        message=verdict.message,
        url=url,
    )


def server_url(env: Mapping[str, str]) -> str:
    """``ARGOCD_SERVER`` as a URL: ``host[:port]`` is HTTPS (HTTP with ARGOCD_PLAINTEXT)."""
    server = env.get("ARGOCD_SERVER", "").strip().rstrip("/")
    if server and "://" not in server:
        plain = env.get("ARGOCD_PLAINTEXT", "").lower() in _TRUE
        server = ("http://" if plain else "https://") + server
    return server


def split_app(app: str) -> tuple[str | None, str]:
    """``ns/name`` (apps in any namespace) or ``name``."""
    namespace, _, name = app.rpartition("/")
    if not name or (_ and not namespace):
        raise UsageError(f"--app {app!r}: expected NAME or NAMESPACE/NAME")
    return namespace or None, name


def app_url(server: str, app: str) -> str:
    """Where the Argo CD UI at ``server`` shows ``app``."""
    namespace, name = split_app(app)
    return (
        f"{server}/applications/{namespace}/{name}"
        if namespace
        else (f"{server}/applications/{name}")
    )


@dataclass
class ArgoCD:
    server: str
    token: str = field(repr=False)
    settings: Settings = field(default_factory=Settings)
    verify: bool = True
    name: str = "argocd"
    _session: requests.Session = field(default_factory=requests.Session, repr=False)
    _asked: dict[str, datetime] = field(default_factory=dict)
    _stale: set[str] = field(default_factory=set)
    _replies: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # from the refresh

    @classmethod
    def from_env(cls, env: Mapping[str, str], settings: Settings) -> ArgoCD:
        server = server_url(env)
        if not server:
            raise UsageError("argocd: no server", hint="set ARGOCD_SERVER (host or https URL)")
        _, token = env_token(env, ("ARGOCD_AUTH_TOKEN",), "argocd")
        insecure = env.get("ARGOCD_INSECURE", "").lower() in _TRUE
        agent = cls(server, token, settings, verify=not insecure)
        agent._session.headers["Authorization"] = f"Bearer {token}"
        pool = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=WORKERS)
        agent._session.mount(server + "/", pool)  # one connection per waiting thread
        return agent

    # -- HTTP ----------------------------------------------------------------------------
    def _query(self, namespace: str | None, **extra: str) -> dict[str, str]:
        query = dict(extra)
        if namespace:
            query["appNamespace"] = namespace
        if self.settings.project:
            query["project"] = self.settings.project
        return query

    def _request(
        self, method: str, path: str, deadline: Deadline, *, what: str, **kwargs: Any
    ) -> Any:
        try:
            reply = self._session.request(
                method,
                self.server + path,
                timeout=max(deadline.clamp(REQUEST_TIMEOUT), 0.5),
                verify=self.verify,
                **kwargs,
            )
        except requests.RequestException as err:
            raise ExternalError(f"argocd: {what}: {api_detail(err)}") from None
        if reply.status_code < 300:
            try:
                return reply.json() if reply.content else {}
            except ValueError:
                raise ExternalError(
                    f"argocd: {what}: the answer is not JSON",
                    transient=False,
                    hint="ARGOCD_SERVER must be the Argo CD API server",
                ) from None
        try:
            body = reply.json()
            detail = body.get("message") or body.get("error") or reply.text
        except ValueError:
            detail = reply.text
        text = f"argocd: {what}: HTTP {reply.status_code}: {api_detail(detail)}"
        if reply.status_code in (401, 403):
            raise ExternalError(
                text,
                transient=False,
                hint="check ARGOCD_AUTH_TOKEN and the project role (applications, get)",
            )
        if reply.status_code == 404:
            raise ExternalError(text, transient=False, hint="check --app and --argocd-project")
        transient = reply.status_code >= 500 or reply.status_code in (408, 429)
        raise _Refused(text, detail=str(detail), transient=transient)

    def _get(self, app: str, deadline: Deadline, *, refresh: bool) -> Mapping[str, Any]:
        namespace, name = split_app(app)
        query = self._query(namespace, **({"refresh": "normal"} if refresh else {}))
        what = f"{'refresh' if refresh else 'get'} application {app}"
        result: Mapping[str, Any] = self._request(
            "GET", f"/api/v1/applications/{name}", deadline, what=what, params=query
        )
        return result

    # -- Agent ---------------------------------------------------------------------------
    def trigger(self, app: str, deadline: Deadline) -> None:
        self._asked.setdefault(app, datetime.now().astimezone().replace(microsecond=0))
        reply = call(
            lambda: self._get(app, deadline, refresh=True), deadline, what=f"refresh {app}"
        )
        if self.settings.sync:
            call(lambda: self._sync(app, deadline), deadline, what=f"sync {app}")
        else:  # the refreshed app is the first look: no second request for it
            self._replies[app] = reply

    def _sync(self, app: str, deadline: Deadline) -> None:
        namespace, name = split_app(app)
        body = {"prune": False, **self._query(namespace)}  # no revision: the app's target
        try:
            self._request(
                "POST", f"/api/v1/applications/{name}/sync", deadline, what=f"sync {app}", json=body
            )
        except _Refused as err:
            if "another operation is already in progress" not in err.detail:
                raise

    def observe(self, app: str, revision: str, deadline: Deadline) -> AppState:
        refresh = app in self._stale
        data = self._replies.pop(app, None) or self._get(app, deadline, refresh=refresh)
        with shaped("argocd", app):
            verdict = judge(data, revision, repo=self.settings.repo, since=self._asked.get(app))
            state = state_of(app, data, verdict, repo=self.settings.repo, url=self.url(app))
        if verdict.stale:
            self._stale.add(app)
        else:
            self._stale.discard(app)
        return state

    def url(self, app: str) -> str:
        return app_url(self.server, app)

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        self._session.close()


class _Refused(ExternalError):
    """Argo CD answered with an error status; ``detail`` is its own message."""

    def __init__(self, message: str, *, detail: str, transient: bool) -> None:
        super().__init__(message, transient=transient)
        self.detail = detail
