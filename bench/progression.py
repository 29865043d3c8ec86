"""End to end, command accepted -> progression updated, at 200 commands a second: registrations
(`POST /participants`) against the enrolment API, its relay to the broker and the progression
consumer (each its own process, as `yrkesresan run` starts them) on a fresh PostgreSQL database.
For every registration: the moment its row is in the progression read model
(`view_progression`, what `GET /progression/{id}` answers from) minus the moment the API's
201 arrived. The read model is polled every 10 ms over one connection of its own, so a figure
can be up to 10 ms (plus one query) late. Prints percentiles next to a baseline measured in the
same run: the command alone (its request and answer). Asserts nothing.

    .venv/bin/python bench/progression.py [--rate 200] [--seconds 20] [--direct]

With `--direct` the registrations are the same commands handled in this process by enrolment's
application (`register_participant`, on four threads) rather than sent to the API, so the
pipe behind the API (relay, broker, consumer) is measured at the offered rate even where the
API's processes cannot take it (HTTP, tokens and validation cost most of a registration's
CPU); "accepted" is then the moment the command's save returned.

Issue 11's target: p50 <= 100 ms, p99 <= 500 ms at 200 commands/s.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from bench._common import (  # noqa: E402
    MUNICIPALITY,
    OpenLoopRun,
    PollingThread,
    enrolment_pipeline,
    print_command_figures,
    print_stages,
    rate_arguments,
    register_participants,
    relay_stages,
    scratch_broker,
    scratch_database,
    wait_until,
)
from services.certification import application as certification_app  # noqa: E402
from services.enrolment import application as enrolment_app  # noqa: E402
from services.enrolment.application import RegisterParticipant  # noqa: E402


class ReadModelWatcher(PollingThread):
    """When each awaited participant's progression row appeared (wall clock), polled every
    10 ms on a thread of its own over one connection of its own."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.pending: set[str] = set()
        self.seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def expect(self, participant_id: str) -> None:
        with self._lock:
            if participant_id not in self.seen:
                self.pending.add(participant_id)

    def poll(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            wanted = list(self.pending)
        if not wanted:
            return
        rows = conn.execute("SELECT key FROM view_progression WHERE key = ANY(%s)",
                            (wanted,)).fetchall()
        now = time.time()
        with self._lock:
            for (key,) in rows:
                self.pending.discard(key)
                self.seen.setdefault(key, now)


def register_directly(url: str, n: int, rate: float, expect: Callable[[str], None],
                      first: int = 0) -> tuple[dict[str, float], OpenLoopRun]:
    """`register_participants`' registrations, handled by enrolment's application in this
    process on four threads, open loop: participant id -> when its save returned."""
    e = enrolment_app.bootstrap(url)
    accepted: dict[str, float] = {}
    run = OpenLoopRun([0.0] * n, [], [], 0.0, 0.0)

    def one(i: int, due: float) -> None:
        try:
            pid = e.register_participant(RegisterParticipant(
                municipality_id=MUNICIPALITY, name=f"Bänk Person {i}",
                email=f"p{i}@bench.example.se", role="socialsekreterare",
                years_in_profession=1))
        except Exception:  # noqa: BLE001 - counted as no answer, as open_loop does
            run.statuses.append(0)
        else:
            accepted[pid] = time.time()
            run.statuses.append(201)
            expect(pid)
        run.latencies.append(time.perf_counter() - due)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                run.lag = max(run.lag, -delay)
            run.due[i] = time.time()
            pool.submit(one, first + i, due)
    run.elapsed = time.perf_counter() - t0
    e.close()
    return accepted, run


def main() -> None:
    parser = rate_arguments(__doc__, 200)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--direct", action="store_true",
                        help="commands handled in this process, not through the API")
    args = parser.parse_args()
    total = int(args.rate * args.seconds)
    load_before = os.getloadavg()
    with scratch_database() as url, scratch_broker() as broker, \
            tempfile.TemporaryDirectory() as var:
        enrolment_app.migrate(url)
        certification_app.migrate(url)
        with enrolment_pipeline(url, broker.bootstrap, var, args.workers,
                                ("consumer", ["consume", "progression"])) as (base, procs):
            # Warm: one registration through the whole pipe before the clock starts.
            with ReadModelWatcher(url) as watcher:
                asyncio.run(register_participants(base, 1, args.rate, watcher.expect))
                wait_until(lambda: not watcher.pending, "the first registration", procs, 120)
            with ReadModelWatcher(url) as watcher:
                if args.direct:
                    accepted, run = register_directly(url, total, args.rate, watcher.expect, 1)
                else:
                    accepted, run = asyncio.run(register_participants(
                        base, total, args.rate, watcher.expect, first=1))
                wait_until(lambda: not watcher.pending, "every registration in progression",
                           procs, 300)
                seen = dict(watcher.seen)
            stages = relay_stages(broker.bootstrap)
    to_progression = [seen[pid] - at for pid, at in accepted.items() if pid in seen]
    print_command_figures(to_progression, run, args, "progression", "progression updated",
                          "consumer", load_before)
    print_stages([(*stages[pid], seen[pid]) for pid in accepted if pid in seen and pid in stages])


if __name__ == "__main__":
    main()
