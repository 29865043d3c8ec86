"""A relay republishes only the topics the broker lost; relays and consumers hold a lease."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from services.enrolment import application as enrolment
from services.enrolment.application import RegisterParticipant
from shared.events import topic_name
from shared.platform.broker import LocalBroker, ensure_topics
from shared.platform.lease import Lease, LeaseLost
from shared.platform.observability import RELAY_LAG
from shared.platform.relay import Relay
from tests.integration.helpers import add_testby, in_thread, wait_for

pytestmark = pytest.mark.integration


def held_records(bootstrap: str, topic: str) -> int:
    """How many records a topic holds: the high watermarks a fetch reports (reliable on the
    local broker, unlike its end offsets), summed over its partitions."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        marks: dict[TopicPartition, int] = {}
        for _ in range(40):
            consumer.poll(timeout_ms=250)
            marks = {tp: h for tp in parts if (h := consumer.highwater(tp)) is not None}
            if len(marks) == len(parts):
                break
        assert len(marks) == len(parts), f"no high watermark for every partition of {topic}"
        return sum(marks.values())
    finally:
        consumer.close()


def _seed(e: enrolment.Enrolment, n: int, first: int = 0) -> None:
    for i in range(first, first + n):
        e.register_participant(RegisterParticipant(
            municipality_id="m1", name=f"Person {i}", email=f"p{i}@example.se",
            role="socialsekreterare", years_in_profession=1))


def test_only_the_emptied_topic_is_published_again(
    database_url: str, broker: LocalBroker
) -> None:
    enrolment.migrate(database_url)
    e = enrolment.bootstrap(database_url)
    add_testby(e)
    _seed(e, 20)
    reference, own = topic_name("reference"), topic_name("enrolment")
    before = {t: held_records(broker.bootstrap, t) for t in (reference, own)}
    relay = Relay(e.app, broker.bootstrap, probe_every=0.2)
    thread = in_thread(relay.run)
    try:
        wait_for(lambda: relay.position == e.app.recorder.max_notification_id(),
                 what="the relay caught up")
        published = {t: held_records(broker.bootstrap, t) - before[t] for t in (reference, own)}
        assert published[reference] >= 2 and published[own] >= 20
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.delete_topics([own])
        admin.close()
        ensure_topics(broker.bootstrap, [own])
        _seed(e, 5, first=20)  # and the store goes on
        wait_for(lambda: held_records(broker.bootstrap, own) >= published[own] + 5,
                 what="the emptied topic published again")
        wait_for(lambda: relay.position == e.app.recorder.max_notification_id(),
                 what="the relay caught up again")
        assert RELAY_LAG.labels("enrolment")._value.get() == 0
        # The reference topic was not emptied, so nothing of it was published again.
        assert held_records(broker.bootstrap, reference) == before[reference] + published[
            reference]
    finally:
        relay.stop()
        thread.join(timeout=30)
        e.close()


def test_the_lag_gauge_follows_a_backlog_batch_by_batch(
    database_url: str, broker: LocalBroker
) -> None:
    enrolment.migrate(database_url)
    e = enrolment.bootstrap(database_url)
    add_testby(e)
    _seed(e, 10)
    relay = Relay(e.app, broker.bootstrap, batch_size=8, lease=False)
    gauge = RELAY_LAG.labels("enrolment")
    newest = e.app.recorder.max_notification_id()
    try:
        seen = []
        while relay.run_once():
            assert gauge._value.get() == newest - relay.position  # after every batch
            seen.append(gauge._value.get())
        assert seen[0] > 0 and seen == sorted(seen, reverse=True) and seen[-1] == 0
        assert len(seen) >= newest // 8  # a reading per batch while the backlog lasted
    finally:
        relay._drop_producer()
        e.close()


def test_one_lease_holder_at_a_time_and_the_next_takes_over(database_url: str) -> None:
    first, second = Lease(database_url, "test:lease"), Lease(database_url, "test:lease")
    other = Lease(database_url, "test:another")
    stopping = threading.Event()
    try:
        assert first.acquire(stopping)
        assert not second.try_acquire()
        assert other.try_acquire()  # leases of other names are independent
        taken = threading.Event()
        waiter = in_thread(lambda: second.acquire(stopping) and taken.set())
        assert not taken.is_set()
        first.release()
        waiter.join(timeout=10)
        assert taken.is_set() and second.held()
    finally:
        stopping.set()
        for lease in (first, second, other):
            lease.release()


def test_a_lease_whose_connection_ends_is_lost(pg_url: str) -> None:
    lease = Lease(pg_url, "test:lost", check_every=0)
    assert lease.acquire(threading.Event())
    with psycopg.connect(pg_url, autocommit=True) as admin:
        pid = lease._conn.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(LeaseLost):
        lease.check()
    again = Lease(pg_url, "test:lost")
    assert again.try_acquire()  # the server released it with the session
    again.release()


def test_a_second_relay_stands_by(database_url: str, broker: LocalBroker) -> None:
    enrolment.migrate(database_url)
    e = enrolment.bootstrap(database_url)
    working, waiting = Relay(e.app, broker.bootstrap), Relay(e.app, broker.bootstrap)
    threads = [in_thread(working.run)]
    try:
        wait_for(lambda: working.healthy, what="the first relay working")
        threads.append(in_thread(waiting.run))
        wait_for(lambda: waiting.standing_by, what="the second standing by")
        working.stop()
        threads[0].join(timeout=30)
        wait_for(lambda: waiting.healthy and not waiting.standing_by,
                 what="the second taking over")
    finally:
        working.stop()
        waiting.stop()
        for t in threads:
            t.join(timeout=30)
        e.close()


def test_topic_partitions_and_replication_are_configuration(
    broker: LocalBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YRKESRESAN_TOPIC_PARTITIONS", "5")
    monkeypatch.setenv("YRKESRESAN_TOPIC_REPLICATION_FACTOR", "1")
    monkeypatch.setenv("YRKESRESAN_TOPIC_MIN_INSYNC_REPLICAS", "1")
    topic = f"yrkesresan.test-{uuid.uuid4().hex[:8]}.v1"
    ensure_topics(broker.bootstrap, [topic])
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    try:
        assert len(consumer.partitions_for_topic(topic) or ()) == 5
    finally:
        consumer.close()
