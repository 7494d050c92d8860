"""What serve tells operators: JSON log lines on stderr and Prometheus metrics.

Every log line is one JSON object (``ts``, ``level``, ``msg`` and fields such as
``delivery``, ``pr``, ``head``), passed through the redactor so a secret never shows.
"""

from __future__ import annotations

import json
import logging
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


class Metrics:
    """Counters and one histogram, written out in the Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.deliveries = Counter[str]()
        self.runs = Counter[str]()
        self.buckets = [0] * len(DURATION_BUCKETS)
        self.duration_sum = 0.0
        self.duration_count = 0

    def delivery(self, verdict: str) -> None:
        with self._lock:
            self.deliveries[verdict] += 1

    def run(self, outcome: str, seconds: float) -> None:
        with self._lock:
            self.runs[outcome] += 1
            self.duration_sum += seconds
            self.duration_count += 1
            for index, bound in enumerate(DURATION_BUCKETS):
                if seconds <= bound:
                    self.buckets[index] += 1

    def text(self, depth: Callable[[], int], running: int) -> str:
        queued = depth()
        with self._lock:
            lines = [
                "# HELP gitops_serve_queue_depth Jobs waiting to run.",
                "# TYPE gitops_serve_queue_depth gauge",
                f"gitops_serve_queue_depth {queued}",
                "# HELP gitops_serve_runs_in_progress Runs this replica is doing now.",
                "# TYPE gitops_serve_runs_in_progress gauge",
                f"gitops_serve_runs_in_progress {running}",
                "# HELP gitops_serve_deliveries_total Webhook deliveries by verdict.",
                "# TYPE gitops_serve_deliveries_total counter",
                *(
                    f'gitops_serve_deliveries_total{{verdict="{v}"}} {n}'
                    for v, n in sorted(self.deliveries.items())
                ),
                "# HELP gitops_serve_runs_total Finished runs by outcome.",
                "# TYPE gitops_serve_runs_total counter",
                *(
                    f'gitops_serve_runs_total{{outcome="{o}"}} {n}'
                    for o, n in sorted(self.runs.items())
                ),
                "# HELP gitops_serve_run_duration_seconds How long runs take.",
                "# TYPE gitops_serve_run_duration_seconds histogram",
                *(
                    f'gitops_serve_run_duration_seconds_bucket{{le="{bound:g}"}} {n}'
                    for bound, n in zip(DURATION_BUCKETS, self.buckets, strict=True)
                ),
                f'gitops_serve_run_duration_seconds_bucket{{le="+Inf"}} {self.duration_count}',
                f"gitops_serve_run_duration_seconds_sum {self.duration_sum:.6f}",
                f"gitops_serve_run_duration_seconds_count {self.duration_count}",
            ]
        return "\n".join(lines) + "\n"
