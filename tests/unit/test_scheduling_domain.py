"""Scheduling's rules on the aggregates themselves (no storage): bookings and the waitlist, the
trainer team, reserves, and a day's attendance."""

from __future__ import annotations

import datetime as dt

import pytest

from services.scheduling.domain import (
    SWEDEN,
    BookingCancelled,
    BookingRequested,
    Course,
    CourseDayAttended,
    CourseFormat,
    Occasion,
    ParticipantBooked,
    ParticipantWaitlisted,
    TrainerDayDelivered,
    WaitlistLeft,
    course_key,
)
from shared.events import models as contract
from shared.platform.errors import CommandRejected, Conflict, NotFound

NOW = dt.datetime(2025, 3, 20, 9, 30, tzinfo=dt.UTC)
DATES = ["2025-03-10", "2025-03-11", "2025-03-17", "2025-03-24"]  # day 4 is in the future


def a_course(days: int = 4) -> Course:
    course = Course(course_key("hbc"))
    modes = (("on_site",),) + (("on_site", "digital"),) * (days - 1)
    course.publish(
        contract.CoursePublished(course_id="hbc", journey="barn_och_unga", level="ny",
                                 title="Handläggning med barnet i centrum"),
        CourseFormat(days=days, day_modes=modes, team_size=8, capacity=24))
    course.collect_events()
    return course


def an_occasion(capacity: int = 3) -> Occasion:
    days = [(contract.CourseDay(day=i + 1, date=d, mode="on_site" if i == 0 else "digital"),
             "Folkets hus, Falun" if i == 0 else None) for i, d in enumerate(DATES)]
    occasion = Occasion.plan("occ-1", a_course(), "rss-dalarna", capacity, days)
    occasion.collect_events()
    return occasion


def staffed(capacity: int = 3, booked: tuple[str, ...] = ("p1", "p2", "p3")) -> Occasion:
    occasion = an_occasion(capacity)
    for p in booked:
        occasion.book(p, "falun")
    occasion.assign("karin", "falun", "leader")
    occasion.assign("ulf", "mora", "trainer")
    occasion.assign("fia", "borlange", "trainer")
    occasion.assign("rosa", "mora", "reserve")
    occasion.collect_events()
    return occasion


def kinds(occasion: Occasion) -> list[str]:
    return [type(e).__name__ for e in occasion.collect_events()]


LEAD = ("karin", "leader")
ULF = ("ulf", "trainer")


# --- planning -----------------------------------------------------------------------------------


def test_planning_checks_the_days_against_the_course() -> None:
    day = contract.CourseDay(day=1, date="2025-03-10", mode="digital")
    with pytest.raises(CommandRejected) as e:
        Occasion.plan("o", a_course(days=1), "r", 10, [(day, None)])
    assert e.value.field == "days.0.mode" and "på plats" in e.value.message
    with pytest.raises(CommandRejected) as e:
        Occasion.plan("o", a_course(days=2), "r", 10, [(day, None)])
    assert e.value.field == "days"


def test_planning_records_the_venue_privately() -> None:
    occasion = an_occasion()
    assert occasion.venues == {1: "Folkets hus, Falun"}
    assert occasion.days[4].mode == "digital"


# --- bookings and the waitlist --------------------------------------------------------------


def test_booking_up_to_capacity_then_the_waitlist() -> None:
    occasion = an_occasion(capacity=2)
    assert occasion.book("p1", "falun") == ("booked", True)
    assert occasion.book("p2", "mora") == ("booked", True)
    assert occasion.book("p3", "mora") == ("waitlisted", True)
    assert kinds(occasion) == ["BookingRequested", "ParticipantBooked"] * 2 + [
        "BookingRequested", "ParticipantWaitlisted"]
    assert occasion.seats_left == 0 and list(occasion.waitlist) == ["p3"]


def test_booking_again_changes_nothing() -> None:
    occasion = an_occasion(capacity=1)
    occasion.book("p1", "falun")
    occasion.book("p2", "falun")
    occasion.collect_events()
    assert occasion.book("p1", "falun") == ("booked", False)
    assert occasion.book("p2", "falun") == ("waitlisted", False)
    assert kinds(occasion) == []


def test_full_occasion_without_waitlist_is_a_conflict() -> None:
    occasion = an_occasion(capacity=1)
    occasion.book("p1", "falun")
    occasion.collect_events()
    with pytest.raises(Conflict) as e:
        occasion.book("p2", "falun", waitlist=False)
    assert e.value.field == "waitlist"
    assert kinds(occasion) == []


def test_a_cancellation_gives_the_place_to_the_first_on_the_waitlist() -> None:
    occasion = an_occasion(capacity=1)
    for p in ("p1", "p2", "p3"):
        occasion.book(p, "falun")
    occasion.collect_events()
    assert occasion.cancel("p1") == "p2"
    events = occasion.collect_events()
    assert [type(e) for e in events] == [BookingCancelled, ParticipantBooked]
    assert events[1].participant_id == "p2"
    assert list(occasion.booked) == ["p2"] and list(occasion.waitlist) == ["p3"]


def test_leaving_the_waitlist_books_nobody() -> None:
    occasion = an_occasion(capacity=1)
    for p in ("p1", "p2", "p3"):
        occasion.book(p, "falun")
    occasion.collect_events()
    assert occasion.cancel("p2") is None
    assert [type(e) for e in occasion.collect_events()] == [WaitlistLeft]
    assert occasion.cancel("p1") == "p3"


def test_cancelling_what_is_not_booked_is_not_found() -> None:
    with pytest.raises(NotFound):
        an_occasion().cancel("nobody")


def test_one_contract_booking_per_actual_booking() -> None:
    occasion = an_occasion(capacity=1)
    occasion.book("p1", "falun")
    occasion.book("p2", "falun")  # waitlisted: no ParticipantBooked yet
    occasion.cancel("p1")  # p2 gets the place: now one ParticipantBooked
    events = occasion.collect_events()
    booked = [e.participant_id for e in events if isinstance(e, ParticipantBooked)]
    assert booked == ["p1", "p2"]
    assert [e.municipality_id for e in events if isinstance(e, BookingRequested)] == [
        "falun", "falun"]
    assert sum(isinstance(e, ParticipantWaitlisted) for e in events) == 1


# --- the trainer team -----------------------------------------------------------------------


def test_exactly_one_course_leader() -> None:
    occasion = an_occasion()
    assert occasion.assign("karin", "falun", "leader") is True
    assert occasion.assign("karin", "falun", "leader") is False
    with pytest.raises(Conflict) as e:
        occasion.assign("fia", "borlange", "leader")
    assert e.value.field == "role" and "karin" in e.value.message
    with pytest.raises(Conflict):
        occasion.assign("karin", "falun", "trainer")
    assert occasion.leader is not None and occasion.leader.trainer_id == "karin"


def test_a_reserve_is_called_in_for_a_trainer_and_day() -> None:
    occasion = staffed()
    assert occasion.call_in(2, "rosa", "ulf") is True
    assert occasion.call_in(2, "rosa", "ulf") is False
    with pytest.raises(Conflict):
        occasion.call_in(2, "rosa", "fia")
    with pytest.raises(CommandRejected) as e:
        occasion.call_in(2, "fia", "ulf")
    assert e.value.field == "reserve_id"
    with pytest.raises(CommandRejected) as e:
        occasion.call_in(2, "rosa", "karin")
    assert e.value.field == "replaces_trainer_id"
    with pytest.raises(CommandRejected) as e:
        occasion.call_in(9, "rosa", "ulf")
    assert e.value.field == "day"


# --- attendance -----------------------------------------------------------------------------


def register(occasion: Occasion, day: int = 1, present: tuple[str, ...] = ("p1", "p2", "p3"),
             delivered: tuple[tuple[str, str], ...] = (LEAD, ULF),
             occurred_at: dt.datetime | None = None) -> tuple[int, int]:
    r = occasion.register_attendance(day, present, delivered, occurred_at=occurred_at, now=NOW)
    return r.attended, r.delivered


def test_a_day_for_the_whole_list_and_who_delivered_it() -> None:
    occasion = staffed()
    assert register(occasion) == (3, 2)
    events = occasion.collect_events()
    attended = [e for e in events if isinstance(e, CourseDayAttended)]
    delivered = [e for e in events if isinstance(e, TrainerDayDelivered)]
    assert [(e.participant_id, e.day) for e in attended] == [("p1", 1), ("p2", 1), ("p3", 1)]
    assert [(e.trainer_id, e.municipality_id, e.role) for e in delivered] == [
        ("karin", "falun", "leader"), ("ulf", "mora", "trainer")]
    # registered ten days late: it happened at the end of the course day, Swedish time
    assert {e.occurred_at for e in events} == {
        dt.datetime(2025, 3, 10, 16, 0, tzinfo=SWEDEN)}


def test_registering_the_same_day_again_changes_nothing() -> None:
    occasion = staffed()
    register(occasion)
    occasion.collect_events()
    assert register(occasion) == (0, 0)
    assert register(occasion, present=("p3", "p1", "p2", "p1")) == (0, 0)
    assert kinds(occasion) == []


def test_a_registered_day_can_be_completed_not_changed() -> None:
    occasion = staffed()
    register(occasion, present=("p1", "p2"))
    occasion.collect_events()
    assert register(occasion, present=("p1", "p2", "p3"),
                    delivered=(LEAD, ULF, ("fia", "trainer"))) == (1, 1)
    occasion.collect_events()
    with pytest.raises(Conflict) as e:
        register(occasion, present=("p1", "p3"), delivered=(LEAD, ULF, ("fia", "trainer")))
    assert e.value.field == "present" and "p2" in e.value.message
    with pytest.raises(Conflict) as e:
        register(occasion, delivered=(LEAD, ULF))
    assert e.value.field == "delivered_by" and "fia" in e.value.message
    assert kinds(occasion) == []


@pytest.mark.parametrize(("kwargs", "field", "words"), [
    ({"present": ("p1", "stranger")}, "present", "stranger"),
    ({"day": 7}, "day", "finns inte"),
    ({"day": 4}, "day", "framtiden"),
    ({"delivered": (LEAD, ("olle", "trainer"))}, "delivered_by", "olle"),
    ({"delivered": (LEAD, ("ulf", "leader"))}, "delivered_by", "en kursledare"),
    ({"delivered": (LEAD, ("fia", "leader"))}, "delivered_by", "en kursledare"),
    ({"delivered": (("ulf", "leader"),)}, "delivered_by", "inte kurstillfällets kursledare"),
    ({"delivered": (("karin", "trainer"),)}, "delivered_by", "kursledare"),
    ({"delivered": (LEAD, ULF, ULF)}, "delivered_by", "mer än en gång"),
    ({"delivered": (LEAD, ("rosa", "trainer"))}, "delivered_by", "inte inkallad"),
    ({"occurred_at": dt.datetime(2025, 3, 11, 9, tzinfo=dt.UTC)}, "occurred_at", "datum"),
], ids=["not-booked", "no-such-day", "future", "not-on-team", "second-leader", "two-leaders",
        "trainer-as-leader", "leader-as-trainer", "twice", "reserve-not-called-in",
        "occurred-on-another-day"])
def test_rejected_with_a_clear_reason(kwargs: dict, field: str, words: str) -> None:
    occasion = staffed()
    with pytest.raises(CommandRejected) as e:
        register(occasion, **kwargs)
    assert e.value.status == 422
    assert e.value.field == field
    assert words in e.value.message
    assert kinds(occasion) == []


def test_waitlisted_is_not_booked() -> None:
    occasion = staffed(capacity=3, booked=("p1", "p2", "p3", "p4"))
    with pytest.raises(CommandRejected) as e:
        register(occasion, present=("p1", "p4"))
    assert "väntelistan" in e.value.message


def test_a_reserve_called_in_delivers_as_trainer_in_place_of_the_trainer() -> None:
    occasion = staffed()
    occasion.call_in(2, "rosa", "ulf")
    occasion.collect_events()
    with pytest.raises(CommandRejected) as e:
        register(occasion, day=2, delivered=(LEAD, ULF))
    assert "ersatt av reserven rosa" in e.value.message
    assert register(occasion, day=2, delivered=(LEAD, ("rosa", "trainer"))) == (3, 2)
    delivered = [e for e in occasion.collect_events() if isinstance(e, TrainerDayDelivered)]
    assert [(e.trainer_id, e.role) for e in delivered] == [
        ("karin", "leader"), ("rosa", "trainer")]


def test_a_participant_cancelled_after_a_registered_day_stays_registered() -> None:
    occasion = staffed()
    register(occasion)
    occasion.cancel("p3")
    occasion.collect_events()
    assert register(occasion) == (0, 0)
    with pytest.raises(CommandRejected):
        register(occasion, day=2)


def test_occurred_at_registered_on_the_day_itself_is_now() -> None:
    occasion = staffed()
    today = NOW.astimezone(SWEDEN).date()
    occasion.days[3] = contract.CourseDay(day=3, date=today, mode="digital")
    register(occasion, day=3)
    assert {e.occurred_at for e in occasion.collect_events()} == {NOW}
    with pytest.raises(CommandRejected) as e:
        register(occasion, day=3, occurred_at=NOW + dt.timedelta(minutes=5))
    assert e.value.field == "occurred_at"
