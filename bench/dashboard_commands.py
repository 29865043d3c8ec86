"""End to end, command accepted -> dashboard figure updated, at 200 commands a second.

Registrations (`POST /participants`) against the enrolment API, its relay to the broker and
the dashboard's faust worker (each its own process, as `yrkesresan run` starts them) on a fresh
PostgreSQL database. The nation's `registered` in `dashboard_cells` (what the pages and their
server-sent events read) is polled every 10 ms over a connection of its own; the k-th
registration accepted counts as shown once the figure has grown by k. Latency: that moment
minus the moment the API's 201 arrived. Printed next to a baseline measured in the same run:
the command alone (its request and answer). Asserts nothing.

    .venv/bin/python bench/dashboard_commands.py [--rate 200] [--seconds 20]

Issue 10's target: p50 <= 100 ms, p99 <= 500 ms at 200 commands/s.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import orjson  # noqa: E402
import psycopg  # noqa: E402

from bench._common import scratch_broker, scratch_database  # noqa: E402
from bench.progression import answers, drive, ms, percentile, start, wait_until  # noqa: E402
from services.dashboard import application as dashboard_app  # noqa: E402
from services.enrolment import application as enrolment_app  # noqa: E402
from shared.platform.auth import Principal, Role, issue_token, jwks_source  # noqa: E402
from shared.platform.broker import free_port  # noqa: E402
from shared.platform.settings import current_settings  # noqa: E402

REGION, MUNICIPALITY = "rss-bench", "bench-kommun"


class FigureWatcher:
    """(wall clock, the nation's `registered`) every 10 ms, on a thread of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.readings: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def expect(self, participant_id: str) -> None:
        """`drive` announces each registration; the figure is a count, so nothing to do."""

    def registered(self) -> int:
        return self.readings[-1][1] if self.readings else 0

    def __enter__(self) -> FigureWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(0.01):
                row = conn.execute(
                    "SELECT body FROM dashboard_cells WHERE key = 'nation:SE'").fetchone()
                count = int(orjson.loads(row[0])["registered"]) if row else 0
                if not self.readings or count != self.readings[-1][1]:
                    self.readings.append((time.time(), count))


def shown_after(accepted: list[float], readings: list[tuple[float, int]], before: int
                ) -> list[float]:
    """For the k-th accepted registration, the first reading with `before` + k registered,
    minus when it was accepted."""
    counts = [count for _, count in readings]
    out = []
    for k, at in enumerate(sorted(accepted), start=1):
        i = bisect.bisect_left(counts, before + k)
        if i < len(readings):
            out.append(readings[i][0] - at)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    args = parser.parse_args()
    total = int(args.rate * args.seconds)
    load_before = os.getloadavg()
    with scratch_database() as url, scratch_broker() as broker, \
            tempfile.TemporaryDirectory() as var:
        enrolment_app.migrate(url)
        dashboard_app.migrate(url)
        port, relay_port, ops_port = free_port(), free_port(), free_port()
        env = {**os.environ, "YRKESRESAN_DATABASE_URL": url, "KAFKA_BOOTSTRAP": broker.bootstrap,
               "YRKESRESAN_LOG_LEVEL": "WARNING", "YRKESRESAN_VAR_DIR": var,
               "YRKESRESAN_AUTH_JWKS": str(Path(jwks_source(current_settings())).resolve())}
        logs = Path(var)
        procs = [start(["serve", "enrolment", "--port", str(port),
                        "--workers", str(args.workers)], env, logs / "api.log"),
                 start(["relay", "enrolment", "--ops-port", str(relay_port)], env,
                       logs / "relay.log"),
                 start(["dashboard", "worker", "--ops-port", str(ops_port)], env,
                       logs / "worker.log")]
        base, ops = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ops_port}"
        try:
            with httpx.Client(timeout=5) as http:
                wait_until(lambda: answers(http, f"{base}/health"), "the API", procs)
                wait_until(lambda: answers(http, f"{ops}/health"), "the worker", procs)
                system = {"Authorization": "Bearer " + issue_token(
                    Principal(subject="bench", role=Role.SYSTEM))}
                http.post(f"{base}/regions", headers=system,
                          json={"region_id": REGION, "name": "Bänkregionen"}).raise_for_status()
                http.post(f"{base}/municipalities", headers=system, json={
                    "municipality_id": MUNICIPALITY, "name": "Bänkkommunen",
                    "region_id": REGION}).raise_for_status()
            with FigureWatcher(url) as watcher:
                # Warm: one registration through the whole pipe before the clock starts.
                asyncio.run(drive(base, 1, args.rate, watcher))  # type: ignore[arg-type]
                wait_until(lambda: watcher.registered() >= 1, "the first registration", procs,
                           240)
                before = watcher.registered()
                accepted, latencies, statuses, elapsed = asyncio.run(
                    drive(base, total, args.rate, watcher, first=1))  # type: ignore[arg-type]
                wait_until(lambda: watcher.registered() >= before + len(accepted),
                           "every registration in the figures", procs, 300)
                readings = list(watcher.readings)
        except Exception:
            for name in ("api", "relay", "worker"):
                tail = (logs / f"{name}.log").read_text(errors="replace").splitlines()[-8:]
                print(f"--- {name}.log ends:", *tail, sep="\n", file=sys.stderr)
            raise
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
    shown = shown_after(list(accepted.values()), readings, before)
    print(f"registrations: {len(latencies)} offered at {args.rate:.0f}/s, achieved "
          f"{len(latencies) / elapsed:.1f}/s ({args.workers} API workers), answers "
          f"{dict(sorted(Counter(statuses).items()))}; {len(shown)} seen in the figures")
    if shown:
        print(f"command accepted -> dashboard figure stored: p50 {ms(percentile(shown, 50))}  "
              f"p95 {ms(percentile(shown, 95))}  p99 {ms(percentile(shown, 99))}  "
              f"max {ms(max(shown))}  (target: p50 <= 100 ms, p99 <= 500 ms; polled every "
              "10 ms)")
    base_p50, base_p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"baseline, the command alone (request to 201): p50 {ms(base_p50)}  p99 {ms(base_p99)}")
    if shown:
        print(f"ratio: p50 {percentile(shown, 50) / base_p50:.1f}x, p99 "
              f"{percentile(shown, 99) / base_p99:.1f}x the command's own (relay, broker and "
              "worker on top)")
    print(f"machine: {os.cpu_count()} cores, load average (1, 5, 15 min) "
          f"{' '.join(f'{x:.1f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after "
          "(other processes share the cores)")


if __name__ == "__main__":
    main()
