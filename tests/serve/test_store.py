"""The two stores keep the same promises: one pending job per pull request (the newest
head), one lease per pull request, expired leases back in line, duplicates, a bound."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_actions.serve.events import Job
from gitops_actions.serve.store import SqliteStore, Store
from gitops_actions.serve.worker import PipeBell


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        made: Store = SqliteStore(tmp_path / "serve.db", "me")
    else:
        from gitops_actions.serve.redis_store import RedisStore

        made = RedisStore(request.getfixturevalue("redis_url"), "me")
    yield made
    made.close()


def job(number: int, head: str) -> Job:
    return Job("github", "acme/c", number, "synchronize", head_sha=head * 40)


def test_newest_head_replaces_the_queued_one(store: Store) -> None:
    assert store.accept("d1", "queued", job(1, "a"), 10) == "queued"
    assert store.accept("d2", "queued", job(1, "b"), 10) == "queued"
    assert store.accept("d2", "queued", job(1, "c"), 10) == "duplicate"
    assert store.depth() == 1
    claim = store.claim("me", 30)
    assert claim is not None and claim.job.head_sha == "b" * 40 and claim.job.seq == 2
    assert store.claim("me", 30) is None


def test_one_lease_per_pull_request(store: Store) -> None:
    store.accept("", "queued", job(1, "a"), 10)
    first = store.claim("me", 30)
    assert first is not None
    store.accept("", "queued", job(1, "b"), 10)
    store.accept("", "queued", job(2, "c"), 10)
    other = store.claim("me", 30)
    assert other is not None and other.job.number == 2, "PR 1 is leased: PR 2 goes first"
    assert store.claim("me", 30) is None
    assert store.waiting(first.job.key)
    assert store.finish(first)
    again = store.claim("me", 30)
    assert again is not None and again.job.head_sha == "b" * 40


def test_expired_lease_puts_the_job_back(store: Store) -> None:
    store.accept("", "queued", job(1, "a"), 10)
    lost = store.claim("me", 1.0)
    assert lost is not None
    assert store.claim("other", 30) is None
    time.sleep(1.2)
    taken = store.claim("other", 30)
    assert taken is not None and taken.job == lost.job
    assert not store.renew(lost, 30), "the first holder's lease is gone"
    assert not store.finish(lost)
    assert store.renew(taken, 30) and store.finish(taken)


def test_retry_later_and_cancel(store: Store) -> None:
    store.accept("", "queued", job(1, "a"), 10)
    claim = store.claim("me", 30)
    assert claim is not None and store.finish(claim, retry_in=0.5)
    assert store.claim("me", 30) is None, "not before its time"
    time.sleep(0.6)
    assert store.claim("me", 30) is not None
    store.accept("", "queued", job(2, "b"), 10)
    assert store.accept("d9", "cancelled", job(2, ""), 10) == "cancelled"
    assert not store.waiting(job(2, "").key)


def test_bounded_queue(store: Store) -> None:
    assert store.accept("d1", "queued", job(1, "a"), 2) == "queued"
    assert store.accept("d2", "queued", job(2, "a"), 2) == "queued"
    assert store.accept("d3", "queued", job(3, "a"), 2) == "full"
    assert store.accept("d3", "queued", job(1, "b"), 2) == "queued", "a newer head still fits"
    assert store.accept("d4", "ignored", None, 2) == "ignored"
    assert store.accept("d4", "ignored", None, 2) == "duplicate"


def test_sqlite_restart_puts_running_jobs_back(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "serve.db", "before")
    first.accept("", "queued", job(1, "a"), 10)
    assert first.claim("before", 300) is not None
    first.close()
    after = SqliteStore(tmp_path / "serve.db", "after")
    claim = after.claim("after", 300)
    assert claim is not None and claim.job.head_sha == "a" * 40


def test_sqlite_waits_for_the_other_process_transaction(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "serve.db", "me")
    other = sqlite3.connect(tmp_path / "serve.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # as the worker process would, for a moment
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    started = time.monotonic()
    release.start()
    try:
        assert store.accept("d1", "queued", job(1, "a"), 10) == "queued"
    finally:
        release.join()
        other.close()
    assert 0.25 < time.monotonic() - started < 5
    assert store.depth() == 1
    store.close()


def test_sqlite_is_wal_and_not_synced_per_delivery(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "serve.db", "me")
    store.accept("d1", "queued", job(1, "a"), 10)
    reader = sqlite3.connect(tmp_path / "serve.db")
    assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert (tmp_path / "serve.db-wal").exists()
    assert reader.execute("SELECT count(*) FROM pending").fetchone() == (1,)  # visible at once
    reader.close()
    store.close()


def test_pipe_bell_rings_across_processes() -> None:
    bell = PipeBell()
    assert not bell.wait(0)
    for _ in range(100_000):  # more than the pipe holds: ringing never blocks
        bell.set()
    assert bell.wait(0)
    bell.clear()
    assert not bell.wait(0)
    child = multiprocessing.get_context("fork").Process(target=bell.set)
    child.start()
    assert bell.wait(10)
    child.join()
