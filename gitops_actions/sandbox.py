"""Local stand-ins for the demo and the tests: a git smart-HTTP server with basic auth,
and a throwaway Docker engine with a registry. Everything listens on loopback only."""

from __future__ import annotations

import base64
import hmac
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from gitops_actions.errors import ExternalError
from gitops_actions.retry import Backoff, Deadline, DeadlineExceeded, attempts

LOOPBACK = "127.0.0.1"


class Unavailable(ExternalError):
    """A stand-in cannot start here (not root, a program missing); says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """A request's body, with or without chunked transfer encoding."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


class _GitHandler(BaseHTTPRequestHandler):
    server: _GitServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are counted, not printed."""

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        want = base64.b64encode(f"{self.server.username}:{self.server.password}".encode())
        ok = header.startswith("Basic ") and hmac.compare_digest(header[6:].encode(), want)
        if not ok:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
        return ok

    def _cgi(self) -> None:
        self.server.requests += 1
        time.sleep(self.server.delay)
        if not self._authorized():
            return
        path, _, query = self.path.partition("?")
        body = read_body(self) if self.command == "POST" else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": self.server.username,
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        proc = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _cgi
    do_POST = _cgi


class _GitServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, username: str, password: str) -> None:
        super().__init__((LOOPBACK, 0), _GitHandler)
        self.root, self.username, self.password = root, username, password
        self.requests = 0
        self.delay = 0.0  # seconds each request waits: lets tests watch a push in flight


class GitHttpServer:
    """``git http-backend`` behind basic auth on loopback; repos live under ``root``."""

    def __init__(self, root: str | os.PathLike[str], username: str, password: str) -> None:
        self.root = Path(root)
        self._server = _GitServer(self.root, username, password)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def username(self) -> str:
        return self._server.username

    @property
    def password(self) -> str:
        return self._server.password

    @property
    def requests(self) -> int:
        return self._server.requests

    @property
    def delay(self) -> float:
        return self._server.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._server.delay = seconds

    def repo_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> GitHttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wait(check: Any, what: str, timeout: float, log: Path) -> None:
    try:
        for _ in attempts(Deadline.after(timeout), what=what, backoff=Backoff(0.2, 0.2)):
            if check():
                return
    except DeadlineExceeded:
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        message = f"{what} did not become ready in {timeout:.0f}s: {tail.strip()}"
        raise Unavailable(message) from None


class DockerSandbox:
    """A throwaway ``dockerd`` (vfs storage, no networking of its own) and a registry.

    Needs root and Debian's ``docker.io`` and ``docker-registry`` packages.
    """

    def __init__(self, workdir: str | os.PathLike[str]) -> None:
        self.workdir = Path(workdir)
        # unix socket paths are limited to 107 bytes: keep the engine's sockets short
        self._short = Path(tempfile.mkdtemp(prefix="gitops-dk-"))
        self.socket = self._short / "docker.sock"
        self.registry_port = free_port()
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def registry(self) -> str:
        return f"{LOOPBACK}:{self.registry_port}"

    @staticmethod
    def why_not() -> str | None:
        """Why the sandbox cannot start here, or None when it can."""
        if os.geteuid() != 0:
            return "the Docker engine needs root"
        for program in ("dockerd", "docker-registry"):
            if shutil.which(program) is None:
                return f"{program} is not installed (apt-get install docker.io docker-registry)"
        return None

    def _spawn(self, cmd: list[str], log: Path) -> None:
        with log.open("wb") as out:
            self._procs.append(
                subprocess.Popen(
                    cmd,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )

    def start(self, timeout: float = 60) -> DockerSandbox:
        reason = self.why_not()
        if reason:
            raise Unavailable(reason)
        for sub in ("data", "registry"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        config = self.workdir / "registry.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.workdir / 'registry'}\n"
            f"  delete:\n    enabled: true\nhttp:\n  addr: {self.registry}\n"
        )
        self._spawn(["docker-registry", "serve", str(config)], self.workdir / "registry.log")
        self._spawn(
            [
                "dockerd",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=vfs",
                f"--data-root={self.workdir / 'data'}",
                f"--exec-root={self._short / 'exec'}",
                f"--pidfile={self.workdir / 'docker.pid'}",
                f"--host={self.docker_host}",
            ],
            self.workdir / "dockerd.log",
        )
        try:
            _wait(self._registry_up, "registry", timeout, self.workdir / "registry.log")
            _wait(self._engine_up, "dockerd", timeout, self.workdir / "dockerd.log")
        except Unavailable:
            self.stop()
            raise
        return self

    def _registry_up(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.registry_port), timeout=1):
                return True
        except OSError:
            return False

    def _engine_up(self) -> bool:
        if any(p.poll() is not None for p in self._procs):
            raise Unavailable(f"dockerd or the registry exited: see {self.workdir / 'dockerd.log'}")
        if not self.socket.exists():
            return False
        import docker

        try:
            docker.DockerClient(base_url=self.docker_host, timeout=5).ping()
            return True
        except Exception:
            return False

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self._procs.clear()
        data = self.workdir / "data"
        if os.path.ismount(data):  # dockerd leaves its data root bind-mounted
            subprocess.run(["umount", "--lazy", str(data)], check=False, capture_output=True)
        shutil.rmtree(self._short, ignore_errors=True)

    def __enter__(self) -> DockerSandbox:
        return self.start()

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
