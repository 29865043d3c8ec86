"""Planning support: how many occasions and trainers a region's next year needs.

The seeds describe it as a survey: the region asks its municipalities how many staff they have at
each level, and that decides how many course starts a year and how many trainers (the 4-day
course needs most). This is that calculation, as a pure function of the survey numbers, the
courses each level takes, and per course the places per occasion and the team an occasion needs.

Every participant at a level takes every course of that level (for Barn och unga Ny, the six
stops). Those who already completed a course are subtracted per course. A trainer team may give
more than one occasion a year (`occasions_per_team`); each team has its course leader among its
members and `reserves_per_team` reserves besides.

From the bus, the same calculation starts from who is registered instead of the survey's
numbers: per course, the participants of the region at its level (now: moves and level changes
followed, erased participants left out, since they can no longer be booked), less those who
completed it (as certification decided, while their certificate stands) and those booked on an
occasion of it that is not cancelled and not yet over. Someone on a waitlist, or booked on an
occasion that is over without completing it, still needs the course. The coordinator compares
the two side by side.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
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


# --- from the bus -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CourseDemand:
    """Who still needs one course, as the bus tells: the participants of the region at its
    level, less those who completed it and those booked on an occasion of it still to come."""

    course_id: str
    level: str
    registered: int
    completed: int
    booked: int
    waitlisted: int
    """Among those still needing it: in the queue of an occasion of it (they count as needing)."""

    @property
    def covered(self) -> int:
        return self.completed + self.booked


def demand(
    levels: Mapping[str, str],
    courses: Sequence[CourseNeeds],
    *,
    completed: Collection[tuple[str, str]],
    booked: Collection[tuple[str, str]],
    waitlisted: Collection[tuple[str, str]],
) -> tuple[CourseDemand, ...]:
    """Per course: of the participants at its level (`levels`: participant -> level), how many
    completed it, how many of the rest are booked on an occasion of it still to come, and how
    many of those left are on a waitlist for it. Pairs are (participant, course)."""
    out = []
    for course in courses:
        at_level = [p for p, level in levels.items() if level == course.level]
        done = [p for p in at_level if (p, course.course_id) in completed]
        left = [p for p in at_level if (p, course.course_id) not in completed]
        seated = [p for p in left if (p, course.course_id) in booked]
        queued = [p for p in left if (p, course.course_id) in waitlisted
                  and (p, course.course_id) not in booked]
        out.append(CourseDemand(course.course_id, course.level, len(at_level), len(done),
                                len(seated), len(queued)))
    return tuple(out)


def estimate_from_bus(
    levels: Mapping[str, str],
    courses: Sequence[CourseNeeds],
    needs: Sequence[CourseDemand],
    *,
    occasions_per_team: int = 1,
    reserves_per_team: int = 1,
) -> Estimate:
    """`estimate` with the bus's numbers: the participants at each level, less those covered
    per course (completed or booked)."""
    per_level: dict[str, int] = {}
    for level in levels.values():
        per_level[level] = per_level.get(level, 0) + 1
    return estimate(per_level, courses, completed={d.course_id: d.covered for d in needs},
                    occasions_per_team=occasions_per_team, reserves_per_team=reserves_per_team)


FIGURES = ("participants", "occasions", "course_days", "participant_days", "trainers",
           "course_leaders", "reserves")


def side_by_side(survey: Estimate, bus: Estimate,
                 needs: Sequence[CourseDemand]) -> dict[str, Any]:
    """The survey's estimate and the bus's, per course and in total, with the difference
    (bus - survey) of every figure."""
    by_course = {p.course_id: p for p in survey.courses}
    found = {d.course_id: d for d in needs}
    courses = []
    for plan in bus.courses:
        asked = by_course[plan.course_id]
        figures = {"survey": {f: getattr(asked, f) for f in FIGURES},
                   "bus": {f: getattr(plan, f) for f in FIGURES}}
        courses.append({
            "course_id": plan.course_id, "title": plan.title, "level": plan.level,
            **figures, "difference": _difference(figures["survey"], figures["bus"]),
            "from_the_bus": _counts(found[plan.course_id])})
    totals = {"survey": survey.totals, "bus": bus.totals}
    return {"courses": courses,
            "totals": {**totals, "difference": _difference(survey.totals, bus.totals)},
            "levels_without_courses": {"survey": list(survey.levels_without_courses),
                                       "bus": list(bus.levels_without_courses)}}


def with_counts(bus: Estimate, needs: Sequence[CourseDemand]) -> dict[str, Any]:
    """The bus's estimate as a document, each course with the counts behind it."""
    found = {d.course_id: d for d in needs}
    out = bus.to_dict()
    for course in out["courses"]:
        course["from_the_bus"] = _counts(found[course["course_id"]])
    return out


def _counts(d: CourseDemand) -> dict[str, int]:
    return {"registered": d.registered, "completed": d.completed, "booked": d.booked,
            "waitlisted": d.waitlisted}


def _difference(survey: Mapping[str, int], bus: Mapping[str, int]) -> dict[str, int]:
    return {k: bus[k] - survey[k] for k in bus}
