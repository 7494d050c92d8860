"""The service put together: the intake process and the worker process, until SIGTERM.

Two processes, so that runs (rendering is Python work and spawns many programs) never hold
up the answer to a webhook: the intake process serves HTTP and stores jobs; the worker
process, forked at start and niced, claims and runs them. It dies with the intake process
(``PR_SET_PDEATHSIG``), so a ``kill -9`` of the service leaves no run behind. Both share the
state (SQLite file or Redis), a doorbell rung when a job is queued, and the run metrics.

On SIGTERM (or SIGINT) the intake stops the worker process from claiming, answers
``/readyz`` with 503 and keeps taking webhooks (they are stored, so nothing sent meanwhile is
lost); the worker process waits for the runs in flight up to the drain timeout, then both
exit. Runs cut off keep their lease until it expires (Redis) or the next start puts them
back in line (SQLite).
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from gitops_actions.serve.intake import Intake, Service, make_app
from gitops_actions.serve.run import RunConfig, Runner
from gitops_actions.serve.store import SqliteStore, Store
from gitops_actions.serve.telemetry import Log, Metrics, capture_logging
from gitops_actions.serve.worker import Bell, PipeBell, Workers, owner_id

INTAKE_SWITCH = 0.0005  # seconds: the state's thread gets the interpreter back quickly
WORKER_NICE = 10  # the worker process (and what it spawns) yields the CPU to the intake
# A signal the kernel hands to another thread than the main one does not wake the main
# thread from a lock wait, so Python's handler would wait for the next wake-up: the main
# thread of the worker wakes this often to run it.
SIGNAL_POLL = 0.25  # seconds
PR_SET_PDEATHSIG = 1
_FORK = multiprocessing.get_context("fork")


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


def open_store(queue: str, state: Path, owner: str, *, recover: bool = True) -> Store:
    if queue.startswith(("redis://", "rediss://", "unix://")):
        from gitops_actions.serve.redis_store import RedisStore

        redis_store: Store = RedisStore(queue, owner)
        return redis_store
    return SqliteStore(state / "serve.db", owner, recover=recover)


def main(settings: Settings, log: Log) -> int:
    """Serve until SIGTERM; the number of runs the drain timeout cut off."""
    owner = owner_id()
    open_store(settings.queue, settings.run.state, owner).close()  # puts orphaned runs back
    metrics = Metrics()
    bell = PipeBell()
    cut_off = _FORK.RawValue("i", 0)
    worker = _FORK.Process(
        target=_work,
        args=(settings, log, metrics, bell, cut_off, os.getpid()),
        name="serve-worker",
    )
    worker.start()
    try:
        store = open_store(settings.queue, settings.run.state, owner, recover=False)
        asyncio.run(_serve(settings, log, store, metrics, bell, worker))
    finally:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: it drains
        worker.join(settings.drain_timeout + 10)
        if worker.is_alive():
            worker.kill()
            worker.join()
    left = int(cut_off.value)
    log("stopped", cut_off=left, worker_exit=worker.exitcode)
    return left


async def _serve(
    settings: Settings,
    log: Log,
    store: Store,
    metrics: Metrics,
    bell: Bell,
    worker: multiprocessing.process.BaseProcess,
) -> None:
    capture_logging(log)
    sys.setswitchinterval(INTAKE_SWITCH)
    service = Service(
        settings.intake, store, metrics, log, bell.set, lambda: int(metrics.running.value)
    )
    service.alive = worker.is_alive
    web_runner = web.AppRunner(make_app(service), handle_signals=False, access_log=None)
    await web_runner.setup()
    site = web.TCPSite(web_runner, settings.host, settings.port, backlog=1024)
    await site.start()
    address = web_runner.addresses[0]
    log("listening", host=address[0], port=address[1], forge=settings.intake.forge,
        queue="redis" if settings.queue != "sqlite" else "sqlite")  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # its end stops us; a thread of its own, so that leaving never waits on it unbounded
    joiner = ThreadPoolExecutor(1, thread_name_prefix="worker-watch")
    watch: asyncio.Future[None] = loop.run_in_executor(joiner, worker.join)
    stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    await asyncio.wait([stopped, watch], return_when=asyncio.FIRST_COMPLETED)
    service.draining = True
    if worker.is_alive():
        log("draining", running=int(metrics.running.value), timeout=settings.drain_timeout)
        worker.terminate()
        await asyncio.wait([watch], timeout=settings.drain_timeout + 10)
    else:
        log("worker process ended", level="error", exit=worker.exitcode)
    await web_runner.cleanup()
    service.state.shutdown(wait=True)
    store.close()
    joiner.shutdown(wait=False)  # main() kills the worker if the drain did not end it


def _work(
    settings: Settings, log: Log, metrics: Metrics, bell: Bell, cut_off: Any, parent: int
) -> None:
    """The worker process: claim and run jobs until SIGTERM, then drain."""
    _die_with_parent(parent)
    os.nice(WORKER_NICE)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the intake process decides
    owner = owner_id()
    store = open_store(settings.queue, settings.run.state, owner, recover=False)
    runner = Runner(settings.run, store, log)
    # what this process starts (renders included) inherits: nothing secret; git fetches
    # are given the service's environment, and the token, explicitly
    os.environ.clear()
    os.environ.update(runner.render_env)
    capture_logging(log)
    workers = Workers(
        store,
        runner,
        count=settings.workers,
        ttl=settings.lease_ttl,
        log=log,
        metrics=metrics,
        owner=owner,
        bell=bell,
    )
    workers.start()
    while not stop.wait(SIGNAL_POLL):
        pass
    left = workers.drain(settings.drain_timeout)
    cut_off.value = left
    if not left:
        store.close()
    os._exit(0)  # threads cut off by the drain timeout die with the process


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when the intake process dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)
