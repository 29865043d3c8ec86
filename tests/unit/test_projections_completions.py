"""The completion rule: every day attended and every mandatory preparation done, in any order."""

from __future__ import annotations

import datetime as dt

from shared.events.models import (
    CertificateIssued,
    CourseCompleted,
    CourseDay,
    CourseDayAttended,
    CourseOccasionPlanned,
    CoursePublished,
    DeepeningSubmitted,
    Preparation,
    PreparationCompleted,
)
from shared.projections import Completions
from tests.unit.logs import BASE, LogBuilder

LATER = BASE + dt.timedelta(days=1)


def course(mandatory: tuple[str, ...] = ("handbok",), optional: tuple[str, ...] = ("film",)):
    return CoursePublished(
        course_id="c1",
        journey="bou",
        level="ny",
        title="Samtal och delaktighet",
        preparations=tuple(Preparation(item_id=i, title=i, mandatory=True) for i in mandatory)
        + tuple(Preparation(item_id=i, title=i, mandatory=False) for i in optional),
    )


def occasion(days: int = 2, occasion_id: str = "o1") -> CourseOccasionPlanned:
    return CourseOccasionPlanned(
        occasion_id=occasion_id,
        course_id="c1",
        region_id="r1",
        capacity=20,
        days=tuple(
            CourseDay(day=d, date=dt.date(2024, 3, d), mode="on_site") for d in range(1, days + 1)
        ),
    )


def attended(day: int, occasion_id: str = "o1", participant_id: str = "p1") -> CourseDayAttended:
    return CourseDayAttended(participant_id=participant_id, occasion_id=occasion_id, day=day)


def prepared(item: str) -> PreparationCompleted:
    return PreparationCompleted(participant_id="p1", course_id="c1", item_id=item)


def test_all_days_and_mandatory_preparations_complete_the_course() -> None:
    log = LogBuilder()
    completions = Completions()
    for data in (course(), occasion(), prepared("handbok"), attended(1)):
        assert completions.apply(log.add(data)) == []
    assert completions.apply(log.add(attended(2))) == [("p1", "c1", "o1")]
    assert completions.completed == {("p1", "c1", "o1")}


def test_optional_preparations_and_deepening_tasks_are_not_needed() -> None:
    log = LogBuilder()
    for data in (course(), occasion(), prepared("handbok"), attended(1), attended(2)):
        log.add(data)
    log.add(DeepeningSubmitted(participant_id="p1", course_id="c1", task_id="t"))
    completions = Completions()
    for env in log.events:
        completions.apply(env)
    assert completions.completed == {("p1", "c1", "o1")}


def test_a_missing_day_or_mandatory_preparation_means_no_completion() -> None:
    absent, unprepared = LogBuilder(), LogBuilder()
    for data in (course(), occasion(), prepared("handbok"), attended(1)):
        absent.add(data)
    for data in (course(), occasion(), prepared("film"), attended(1), attended(2)):
        unprepared.add(data)
    for log in (absent, unprepared):
        completions = Completions()
        for env in log.events:
            completions.apply(env)
        assert completions.completed == set()


def test_a_completion_waits_for_the_plan_and_the_course_and_is_reported_once() -> None:
    log = LogBuilder()
    completions = Completions()
    for data in (attended(1), attended(2), prepared("handbok"), occasion()):
        assert completions.apply(log.add(data)) == []
    published = log.add(course())
    assert completions.apply(published) == [("p1", "c1", "o1")]
    assert completions.apply(published) == []  # redelivered
    assert completions.apply(log.add(attended(2))) == []  # the same day reported again


def test_derived_events_alone_complete_nothing() -> None:
    log = LogBuilder()
    completions = Completions()
    completions.apply(
        log.add(CourseCompleted(participant_id="p1", course_id="c1", occasion_id="o1"))
    )
    completions.apply(
        log.add(
            CertificateIssued(
                certificate_id="x", participant_id="p1", course_id="c1", occasion_id="o1"
            )
        )
    )
    assert completions.completed == set()


def test_a_course_republished_with_more_mandatory_preparations_retracts_the_completion() -> None:
    log = LogBuilder()
    completions = Completions()
    for data in (course(), occasion(days=1), prepared("handbok"), attended(1)):
        completions.apply(log.add(data))
    assert completions.completed == {("p1", "c1", "o1")}
    changes = completions.changes(log.add(course(mandatory=("handbok", "podd")), LATER))
    assert changes.removed == (("p1", "c1", "o1"),)
    assert completions.completed == set()
    assert completions.apply(log.add(prepared("podd"))) == [("p1", "c1", "o1")]


def test_an_older_publication_arriving_late_does_not_override_the_newer() -> None:
    log = LogBuilder()
    completions = Completions()
    completions.apply(log.add(course(mandatory=("handbok",)), LATER))
    completions.apply(log.add(course(mandatory=("handbok", "podd")), BASE))
    for data in (occasion(days=1), prepared("handbok"), attended(1)):
        completions.apply(log.add(data))
    assert completions.completed == {("p1", "c1", "o1")}


def test_each_occasion_is_its_own_completion() -> None:
    log = LogBuilder()
    for data in (course(), occasion(1, "o1"), occasion(1, "o2"), prepared("handbok")):
        log.add(data)
    log.add(attended(1, "o1"))
    log.add(attended(1, "o2"))
    completions = Completions()
    for env in log.events:
        completions.apply(env)
    assert completions.completed == {("p1", "c1", "o1"), ("p1", "c1", "o2")}
    assert completions.per_course() == {"c1": 2}
    assert completions.result()["completions"][0] == {
        "participant_id": "p1",
        "course_id": "c1",
        "occasion_id": "o1",
    }
