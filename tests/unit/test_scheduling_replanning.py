"""Re-planning and cancelling an occasion, taking a trainer off its team and undoing a reserve
called in, on the aggregate itself: what each records, and every refusal (with its status,
field and reason), after which nothing is recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from services.scheduling.domain import (
    BookingCancelled,
    CourseOccasionCancelled,
    CourseOccasionRescheduled,
    Occasion,
    TeamMember,
    TrainerAssigned,
    TrainerUnassigned,
    VenuesSet,
)
from shared.events import models as contract
from shared.events import stored_event_id_text
from shared.platform.errors import CommandRejected
from tests.unit.test_scheduling_domain import LEAD, NOW, ULF, a_course, kinds, register, staffed

TODAY = NOW.date()  # 2025-03-20; days 1-3 are past, day 4 (2025-03-24) is to come
Day = tuple[contract.CourseDay, str | None]


def plan_of(occasion: Occasion) -> list[Day]:
    return [(occasion.days[d], occasion.venues.get(d)) for d in sorted(occasion.days)]


def day(n: int, date: str, mode: str = "digital", venue: str | None = None) -> Day:
    return contract.CourseDay(day=n, date=dt.date.fromisoformat(date), mode=mode), venue


def replan(occasion: Occasion, days: list[Day]) -> bool:
    return occasion.replan(a_course(), days, today=TODAY)


def refused(act: Callable[[], object], status: int, field: str, *words: str) -> None:
    with pytest.raises(CommandRejected) as e:
        act()
    assert (e.value.status, e.value.field) == (status, field), e.value.message
    for word in words:
        assert word in e.value.message


# --- re-planning --------------------------------------------------------------------------------


def test_moving_a_day_records_the_days_as_now_planned() -> None:
    occasion = staffed()
    days = plan_of(occasion)
    days[3] = day(4, "2025-03-31", "on_site", "Aulan, Mora")
    assert replan(occasion, days) is True
    events = occasion.collect_events()
    assert [type(e).__name__ for e in events] == ["CourseOccasionRescheduled", "VenuesSet"]
    rescheduled = events[0]
    assert isinstance(rescheduled, CourseOccasionRescheduled)
    assert [(d.day, str(d.date), d.mode, d.venue) for d in rescheduled.days] == [
        (1, "2025-03-10", "on_site", "Folkets hus, Falun"), (2, "2025-03-11", "digital", None),
        (3, "2025-03-17", "digital", None), (4, "2025-03-31", "on_site", "Aulan, Mora")]
    assert isinstance(events[1], VenuesSet)
    assert occasion.venues == {1: "Folkets hus, Falun", 4: "Aulan, Mora"}
    assert replan(occasion, plan_of(occasion)) is False  # the same plan again: nothing
    assert kinds(occasion) == []


def test_a_new_venue_alone_is_a_re_plan_the_booked_are_told_of() -> None:
    """The venue lost, the day held elsewhere: on the bus as any re-plan (the contract's
    course days carry their venue, v1.1), so the notification process updates the entries."""
    occasion = staffed()
    days = plan_of(occasion)
    days[0] = day(1, "2025-03-10", "on_site", "Stadshuset, Falun")
    assert replan(occasion, days) is True
    events = occasion.collect_events()
    assert [type(e).__name__ for e in events] == ["CourseOccasionRescheduled", "VenuesSet"]
    rescheduled = events[0]
    assert isinstance(rescheduled, CourseOccasionRescheduled)
    assert [d.venue for d in rescheduled.days] == ["Stadshuset, Falun", None, None, None]


def test_days_keep_their_numbers_when_one_is_removed_or_added() -> None:
    occasion = staffed()
    register(occasion, day=1)
    occasion.collect_events()
    days = plan_of(occasion)
    assert replan(occasion, [days[0], days[1], days[3]]) is True  # day 3 had no attendance
    assert sorted(occasion.days) == [1, 2, 4]
    assert replan(occasion, [*plan_of(occasion), day(5, "2025-04-07")]) is True
    assert sorted(occasion.days) == [1, 2, 4, 5]
    assert kinds(occasion) == ["CourseOccasionRescheduled", "CourseOccasionRescheduled"]
    assert occasion.attended[1] == {"p1", "p2", "p3"}


def test_a_held_day_may_move_to_another_past_date_or_mode() -> None:
    occasion = staffed()
    register(occasion, day=2)
    occasion.collect_events()
    days = plan_of(occasion)
    days[1] = day(2, "2025-03-12", "on_site", "Folkets hus, Falun")  # the date was mistyped
    assert replan(occasion, days) is True


def test_a_day_with_attendance_cannot_be_removed() -> None:
    occasion = staffed()
    register(occasion, day=2)
    occasion.collect_events()
    days = plan_of(occasion)
    refused(lambda: replan(occasion, [days[0], days[2], days[3]]), 409, "days",
            "Dag 2", "närvaro", "tas bort")
    assert kinds(occasion) == []


def test_a_day_only_a_trainer_delivered_is_held_too() -> None:
    occasion = staffed()
    register(occasion, day=2, present=())
    occasion.collect_events()
    days = plan_of(occasion)
    refused(lambda: replan(occasion, [days[0], days[2], days[3]]), 409, "days", "Dag 2")


def test_a_day_with_attendance_cannot_move_into_the_future() -> None:
    occasion = staffed()
    register(occasion, day=3)
    occasion.collect_events()
    days = plan_of(occasion)
    days[2] = day(3, "2025-03-21")
    days[3] = day(4, "2025-03-28")
    refused(lambda: replan(occasion, days), 409, "days.2.date", "Dag 3", "framtiden")
    assert kinds(occasion) == []


def test_an_occasion_given_in_full_gets_no_more_days() -> None:
    occasion = staffed()
    days = plan_of(occasion)
    assert replan(occasion, days[:3]) is True  # day 4 dropped: days 1-3 are the plan
    for n in (1, 2, 3):
        register(occasion, day=n)
    occasion.collect_events()
    refused(lambda: replan(occasion, [*plan_of(occasion), day(4, "2025-03-19")]), 409, "days",
            "genomfört", "dag 4")


@pytest.mark.parametrize(("days", "field", "words"), [
    ([], "days", "minst en dag"),
    ([day(1, "2025-03-10", "on_site", "A"), day(2, "2025-03-10")], "days", "senare datum"),
    ([day(1, "2025-03-10", "on_site", "A"), day(1, "2025-03-11")], "days", "mer än en gång"),
    ([day(1, "2025-03-10"), day(2, "2025-03-11")], "days.0.mode", "på plats"),
], ids=["no-days", "dates-out-of-order", "a-number-twice", "mode-the-course-does-not-allow"])
def test_a_plan_that_is_not_one_is_refused(days: list[Day], field: str, words: str) -> None:
    occasion = staffed()
    refused(lambda: replan(occasion, days), 422, field, words)
    assert kinds(occasion) == []


# --- cancelling ---------------------------------------------------------------------------------


def test_cancelling_releases_every_booking_and_clears_the_waitlist() -> None:
    occasion = staffed(capacity=2, booked=("p1", "p2", "p3"))
    register(occasion, day=1, present=("p1", "p2"))
    occasion.collect_events()
    assert occasion.cancel_occasion("För få anmälda") == ["p1", "p2"]
    events = occasion.collect_events()
    assert [type(e).__name__ for e in events] == [
        "CourseOccasionCancelled", "BookingCancelled", "BookingCancelled", "WaitlistLeft"]
    assert [e.participant_id for e in events if isinstance(e, BookingCancelled)] == ["p1", "p2"]
    cancelled = events[0]
    assert isinstance(cancelled, CourseOccasionCancelled)
    assert cancelled.reason == "För få anmälda"
    assert cancelled.waitlisted == ("p3",)  # the waitlist is scheduling's: the bus learns it here
    # each release names the cancellation's envelope id, so that a reader tells it from a
    # booking cancelled on its own whichever of the two arrives first
    cause = stored_event_id_text(cancelled.originator_id, cancelled.originator_version)
    assert [e.causation_id for e in events[1:]] == [cause] * 3
    assert occasion.booked == {} and occasion.waitlist == {}
    assert occasion.attended[1] == {"p1", "p2"}  # the day reported still counts
    assert occasion.cancel_occasion("Igen") is None  # cancelled already: nothing more
    assert kinds(occasion) == []


def test_an_occasion_given_in_full_cannot_be_cancelled() -> None:
    occasion = staffed()
    for n in (1, 2, 3):
        register(occasion, day=n)
    occasion.replan(a_course(), plan_of(occasion)[:3], today=TODAY)
    occasion.collect_events()
    refused(lambda: occasion.cancel_occasion("Fel"), 409, "occasion_id", "genomfört")
    assert kinds(occasion) == []


@pytest.mark.parametrize("act", [
    lambda o: o.book("p9", "falun"),
    lambda o: o.cancel("p1"),
    lambda o: register(o, day=1),
    lambda o: o.assign("olle", "falun", "trainer"),
    lambda o: o.unassign("ulf"),
    lambda o: o.call_in(2, "rosa", "ulf"),
    lambda o: o.undo_call_in(2, "rosa"),
    lambda o: o.replan(a_course(), plan_of(o), today=TODAY),
], ids=["book", "cancel-booking", "attendance", "assign", "unassign", "call-in", "undo-call-in",
        "replan"])
def test_a_cancelled_occasion_takes_nothing_more(act: Callable[[Occasion], object]) -> None:
    occasion = staffed()
    occasion.call_in(2, "rosa", "ulf")
    occasion.cancel_occasion("Lokalen brann")
    occasion.collect_events()
    refused(lambda: act(occasion), 409, "occasion_id", "inställt", "Lokalen brann")
    assert kinds(occasion) == []


# --- the trainer team ---------------------------------------------------------------------------


def test_a_trainer_leaves_the_team_and_keeps_the_days_delivered() -> None:
    occasion = staffed()
    register(occasion, day=1)
    occasion.collect_events()
    occasion.unassign("ulf")
    events = occasion.collect_events()
    assert [(type(e).__name__, e.trainer_id) for e in events if
            isinstance(e, TrainerUnassigned)] == [("TrainerUnassigned", "ulf")]
    assert "ulf" not in occasion.team and occasion.delivered[1]["ulf"] == "trainer"
    assert register(occasion, day=1) == (0, 0)  # the day as registered still stands
    refused(lambda: register(occasion, day=2), 422, "delivered_by", "ulf", "utbildarteam")
    refused(lambda: occasion.unassign("ulf"), 404, "trainer_id", "ulf")


def test_the_course_leader_leaves_only_with_a_new_one_named() -> None:
    occasion = staffed()
    refused(lambda: occasion.unassign("karin"), 409, "new_leader_id", "kursledare")
    same = TeamMember("karin", "falun", "leader")
    refused(lambda: occasion.unassign("karin", same), 422, "new_leader_id", "sig själv")
    assert kinds(occasion) == []
    occasion.unassign("karin", TeamMember("fia", "borlange", "trainer"))  # from the team
    events = occasion.collect_events()
    assert [type(e).__name__ for e in events] == ["TrainerUnassigned", "TrainerAssigned"]
    assigned = events[1]
    assert isinstance(assigned, TrainerAssigned)
    assert (assigned.trainer_id, assigned.municipality_id, assigned.role) == (
        "fia", "borlange", "leader")
    assert occasion.leader == TeamMember("fia", "borlange", "leader")
    assert register(occasion, day=1, delivered=(("fia", "leader"), ULF)) == (3, 2)


def test_a_new_leader_is_named_only_when_the_leader_leaves() -> None:
    occasion = staffed()
    refused(lambda: occasion.unassign("ulf", TeamMember("olle", "mora", "leader")), 422,
            "new_leader_id", "inte kursledare")


def test_a_reserve_called_in_leaves_once_the_call_in_is_undone() -> None:
    occasion = staffed()
    occasion.call_in(2, "rosa", "ulf")
    occasion.collect_events()
    refused(lambda: occasion.unassign("rosa"), 409, "trainer_id", "inkallad dag 2")
    refused(lambda: occasion.unassign("karin", TeamMember("rosa", "mora", "leader")), 409,
            "new_leader_id", "inkallad dag 2")
    assert kinds(occasion) == []
    occasion.undo_call_in(2, "rosa")
    assert kinds(occasion) == ["ReserveCallInUndone"]
    occasion.unassign("rosa")
    assert kinds(occasion) == ["TrainerUnassigned"]


# --- undoing a reserve called in ----------------------------------------------------------------


def test_undoing_a_call_in_lets_the_trainer_deliver_the_day_again() -> None:
    occasion = staffed()
    occasion.call_in(2, "rosa", "ulf")
    occasion.collect_events()
    refused(lambda: register(occasion, day=2), 422, "delivered_by", "ersatt av reserven")
    occasion.undo_call_in(2, "rosa")
    assert kinds(occasion) == ["ReserveCallInUndone"]
    assert register(occasion, day=2, delivered=(LEAD, ULF)) == (3, 2)
    refused(lambda: occasion.undo_call_in(2, "rosa"), 404, "reserve_id", "inte inkallad")
    refused(lambda: occasion.undo_call_in(9, "rosa"), 422, "day", "Dag 9")


def test_a_call_in_whose_day_is_registered_cannot_be_undone() -> None:
    occasion = staffed()
    occasion.call_in(2, "rosa", "ulf")
    register(occasion, day=2, delivered=(LEAD, ("rosa", "trainer")))
    occasion.collect_events()
    refused(lambda: occasion.undo_call_in(2, "rosa"), 409, "reserve_id", "kan inte tas tillbaka")
    assert kinds(occasion) == []


def test_removing_a_day_drops_its_call_ins() -> None:
    occasion = staffed()
    occasion.call_in(4, "rosa", "ulf")
    replan(occasion, plan_of(occasion)[:3])
    assert 4 not in occasion.called_in
    occasion.unassign("rosa")  # no call-in pending any more
