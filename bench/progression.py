"""End to end, command accepted -> progression updated, at 200 commands a second: registrations
(`POST /participants`) against the enrolment API, its relay to the broker and the progression
consumer (each its own process, as `yrkesresan run` starts them) on a fresh PostgreSQL database.
For every registration: the moment its row is in the progression read model
(`view_progression`, what `GET /progression/{id}` answers from) minus the moment the API's
201 arrived. The read model is polled every 10 ms over one connection of its own, so a figure
can be up to 10 ms (plus one query) late. Prints percentiles next to a baseline measured in the
same run: the command alone (its request and answer). Asserts nothing.

    .venv/bin/python bench/progression.py [--rate 200] [--seconds 20]

Issue 11's target: p50 <= 100 ms, p99 <= 500 ms at 200 commands/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from bench._common import scratch_broker, scratch_database  # noqa: E402
from services.certification import application as certification_app  # noqa: E402
from services.enrolment import application as enrolment_app  # noqa: E402
from shared.platform.auth import Principal, Role, issue_token, jwks_source  # noqa: E402
from shared.platform.settings import current_settings  # noqa: E402
from tests.ports import random_ports  # noqa: E402

REGION, MUNICIPALITY = "rss-bench", "bench-kommun"


IN_FLIGHT = 100  # requests in flight at most (see drive)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "yrkesresan", *args], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_until(done: Callable[[], bool], what: str, procs: list[subprocess.Popen[bytes]],
               timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a process exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.2)


def answers(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url).status_code == 200
    except httpx.HTTPError:
        return False


class ReadModelWatcher:
    """When each awaited participant's progression row appeared (wall clock), polled every
    10 ms on a thread of its own over one connection of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pending: set[str] = set()
        self.seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def expect(self, participant_id: str) -> None:
        with self._lock:
            if participant_id not in self.seen:
                self.pending.add(participant_id)

    def __enter__(self) -> ReadModelWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(0.01):
                with self._lock:
                    wanted = list(self.pending)
                if not wanted:
                    continue
                rows = conn.execute("SELECT key FROM view_progression WHERE key = ANY(%s)",
                                    (wanted,)).fetchall()
                now = time.time()
                with self._lock:
                    for (key,) in rows:
                        self.pending.discard(key)
                        self.seen.setdefault(key, now)


async def drive(base: str, n: int, rate: float, watcher: ReadModelWatcher, first: int = 0,
                ) -> tuple[dict[str, float], list[float], list[int], float]:
    """Open loop at `rate`: participant id -> when its 201 arrived; latencies; statuses."""
    accepted: dict[str, float] = {}
    latencies: list[float] = []
    statuses: list[int] = []
    admin = {"Authorization": "Bearer " + issue_token(Principal(
        subject="bench", role=Role.MUNICIPAL_ADMIN, municipality_id=MUNICIPALITY))}
    # At most IN_FLIGHT requests at once, each on a connection of its own, so httpcore's pool
    # never holds waiters: with 500 connections and more requests than that, a run of
    # certification.py at load average 25 stalled for 12 minutes (the API idle, the client
    # at 44% CPU, 57 answers left unread). A request waiting for a slot counts from when it
    # was due, so the figures still include the wait.
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits,
                                 headers=admin) as client:

        async def one(i: int) -> None:
            started = time.perf_counter()
            try:
                async with in_flight:
                    r = await client.post("/participants", json={
                        "municipality_id": MUNICIPALITY, "name": f"Bänk Person {i}",
                        "email": f"p{i}@bench.example.se", "role": "socialsekreterare",
                        "years_in_profession": 1})
                statuses.append(r.status_code)
                if r.status_code == 201:
                    pid = str(r.json()["participant_id"])
                    accepted[pid] = time.time()
                    watcher.expect(pid)
            except httpx.HTTPError:
                statuses.append(0)
            latencies.append(time.perf_counter() - started)

        tasks = []
        t0 = time.perf_counter()
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(first + i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    return accepted, latencies, statuses, elapsed


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
        certification_app.migrate(url)
        # drawn below the kernel's range for outgoing connections (tests/ports.py)
        port, relay_port, ops_port = random_ports(3)
        env = {**os.environ, "YRKESRESAN_DATABASE_URL": url, "KAFKA_BOOTSTRAP": broker.bootstrap,
               "YRKESRESAN_LOG_LEVEL": "WARNING", "YRKESRESAN_VAR_DIR": var,
               # the API trusts the key this process signs its tokens with (absolute path)
               "YRKESRESAN_AUTH_JWKS": str(Path(jwks_source(current_settings())).resolve())}
        logs = Path(var)
        procs = [start(["serve", "enrolment", "--port", str(port),
                        "--workers", str(args.workers)], env, logs / "api.log"),
                 start(["relay", "enrolment", "--ops-port", str(relay_port)], env,
                       logs / "relay.log"),
                 start(["consume", "progression", "--ops-port", str(ops_port)], env,
                       logs / "consumer.log")]
        base, ops = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ops_port}"
        try:
            with httpx.Client(timeout=5) as http:
                wait_until(lambda: answers(http, f"{base}/health"), "the API", procs)
                wait_until(lambda: answers(http, f"{ops}/health"), "the consumer", procs)
                system = {"Authorization": "Bearer " + issue_token(
                    Principal(subject="bench", role=Role.SYSTEM))}
                http.post(f"{base}/regions", headers=system,
                          json={"region_id": REGION, "name": "Bänkregionen"}).raise_for_status()
                http.post(f"{base}/municipalities", headers=system, json={
                    "municipality_id": MUNICIPALITY, "name": "Bänkkommunen",
                    "region_id": REGION}).raise_for_status()
            # Warm: one registration through the whole pipe before the clock starts.
            with ReadModelWatcher(url) as watcher:
                asyncio.run(drive(base, 1, args.rate, watcher))
                wait_until(lambda: not watcher.pending, "the first registration", procs, 120)
            with ReadModelWatcher(url) as watcher:
                accepted, latencies, statuses, elapsed = asyncio.run(
                    drive(base, total, args.rate, watcher, first=1))
                wait_until(lambda: not watcher.pending, "every registration in progression",
                           procs, 300)
                seen = dict(watcher.seen)
        except Exception:
            for name in ("api", "relay", "consumer"):  # what the processes said, then fail
                tail = (logs / f"{name}.log").read_text(errors="replace").splitlines()[-8:]
                print(f"--- {name}.log ends:", *tail, sep="\n", file=sys.stderr)
            raise
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
    to_progression = [seen[pid] - at for pid, at in accepted.items() if pid in seen]
    print(f"registrations: {len(latencies)} offered at {args.rate:.0f}/s, achieved "
          f"{len(latencies) / elapsed:.1f}/s ({args.workers} API workers), answers "
          f"{dict(sorted(Counter(statuses).items()))} (0: no answer); "
          f"{len(to_progression)} seen in progression")
    if to_progression:
        print(f"command accepted -> progression updated: p50 {ms(percentile(to_progression, 50))}"
              f"  p95 {ms(percentile(to_progression, 95))}  p99 "
              f"{ms(percentile(to_progression, 99))}  max {ms(max(to_progression))}  "
              "(target: p50 <= 100 ms, p99 <= 500 ms; polled every 10 ms)")
    base_p50, base_p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"baseline, the command alone (request to 201): p50 {ms(base_p50)}  p99 {ms(base_p99)}")
    if to_progression:
        print(f"ratio: p50 {percentile(to_progression, 50) / base_p50:.1f}x, p99 "
              f"{percentile(to_progression, 99) / base_p99:.1f}x the command's own (relay, "
              "broker and consumer on top)")
    print(f"machine: {os.cpu_count()} cores, load average (1, 5, 15 min) "
          f"{' '.join(f'{x:.1f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after "
          "(other processes share the cores)")


if __name__ == "__main__":
    main()
