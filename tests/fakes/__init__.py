"""Loopback stand-ins for forge APIs, spoken to by the real client libraries.

A ``FakeApi`` is a threaded HTTP server on 127.0.0.1 with a route table, a token check,
a request log, failure injection (``fail_next``, ``lose_next_reply``) and one pagination
helper (``paginate``) that list endpoints share. Dialects live in ``github_api`` and
``gitlab_api``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent, still percent-encoded, without the query
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised by a route to answer with an error status and a JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status, body)
        self.reply = Reply(status, body)


@dataclass(frozen=True)
class _Failure:
    reply: Reply
    method: str | None  # only requests with this method, or any when None
    serve: bool  # serve the request first, then answer with the failure anyway


Route = Callable[..., Reply]
INJECTED = {"message": "injected failure"}


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1, served from a thread while in a ``with``."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__((LOOPBACK, 0), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class FakeApi(LoopbackServer):
    prefix = ""  # path prefix every route sits under, such as /api/v4

    def __init__(self, tokens: Iterable[str]) -> None:
        super().__init__(_Handler)
        self.tokens = set(tokens)
        self.lock = threading.RLock()
        self.log: list[Request] = []
        self._failures: list[_Failure] = []
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []

    def route(self, method: str, pattern: str, handler: Route) -> None:
        """Serve ``method`` on paths matching ``pattern``; named groups become arguments."""
        self._routes.append((method, re.compile(pattern), handler))

    def fail_next(
        self,
        status: int = 502,
        count: int = 1,
        *,
        method: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``count`` requests (of ``method``, if given) with ``status``."""
        reply = Reply(status, body if body is not None else INJECTED, headers or {})
        with self.lock:
            self._failures.extend([_Failure(reply, method, serve=False)] * count)

    def lose_next_reply(self, status: int = 502, *, method: str | None = None) -> None:
        """Serve the next request (of ``method``), then answer ``status``: a lost reply."""
        with self.lock:
            self._failures.append(_Failure(Reply(status, INJECTED), method, serve=True))

    def requests(self, method: str | None = None, suffix: str = "") -> list[Request]:
        """Logged requests, filtered by method and by the end of the path."""
        with self.lock:
            return [
                r
                for r in self.log
                if (method is None or r.method == method) and r.path.endswith(suffix)
            ]

    def token_of(self, request: Request) -> str | None:
        raise NotImplementedError

    def unauthorized(self) -> Reply:
        return Reply(401, {"message": "401 Unauthorized"})

    def dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.log.append(request)
            failure = next((f for f in self._failures if f.method in (None, request.method)), None)
            if failure is not None:
                self._failures.remove(failure)
                if not failure.serve:
                    return failure.reply
            if self.token_of(request) not in self.tokens:
                return self.unauthorized()
            reply = self._serve(request)
            return failure.reply if failure is not None else reply

    def _serve(self, request: Request) -> Reply:
        if not request.path.startswith(self.prefix):
            return Reply(404, {"message": "404 Not Found"})
        path = request.path[len(self.prefix) :]
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and method == request.method:
                try:
                    return handler(request, **match.groupdict())
                except ApiError as err:
                    return err.reply
        return Reply(404, {"message": "404 Not Found"})

    def paginate(
        self, request: Request, items: Sequence[Any], *, per_page: int, counts: bool = False
    ) -> Reply:
        """One page of ``items`` as the query asks, with ``Link`` (and GitLab's X- headers)."""
        size = min(max(int(request.query.get("per_page", per_page)), 1), 100)
        page = max(int(request.query.get("page", 1)), 1)
        pages = max((len(items) + size - 1) // size, 1)

        def link(number: int) -> str:
            query = urlencode({**request.query, "page": number, "per_page": size})
            return f"<{self.url}{request.path}?{query}>"

        rels = {"prev": page - 1, "first": 1} if page > 1 else {}
        rels |= {"next": page + 1, "last": pages} if page < pages else {}
        headers = {"Link": ", ".join(f'{link(n)}; rel="{rel}"' for rel, n in rels.items())}
        headers = {k: v for k, v in headers.items() if v}
        if counts:
            headers |= {
                "X-Page": str(page),
                "X-Per-Page": str(size),
                "X-Total": str(len(items)),
                "X-Total-Pages": str(pages),
                "X-Next-Page": str(page + 1) if page < pages else "",
                "X-Prev-Page": str(page - 1) if page > 1 else "",
            }
        return Reply(200, list(items[(page - 1) * size : page * size]), headers)


class _Handler(BaseHTTPRequestHandler):
    server: FakeApi

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are logged on the server, not printed."""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=json.loads(raw) if raw.strip() else None,
        )
        reply = self.server.dispatch(request)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
