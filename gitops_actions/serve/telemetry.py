"""What serve tells operators: JSON log lines on stderr and Prometheus metrics.

Every log line is one JSON object (``ts``, ``level``, ``msg`` and fields such as
``delivery``, ``pr``, ``head``), passed through the redactor so a secret never shows.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

from gitops_actions.secrets import REDACTOR

DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Log:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def __call__(self, msg: str, *, level: str = "info", **fields: Any) -> None:
        record = {"ts": round(time.time(), 6), "level": level, "msg": msg, **fields}
        line = REDACTOR.redact(json.dumps(record, default=str, sort_keys=False))
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


class _Handler(logging.Handler):
    def __init__(self, log: Log) -> None:
        super().__init__()
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        self.log(record.getMessage(), level=record.levelname.lower(), logger=record.name)


def capture_logging(log: Log, level: int = logging.INFO) -> None:
    """What libraries log (the forge clients' retries, aiohttp) becomes JSON lines too.

    Call it once the libraries are imported: their own handlers are removed."""
    root = logging.getLogger()
    root.handlers[:] = [_Handler(log)]
    root.setLevel(level)
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):  # PyGithub adds a handler of its own
            logger.handlers.clear()
            logger.propagate = True


OUTCOMES = ("success", "failure", "superseded", "stale", "lost", "retry", "error")
_FORK = multiprocessing.get_context("fork")


class Metrics:
    """Counters and one histogram, written out in the Prometheus text format.

    Run figures live in shared memory: the worker process counts, the intake process
    (which serves ``/metrics``) reads. Deliveries are counted where they arrive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.deliveries = Counter[str]()
        self._shared = _FORK.Lock()
        self._runs = _FORK.RawArray("q", len(OUTCOMES))
        self._buckets = _FORK.RawArray("q", len(DURATION_BUCKETS) + 1)  # the last: +Inf
        self._duration = _FORK.RawArray("d", 1)
        self.running = _FORK.RawValue("i", 0)

    def delivery(self, verdict: str) -> None:
        with self._lock:
            self.deliveries[verdict] += 1

    def busy(self, change: int) -> None:
        with self._shared:
            self.running.value += change

    def run(self, outcome: str, seconds: float) -> None:
        index = OUTCOMES.index(outcome) if outcome in OUTCOMES else OUTCOMES.index("error")
        with self._shared:
            self._runs[index] += 1
            self._duration[0] += seconds
            for bucket, bound in enumerate((*DURATION_BUCKETS, float("inf"))):
                if seconds <= bound:
                    self._buckets[bucket] += 1

    def text(self, depth: Callable[[], int]) -> str:
        queued = depth()
        with self._shared:
            runs = list(self._runs)
            buckets = list(self._buckets)
            duration = self._duration[0]
            running = self.running.value
        with self._lock:
            deliveries = sorted(self.deliveries.items())
        bounds = [f"{bound:g}" for bound in DURATION_BUCKETS] + ["+Inf"]
        lines = [
            "# HELP gitops_serve_queue_depth Jobs waiting to run.",
            "# TYPE gitops_serve_queue_depth gauge",
            f"gitops_serve_queue_depth {queued}",
            "# HELP gitops_serve_runs_in_progress Runs going on now.",
            "# TYPE gitops_serve_runs_in_progress gauge",
            f"gitops_serve_runs_in_progress {running}",
            "# HELP gitops_serve_deliveries_total Webhook deliveries by verdict.",
            "# TYPE gitops_serve_deliveries_total counter",
            *(f'gitops_serve_deliveries_total{{verdict="{v}"}} {n}' for v, n in deliveries),
            "# HELP gitops_serve_runs_total Finished runs by outcome.",
            "# TYPE gitops_serve_runs_total counter",
            *(
                f'gitops_serve_runs_total{{outcome="{o}"}} {n}'
                for o, n in zip(OUTCOMES, runs, strict=True)
                if n
            ),
            "# HELP gitops_serve_run_duration_seconds How long runs take.",
            "# TYPE gitops_serve_run_duration_seconds histogram",
            *(
                f'gitops_serve_run_duration_seconds_bucket{{le="{le}"}} {n}'
                for le, n in zip(bounds, buckets, strict=True)
            ),
            f"gitops_serve_run_duration_seconds_sum {duration:.6f}",
            f"gitops_serve_run_duration_seconds_count {buckets[-1]}",
        ]
        return "\n".join(lines) + "\n"
