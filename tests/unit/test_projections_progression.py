"""Progression rows: state by latest occurred_at, completions by the completion rule."""

from __future__ import annotations

import datetime as dt

from shared.events.models import (
    CourseDay,
    CourseDayAttended,
    CourseOccasionPlanned,
    CoursePublished,
    ParticipantErased,
    ParticipantLevelChanged,
    ParticipantMoved,
    ParticipantRegistered,
)
from shared.projections import Progression
from tests.unit.logs import BASE, LogBuilder, fold

DAY = dt.timedelta(days=1)


def registered(participant_id: str = "p1", municipality_id: str = "m1") -> ParticipantRegistered:
    return ParticipantRegistered(
        participant_id=participant_id,
        municipality_id=municipality_id,
        journey="barn-och-unga",
        role="socialsekreterare",
        level="ny",
        years_in_profession=1.5,
    )


def one_day_course(course_id: str, occasion_id: str) -> list[object]:
    return [
        CoursePublished(course_id=course_id, journey="barn-och-unga", level="ny", title=course_id),
        CourseOccasionPlanned(
            occasion_id=occasion_id,
            course_id=course_id,
            region_id="r1",
            capacity=20,
            days=(CourseDay(day=1, date=dt.date(2024, 4, 2), mode="digital"),),
        ),
        CourseDayAttended(participant_id="p1", occasion_id=occasion_id, day=1),
    ]


def test_the_latest_occurred_at_wins_not_the_last_arrival() -> None:
    log = LogBuilder()
    log.add(registered(), BASE)
    log.add(ParticipantMoved(participant_id="p1", to_municipality_id="m3"), BASE + 2 * DAY)
    log.add(ParticipantMoved(participant_id="p1", to_municipality_id="m2"), BASE + DAY)
    log.add(ParticipantLevelChanged(participant_id="p1", level="erfaren"), BASE + 2 * DAY)
    log.add(ParticipantLevelChanged(participant_id="p1", level="van"), BASE + DAY)
    row = fold(Progression, log.events).participant("p1")
    assert row is not None
    assert (row["municipality_id"], row["level"]) == ("m3", "erfaren")


def test_completed_courses_are_sorted_and_each_completion_is_a_certificate() -> None:
    log = LogBuilder()
    log.add(registered())
    for data in (
        one_day_course("c2", "o1") + one_day_course("c1", "o2") + one_day_course("c2", "o3")
    ):
        log.add(data)  # type: ignore[arg-type]
    row = fold(Progression, log.events).participant("p1")
    assert row == {
        "participant_id": "p1",
        "municipality_id": "m1",
        "journey": "barn-och-unga",
        "level": "ny",
        "completed_courses": ["c1", "c2"],
        "certificates": 3,
    }


def test_only_registered_participants_are_listed_and_erasure_keeps_the_row() -> None:
    log = LogBuilder()
    log.add(registered("p2"))
    log.add(registered("p1"))
    log.add(ParticipantErased(participant_id="p2"))
    log.add(ParticipantMoved(participant_id="p9", to_municipality_id="m1"))
    result = fold(Progression, log.events).result()
    assert [row["participant_id"] for row in result["participants"]] == ["p1", "p2"]


def test_apply_names_the_participants_whose_row_changed() -> None:
    log = LogBuilder()
    progression = Progression()
    assert progression.apply(log.add(registered())) == {"p1"}
    events = [log.add(data) for data in one_day_course("c1", "o1")]  # type: ignore[arg-type]
    assert [progression.apply(e) for e in events] == [set(), set(), {"p1"}]
    assert progression.apply(events[-1]) == frozenset()
    assert progression.participant("p1")["certificates"] == 1  # type: ignore[index]
