"""The one retry helper: every retry loop is bounded by a deadline, never by a count alone.

Backoff is "full jitter" exponential (a random pause between 0 and ``base * 2**n``, capped),
so writers that collide spread out instead of colliding again in lock step; the pause grows
with each collision a caller sees, which is how contention shows up here.

    deadline = Deadline.after(options.timeout)
    for attempt in attempts(deadline, what="push to main"):
        ...  # try; ``continue`` to retry, ``break`` or ``return`` when done

    digest = call(push_once, deadline, what="push to registry")  # retries transient errors

A failure may say how long to wait (``GitopsError.retry_after``: an HTTP ``Retry-After``
or a rate limit's reset time). ``call`` waits at least that long, and gives up at once when
the wait would end after the deadline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from gitops_actions.errors import ExternalError, GitopsError

T = TypeVar("T")


@dataclass(frozen=True)
class Deadline:
    """A point in time (monotonic clock) that every wait and retry must respect."""

    at: float
    seconds: float = 0.0  # the budget it was made from, for messages

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def clamp(self, seconds: float) -> float:
        """``seconds``, or less when the deadline comes first: a timeout for one call."""
        return max(0.0, min(seconds, self.remaining()))


@dataclass
class Backoff:
    """Full-jitter exponential backoff. ``next()`` is the pause before the next attempt."""

    base: float = 0.1
    cap: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    collisions: int = 0
    floor: float = 0.0  # the least the next pause may be (what a server asked for)

    def next(self) -> float:
        self.collisions += 1
        doubled = 2.0 ** min(self.collisions - 1, 64)  # past the cap long before; no overflow
        pause = self.rng.uniform(0.0, min(self.cap, self.base * doubled))
        pause, self.floor = max(pause, self.floor), 0.0
        return pause


class DeadlineExceeded(ExternalError):
    """The deadline passed while an operation kept failing with transient errors."""

    def __init__(self, message: str, *, hint: str = "raise --timeout") -> None:
        super().__init__(message, transient=True, hint=hint)


def attempts(
    deadline: Deadline,
    *,
    what: str,
    backoff: Backoff | None = None,
    sleep: Callable[[float], object] = time.sleep,
    on_retry: Callable[[int, float], None] | None = None,
) -> Iterator[int]:
    """Attempt numbers 1, 2, ... with a backoff pause between them, until the deadline.

    The first attempt always runs. Another is offered only when its pause ends before the
    deadline; when none is left, ``DeadlineExceeded`` names ``what`` and the attempts made.
    ``on_retry(next_attempt, pause)`` is called before each pause (for a progress line).
    """
    backoff = backoff or Backoff()
    attempt = 1
    yield attempt
    while True:
        floor = backoff.floor
        pause = backoff.next()
        if time.monotonic() + pause >= deadline.at:
            pause = max(floor, deadline.remaining() / 2)  # one last try, inside the deadline
            if pause <= 0.0 or deadline.remaining() < 0.05:
                raise DeadlineExceeded(
                    f"{what} did not succeed within {deadline.seconds:g}s "
                    f"({attempt} attempt{'s' if attempt != 1 else ''})"
                )
        attempt += 1
        if on_retry is not None:
            on_retry(attempt, pause)
        sleep(pause)
        yield attempt


def transient(error: BaseException) -> bool:
    """Whether trying again may help: our own errors say so; others are not retried."""
    return isinstance(error, GitopsError) and error.transient


def call(
    operation: Callable[[], T],
    deadline: Deadline,
    *,
    what: str,
    retryable: Callable[[BaseException], bool] = transient,
    backoff: Backoff | None = None,
    sleep: Callable[[float], object] = time.sleep,
    on_retry: Callable[[int, float, BaseException], None] | None = None,
) -> T:
    """``operation()``, tried again after transient failures until the deadline.

    A failure that is not retryable is raised at once, and so is one that asks for a wait
    (``retry_after``) ending after the deadline. When the deadline ends the retries, the
    last failure is raised (it says what went wrong, which beats "timed out").
    """
    last: BaseException | None = None
    backoff = backoff or Backoff()

    def note(attempt: int, pause: float) -> None:
        if on_retry is not None and last is not None:
            on_retry(attempt, pause, last)

    try:
        for _ in attempts(deadline, what=what, backoff=backoff, sleep=sleep, on_retry=note):
            try:
                return operation()
            except Exception as error:
                if not retryable(error):
                    raise
                last = error
                asked = error.retry_after if isinstance(error, GitopsError) else None
                if isinstance(error, GitopsError) and asked is not None:
                    if asked >= deadline.remaining():
                        error.hint = f"the server asked to wait {asked:.0f}s; raise --timeout"
                        raise
                    backoff.floor = asked
    except DeadlineExceeded:
        if last is not None:
            raise last from None
        raise
    raise AssertionError("unreachable")  # pragma: no cover
