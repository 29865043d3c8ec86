"""A lease: of the instances of one relay or one consumer group, exactly one works.

Every process can run twice for availability; the second stands by. Two members of one
consumer group would split the partitions, and a fold that sees some partitions sees part of
the history: occasion and reference events are keyed apart from participants (by occasion id,
by region or municipality id), so they land on other partitions than the participants they
concern. Two relays of one store would publish every event twice. So the worker holds a lease
for as long as it works, and takes its consumer out of the group when it loses it.

On PostgreSQL the lease is a session-level advisory lock held by a connection of its own: the
server releases it when that connection ends, also when the process is killed. On SQLite it is
an exclusive `flock` on a file beside the database, released by the kernel when the process
ends. A lost PostgreSQL connection (a server restart) loses the lease: `held()` says so within
its check interval, and the worker stops (its supervisor starts it again, to stand by).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any, Protocol

import psycopg

from shared.platform.db import libpq_url
from shared.platform.settings import sqlite_path

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """The lease was lost while working (its database connection ended)."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_lock`."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


class Lease:
    def __init__(self, database_url: str, name: str, *, check_every: float = 1.0) -> None:
        self.url = database_url
        self.name = name
        self.check_every = check_every
        self.is_sqlite = database_url.startswith("sqlite")
        self._conn: Any = None
        self._file: IO[bytes] | None = None
        self._checked = 0.0
        self.acquired_at: float | None = None  # monotonic time it was taken

    def try_acquire(self) -> bool:
        if self.is_sqlite:
            return self._try_file()
        if self._conn is None:
            self._conn = psycopg.connect(libpq_url(self.url),
                                         autocommit=True, connect_timeout=5)
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)",
                                 (lock_key(self.name),)).fetchone()
        return bool(row and row[0])

    def _try_file(self) -> bool:
        if self._file is None:
            path = Path(sqlite_path(self.url) + f".{self.name}.lease")
            self._file = path.open("ab")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self, stopping: threading.Event, retry_every: float = 0.5) -> bool:
        """Wait until this instance holds the lease (True) or `stopping` is set (False). A
        database that does not answer is retried: standing by is what this instance does."""
        said = False
        while not stopping.is_set():
            try:
                if self.try_acquire():
                    self.acquired_at = self._checked = time.monotonic()
                    log.info("lease taken; working", extra={"lease": self.name})
                    return True
            except psycopg.Error as e:
                log.warning("lease: database unavailable", extra={"lease": self.name,
                                                                  "error": repr(e)})
                self._drop_connection()
            if not said:
                log.info("another instance holds the lease; standing by",
                         extra={"lease": self.name})
                said = True
            stopping.wait(retry_every)
        return False

    def held(self) -> bool:
        """Still ours? (On PostgreSQL: its connection answers; checked every `check_every` s.)"""
        if self.acquired_at is None:
            return False
        if self.is_sqlite or time.monotonic() - self._checked < self.check_every:
            return True
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            log.warning("lease lost: its database connection ended", extra={"lease": self.name})
            self.release()
            return False
        self._checked = time.monotonic()
        return True

    def check(self) -> None:
        if not self.held():
            raise LeaseLost(self.name)

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def release(self) -> None:
        self.acquired_at = None
        self._drop_connection()  # ends the session, and with it the advisory lock
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class Worker(Protocol):
    """A relay or consumer that may hold a lease: what its /health reports while it waits."""

    lease: Lease | None
    stopping: threading.Event
    standing_by: bool
    healthy: bool


def stand_by_until_leased(worker: Worker) -> bool:
    """Until `worker` holds its lease (at once when it has none), standing by meanwhile;
    False when it was stopped first."""
    if worker.lease is None:
        return True
    worker.standing_by, worker.healthy = True, False
    taken = worker.lease.acquire(worker.stopping)
    worker.standing_by = False
    return taken


def lease_name(*parts: str) -> str:
    """One name per worker role and database: `relay:enrolment`, `consumer:<group>`."""
    return ":".join(p.replace(os.sep, "_") for p in parts)
