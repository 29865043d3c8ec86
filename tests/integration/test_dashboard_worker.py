"""The dashboard's faust worker on the real broker: killed mid-stream (SIGKILL, no goodbye)
and started again, its figures equal `yrkesresan replay dashboard` of the same events, and
agree with the contract's own replays (progression, pot, evaluations)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from typer.testing import CliRunner

from services.dashboard import application as dashboard
from services.dashboard.store import FiguresReader
from shared.events import Envelope
from shared.platform.broker import LocalBroker
from shared.platform.db import Database
from tests.integration.helpers import wait_for
from tests.ports import own_ops_health, process_on_a_port
from yrkesresan.cli import app as cli
from yrkesresan.demo import demo_envelopes

pytestmark = pytest.mark.integration


def _worker(env: dict[str, str], group: str, log: Path) -> subprocess.Popen[bytes]:
    """The worker with its ops port drawn at random, started again on another while the one
    drawn is taken (it exits, unable to bind), up once its own `/health` answers."""
    with log.open("ab") as out:
        return process_on_a_port(
            lambda port: [sys.executable, "-m", "yrkesresan", "dashboard", "worker",
                          "--group-id", group, "--ops-port", str(port)],
            env=env, log=out, ready=own_ops_health, seconds=240)[0]


def _produce(producer: KafkaProducer, envs: list[Envelope]) -> None:
    for env in envs:
        producer.send(env.topic, key=env.key().encode(), value=env.to_json())
    producer.flush()


def _replay(projection: str, log: Path, *options: str) -> Any:
    """`yrkesresan replay` run in the test's process: what is checked is its document, not
    its process (tests/unit/test_replay_cli.py), and a new interpreter costs seconds."""
    out = CliRunner().invoke(cli, ["replay", projection, "--log", str(log), *options])
    assert out.exit_code == 0, out.output
    return orjson.loads(out.stdout_bytes)


def _applied(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM applied_events WHERE consumer = 'dashboard'")[0][0])


def test_worker_killed_mid_stream_ends_with_the_replays_figures(
    database_url: str, own_broker: LocalBroker, tmp_path: Path
) -> None:
    broker = own_broker
    dashboard.migrate(database_url)
    db = Database(database_url)
    envs = list(demo_envelopes(120, seed=7))
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"".join(env.to_json() + b"\n" for env in envs))
    env = {**os.environ, "KAFKA_BOOTSTRAP": broker.bootstrap,
           "YRKESRESAN_DASHBOARD_DATABASE_URL": database_url}
    group = f"test-dashboard-{uuid.uuid4().hex[:8]}"
    worker_log = tmp_path / "worker.log"
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    half = len(envs) // 2
    _produce(producer, envs[:half])
    worker = _worker(env, group, worker_log)
    try:
        wait_for(lambda: _applied(db) > 0, 240, f"the worker's first batch (log: {worker_log})")
        _produce(producer, envs[half:] + envs[:500])  # the rest, and redeliveries
        wait_for(lambda: _applied(db) > half, 240, "the worker in the second half")
        worker.send_signal(signal.SIGKILL)  # mid-stream: no commit, no goodbye
        worker.wait(10)
        killed_at = _applied(db)
        assert killed_at < len(envs), "the worker was not killed mid-stream"
        worker = _worker(env, group, worker_log)
        wait_for(lambda: _applied(db) == len(envs), 300,
                 f"every event applied after the restart (log: {worker_log})")
        expected = _replay("dashboard", log)
        wait_for(lambda: FiguresReader(db).document() == expected, 30, "the figures stored")
    finally:
        worker.terminate()
        worker.wait(30)
        producer.close()
    figures = FiguresReader(db)
    nation = figures.cell("nation:SE")
    assert nation is not None
    progression = _replay("progression", log)["participants"]
    assert nation["registered"] == len(progression)
    assert nation["certificates"] == sum(p["certificates"] for p in progression)
    per_municipality = {c["id"]: c["certificates"] for c in figures.cells("municipality")}
    for row in progression:
        per_municipality[row["municipality_id"]] -= row["certificates"]
    assert set(per_municipality.values()) == {0}
    region = figures.cell("region:rss-dalarna")
    assert region is not None and region["pot_by_year"]
    for year, pot in region["pot_by_year"].items():
        assert _replay("pot", log, "--region", "rss-dalarna", "--year", year)["pot_sek"] == pot
    assert sum(int(p) for p in region["pot_by_year"].values()) == region["pot_sek"]
    courses = {c["course_id"]: c for c in _replay("evaluations", log)["courses"]}
    for cell in figures.cells("course"):
        by_mode = cell["evaluations"].values()
        assert sum(m["responses"] for m in by_mode) == courses[cell["id"]]["responses"]
        assert sum(m["completions"] for m in by_mode) == courses[cell["id"]]["completions"]
    db.close()
