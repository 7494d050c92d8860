"""Where serve keeps its state: deliveries seen, queued jobs and leases on running ones.

One pending job per pull request: a newer head replaces the queued one (and keeps its place
in line). A job is claimed under a lease (a random token with an expiry) only while no other
run of that pull request holds one, so two runs of one pull request never overlap. A lease
that expires (its holder died) puts the job back in line unless a newer head waits already.

``SqliteStore`` is the default, in one file (one replica); ``RedisStore``
(``gitops_actions.serve.redis_store``) shares all of it between replicas.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from gitops_actions.errors import ExternalError
from gitops_actions.retry import Backoff, Deadline, attempts
from gitops_actions.serve.events import Job

Verdict = Literal["queued", "cancelled", "ignored", "duplicate", "full"]
DELIVERY_MEMORY = 7 * 24 * 3600.0  # how long a delivery id is remembered


@dataclass
class Claim:
    """A job this replica runs, and the lease that says so."""

    job: Job
    token: str
    lost: threading.Event = field(default_factory=threading.Event)
    renewed: float = field(default_factory=time.monotonic)  # when the lease was last renewed


class LeaseLost(ExternalError):
    """Another replica may run this pull request now: stop without replying."""


class Store(Protocol):
    def accept(self, delivery: str, verdict: Verdict, job: Job | None, limit: int) -> Verdict:
        """Record a delivery and queue its ``job`` (verdict "queued"), or drop the pull
        request's queued job ("cancelled"), or nothing ("ignored"). A delivery seen before
        is "duplicate"; a new pull request when ``limit`` jobs wait is "full" (not recorded).
        """
        ...

    def claim(self, owner: str, ttl: float) -> Claim | None: ...

    def renew(self, claim: Claim, ttl: float) -> bool: ...

    def finish(self, claim: Claim, retry_in: float | None = None) -> bool:
        """Release the lease; with ``retry_in``, queue the job again after that many seconds
        (unless a newer head waits). False when the lease was lost meanwhile."""
        ...

    def waiting(self, key: str) -> bool:
        """Whether a job for this pull request waits (a newer head than the running one)."""
        ...

    def depth(self) -> int: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def new_token() -> str:
    return secrets.token_hex(16)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, verdict TEXT NOT NULL, at REAL);
CREATE TABLE IF NOT EXISTS pending (
    key TEXT PRIMARY KEY, seq INTEGER NOT NULL, job TEXT NOT NULL, not_before REAL NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    key TEXT PRIMARY KEY, job TEXT NOT NULL, token TEXT NOT NULL, owner TEXT NOT NULL,
    until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


BUSY_WAIT = 10.0  # seconds a transaction waits for the other process's to end
BUSY_BACKOFF = (0.0002, 0.004)  # its pauses: short, since transactions here take microseconds


class SqliteStore:
    """All state in one SQLite file, written through before a delivery is answered.

    Durability: WAL with ``synchronous=NORMAL``. A commit is written to the WAL (in the page
    cache) but not fsynced; the WAL is synced at checkpoints. A crash or ``kill -9`` of the
    process loses nothing; a power cut or kernel crash may lose the deliveries acknowledged
    in the last moments before it (the forge shows them as delivered; they can be
    redelivered). ``FULL`` would fsync every delivery, which costs more than all else the
    answer to a webhook does.

    Both processes (intake and worker) have their own connection; the intake's is used by
    one thread. A transaction that finds the other's under way waits in short pauses rather
    than SQLite's busy handler, whose sleeps start at milliseconds."""

    def __init__(self, path: str | Path, owner: str, *, recover: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("PRAGMA busy_timeout=0")  # _Transaction waits, in short pauses
        except sqlite3.Error as err:
            raise ExternalError(f"serve state {self.path}: {err}") from err
        if recover:
            self._recover(owner)

    def _recover(self, owner: str) -> None:
        """Runs that a previous process held when it stopped go back in line."""
        with self._tx() as db:
            rows = db.execute("SELECT key, job FROM leases WHERE owner != ?", (owner,))
            for key, job in rows.fetchall():
                self._requeue(db, key, job)

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def _next_seq(self, db: sqlite3.Connection) -> int:
        db.execute(
            "INSERT INTO counters VALUES ('seq', 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1"
        )
        row = db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
        return int(row[0])

    def _requeue(self, db: sqlite3.Connection, key: str, job: str, due: float = 0.0) -> None:
        """A leased job back in line (due then), unless a newer head waits already."""
        db.execute("DELETE FROM leases WHERE key = ?", (key,))
        seq = Job.from_json(job).seq
        db.execute("INSERT OR IGNORE INTO pending VALUES (?, ?, ?, ?)", (key, seq, job, due))

    def accept(self, delivery: str, verdict: Verdict, job: Job | None, limit: int) -> Verdict:
        now = time.time()
        with self._tx() as db:
            if delivery:
                seen = db.execute("SELECT 1 FROM deliveries WHERE id = ?", (delivery,)).fetchone()
                if seen:
                    return "duplicate"
            if job is not None and verdict == "queued":
                there = db.execute("SELECT 1 FROM pending WHERE key = ?", (job.key,)).fetchone()
                count = db.execute("SELECT count(*) FROM pending").fetchone()[0]
                if not there and count >= limit:
                    return "full"
                numbered = job.numbered(self._next_seq(db))
                db.execute(
                    "INSERT INTO pending VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "job = excluded.job, not_before = excluded.not_before",
                    (job.key, numbered.seq, numbered.to_json(), 0.0),
                )
            elif job is not None and verdict == "cancelled":
                db.execute("DELETE FROM pending WHERE key = ?", (job.key,))
            if delivery:
                db.execute("INSERT INTO deliveries VALUES (?, ?, ?)", (delivery, verdict, now))
                db.execute("DELETE FROM deliveries WHERE at < ?", (now - DELIVERY_MEMORY,))
        return verdict

    def claim(self, owner: str, ttl: float) -> Claim | None:
        now = time.time()
        with self._tx() as db:
            expired = db.execute("SELECT key, job FROM leases WHERE until < ?", (now,)).fetchall()
            for key, job in expired:
                self._requeue(db, key, job)
            row = db.execute(
                "SELECT key, job FROM pending WHERE not_before <= ? AND key NOT IN "
                "(SELECT key FROM leases) ORDER BY seq LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            key, job = row
            token = new_token()
            db.execute("DELETE FROM pending WHERE key = ?", (key,))
            db.execute(
                "INSERT INTO leases VALUES (?, ?, ?, ?, ?)", (key, job, token, owner, now + ttl)
            )
        return Claim(Job.from_json(job), token)

    def renew(self, claim: Claim, ttl: float) -> bool:
        with self._tx() as db:
            done = db.execute(
                "UPDATE leases SET until = ? WHERE key = ? AND token = ?",
                (time.time() + ttl, claim.job.key, claim.token),
            )
            return done.rowcount == 1

    def finish(self, claim: Claim, retry_in: float | None = None) -> bool:
        key = claim.job.key
        with self._tx() as db:
            held = db.execute(
                "SELECT job FROM leases WHERE key = ? AND token = ?", (key, claim.token)
            ).fetchone()
            if held is None:
                return False
            if retry_in is None:
                db.execute("DELETE FROM leases WHERE key = ?", (key,))
            else:
                self._requeue(db, key, claim.job.to_json(), time.time() + retry_in)
        return True

    def waiting(self, key: str) -> bool:
        with self._tx() as db:
            return db.execute("SELECT 1 FROM pending WHERE key = ?", (key,)).fetchone() is not None

    def depth(self) -> int:
        with self._tx() as db:
            return int(db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def ping(self) -> None:
        with self._tx() as db:
            db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Transaction:
    """One immediate transaction under the store's lock; errors become ``ExternalError``."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db, self.lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self._begin()
        except (sqlite3.Error, ExternalError) as err:
            self.lock.release()
            raise ExternalError(f"serve state: {err}", transient=True) from err
        return self.db

    def _begin(self) -> None:
        backoff = Backoff(base=BUSY_BACKOFF[0], cap=BUSY_BACKOFF[1])
        for _ in attempts(Deadline.after(BUSY_WAIT), what="the state's lock", backoff=backoff):
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err):
                    raise

    def __exit__(self, kind: object, err: BaseException | None, tb: object) -> None:
        try:
            self.db.execute("ROLLBACK" if err is not None else "COMMIT")
        except sqlite3.Error as failure:
            if err is None:
                raise ExternalError(f"serve state: {failure}", transient=True) from failure
        finally:
            self.lock.release()
