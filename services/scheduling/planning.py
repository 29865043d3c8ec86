"""Planning support: how many occasions and trainers a region's next year needs.

The seeds describe it as a survey: the region asks its municipalities how many staff they have at
each level, and that decides how many course starts a year and how many trainers (the 4-day
course needs most). This is that calculation, as a pure function of the survey numbers, the
courses each level takes, and per course the places per occasion and the team an occasion needs.

Every participant at a level takes every course of that level (for Barn och unga Ny, the six
stops). Those who already completed a course are subtracted per course. A trainer team may give
more than one occasion a year (`occasions_per_team`); each team has its course leader among its
members and `reserves_per_team` reserves besides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CourseNeeds:
    """What planning needs to know of one course."""

    course_id: str
    title: str
    level: str
    days: int
    capacity: int
    team_size: int


@dataclass(frozen=True, slots=True)
class CoursePlan:
    course_id: str
    title: str
    level: str
    participants: int
    capacity: int
    occasions: int
    course_days: int
    participant_days: int
    teams: int
    trainers: int
    course_leaders: int
    reserves: int


@dataclass(frozen=True, slots=True)
class Estimate:
    courses: tuple[CoursePlan, ...]
    levels_without_courses: tuple[str, ...] = ()
    totals: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate(
    participants_per_level: Mapping[str, int],
    courses: Sequence[CourseNeeds],
    *,
    completed: Mapping[str, int] | None = None,
    occasions_per_team: int = 1,
    reserves_per_team: int = 1,
) -> Estimate:
    """Occasions, course days and trainers per course for the participants still to take it."""
    if occasions_per_team < 1:
        raise ValueError("occasions_per_team must be at least 1")
    completed = completed or {}
    plans = []
    for course in courses:
        surveyed = participants_per_level.get(course.level, 0)
        need = max(0, surveyed - completed.get(course.course_id, 0))
        occasions = math.ceil(need / course.capacity)
        teams = math.ceil(occasions / occasions_per_team)
        plans.append(CoursePlan(
            course_id=course.course_id, title=course.title, level=course.level,
            participants=need, capacity=course.capacity, occasions=occasions,
            course_days=occasions * course.days, participant_days=need * course.days,
            teams=teams, trainers=teams * course.team_size, course_leaders=teams,
            reserves=teams * reserves_per_team,
        ))
    levels = {c.level for c in courses}
    uncovered = tuple(sorted(lv for lv, n in participants_per_level.items()
                             if n > 0 and lv not in levels))
    totals = {key: sum(getattr(p, key) for p in plans)
              for key in ("occasions", "course_days", "participant_days", "trainers",
                          "course_leaders", "reserves")}
    return Estimate(tuple(plans), uncovered, totals)
