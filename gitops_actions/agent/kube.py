"""The Kubernetes API through the ``kubernetes`` client: a client from kubeconfig or the
pod's service account, errors mapped to ours, and a watched cache of one kind of custom
object in one namespace.

The cache lists, then watches from the list's ``resourceVersion`` with bookmarks; a watch
that ends or drops is resumed from the last version seen, and one that answers 410 Gone
(the version was compacted away) lists again. Every reconnect is paced by the retry helper
and bounded by the caller's deadline.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from gitops_actions.errors import ExternalError, GitopsError, InputError, UsageError
from gitops_actions.forge import api_detail
from gitops_actions.retry import Backoff, Deadline, DeadlineExceeded, attempts, call
from gitops_actions.secrets import REDACTOR

T = TypeVar("T")
REQUEST_TIMEOUT = 30.0
WATCH_SECONDS = 60  # one watch request; then it is resumed


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str


def api_client(env: Mapping[str, str]) -> Any:
    """A client for the cluster in ``KUBECONFIG`` (first file), ``~/.kube/config``, or the
    pod's service account, in that order."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    files = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    home = Path(env.get("HOME", "~")).expanduser() / ".kube" / "config"
    path = files[0] if files else (str(home) if home.is_file() else "")
    try:
        if path:
            return _learned(
                config.new_client_from_config(config_file=path, persist_config=False)  # type: ignore[no-untyped-call]
            )
        if env.get("KUBERNETES_SERVICE_HOST"):
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return _learned(client.ApiClient(configuration))
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else None
        raise InputError(f"not a kubeconfig: {err.problem}", path=path, line=line) from None
    except (ConfigException, yaml.YAMLError, OSError, ValueError, TypeError, KeyError) as err:
        raise UsageError(
            f"{path or 'in-cluster config'}: cannot use it: {api_detail(err)}"
        ) from None
    raise UsageError("no cluster to talk to", hint="set KUBECONFIG, or run inside the cluster")


def _learned(api: Any) -> Any:
    """``api``, its credentials (a bearer token, a password) now known as secrets."""
    configuration = api.configuration
    for value in (getattr(configuration, "api_key", None) or {}).values():
        REDACTOR.learn(str(value).removeprefix("Bearer ").strip())
    if getattr(configuration, "password", None):
        REDACTOR.learn(str(configuration.password))
    return api


def failure(err: BaseException, what: str) -> GitopsError:
    """A client error as ours: refused and not-found are final, the rest transient."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(err, ApiException):
        status = int(err.status or 0)
        text = f"{what}: HTTP {status} {api_detail(err.reason or '')}"
        if status in (401, 403):
            return ExternalError(
                text,
                transient=False,
                hint="check the kubeconfig and the RBAC: get, list, watch, patch on the app's kind",
            )
        if status == 404:
            return ExternalError(text, transient=False, hint="check --app")
        return ExternalError(text, transient=status >= 500 or status in (408, 410, 429))
    return ExternalError(f"{what}: {api_detail(err)}")


def request(operation: Callable[[], T], deadline: Deadline, *, what: str) -> T:
    """``operation()`` with client errors mapped, retried while transient."""

    def once() -> T:
        try:
            return operation()
        except GitopsError:
            raise
        except Exception as err:
            raise failure(err, what) from None

    return call(once, deadline, what=what)


class Watched:
    """The objects of one kind in one namespace, kept current by a watch on a thread."""

    def __init__(
        self,
        api: Any,
        kind: Kind,
        namespace: str,
        deadline: Deadline,
        news: threading.Event | None = None,
    ) -> None:
        self.api, self.kind, self.namespace, self.deadline = api, kind, namespace, deadline
        self.news = news or threading.Event()  # set whenever an object changed
        self.objects: dict[str, dict[str, Any]] = {}
        self.error: GitopsError | None = None
        self.listed = threading.Event()
        self.version = ""
        self.reconnects = 0
        self._stopped = threading.Event()
        self._watch: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def get(self, name: str) -> dict[str, Any] | None:
        if self.error is not None:
            raise self.error
        with self._lock:
            return self.objects.get(name)

    def stop(self) -> None:
        self._stopped.set()
        if self._watch is not None:
            self._watch.stop()
        self._thread.join(timeout=2)

    # -- the thread ----------------------------------------------------------------------
    def _args(self) -> tuple[str, str, str, str]:
        return self.kind.group, self.kind.version, self.namespace, self.kind.plural

    def _list(self) -> None:
        listed = self.api.list_namespaced_custom_object(
            *self._args(), _request_timeout=self.deadline.clamp(REQUEST_TIMEOUT) or 1
        )
        with self._lock:
            self.objects = {o["metadata"]["name"]: o for o in listed.get("items", [])}
            self.version = str(listed.get("metadata", {}).get("resourceVersion", ""))
        self.listed.set()
        self.news.set()

    def _follow(self) -> None:
        from kubernetes import watch

        seconds = int(min(WATCH_SECONDS, max(self.deadline.remaining(), 1)))
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        stream = self._watch.stream(
            self.api.list_namespaced_custom_object,
            *self._args(),
            resource_version=self.version,
            allow_watch_bookmarks=True,
            timeout_seconds=seconds,
            _request_timeout=(5, seconds + 5),
        )
        for event in stream:
            obj = event["raw_object"]
            with self._lock:
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.objects[obj["metadata"]["name"]] = obj
                elif event["type"] == "DELETED":
                    self.objects.pop(obj["metadata"]["name"], None)
                self.version = str(self._watch.resource_version or self.version)
            if event["type"] != "BOOKMARK":
                self.news.set()
            if self._stopped.is_set():
                return

    def _run(self) -> None:
        from kubernetes.client.exceptions import ApiException

        backoff = Backoff(base=0.05, cap=1.0)
        what = f"watch {self.kind.plural} in {self.namespace}"
        try:
            for _ in attempts(self.deadline, what=what, backoff=backoff):
                if self._stopped.is_set():
                    return
                try:
                    if not self.version:
                        self._list()
                    if self._stopped.is_set():  # stopped while listing: no watch
                        return
                    self._follow()
                    backoff.collisions = 0  # a clean end: resume at once
                except ApiException as err:
                    if err.status == 410:  # compacted: list again
                        self.version = ""
                        continue
                    problem = failure(err, what)
                    if not problem.transient:
                        self.error = problem
                        return
                except Exception:  # a dropped connection, a refused one: resume
                    if self._stopped.is_set():
                        return
                self.reconnects += 1
        except DeadlineExceeded:
            return


class Caches:
    """One ``Watched`` per kind and namespace, opened on first use, and one ``news`` event
    that any of them sets when an object changed."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.news = threading.Event()
        self._watched: dict[tuple[str, str], Watched] = {}
        self._lock = threading.Lock()

    def of(self, kind: Kind, namespace: str, deadline: Deadline) -> Watched:
        with self._lock:
            key = (kind.plural, namespace)
            if key not in self._watched:
                self._watched[key] = Watched(self.api, kind, namespace, deadline, self.news)
            return self._watched[key]

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when a watched object changed meanwhile."""
        self.news.wait(seconds)
        self.news.clear()

    def close(self) -> None:
        with self._lock:
            watched, self._watched = list(self._watched.values()), {}
        for cache in watched:
            cache.stop()


def annotate(
    api: Any, kind: Kind, namespace: str, name: str, values: Mapping[str, str], deadline: Deadline
) -> None:
    """Merge ``values`` into the annotations of one object (a merge patch)."""
    body = {"metadata": {"annotations": dict(values)}}
    request(
        lambda: api.patch_namespaced_custom_object(
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
            body,
            _request_timeout=deadline.clamp(REQUEST_TIMEOUT) or 1,
        ),
        deadline,
        what=f"annotate {kind.kind} {namespace}/{name}",
    )
