"""A loopback Kubernetes API server for custom objects, and the Flux controllers behind it.

Speaks what the ``kubernetes`` client uses: GET, merge PATCH, LIST (with the list's
``resourceVersion``) and WATCH (``?watch=true&resourceVersion=N``) as a chunked stream of
``{"type", "object"}`` lines, with ``BOOKMARK`` events when asked, an ``ERROR`` event with a
410 ``Status`` once the asked version is compacted away, and watches that can be dropped
mid-stream. Errors are ``Status`` objects.

``FluxSim`` plays source-controller and kustomize-controller: a GitRepository annotated
with ``reconcile.fluxcd.io/requestedAt`` stores an artifact for the repo's head
(``main@sha1:<sha>``); a Kustomization whose source moved, or that was annotated, goes
Reconciling, then Ready (``lastAppliedRevision``), or Ready=False for its own reason,
after waiting (``DependencyNotReady``) for the Kustomizations in its ``dependsOn``.
A notification-controller Receiver URL (``/hook/...``) checks the request as Flux does
(generic, generic-hmac ``X-Signature``, github ``X-Hub-Signature-256``) and annotates
the GitRepository.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fakes import LoopbackServer

REQUESTED = "reconcile.fluxcd.io/requestedAt"
PLURALS = {"GitRepository": "gitrepositories", "Kustomization": "kustomizations"}
GROUPS = {
    "gitrepositories": "source.toolkit.fluxcd.io/v1",
    "kustomizations": "kustomize.toolkit.fluxcd.io/v1",
    "helmreleases": "helm.toolkit.fluxcd.io/v2",
    "applications": "argoproj.io/v1alpha1",
}


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 merge patch."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": _now(),
    }


class KubeApi(LoopbackServer):
    def __init__(self, token: str) -> None:
        super().__init__(_Handler)
        self.token = token
        self.lock = threading.Condition(threading.RLock())
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # plural, ns, name
        self.version = 100
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []  # rv, plural, type, obj
        self.compacted = 0  # watches from before this version get 410 Gone
        self.failures: list[int] = []  # statuses for the next non-watch requests
        self.generation_drops = 0  # bumped to drop every open watch
        self.log: list[tuple[str, str, dict[str, str]]] = []  # method, path, query
        self.hooks: dict[str, Callable[[dict[str, str], bytes], int]] = {}
        self.bookmark_interval = 0.2
        self.on_patch: list[Callable[[str, str, str, dict[str, Any]], None]] = []

    def kubeconfig(self, token: str | None = None) -> str:
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                "users": [{"name": "ci", "user": {"token": token or self.token}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "ci"}}],
                "current-context": "fake",
            }
        )

    def kubeconfig_in(self, directory: Path, token: str | None = None) -> Path:
        """A kubeconfig file in ``directory`` for this server (and ``token``)."""
        path = directory / "kubeconfig"
        path.write_text(self.kubeconfig(token))
        return path

    # -- objects -------------------------------------------------------------------------
    def put(self, obj: dict[str, Any], event: str = "ADDED") -> dict[str, Any]:
        """Store ``obj`` (a new version of it), and tell the watches."""
        with self.lock:
            meta = obj.setdefault("metadata", {})
            plural = PLURALS.get(obj["kind"], obj["kind"].lower() + "s")
            key = (plural, meta.get("namespace", "default"), meta["name"])
            meta.setdefault("namespace", key[1])
            meta.setdefault("generation", 1)
            self.version += 1
            meta["resourceVersion"] = str(self.version)
            self.objects[key] = obj
            self.history.append((self.version, plural, event, copy.deepcopy(obj)))
            self.lock.notify_all()
            return obj

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            return self.objects[(PLURALS.get(kind, kind.lower() + "s"), namespace, name)]

    def compact(self) -> None:
        """Forget the event history: older watches get 410 Gone and must list again."""
        with self.lock:
            self.compacted = self.version
            self.history.clear()

    def drop_watches(self) -> None:
        """Cut every open watch connection mid-stream."""
        with self.lock:
            self.generation_drops += 1
            self.lock.notify_all()

    def watches(self) -> list[dict[str, str]]:
        """The queries of every watch request so far."""
        return [q for _, _, q in self.requests("GET") if q.get("watch") == "true"]

    def troubled(self) -> threading.Thread:
        """A started thread that drops the first watch (the client resumes from the last
        version it saw), then compacts the history and drops the resumed one (the next
        resume gets 410 Gone and must list again)."""

        def until(count: int) -> None:
            ends = time.monotonic() + 20
            while len(self.watches()) < count and time.monotonic() < ends:
                time.sleep(0.02)
            time.sleep(0.05)  # let it stream a little

        def trouble() -> None:
            until(1)
            self.drop_watches()
            until(2)
            self.compact()
            self.drop_watches()

        thread = threading.Thread(target=trouble)
        thread.start()
        return thread

    def fail_next(self, status: int, count: int = 1) -> None:
        with self.lock:
            self.failures.extend([status] * count)

    def requests(self, method: str) -> list[tuple[str, str, dict[str, str]]]:
        with self.lock:
            return [entry for entry in self.log if entry[0] == method]

    def stop(self) -> None:
        self.drop_watches()
        super().stop()


class _Handler(BaseHTTPRequestHandler):
    server: KubeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, code: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _handle(self) -> None:
        api = self.server
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with api.lock:
            api.log.append((self.command, parts.path, query))
        if parts.path.startswith("/hook/"):
            hook = api.hooks.get(parts.path)
            code = (
                404 if hook is None else hook({k.lower(): v for k, v in self.headers.items()}, raw)
            )
            self._send(code, {} if code == 200 else {"message": "refused"})
            return
        if self.headers.get("Authorization") != f"Bearer {api.token}":
            self._send(401, status_body(401, "Unauthorized", "Unauthorized"))
            return
        watching = query.get("watch") in ("true", "1", "True")
        with api.lock:
            failure = api.failures.pop(0) if api.failures and not watching else None
        if failure is not None:
            reason = "TooManyRequests" if failure == 429 else "InternalError"
            self._send(failure, status_body(failure, reason, "injected failure"))
            return
        segments = parts.path.strip("/").split("/")
        # /apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}]
        if len(segments) < 6 or segments[0] != "apis" or segments[3] != "namespaces":
            self._send(404, status_body(404, "NotFound", "the server could not find it"))
            return
        namespace, plural = segments[4], segments[5]
        name = segments[6] if len(segments) > 6 else None
        if name is None and watching:
            self._watch(plural, namespace, query)
        elif name is None:
            self._list(plural, namespace)
        elif self.command == "GET":
            self._get(plural, namespace, name)
        elif self.command == "PATCH":
            self._patch(plural, namespace, name, json.loads(raw or b"{}"))
        else:
            self._send(405, status_body(405, "MethodNotAllowed", "method not allowed"))

    do_GET = do_PATCH = do_POST = _handle

    def _get(self, plural: str, namespace: str, name: str) -> None:
        with self.server.lock:
            obj = self.server.objects.get((plural, namespace, name))
            body = copy.deepcopy(obj)
        if body is None:
            message = f'{plural} "{name}" not found'
            self._send(404, status_body(404, "NotFound", message))
        else:
            self._send(200, body)

    def _patch(self, plural: str, namespace: str, name: str, patch: dict[str, Any]) -> None:
        api = self.server
        with api.lock:
            obj = api.objects.get((plural, namespace, name))
            if obj is None:
                self._send(404, status_body(404, "NotFound", f'{plural} "{name}" not found'))
                return
            updated = copy.deepcopy(obj)
            _merge(updated, patch)
            if updated.get("spec") != obj.get("spec"):
                updated["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
            api.put(updated, "MODIFIED")
            body = copy.deepcopy(updated)
            for hook in api.on_patch:
                hook(plural, namespace, name, updated)
        self._send(200, body)

    def _list(self, plural: str, namespace: str) -> None:
        api = self.server
        with api.lock:
            items = [
                copy.deepcopy(o)
                for (p, ns, _), o in sorted(api.objects.items())
                if p == plural and ns == namespace
            ]
            version = str(api.version)
        group = GROUPS.get(plural, "v1")
        kind = next((k for k, p in PLURALS.items() if p == plural), plural) + "List"
        self._send(
            200,
            {
                "apiVersion": group,
                "kind": kind,
                "metadata": {"resourceVersion": version},
                "items": items,
            },
        )

    def _chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, plural: str, namespace: str, query: dict[str, str]) -> None:
        api = self.server
        since = int(query.get("resourceVersion") or 0)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "True", "1")
        ends = time.monotonic() + float(query.get("timeoutSeconds") or 60)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with api.lock:
            drops = api.generation_drops
        sent = since
        last_bookmark = time.monotonic()
        try:
            while time.monotonic() < ends:
                with api.lock:
                    if api.generation_drops != drops:
                        self.close_connection = True
                        return  # dropped: no final chunk, the client sees a broken stream
                    if since and since < api.compacted:
                        gone = status_body(410, "Expired", f"too old resource version: {since}")
                        self._chunk({"type": "ERROR", "object": gone})
                        break
                    events = [
                        (rv, kind, obj)
                        for rv, p, kind, obj in api.history
                        if rv > sent and p == plural and obj["metadata"]["namespace"] == namespace
                    ]
                    version = api.version  # everything up to here is in ``events``
                    if not events:
                        api.lock.wait(timeout=0.05)
                for rv, kind, obj in events:
                    self._chunk({"type": kind, "object": obj})
                    sent = rv
                if bookmarks and time.monotonic() - last_bookmark >= api.bookmark_interval:
                    sent = max(sent, version)
                    mark = {"kind": "Kustomization", "metadata": {"resourceVersion": str(sent)}}
                    self._chunk({"type": "BOOKMARK", "object": mark})
                    last_bookmark = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


# -- controllers -------------------------------------------------------------------------
class Controller:
    """A controller played on a thread: ``tick(now)`` every ``period`` seconds under the
    API's lock, and ``_patched`` called for every PATCH. Subclasses are dataclasses with an
    ``api``, a ``_stop`` event and a ``_thread``."""

    api: KubeApi
    period = 0.01
    _stop: threading.Event
    _thread: threading.Thread | None

    def start(self) -> None:
        self.api.on_patch.append(self._patched)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            with self.api.lock:
                self.tick(time.monotonic())

    def tick(self, now: float) -> None:
        raise NotImplementedError

    def _patched(self, plural: str, namespace: str, name: str, obj: dict[str, Any]) -> None:
        raise NotImplementedError


# -- Flux controllers --------------------------------------------------------------------
@dataclass
class Plan:
    """How one Kustomization reacts to a new revision."""

    seconds: float = 0.3  # reconcile time, from Reconciling to its result
    ready: bool = True
    reason: str = "ReconciliationSucceeded"  # or HealthCheckFailed, BuildFailed...
    message: str = ""
    stalled: bool = False


@dataclass
class FluxSim(Controller):
    """source-controller and kustomize-controller, ticking on a thread."""

    api: KubeApi
    head: str = "0" * 40
    fetch_seconds: float = 0.1
    plans: dict[tuple[str, str], Plan] = field(default_factory=dict)
    _due: list[tuple[float, Callable[[], None]]] = field(default_factory=list)
    _busy: set[tuple[str, str]] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    # -- setup ---------------------------------------------------------------------------
    def git_repository(self, namespace: str, name: str) -> None:
        rev = f"main@sha1:{self.head}"
        self.api.put(
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"url": "https://git.test/config", "ref": {"branch": "main"}},
                "status": {
                    "observedGeneration": 1,
                    "artifact": {"revision": rev},
                    "conditions": [condition("Ready", "True", "Succeeded", f"stored '{rev}'")],
                },
            }
        )

    def kustomization(
        self,
        namespace: str,
        name: str,
        *,
        source: str = "config",
        depends_on: tuple[str, ...] = (),
        plan: Plan | None = None,
    ) -> None:
        rev = f"main@sha1:{self.head}"
        self.plans[(namespace, name)] = plan or Plan()
        spec: dict[str, Any] = {
            "interval": "10m",
            "path": f"./apps/{name}",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": source},
        }
        if depends_on:
            spec["dependsOn"] = [{"name": d} for d in depends_on]
        self.api.put(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec,
                "status": {
                    "observedGeneration": 1,
                    "lastAppliedRevision": rev,
                    "lastAttemptedRevision": rev,
                    "conditions": [
                        condition("Ready", "True", "ReconciliationSucceeded", f"Applied {rev}")
                    ],
                },
            }
        )

    def push(self, sha: str) -> None:
        with self.api.lock:
            self.head = sha

    def receiver(self, path: str, kind: str, secret: str, namespace: str, source: str) -> None:
        """A Receiver at ``path`` that annotates GitRepository ``namespace/source``."""

        def accept(headers: dict[str, str], body: bytes) -> int:
            if kind == "generic-hmac":
                algo, _, digest = headers.get("x-signature", "").partition("=")
                if algo not in ("sha1", "sha256", "sha512"):
                    return 401
                want = hmac.new(secret.encode(), body, algo).hexdigest()
                if not hmac.compare_digest(want, digest):
                    return 401
            if kind == "github":
                if headers.get("x-github-event") not in ("push", "ping"):
                    return 400
                signed = headers.get("x-hub-signature-256", "").removeprefix("sha256=")
                want = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, signed):
                    return 401
            with self.api.lock:
                obj = copy.deepcopy(self.api.get("GitRepository", namespace, source))
                obj["metadata"].setdefault("annotations", {})[REQUESTED] = f"receiver-{time.time()}"
                self.api.put(obj, "MODIFIED")
                self._patched("gitrepositories", namespace, source, obj)
            return 200

        self.api.hooks[path] = accept

    # -- the controllers -----------------------------------------------------------------
    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        self._due.append((time.monotonic() + seconds, action))

    def tick(self, now: float) -> None:
        ready = [a for t, a in self._due if t <= now]
        self._due = [(t, a) for t, a in self._due if t > now]
        for action in ready:
            action()

    def _patched(self, plural: str, namespace: str, name: str, obj: dict[str, Any]) -> None:
        token = obj["metadata"].get("annotations", {}).get(REQUESTED)
        if token is None or token == obj.get("status", {}).get("lastHandledReconcileAt"):
            return
        if plural == "gitrepositories":
            self._later(self.fetch_seconds, lambda: self._fetch(namespace, name, token))
        elif plural == "kustomizations":
            self._later(0.02, lambda: self._reconcile(namespace, name))

    def _fetch(self, namespace: str, name: str, token: str) -> None:
        repo = copy.deepcopy(self.api.get("GitRepository", namespace, name))
        rev = f"main@sha1:{self.head}"
        moved = repo["status"]["artifact"]["revision"] != rev
        repo["status"] |= {
            "artifact": {"revision": rev},
            "lastHandledReconcileAt": token,
            "conditions": [condition("Ready", "True", "Succeeded", f"stored artifact for '{rev}'")],
        }
        self.api.put(repo, "MODIFIED")
        if moved:
            self._source_moved(namespace, name)

    def _source_moved(self, namespace: str, name: str) -> None:
        """The GitRepository ``namespace/name`` stored a new artifact: what follows it
        reconciles."""
        for (plural, ns, ks), obj in list(self.api.objects.items()):
            if plural == "kustomizations" and obj["spec"]["sourceRef"]["name"] == name:
                self._later(0.02, lambda ns=ns, ks=ks: self._reconcile(ns, ks))

    def _source_revision(self, ks: dict[str, Any]) -> str:
        ref = ks["spec"]["sourceRef"]
        namespace = ref.get("namespace", ks["metadata"]["namespace"])
        repo = self.api.get("GitRepository", namespace, ref["name"])
        revision: str = repo["status"]["artifact"]["revision"]
        return revision

    def _reconcile(self, namespace: str, name: str) -> None:
        if (namespace, name) in self._busy:
            self._later(0.05, lambda: self._reconcile(namespace, name))
            return
        ks = copy.deepcopy(self.api.get("Kustomization", namespace, name))
        rev = self._source_revision(ks)
        ks["status"]["lastAttemptedRevision"] = rev
        ks["status"]["conditions"] = [
            condition("Reconciling", "True", "Progressing", f"reconciling revision {rev}"),
            condition("Ready", "Unknown", "Progressing", f"reconciling revision {rev}"),
        ]
        self.api.put(ks, "MODIFIED")
        self._busy.add((namespace, name))
        plan = self.plans[(namespace, name)]
        self._later(plan.seconds, lambda: self._finish(namespace, name, rev))

    def _finish(self, namespace: str, name: str, rev: str) -> None:
        self._busy.discard((namespace, name))
        ks = copy.deepcopy(self.api.get("Kustomization", namespace, name))
        status = ks["status"]
        token = ks["metadata"].get("annotations", {}).get(REQUESTED)
        if token:
            status["lastHandledReconcileAt"] = token
        status["observedGeneration"] = ks["metadata"]["generation"]
        plan = self.plans[(namespace, name)]
        for dep in ks["spec"].get("dependsOn", []):
            other = self.api.get("Kustomization", dep.get("namespace", namespace), dep["name"])
            ready = any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in other["status"]["conditions"]
            )
            if not ready or other["status"].get("lastAppliedRevision") != rev:
                message = f"dependency '{namespace}/{dep['name']}' is not ready"
                status["conditions"] = [condition("Ready", "False", "DependencyNotReady", message)]
                self.api.put(ks, "MODIFIED")
                self._later(0.1, lambda: self._reconcile(namespace, name))
                return
        if plan.ready:
            status["lastAppliedRevision"] = rev
            message = plan.message or f"Applied revision: {rev}"
            status["conditions"] = [condition("Ready", "True", plan.reason, message)]
        else:
            status["conditions"] = [condition("Ready", "False", plan.reason, plan.message)]
            if plan.stalled:
                status["conditions"].append(condition("Stalled", "True", plan.reason, plan.message))
        self.api.put(ks, "MODIFIED")
