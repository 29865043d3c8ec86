"""Relay throughput next to raw kafka-python produce of the same envelopes, same broker, same run.

    .venv/bin/python bench/relay.py [--events N] [--repeat R]

Both are measured R times (3 by default), interleaved, and the fastest run of each counts: on
this shared 2-core machine single runs of the same work differ by a fifth or more.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaProducer  # noqa: E402

from bench._common import ratio_line, scratch_broker, scratch_database  # noqa: E402
from services.enrolment.application import EnrolmentApplication, migrate  # noqa: E402
from services.enrolment.domain import (  # noqa: E402
    Participant,
    ParticipantRegistered,
    participant_key,
)
from shared.platform.relay import Relay, envelope_of  # noqa: E402


def fill_store(app: EnrolmentApplication, n: int) -> None:
    batch = []
    for i in range(n):
        p = Participant(participant_key(f"bench-{i}"))
        p.trigger(ParticipantRegistered, participant_id=f"bench-{i}", municipality_id=f"m{i % 50}",
                  journey="barn_och_unga", role="socialsekreterare", level="ny",
                  years_in_profession=1)
        batch.append(p)
        if len(batch) == 1000:
            app.save(*batch)
            batch = []
    if batch:
        app.save(*batch)


def raw_produce(bootstrap: str, messages: list[tuple[str, bytes, bytes]]) -> float:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                             linger_ms=5, batch_size=256 * 1024, max_request_size=4 * 1024 * 1024)
    started = time.perf_counter()
    futures = [producer.send("bench.raw", key=k, value=v) for _, k, v in messages]
    producer.flush()
    for f in futures:
        f.get(timeout=0)
    elapsed = time.perf_counter() - started
    producer.close()
    return len(messages) / elapsed


def relay_rate(app: EnrolmentApplication, bootstrap: str, n: int) -> float:
    """The relay publishing the whole store from the start (its position set back to 0)."""
    relay = Relay(app, bootstrap)
    relay.positions.db.execute("DELETE FROM relay_positions")
    relay._connect()  # connection set-up is not throughput
    started = time.perf_counter()
    done = 0
    while done < n:
        done += relay.run_once()
    elapsed = time.perf_counter() - started
    relay._drop_producer()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.events
    with scratch_database() as url, scratch_broker() as broker:
        migrate(url)
        app = EnrolmentApplication(url)
        fill_store(app, n)
        notes = app.recorder.select_notifications(start=None, limit=n)
        messages = [m for m in (envelope_of(app.mapper, "enrolment", x) for x in notes) if m]
        raw_produce(broker.bootstrap, messages[:2000])  # warm-up
        raws, relays = [], []
        for _ in range(args.repeat):
            raws.append(raw_produce(broker.bootstrap, messages))
            relays.append(relay_rate(app, broker.bootstrap, n))
        raw, relayed = max(raws), max(relays)
        app.close()
    print(f"each measured {args.repeat} times, interleaved; the fastest run counts "
          f"(raw {', '.join(f'{r:,.0f}' for r in raws)}; relay "
          f"{', '.join(f'{r:,.0f}' for r in relays)})")
    print(f"events: {n} ParticipantRegistered envelopes, PostgreSQL store, local broker")
    print(f"raw kafka-python produce (acks=all, idempotent): {raw:,.0f} msg/s")
    print(f"relay (read store, map, validate, produce, record position): {relayed:,.0f} events/s")
    print(ratio_line("relay / raw", relayed, raw, 0.70))


if __name__ == "__main__":
    main()
