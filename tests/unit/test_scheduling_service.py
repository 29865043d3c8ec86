"""Scheduling's handlers against a real store, once on SQLite and once on PostgreSQL: what is
saved, in how many transactions, what a rejected command leaves behind, concurrent writers."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from services.scheduling import application as scheduling_app
from services.scheduling.application import (
    AssignTrainer,
    BookParticipant,
    PlanOccasion,
    PublishCourse,
    RegisterAttendance,
    Scheduling,
    shipped_catalogue,
)
from services.scheduling.domain import Occasion, occasion_key
from shared.events import models as contract
from shared.platform.errors import CommandRejected, Conflict, NotFound
from tests.feeding import feed

NOW = dt.datetime(2025, 3, 20, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def scheduling(database_url: str) -> Iterator[Scheduling]:
    scheduling_app.migrate(database_url)
    s = scheduling_app.bootstrap(database_url)
    s.clock = lambda: NOW
    feed(s.runner(),  # what the registry consumer would have learned from the bus
         contract.RegionRegistered(region_id="rss-dalarna", name="RSS Dalarna"),
         *(contract.MunicipalityJoined(municipality_id=m, name=m.title(), region_id="rss-dalarna")
           for m in ("falun", "mora")),
         contract.TrainerRegistered(trainer_id="karin", municipality_id="falun"),
         contract.TrainerRegistered(trainer_id="ulf", municipality_id="mora"))
    yield s
    s.close()


def newest(s: Scheduling) -> int:
    return s.app.recorder.max_notification_id() or 0


def plan(s: Scheduling, occasion_id: str = "occ-1", capacity: int = 30,
         course_id: str = "bou-ny-samtal") -> str:
    return s.plan_occasion(PlanOccasion.model_validate({
        "occasion_id": occasion_id, "course_id": course_id, "region_id": "rss-dalarna",
        "capacity": capacity, "days": [
            {"day": 1, "date": "2025-03-10", "mode": "digital"},
            {"day": 2, "date": "2025-03-17", "mode": "on_site", "venue": "Folkets hus, Falun"},
        ]}))


def registered(s: Scheduling, *participant_ids: str, municipality_id: str = "falun") -> None:
    feed(s.runner(), *(contract.ParticipantRegistered(
        participant_id=p, municipality_id=municipality_id, journey="barn_och_unga",
        role="socialsekreterare", level="ny", years_in_profession=1) for p in participant_ids))


def book(s: Scheduling, occasion_id: str, participant_id: str, **kw: Any) -> tuple[str, bool]:
    registered(s, participant_id)
    return s.book(occasion_id, BookParticipant(participant_id=participant_id, **kw))


def test_the_catalogue_is_published_once(scheduling: Scheduling) -> None:
    assert set(scheduling.publish_catalogue().values()) == {"published"}
    events = newest(scheduling)
    assert events == 12  # CoursePublished and its private format, per course
    assert set(scheduling.publish_catalogue().values()) == {"unchanged"}
    assert newest(scheduling) == events
    courses = {c["course_id"]: c for c in scheduling.courses()}
    assert len(courses) == 6 and courses["bou-ny-handlaggning"]["days"] == 4
    assert courses["bou-ny-verktyg"]["parts"] == [0.5, 0.5]


def test_a_changed_course_is_published_again_as_a_revision(scheduling: Scheduling) -> None:
    scheduling.publish_catalogue()
    course = shipped_catalogue()[1]
    extra = {"item_id": "sod-f9", "title": "Läs en ny rapport", "mandatory": True}
    revised = PublishCourse.model_validate(
        course.model_dump() | {"preparations": [*course.model_dump()["preparations"], extra]})
    before = newest(scheduling)
    assert scheduling.publish_course(revised) == "revised"
    assert newest(scheduling) == before + 1  # the format did not change
    mandatory = [p["item_id"] for c in scheduling.courses() if c["course_id"] == course.course_id
                 for p in c["preparations"] if p["mandatory"]]
    assert "sod-f9" in mandatory


def test_planning_needs_a_published_course_and_a_free_id(scheduling: Scheduling) -> None:
    with pytest.raises(NotFound) as e:
        plan(scheduling)
    assert e.value.field == "course_id"
    scheduling.publish_catalogue()
    plan(scheduling)
    before = newest(scheduling)
    with pytest.raises(Conflict):
        plan(scheduling)
    with pytest.raises(CommandRejected) as e:
        plan(scheduling, "occ-2", course_id="bou-ny-handlaggning")  # 4 days, not 2
    assert e.value.field == "days"
    assert newest(scheduling) == before
    occasion = scheduling.occasion("occ-1")
    assert occasion.venues == {2: "Folkets hus, Falun"}


def test_bookings_waitlist_and_promotion_survive_a_reload(scheduling: Scheduling) -> None:
    scheduling.publish_catalogue()
    plan(scheduling, capacity=2)
    assert [book(scheduling, "occ-1", p)[0] for p in ("p1", "p2", "p3", "p4")] == [
        "booked", "booked", "waitlisted", "waitlisted"]
    assert scheduling.cancel("occ-1", "p1") == "p3"
    occasion = scheduling.occasion("occ-1")
    assert list(occasion.booked) == ["p2", "p3"] and list(occasion.waitlist) == ["p4"]
    listed = scheduling.occasions(region_id="rss-dalarna")
    assert [(o["booked"], o["waitlisted"]) for o in listed] == [(2, 1)]
    assert [b["status"] for b in scheduling.bookings_of("p1")] == ["cancelled"]
    before = newest(scheduling)
    with pytest.raises(Conflict):
        book(scheduling, "occ-1", "p5", waitlist=False)
    with pytest.raises(NotFound):
        scheduling.cancel("occ-1", "p1")
    with pytest.raises(NotFound):
        book(scheduling, "no-such-occasion", "p1")
    assert newest(scheduling) == before


def setup_day(s: Scheduling, participants: int = 30) -> list[str]:
    s.publish_catalogue()
    plan(s, capacity=participants)
    ids = [f"p{i:02d}" for i in range(participants)]
    for p in ids:
        book(s, "occ-1", p)
    s.assign_trainer("occ-1", AssignTrainer(trainer_id="karin", role="leader"))
    s.assign_trainer("occ-1", AssignTrainer(trainer_id="ulf", role="trainer"))
    return ids


def attendance(present: list[str]) -> RegisterAttendance:
    return RegisterAttendance.model_validate({"present": present, "delivered_by": [
        {"trainer_id": "karin", "role": "leader"}, {"trainer_id": "ulf", "role": "trainer"}]})


def test_a_day_of_thirty_is_one_transaction(scheduling: Scheduling,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ids = setup_day(scheduling)
    saves: list[int] = []
    real_save = scheduling.app.save

    def counting_save(*aggregates: Any, **kw: Any) -> Any:
        recordings = real_save(*aggregates, **kw)
        saves.append(len(recordings))
        return recordings

    monkeypatch.setattr(scheduling.app, "save", counting_save)
    before = newest(scheduling)
    recorded = scheduling.register_attendance("occ-1", 1, attendance(ids))
    assert (recorded.attended, recorded.delivered) == (30, 2)
    assert saves == [32]
    assert newest(scheduling) == before + 32
    again = scheduling.register_attendance("occ-1", 1, attendance(ids))
    assert (again.attended, again.delivered) == (0, 0)
    assert saves == [32] and newest(scheduling) == before + 32


def test_a_rejected_day_records_nothing(scheduling: Scheduling) -> None:
    ids = setup_day(scheduling)
    before = newest(scheduling)
    with pytest.raises(CommandRejected) as e:
        scheduling.register_attendance("occ-1", 1, attendance([*ids, "stranger"]))
    assert e.value.field == "present"
    assert newest(scheduling) == before


def test_an_occasion_kept_folded_reads_only_what_others_saved_since(
        scheduling: Scheduling, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process keeps occasions folded (the library's aggregate cache): a load decodes only
    the events another process saved since, what this process saved it folds in itself, and
    what a caller does to a loaded occasion stays out of the kept one."""
    ids = setup_day(scheduling)
    scheduling.register_attendance("occ-1", 1, attendance(ids[:10]))
    decoded: list[str] = []
    real_decode = scheduling.app.mapper.to_domain_event

    def counting_decode(stored: Any) -> Any:
        decoded.append(stored.topic)
        return real_decode(stored)

    monkeypatch.setattr(scheduling.app.mapper, "to_domain_event", counting_decode)
    scheduling.register_attendance("occ-1", 1, attendance(ids[:20]))
    assert decoded == []  # its own save of the first ten, and nothing else, came before
    other = scheduling_app.bootstrap(database_url)  # another process on the same store
    try:
        other.register_attendance("occ-1", 2, attendance(ids[:5]))
    finally:
        other.close()
    loaded = scheduling.occasion("occ-1")
    assert len(decoded) == 7  # the other's 5 attendances and 2 trainer days, no more
    assert loaded.attended == {1: set(ids[:20]), 2: set(ids[:5])}
    loaded.attended[1].clear()
    kept = scheduling.occasion("occ-1")
    assert kept.attended == {1: set(ids[:20]), 2: set(ids[:5])}
    newest_stored = scheduling.app.recorder.select_events(occasion_key("occ-1"), desc=True,
                                                          limit=1)
    assert kept.version == newest_stored[0].originator_version


def test_a_stale_write_is_decided_again_on_the_new_state(scheduling: Scheduling) -> None:
    """Two writers loaded the same version: the second is refused by the store and its
    command is decided again, so the occasion never takes more than its capacity."""
    scheduling.publish_catalogue()
    plan(scheduling, capacity=1)
    stale = scheduling.occasion("occ-1")
    book(scheduling, "occ-1", "p1")
    loads: list[Occasion] = [stale]
    real_load = scheduling.app.load

    def load_stale_first(cls: type, key: Any) -> Any:
        return loads.pop() if loads and key == occasion_key("occ-1") else real_load(cls, key)

    scheduling.app.load = load_stale_first  # type: ignore[method-assign]
    assert book(scheduling, "occ-1", "p2") == ("waitlisted", True)
    occasion = scheduling.occasion("occ-1")
    assert list(occasion.booked) == ["p1"] and list(occasion.waitlist) == ["p2"]


def test_a_write_that_keeps_losing_is_a_conflict(scheduling: Scheduling) -> None:
    scheduling.publish_catalogue()
    plan(scheduling, capacity=5)
    stale = scheduling.occasion("occ-1")
    book(scheduling, "occ-1", "p1")
    scheduling.attempts = 1
    scheduling.app.load = lambda cls, key: stale  # type: ignore[assignment, method-assign]
    with pytest.raises(Conflict) as e:
        book(scheduling, "occ-1", "p2")
    assert e.value.status == 409


def test_concurrent_bookings_never_overbook(scheduling: Scheduling) -> None:
    scheduling.publish_catalogue()
    plan(scheduling, capacity=5)
    registered(scheduling, *(f"p{i}" for i in range(12)))
    results: list[str] = []
    errors: list[Exception] = []

    def one(p: str) -> None:
        try:
            results.append(book(scheduling, "occ-1", p)[0])
        except Conflict as e:  # possible after repeated losses; never an overbooking
            errors.append(e)

    threads = [threading.Thread(target=one, args=(f"p{i}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    occasion = scheduling.occasion("occ-1")
    assert len(occasion.booked) == 5
    assert len(occasion.booked) + len(occasion.waitlist) == len(results)
    assert results.count("booked") == 5
    assert len(results) + len(errors) == 12


def test_only_what_the_registry_knows_is_booked_assigned_or_planned(
    scheduling: Scheduling,
) -> None:
    scheduling.publish_catalogue()
    plan(scheduling)
    before = newest(scheduling)
    with pytest.raises(NotFound) as e:  # never registered, or not arrived yet
        scheduling.book("occ-1", BookParticipant(participant_id="nobody"))
    assert e.value.field == "participant_id" and "inom några sekunder" in e.value.message
    with pytest.raises(NotFound) as e:
        scheduling.assign_trainer("occ-1", AssignTrainer(trainer_id="nobody", role="trainer"))
    assert e.value.field == "trainer_id"
    with pytest.raises(NotFound) as e:
        scheduling.plan_occasion(PlanOccasion.model_validate({
            "occasion_id": "occ-2", "course_id": "bou-ny-samtal", "region_id": "atlantis",
            "capacity": 5, "days": [{"day": 1, "date": "2025-03-10", "mode": "digital"},
                                    {"day": 2, "date": "2025-03-17", "mode": "digital"}]}))
    assert e.value.field == "region_id"
    registered(scheduling, "gone")
    feed(scheduling.runner(), contract.ParticipantErased(participant_id="gone"))
    with pytest.raises(Conflict) as e:
        scheduling.book("occ-1", BookParticipant(participant_id="gone"))
    assert e.value.field == "participant_id"
    assert newest(scheduling) == before


def test_the_municipality_booked_for_and_a_trainer_s_home_come_from_the_registry(
    scheduling: Scheduling,
) -> None:
    scheduling.publish_catalogue()
    plan(scheduling)
    registered(scheduling, "p-mora", municipality_id="mora")
    later = dt.datetime.now(dt.UTC)
    feed(scheduling.runner(), contract.ParticipantMoved(participant_id="p-mora",
                                                        to_municipality_id="falun"),
         occurred_at=later - dt.timedelta(days=400))  # an older move arriving late: ignored
    scheduling.book("occ-1", BookParticipant(participant_id="p-mora"))
    scheduling.assign_trainer("occ-1", AssignTrainer(trainer_id="ulf", role="trainer"))
    occasion = scheduling.occasion("occ-1")
    assert occasion.booked == {"p-mora": "mora"}
    assert occasion.team["ulf"].municipality_id == "mora"


def test_dates_outside_the_programme_s_window_are_refused() -> None:
    too_late = scheduling_app.latest_date() + dt.timedelta(days=1)
    for bad in ("2016-12-31", too_late.isoformat(), "9999-01-01"):
        with pytest.raises(ValueError) as e:
            PlanOccasion.model_validate({
                "course_id": "bou-ny-samtal", "region_id": "rss-dalarna", "capacity": 5,
                "days": [{"day": 1, "date": bad, "mode": "digital"}]})
        assert "days.0.date" in str(e.value) and "2017-01-01" in str(e.value)


def test_commands_on_one_occasion_go_one_at_a_time_from_load_to_save() -> None:
    """A second command on an occasion waits for the first's save (in a group of saves it
    would otherwise decide on the version before it and conflict); another occasion's does
    not wait, and nothing is kept once no command is on an occasion."""
    import threading

    from services.scheduling.application import Scheduling

    scheduling = Scheduling(app=None, view=None, known=None)  # type: ignore[arg-type]
    entered: list[str] = []
    first_in, release = threading.Event(), threading.Event()

    def command(name: str, occasion_id: str, hold: bool) -> None:
        with scheduling._one_at_a_time(occasion_id):
            entered.append(name)
            if hold:
                first_in.set()
                release.wait(5)

    first = threading.Thread(target=command, args=("first", "o1", True))
    first.start()
    assert first_in.wait(5)
    same = threading.Thread(target=command, args=("same", "o1", False))
    other = threading.Thread(target=command, args=("other", "o2", False))
    same.start()
    other.start()
    other.join(5)
    same.join(0.3)
    assert entered == ["first", "other"] and same.is_alive()
    release.set()
    for t in (first, same):
        t.join(5)
    assert entered == ["first", "other", "same"]
    assert scheduling._occasion_locks == {}
