"""Fixtures shared by every test folder.

Tests that claim a database or a broker talk to the real one: PostgreSQL at 127.0.0.1:5432
(or YRKESRESAN_TEST_PG, a libpq URL of a server whose user may create databases) and a tansu
broker this session starts on a free port. An unreachable database is a failure, never a skip.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shared.platform.broker import LocalBroker
from tests import tokens
from tests.ports import broker_with_topics

tokens.configure()  # every token of the session is signed with the session's own key pair

# The suite, and every process it starts, runs with the local time zone 14 hours ahead of UTC
# (from 10:00 UTC the local date is the next day): code or a test that takes the local clock
# for UTC or for Sweden's fails here, not on a machine set to another zone. The whole suite
# passed so on 2026-12-03 at 17:53-18:08 UTC, the local date a day ahead.
os.environ["TZ"] = os.environ.get("YRKESRESAN_TEST_TZ", "Pacific/Kiritimati")
time.tzset()

PG_ADMIN_URL = os.environ.get("YRKESRESAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
# Each store opens one connection up front instead of five (more when a test needs them):
# several suites, and the processes the e2e tests start, share one server's connection limit.
os.environ.setdefault("YRKESRESAN_DB_POOL_SIZE", "1")


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {e}. Start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.")


def _pg_base() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0]


class _Databases:
    """Databases for tests, each empty when handed out. Dropping a database costs the server a
    checkpoint (a second and more on a loaded machine, some three hundred times a run), so a
    database given back is emptied and handed out again, under a new name: its sessions are
    ended, it is renamed (a process a test left behind finds no database by the old name
    rather than writing into the next test's) and its schema made anew. All are dropped when
    the session ends."""

    def __init__(self) -> None:
        self._free: list[str] = []
        self._made: set[str] = set()

    @staticmethod
    def _name() -> str:
        return f"yr_test_{uuid.uuid4().hex[:12]}"

    def take(self) -> str:
        if self._free:
            return self._free.pop()
        name = self._name()
        with _admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._made.add(name)
        return name

    def give_back(self, name: str) -> None:
        new = self._name()
        with _admin() as conn:
            conn.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            try:
                conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{new}"')
            except psycopg.errors.ObjectInUse:  # a session came back meanwhile: not reused
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                self._made.discard(name)
                return
        self._made.discard(name)
        self._made.add(new)
        with psycopg.connect(f"{_pg_base()}/{new}", autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        self._free.append(new)

    def close(self) -> None:
        with _admin() as conn:
            for name in self._made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_databases = _Databases()


def pytest_sessionfinish() -> None:
    _databases.close()


def _fresh_database() -> Iterator[str]:
    name = _databases.take()
    try:
        yield f"{_pg_base()}/{name}"
    finally:
        _databases.give_back(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    yield from _fresh_database()


@pytest.fixture(scope="module")
def module_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database shared by the tests of one module (a world that is
    expensive to build and that its tests only add to)."""
    yield from _fresh_database()


@pytest.fixture(scope="package")
def package_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database shared by the tests of one folder (the running system the
    end-to-end tests share, each adding ids of its own)."""
    yield from _fresh_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test once per supported backend."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_database_url(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database per backend for a whole module, for tests that share seeded data."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'store.sqlite'}"
    else:
        yield from _fresh_database()


@pytest.fixture(scope="session")
def broker() -> Iterator[LocalBroker]:
    """A real Kafka-protocol broker (tansu, in memory) for the whole test session."""
    with broker_with_topics() as b:
        yield b
