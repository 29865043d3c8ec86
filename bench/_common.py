"""What the benchmarks share: a throw-away PostgreSQL database and a private broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from shared.platform.broker import LocalBroker, ensure_topics, free_port

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
    broker = LocalBroker(free_port()).start()
    ensure_topics(broker.bootstrap)
    try:
        yield broker
    finally:
        broker.stop()


def ratio_line(label: str, value: float, baseline: float, goal: float) -> str:
    ratio = value / baseline if baseline else float("nan")
    verdict = "meets" if ratio >= goal else "BELOW"
    return f"{label}: {ratio:.0%} of baseline (goal ≥ {goal:.0%}: {verdict})"
