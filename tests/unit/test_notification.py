"""The notification process against a real SMTP server (aiosmtpd on a free port), with
addresses asked of the real enrolment service over its HTTP API, and an injected clock.

Events are applied through the same `ProjectionRunner` the Kafka consumer uses (the broker
itself is in tests/integration/test_notification_bus.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from services.enrolment import application as enrolment
from services.enrolment.adapters.http import create_api
from services.enrolment.application import (
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
)
from services.notification import application as notification
from services.notification.adapters.directory import EnrolmentDirectory
from services.notification.adapters.mailcatcher import MailCatcher, Received
from services.notification.adapters.outbox import SKIPPED
from shared.events import Envelope, new_envelope
from shared.events import models as m
from shared.platform.consumer import ProjectionRunner
from tests.ports import on_a_port, refusing_port

STOCKHOLM_NOON = dt.time(11, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 2)  # a Monday
DAY1 = TODAY + dt.timedelta(days=21)
DAY2 = TODAY + dt.timedelta(days=28)
STREAM = f"scheduling:{uuid.uuid4()}"

COURSE = m.CoursePublished(
    course_id="bou-ny-samtal", journey="barn_och_unga", level="ny",
    title="Samtal och delaktighet",
    preparations=(m.Preparation(item_id="sod-f1", title="Läs kapitel 3 i handboken",
                                mandatory=True),
                  m.Preparation(item_id="sod-f2", title="Lyssna på podden om barnsamtal",
                                mandatory=True),
                  m.Preparation(item_id="sod-f3", title="Extra film", mandatory=False)))


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def at(self, day: dt.date, time: dt.time = STOCKHOLM_NOON) -> dt.datetime:
        self.now = dt.datetime.combine(day, time)
        return self.now


@dataclass
class World:
    service: notification.Notification
    runner: ProjectionRunner
    catcher: MailCatcher
    enrolment: enrolment.Enrolment
    clock: Clock
    people: dict[str, str] = field(default_factory=dict)  # name -> participant_id
    position: int = 100

    def apply(self, *envs: Envelope) -> int:
        return self.runner.apply_batch(list(envs))

    def deliver(self) -> int:
        """Send everything due, as the process would a moment later."""
        self.clock.now += dt.timedelta(seconds=10)
        return self.service.deliver_due()

    def mail(self) -> list[Received]:
        return self.catcher.mailbox.messages()

    def to(self, name: str) -> list[Received]:
        address = f"{name.lower()}@falun.example.se"
        return [r for r in self.mail() if address in r.rcpt_tos]

    def event(self, data: m.EventData, *, at: dt.datetime | None = None,
              in_stream: bool = False) -> Envelope:
        provenance = {}
        if in_stream:
            self.position += 1
            provenance = {"stream_id": STREAM, "position": self.position}
        return new_envelope(data, occurred_at=at or self.clock.now, **provenance)

    def register(self, name: str) -> Envelope:
        pid = self.enrolment.register_participant(RegisterParticipant(
            municipality_id="falun", name=name, email=f"{name.lower()}@falun.example.se",
            role="socialsekreterare", years_in_profession=1))
        self.people[name] = pid
        return self.event(m.ParticipantRegistered(
            participant_id=pid, municipality_id="falun", journey="barn_och_unga",
            role="socialsekreterare", level="ny", years_in_profession=1),
            at=self.clock.now - dt.timedelta(days=30))

    def book(self, name: str, occasion: str = "occ-1") -> Envelope:
        return self.event(m.ParticipantBooked(occasion_id=occasion,
                                              participant_id=self.people[name]),
                          in_stream=True)


def planned(occasion: str = "occ-1", days: tuple[dt.date, ...] = (DAY1, DAY2)
            ) -> m.CourseOccasionPlanned:
    return m.CourseOccasionPlanned(
        occasion_id=occasion, course_id=COURSE.course_id, region_id="rss-dalarna", capacity=2,
        days=tuple(m.CourseDay(day=i + 1, date=d, mode="on_site" if i == 0 else "digital")
                   for i, d in enumerate(days)))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock(dt.datetime.combine(TODAY, STOCKHOLM_NOON))
    catcher = on_a_port(lambda port: MailCatcher(smtp_port=port, http_port=None).start())
    enrol_url = f"sqlite:///{tmp_path / 'enrolment.sqlite'}"
    enrolment.migrate(enrol_url)
    e = enrolment.bootstrap(enrol_url)
    e.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    e.join_municipality(JoinMunicipality(municipality_id="falun", name="Falun",
                                         region_id="rss-dalarna"))
    url = f"sqlite:///{tmp_path / 'notification.sqlite'}"
    notification.migrate(url)
    settings = notification.NotificationSettings(smtp_port=catcher.smtp_port, settle_seconds=5)
    with TestClient(create_api(e)) as http:
        service = notification.bootstrap(url, settings=settings, clock=clock,
                                         directory=EnrolmentDirectory("", client=http))
        w = World(service, service.runner(), catcher, e, clock)
        w.apply(w.event(m.MunicipalityJoined(municipality_id="falun", name="Falun",
                                             region_id="rss-dalarna")),
                w.event(COURSE), w.register("Anna"), w.register("Bo"), w.register("Cia"))
        yield w
        service.close()
    catcher.stop()
    e.close()


def _calendars(received: Received) -> list[Calendar]:
    return [Calendar.from_ical(c["content"]) for c in received.calendars()]


def _event(cal: Calendar) -> dict[str, object]:
    ev = cal.walk("VEVENT")[0]
    return {"method": str(cal["METHOD"]), "uid": str(ev["UID"]), "sequence": int(ev["SEQUENCE"]),
            "date": ev.decoded("DTSTART"), "status": str(ev["STATUS"])}


def test_a_booking_is_confirmed_in_swedish_with_a_calendar_invitation_per_day(
    world: World,
) -> None:
    world.apply(world.event(planned()), world.book("Anna"))
    assert world.service.deliver_due() == 0  # not before the settling time
    world.clock.now += dt.timedelta(seconds=5)
    assert world.service.deliver_due() == 1
    [mail] = world.to("Anna")
    assert mail.summary()["subject"] == "Bokningsbekräftelse: Samtal och delaktighet"
    text = mail.text()
    assert text.startswith("Hej Anna!")
    assert "Din bokning till kurstillfället Samtal och delaktighet är bekräftad." in text
    assert "Kursdag 1: måndag 23 mars 2026, på plats" in text
    assert "Kursdag 2: måndag 30 mars 2026, digitalt" in text
    assert "Läs kapitel 3 i handboken" in text and "Extra film" not in text
    cals = [_event(c) for c in _calendars(mail)]
    assert [c["date"] for c in cals] == [DAY1, DAY2]
    assert {c["method"] for c in cals} == {"REQUEST"}
    assert [c["uid"] for c in cals] == ["kurstillfalle-occ-1-dag-1@yrkesresan",
                                        "kurstillfalle-occ-1-dag-2@yrkesresan"]
    assert {c["sequence"] for c in cals} == {0}
    attendee = _calendars(mail)[0].walk("VEVENT")[0]["ATTENDEE"]
    assert str(attendee) == "mailto:anna@falun.example.se"


def test_redelivered_events_and_a_restart_send_nothing_twice(world: World, tmp_path: Path
                                                              ) -> None:
    events = [world.event(planned()), world.book("Anna"), world.book("Bo")]
    world.apply(*events)
    world.deliver()
    assert len(world.mail()) == 2
    assert world.apply(*events) == 0  # the same ids again
    world.deliver()
    again = notification.bootstrap(world.service.db.url, settings=world.service.settings,
                                   clock=world.clock, directory=world.service.directory)
    runner = again.runner()
    runner.restore()
    assert runner.apply_batch(events) == 0
    assert again.deliver_due() == 0
    assert again.schedule() == 0  # day 1 is weeks away: no reminder yet
    assert len(world.mail()) == 2


def test_an_erased_participant_gets_nothing(world: World) -> None:
    world.apply(world.event(planned()), world.book("Anna"), world.book("Bo"))
    world.enrolment.erase_participant(world.people["Anna"])  # not yet seen on the bus
    world.apply(world.event(m.ParticipantErased(participant_id=world.people["Bo"])))
    world.deliver()
    assert world.mail() == []
    statuses = world.service.outbox.counts()
    assert statuses == {SKIPPED: 2}


def test_a_booking_waits_for_its_occasion_plan(world: World) -> None:
    world.apply(world.book("Anna"))
    world.deliver()
    assert world.mail() == []
    world.apply(world.event(planned()))
    world.clock.now += dt.timedelta(seconds=notification.WAIT_SECONDS)
    world.deliver()
    assert len(world.to("Anna")) == 1


def test_a_place_from_the_waitlist_says_so(world: World) -> None:
    world.apply(world.event(planned()), world.book("Anna"))
    world.deliver()
    freed = world.event(m.BookingCancelled(occasion_id="occ-1",
                                           participant_id=world.people["Anna"]),
                        in_stream=True)
    promoted = world.book("Bo")  # the next position of the same occasion's stream
    world.apply(promoted, freed)  # in any order
    world.deliver()
    [mail] = world.to("Bo")
    assert mail.summary()["subject"] == "Du har fått en plats: Samtal och delaktighet"
    assert "Du stod på väntelistan" in mail.text()


def test_a_replanned_occasion_updates_the_same_entries_with_a_higher_sequence(
    world: World,
) -> None:
    world.apply(world.event(planned()), world.book("Anna"))
    world.deliver()
    moved = DAY2 + dt.timedelta(days=3)
    world.apply(world.event(m.CourseOccasionRescheduled(
        occasion_id="occ-1", days=(m.CourseDay(day=1, date=DAY1, mode="on_site"),
                                   m.CourseDay(day=2, date=moved, mode="on_site")))))
    world.deliver()
    first, update = world.to("Anna")
    assert update.summary()["subject"] == "Ändrade kursdagar: Samtal och delaktighet"
    assert "Kursdag 2: torsdag 2 april 2026, på plats (ändrad)" in update.text()
    [entry] = [_event(c) for c in _calendars(update)]
    assert entry == {"method": "REQUEST", "uid": "kurstillfalle-occ-1-dag-2@yrkesresan",
                     "sequence": 1, "date": moved, "status": "CONFIRMED"}
    # A plan older than the one in force, arriving late, changes nothing.
    world.apply(world.event(m.CourseOccasionRescheduled(
        occasion_id="occ-1", days=(m.CourseDay(day=1, date=DAY1, mode="digital"),)),
        at=world.clock.now - dt.timedelta(hours=1)))
    world.deliver()
    assert len(world.to("Anna")) == 2


def test_the_venue_is_in_the_entries_and_a_new_venue_updates_them(world: World) -> None:
    """The venue lost, day 1 held elsewhere on the same date: the booked are told, and the
    calendar entry they hold moves with it (same UID, higher SEQUENCE)."""
    days = (m.CourseDay(day=1, date=DAY1, mode="on_site", venue="Kulturhuset, Falun"),
            m.CourseDay(day=2, date=DAY2, mode="digital"))
    world.apply(world.event(m.CourseOccasionPlanned(
        occasion_id="occ-1", course_id=COURSE.course_id, region_id="rss-dalarna", capacity=2,
        days=days)), world.book("Anna"))
    world.deliver()
    [confirmation] = world.to("Anna")
    assert "Kursdag 1: måndag 23 mars 2026, på plats, Kulturhuset, Falun" in confirmation.text()
    assert [str(c.walk("VEVENT")[0]["LOCATION"]) for c in _calendars(confirmation)] == [
        "Kulturhuset, Falun", "Digitalt"]
    world.apply(world.event(m.CourseOccasionRescheduled(occasion_id="occ-1", days=(
        days[0].model_copy(update={"venue": "Stadshuset, Falun"}), days[1]))))
    world.deliver()
    update = world.to("Anna")[-1]
    assert update.summary()["subject"] == "Ändrade kursdagar: Samtal och delaktighet"
    assert ("Kursdag 1: måndag 23 mars 2026, på plats, Stadshuset, Falun (ändrad)"
            in update.text())
    [cal] = _calendars(update)
    assert _event(cal) == {"method": "REQUEST", "uid": "kurstillfalle-occ-1-dag-1@yrkesresan",
                           "sequence": 1, "date": DAY1, "status": "CONFIRMED"}
    assert str(cal.walk("VEVENT")[0]["LOCATION"]) == "Stadshuset, Falun"


def test_a_removed_day_is_cancelled_and_a_cancelled_occasion_cancels_every_entry(
    world: World,
) -> None:
    world.apply(world.event(planned()), world.book("Anna"), world.book("Bo"))
    world.deliver()
    world.apply(world.event(m.CourseOccasionRescheduled(
        occasion_id="occ-1", days=(m.CourseDay(day=1, date=DAY1, mode="on_site"),))))
    world.deliver()
    update = world.to("Anna")[-1]
    assert [(e["method"], e["uid"], e["sequence"]) for e in map(_event, _calendars(update))] == [
        ("CANCEL", "kurstillfalle-occ-1-dag-2@yrkesresan", 1)]
    assert "Kursdag 2 (måndag 30 mars 2026) är struken." in update.text()
    # Bo cancels his booking; then the occasion is cancelled: he released his place himself
    # long before, so only Anna is told.
    world.apply(world.event(m.BookingCancelled(occasion_id="occ-1",
                                               participant_id=world.people["Bo"])))
    world.clock.now += dt.timedelta(days=1)
    world.apply(world.event(m.CourseOccasionCancelled(occasion_id="occ-1",
                                                      reason="För få anmälda")))
    world.deliver()
    cancel = world.to("Anna")[-1]
    assert cancel.summary()["subject"] == "Inställt kurstillfälle: Samtal och delaktighet"
    assert "Skäl: För få anmälda" in cancel.text()
    assert [(e["method"], e["uid"], e["sequence"], e["status"])
            for e in map(_event, _calendars(cancel))] == [
        ("CANCEL", "kurstillfalle-occ-1-dag-1@yrkesresan", 2, "CANCELLED")]
    # confirmation, the re-plan, and his own cancellation: not the occasion's
    assert [r.summary()["subject"] for r in world.to("Bo")][2:] == [
        "Avbokad: Samtal och delaktighet"]


def test_a_cancelled_booking_takes_its_calendar_entries_back_once(world: World) -> None:
    world.apply(world.event(planned()), world.book("Anna"), world.book("Bo"))
    world.deliver()
    unbooked = world.event(m.BookingCancelled(occasion_id="occ-1",
                                              participant_id=world.people["Anna"]))
    world.apply(unbooked)
    world.deliver()
    world.apply(unbooked)  # delivered again
    world.deliver()
    confirmation, cancel = world.to("Anna")
    assert cancel.summary()["subject"] == "Avbokad: Samtal och delaktighet"
    assert "Din bokning till kurstillfället Samtal och delaktighet är avbokad." in cancel.text()
    assert [(e["method"], e["uid"], e["status"]) for e in map(_event, _calendars(cancel))] == [
        ("CANCEL", f"kurstillfalle-occ-1-dag-{day}@yrkesresan", "CANCELLED") for day in (1, 2)]
    assert [_event(c)["uid"] for c in _calendars(confirmation)] == [
        _event(c)["uid"] for c in _calendars(cancel)]
    assert len(world.to("Bo")) == 1  # the occasion goes ahead: nothing new for Bo
    # The occasion cancelled later: Anna's calendar holds nothing of it any more.
    world.clock.now += dt.timedelta(days=1)
    world.apply(world.event(m.CourseOccasionCancelled(occasion_id="occ-1", reason="Lokalen")))
    world.deliver()
    assert len(world.to("Anna")) == 2
    assert world.to("Bo")[-1].summary()["subject"] == (
        "Inställt kurstillfälle: Samtal och delaktighet")


def cancellation(world: World, *released: str, reason: str = "Lokalen"
                 ) -> tuple[Envelope, list[Envelope]]:
    """The occasion's cancellation and the bookings it released, as scheduling records them:
    each release names the cancellation as its cause."""
    cancelled = world.event(m.CourseOccasionCancelled(occasion_id="occ-1", reason=reason))
    return cancelled, [new_envelope(m.BookingCancelled(
        occasion_id="occ-1", participant_id=world.people[name]),
        occurred_at=cancelled.occurred_at, causation_id=str(cancelled.id)) for name in released]


def test_bookings_released_by_the_cancellation_itself_are_told(world: World) -> None:
    world.apply(world.event(planned()), world.book("Anna"))
    world.deliver()
    cancelled, released = cancellation(world, "Anna")
    world.apply(cancelled, *released)
    world.deliver()
    confirmation, cancel = world.to("Anna")  # the occasion's message only, no "Avbokad"
    assert cancel.summary()["subject"] == "Inställt kurstillfälle: Samtal och delaktighet"
    assert [_event(c)["method"] for c in _calendars(cancel)] == ["CANCEL", "CANCEL"]


@pytest.mark.parametrize("first", ["releases", "cancellation"])
def test_a_cancelled_occasion_is_one_message_whichever_partition_arrives_first(
        world: World, first: str) -> None:
    """The releases travel keyed by participant, the cancellation by occasion: either may
    arrive long after the other. Each released participant gets "Inställt kurstillfälle"
    with the reason, once, never "Avbokad"; one who cancelled on their own just before gets
    "Avbokad" and nothing more."""
    world.apply(world.event(planned()), world.book("Anna"), world.book("Bo"), world.book("Cia"))
    world.deliver()
    own = world.event(m.BookingCancelled(occasion_id="occ-1",
                                         participant_id=world.people["Cia"]))
    world.apply(own)
    world.clock.now += dt.timedelta(minutes=2)
    cancelled, released = cancellation(world, "Anna", "Bo", reason="För få anmälda")
    early, late = (released, [cancelled]) if first == "releases" else ([cancelled], released)
    world.apply(*early)
    for _ in range(3):  # a minute passes, the rest still on its way
        world.deliver()
    world.clock.now += dt.timedelta(minutes=1)
    world.apply(*late, *early)  # and what came first is delivered again
    for _ in range(3):
        world.deliver()
    for name in ("Anna", "Bo"):
        subjects = [r.summary()["subject"] for r in world.to(name)]
        assert subjects == ["Bokningsbekräftelse: Samtal och delaktighet",
                            "Inställt kurstillfälle: Samtal och delaktighet"], name
        assert "Skäl: För få anmälda" in world.to(name)[-1].text()
        assert [_event(c)["method"] for c in _calendars(world.to(name)[-1])] == [
            "CANCEL", "CANCEL"]
    assert [r.summary()["subject"] for r in world.to("Cia")] == [
        "Bokningsbekräftelse: Samtal och delaktighet", "Avbokad: Samtal och delaktighet"]


def test_those_waiting_are_told_once_when_the_occasion_is_cancelled(world: World) -> None:
    """The waitlist is scheduling's own: the cancellation names those it takes off it, and
    each gets one "Inställt kurstillfälle" with the reason and no calendar file (none was
    sent to take back); an erased participant on the waitlist gets nothing."""
    world.apply(world.event(planned()), world.book("Anna"))
    world.deliver()
    world.enrolment.erase_participant(world.people["Cia"])
    world.apply(world.event(m.ParticipantErased(participant_id=world.people["Cia"])))
    cancelled = world.event(m.CourseOccasionCancelled(
        occasion_id="occ-1", reason="Utbildaren är sjuk",
        waitlisted=(world.people["Bo"], world.people["Cia"])))
    world.apply(cancelled)
    for _ in range(2):
        world.deliver()
    world.apply(cancelled)  # delivered again
    world.deliver()
    [told] = world.to("Bo")
    assert told.summary()["subject"] == "Inställt kurstillfälle: Samtal och delaktighet"
    assert "Skäl: Utbildaren är sjuk" in told.text()
    assert "väntelistan" in told.text()
    assert _calendars(told) == []
    assert world.to("Cia") == []
    assert [r.summary()["subject"] for r in world.to("Anna")][-1] == (
        "Inställt kurstillfälle: Samtal och delaktighet")


def test_a_reminder_lists_the_mandatory_preparations_not_done(world: World) -> None:
    world.apply(world.event(planned()), world.book("Anna"), world.book("Bo"),
                world.event(m.PreparationCompleted(participant_id=world.people["Anna"],
                                                   course_id=COURSE.course_id,
                                                   item_id="sod-f1")))
    world.deliver()
    world.clock.at(DAY1 - dt.timedelta(days=8))
    assert world.service.schedule() == 0
    world.clock.at(DAY1 - dt.timedelta(days=7))
    assert world.service.schedule() == 2
    assert world.service.schedule() == 0  # once
    world.deliver()
    [reminder] = world.to("Anna")[1:]
    assert reminder.summary()["subject"] == (
        "Påminnelse: Samtal och delaktighet börjar måndag 23 mars 2026")
    text = reminder.text()
    assert "Om 7 dagar börjar kurstillfället" in text
    assert "Lyssna på podden om barnsamtal" in text
    assert "Läs kapitel 3 i handboken" not in text
    assert "Extra film" not in text


def test_completion_invites_to_the_evaluation_and_the_certificate_has_its_link(
    world: World,
) -> None:
    pid = world.people["Cia"]
    ids = {"participant_id": pid, "course_id": COURSE.course_id, "occasion_id": "occ-1"}
    world.apply(world.event(m.CourseCompleted(**ids)),
                world.event(m.CertificateIssued(certificate_id="cert-1", **ids)),
                world.event(m.CertificateIssued(certificate_id="cert-2", **ids)),
                world.event(m.CertificateRevoked(certificate_id="cert-2", reason="fel")))
    world.deliver()
    subjects = {r.summary()["subject"]: r for r in world.to("Cia")}
    assert set(subjects) == {"Utvärdering av Samtal och delaktighet",
                             "Ditt intyg: Samtal och delaktighet"}
    assert "Grattis, du har genomfört kursen" in subjects[
        "Utvärdering av Samtal och delaktighet"].text()
    assert "http://127.0.0.1:8003/certificates/cert-1/intyg.pdf" in subjects[
        "Ditt intyg: Samtal och delaktighet"].text()


def test_old_history_calls_for_no_message(world: World) -> None:
    old = world.clock.now - dt.timedelta(days=400)
    world.apply(world.event(planned()),
                world.event(m.CourseCompleted(participant_id=world.people["Cia"],
                                              course_id=COURSE.course_id,
                                              occasion_id="occ-1"), at=old))
    world.deliver()
    assert world.mail() == []


def test_the_weekly_summary_goes_to_the_municipalitys_recipient(world: World) -> None:
    world.service.recipients.set("falun", "yrkesresan@falun.example.se")
    world.apply(world.event(planned()), world.book("Anna"), world.book("Bo"),
                world.event(m.CourseCompleted(participant_id=world.people["Cia"],
                                              course_id=COURSE.course_id,
                                              occasion_id="occ-0")),
                world.event(m.PreparationCompleted(participant_id=world.people["Bo"],
                                                   course_id=COURSE.course_id,
                                                   item_id="sod-f1")))
    world.deliver()
    # Monday 06:00 Swedish time: the week before last is the latest one due (nothing in it).
    world.clock.at(TODAY + dt.timedelta(days=7), dt.time(5, 0, tzinfo=dt.UTC))
    assert world.service.schedule() == 1
    world.deliver()
    # From 07:00 the week just ended is due, once.
    world.clock.at(TODAY + dt.timedelta(days=7), dt.time(6, 30, tzinfo=dt.UTC))
    assert world.service.schedule() == 1
    assert world.service.schedule() == 0
    world.deliver()
    earlier, summary = [r for r in world.mail() if "yrkesresan@falun.example.se" in r.rcpt_tos]
    assert earlier.summary()["subject"] == "Veckosammanfattning för Falun, vecka 9 2026"
    assert "Nya bokningar: inga." in earlier.text()
    assert summary.summary()["subject"] == "Veckosammanfattning för Falun, vecka 10 2026"
    text = summary.text()
    assert "Nya bokningar (2):" in text
    assert "Anna, Samtal och delaktighet, kursdag 1 måndag 23 mars 2026" in text
    assert ("Bo, Samtal och delaktighet, kursdag 1 måndag 23 mars 2026; saknar: "
            "Lyssna på podden om barnsamtal") in text
    assert "Genomförda kurser (1):\n  - Cia, Samtal och delaktighet" in text


def test_logs_hold_ids_not_addresses_or_names(world: World, caplog: pytest.LogCaptureFixture
                                              ) -> None:
    caplog.set_level(logging.DEBUG)
    world.apply(world.event(planned()), world.book("Anna"))
    world.enrolment.erase_participant(world.people["Bo"])
    world.apply(world.book("Bo"))
    world.deliver()
    lines = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records
                      if r.name.startswith("services.notification"))
    assert world.people["Anna"] in lines
    assert "@" not in lines.replace("@yrkesresan", "") and "Anna" not in lines


def test_an_unreachable_smtp_server_is_retried(world: World) -> None:
    with refusing_port() as nobody_listens:
        world.service.settings.smtp_port = nobody_listens
        world.apply(world.event(planned()), world.book("Anna"))
        assert world.deliver() == 0
    world.service.settings.smtp_port = world.catcher.smtp_port
    world.clock.now += dt.timedelta(seconds=notification.backoff(0))
    assert world.deliver() == 1


def test_the_links_follow_certifications_port_unless_set(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """`make run` on private ports: the links in the messages go to certification's own
    address, not to the default port where another system (or nothing) may answer."""
    monkeypatch.setenv("YRKESRESAN_CERTIFICATION_PORT", "27003")
    links = notification.NotificationSettings().links()
    assert links.certificate.format(certificate_id="c1") == (
        "http://127.0.0.1:27003/certificates/c1/intyg.pdf")
    assert links.evaluation.format(participant_id="p1") == (
        "http://127.0.0.1:27003/participants/p1/evaluations")
    monkeypatch.setenv("YRKESRESAN_CERTIFICATE_LINK", "https://intyg.example.se/{certificate_id}")
    assert notification.NotificationSettings().links().certificate == (
        "https://intyg.example.se/{certificate_id}")
