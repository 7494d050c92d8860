"""Worker threads: claim a job under a lease, run it, release it; one heartbeat renews leases.

Up to ``count`` runs go at once, never two for one pull request (the store's leases see to
that, across replicas too). A lease that cannot be renewed marks its claim lost; the run
stops at its next checkpoint without replying. ``drain`` stops claiming and waits for the
runs in flight, up to a deadline.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gitops_actions.errors import GitopsError
from gitops_actions.retry import Deadline
from gitops_actions.serve.store import Claim, Store
from gitops_actions.serve.telemetry import Log, Metrics

IDLE_POLL = 0.25  # seconds between looks at the queue when no doorbell rang


class Bell(Protocol):
    """Rung when a job is queued (a ``threading.Event``, or a ``PipeBell`` across processes)."""

    def set(self) -> None: ...

    def clear(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class PipeBell:
    """A doorbell between processes that never holds up the one ringing it: a byte written
    to a non-blocking pipe (a full pipe rings already). Waiting is ``select`` on the pipe.
    A lock-based event would make the intake wait whenever the niced worker process was
    descheduled while holding that lock."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def set(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"\0")

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass

    def wait(self, timeout: float | None = None) -> bool:
        ready, _, _ = select.select([self._read], [], [], timeout)
        return bool(ready)


@dataclass(frozen=True)
class Result:
    outcome: str  # success, failure, superseded, lost, error, retry
    retry_in: float | None = None
    phases: Mapping[str, float] = field(default_factory=dict)  # seconds in each phase


def owner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class Workers:
    def __init__(
        self,
        store: Store,
        run: Callable[[Claim], Result],
        *,
        count: int,
        ttl: float,
        log: Log,
        metrics: Metrics,
        owner: str,
        bell: Bell | None = None,
    ) -> None:
        self.store, self._run, self.count, self.ttl = store, run, count, ttl
        self.log, self.metrics, self.owner = log, metrics, owner
        self._bell: Bell = bell or threading.Event()
        self._stop = threading.Event()
        self._active: dict[str, Claim] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        beat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        beat.start()

    def wake(self) -> None:
        self._bell.set()

    def running(self) -> int:
        with self._lock:
            return len(self._active)

    def drain(self, seconds: float) -> int:
        """Stop claiming; wait for runs in flight up to ``seconds``. Runs left over."""
        self._stop.set()
        self._bell.set()
        deadline = Deadline.after(seconds)
        for thread in self._threads:
            thread.join(deadline.remaining())
        return self.running()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                claim = self.store.claim(self.owner, self.ttl)
            except GitopsError as err:
                self.log("cannot claim a job", level="error", error=err.one_line())
                self._stop.wait(1.0)
                continue
            if claim is None:
                self._bell.wait(IDLE_POLL)
                self._bell.clear()
                continue
            self._bell.set()  # there may be more: let another worker look too
            self._do(claim)

    def _do(self, claim: Claim) -> None:
        fields = _fields(claim)
        with self._lock:
            self._active[claim.token] = claim
        self.metrics.busy(+1)
        started = time.monotonic()
        self.log("run started", **fields)
        try:
            result = self._run(claim)
        except Exception as err:  # a bug must not kill the worker: report and move on
            self.log("run crashed", level="error", error=f"{type(err).__name__}: {err}", **fields)
            result = Result("error")
        finally:
            with self._lock:
                self._active.pop(claim.token, None)
            self.metrics.busy(-1)
        seconds = time.monotonic() - started
        try:
            kept = not claim.lost.is_set() and self.store.finish(claim, result.retry_in)
        except GitopsError as err:
            self.log("cannot release a job", level="error", error=err.one_line(), **fields)
            kept = False
        outcome = result.outcome if kept else "lost"
        fields = _fields(claim)  # the run may have learnt the head from the forge
        self.metrics.run(outcome, seconds)
        if result.phases:
            fields["phases"] = dict(result.phases)
        self.log("run finished", outcome=outcome, seconds=round(seconds, 3), **fields)

    def _heartbeat(self) -> None:
        while True:
            time.sleep(self.ttl / 3)
            with self._lock:
                claims = list(self._active.values())
            for claim in claims:
                try:
                    held = self.store.renew(claim, self.ttl)
                    claim.renewed = time.monotonic()
                except GitopsError as err:  # the lease may still hold: give up only near its end
                    self.log("cannot renew a lease", level="error", error=err.one_line())
                    held = time.monotonic() - claim.renewed < self.ttl * 2 / 3
                if not held and not claim.lost.is_set():
                    claim.lost.set()
                    self.log("lease lost", level="warning", pr=claim.job.key)


def _fields(claim: Claim) -> dict[str, Any]:
    job = claim.job
    return {"delivery": job.delivery, "pr": job.key, "head": job.head_sha, "seq": job.seq}
