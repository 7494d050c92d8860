"""The one retry helper: bounded by a deadline, jittered, growing with contention."""

from __future__ import annotations

import random
import time

import pytest

from gitops_actions.errors import ExternalError, InputError
from gitops_actions.retry import Backoff, Deadline, DeadlineExceeded, attempts, call


def test_backoff_grows_with_collisions_and_stays_under_the_cap() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    pauses = [backoff.next() for _ in range(200)]
    assert all(0.0 <= p <= 1.0 for p in pauses)
    assert max(pauses[:2]) <= 0.2  # first collisions: short pauses
    assert max(pauses[10:]) > 0.5  # many collisions: the window has grown to the cap


def test_backoff_of_many_short_pauses_does_not_overflow() -> None:
    backoff = Backoff(base=0.0002, cap=0.004, rng=random.Random(1))
    pauses = [backoff.next() for _ in range(5000)]
    assert max(pauses) <= 0.004 and pauses[-1] > 0


def test_attempts_stop_at_the_deadline_not_at_a_count() -> None:
    slept: list[float] = []
    deadline = Deadline.after(0.5)
    seen: list[int] = []
    quick = Backoff(0.001, 0.002)
    message = r"push did not succeed within 0.5s \(\d+ attempts\)"
    with pytest.raises(DeadlineExceeded, match=message):
        for attempt in attempts(deadline, what="push", backoff=quick, sleep=slept.append):
            seen.append(attempt)
            time.sleep(0.01)
    assert len(seen) > 10  # far more than a fixed count of 10 would allow in this budget
    assert time.monotonic() <= deadline.at + 0.05


def test_call_retries_transient_errors_then_succeeds() -> None:
    failures = iter([ExternalError("503"), ExternalError("reset")])

    def flaky() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "ok"

    retried: list[int] = []
    result = call(
        flaky,
        Deadline.after(5),
        what="x",
        sleep=lambda _: None,
        on_retry=lambda attempt, _pause, _err: retried.append(attempt),
    )
    assert result == "ok"
    assert retried == [2, 3]


def test_call_raises_permanent_errors_at_once() -> None:
    calls = 0

    def bad() -> None:
        nonlocal calls
        calls += 1
        raise ExternalError("401 bad credentials", transient=False)

    with pytest.raises(ExternalError, match="401"):
        call(bad, Deadline.after(5), what="x", sleep=lambda _: None)
    assert calls == 1
    with pytest.raises(InputError):
        call(lambda: (_ for _ in ()).throw(InputError("bad")), Deadline.after(5), what="x")


def test_call_raises_the_last_failure_when_the_deadline_ends_it() -> None:
    def always() -> None:
        raise ExternalError("registry answered 502")

    started = time.monotonic()
    with pytest.raises(ExternalError, match="502"):
        call(always, Deadline.after(0.3), what="push", backoff=Backoff(0.01, 0.05))
    assert time.monotonic() - started < 1.0


def test_deadline_clamps_a_single_call() -> None:
    deadline = Deadline.after(2)
    assert 1.5 < deadline.clamp(30) <= 2
    assert deadline.clamp(0.1) == pytest.approx(0.1)
    assert not deadline.expired()
    assert Deadline.after(0).expired()
