"""The service put together: state, workers and the HTTP server, until SIGTERM.

On SIGTERM (or SIGINT) the service stops claiming work, answers ``/readyz`` with 503 and
keeps taking webhooks (they are stored, so nothing sent meanwhile is lost), waits for the
runs in flight up to the drain timeout, then exits. Runs cut off by the timeout keep their
lease until it expires (Redis) or the next start puts them back in line (SQLite).
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gitops_actions.serve.intake import Intake, Service, make_app
from gitops_actions.serve.run import RunConfig, Runner
from gitops_actions.serve.store import SqliteStore, Store
from gitops_actions.serve.telemetry import Log, Metrics, capture_logging
from gitops_actions.serve.worker import Workers, owner_id


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    intake: Intake
    run: RunConfig
    queue: str  # "sqlite" or a redis:// URL
    workers: int
    lease_ttl: float
    drain_timeout: float


def open_store(queue: str, state: Path, owner: str) -> Store:
    if queue.startswith(("redis://", "rediss://", "unix://")):
        from gitops_actions.serve.redis_store import RedisStore

        redis_store: Store = RedisStore(queue, owner)
        return redis_store
    return SqliteStore(state / "serve.db", owner)


async def serve(settings: Settings, log: Log) -> int:
    """Serve until SIGTERM; the number of runs the drain timeout cut off."""
    owner = owner_id()
    store = open_store(settings.queue, settings.run.state, owner)
    metrics = Metrics()
    runner = Runner(settings.run, store, log)
    capture_logging(log)
    workers = Workers(
        store,
        runner,
        count=settings.workers,
        ttl=settings.lease_ttl,
        log=log,
        metrics=metrics,
        owner=owner,
    )
    service = Service(settings.intake, store, metrics, log, workers.wake, workers.running)
    web_runner = web.AppRunner(make_app(service), handle_signals=False, access_log=None)
    await web_runner.setup()
    site = web.TCPSite(web_runner, settings.host, settings.port, backlog=1024)
    await site.start()
    address = web_runner.addresses[0]
    log("listening", host=address[0], port=address[1], forge=settings.intake.forge,
        queue="redis" if settings.queue != "sqlite" else "sqlite", owner=owner)  # fmt: skip
    workers.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    service.draining = True
    log("draining", running=workers.running(), timeout=settings.drain_timeout)
    left = await loop.run_in_executor(None, workers.drain, settings.drain_timeout)
    await web_runner.cleanup()
    log("stopped", cut_off=left)
    if not left:
        store.close()
    return left
