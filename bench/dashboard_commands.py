"""End to end, command accepted -> dashboard figure updated, at 200 commands a second.

Registrations (`POST /participants`) against the enrolment API, its relay to the broker and
the dashboard's faust worker (each its own process, as `yrkesresan run` starts them) on a fresh
PostgreSQL database. The nation's `registered` in `dashboard_cells` (what the pages and their
server-sent events read) is polled every 10 ms over a connection of its own; the k-th
registration accepted counts as shown once the figure has grown by k. Latency: that moment
minus the moment the API's 201 arrived. Printed next to a baseline measured in the same run:
the command alone (its request and answer), and the CPU each process spent per registration
(/proc: the API, the relay, the worker, the broker, PostgreSQL's backends, the bench). Asserts
nothing.

    .venv/bin/python bench/dashboard_commands.py [--rate 200] [--seconds 20] [--direct]

With `--direct` the registrations are handled in this process rather than sent to the API
(`register_directly`, as bench/progression.py does).

Issue 10's target: p50 <= 100 ms, p99 <= 500 ms at 200 commands/s.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
import psycopg  # noqa: E402

from bench._common import (  # noqa: E402
    CpuTally,
    PollingThread,
    enrolment_pipeline,
    print_command_figures,
    print_stages,
    rate_arguments,
    register_directly,
    register_participants,
    relay_stages,
    scratch_broker,
    scratch_database,
    wait_until,
)
from services.dashboard import application as dashboard_app  # noqa: E402
from services.enrolment import application as enrolment_app  # noqa: E402


class FigureWatcher(PollingThread):
    """(wall clock, the nation's `registered`) every 10 ms, on a thread of its own."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.readings: list[tuple[float, int]] = []

    def registered(self) -> int:
        return self.readings[-1][1] if self.readings else 0

    def poll(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute("SELECT body FROM dashboard_cells WHERE key = 'nation:SE'").fetchone()
        count = int(orjson.loads(row[0])["registered"]) if row else 0
        if not self.readings or count != self.readings[-1][1]:
            self.readings.append((time.time(), count))


def nothing_to_expect(participant_id: str) -> None:
    """The figure is a count: no participant to wait for by id."""


def shown_at(moments: list[float], readings: list[tuple[float, int]], before: int
             ) -> list[tuple[float, float]]:
    """For the k-th of `moments` (registrations accepted, or sent by the relay), that moment
    and the first reading with `before` + k registered."""
    counts = [count for _, count in readings]
    out = []
    for k, at in enumerate(sorted(moments), start=1):
        i = bisect.bisect_left(counts, before + k)
        if i < len(readings):
            out.append((at, readings[i][0]))
    return out


def main() -> None:
    parser = rate_arguments(__doc__, 200, direct=True)
    args = parser.parse_args()
    total = int(args.rate * args.seconds)
    load_before = os.getloadavg()
    with scratch_database() as url, scratch_broker() as broker, \
            tempfile.TemporaryDirectory() as var:
        enrolment_app.migrate(url)
        dashboard_app.migrate(url)
        with enrolment_pipeline(url, broker.bootstrap, var, args.workers,
                                ("worker", ["dashboard", "worker"])) as (base, procs), \
                FigureWatcher(url) as watcher:
            # Warm: one registration through the whole pipe before the clock starts.
            asyncio.run(register_participants(base, 1, args.rate, nothing_to_expect))
            wait_until(lambda: watcher.registered() >= 1, "the first registration", procs, 240)
            before = watcher.registered()
            named = dict(zip(("api", "relay", "worker"), procs, strict=True))
            if broker.process is not None:
                named["broker"] = broker.process
            with CpuTally(url, named) as cpu:
                if args.direct:
                    accepted, run = register_directly(url, total, args.rate, nothing_to_expect,
                                                      1)
                else:
                    accepted, run = asyncio.run(register_participants(
                        base, total, args.rate, nothing_to_expect, first=1))
                wait_until(lambda: watcher.registered() >= before + len(accepted),
                           "every registration in the figures", procs, 300)
            readings = list(watcher.readings)
        stages = [stage for pid, stage in relay_stages(broker.bootstrap).items()
                  if pid in accepted]
    shown = [seen - at for at, seen in shown_at(list(accepted.values()), readings, before)]
    print_command_figures(shown, run, args, "the figures", "dashboard figure stored", "worker",
                          load_before)
    # The figure is a count: the k-th registration sent by the relay is shown when it reaches k.
    stages.sort(key=lambda stage: stage[1])
    pairs = shown_at([sent for _, sent in stages], readings, before)
    print_stages([(recorded, sent, seen) for (recorded, sent), (_, seen)
                  in zip(stages, pairs, strict=False)])  # the registrations shown: a prefix
    print(cpu.line(len(run.latencies), "registration"))


if __name__ == "__main__":
    main()
