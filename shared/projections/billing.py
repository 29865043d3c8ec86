"""The facts the trainer pot and the invoices share: participant-days and trainer-days.

Both are counted per region and year the same way: the region of the occasion, the year of
that day's date in the occasion's plan. A reported day that the plan does not (yet) hold, an
occasion not yet planned, or a participant not yet registered leaves the day waiting: it counts
as soon as the missing fact arrives, because everything here is computed when a result is
asked for, from all facts held.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple, cast

from shared.events import Envelope
from shared.events.models import CourseDayAttended, TrainerDayDelivered
from shared.projections.attendance import Attendance
from shared.projections.dedupe import SeenIds
from shared.projections.memberships import Memberships
from shared.projections.occasions import Occasions, Plan
from shared.projections.prices import PriceLists
from shared.projections.versions import LatestBy, stamp_of

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


@dataclass(frozen=True, slots=True)
class TrainerPoints:
    points: Fraction
    municipality_id: str


class BillingFacts:
    """Participant-days, trainer-days, plans, memberships and price lists, folded."""

    def __init__(self) -> None:
        self._seen = SeenIds()
        self.occasions = Occasions()
        self.attendance = Attendance()
        self.memberships = Memberships()
        self.prices = PriceLists()
        self._trainer_days: LatestBy[TrainerDayKey, tuple[str, str]] = LatestBy()
        self._handlers: dict[str, Callable[[Envelope], object]] = {
            "CourseDayAttended": self._attended,
            "TrainerDayDelivered": self._delivered,
            "CourseOccasionPlanned": self.occasions.planned,
            "ParticipantRegistered": self.memberships.registered,
            "ParticipantMoved": self.memberships.moved,
            "PriceListSet": self.prices.price_list_set,
        }

    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        """Per event type this fold does anything with, the function that applies it, for a
        loop that needs no change report (replay): the same code as `apply`."""
        return dict.fromkeys(self._handlers, self.apply)  # apply: the id check first

    def apply(self, env: Envelope) -> bool:
        """Apply one event; True when it was new and is a billing fact."""
        handler = self._handlers.get(env.type)
        if handler is None or not self._seen.first_time(env):
            return False
        handler(env)
        return True

    def participant_days(self, region_id: str, year: int) -> Counter[str]:
        """Participant-days of a region and year, per municipality charged."""
        return Counter(d.municipality_id for d in self.counted_days(region_id, year))

    def counted_days(
        self, region_id: str | None = None, year: int | None = None
    ) -> Iterator[CountedDay]:
        """Every participant-day that counts (of one region and year, or all), with what it
        belongs to: the occasion's plan, the day's date and the municipality charged. The pot,
        the invoices and the national dashboard all count days here.

        Each day is charged to the municipality the participant belonged to at the
        attendance's `occurred_at` (see `Timeline.at` for an attendance older than every
        membership event).
        """
        plans = (self.occasions.plans.items() if region_id is None
                 else self.occasions.in_region(region_id))
        for occasion_id, plan in plans:
            dates = plan.dates
            if year is not None:
                dates = {d: date for d, date in dates.items() if date.year == year}
                if not dates:
                    continue
            for participant_id, attended in self.attendance.participants(occasion_id):
                for day, at in attended.items():
                    date = dates.get(day)
                    if date is not None:
                        municipality_id = self.memberships.at(participant_id, at)
                        if municipality_id is not None:
                            yield CountedDay(plan, participant_id, day, date, municipality_id)

    def trainer_points(self, region_id: str, year: int) -> dict[str, TrainerPoints]:
        """Points per trainer in a region and year, by the price list in force there.

        A trainer-day reported more than once counts once; the latest report (by
        `occurred_at`) gives its role and municipality. A trainer's share is credited to the
        municipality of the last course day they delivered in the year (by the day's date,
        then occasion and day): their home municipality as the year ended, whenever and
        however often each day was reported.
        """
        days_in_role: Counter[tuple[str, str]] = Counter()  # (trainer_id, role) -> days
        last_day: dict[str, tuple[DayOrder, str]] = {}
        for (trainer_id, occasion_id, day), (role, municipality_id) in self._trainer_days.items():
            plan = self.occasions.plan(occasion_id)
            if plan is None or plan.region_id != region_id:
                continue
            date = plan.dates.get(day)
            if date is None or date.year != year:
                continue
            days_in_role[trainer_id, role] += 1
            order = (date, occasion_id, day)
            if trainer_id not in last_day or last_day[trainer_id][0] < order:
                last_day[trainer_id] = (order, municipality_id)
        # the price list in force is the region's and year's, so each role earns the same
        # points on every day: count the days, then multiply (exact, and one Fraction a role)
        earned = {role: self.prices.points(region_id, year, role) for _, role in days_in_role}
        points: dict[str, Fraction] = {}
        for (trainer_id, role), days in days_in_role.items():
            points[trainer_id] = points.get(trainer_id, Fraction(0)) + days * earned[role]
        return {t: TrainerPoints(p, last_day[t][1]) for t, p in points.items()}

    def _attended(self, env: Envelope) -> None:
        data = cast(CourseDayAttended, env.data)
        self.attendance.attended(data.participant_id, data.occasion_id, data.day, env.occurred_at)

    def _delivered(self, env: Envelope) -> None:
        data = cast(TrainerDayDelivered, env.data)
        key = (data.trainer_id, data.occasion_id, data.day)
        self._trainer_days.offer(key, stamp_of(env), (data.role, data.municipality_id))


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
