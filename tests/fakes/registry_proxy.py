"""A loopback proxy in front of a real registry that can fail on purpose and ask for a token.

with RegistryProxy(upstream) as proxy:
    proxy.fail(500, times=2, method="PUT", path="/manifests/")  # the next two such requests
    proxy.require("ci", "s3cret")  # bearer token flow, as ghcr.io and Docker Hub do it
"""

from __future__ import annotations

import base64
import hmac
import http.client
import json
import re
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gitops_actions.sandbox import read_body

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
# the error a fault answers with, as the distribution spec names it for the status (Docker
# Hub's rate limit: 429 TOOMANYREQUESTS); any other status is UNKNOWN
CODES = {
    401: ("UNAUTHORIZED", "authentication required"),
    403: ("DENIED", "requested access to the resource is denied"),
    429: ("TOOMANYREQUESTS", "You have reached your pull rate limit."),
}


@dataclass
class Fault:
    status: int
    times: int
    method: str
    path: str


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are counted, not printed."""

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """``headers`` may carry the Content-Length of a HEAD's answer (a blob's size, which
        a client reads from it); otherwise it is the body's."""
        self.send_response(status)
        length = str(len(body))
        for key, value in (headers or {}).items():
            if key.lower() == "content-length":
                length = value
            else:
                self.send_header(key, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        body = read_body(self)
        server = self.server
        with server.lock:
            server.requests[(self.command, self.path.split("?")[0])] += 1
        if self.path.startswith("/token"):
            return self._token()
        if server.credentials and not self._authorized():
            realm = f"http://{self.headers['Host']}/token"
            challenge = f'Bearer realm="{realm}",service="proxy"'
            return self._reply(
                401,
                b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                {"WWW-Authenticate": challenge, "Content-Type": "application/json"},
            )
        with server.lock:
            for fault in server.faults:
                if fault.times and fault.method == self.command and fault.path in self.path:
                    fault.times -= 1
                    server.failed += 1
                    code, message = CODES.get(fault.status, ("UNKNOWN", ""))
                    error = {"code": code, "message": message} if message else {"code": code}
                    return self._reply(
                        fault.status,
                        json.dumps({"errors": [error]}).encode(),
                        {"Content-Type": "application/json"},
                    )
        upstream = http.client.HTTPConnection(server.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        headers.pop("Authorization", None)
        headers["Content-Length"] = str(len(body))
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self._reply(
            answer.status,
            data,
            {
                k: v
                for k, v in answer.getheaders()
                if k.lower() not in HOP and (k.lower() != "content-length" or not data)
            },
        )

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.server.tokens

    def _token(self) -> None:
        user, password = self.server.credentials or ("", "")
        want = base64.b64encode(f"{user}:{password}".encode()).decode()
        header = self.headers.get("Authorization", "")
        if not (header.startswith("Basic ") and hmac.compare_digest(header[6:], want)):
            return self._reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
        token = secrets.token_hex(16)
        self.server.tokens.add(token)
        self._reply(200, f'{{"token":"{token}"}}'.encode(), {"Content-Type": "application/json"})

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.requests: Counter[tuple[str, str]] = Counter()
        self.failed = 0
        self.credentials: tuple[str, str] | None = None
        self.tokens: set[str] = set()


class RegistryProxy:
    def __init__(self, upstream: str) -> None:
        self._server = _Server(upstream)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def fail(self, status: int, *, times: int, method: str, path: str) -> None:
        self._server.faults.append(Fault(status, times, method, path))

    def require(self, username: str, password: str) -> None:
        self._server.credentials = (username, password)

    @property
    def failed(self) -> int:
        return self._server.failed

    def count(self, method: str, pattern: str) -> int:
        return sum(
            n
            for (m, path), n in self._server.requests.items()
            if m == method and re.search(pattern, path)
        )

    def __enter__(self) -> RegistryProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
