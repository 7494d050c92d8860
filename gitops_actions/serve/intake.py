"""The HTTP side: webhooks answered within milliseconds, health, readiness and metrics.

A delivery is read (at most 25 MiB, else 413), verified (401), matched against the
repository allowlist (403), then recorded together with its job in one step: the answer
(202) goes out only once the job is stored, and the work happens in the background.
The state is written by one thread of its own, so that the event loop never waits for it
(another delivery is read and verified meanwhile).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs

from aiohttp import web

from gitops_actions.errors import GitopsError, cap
from gitops_actions.serve import events, verify
from gitops_actions.serve.store import Store, Verdict
from gitops_actions.serve.telemetry import Log, Metrics

KNOWN = {
    "github": frozenset({"pull_request", "issue_comment", "ping"}),
    "gitlab": frozenset({"Merge Request Hook", "Note Hook"}),
}
RETRY_AFTER_FULL = "30"
T = TypeVar("T")


@dataclass(frozen=True)
class Intake:
    forge: str
    secret: bytes
    allow: tuple[str, ...]
    max_queue: int


@dataclass
class Service:
    """What the handlers need: settings, state, telemetry and the workers' doorbell."""

    intake: Intake
    store: Store
    metrics: Metrics
    log: Log
    wake: Callable[[], None]
    running: Callable[[], int]
    draining: bool = False
    alive: Callable[[], bool] = lambda: True  # whether the worker process still runs
    state: ThreadPoolExecutor = field(  # the one thread that uses the state
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="state")
    )

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the state's thread."""
        return await asyncio.get_running_loop().run_in_executor(self.state, function, *args)


SERVICE = web.AppKey("service", Service)


def _reply(status: int, verdict: str, **extra: Any) -> web.Response:
    headers = {"Retry-After": RETRY_AFTER_FULL} if status == 503 else None
    return web.json_response({"verdict": verdict, **extra}, status=status, headers=headers)


def _payload(body: bytes, content_type: str) -> Any:
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8"))
        return json.loads(form.get("payload", [""])[0])
    return json.loads(body)


async def hook(request: web.Request) -> web.Response:
    started = time.perf_counter()
    service = request.app[SERVICE]
    settings, log = service.intake, service.log
    headers = request.headers
    delivery = verify.delivery_id(settings.forge, headers)

    def refuse(status: int, verdict: str, reason: str) -> web.Response:
        reason = cap(reason, 200)  # a delivery's own text (a project name) may be huge
        service.metrics.delivery(verdict)
        log("delivery refused", level="warning", delivery=delivery, verdict=verdict, why=reason)
        return _reply(status, verdict, reason=reason)

    if (request.content_length or 0) > verify.MAX_BODY:
        return refuse(413, "too_large", "body over 25 MiB")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return refuse(413, "too_large", "body over 25 MiB")
    refusal = verify.check(settings.forge, settings.secret, headers, body)
    if refusal is not None:
        return refuse(refusal.status, "unauthorized", refusal.reason)
    kind = verify.event_kind(settings.forge, headers)
    if kind == "ping":
        service.metrics.delivery("ping")
        return _reply(200, "pong")
    event: events.Event | None = None
    if kind in KNOWN[settings.forge]:
        try:
            event = events.parse(
                settings.forge, kind, _payload(body, request.content_type), delivery
            )
        except (ValueError, UnicodeDecodeError, events.BadPayload) as err:
            return refuse(400, "bad_payload", (str(err).splitlines() or ["?"])[0][:200])
        except RecursionError:
            return refuse(400, "bad_payload", "JSON nested too deeply")
        if not verify.allowed(event.project, settings.allow):
            return refuse(403, "forbidden", f"repository {event.project} is not served here")
    verdict: Verdict = "ignored"
    job = None
    if event is not None and event.job is not None:
        verdict, job = "queued", event.job
    elif event is not None and event.close is not None:
        verdict, job = "cancelled", event.close
    try:
        result = await service.call(
            service.store.accept, delivery, verdict, job, settings.max_queue
        )
    except GitopsError as err:
        return refuse(503, "unavailable", err.one_line())
    service.metrics.delivery(result)
    fields: dict[str, Any] = {"delivery": delivery, "verdict": result, "event": kind}
    fields["ms"] = round((time.perf_counter() - started) * 1000, 2)
    if job is not None:
        fields |= {"pr": job.key, "head": job.head_sha, "reason": job.reason}
    elif event is not None:
        fields["why"] = event.ignored
    else:
        fields["why"] = f"event {kind or '?'} is not handled"
    log("delivery", **fields)
    if result == "full":
        return _reply(503, result, reason=f"{settings.max_queue} jobs wait already")
    if result == "queued":
        service.wake()
    return _reply(200 if result == "duplicate" else 202, result)


async def healthz(request: web.Request) -> web.Response:
    if not request.app[SERVICE].alive():
        return web.Response(status=503, text="the worker process has ended\n")
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if service.draining:
        return web.Response(status=503, text="draining\n")
    try:
        await service.call(service.store.ping)
    except GitopsError as err:
        return web.Response(status=503, text=f"state unreachable: {err.one_line()}\n")
    return web.Response(text="ready\n")


async def metrics(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    text = await service.call(service.metrics.text, service.store.depth)
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


def make_app(service: Service) -> web.Application:
    app = web.Application(client_max_size=verify.MAX_BODY)
    app[SERVICE] = service
    app.router.add_post("/", hook)
    app.router.add_post("/webhook", hook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
