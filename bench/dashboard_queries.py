"""Benchmark: the dashboard's pages and queries over the figures of a nation of 300,000.

    .venv/bin/python bench/dashboard_queries.py [--participants N] [--postgres] [--rounds R]

Issue 10's target: dashboard queries answer within 200 ms over the aggregates of 300,000
participants.

What a query reads is the cells the worker stored (`dashboard_cells`), never the events: the
number of cells is set by the geography and the catalogue (21 regions, 290 municipalities,
journeys, levels, courses, months), and their size by that number, not by how many
participants were counted into them. So the aggregates of a nation are made from a real fold:
a demo log of `--sample` participants (default 600) is folded by `Figures` (the worker's
code), and its cells are spread over Sweden's 21 regions and 290 municipalities, months over
seven years, each count scaled by participants / sample (default 300,000 / 600) so the figures
have the nation's magnitudes. They are written with the worker's own `FiguresStore._write`.

Each query runs in-process through the whole web application (routing, the session cookie's
token check, the database reads, JSON or the Swedish page rendered), `--rounds` times
(default 200), signed in as the national analyst, a regional coordinator and a municipal
administrator. The baseline, in the same run and the same way: `/health`, which reads one row
(the figures' version): what any request to the application costs. p50 and p99 in ms, of the
wall time and of the process's CPU time, the ratio to the baseline's p50 and the load average.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from bench._common import scratch_database  # noqa: E402
from services.dashboard import application as dashboard_app  # noqa: E402
from services.dashboard.adapters.signin import COOKIE, SignInSettings, dev_token  # noqa: E402
from services.dashboard.adapters.web import create_web  # noqa: E402
from services.dashboard.figures import Figures  # noqa: E402
from services.dashboard.store import FiguresReader, FiguresStore  # noqa: E402
from shared.platform.db import Database  # noqa: E402
from yrkesresan.demo import demo_envelopes  # noqa: E402

REGIONS, MUNICIPALITIES, YEARS = 21, 290, 7


def _scaled(value: Any, factor: float) -> Any:
    """Counts multiplied (rates and means kept), recursively."""
    if isinstance(value, bool) or not isinstance(value, int | float | dict):
        return value
    if isinstance(value, dict):
        return {k: v if k in ("completion_rate", "response_rate", "mean", "median",
                              "mean_scores") else _scaled(v, factor)
                for k, v in value.items()}
    return int(value * factor) if isinstance(value, int) else value


def national_cells(sample: int, participants: int) -> dict[str, dict[str, Any]]:
    """The cells of a nation of `participants`, from a folded demo log of `sample`."""
    fold = Figures()
    for env in demo_envelopes(sample, seed=11):
        fold.apply(env)
    cells = fold.cells()
    factor = participants / sample
    by_dimension: dict[str, list[dict[str, Any]]] = {}
    for cell in cells.values():
        by_dimension.setdefault(cell["dimension"], []).append(cell)
    out: dict[str, dict[str, Any]] = {}

    def put(dimension: str, ident: str, template: dict[str, Any], share: float,
            **extra: Any) -> None:
        cell = _scaled(template, factor * share) | {"dimension": dimension, "id": ident} | extra
        out[f"{dimension}:{ident}"] = cell

    put("nation", "SE", cells["nation:SE"], 1.0)
    region = by_dimension["region"][0]
    for r in range(REGIONS):
        put("region", f"region-{r:02d}", region, 1 / REGIONS, name=f"Region {r}")
    municipalities = by_dimension["municipality"]
    for m in range(MUNICIPALITIES):
        template = municipalities[m % len(municipalities)]
        put("municipality", f"kommun-{m:03d}", template, len(municipalities) / MUNICIPALITIES,
            name=f"Kommun {m}", region_id=f"region-{m % REGIONS:02d}")
    months = by_dimension["month"]
    for month in range(12 * YEARS):
        template = months[month % len(months)]
        ident = f"{2020 + month // 12}-{month % 12 + 1:02d}"
        put("month", ident, template, len(months) / (12 * YEARS))
    for dimension in ("journey", "level", "course"):
        for cell in by_dimension.get(dimension, []):
            put(dimension, cell["id"], cell, 1.0)
    return out


def store(db: Database, cells: dict[str, dict[str, Any]]) -> None:
    """The cells written as the worker writes them."""
    figures = FiguresStore(db)

    class Given:
        def changed_cells(self) -> dict[str, dict[str, Any] | None]:
            return dict(cells)

    figures.fold = Given()  # type: ignore[assignment]
    with db.transaction() as cur:
        figures._write(cur)


@contextmanager
def database(postgres: bool) -> Iterator[str]:
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        url = (stack.enter_context(scratch_database()) if postgres
               else f"sqlite:///{folder}/dashboard.sqlite")
        dashboard_app.migrate(url)
        yield url


def timed(call: Callable[[], Any], rounds: int) -> tuple[float, ...]:
    """p50, p99 and max of the wall time, and of this process's CPU time (all its threads: the
    test client's and the application's) per call, in ms. On a shared machine the wall
    time's tail is mostly waiting for a core; the CPU time is what the query costs."""
    for _ in range(5):  # warm
        call()
    each, cpu = [], []
    for _ in range(rounds):
        started, used = time.perf_counter(), time.process_time()
        call()
        each.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)

    def p(values: list[float], q: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(len(values) * q))] * 1000
    return p(each, 0.5), p(each, 0.99), p(each, 1), p(cpu, 0.5), p(cpu, 0.99), p(cpu, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=300_000)
    parser.add_argument("--sample", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    load_before = os.getloadavg()
    cells = national_cells(args.sample, args.participants)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    size = sum(len(orjson.dumps(c)) for c in cells.values())
    print(f"dashboard queries: {len(cells)} cells ({size / 1e6:.1f} MB) for "
          f"{args.participants:,} participants (scaled from a fold of {args.sample}), {backend}, "
          f"{args.rounds} rounds, in-process through the web application")
    with database(args.postgres) as url:
        db = Database(url)
        store(db, cells)
        reader = FiguresReader(db)
        nation = cells["nation:SE"]
        assert nation["registered"] >= args.participants * 0.5, nation["registered"]
        client = TestClient(create_web(reader, SignInSettings(
            dev=True, issuer="", client_id="", client_secret="")))
        with client:
            def as_(role: str, scope: str = "") -> Callable[[str], Callable[[], Any]]:
                token = dev_token(role, scope)

                def get(path: str) -> Callable[[], Any]:
                    def call() -> Any:
                        response = client.get(path, cookies={COOKIE: token})
                        assert response.status_code == 200, (path, response.status_code)
                        return response
                    return call
                return get

            analyst = as_("national_analyst")
            coordinator = as_("regional_coordinator", "region-03")
            admin = as_("municipal_admin", "kommun-042")
            base = timed(analyst("/health"), args.rounds)
            rows = [
                ("baseline: /health (one row read)", base),
                ("national overview, JSON (/api/oversikt)", timed(analyst("/api/oversikt"),
                                                                  args.rounds)),
                ("national overview, page (/oversikt)", timed(analyst("/oversikt"),
                                                              args.rounds)),
                ("a region, JSON (coordinator)", timed(coordinator(
                    "/api/oversikt/region/region-03"), args.rounds)),
                ("a region, page (coordinator)", timed(coordinator(
                    "/oversikt/region/region-03"), args.rounds)),
                ("a municipality, JSON (administrator)", timed(admin(
                    "/api/oversikt/kommun/kommun-042"), args.rounds)),
                ("a municipality, page (administrator)", timed(admin(
                    "/oversikt/kommun/kommun-042"), args.rounds)),
            ]
        db.close()
    load_after = os.getloadavg()
    for label, (p50, p99, top, cpu50, cpu99, cpu_top) in rows:
        verdict = "" if label.startswith("baseline") else (
            f"  {p50 / base[0]:5.1f}× baseline; goal ≤ 200 ms: "
            + ("meets" if p99 <= 200 else "MISSES"))
        print(f"  {label:<38} p50 {p50:6.1f} ms  p99 {p99:6.1f}  max {top:6.1f} ms  "
              f"(CPU p50 {cpu50:5.1f}, p99 {cpu99:5.1f}, max {cpu_top:5.1f} ms){verdict}")
    print(f"  load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")


if __name__ == "__main__":
    main()
