"""A local stand-in for Argo CD's API: it applies the config repo's new commit a moment
after being asked, so the demo can show a handoff without a cluster.

``GET /api/v1/applications/{name}?refresh=normal`` reads the tip of the config repo's
branch; when it moved, the app goes OutOfSync with a sync operation Running, and ``delay``
seconds later Synced and Healthy at the new commit, compared after the sync. Loopback only,
one bearer token.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


def _stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass
class _App:
    applied: str
    target: str = ""
    asked: float = 0.0  # monotonic time the refresh found ``target``
    wall: float = 0.0  # wall time of the same moment, for the status stamps

    def status(self, delay: float, now: float) -> dict[str, Any]:
        done = {"phase": "Succeeded", "message": "successfully synced (all tasks run)"}
        if self.target and now - self.asked >= delay:
            self.applied, self.target = self.target, ""
        if not self.target:
            return {
                "sync": {"status": "Synced", "revision": self.applied},
                "health": {"status": "Healthy"},
                "reconciledAt": _stamp(self.wall + 2),
                "operationState": done
                | {"finishedAt": _stamp(self.wall + 1), "syncResult": {"revision": self.applied}},
            }
        return {
            "sync": {"status": "OutOfSync", "revision": self.target},
            "health": {"status": "Healthy"},
            "reconciledAt": _stamp(self.wall),
            "operationState": {
                "phase": "Running",
                "message": "one or more tasks are running",
                "startedAt": _stamp(self.wall),
                "operation": {"sync": {"revision": self.target}},
            },
        }


class StandInArgoCD(ThreadingHTTPServer):
    """Apps named ``apps`` that follow ``branch`` of the git repository ``remote``, live at
    ``applied`` (default: the branch's tip) until asked."""

    daemon_threads = True

    def __init__(
        self,
        remote: Path,
        apps: list[str],
        token: str,
        *,
        delay: float = 1.0,
        branch: str = "main",
        applied: str = "",
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.remote, self.branch, self.token, self.delay = remote, branch, token, delay
        self.lock = threading.Lock()
        start = applied or self.tip()  # the commit live before anything is asked
        self.apps = {name: _App(start) for name in apps}
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def tip(self) -> str:
        ref = self.remote / "refs" / "heads" / self.branch  # loose, as a push leaves it
        if ref.is_file():
            return ref.read_text().strip()
        done = subprocess.run(
            ["git", "-C", str(self.remote), "rev-parse", self.branch],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    def application(self, name: str, refresh: bool) -> dict[str, Any] | None:
        with self.lock:
            app = self.apps.get(name)
            if app is None:
                return None
            if refresh:
                tip = self.tip()
                if tip not in (app.applied, app.target):
                    app.target, app.asked, app.wall = tip, time.monotonic(), time.time()
            status = app.status(self.delay, time.monotonic())
        meta = {"name": name, "namespace": "argocd"}
        return {"metadata": meta, "spec": {"project": "default"}, "status": status}

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: StandInArgoCD
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API server does

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        name = parts.path.removeprefix("/api/v1/applications/")
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            code, body = 401, {"error": "invalid session", "code": 16, "message": "invalid session"}
        else:
            app = self.server.application(name, query.get("refresh") == "normal")
            code, body = (200, app) if app else (404, {"error": "not found", "code": 5})
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
