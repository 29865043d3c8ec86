"""The facts the trainer pot and the invoices share: participant-days and trainer-days.

Both are counted per region and year the same way: the region of the occasion, the year of
that day's date in the occasion's latest plan (a day the latest plan does not have counts for
nothing; a cancelled occasion keeps its days). A reported day that the plan does not (yet)
hold, an occasion not yet planned, or a participant not yet registered leaves the day waiting:
it counts as soon as the missing fact arrives, because everything here is computed when a
result is asked for, from all facts held. A withdrawn participant-day counts nowhere.

Closed years (CONTRACT.md v1.1): `YearClosed` recorded at T (the earliest, if closed twice)
freezes a region's year to the *closed view*, the log restricted to the events recorded not
after T. Every reading here takes a `cutoff`: None for the whole log, T for the closed view;
so each fact is kept with its recording time (`recorded_at`, else `occurred_at`).
`TrainerUnassigned` changes nothing here: points are earned per day delivered, and a trainer
taken off a team keeps the days they gave.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from sys import intern
from typing import NamedTuple, cast

from shared.events import Envelope
from shared.events.models import (
    AttendanceWithdrawn,
    CourseDayAttended,
    TrainerDayDelivered,
    YearClosed,
)
from shared.projections.attendance import Attendance
from shared.projections.memberships import Memberships
from shared.projections.occasions import Occasions, Plan
from shared.projections.prices import PriceLists
from shared.projections.versions import AsOfMap, packed_stamp, recorded_instant, recorded_of

TrainerDayKey = tuple[str, str, int]
"""(trainer_id, occasion_id, day): a trainer earns points for it once."""
DayOrder = tuple[dt.date, str, int]
"""(date, occasion_id, day): course days in the order they were given."""


class CountedDay(NamedTuple):
    """One participant-day that counts."""

    plan: Plan
    participant_id: str
    day: int
    date: dt.date
    municipality_id: str


class TrainerDay(NamedTuple):
    """One trainer-day that earns points: the latest report's role and municipality."""

    plan: Plan
    trainer_id: str
    day: int
    date: dt.date
    role: str
    municipality_id: str


@dataclass(frozen=True, slots=True)
class TrainerPoints:
    points: Fraction
    municipality_id: str


class BillingFacts:
    """Participant-days, trainer-days, plans, memberships and price lists, folded."""

    # While `memo()` is open, what `counted_days` found, by its arguments (a class default:
    # folds pickled before it existed load with none).
    _memo: dict[tuple[str | None, int | None, dt.datetime | None], list[CountedDay]] | None = None

    def __init__(self) -> None:
        self.occasions = Occasions()
        self.attendance = Attendance()
        self.memberships = Memberships()
        self.prices = PriceLists()
        self._trainer_days: AsOfMap[TrainerDayKey, tuple[str, str]] = AsOfMap()
        self._closed: dict[tuple[str, int], dt.datetime] = {}  # (region, year) -> close
        self._handlers: dict[str, Callable[[Envelope], object]] = {
            "CourseDayAttended": self._attended,
            "AttendanceWithdrawn": self._withdrawn,
            "TrainerDayDelivered": self._delivered,
            "CourseOccasionPlanned": self.occasions.planned,
            "CourseOccasionRescheduled": self.occasions.rescheduled,
            "ParticipantRegistered": self.memberships.registered,
            "ParticipantMoved": self.memberships.moved,
            "PriceListSet": self.prices.price_list_set,
            "YearClosed": self._year_closed,
        }

    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        """Per event type this fold does anything with, the function that applies it, for a
        loop that needs no change report (replay): the same code as `apply`."""
        return dict.fromkeys(self._handlers, self.apply)

    @property
    def fact_handlers(self) -> dict[str, Callable[[Envelope], object]]:
        """The handler per fact type (the demo log generator's loop calls them)."""
        return dict(self._handlers)

    def apply(self, env: Envelope) -> bool:
        """Apply one event (again: it changes nothing, see `shared.projections`);
        True when it is a billing fact."""
        handler = self._handlers.get(env.type)
        if handler is None:
            return False
        handler(env)
        return True

    def closed_at(self, region_id: str, year: int) -> dt.datetime | None:
        """When the region's year was closed (the earliest `YearClosed`'s recording time), or
        None while it is open."""
        return self._closed.get((region_id, year))

    def participant_days(
        self, region_id: str, year: int, cutoff: dt.datetime | None = None
    ) -> Counter[str]:
        """Participant-days of a region and year, per municipality charged, in the whole log
        or (with a `cutoff`) in the log as recorded by then."""
        return Counter(d.municipality_id for d in self.counted_days(region_id, year, cutoff))

    @contextmanager
    def memo(self) -> Iterator[None]:
        """For one read that counts the same days more than once (an invoice basis folds the
        region's document, its pot and the municipality's lines: three passes over every
        participant-day), `counted_days` counts once. Nothing may be applied meanwhile: the
        readers hold the fold's lock. Re-entrant: an inner `memo()` shares the outer's."""
        if self._memo is not None:
            yield
            return
        self._memo = {}
        try:
            yield
        finally:
            self._memo = None

    def counted_days(
        self, region_id: str | None = None, year: int | None = None,
        cutoff: dt.datetime | None = None,
    ) -> Iterator[CountedDay]:
        """Every participant-day that counts (of one region and year, or all), with what it
        belongs to: the occasion's plan, the day's date and the municipality charged; in the
        whole log, or (with a `cutoff`) in the log as recorded by then. The pot, the invoices
        and the national dashboard all count days here.

        Each day is charged to the municipality the participant belonged to at the
        attendance's `occurred_at` (see `Timeline.at` for an attendance older than every
        membership event).
        """
        if self._memo is None:
            return self._counted_days(region_id, year, cutoff)
        days = self._memo.get((region_id, year, cutoff))
        if days is None:
            days = self._memo[region_id, year, cutoff] = list(
                self._counted_days(region_id, year, cutoff))
        return iter(days)

    def _counted_days(
        self, region_id: str | None, year: int | None, cutoff: dt.datetime | None,
    ) -> Iterator[CountedDay]:
        plans = (self.occasions.plans.items() if region_id is None and cutoff is None
                 else self.occasions.in_region(region_id, cutoff))
        for _, plan in plans:
            yield from self._days_on(plan, year, cutoff)

    def counted_days_on(
        self, occasion_id: str, region_id: str, year: int, cutoff: dt.datetime | None = None,
    ) -> Iterator[CountedDay]:
        """What `counted_days(region_id, year, cutoff)` holds of one occasion: for a reader
        that recounts one occasion at a time (the national dashboard's pot so far)."""
        plan = self.occasions.plan(occasion_id, cutoff)
        if plan is not None and plan.region_id == region_id:
            yield from self._days_on(plan, year, cutoff)

    def _days_on(
        self, plan: Plan, year: int | None, cutoff: dt.datetime | None,
    ) -> Iterator[CountedDay]:
        dates = plan.dates
        if year is not None:
            dates = {d: date for d, date in dates.items() if date.year == year}
            if not dates:
                return
        for participant_id, day, at in self.attendance.counted(plan.occasion_id, cutoff):
            date = dates.get(day)
            if date is not None:
                municipality_id = self.memberships.at(participant_id, at, cutoff)
                if municipality_id is not None:
                    yield CountedDay(plan, participant_id, day, date, municipality_id)

    def counted_days_of(
        self, participant_id: str, occasion_ids: Iterable[str]
    ) -> Iterator[CountedDay]:
        """The participant-days of one participant that count (in the whole log), on the
        given occasions (those they attended): what `counted_days` holds of them, for a reader
        that follows one participant at a time (the national dashboard)."""
        for occasion_id in occasion_ids:
            plan = self.occasions.plan(occasion_id)
            if plan is None:
                continue
            for _, day, at in self.attendance.counted(occasion_id, None, participant_id):
                date = plan.dates.get(day)
                if date is not None:
                    municipality_id = self.memberships.at(participant_id, at)
                    if municipality_id is not None:
                        yield CountedDay(plan, participant_id, day, date, municipality_id)

    def trainer_points(
        self, region_id: str, year: int, cutoff: dt.datetime | None = None
    ) -> dict[str, TrainerPoints]:
        """Points per trainer in a region and year, by the price list in force there.

        A trainer-day reported more than once counts once; the latest report (by
        `occurred_at`) gives its role and municipality. A trainer's share is credited to the
        municipality of the last course day they delivered in the year (by the day's date,
        then occasion and day): their home municipality as the year ended, whenever and
        however often each day was reported. With a `cutoff`, only the days recorded by then
        earn (a closed year's view).
        """
        days_in_role: Counter[tuple[str, str]] = Counter()  # (trainer_id, role) -> days
        last_day: dict[str, tuple[DayOrder, str]] = {}
        for d in self.trainer_days(region_id, year, cutoff):
            days_in_role[d.trainer_id, d.role] += 1
            order = (d.date, d.plan.occasion_id, d.day)
            if d.trainer_id not in last_day or last_day[d.trainer_id][0] < order:
                last_day[d.trainer_id] = (order, d.municipality_id)
        # the price list in force is the region's and year's, so each role earns the same
        # points on every day: count the days, then multiply (exact, and one Fraction a role)
        earned = {role: self.prices.points(region_id, year, role, cutoff)
                  for _, role in days_in_role}
        points: dict[str, Fraction] = {}
        for (trainer_id, role), days in days_in_role.items():
            points[trainer_id] = points.get(trainer_id, Fraction(0)) + days * earned[role]
        return {t: TrainerPoints(p, last_day[t][1]) for t, p in points.items()}

    def trainer_days(
        self, region_id: str | None, year: int, cutoff: dt.datetime | None = None
    ) -> Iterator[TrainerDay]:
        """Every trainer-day that earns points in a region (None: every region) and year: a
        day the occasion's plan holds, in the year of its date; in the whole log, or (with a
        `cutoff`) in the log as recorded by then. Each (trainer, occasion, day) once."""
        plans: dict[str, Plan | None] = {}
        for (trainer_id, occasion_id, day), delivered in self._trainer_days.latest_of_each(cutoff):
            role, municipality_id = delivered
            if occasion_id not in plans:
                plans[occasion_id] = self.occasions.plan(occasion_id, cutoff)
            plan = plans[occasion_id]
            if plan is None or (region_id is not None and plan.region_id != region_id):
                continue
            date = plan.dates.get(day)
            if date is None or date.year != year:
                continue
            yield TrainerDay(plan, trainer_id, day, date, role, municipality_id)

    def _attended(self, env: Envelope) -> None:
        data = cast(CourseDayAttended, env.data)
        # interned: the fold keeps one string per participant and occasion, not the copies
        # of the events that came first to each of its (occasion, participant) entries
        self.attendance.attended(intern(data.participant_id), intern(data.occasion_id),
                                 data.day, env.occurred_at, env.recorded_at)

    def _withdrawn(self, env: Envelope) -> None:
        data = cast(AttendanceWithdrawn, env.data)
        self.attendance.withdrawn(data.participant_id, data.occasion_id, data.day,
                                  recorded_of(env))

    def _delivered(self, env: Envelope) -> None:
        data = cast(TrainerDayDelivered, env.data)
        key = (data.trainer_id, data.occasion_id, data.day)
        if key not in self._trainer_days:  # the ids and names interned: a few thousand
            key = (intern(data.trainer_id), intern(data.occasion_id), data.day)
        self._trainer_days.offer(key, packed_stamp(env), recorded_instant(env),
                                 (intern(data.role), intern(data.municipality_id)))

    def _year_closed(self, env: Envelope) -> None:
        data = cast(YearClosed, env.data)
        key, recorded = (data.region_id, data.year), recorded_of(env)
        held = self._closed.get(key)
        if held is None or recorded < held:
            self._closed[key] = recorded


class OnBillingFacts:
    """A fold that reads the billing facts (pot, invoices): it applies what they apply."""

    def __init__(self) -> None:
        self.facts = BillingFacts()

    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        return self.facts.appliers

    def apply(self, env: Envelope) -> bool:
        """Apply one event; True when it was new and is a billing fact."""
        return self.facts.apply(env)
