"""Attendance registration under load: a course day of 30 participants per request, at 100
requests a second for about 20 s, against the scheduling API (uvicorn, its own process) on a
fresh PostgreSQL database; next to the eventsourcing library's raw save of the same events in
the same run. Prints latency percentiles and the achieved rate; asserts nothing.

    .venv/bin/python bench/attendance.py [--rate 100] [--seconds 20] [--participants 30]

The issue's target: each request is one transaction, p99 under 100 ms at 100 requests/s.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench._common import (  # noqa: E402
    HANDLAGGNING_DAYS,
    attendance_reports,
    leader_tokens,
    ms,
    on_library_recorder,
    open_loop,
    percentile,
    rate_arguments,
    save_occasions,
    scratch_database,
    serve,
)
from services.scheduling import application as scheduling_app  # noqa: E402
from services.scheduling.domain import (  # noqa: E402
    CourseDayAttended,
    Occasion,
    TrainerDayDelivered,
    occasion_key,
)

DAYS = HANDLAGGNING_DAYS
TRAINERS_PER_DAY = 3  # besides the course leader, who is there every day
WARMUP = 40


def body(n: int, day: int, participants: int) -> dict[str, object]:
    team = range(TRAINERS_PER_DAY) if day <= 2 else range(TRAINERS_PER_DAY, 2 * TRAINERS_PER_DAY)
    return {"present": [f"o{n}-p{p}" for p in range(participants)],
            "delivered_by": [{"trainer_id": f"o{n}-leader", "role": "leader"}]
            + [{"trainer_id": f"o{n}-t{t}", "role": "trainer"} for t in team]}


async def drive(base: str, requests: list[tuple[int, int]], rate: float, participants: int,
                tokens: dict[int, str]) -> tuple[list[float], list[int], float, float]:
    """Open loop (`open_loop`): latencies, statuses, the run's length and how far the
    generator fell behind its schedule at most."""

    run = await open_loop(base, requests, rate, attendance_reports(
        tokens, lambda n, day: body(n, day, participants)), timeout=30)
    return run.latencies, run.statuses, run.elapsed, run.lag


def raw_saves(url: str, n: int, participants: int) -> list[float]:
    """The library alone: the same events (participants × CourseDayAttended and the day's
    TrainerDayDelivered) triggered on a fresh aggregate and saved, one save each."""
    app = on_library_recorder(scheduling_app.SchedulingApplication)(url)
    times = []
    for i in range(n):
        occasion = Occasion(occasion_key(f"raw-{i}"))
        for p in range(participants):
            occasion.trigger(CourseDayAttended, participant_id=f"raw-{i}-p{p}",
                             occasion_id=f"raw-{i}", day=1)
        for t in range(TRAINERS_PER_DAY + 1):
            occasion.trigger(TrainerDayDelivered, occasion_id=f"raw-{i}", day=1,
                             trainer_id=f"raw-{i}-t{t}", municipality_id="m0",
                             role="leader" if t == 0 else "trainer")
        started = time.perf_counter()
        app.save(occasion)
        times.append(time.perf_counter() - started)
    app.close()
    return times


def main() -> None:
    parser = rate_arguments(__doc__, 100)
    parser.add_argument("--participants", type=int, default=30)
    args = parser.parse_args()
    total = int(args.rate * args.seconds)
    occasions = -(-(total + WARMUP) // DAYS)
    events_per_request = args.participants + TRAINERS_PER_DAY + 1
    load_before = os.getloadavg()[0]
    with scratch_database() as url:
        scheduling_app.migrate(url)
        started = time.perf_counter()
        save_occasions(url, occasions, args.participants, 2 * TRAINERS_PER_DAY)
        print(f"setup: {occasions} occasions × {args.participants} booked participants "
              f"in {time.perf_counter() - started:.1f} s")
        # The set-up's dirty pages are written out now, not by a checkpoint in the middle of
        # the measurement (PostgreSQL was sampled waiting on WAL sync then).
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        # day-major: every occasion's day 1, then day 2, ...; the first ones warm up
        plan = [(n, day) for day in range(1, DAYS + 1) for n in range(occasions)]
        warmup, measured = plan[:WARMUP], plan[WARMUP:WARMUP + total]
        tokens = leader_tokens(range(occasions))
        # The scheduling API on a port drawn at random (another when it is taken).
        server, port = serve("scheduling", {
            **os.environ, "YRKESRESAN_SCHEDULING_DATABASE_URL": url,
            "YRKESRESAN_LOG_LEVEL": "WARNING"})
        base = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(drive(base, warmup, 20, args.participants, tokens))
            before = scheduling_app.SchedulingApplication(url)
            first_id = before.recorder.max_notification_id() or 0
            latencies, statuses, elapsed, lag = asyncio.run(
                drive(base, measured, args.rate, args.participants, tokens))
            recorded = (before.recorder.max_notification_id() or 0) - first_id
            before.close()
        finally:
            server.terminate()
            server.wait(timeout=15)
        raw = raw_saves(url, 300, args.participants)

    ok = statuses.count(200)
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    print(f"attendance API: {len(latencies)} requests of {args.participants} participants + "
          f"{TRAINERS_PER_DAY + 1} trainers, offered {args.rate:.0f}/s for {args.seconds:.0f} s")
    print(f"  achieved {len(latencies) / elapsed:.1f} requests/s, {ok} answered 200"
          + (f", others (0: no answer): {sorted(set(statuses) - {200})}"
             if ok != len(statuses) else "")
          + f"; generator fell behind by at most {ms(lag, 1)}")
    print(f"  latency p50 {ms(p50, 1)}  p95 {ms(p95, 1)}  p99 {ms(p99, 1)}  "
          f"max {ms(max(latencies), 1)}  (target: p99 < 100 ms)")
    print(f"  events recorded: {recorded} (expected {ok * events_per_request}, "
          f"{events_per_request} per request, one transaction each)")
    raw_p50, raw_p99 = percentile(raw, 50), percentile(raw, 99)
    raw_rate = len(raw) / sum(raw)
    print(f"raw eventsourcing save of the same {events_per_request} events, one save each: "
          f"{raw_rate:.0f} saves/s ({raw_rate * events_per_request:.0f} events/s), "
          f"p50 {ms(raw_p50, 1)}  p99 {ms(raw_p99, 1)}")
    print(f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (other processes share the cores)")
    print(f"ratio: API p50 latency is {p50 / raw_p50:.1f}× the raw save's "
          f"(load, check, authorize, HTTP on top); the offered rate is "
          f"{args.rate / raw_rate:.0%} of the raw save rate; "
          f"mean {ms(statistics.mean(latencies), 1)}")


if __name__ == "__main__":
    main()
