"""Versioned database schemas: one Alembic revision history per service, run by
`yrkesresan migrate` (ADR 0018).

Each service keeps its revisions in `services/<service>/migrations/versions/` as plain SQL
(no models, no autogenerate), and its version in the table `<service>_schema_version` of its
own database, so services that share one PostgreSQL database are versioned apart. The event
store's tables (the `eventsourcing` library's, with our hash chain) are created by a revision
too: the library runs with `CREATE_TABLE=n`, and one version covers everything a service reads.

A process opens a service's database only through its `bootstrap()`, which calls `require()`:
a database that is not at the version this code expects is refused before anything else runs,
with one line that names `yrkesresan migrate` (`SchemaNotReady`).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg

from shared.platform.db import libpq_url
from shared.platform.settings import sqlite_path

SERVICES = ("enrolment", "scheduling", "certification", "billing", "notification", "dashboard",
            "regions")
SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


class SchemaNotReady(RuntimeError):
    """A service's database is not migrated, or is at another version than this code."""


def version_table(service: str) -> str:
    return f"{service}_schema_version"


def _config(service: str, url: str | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.attributes["service"] = service
    if url is not None:
        config.attributes["url"] = url
    return config


@functools.cache
def head(service: str) -> str:
    """The revision this code expects a service's database to be at."""
    from alembic.script import ScriptDirectory

    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugins announce themselves
    heads = ScriptDirectory.from_config(_config(service)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"{service}: expected one migration head, found {heads}")
    return str(heads[0])


def sqlalchemy_url(url: str) -> str:
    """Our URLs (`sqlite:///var/x.sqlite`, `postgresql://...`) as SQLAlchemy reads them."""
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        return f"sqlite:///{sqlite_path(url)}"
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    raise ValueError(f"unsupported database URL scheme {scheme!r}")


def upgrade(service: str, url: str, revision: str = "head") -> None:
    """Bring one service's database to `revision` (default: this code's head)."""
    from alembic import command

    command.upgrade(_config(service, url), revision)


def current(service: str, url: str) -> str | None:
    """The revision a service's database is at; None if it was never migrated."""
    table = version_table(service)
    try:
        if urlparse(url).scheme == "sqlite":
            with sqlite3.connect(sqlite_path(url)) as lite:
                rows: Sequence[Any] = lite.execute(f"SELECT version_num FROM {table}").fetchall()
        else:
            with psycopg.connect(libpq_url(url),
                                 autocommit=True) as pg:
                rows = pg.execute(f"SELECT version_num FROM {table}").fetchall()
    except (sqlite3.OperationalError, psycopg.errors.UndefinedTable):
        return None
    return str(rows[0][0]) if rows else None


def require(service: str, url: str) -> None:
    """Refuse a database that is not at the version this code expects."""
    expected, found = head(service), current(service, url)
    if found == expected:
        return
    where = _describe(url)
    if found is None:
        raise SchemaNotReady(
            f"{service}s databas ({where}) är inte migrerad: kör `yrkesresan migrate`")
    raise SchemaNotReady(
        f"{service}s databas ({where}) har schemaversion {found}, koden väntar {expected}: "
        "kör `yrkesresan migrate` (eller koden som hör till databasen)")


def _describe(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return sqlite_path(url)
    return f"{parsed.hostname or 'localhost'}:{parsed.port or 5432}{parsed.path}"


# --- the event store, for revisions ----------------------------------------------------------


def event_store_statements(dialect: str, service: str, lock_timeout: int = 10) -> list[str]:
    """DDL of one service's event store: the `eventsourcing` 9.5.6 application recorder's
    table (its PostgreSQL layout: `<app>_events`, a composite type, the notification index)
    with the hash chain's columns and functions (`shared.platform.store`, ADR 0007, 0008).
    Revisions call this; a change to it is a new revision, never an edit of one that ran."""
    if dialect == "sqlite":
        return [
            "CREATE TABLE IF NOT EXISTS stored_events (originator_id TEXT, "
            "originator_version INTEGER, topic TEXT, state BLOB, chain_seq INTEGER, "
            "chain_hash BLOB, PRIMARY KEY (originator_id, originator_version))",
        ]
    from psycopg.sql import SQL, Identifier

    from shared.platform.store import chain_ddl

    table = f"{service}_events"
    schema = Identifier("public")
    statements = [
        # One composite type for every store in the schema (the library's): shared by the
        # services of one database, so created once.
        SQL("DO $$ BEGIN CREATE TYPE {schema}.stored_event_uuid AS (originator_id uuid, "
            "originator_version bigint, topic text, state bytea); "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$").format(schema=schema),
        SQL("CREATE TABLE IF NOT EXISTS {schema}.{table} (originator_id uuid NOT NULL, "
            "originator_version bigint NOT NULL, topic text, state bytea, "
            "notification_id bigserial, PRIMARY KEY (originator_id, originator_version)) "
            "WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000, "
            "autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000, "
            "autovacuum_analyze_scale_factor = 0.01)").format(
                schema=schema, table=Identifier(table)),
        SQL("CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {schema}.{table} "
            "(notification_id ASC)").format(index=Identifier(f"{table}_notification_id_idx"),
                                            schema=schema, table=Identifier(table)),
        *chain_ddl("public", table, "stored_event_uuid", table, lock_timeout),
    ]
    return [s.as_string(None) for s in statements]


def create_event_store(op: Any, service: str) -> None:
    """For a revision: the service's event store, chained; a store that predates the chain
    is chained in the same transaction, and one that has the chain is left alone. Run on the
    driver's own cursor: the chain's SQL is not for SQLAlchemy to parse for parameters."""
    bind = op.get_bind()
    cursor = bind.connection.driver_connection.cursor()
    for statement in event_store_statements(bind.dialect.name, service):
        cursor.execute(statement)
    if bind.dialect.name == "sqlite":
        from shared.platform.store import chain_sqlite_store

        chain_sqlite_store(cursor, "stored_events")


def bound_applied_log(op: Any) -> None:
    """For a revision (ADR 0020): `applied_events` gets a sequence number per consumer and
    keeps an envelope only until a snapshot covers it (the column becomes nullable, so the
    table is rebuilt: SQLite cannot alter a column); `projection_snapshots` holds the
    snapshots. The rows kept are numbered in id order (the folds do not care about order).
    Services sharing one database share these tables: the first revision to run converts."""
    from sqlalchemy import inspect

    bind = op.get_bind()
    blob = "BLOB" if bind.dialect.name == "sqlite" else "BYTEA"
    op.execute("CREATE TABLE IF NOT EXISTS projection_snapshots (consumer TEXT PRIMARY KEY, "
               f"fold_version TEXT NOT NULL, seq BIGINT NOT NULL, state {blob} NOT NULL)")
    columns = {c["name"] for c in inspect(bind).get_columns("applied_events")}
    if "seq" in columns:
        return
    op.execute("CREATE TABLE applied_events_numbered (consumer TEXT NOT NULL, "
               "event_id TEXT NOT NULL, seq BIGINT NOT NULL, envelope TEXT, "
               "PRIMARY KEY (consumer, event_id))")
    op.execute("INSERT INTO applied_events_numbered (consumer, event_id, seq, envelope) "
               "SELECT consumer, event_id, ROW_NUMBER() OVER (PARTITION BY consumer "
               "ORDER BY event_id), envelope FROM applied_events")
    op.execute("DROP TABLE applied_events")
    op.execute("ALTER TABLE applied_events_numbered RENAME TO applied_events")
    op.execute("CREATE UNIQUE INDEX applied_events_seq ON applied_events (consumer, seq)")


def rebuild_positions(op: Any) -> None:
    """For a revision: `rebuild_positions`, how far a rebuild read each service's store for a
    projection (the last notification id), so that the next rebuild reads only what came
    after (`shared.platform.consumer.StorePositions`). Services sharing one database share
    it: the first revision to run creates it."""
    op.execute("CREATE TABLE IF NOT EXISTS rebuild_positions (consumer TEXT NOT NULL, "
               "store TEXT NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (consumer, store))")


# --- Alembic's environment, shared by every service's `migrations/env.py` ---------------------


def run_env() -> None:
    """Run a service's revisions online, in one transaction, on the URL `upgrade` was given;
    the version goes to the service's own table."""
    from alembic import context
    from sqlalchemy import create_engine, event, pool

    config = context.config
    service = config.attributes["service"]
    url = sqlalchemy_url(config.attributes["url"])
    engine = create_engine(url, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        # The sqlite3 module begins transactions only before DML; make DDL transactional,
        # and take the write lock at once (the recipe of SQLAlchemy's SQLite notes).
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    with engine.connect() as connection:
        context.configure(connection=connection, version_table=version_table(service),
                          transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
