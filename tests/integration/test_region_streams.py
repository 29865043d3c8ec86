"""The region streams on real PostgreSQL and the real broker: `yrkesresan consume regions`, started
as a user starts it, reads the service topics and each `yrkesresan.region.<id>.v1` carries
exactly that region's events, each once, none of the other region's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from services.regions.adapters.publisher import RegionPublisher
from services.regions.application import migrate, region_topic
from shared.events import Envelope, parse_envelope
from shared.platform.broker import LocalBroker, ensure_topics
from shared.platform.db import Database
from tests.integration.helpers import in_thread, wait_for
from tests.ports import own_ops_health, process_on_a_port, start_broker
from tests.regions_world import World, two_regions

pytestmark = pytest.mark.integration


def produce(bootstrap: str, world: World, repeat: int = 1) -> None:
    """As the relays would: each envelope on its service's topic, keyed as the contract says
    (and `repeat` times, as a relay re-publishing after a crash would)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for _ in range(repeat):
        for env in world.envelopes:
            producer.send(env.topic, key=env.key().encode(), value=env.to_json())
    producer.flush(timeout=30)
    producer.close()


def read_stream(bootstrap: str, region: str, expected: int,
                timeout: float = 60) -> tuple[list[str], int]:
    """(ids in the order read, records the topic holds): read from the beginning until
    `expected` are seen; what it holds in all is the sum of the partitions' high-water marks
    after a poll (reliable on the local broker, unlike end offsets)."""
    topic = region_topic(region)
    assert topic is not None
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False)
    ids: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        parts: list[TopicPartition] = []
        while not parts and time.monotonic() < deadline:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            if not parts:
                consumer.topics()  # refresh the metadata: the topic appears on first publish
                time.sleep(0.2)
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        while len(ids) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    env = parse_envelope(record.value)  # contract form, or this fails
                    assert record.key.decode() == env.key()
                    ids.append(str(env.id))
        held = sum(consumer.highwater(tp) or 0 for tp in parts)
        return ids, held
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def region_broker() -> Iterator[LocalBroker]:
    """A broker of the module's own: the regions process reads the service topics from their
    start, and the session's broker holds other tests' events (among them their catalogues,
    which go to every region)."""
    b = start_broker()
    ensure_topics(b.bootstrap)
    yield b
    b.stop()


@pytest.fixture
def regions_process(pg_url: str, region_broker: LocalBroker, tmp_path: Path) -> Iterator[
        subprocess.Popen[bytes]]:
    migrate(pg_url)
    env = {**os.environ, "KAFKA_BOOTSTRAP": region_broker.bootstrap,
           "YRKESRESAN_REGIONS_DATABASE_URL": pg_url, "YRKESRESAN_VAR_DIR": str(tmp_path)}
    log = (tmp_path / "regions.log").open("wb")
    group = f"yrkesresan.regions.test-{uuid.uuid4().hex[:8]}"  # other tests share the broker
    # its ops port drawn at random, again on another while the one drawn is taken
    proc, _ = process_on_a_port(
        lambda port: [sys.executable, "-m", "yrkesresan", "consume", "regions", "--ops-port",
                      str(port), "--group-id", group],
        env=env, log=log, ready=own_ops_health, seconds=240)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    print((tmp_path / "regions.log").read_text(errors="replace")[-3000:])


def test_a_region_s_stream_carries_its_own_events_once_and_nothing_of_another_s(
    regions_process: subprocess.Popen[bytes], region_broker: LocalBroker,
) -> None:
    broker = region_broker
    world = two_regions(uuid.uuid4().hex[:8])
    produce(broker.bootstrap, world, repeat=2)  # every event twice on the service topics
    streams = {}
    for region in (world.a, world.b):
        expected = world.expected(region)
        ids, held = read_stream(broker.bootstrap, region, len(expected))
        assert regions_process.poll() is None, "the regions process exited"
        assert set(ids) == expected, region
        assert len(ids) == len(expected) == held  # each once, and nothing else on the topic
        streams[region] = set(ids)
    a_only = world.expected(world.a) - world.expected(world.b)
    b_only = world.expected(world.b) - world.expected(world.a)
    assert a_only and b_only
    assert not streams[world.a] & b_only and not streams[world.b] & a_only


def _log_event(db: Database, region: str, position: int, env: Envelope) -> str:
    """An envelope appended to a region's log, as the regions consumer appends it."""
    db.execute("INSERT INTO region_events (region_id, position, event_id, event_key, envelope) "
               "VALUES (%s, %s, %s, %s, %s)",
               (region, position, str(env.id), env.key(), env.to_json().decode()))
    db.execute("INSERT INTO region_heads (region_id, position) VALUES (%s, %s) "
               "ON CONFLICT (region_id) DO UPDATE SET position = excluded.position",
               (region, position))
    return str(env.id)


def test_of_two_region_publishers_one_publishes_and_the_other_takes_over(
    pg_url: str, region_broker: LocalBroker,
) -> None:
    migrate(pg_url)
    db = Database(pg_url)
    region = f"lease-{uuid.uuid4().hex[:8]}"
    envs = two_regions(uuid.uuid4().hex[:8]).envelopes[:3]
    first = _log_event(db, region, 1, envs[0])
    working, waiting = (RegionPublisher(db, region_broker.bootstrap, idle_sleep=0.05,
                                        idle_close=1.0) for _ in range(2))
    threads = [in_thread(working.run)]
    try:
        wait_for(lambda: working.published == 1, what="the first publisher publishing")
        threads.append(in_thread(waiting.run))
        wait_for(lambda: waiting.standing_by, what="the second standing by")
        second = _log_event(db, region, 2, envs[1])
        wait_for(lambda: working.published == 2, what="the working one publishing on")
        assert waiting.published == 0 and waiting.standing_by
        working.stop()
        threads[0].join(timeout=30)
        wait_for(lambda: waiting.healthy and not waiting.standing_by,
                 what="the second taking over")
        third = _log_event(db, region, 3, envs[2])
        wait_for(lambda: waiting.published == 1, what="the second publishing what came next")
        ids, held = read_stream(region_broker.bootstrap, region, 3)
        assert sorted(ids) == sorted([first, second, third]) and held == 3  # each once
        # Idle, it closes its producer (and makes one anew for what comes next).
        wait_for(lambda: waiting._producer is None, timeout=10, what="the idle producer closed")
    finally:
        working.stop()
        waiting.stop()
        for t in threads:
            t.join(timeout=30)
        db.close()
