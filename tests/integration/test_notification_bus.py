"""The notification process on real PostgreSQL and the real broker: enrolment's registrations
relayed to Kafka, scheduling's facts on their topics (re-plan and cancel included, each sent
twice), addresses asked of enrolment's API over HTTP, e-mail to a real SMTP server."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator

import pytest
from icalendar import Calendar
from kafka import KafkaProducer

from services.enrolment import application as enrolment
from services.enrolment.application import RegisterParticipant
from services.notification import application as notification
from services.notification.adapters.mailcatcher import MailCatcher, Received
from shared.events import Envelope, new_envelope
from shared.events import models as m
from shared.platform import asof
from shared.platform.broker import LocalBroker
from shared.platform.consumer import EnvelopeConsumer
from shared.platform.relay import Relay
from tests.integration.helpers import add_testby, in_thread, wait_for
from tests.ports import on_a_port

pytestmark = pytest.mark.integration


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    c = on_a_port(lambda port: MailCatcher(smtp_port=port, http_port=None).start())
    yield c
    c.stop()


def _ics(received: Received) -> list[tuple[str, str, int]]:
    out = []
    for c in received.calendars():
        cal = Calendar.from_ical(c["content"])
        event = cal.walk("VEVENT")[0]
        out.append((str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])))
    return out


def test_booked_participants_are_told_of_a_replan_and_a_cancellation_once(
    pg_url: str, broker: LocalBroker, catcher: MailCatcher,
    enrolment_api: tuple[enrolment.Enrolment, str],
) -> None:
    e, enrolment_url = enrolment_api
    marker = uuid.uuid4().hex[:8]
    add_testby(e)
    people = {name: e.register_participant(RegisterParticipant(
        municipality_id="m1", name=name.title(), email=f"{name}-{marker}@testby.se",
        role="socialsekreterare", years_in_profession=1)) for name in ("anna", "bo", "cia")}
    e.erase_participant(people["cia"])
    assert Relay(e.app, broker.bootstrap).run_once() > 0  # registrations onto the bus

    notification.migrate(pg_url)
    settings = notification.NotificationSettings(
        smtp_port=catcher.smtp_port, enrolment_url=enrolment_url, settle_seconds=1)
    service = notification.bootstrap(pg_url, settings=settings)
    consumer = EnvelopeConsumer(service.runner(), broker.bootstrap, group_id=f"n-{marker}")
    thread = in_thread(lambda: service.run(consumer, poll=0.2))

    occasion, stream = f"occ-{marker}", f"scheduling:{uuid.uuid4()}"
    day1 = asof.today() + dt.timedelta(days=30)
    days = (m.CourseDay(day=1, date=day1, mode="digital"),
            m.CourseDay(day=2, date=day1 + dt.timedelta(days=7), mode="on_site"))
    course = m.CoursePublished(course_id=f"c-{marker}", journey="barn_och_unga", level="ny",
                               title="Våld och utsatthet")
    facts: list[Envelope] = [
        new_envelope(course),
        new_envelope(m.CourseOccasionPlanned(occasion_id=occasion, course_id=course.course_id,
                                             region_id="r1", capacity=10, days=days)),
        *[new_envelope(m.ParticipantBooked(occasion_id=occasion, participant_id=pid),
                       stream_id=stream, position=i + 1)
          for i, pid in enumerate(people.values())],
    ]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")

    def publish(*envs: Envelope) -> None:
        for env in [*envs, *envs]:  # every message twice: redelivered
            producer.send(env.topic, key=env.key().encode(), value=env.to_json())
        producer.flush()

    def mail_to(name: str) -> list[Received]:
        address = f"{name}-{marker}@testby.se"
        return [r for r in catcher.mailbox.messages() if address in r.rcpt_tos]

    try:
        publish(*facts)
        wait_for(lambda: len(mail_to("anna")) == 1 and len(mail_to("bo")) == 1, 60,
                 "two booking confirmations")
        moved = (days[0], m.CourseDay(day=2, date=day1 + dt.timedelta(days=9), mode="on_site"))
        publish(new_envelope(m.CourseOccasionRescheduled(occasion_id=occasion, days=moved)))
        wait_for(lambda: len(mail_to("anna")) == 2 and len(mail_to("bo")) == 2, 60,
                 "two calendar updates")
        publish(new_envelope(m.CourseOccasionCancelled(occasion_id=occasion,
                                                       reason="För få anmälda")))
        wait_for(lambda: len(mail_to("anna")) == 3 and len(mail_to("bo")) == 3, 60,
                 "two cancellations")
        threading.Event().wait(3)  # anything sent twice would have arrived by now
    finally:
        consumer.stop()
        thread.join(timeout=30)
        producer.close()
        service.close()

    uid = f"kurstillfalle-{occasion}-dag-{{}}@yrkesresan"
    for name in ("anna", "bo"):
        booked, replanned, cancelled = mail_to(name)
        assert booked.summary()["subject"] == "Bokningsbekräftelse: Våld och utsatthet"
        assert _ics(booked) == [("REQUEST", uid.format(1), 0), ("REQUEST", uid.format(2), 0)]
        assert replanned.summary()["subject"] == "Ändrade kursdagar: Våld och utsatthet"
        assert _ics(replanned) == [("REQUEST", uid.format(2), 1)]
        assert cancelled.summary()["subject"] == "Inställt kurstillfälle: Våld och utsatthet"
        assert _ics(cancelled) == [("CANCEL", uid.format(1), 2), ("CANCEL", uid.format(2), 2)]
        assert "Skäl: För få anmälda" in cancelled.text()
    assert mail_to("cia") == []  # erased: no address, no message
