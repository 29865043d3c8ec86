"""What the notification process knows from the bus: people by id, never by address.

Course titles and preparations, occasions' plans, bookings, preparations done, memberships,
completions and erasures are folded from contract events. Addresses are not on the bus (ADR
0005): they are asked of enrolment when a message is sent.

The fold gives the same state for any delivery order (the restore after a restart reads the
applied envelopes in no particular order): where a fact changes over time, the event with the
latest `occurred_at` wins (`LatestBy`, the contract's rule, written once in
`shared/projections/versions.py`), and a participant's municipality is the shared
`Memberships` fold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from shared.events import Envelope
from shared.events import models as m
from shared.projections.memberships import Memberships
from shared.projections.versions import LatestBy, Stamp, stamp_of


@dataclass(frozen=True, slots=True)
class Course:
    course_id: str
    title: str
    mandatory: tuple[tuple[str, str], ...]
    """(item_id, title) of each mandatory preparation, in the published order."""


@dataclass(frozen=True, slots=True)
class Day:
    day: int
    date: dt.date
    mode: str
    venue: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day, "date": self.date.isoformat(), "mode": self.mode,
                "venue": self.venue}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Day:
        return cls(int(d["day"]), dt.date.fromisoformat(d["date"]), d["mode"], d.get("venue"))


@dataclass(frozen=True, slots=True)
class Plan:
    """An occasion's plan in force. `sequence` numbers the plans of the occasion (0 for the
    first): the iCalendar SEQUENCE of its course days, higher with every re-plan."""

    occasion_id: str
    course_id: str
    region_id: str
    days: tuple[Day, ...]
    sequence: int = 0

    @property
    def first_day(self) -> dt.date:
        return min(d.date for d in self.days)

    @property
    def last_day(self) -> dt.date:
        return max(d.date for d in self.days)


@dataclass(frozen=True, slots=True)
class Booking:
    booked: bool
    at: dt.datetime


def _days(days: tuple[m.CourseDay, ...]) -> tuple[Day, ...]:
    return tuple(Day(d.day, d.date, str(d.mode), d.venue) for d in days)


class Facts:
    """The fold. Each handler applies one event type; `apply` skips the others."""

    def __init__(self) -> None:
        self.courses: LatestBy[str, Course] = LatestBy()
        self.municipality_names: LatestBy[str, str] = LatestBy()
        self._occasions: dict[str, tuple[str, str]] = {}  # occasion -> (course, region)
        self._days: LatestBy[str, tuple[Day, ...]] = LatestBy()
        self._plan_stamps: dict[str, set[Stamp]] = {}
        self.cancelled: dict[str, dt.datetime] = {}
        self.reasons: dict[str, str] = {}
        self.released: dict[str, set[str]] = {}
        """Occasion -> the participants whose booking its cancellation released (their
        `BookingCancelled` names the cancellation as its `causation_id`)."""
        self.bookings: LatestBy[tuple[str, str], Booking] = LatestBy()
        self.by_occasion: dict[str, set[str]] = {}
        self._freed_seats: set[tuple[str, int]] = set()
        self.done: set[tuple[str, str, str]] = set()
        self.memberships = Memberships()
        self.erased: set[str] = set()
        self.completions: dict[tuple[str, str, str], dt.datetime] = {}
        self.revoked: set[str] = set()
        self._handlers: dict[type, Callable[[Envelope], None]] = {
            m.CoursePublished: self._published,
            m.MunicipalityJoined: self._joined,
            m.CourseOccasionPlanned: self._planned,
            m.CourseOccasionRescheduled: self._rescheduled,
            m.CourseOccasionCancelled: self._cancelled,
            m.ParticipantBooked: self._booked,
            m.BookingCancelled: self._unbooked,
            m.PreparationCompleted: self._prepared,
            m.ParticipantRegistered: self.memberships.registered,
            m.ParticipantMoved: self.memberships.moved,
            m.ParticipantErased: self._erased,
            m.CourseCompleted: self._completed,
            m.CertificateRevoked: self._revoked,
        }

    def apply(self, env: Envelope) -> None:
        handler = self._handlers.get(type(env.data))
        if handler is not None:
            handler(env)

    # -- reading ----------------------------------------------------------------------------

    def plan(self, occasion_id: str) -> Plan | None:
        held, days = self._occasions.get(occasion_id), self._days.get(occasion_id)
        if held is None or days is None:  # a re-plan may arrive before its plan
            return None
        course_id, region_id = held
        sequence = len(self._plan_stamps[occasion_id]) - 1
        if occasion_id in self.cancelled:
            sequence += 1  # the cancellation supersedes the last plan in calendars
        return Plan(occasion_id, course_id, region_id, days, sequence)

    def plans(self) -> list[Plan]:
        return [p for p in map(self.plan, list(self._days.values)) if p is not None]

    def plan_in_force_is(self, occasion_id: str, env: Envelope) -> bool:
        return self._days.stamp(occasion_id) == stamp_of(env)

    def is_booked(self, occasion_id: str, participant_id: str) -> bool:
        booking = self.bookings.get((occasion_id, participant_id))
        return booking is not None and booking.booked

    def booked_on(self, occasion_id: str) -> list[str]:
        return sorted(p for p in self.by_occasion.get(occasion_id, ())
                      if self.is_booked(occasion_id, p))

    def released_by_cancellation(self, occasion_id: str) -> list[str]:
        return sorted(self.released.get(occasion_id, ()))

    def freed_a_seat_before(self, stream_id: str | None, position: int | None) -> bool:
        """Was the event just before this one in its stream a `BookingCancelled`?

        The contract has no waitlist event. Scheduling records the booking of the first in
        the queue in the same save as the `BookingCancelled` that freed the seat, right after
        it (services/scheduling/domain.py, `Occasion.cancel`); a booking made directly follows
        its private `BookingRequested` instead. So a `ParticipantBooked` whose position follows
        a `BookingCancelled` of the same occasion's stream is a place from the waitlist.
        """
        if stream_id is None or position is None:
            return False
        return (stream_id, position - 1) in self._freed_seats

    def missing_preparations(self, participant_id: str, course_id: str) -> list[str]:
        """Titles of the course's mandatory preparations the participant has not done."""
        course = self.courses.get(course_id)
        if course is None:
            return []
        return [title for item, title in course.mandatory
                if (participant_id, course_id, item) not in self.done]

    def municipality_of(self, participant_id: str) -> str | None:
        return self.memberships.current(participant_id)

    # -- applying ---------------------------------------------------------------------------

    def _published(self, env: Envelope) -> None:
        d = cast(m.CoursePublished, env.data)
        mandatory = tuple((p.item_id, p.title) for p in d.preparations if p.mandatory)
        self.courses.offer(d.course_id, stamp_of(env), Course(d.course_id, d.title, mandatory))

    def _joined(self, env: Envelope) -> None:
        d = cast(m.MunicipalityJoined, env.data)
        self.municipality_names.offer(d.municipality_id, stamp_of(env), d.name)

    def _planned(self, env: Envelope) -> None:
        d = cast(m.CourseOccasionPlanned, env.data)
        self._occasions[d.occasion_id] = (d.course_id, d.region_id)
        self._offer_days(env, d.occasion_id, d.days)

    def _rescheduled(self, env: Envelope) -> None:
        d = cast(m.CourseOccasionRescheduled, env.data)
        self._offer_days(env, d.occasion_id, d.days)

    def _offer_days(self, env: Envelope, occasion_id: str,
                    days: tuple[m.CourseDay, ...]) -> None:
        self._plan_stamps.setdefault(occasion_id, set()).add(stamp_of(env))
        self._days.offer(occasion_id, stamp_of(env), _days(days))

    def _cancelled(self, env: Envelope) -> None:
        d = cast(m.CourseOccasionCancelled, env.data)
        earlier = self.cancelled.get(d.occasion_id)
        if earlier is None or env.occurred_at < earlier:
            self.cancelled[d.occasion_id] = env.occurred_at
            self.reasons[d.occasion_id] = d.reason

    def _booked(self, env: Envelope) -> None:
        d = cast(m.ParticipantBooked, env.data)
        self._booking(env, d.occasion_id, d.participant_id, True)

    def _unbooked(self, env: Envelope) -> None:
        d = cast(m.BookingCancelled, env.data)
        self._booking(env, d.occasion_id, d.participant_id, False)
        if env.causation_id is not None:
            self.released.setdefault(d.occasion_id, set()).add(d.participant_id)
        if env.stream_id is not None and env.position is not None:
            self._freed_seats.add((env.stream_id, env.position))

    def _booking(self, env: Envelope, occasion_id: str, participant_id: str,
                 booked: bool) -> None:
        self.by_occasion.setdefault(occasion_id, set()).add(participant_id)
        self.bookings.offer((occasion_id, participant_id), stamp_of(env),
                            Booking(booked, env.occurred_at))

    def _prepared(self, env: Envelope) -> None:
        d = cast(m.PreparationCompleted, env.data)
        self.done.add((d.participant_id, d.course_id, d.item_id))

    def _erased(self, env: Envelope) -> None:
        self.erased.add(cast(m.ParticipantErased, env.data).participant_id)

    def _completed(self, env: Envelope) -> None:
        d = cast(m.CourseCompleted, env.data)
        self.completions[(d.participant_id, d.course_id, d.occasion_id)] = env.occurred_at

    def _revoked(self, env: Envelope) -> None:
        self.revoked.add(cast(m.CertificateRevoked, env.data).certificate_id)
