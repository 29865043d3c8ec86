"""Course occasions as planned: which course, which region, and the date of each day.

Completions need the days of an occasion, billing needs its region and the year of each day;
both read them here. A re-planned occasion follows the latest `CourseOccasionPlanned`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from shared.events import Envelope
from shared.events.models import CourseOccasionPlanned
from shared.projections.attendance import day_bits
from shared.projections.versions import LatestBy, stamp_of


@dataclass(frozen=True, slots=True)
class Plan:
    occasion_id: str
    course_id: str
    region_id: str
    dates: dict[int, dt.date]
    day_bits: int
    """The occasion's days as `AttendedDays` keeps a participant's, to compare in one step."""


class Occasions:
    """The plan in force for every occasion, with indexes by course and by region."""

    __slots__ = ("_by_course", "_plans")

    def __init__(self) -> None:
        self._plans: LatestBy[str, Plan] = LatestBy()
        self._by_course: dict[str, set[str]] = {}

    def planned(self, env: Envelope) -> Plan | None:
        """Apply a `CourseOccasionPlanned`; the new plan if it is now the one in force."""
        data = cast(CourseOccasionPlanned, env.data)
        dates = {d.day: d.date for d in data.days}
        plan = Plan(data.occasion_id, data.course_id, data.region_id, dates, day_bits(dates))
        old = self._plans.get(data.occasion_id)
        if not self._plans.offer(data.occasion_id, stamp_of(env), plan):
            return None
        if old is not None and old.course_id != plan.course_id:
            self._by_course[old.course_id].discard(data.occasion_id)
        self._by_course.setdefault(plan.course_id, set()).add(data.occasion_id)
        return plan

    def plan(self, occasion_id: str) -> Plan | None:
        return self._plans.values.get(occasion_id)

    @property
    def plans(self) -> dict[str, Plan]:
        """occasion_id -> the plan in force; read-only, for readers on a hot path."""
        return self._plans.values

    def of_course(self, course_id: str) -> set[str]:
        return self._by_course.get(course_id, set())

    def in_region(self, region_id: str) -> Iterator[tuple[str, Plan]]:
        for occasion_id, plan in self._plans.values.items():
            if plan.region_id == region_id:
                yield occasion_id, plan
