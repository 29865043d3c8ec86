"""End to end, command accepted -> progression updated, at 200 commands a second: registrations
(`POST /participants`) against the enrolment API, its relay to the broker and the progression
consumer (each its own process, as `yrkesresan run` starts them) on a fresh PostgreSQL database.
For every registration: the moment its row is in the progression read model
(`view_progression`, what `GET /progression/{id}` answers from) minus the moment the API's
201 arrived. The read model is polled every 10 ms over one connection of its own, so a figure
can be up to 10 ms (plus one query) late. Prints percentiles next to a baseline measured in the
same run: the command alone (its request and answer). Asserts nothing.

    .venv/bin/python bench/progression.py [--rate 200] [--seconds 20] [--direct]

With `--direct` the registrations are handled in this process rather than sent to the API
(`register_directly`), so the pipe behind the API (relay, broker, consumer) is measured at the
offered rate even where the API's processes cannot take it.

Issue 11's target: p50 <= 100 ms, p99 <= 500 ms at 200 commands/s.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from bench._common import (  # noqa: E402
    CpuTally,
    PollingThread,
    enrolment_pipeline,
    ms,
    percentile,
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
from services.certification import application as certification_app  # noqa: E402
from services.enrolment import application as enrolment_app  # noqa: E402
from services.enrolment.domain import participant_key  # noqa: E402


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


class StoreWatcher(PollingThread):
    """When each event of enrolment's store became visible to other connections (its save
    committed), by originator id, polled every 10 ms on a connection of its own: what the
    relay can read, so that the API's part of "recorded -> sent" (from the event's timestamp,
    taken in the handler, to its commit) is told from the relay's."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.first_seen: dict[uuid.UUID, float] = {}
        self.last = 0

    def poll(self, conn: psycopg.Connection[Any]) -> None:
        rows = conn.execute("SELECT notification_id, originator_id FROM enrolment_events "
                            "WHERE notification_id > %s ORDER BY notification_id",
                            (self.last,)).fetchall()
        now = time.time()
        for position, originator in rows:
            self.first_seen.setdefault(originator, now)
            self.last = position


def main() -> None:
    parser = rate_arguments(__doc__, 200, direct=True)
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
            named = dict(zip(("api", "relay", "consumer"), procs, strict=True))
            if broker.process is not None:
                named["broker"] = broker.process
            with ReadModelWatcher(url) as watcher, StoreWatcher(url) as store, \
                    CpuTally(url, named) as cpu:
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
    committed = [(stages[pid][0], store.first_seen[key], stages[pid][1]) for pid in accepted
                 if pid in stages and (key := participant_key(pid)) in store.first_seen]
    if committed:
        recorded_to_store = [c - r for r, c, _ in committed]
        store_to_sent = [max(0.0, s - c) for _, c, s in committed]
        print("  of recorded -> sent: recorded -> in the store (the API's save committed, polled "
              f"every 10 ms) p50 {ms(percentile(recorded_to_store, 50))}  p99 "
              f"{ms(percentile(recorded_to_store, 99))}; in the store -> sent by the relay p50 "
              f"{ms(percentile(store_to_sent, 50))}  p99 {ms(percentile(store_to_sent, 99))}")
    print(cpu.line(len(run.latencies), "registration"))


if __name__ == "__main__":
    main()
