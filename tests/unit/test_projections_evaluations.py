"""Evaluations per course: completions, responses, response rate and mean per question."""

from __future__ import annotations

import datetime as dt

from shared.events.models import (
    CourseDay,
    CourseDayAttended,
    CourseOccasionPlanned,
    CoursePublished,
    EvaluationSubmitted,
)
from shared.projections import Evaluations
from tests.unit.logs import BASE, LogBuilder, fold


def completing(log: LogBuilder, participants: int) -> None:
    log.add(CoursePublished(course_id="c1", journey="bou", level="ny", title="Våld och utsatthet"))
    log.add(
        CourseOccasionPlanned(
            occasion_id="o1",
            course_id="c1",
            region_id="r1",
            capacity=30,
            days=(CourseDay(day=1, date=dt.date(2024, 9, 3), mode="on_site"),),
        )
    )
    for n in range(participants):
        log.add(CourseDayAttended(participant_id=f"p{n}", occasion_id="o1", day=1))


def answered(respondent: str, answers: dict[str, int], course: str = "c1") -> EvaluationSubmitted:
    return EvaluationSubmitted(
        occasion_id="o1", course_id=course, respondent_id=respondent, answers=answers
    )


def test_rate_and_means_over_the_responses() -> None:
    log = LogBuilder()
    completing(log, 4)
    log.add(answered("p0", {"helhet": 5, "relevans": 4}))
    log.add(answered("p1", {"helhet": 4}))
    result = fold(Evaluations, log.events).result()
    assert result == {
        "courses": [
            {
                "course_id": "c1",
                "completions": 4,
                "responses": 2,
                "response_rate": 0.5,
                "mean_scores": {"helhet": 4.5, "relevans": 4.0},
                "by_mode": {
                    "on_site": {"responses": 2, "mean_scores": {"helhet": 4.5, "relevans": 4.0}}
                },
            }
        ]
    }


def test_a_respondent_counts_once_with_their_latest_answers() -> None:
    log = LogBuilder()
    completing(log, 1)
    log.add(answered("p0", {"helhet": 5}), BASE + dt.timedelta(hours=1))
    log.add(answered("p0", {"helhet": 2}), BASE)
    row = fold(Evaluations, log.events).result()["courses"][0]
    assert (row["responses"], row["response_rate"], row["mean_scores"]) == (1, 1.0, {"helhet": 5.0})


def test_responses_without_completions_have_a_rate_of_zero() -> None:
    log = LogBuilder()
    log.add(answered("p0", {"helhet": 3}, course="c9"))
    assert fold(Evaluations, log.events).result()["courses"] == [
        {
            "course_id": "c9",
            "completions": 0,
            "responses": 1,
            "response_rate": 0.0,
            "mean_scores": {"helhet": 3.0},
            "by_mode": {},  # its occasion is not planned: no mode yet
        }
    ]
