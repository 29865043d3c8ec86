"""Course occasions as planned: which course, which region, the date and mode of each day.

Completions need the days of an occasion, billing needs its region and the year of each day,
evaluations its mode; all read them here. The rule (CONTRACT.md v1.1, re-planned and cancelled
occasions): an occasion's days are those of its latest plan, `CourseOccasionPlanned` or
`CourseOccasionRescheduled`, the latest `occurred_at` winning; its course and region are those
of the latest `CourseOccasionPlanned` (a re-plan moves days, not the course). A cancelled
occasion stays cancelled, whatever the order of the events: nobody completes it, and the days
reported for it still count for billing.

A closed year reads the plans as recorded by its close (`plan(occasion_id, cutoff)`), so every
plan event is kept with its recording time (`AsOfMap`); an occasion has one or a few.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from sys import intern
from typing import cast

from shared.events import Envelope
from shared.events.models import (
    CourseDay,
    CourseOccasionCancelled,
    CourseOccasionPlanned,
    CourseOccasionRescheduled,
)
from shared.projections.attendance import day_bits
from shared.projections.versions import AsOfMap, packed_stamp, recorded_instant, recorded_of

Schedule = tuple[tuple[int, dt.date, str], ...]
"""An occasion's days as a plan gives them: (day, date, mode), by day."""


def occasion_mode(modes: Iterable[str]) -> str:
    """`on_site` when every day is on site, `digital` when every day is digital, else `mixed`."""
    held = set(modes)
    return held.pop() if len(held) == 1 else "mixed"


@dataclass(frozen=True, slots=True)
class Plan:
    occasion_id: str
    course_id: str
    region_id: str
    dates: dict[int, dt.date]
    day_bits: int
    """The occasion's days as `AttendedDays` keeps a participant's, to compare in one step."""
    mode: str = "on_site"
    """`on_site`, `digital` or `mixed` (`occasion_mode`)."""
    cancelled: bool = False


def _schedule(days: Iterable[CourseDay]) -> Schedule:
    return tuple(sorted((d.day, d.date, intern(d.mode)) for d in days))


def _plan(occasion_id: str, setup: tuple[str, str], schedule: Schedule, cancelled: bool) -> Plan:
    dates = {day: date for day, date, _ in schedule}
    mode = occasion_mode(mode for _, _, mode in schedule)
    return Plan(occasion_id, setup[0], setup[1], dates, day_bits(dates), mode, cancelled)


class Occasions:
    """The plan in force for every occasion, with indexes by course and by region."""

    __slots__ = ("_by_course", "_cancelled", "_plans", "_schedules", "_setups")

    def __init__(self) -> None:
        self._setups: AsOfMap[str, tuple[str, str]] = AsOfMap()  # (course_id, region_id)
        self._schedules: AsOfMap[str, Schedule] = AsOfMap()
        self._cancelled: dict[str, dt.datetime] = {}  # occasion -> earliest recording time
        self._plans: dict[str, Plan] = {}  # the plan in force in the whole log
        self._by_course: dict[str, set[str]] = {}

    def planned(self, env: Envelope) -> Plan | None:
        """Apply a `CourseOccasionPlanned`; the plan in force if it changed, else None."""
        data = cast(CourseOccasionPlanned, env.data)
        stamp, recorded = packed_stamp(env), recorded_instant(env)
        # interned: the one string of each occasion, course and region that every fold and
        # index keeps (the plan's, and the attendance's and certificates' beside it)
        occasion_id = intern(data.occasion_id)
        self._setups.offer(occasion_id, stamp, recorded,
                           (intern(data.course_id), intern(data.region_id)))
        self._offer_schedule(occasion_id, stamp, recorded, _schedule(data.days))
        return self._refresh(occasion_id)

    def rescheduled(self, env: Envelope) -> Plan | None:
        """Apply a `CourseOccasionRescheduled`; the plan in force if it changed, else None."""
        data = cast(CourseOccasionRescheduled, env.data)
        occasion_id = intern(data.occasion_id)
        self._offer_schedule(occasion_id, packed_stamp(env), recorded_instant(env),
                             _schedule(data.days))
        return self._refresh(occasion_id)

    def cancelled(self, env: Envelope) -> Plan | None:
        """Apply a `CourseOccasionCancelled`; the plan in force if it changed, else None."""
        occasion_id = intern(cast(CourseOccasionCancelled, env.data).occasion_id)
        recorded = recorded_of(env)
        held = self._cancelled.get(occasion_id)
        if held is None or recorded < held:
            self._cancelled[occasion_id] = recorded
        return self._refresh(occasion_id)

    def _offer_schedule(
        self, occasion_id: str, stamp: int, recorded: int,
        schedule: Schedule,
    ) -> None:
        self._schedules.offer(occasion_id, stamp, recorded, schedule)

    def _refresh(self, occasion_id: str) -> Plan | None:
        """Rebuild the plan in force from what is held; it, when it changed."""
        plan = self._plan_as_of(occasion_id, None)
        old = self._plans.get(occasion_id)
        if plan is None or plan == old:
            return None
        self._plans[occasion_id] = plan
        if old is not None and old.course_id != plan.course_id:
            self._by_course[old.course_id].discard(occasion_id)
        self._by_course.setdefault(plan.course_id, set()).add(occasion_id)
        return plan

    def _plan_as_of(self, occasion_id: str, cutoff: dt.datetime | None) -> Plan | None:
        setup = self._setups.latest(occasion_id, cutoff)
        schedule = self._schedules.latest(occasion_id, cutoff)
        if setup is None or schedule is None:
            return None
        cancelled_at = self._cancelled.get(occasion_id)
        cancelled = cancelled_at is not None and (cutoff is None or cancelled_at <= cutoff)
        plan = _plan(occasion_id, setup, schedule, cancelled)
        held = self._plans.get(occasion_id)
        return held if held == plan else plan  # keep one object (and its strings) per plan

    def plan(self, occasion_id: str, cutoff: dt.datetime | None = None) -> Plan | None:
        """The plan in force in the whole log, or (with a `cutoff`) as recorded by then."""
        if cutoff is None:
            return self._plans.get(occasion_id)
        return self._plan_as_of(occasion_id, cutoff)

    @property
    def plans(self) -> dict[str, Plan]:
        """occasion_id -> the plan in force; read-only, for readers on a hot path."""
        return self._plans

    def of_course(self, course_id: str) -> set[str]:
        return self._by_course.get(course_id, set())

    def in_region(
        self, region_id: str | None, cutoff: dt.datetime | None = None
    ) -> Iterator[tuple[str, Plan]]:
        """The occasions of a region (None: of every region) with their plans, in the whole
        log or as recorded by `cutoff`."""
        if cutoff is None:
            for occasion_id, plan in self._plans.items():
                if region_id is None or plan.region_id == region_id:
                    yield occasion_id, plan
            return
        for occasion_id in self._setups:
            as_of = self._plan_as_of(occasion_id, cutoff)
            if as_of is not None and (region_id is None or as_of.region_id == region_id):
                yield occasion_id, as_of

