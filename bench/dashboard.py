"""Benchmark: events/s through the national dashboard's figures (`services/dashboard`).

    .venv/bin/python bench/dashboard.py [--participants N] [--batch B] [--postgres]

A demo log (`yrkesresan demo-log`'s generator) is applied in batches of B, as the faust worker
hands them over, to three things on the same database, in the same run:

- **baseline**: what every idempotent consumer pays, and nothing more: each envelope recorded in
  `applied_events` (id and body), one transaction per batch (`AppliedLog`, the shared code);
- **fold**: the dashboard's fold alone, in memory (`Figures.apply`), and computing every cell
  once at the end (`Figures.cells`);
- **dashboard**: the worker's own step, `ProjectionRunner.apply_batch` over `FiguresStore`: the
  baseline's records, the fold, and the cells that changed written in the same transaction.

It prints events/s for each, the dashboard's rate as a ratio of the baseline's, and the
dashboard's rate over the first and the last third of the log: a batch recounts the sources it
touched (ADR 0013), so the rate should not fall as the log grows.

Then, unless `--no-latency`: the time from an event produced on the broker to the figure it
changes being stored, with the real faust worker (`yrkesresan dashboard worker`, a process)
and new participants registered at `--rate` events/s for `--seconds`: as the worker runs by
default (the fetch wait of every consumer of the project, `YRKESRESAN_FETCH_MAX_WAIT_MS`), with
faust's own (1.5 s, which the local broker holds in full) and with the clients' own default,
500 ms. The baseline is a plain kafka-python consumer group member, with the same fetch wait
as the worker, receiving the same kind of events at the same rate (the transport alone).
Nothing is asserted. From a command accepted through the API and its relay:
`bench/dashboard_commands.py`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from bench._common import scratch_broker, scratch_database  # noqa: E402
from services.dashboard import application as dashboard_app  # noqa: E402
from services.dashboard.figures import Figures  # noqa: E402
from services.dashboard.store import FiguresReader, FiguresStore  # noqa: E402
from shared.events import Envelope, new_envelope, topic_name  # noqa: E402
from shared.events.models import Level, ParticipantRegistered  # noqa: E402
from shared.platform.consumer import AppliedLog, ProjectionRunner  # noqa: E402
from shared.platform.db import Database  # noqa: E402
from shared.platform.settings import current_settings  # noqa: E402
from tests.ports import random_ports  # noqa: E402
from yrkesresan.demo import demo_envelopes  # noqa: E402


def batches(envs: Sequence[Envelope], size: int) -> Iterator[Sequence[Envelope]]:
    for start in range(0, len(envs), size):
        yield envs[start:start + size]


@contextmanager
def databases(postgres: bool) -> Iterator[Callable[[], Database]]:
    """A factory of fresh, migrated databases, one per measurement, dropped at the end."""
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        made = iter(range(1000))

        def fresh() -> Database:
            if postgres:
                url = stack.enter_context(scratch_database())
            else:
                url = f"sqlite:///{folder}/dashboard-{next(made)}.sqlite"
            dashboard_app.migrate(url)
            db = Database(url)
            stack.callback(db.close)
            return db

        yield fresh


def baseline(db: Database, envs: Sequence[Envelope], size: int) -> float:
    applied = AppliedLog(db, "dashboard")
    started = time.perf_counter()
    for batch in batches(envs, size):
        with db.transaction() as cur:
            for env in batch:
                applied.record(cur, env)
    return time.perf_counter() - started


def fold_only(envs: Sequence[Envelope]) -> tuple[float, float]:
    fold = Figures()
    started = time.perf_counter()
    for env in envs:
        fold.apply(env)
    folded = time.perf_counter() - started
    started = time.perf_counter()
    fold.cells()
    return folded, time.perf_counter() - started


def dashboard(db: Database, envs: Sequence[Envelope], size: int) -> tuple[float, list[float]]:
    """Total seconds, and the seconds of each batch."""
    runner = ProjectionRunner(FiguresStore(db), db)
    runner.restore()
    each = []
    for batch in batches(envs, size):
        started = time.perf_counter()
        runner.apply_batch(batch)
        each.append(time.perf_counter() - started)
    return sum(each), each


def _registration() -> Envelope:
    return new_envelope(ParticipantRegistered(
        participant_id=f"bench-{uuid.uuid4().hex}", municipality_id="falun",
        journey="barn-och-unga", role="socialsekreterare", level=Level.NY,
        years_in_profession=1))


def _pace(rate: float, seconds: float) -> Iterator[int]:
    """Yield event numbers on schedule, `rate` a second."""
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield n


def _percentiles(latencies: list[float]) -> str:
    if not latencies:
        return "no events arrived"
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:.0f} ms, p99 {p99:.0f} ms ({len(ordered)} events)"


def transport_latency(bootstrap: str, rate: float, seconds: float) -> list[float]:
    """The baseline: produce → received by a kafka-python group member."""
    topic = topic_name("enrolment")
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bench-{uuid.uuid4()}",
                             auto_offset_reset="latest", session_timeout_ms=6000,
                             heartbeat_interval_ms=1500,
                             fetch_max_wait_ms=current_settings().fetch_max_wait_ms)
    while not consumer.assignment():
        consumer.poll(timeout_ms=200)
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    done = threading.Event()

    def receive() -> None:
        while not done.is_set() or len(latencies) < len(sent):
            for records in consumer.poll(timeout_ms=100).values():
                now = time.perf_counter()
                latencies.extend(now - sent[r.key] for r in records if r.key in sent)
            if done.is_set() and time.perf_counter() > deadline:
                return

    deadline = float("inf")
    receiver = threading.Thread(target=receive)
    receiver.start()
    for _ in _pace(rate, seconds):
        env = _registration()
        key = env.key().encode()
        sent[key] = time.perf_counter()
        producer.send(topic, key=key, value=env.to_json())
    producer.flush()
    deadline = time.perf_counter() + 10
    done.set()
    receiver.join()
    consumer.close()
    producer.close()
    return latencies


def dashboard_latency(bootstrap: str, rate: float, seconds: float,
                      fetch_max_wait_ms: int | None = None) -> list[float]:
    """Produce → the nation's `registered` stored by the worker process (SQLite), polled;
    with the worker's fetch wait, or the one given."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/dashboard.sqlite"
        dashboard_app.migrate(url)
        db = Database(url)
        env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "YRKESRESAN_DASHBOARD_DATABASE_URL": url,
               "YRKESRESAN_VAR_DIR": folder, "YRKESRESAN_LOG_LEVEL": "WARNING"}
        if fetch_max_wait_ms is not None:
            env["YRKESRESAN_FETCH_MAX_WAIT_MS"] = str(fetch_max_wait_ms)
        worker = subprocess.Popen(
            [sys.executable, "-m", "yrkesresan", "dashboard", "worker", "--group-id",
             f"bench-{uuid.uuid4().hex[:8]}", "--ops-port", str(random_ports(1)[0])],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        reader = FiguresReader(db)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
        try:
            warm = _registration()  # wait until the worker follows the topic
            producer.send(warm.topic, key=warm.key().encode(), value=warm.to_json())
            producer.flush()
            while _registered(reader) < 1:
                time.sleep(0.05)
            sent: list[float] = []
            latencies: list[float] = []
            stop = threading.Event()

            def observe() -> None:
                seen = 1  # the warm-up registration
                deadline = float("inf")
                while time.perf_counter() < deadline:
                    if stop.is_set() and deadline == float("inf"):
                        deadline = time.perf_counter() + 15
                    counted = _registered(reader) - 1
                    now = time.perf_counter()
                    while seen <= min(counted, len(sent)):
                        latencies.append(now - sent[seen - 1])
                        seen += 1
                    if stop.is_set() and seen > len(sent):
                        return
                    time.sleep(0.005)

            watcher = threading.Thread(target=observe)
            watcher.start()
            for _ in _pace(rate, seconds):
                registration = _registration()
                sent.append(time.perf_counter())
                producer.send(registration.topic, key=registration.key().encode(),
                              value=registration.to_json())
            producer.flush()
            stop.set()
            watcher.join()
            return latencies
        finally:
            producer.close()
            worker.terminate()
            worker.wait(30)
            db.close()


def _registered(reader: FiguresReader) -> int:
    cell = reader.cell("nation:SE")
    return int(cell["registered"]) if cell else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=400)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--no-latency", dest="latency", action="store_false")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    envs = list(demo_envelopes(args.participants, seed=1))
    n = len(envs)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"dashboard: {n} events ({args.participants} participants), batches of {args.batch}, "
          f"{backend}")
    with databases(args.postgres) as fresh:
        base = baseline(fresh(), envs, args.batch)
        folded, cells = fold_only(envs)
        full, each = dashboard(fresh(), envs, args.batch)
    rows = [("baseline (applied ids and envelopes, one transaction a batch)", base),
            ("fold alone (in memory)", folded), ("dashboard (worker's apply_batch)", full)]
    for label, seconds in rows:
        print(f"  {label:<62} {n / seconds:>10,.0f} events/s  ({seconds:.2f} s)")
    third = max(1, len(each) // 3)
    early, late = sum(each[:third]), sum(each[-third:])
    size = args.batch * third
    print(f"  dashboard over the first third of the log: {size / early:,.0f} events/s; over the "
          f"last third: {size / late:,.0f} events/s")
    print(f"  every cell counted afresh at the end (restart, replay): {cells * 1000:.0f} ms")
    print(f"  dashboard: {base / full:.0%} of the baseline's rate")
    if args.latency:
        with scratch_broker() as broker:  # a broker each: the worker reads from the start
            transport = transport_latency(broker.bootstrap, args.rate, args.seconds)
        with scratch_broker() as broker:
            figures = dashboard_latency(broker.bootstrap, args.rate, args.seconds)
        with scratch_broker() as broker:  # faust's own fetch wait
            stock = dashboard_latency(broker.bootstrap, args.rate, args.seconds, 1500)
        with scratch_broker() as broker:  # the clients' own default
            clients = dashboard_latency(broker.bootstrap, args.rate, args.seconds, 500)
        print(f"latency at {args.rate:.0f} events/s for {args.seconds:.0f} s, produced → "
              f"figure stored (goal p50 ≤ 100 ms, p99 ≤ 500 ms):")
        wait = current_settings().fetch_max_wait_ms
        print(f"  the worker (fetch wait {wait} ms)              {_percentiles(figures)}")
        print(f"  the worker with faust's fetch wait, 1.5 s   {_percentiles(stock)}")
        print(f"  the worker with the clients' default 500 ms {_percentiles(clients)}")
        print(f"  baseline, produced → received (transport)   {_percentiles(transport)}")

if __name__ == "__main__":
    main()
