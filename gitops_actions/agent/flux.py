"""Flux through the Kubernetes API (the ``kubernetes`` client), or a Receiver URL.

Trigger: annotate the app's GitRepository, then the Kustomization (or HelmRelease), with
one unique ``reconcile.fluxcd.io/requestedAt`` token, as ``flux reconcile --with-source``
does; or call a notification-controller Receiver (generic, generic-hmac with
``X-Signature``, github with ``X-Hub-Signature-256``; secret in ``FLUX_RECEIVER_TOKEN``).

Live means: ``lastHandledReconcileAt`` is our token (not with a Receiver: it writes its own),
``observedGeneration == metadata.generation``, not ``Stalled``, not ``Reconciling``,
``Ready=True``, and the hash after the last ``:`` of ``lastAppliedRevision``
(``main@sha1:<sha>``) is our commit; and the same for every object of the same source in
its ``dependsOn`` closure. Failed means ``lastAttemptedRevision`` is ours and Ready is
False for a reason other than ``DependencyNotReady`` / ``Progressing``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from gitops_actions.agent import AppState, Judgement, Phase, Settings, same_revision, shaped
from gitops_actions.agent.kube import Caches, Kind, Watched, annotate, api_client, request
from gitops_actions.errors import ExternalError, UsageError
from gitops_actions.forge import api_detail, env_token
from gitops_actions.retry import Deadline, call

REQUESTED = "reconcile.fluxcd.io/requestedAt"
KINDS = {
    "kustomization": Kind("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization"),
    "helmrelease": Kind("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease"),
}
SOURCES = {
    "GitRepository": Kind("source.toolkit.fluxcd.io", "v1", "gitrepositories", "GitRepository"),
    "OCIRepository": Kind(
        "source.toolkit.fluxcd.io", "v1beta2", "ocirepositories", "OCIRepository"
    ),
    "Bucket": Kind("source.toolkit.fluxcd.io", "v1", "buckets", "Bucket"),
}
ALIASES = {"ks": "kustomization", "hr": "helmrelease"}
WAITING = ("DependencyNotReady", "Progressing")
RECEIVERS = ("generic", "generic-hmac", "github")
DEFAULT_NAMESPACE = "flux-system"


@dataclass(frozen=True)
class Ref:
    kind: Kind
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.kind}/{self.namespace}/{self.name}"


def parse_app(app: str) -> Ref:
    """``[kustomization|helmrelease/][NAMESPACE/]NAME`` (namespace flux-system)."""
    parts = app.split("/")
    kind: Kind | None = KINDS["kustomization"]
    if len(parts) == 3:
        kind = KINDS.get(ALIASES.get(parts[0].lower(), parts[0].lower()))
        parts = parts[1:]
    if kind is None or not all(parts) or len(parts) > 2:
        raise UsageError(f"--app {app!r}: expected [kustomization/|helmrelease/][NAMESPACE/]NAME")
    namespace, name = parts if len(parts) == 2 else (DEFAULT_NAMESPACE, parts[0])
    return Ref(kind, namespace, name)


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in obj.get("status", {}).get("conditions") or []}


def applied_hash(revision: str) -> str:
    """``main@sha1:abc`` is ``abc``; a chart version ``1.2.0+abc`` is ``abc``."""
    return revision.rsplit(":", 1)[-1].rsplit("+", 1)[-1] if revision else ""


def _ours(revision: str, sha: str) -> bool:
    have = applied_hash(revision)
    return same_revision(have, sha) or (len(have) >= 7 and sha.startswith(have))


def applied_revision(obj: Mapping[str, Any]) -> str:
    """The revision the object last applied: a Kustomization's ``lastAppliedRevision``
    (``main@sha1:<sha>``); a HelmRelease's (v2) newest release in ``history``, when it is
    ``deployed``: its ``chartVersion``, which names the commit (``1.2.0+<sha12>``) when
    the chart comes from a GitRepository with ``reconcileStrategy: Revision``."""
    status = obj.get("status", {})
    applied = str(status.get("lastAppliedRevision") or "")
    history = status.get("history") or []
    if not applied and history and history[0].get("status", "deployed") == "deployed":
        applied = str(history[0].get("chartVersion") or "")
    return applied


def retrying(obj: Mapping[str, Any]) -> str:
    """How a HelmRelease whose last install or upgrade failed is retried ("" when it is
    not: retries exhausted, or not a HelmRelease). helm-controller retries while
    ``<action>Failures <= spec.<action>.remediation.retries`` (-1: for ever)."""
    status = obj.get("status", {})
    action = str(status.get("lastAttemptedReleaseAction") or "")
    if action not in ("install", "upgrade"):
        return ""
    failures = int(status.get(f"{action}Failures") or 0)
    spec = obj.get("spec", {}).get(action) or {}
    retries = int((spec.get("remediation") or {}).get("retries") or 0)
    if retries >= 0 and failures > retries:
        return ""
    return f"{action} failed, retrying ({failures} of {'∞' if retries < 0 else retries})"


def _failure_message(conditions: Mapping[str, Mapping[str, Any]]) -> str:
    """The controller's own words: helm's (``Released``), then ``Stalled``, then ``Ready``."""
    for kind, when in (("Released", "False"), ("Stalled", "True"), ("Ready", "False")):
        condition = conditions.get(kind, {})
        if condition.get("status") == when and condition.get("message"):
            return str(condition["message"])
    return ""


def judge(obj: Mapping[str, Any], sha: str, token: str | None) -> Judgement:
    """The live rule over one Kustomization or HelmRelease; ``token`` None: not checked."""
    status = obj.get("status", {})
    conditions = _conditions(obj)
    ready = conditions.get("Ready", {})
    applied = applied_revision(obj)
    attempted = str(status.get("lastAttemptedRevision") or "")
    words = [f"Ready={ready.get('status', 'Unknown')}"]
    if ready.get("reason"):
        words.append(str(ready["reason"]))
    words.append(f"at {applied_hash(applied)[:12] or 'no revision'}")
    state = ", ".join(words)
    message = str(ready.get("message") or "")
    if (
        ready.get("status") == "False"
        and ready.get("reason") not in WAITING
        and _ours(attempted, sha)
    ):
        again = retrying(obj)
        if again:
            return Judgement("pending", f"{state}, {again}", _failure_message(conditions))
        return Judgement("failed", state, _failure_message(conditions) or message)
    if token is not None and status.get("lastHandledReconcileAt") != token:
        return Judgement("pending", state + ", request not handled yet")
    generation = obj.get("metadata", {}).get("generation")
    if status.get("observedGeneration") != generation:
        return Judgement("pending", state + ", generation not observed yet")
    if conditions.get("Stalled", {}).get("status") == "True":
        return Judgement("pending", state + ", Stalled", str(conditions["Stalled"].get("message")))
    if conditions.get("Reconciling", {}).get("status") == "True":
        return Judgement("pending", state + ", Reconciling")
    if ready.get("status") != "True":
        return Judgement("pending", state, message)
    if not _ours(applied, sha):
        if status.get("history") and "+" not in applied:
            hint = (
                f"chart version {applied or '?'} names no commit: give the chart "
                "reconcileStrategy: Revision, or hand off the Kustomization that applies it"
            )
            return Judgement("pending", state, hint)
        return Judgement("pending", state)
    return Judgement("live", state)


def _source_of(obj: Mapping[str, Any], namespace: str) -> tuple[str, str, str] | None:
    spec = obj.get("spec", {})
    ref = spec.get("sourceRef") or spec.get("chart", {}).get("spec", {}).get("sourceRef")
    ref = ref or spec.get("chartRef")
    if not ref:
        return None
    return str(ref.get("kind", "")), str(ref.get("namespace") or namespace), str(ref["name"])


@dataclass
class Flux:
    api: Any
    settings: Settings = field(default_factory=Settings)
    receiver_secret: str = field(default="", repr=False)
    name: str = "flux"
    token: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat() + "-" + secrets.token_hex(4)
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _received: bool = False

    def __post_init__(self) -> None:
        self._caches = Caches(self.api)

    @classmethod
    def from_env(cls, env: Mapping[str, str], settings: Settings) -> Flux:
        from kubernetes import client

        secret = ""
        if settings.receiver:
            if settings.receiver_type not in RECEIVERS:
                raise UsageError(
                    f"--receiver-type {settings.receiver_type!r}: choose {', '.join(RECEIVERS)}"
                )
            if settings.receiver_type != "generic":
                _, secret = env_token(env, ("FLUX_RECEIVER_TOKEN",), "flux receiver")
        return cls(client.CustomObjectsApi(api_client(env)), settings, secret)

    # -- the cluster ---------------------------------------------------------------------
    def _cache(self, kind: Kind, namespace: str, deadline: Deadline) -> Watched:
        return self._caches.of(kind, namespace, deadline)

    def _annotate(self, kind: Kind, namespace: str, name: str, deadline: Deadline) -> None:
        annotate(self.api, kind, namespace, name, {REQUESTED: self.token}, deadline)

    # -- Agent ---------------------------------------------------------------------------
    def trigger(self, app: str, deadline: Deadline) -> None:
        ref = parse_app(app)
        self._cache(ref.kind, ref.namespace, deadline)
        if self.settings.receiver:
            with self._lock:
                if self._received:
                    return
                self._received = True
            self._receive(deadline)
            return
        obj = request(
            lambda: self.api.get_namespaced_custom_object(
                ref.kind.group,
                ref.kind.version,
                ref.namespace,
                ref.kind.plural,
                ref.name,
                _request_timeout=deadline.clamp(30) or 1,
            ),
            deadline,
            what=f"get {ref}",
        )
        source = _source_of(obj, ref.namespace)
        if source and source[0] in SOURCES:
            self._annotate(SOURCES[source[0]], source[1], source[2], deadline)
        self._annotate(ref.kind, ref.namespace, ref.name, deadline)

    def _receive(self, deadline: Deadline) -> None:
        url, kind = str(self.settings.receiver), self.settings.receiver_type
        headers = {"Content-Type": "application/json"}
        payload: dict[str, Any] = {"token": self.token}
        if kind == "github":
            payload = {"ref": f"refs/heads/{self.settings.branch}"}
            headers["X-GitHub-Event"] = "push"
        body = json.dumps(payload).encode()
        digest = hmac.new(self.receiver_secret.encode(), body, hashlib.sha256).hexdigest()
        if kind == "generic-hmac":
            headers["X-Signature"] = f"sha256={digest}"
        elif kind == "github":
            headers["X-Hub-Signature-256"] = f"sha256={digest}"

        def post() -> None:
            try:
                reply = requests.post(
                    url, data=body, headers=headers, timeout=deadline.clamp(30) or 1
                )
            except requests.RequestException as err:
                raise ExternalError(f"flux receiver: {api_detail(err)}") from None
            if reply.status_code >= 300:
                transient = reply.status_code >= 500 or reply.status_code == 429
                raise ExternalError(
                    f"flux receiver refused the request: HTTP {reply.status_code}",
                    transient=transient,
                    hint="check --receiver, --receiver-type and FLUX_RECEIVER_TOKEN",
                )

        call(post, deadline, what="call the flux receiver")

    def observe(self, app: str, revision: str, deadline: Deadline) -> AppState:
        ref = parse_app(app)
        token = None if self.settings.receiver else self.token
        cache = self._cache(ref.kind, ref.namespace, deadline)
        if not cache.listed.is_set():
            cache.get(ref.name)  # raises what stopped the listing, if anything did
            return AppState(app, "pending", "not listed yet")
        obj = cache.get(ref.name)
        if obj is None:
            raise ExternalError(f"flux: no {ref}", transient=False, hint="check --app")
        with shaped("flux", app):
            return self._observe(app, ref, obj, revision, token, deadline)

    def _observe(
        self,
        app: str,
        ref: Ref,
        obj: Mapping[str, Any],
        revision: str,
        token: str | None,
        deadline: Deadline,
    ) -> AppState:
        verdict = judge(obj, revision, token)
        own = AppState(
            app,
            verdict.phase,
            verdict.state,
            revision=applied_hash(applied_revision(obj)),
            health=str(_conditions(obj).get("Ready", {}).get("status", "")),
            message=verdict.message,
        )
        if verdict.phase == "failed":
            return own
        for dep in self._closure(ref, obj, deadline):
            dep_obj = self._cache(dep.kind, dep.namespace, deadline).get(dep.name)
            dep_verdict = judge(dep_obj, revision, None) if dep_obj else None
            if dep_verdict is None or dep_verdict.phase != "live":
                what = dep_verdict.state if dep_verdict else "not seen yet"
                phase: Phase = (
                    "failed" if dep_verdict and dep_verdict.phase == "failed" else "pending"
                )
                note = f"dependency {dep.namespace}/{dep.name}: {what}"
                detail = dep_verdict.message if dep_verdict else ""
                return AppState(
                    app,
                    phase,
                    own.state if phase == "pending" else note,
                    own.revision,
                    own.health,
                    f"{note}" + (f": {detail}" if detail else ""),
                )
        return own

    def _closure(self, ref: Ref, obj: Mapping[str, Any], deadline: Deadline) -> list[Ref]:
        """The ``dependsOn`` closure of ``obj`` with the same source, dependencies first."""
        source = _source_of(obj, ref.namespace)
        found: list[Ref] = []
        seen = {(ref.namespace, ref.name)}
        todo = [(ref.namespace, obj)]
        while todo:
            namespace, current = todo.pop()
            for dep in current.get("spec", {}).get("dependsOn") or []:
                key = (str(dep.get("namespace") or namespace), str(dep["name"]))
                if key in seen:
                    continue
                seen.add(key)
                dep_ref = Ref(ref.kind, *key)
                dep_obj = self._cache(ref.kind, key[0], deadline).get(key[1])
                if dep_obj is not None and _source_of(dep_obj, key[0]) != source:
                    continue
                found.insert(0, dep_ref)
                if dep_obj is not None:
                    todo.append((key[0], dep_obj))
        return found

    def url(self, app: str) -> str:
        return ""

    def pause(self, seconds: float) -> None:
        self._caches.pause(seconds)

    def close(self) -> None:
        self._caches.close()
