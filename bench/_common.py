"""What the benchmarks share: a throw-away PostgreSQL database and a private broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment, get_topic

from shared.platform.broker import LocalBroker, ensure_topics
from shared.platform.store import ServiceApplication
from tests.ports import start_broker

A = TypeVar("A", bound=ServiceApplication)

PG_ADMIN_URL = os.environ.get("YRKESRESAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"yr_bench_{uuid.uuid4().hex[:10]}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_broker() -> Iterator[LocalBroker]:
    broker = start_broker()
    ensure_topics(broker.bootstrap)
    try:
        yield broker
    finally:
        broker.stop()


def ratio_line(label: str, value: float, baseline: float, goal: float) -> str:
    ratio = value / baseline if baseline else float("nan")
    verdict = "meets" if ratio >= goal else "BELOW"
    return f"{label}: {ratio:.0%} of baseline (goal ≥ {goal:.0%}: {verdict})"


def on_library_recorder(cls: type[A]) -> type[A]:
    """`cls` saving through the eventsourcing library's own recorder, for baselines: the
    services save through ours (`shared.platform.store.PostgresRecorder`, ADR 0007), which is
    faster, so a baseline measured on it would not be "the library's raw save"."""

    class OnLibraryRecorder(cls):  # type: ignore[valid-type,misc]
        name = cls.name  # the same tables

        def construct_env(self, name: str, env: Any = None) -> Environment:
            environment: Environment = super().construct_env(name, env)
            sqlite = environment.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite"
            library = SQLiteApplicationRecorder if sqlite else PostgresApplicationRecorder
            environment["APPLICATION_RECORDER_TOPIC"] = get_topic(library)
            return environment

    return OnLibraryRecorder
