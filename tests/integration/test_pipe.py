"""The event pipe on real PostgreSQL and the real broker: store → relay → Kafka → projection."""

from __future__ import annotations

import threading
import uuid

import pytest
from kafka import KafkaProducer

from services.certification import application as certification
from services.enrolment import application as enrolment
from services.enrolment.application import RegisterParticipant
from shared.events import DEADLETTER_TOPIC, new_envelope, topic_name
from shared.events.models import ParticipantRegistered
from shared.platform.broker import LocalBroker, ensure_topics
from shared.platform.consumer import EnvelopeConsumer
from shared.platform.observability import EVENTS_UNKNOWN_TYPE
from shared.platform.relay import Relay
from tests.integration.helpers import add_testby, envelopes, in_thread, read_topic, wait_for
from tests.ports import start_broker

pytestmark = pytest.mark.integration


def _seed(e: enrolment.Enrolment, n: int) -> list[str]:
    add_testby(e)
    return [
        e.register_participant(RegisterParticipant(
            municipality_id="m1", name=f"Person {i}", email=f"person{i}@example.se",
            role="socialsekreterare", years_in_profession=i % 7))
        for i in range(n)
    ]


def test_relay_publishes_contract_envelopes_with_stable_ids(
    pg_url: str, own_broker: LocalBroker
) -> None:
    broker = own_broker
    enrolment.migrate(pg_url)
    e = enrolment.bootstrap(pg_url)
    ids = _seed(e, 3)
    relay = Relay(e.app, broker.bootstrap)
    assert relay.run_once() == 11  # region, municipality, 3 × (registered, personal, e-mail)
    published = envelopes(read_topic(broker.bootstrap, topic_name("enrolment"), 3))
    regs = [env for env in published if getattr(env.data, "participant_id", None) in ids]
    assert sorted(env.data.participant_id for env in regs) == sorted(ids)
    # Nothing personal travels: neither names nor e-mail addresses.
    raw = b"".join(read_topic(broker.bootstrap, topic_name("enrolment"), 3))
    assert b"Person" not in raw and b"@example.se" not in raw
    # A second relay from position 0 re-publishes the same ids (consumers deduplicate).
    again = Relay(e.app, broker.bootstrap)
    again.positions.set(again.name, 0)
    again.position = 0
    again.run_once()
    republished = envelopes(read_topic(broker.bootstrap, topic_name("enrolment"), 6))
    assert len(republished) == 6
    assert {env.id for env in republished} == {env.id for env in published}
    e.close()


def test_an_idle_relay_wakes_when_the_store_notifies(pg_url: str, broker: LocalBroker) -> None:
    """On PostgreSQL an idle relay waits for the save's NOTIFY, not for its next look: with
    every periodic wake a minute away, a registration is still published within seconds."""
    enrolment.migrate(pg_url)
    e = enrolment.bootstrap(pg_url)
    first = _seed(e, 1)
    relay = Relay(e.app, broker.bootstrap, idle_wait=60, probe_every=60, head_every_s=60)
    idle = threading.Event()
    thread = in_thread(lambda: relay.run(on_idle=idle.set))
    try:
        assert idle.wait(30), "the relay never went idle"
        published = relay.position
        assert published >= 5  # the region, the municipality and the first registration
        e.register_participant(RegisterParticipant(
            municipality_id="m1", name="Ny Person", email="ny@example.se",
            role="socialsekreterare", years_in_profession=1))
        wait_for(lambda: relay.position > published, 10, "the save to wake the relay")
    finally:
        relay.stop()
        thread.join(timeout=5)
    assert not thread.is_alive() and first
    e.close()


def test_projection_is_exact_under_duplicates_and_dead_letters(
    pg_url: str, broker: LocalBroker
) -> None:
    certification.migrate(pg_url)
    cert = certification.bootstrap(pg_url)
    runner = cert.runner()
    group = f"test-{uuid.uuid4().hex[:8]}"
    consumer = EnvelopeConsumer(runner, broker.bootstrap, group_id=group)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    topic = topic_name("enrolment")
    marker = uuid.uuid4().hex[:6]
    envs = [
        new_envelope(ParticipantRegistered(
            participant_id=f"{marker}-{i}", municipality_id="m1", journey="barn_och_unga",
            role="socialsekreterare", level="ny", years_in_profession=1))
        for i in range(20)
    ]
    for env in envs + envs[:5]:  # five duplicates
        producer.send(topic, key=env.key().encode(), value=env.to_json())
    producer.send(topic, key=b"bad", value=b'{"type": "ParticipantRegistered", "id": 1}')
    unknown = (b'{"id": "%s", "type": "ParticipantNicknamed%s", "schema_version": 1, '
               b'"occurred_at": "2026-01-01T00:00:00Z", "data": {}}'
               % (str(uuid.uuid4()).encode(), marker.encode()))
    producer.send(topic, key=b"later-minor-version", value=unknown)
    producer.flush()
    skipped = EVENTS_UNKNOWN_TYPE.labels("progression", f"ParticipantNicknamed{marker}")
    thread = in_thread(consumer.run)
    try:
        wait_for(lambda: len([r for r in cert.progression.list(cert.db)
                              if r["participant_id"].startswith(marker)]) >= 20,
                 what="20 participants")
        wait_for(lambda: len(read_topic(broker.bootstrap, DEADLETTER_TOPIC, 1, 2)) >= 1,
                 what="the bad message on the dead-letter topic")
    finally:
        consumer.stop()
        thread.join(timeout=30)
    rows = [r for r in cert.progression.list(cert.db) if r["participant_id"].startswith(marker)]
    assert len(rows) == 20
    mine = [env for env in runner.applied.envelopes()
            if getattr(env.data, "participant_id", "").startswith(marker)]
    assert len(mine) == 20  # each of the five duplicates was applied once
    dead = read_topic(broker.bootstrap, DEADLETTER_TOPIC, 1)
    assert any(b'"reason"' in d and b"ParticipantRegistered" in d for d in dead)
    # A type of a later minor version is skipped and counted, never dead-lettered.
    assert not any(f"ParticipantNicknamed{marker}".encode() in d for d in dead)
    assert skipped._value.get() == 1
    producer.close()
    cert.close()


def test_broker_coming_back_empty_is_noticed_and_projection_stays_exact(pg_url: str) -> None:
    """The local broker keeps everything in memory; after a restart the relay must publish
    again from the store and the consumer's deduplication must keep the count exact."""
    broker = start_broker()
    port = broker.port  # the restarted broker comes back on the same one
    ensure_topics(broker.bootstrap)
    enrolment.migrate(pg_url)
    certification.migrate(pg_url)
    e = enrolment.bootstrap(pg_url)
    cert = certification.bootstrap(pg_url)
    _seed(e, 30)
    relay = Relay(e.app, broker.bootstrap, probe_every=0.5)
    consumer = EnvelopeConsumer(cert.runner(), broker.bootstrap, group_id="restart-test")
    threads = [in_thread(relay.run), in_thread(consumer.run)]
    try:
        wait_for(lambda: cert.progression.count(cert.db) == 30, what="first 30")
        broker.stop()
        broker = LocalBroker(port).start()  # empty: no topics, no offsets, no groups
        for i in range(30, 40):
            e.register_participant(RegisterParticipant(
                municipality_id="m1", name=f"Person {i}", email=f"person{i}@example.se",
                role="socialsekreterare", years_in_profession=1))
        wait_for(lambda: cert.progression.count(cert.db) == 40, timeout=90, what="all 40")
        # Everything was published again, so the broker holds the whole history once more.
        wait_for(lambda: len(read_topic(broker.bootstrap, topic_name("enrolment"), 40, 5)) >= 40,
                 what="history re-published")
    finally:
        relay.stop()
        consumer.stop()
        for t in threads:
            t.join(timeout=30)
        broker.stop()
    assert cert.progression.count(cert.db) == 40
    assert cert.runner().applied.count() == 42  # 40 registrations + region + municipality
    e.close()
    cert.close()
