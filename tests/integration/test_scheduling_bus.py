"""What scheduling records reaches the topics in contract form: real PostgreSQL, the relay and the
real broker. Private events (the course format, venues, booking requests, the waitlist,
reserves called in) never leave the service."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable

import pytest
from kafka import KafkaConsumer, TopicPartition

from services.scheduling import application as scheduling_app
from services.scheduling.application import (
    AssignTrainer,
    BookParticipant,
    CallInReserve,
    PlanOccasion,
    PublishCourse,
    RegisterAttendance,
)
from services.scheduling.domain import SWEDEN
from shared.events import Envelope, parse_envelope, topic_name
from shared.events import models as contract
from shared.platform.broker import LocalBroker
from shared.platform.relay import Relay
from tests.feeding import feed

pytestmark = pytest.mark.integration


def read_until(bootstrap: str, topic: str, done: Callable[[list[tuple[bytes, Envelope]]], bool],
               timeout: float = 30) -> list[tuple[bytes, Envelope]]:
    """(key, envelope) of every message on the topic from the beginning, until `done` says
    enough (the broker's end offsets cannot be trusted, so we never read 'to the end')."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        seen: list[tuple[bytes, Envelope]] = []
        deadline = time.monotonic() + timeout
        while not done(seen):
            assert time.monotonic() < deadline, f"timed out reading {topic}: {len(seen)} seen"
            for records in consumer.poll(timeout_ms=500).values():
                # parse_envelope refuses any type outside the contract: no private event leaks
                seen += [(r.key, parse_envelope(r.value)) for r in records]
        return seen
    finally:
        consumer.close()


def test_scheduling_events_appear_on_the_topics_in_contract_form(
    pg_url: str, broker: LocalBroker
) -> None:
    run = uuid.uuid4().hex[:8]
    occasion_id, extra_course = f"occ-{run}", f"course-{run}"
    p1, p2, p3 = (f"{run}-p{i}" for i in (1, 2, 3))
    scheduling_app.migrate(pg_url)
    s = scheduling_app.bootstrap(pg_url)
    feed(s.runner(), contract.RegionRegistered(region_id="rss-x", name="RSS X"),
         contract.MunicipalityJoined(municipality_id="falun", name="Falun", region_id="rss-x"),
         *(contract.ParticipantRegistered(
             participant_id=p, municipality_id="falun", journey="barn_och_unga",
             role="socialsekreterare", level="ny", years_in_profession=1) for p in (p1, p2, p3)),
         *(contract.TrainerRegistered(trainer_id=f"{run}-{t}", municipality_id="mora")
           for t in ("karin", "ulf", "rosa")))
    try:
        s.publish_catalogue(actor="bus-test")
        s.publish_course(PublishCourse(course_id=extra_course, level="van", title="Extra",
                                       days=1))
        s.plan_occasion(PlanOccasion.model_validate({
            "occasion_id": occasion_id, "course_id": "bou-ny-samtal", "region_id": "rss-x",
            "capacity": 2, "days": [
                {"day": 1, "date": "2024-05-02", "mode": "digital"},
                {"day": 2, "date": "2024-05-09", "mode": "on_site", "venue": "Aulan"}]}))
        for p in (p1, p2, p3):  # p3 waits
            s.book(occasion_id, BookParticipant(participant_id=p))
        assert s.cancel(occasion_id, p1) == p3
        for trainer, role in (("karin", "leader"), ("ulf", "trainer"), ("rosa", "reserve")):
            s.assign_trainer(occasion_id, AssignTrainer(trainer_id=f"{run}-{trainer}",
                                                        role=role))
        s.call_in_reserve(occasion_id, 2, CallInReserve(reserve_id=f"{run}-rosa",
                                                        replaces_trainer_id=f"{run}-ulf"))
        s.register_attendance(occasion_id, 1, RegisterAttendance.model_validate({
            "present": [p2, p3], "delivered_by": [
                {"trainer_id": f"{run}-karin", "role": "leader"},
                {"trainer_id": f"{run}-ulf", "role": "trainer"}]}))
        s.register_attendance(occasion_id, 2, RegisterAttendance.model_validate({
            "present": [p2], "delivered_by": [
                {"trainer_id": f"{run}-karin", "role": "leader"},
                {"trainer_id": f"{run}-rosa", "role": "trainer"}]}))

        relay = Relay(s.app, broker.bootstrap)
        while relay.run_once():
            pass
    finally:
        s.close()

    def ours(seen: list[tuple[bytes, Envelope]]) -> list[tuple[bytes, Envelope]]:
        return [(k, e) for k, e in seen if getattr(e.data, "occasion_id", None) == occasion_id]

    scheduling = ours(read_until(broker.bootstrap, topic_name("scheduling"),
                                 lambda seen: len(ours(seen)) >= 15))
    assert len(scheduling) == 15
    types = [e.type for _, e in scheduling]
    assert sorted(set(types)) == ["BookingCancelled", "CourseDayAttended",
                                  "CourseOccasionPlanned", "ParticipantBooked",
                                  "TrainerAssigned", "TrainerDayDelivered"]
    assert types.count("ParticipantBooked") == 3  # p1, p2, then p3 when p1 cancelled
    assert types.count("CourseDayAttended") == 3 and types.count("TrainerDayDelivered") == 4
    for key, envelope in scheduling:
        assert key.decode() == envelope.key()
        assert envelope.schema_version == 1 and envelope.actor in (None, "bus-test")
        assert envelope.stream_id and envelope.stream_id.startswith("scheduling:")
    planned = next(e for _, e in scheduling if e.type == "CourseOccasionPlanned")
    assert planned.data.model_dump(mode="json") == {
        "occasion_id": occasion_id, "course_id": "bou-ny-samtal", "region_id": "rss-x",
        "capacity": 2, "days": [  # the venue travels with its day (v1.1)
            {"day": 1, "date": "2024-05-02", "mode": "digital", "venue": None},
            {"day": 2, "date": "2024-05-09", "mode": "on_site", "venue": "Aulan"}]}
    delivered = sorted((e.data.day, e.data.trainer_id.split("-", 1)[1], e.data.role)
                       for _, e in scheduling if e.type == "TrainerDayDelivered")
    assert delivered == [(1, "karin", "leader"), (1, "ulf", "trainer"),
                         (2, "karin", "leader"), (2, "rosa", "trainer")]
    attended = [e for _, e in scheduling if e.type == "CourseDayAttended" and e.data.day == 1]
    assert {e.occurred_at for e in attended} == {
        dt.datetime(2024, 5, 2, 16, 0, tzinfo=SWEDEN)}
    # per participant, in the order recorded: p3 is booked before attending
    p3_types = [e.type for _, e in scheduling if getattr(e.data, "participant_id", "") == p3]
    assert p3_types == ["ParticipantBooked", "CourseDayAttended"]

    shipped = {"bou-ny-handlaggning", "bou-ny-samtal", "bou-ny-vald",
               "bou-ny-unga-lagovertradare", "bou-ny-familjehem", "bou-ny-verktyg"}

    def courses(seen: list[tuple[bytes, Envelope]]) -> set[str]:
        return {e.data.course_id for _, e in seen if e.type == "CoursePublished"}

    reference = read_until(broker.bootstrap, topic_name("reference"),
                           lambda seen: shipped | {extra_course} <= courses(seen))
    published = [e for _, e in reference
                 if e.type == "CoursePublished" and e.data.course_id == extra_course]
    assert len(published) == 1
    hbc = next(e for _, e in reference if e.type == "CoursePublished"
               and e.data.course_id == "bou-ny-handlaggning")
    assert hbc.data.title == "Handläggning med barnet i centrum"
    assert any(p.mandatory for p in hbc.data.preparations)
