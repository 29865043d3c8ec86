"""A thin DB-API layer over SQLite and PostgreSQL for what is not an event store: relay
positions and projection read models. SQL is written with `%s` placeholders and portable
`INSERT ... ON CONFLICT`, which both backends understand.

On PostgreSQL the connections come from a bounded pool (psycopg's own, `psycopg_pool`): a
statement or a transaction borrows one and gives it back, so a process holds at most
`YRKESRESAN_DB_POOL_SIZE` of them however many threads it runs. (One connection per thread,
as before, let every short-lived thread, such as each `/health` request of a consumer, open
one more and keep it.) A statement run inside a transaction on the same thread uses the
transaction's connection: it sees what the transaction wrote, and never waits for a second.
"""

from __future__ import annotations

import datetime as dt
import os
import select
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import psycopg
from psycopg_pool import ConnectionPool, PoolClosed

from shared.platform.settings import sqlite_path

POOL_SIZE_VARIABLE = "YRKESRESAN_DB_POOL_SIZE"
BULK_ROWS = 100
"""From how many rows `Cursor.insert_rows` writes by COPY on PostgreSQL (below it, the
statements of a temporary table cost more than they save)."""


def utc_text(when: dt.datetime) -> str:
    """An aware datetime as text that sorts as the time does, for a column compared or
    ordered as text: UTC to the microsecond, `YYYY-MM-DDTHH:MM:SS.ffffff` (strftime's
    `%Y-%m-%dT%H:%M:%S.%f` for years from 1000, in 1.7 us where strftime took 2.8: a rebuild
    makes one for most events)."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")[:26]


def pool_size() -> int:
    """Connections one pool may hold (each store's and each read-model database's)."""
    return max(1, int(os.environ.get(POOL_SIZE_VARIABLE) or 5))


class Database:
    """SQLite: one connection per thread, opened on first use. PostgreSQL: a bounded pool,
    opened on first use."""

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
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None

    @property
    def _conn(self) -> Any:
        """SQLite: this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @property
    def pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        """PostgreSQL: the pool, opened on first use (and again after `close`)."""
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    libpq_url(self.url), min_size=1, max_size=pool_size(),
                    kwargs={"autocommit": True}, name="yrkesresan-db", open=True,
                    # A connection the server dropped (a restart) is replaced at checkout.
                    check=check_unless_quiet)
            return self._pool

    @contextmanager
    def _pooled(self) -> Iterator[Any]:
        """PostgreSQL: a connection from the pool. A caller waiting on a pool that `reset`
        replaced meanwhile is served by the new one."""
        while True:
            pool = self.pool
            try:
                conn = pool.getconn()
                break
            except PoolClosed:
                if pool is self._pool:
                    raise
        try:
            yield conn
        finally:
            pool.putconn(conn)

    def reset(self) -> None:
        """PostgreSQL: connections made anew from here on. A pool that lived through a
        server restart may be waiting out its reconnection backoff (1, 2, 4, ... s) while
        the server answers again; a worker that has just seen it answer (it took its lease)
        replaces the pool instead. Connections in use go back to the old pool, which closes
        them."""
        if self.is_sqlite:
            return
        with self._lock:
            old, self._pool = self._pool, None
        if old is not None:
            old.close()

    @contextmanager
    def _borrowed(self) -> Iterator[Any]:
        """PostgreSQL: the transaction's connection on this thread, else one from the pool."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        with self._pooled() as conn:
            yield conn

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
        elif getattr(self._local, "conn", None) is not None:  # nested: the outer one's
            conn = self._local.conn
            with conn.transaction(), conn.cursor() as cur:
                yield Cursor(self, cur)
        else:
            with self._pooled() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        yield Cursor(self, cur)
                finally:
                    self._local.conn = None

    def execute(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False
                ) -> list[tuple[Any, ...]]:
        """One statement, atomic by itself: no BEGIN/COMMIT around it (both connections are in
        autocommit mode), so it costs one round trip instead of three. `binary`: PostgreSQL
        sends the results in binary (a bytea as its bytes, not as hex text twice its size)."""
        if self.is_sqlite:
            return Cursor(self, self._conn.cursor()).execute(sql, params)
        with self._borrowed() as conn, conn.cursor() as cur:
            return Cursor(self, cur).execute(sql, params, binary=binary)

    def execute_count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement, atomic by itself; the number of rows it changed."""
        if self.is_sqlite:
            cursor = Cursor(self, self._conn.cursor())
            cursor.execute(sql, params)
            return cursor.rowcount
        with self._borrowed() as conn, conn.cursor() as cur:
            cursor = Cursor(self, cur)
            cursor.execute(sql, params)
            return cursor.rowcount

    def execute_among(self, sql: str, params: Sequence[Any], values: Sequence[str]
                      ) -> list[tuple[Any, ...]]:
        """The rows of `sql`, whose `{among}` stands for a text column's being one of
        `values` (its last parameter)."""
        return _among(self.execute, self.is_sqlite, sql, params, values)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        self._local = threading.local()


class Cursor:
    def __init__(self, db: Database, cur: Any) -> None:
        self._db = db
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False
                ) -> list[tuple[Any, ...]]:
        if binary and not self._db.is_sqlite:
            self._cur.execute(sql, tuple(params), binary=True)
        else:
            self._cur.execute(self._db._sql(sql), tuple(params))
        if self._cur.description is None:
            return []
        return [tuple(r) for r in self._cur.fetchall()]

    def execute_among(self, sql: str, params: Sequence[Any], values: Sequence[str]
                      ) -> list[tuple[Any, ...]]:
        """`execute_among` in this transaction."""
        return _among(self.execute, self._db.is_sqlite, sql, params, values)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cur.executemany(self._db._sql(sql), [tuple(r) for r in rows])

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Many rows into a table: COPY on PostgreSQL (a bulk write, no statement per row),
        one INSERT run for all of them on SQLite."""
        if self._db.is_sqlite:
            marks = ", ".join(["?"] * len(columns))
            self._cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                                  [tuple(r) for r in rows])
            return
        with self._cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def copy_raw(self, sql: str, chunks: Iterable[bytes]) -> None:
        """A COPY ... FROM STDIN whose data is given as it is to be sent, in pieces
        (PostgreSQL only): for a value too large to hold more than once."""
        with self._cur.copy(sql) as copy:
            for chunk in chunks:
                copy.write(chunk)

    @property
    def is_sqlite(self) -> bool:
        return bool(self._db.is_sqlite)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
                    key: Sequence[str] = (), update: Sequence[str] = ()) -> None:
        """Many rows into a table, as an INSERT per row in their order would leave it: a row
        whose `key` (the columns of a unique constraint) is taken already, or came earlier
        among `rows`, is skipped, or with `update` sets those columns (the last row of a key
        wins). On PostgreSQL a batch of `BULK_ROWS` or more is one COPY (into the table, or,
        with a `key`, into a temporary table and from there by one INSERT ... SELECT): a
        rebuild's batch is thousands of rows, each a statement of its own otherwise."""
        batch = [tuple(r) for r in rows]
        if key:
            position = {column: i for i, column in enumerate(columns)}
            picks = [position[c] for c in key]
            unique: dict[tuple[Any, ...], tuple[Any, ...]] = {}
            for row in batch:
                k = tuple(row[i] for i in picks)
                if update:
                    unique.pop(k, None)  # the last one wins, in the order they came
                    unique[k] = row
                else:
                    unique.setdefault(k, row)
            batch = list(unique.values())
        if not batch:
            return
        names = ", ".join(columns)
        conflict = ""
        if key:
            conflict = f" ON CONFLICT ({', '.join(key)}) " + (
                "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)
                if update else "DO NOTHING")
        marks = f"({', '.join(['%s'] * len(columns))})"
        if self._db.is_sqlite:
            self.executemany(f"INSERT INTO {table} ({names}) VALUES {marks}{conflict}", batch)
            return
        if len(batch) < BULK_ROWS:
            # One statement of many rows (the keys are unique among them by now, as a
            # statement that meets one key twice may not update it twice): a consumer's small
            # batch cost a statement per row, each a round of psycopg's pipeline in Python.
            self._cur.execute(f"INSERT INTO {table} ({names}) VALUES "
                              f"{', '.join([marks] * len(batch))}{conflict}",
                              [value for row in batch for value in row])
            return
        if not key:
            self.copy_rows(table, columns, batch)
            return
        staged = f"bulk_{table}"  # left behind only by a failed COPY outside a transaction
        self._cur.execute(f"DROP TABLE IF EXISTS pg_temp.{staged}")
        self._cur.execute(f"CREATE TEMPORARY TABLE {staged} AS "
                          f"SELECT {names} FROM {table} WITH NO DATA")
        self.copy_rows(staged, columns, batch)
        self._cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staged}{conflict}")
        self._cur.execute(f"DROP TABLE {staged}")

    def delete_keys(self, table: str, columns: Sequence[str],
                    keys: Sequence[Sequence[str]]) -> None:
        """Delete the rows whose text `columns` hold one of `keys`: one statement on
        PostgreSQL (an array per column), where a statement per key was a round of psycopg's
        pipeline each."""
        if not keys:
            return
        if self._db.is_sqlite:
            where = " AND ".join(f"{c} = %s" for c in columns)
            self.executemany(f"DELETE FROM {table} WHERE {where}", keys)
            return
        arrays = ", ".join(["%s::text[]"] * len(columns))
        self._cur.execute(f"DELETE FROM {table} WHERE ({', '.join(columns)}) IN "
                          f"(SELECT * FROM unnest({arrays}))",
                          [list(column) for column in zip(*keys, strict=True)])

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)


def _among(execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]], sqlite: bool,
           sql: str, params: Sequence[Any], values: Sequence[str]) -> list[tuple[Any, ...]]:
    """One statement with an array on PostgreSQL (an IN list of hundreds becomes a prepared
    statement whose generic plan may scan the whole table: seconds a batch once a year of
    rows is in it), IN lists of 500 on SQLite."""
    if not sqlite:
        return execute(sql.format(among="= ANY(%s::text[])"), (*params, list(values)))
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        rows += execute(sql.format(among=f"IN ({', '.join(['%s'] * len(chunk))})"),
                        (*params, *chunk))
    return rows


def check_unless_quiet(conn: psycopg.Connection[Any]) -> None:
    """The pool's check at checkout, with a round trip only when the connection is not quiet.

    An idle connection in autocommit mode is sent nothing by the server unless it is going
    away: a restart or a terminated backend sends its error and closes the socket, which is
    then readable. Such a connection (or a closed or broken one) gets psycopg's own check, an
    empty statement, whose failure makes the pool replace it. A quiet one is handed out as it
    is: the empty statement at every checkout was a round trip and both ends' CPU per
    statement or transaction of every relay batch, consumer batch and API request. A socket
    that died silently (a host gone, no FIN) fails the caller's statement instead, as it
    could fail just after a check; the callers already reset the pool on that."""
    if conn.closed or conn.broken or _readable(conn.fileno()):
        ConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    """Whether the socket has something to read now (poll: select() refuses a descriptor
    numbered 1024 or above, which an API worker with many clients' sockets open can reach)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def libpq_url(url: str) -> str:
    """The URL as libpq takes it (`postgres://` is SQLAlchemy's and the settings' spelling too)."""
    return url.replace("postgres://", "postgresql://", 1)
