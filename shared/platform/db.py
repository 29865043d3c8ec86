"""A thin DB-API layer over SQLite and PostgreSQL for what is not an event store: relay
positions and projection read models. SQL is written with `%s` placeholders and portable
`INSERT ... ON CONFLICT`, which both backends understand."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        self.is_sqlite = parsed.scheme == "sqlite"
        if self.is_sqlite:
            path = unquote(parsed.path)
            path = path[1:] if path.startswith("/") and not url.startswith("sqlite:////") else path
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn: Any = sqlite3.connect(path, timeout=30, isolation_level=None,
                                              check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        elif parsed.scheme in ("postgresql", "postgres"):
            self._conn = psycopg.connect(_libpq_url(url), autocommit=True)
        else:
            raise ValueError(f"unsupported database URL {url!r}")

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
        with self.transaction() as cur:
            return cur.execute(sql, params)

    def close(self) -> None:
        self._conn.close()


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
