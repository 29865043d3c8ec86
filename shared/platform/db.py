"""A thin DB-API layer over SQLite and PostgreSQL for what is not an event store: relay
positions and projection read models. SQL is written with `%s` placeholders and portable
`INSERT ... ON CONFLICT`, which both backends understand."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import psycopg

from shared.platform.settings import sqlite_path


class Database:
    """One connection per thread (API worker threads, consumer thread), opened on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        self.is_sqlite = parsed.scheme == "sqlite"
        if self.is_sqlite:
            self._path = sqlite_path(url)
        elif parsed.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"unsupported database URL {url!r}")
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    @property
    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.is_sqlite:
                conn = sqlite3.connect(self._path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            else:
                conn = psycopg.connect(_libpq_url(self.url), autocommit=True)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.is_sqlite else sql

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """All statements inside commit together or not at all."""
        if self.is_sqlite:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Cursor(self, self._conn.cursor())
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        else:
            with self._conn.transaction(), self._conn.cursor() as cur:
                yield Cursor(self, cur)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement, atomic by itself: no BEGIN/COMMIT around it (both connections are in
        autocommit mode), so it costs one round trip instead of three."""
        return self.cursor().execute(sql, params)

    def cursor(self) -> Cursor:
        """A cursor outside any explicit transaction (each statement commits on its own)."""
        return Cursor(self, self._conn.cursor())

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class Cursor:
    def __init__(self, db: Database, cur: Any) -> None:
        self._db = db
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cur.execute(self._db._sql(sql), tuple(params))
        if self._cur.description is None:
            return []
        return [tuple(r) for r in self._cur.fetchall()]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cur.executemany(self._db._sql(sql), [tuple(r) for r in rows])

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)


def _libpq_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)
