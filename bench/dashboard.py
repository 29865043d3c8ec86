"""Benchmark: events/s through the national dashboard's figures (`services/dashboard`).

    .venv/bin/python bench/dashboard.py [--participants N] [--batch B] [--postgres]

A demo log (`yrkesresan demo-log`'s generator) is applied in batches of B, as the faust worker
hands them over, to three things on the same database, in the same run:

- **baseline**: what every idempotent consumer pays, and nothing more: each envelope recorded in
  `applied_events` (id and body), one transaction per batch (`AppliedLog`, the shared code);
- **fold**: the dashboard's fold alone, in memory (`Figures.apply`), and computing every cell
  once at the end (`Figures.cells`);
- **dashboard**: the worker's own step, `FiguresStore.apply_batch`: the baseline's records, the
  fold, and the cells that changed written in the same transaction.

It prints events/s for each and the dashboard's rate as a ratio of the baseline's. The cells
are recomputed from everything held after each batch (ADR 0013), so the ratio falls as the log
grows; the per-batch cost of `cells()` is printed for that reason. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.dashboard import application as dashboard_app  # noqa: E402
from services.dashboard.figures import Figures  # noqa: E402
from services.dashboard.store import FiguresStore  # noqa: E402
from shared.events import Envelope  # noqa: E402
from shared.platform.consumer import AppliedLog  # noqa: E402
from shared.platform.db import Database  # noqa: E402
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
                from bench._common import scratch_database

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


def dashboard(db: Database, envs: Sequence[Envelope], size: int) -> float:
    figures = FiguresStore(db)
    figures.restore()
    started = time.perf_counter()
    for batch in batches(envs, size):
        figures.apply_batch(batch)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=400)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    envs = list(demo_envelopes(args.participants, seed=1))
    n = len(envs)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"dashboard: {n} events ({args.participants} participants), batches of {args.batch}, "
          f"{backend}")
    with databases(args.postgres) as fresh:
        base = baseline(fresh(), envs, args.batch)
        folded, cells = fold_only(envs)
        full = dashboard(fresh(), envs, args.batch)
    rows = [("baseline (applied ids and envelopes, one transaction a batch)", base),
            ("fold alone (in memory)", folded), ("dashboard (worker's apply_batch)", full)]
    for label, seconds in rows:
        print(f"  {label:<62} {n / seconds:>10,.0f} events/s  ({seconds:.2f} s)")
    print(f"  cells() over everything held at the end: {cells * 1000:.0f} ms "
          f"({-(-n // args.batch)} batches each pay up to this)")
    print(f"  dashboard: {base / full:.0%} of the baseline's rate")


if __name__ == "__main__":
    main()
