"""What enrolment puts on the bus, on real PostgreSQL and the real broker: every fact of a whole
scenario appears on its topic in contract form, keyed as the contract says, and nothing
personal travels."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition

from services.enrolment.application import (
    CompletePreparation,
    MoveParticipant,
    RegisterTrainer,
    SubmitDeepening,
    bootstrap,
    migrate,
)
from services.enrolment.csv_import import import_municipalities, import_participants, import_regions
from shared.events import Envelope, parse_envelope, stored_event_id, topic_name
from shared.events import models as contract
from shared.platform import asof
from shared.platform.broker import LocalBroker
from shared.platform.relay import Relay
from tests.feeding import feed

pytestmark = pytest.mark.integration


def _read(bootstrap: str, topic: str, mine: set[str], expected: int,
          timeout: float = 30) -> list[tuple[bytes, Envelope]]:
    """(key, envelope) of every message on the topic about one of `mine` (other tests share
    the broker), read from the beginning until `expected` of them are seen. Counting, never
    end offsets: those are wrong on the local broker."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic)
                                                          or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        found: list[tuple[bytes, Envelope]] = []
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    # the session's broker holds other tests' records too (one of them
                    # deliberately invalid): only this test's keys are read
                    if record.key is None or record.key.decode() not in mine:
                        continue
                    env = parse_envelope(record.value)  # contract form, or this test fails
                    assert env.key() == record.key.decode()
                    found.append((record.key, env))
        return found
    finally:
        consumer.close()


def test_a_whole_scenario_reaches_the_topics_in_contract_form(
    pg_url: str, broker: LocalBroker,
) -> None:
    migrate(pg_url)
    e = bootstrap(pg_url)
    tag = uuid.uuid4().hex[:8]
    region, home, away = f"rss-{tag}", f"falun-{tag}", f"mora-{tag}"
    import_regions(e, f"region_id,name\n{region},RSS {tag}\n")
    import_municipalities(e, f"municipality_id,name,region_id\n{home},Falun,{region}\n"
                             f"{away},Mora,{region}\n")
    course = f"kurs-{tag}"
    feed(e.runner(), contract.CoursePublished.model_validate({
        "course_id": course, "journey": "barn_och_unga", "level": "ny", "title": "Samtal",
        "preparations": [{"item_id": "f1", "title": "Läs", "mandatory": True}],
        "deepening_tasks": [{"task_id": "d1", "title": "Reflektera"}]}))
    people = [(f"Namn{i} Efternamn{tag}", f"person{i}.{tag}@example.se") for i in range(3)]
    csv = "name,email,role,area_of_work,years_in_profession\n" + "".join(
        f"{name},{email},socialsekreterare,utredning,{i * 3}\n"
        for i, (name, email) in enumerate(people))
    ids = [pid for _, pid in import_participants(e, home, csv, actor="cli").imported]
    assert len(ids) == 3
    a, b, c = ids
    e.move_participant(a, MoveParticipant(to_municipality_id=away))
    e.complete_preparation(b, CompletePreparation(course_id=course, item_id="f1"))
    e.submit_deepening(b, SubmitDeepening(course_id=course, task_id="d1"))
    e.level_up(c, asof.today())  # registered today: nothing to record
    e.erase_participant(c)
    trainer_name, trainer_email = f"Utbildare{tag} Tränarsson", f"utb.{tag}@example.se"
    trainer = e.register_trainer(RegisterTrainer(municipality_id=home, name=trainer_name,
                                                 email=trainer_email))

    relay = Relay(e.app, broker.bootstrap)
    while relay.run_once():
        pass

    reference = _read(broker.bootstrap, topic_name("reference"), {region, home, away, course}, 3)
    assert sorted((env.type, key.decode()) for key, env in reference) == [
        ("MunicipalityJoined", home), ("MunicipalityJoined", away), ("RegionRegistered", region)]

    expected = {("ParticipantRegistered", a), ("ParticipantRegistered", b),
                ("ParticipantRegistered", c), ("ParticipantMoved", a),
                ("PreparationCompleted", b), ("DeepeningSubmitted", b), ("ParticipantErased", c),
                ("TrainerRegistered", home)}  # keyed by the trainer's home municipality
    facts = _read(broker.bootstrap, topic_name("enrolment"), {*ids, home}, len(expected))
    assert {(env.type, key.decode()) for key, env in facts} == expected
    assert len(facts) == len(expected)
    for key, env in facts:
        assert key.decode() == env.data.key()  # keyed by participant_id
        assert env.stream_id is not None and env.position is not None
        originator = uuid.UUID(env.stream_id.split(":", 1)[1])
        recorded = [n for n in e.app.recorder.select_notifications(env.position, 1)]
        assert env.id == stored_event_id(originator, recorded[0].originator_version)
    registered = {env.data.participant_id: env.data for _, env in facts
                  if env.type == "ParticipantRegistered"}
    assert [registered[p].level for p in ids] == ["ny", "van", "erfaren"]  # type: ignore[attr-defined]
    assert {registered[p].municipality_id for p in ids} == {home}  # type: ignore[attr-defined]
    moved = next(env for _, env in facts if env.type == "ParticipantMoved")
    assert moved.data.to_municipality_id == away  # type: ignore[attr-defined]
    trained = next(env for _, env in facts if env.type == "TrainerRegistered")
    assert trained.data.model_dump() == {"trainer_id": trainer, "municipality_id": home}
    people.append((trainer_name, trainer_email))

    raw = b" ".join(env.to_json() for _, env in reference + facts).lower()
    for name, email in people:
        for secret in (*name.split(), email, email.split("@")[0], "utredning"):
            assert secret.lower().encode() not in raw, secret
    e.close()
