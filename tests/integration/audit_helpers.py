"""What the audit tests share: the services' settings pointed at a test database, and SQL
straight to a store, as someone with the database's password would write it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared.platform.settings import Settings, sqlite_path
from yrkesresan import processes


def configure_services(database_url: str, monkeypatch: pytest.MonkeyPatch,
                       tmp_path: Path) -> None:
    """Every service's store where the CLI will look for it, migrated: on PostgreSQL the test
    database, on SQLite the embedded default (a file per service under a fresh var/)."""
    if database_url.startswith("sqlite"):
        monkeypatch.setenv("YRKESRESAN_VAR_DIR", str(tmp_path / "var"))
        monkeypatch.delenv("YRKESRESAN_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("YRKESRESAN_DATABASE_URL", database_url)
    processes.migrate(list(processes.services()))


def url_of(service: str) -> str:
    return Settings().database_url_for(service)


def sql(url: str, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """One statement, straight to the database (`%s` placeholders on both backends)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            return conn.execute(statement.replace("%s", "?"), tuple(params)).fetchall()
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, tuple(params))  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def notification_column(url: str) -> str:
    return "rowid" if url.startswith("sqlite") else "notification_id"
