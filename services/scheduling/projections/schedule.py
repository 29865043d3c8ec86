"""The lists the read endpoints answer from: the catalogue, occasions with their booking counts,
each trainer's assignments and each participant's bookings.

Folded from this service's own event store, in memory, caught up from the last position read on
every query (the store is the source of truth and is read in notification order, so the view
never misses a late commit). Only the event types it needs are read, not attendance, which is
most of the log. One occasion in full (roster, attendance) is read from its aggregate instead.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from eventsourcing.utils import get_topic

from services.scheduling.domain import (
    BookingCancelled,
    BookingRequested,
    CourseFormat,
    CourseFormatDefined,
    CourseOccasionCancelled,
    CourseOccasionPlanned,
    CourseOccasionRescheduled,
    CoursePublished,
    ParticipantBooked,
    ParticipantWaitlisted,
    TrainerAssigned,
    TrainerUnassigned,
    VenuesSet,
    WaitlistLeft,
)
from shared.events import models as contract
from shared.platform.store import DomainEvent, ServiceApplication

PAGE = 1000


@dataclass
class CourseRow:
    data: contract.CoursePublished
    format: CourseFormat | None = None

    def to_dict(self) -> dict[str, Any]:
        out = self.data.model_dump(mode="json")
        if self.format is not None:
            out |= self.format.model_dump(mode="json")
        return out


@dataclass
class OccasionRow:
    occasion_id: str
    course_id: str
    region_id: str
    capacity: int
    days: tuple[contract.CourseDay, ...]
    venues: dict[int, str] = field(default_factory=dict)
    booked: set[str] = field(default_factory=set)
    waitlisted: set[str] = field(default_factory=set)
    cancelled: str | None = None  # the reason

    @property
    def last_date(self) -> dt.date:
        return max(d.date for d in self.days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "occasion_id": self.occasion_id, "course_id": self.course_id,
            "region_id": self.region_id, "capacity": self.capacity,
            "booked": len(self.booked), "waitlisted": len(self.waitlisted),
            "seats_left": 0 if self.cancelled else max(0, self.capacity - len(self.booked)),
            "cancelled": self.cancelled is not None, "cancellation_reason": self.cancelled,
            "days": [{"day": d.day, "date": d.date.isoformat(), "mode": str(d.mode),
                      "venue": self.venues.get(d.day)} for d in self.days],
        }


@dataclass
class BookingRow:
    occasion_id: str
    municipality_id: str
    status: str = "requested"


class ScheduleView:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app
        self.position = 0
        self._lock = threading.Lock()
        self.courses: dict[str, CourseRow] = {}
        self.occasions: dict[str, OccasionRow] = {}
        self.assignments: dict[str, dict[str, str]] = {}  # trainer -> occasion -> role
        self.bookings: dict[str, dict[str, BookingRow]] = {}  # participant -> occasion -> row
        self._handlers: dict[type[DomainEvent], Callable[[Any], None]] = {
            CoursePublished: self._published,
            CourseFormatDefined: self._format,
            CourseOccasionPlanned: self._planned,
            CourseOccasionRescheduled: self._rescheduled,
            CourseOccasionCancelled: self._cancelled,
            VenuesSet: self._venues,
            BookingRequested: self._requested,
            ParticipantBooked: self._booked,
            ParticipantWaitlisted: self._waitlisted,
            WaitlistLeft: self._left,
            BookingCancelled: self._left,
            TrainerAssigned: self._assigned,
            TrainerUnassigned: self._unassigned,
        }
        self._topics = [get_topic(cls) for cls in self._handlers]

    # -- queries (each catches up first) ---------------------------------------------------

    def read(self, query: Callable[[ScheduleView], Any]) -> Any:
        """Catch up with the store, then answer `query` while no other thread folds."""
        with self._lock:
            self._catch_up()
            return query(self)

    def _catch_up(self) -> None:
        while True:
            notes = self.app.recorder.select_notifications(
                start=self.position, limit=PAGE, topics=self._topics, inclusive_of_start=False
            )
            for note in notes:
                event = cast(DomainEvent, self.app.mapper.to_domain_event(note))
                self._handlers[type(event)](event)
            if len(notes) < PAGE:
                if notes:
                    self.position = notes[-1].id
                return
            self.position = notes[-1].id

    # -- folding ---------------------------------------------------------------------------

    def _published(self, e: CoursePublished) -> None:
        data = contract.CoursePublished.model_validate(
            e.model_dump(include=set(contract.CoursePublished.model_fields)))
        row = self.courses.get(e.course_id)
        self.courses[e.course_id] = CourseRow(data, row.format if row else None)

    def _format(self, e: CourseFormatDefined) -> None:
        row = self.courses.get(e.course_id)
        if row is not None:
            row.format = CourseFormat.model_validate(
                e.model_dump(include=set(CourseFormat.model_fields)))

    def _planned(self, e: CourseOccasionPlanned) -> None:
        self.occasions[e.occasion_id] = OccasionRow(
            e.occasion_id, e.course_id, e.region_id, e.capacity, tuple(e.days))

    def _rescheduled(self, e: CourseOccasionRescheduled) -> None:
        self.occasions[e.occasion_id].days = tuple(e.days)

    def _cancelled(self, e: CourseOccasionCancelled) -> None:
        self.occasions[e.occasion_id].cancelled = e.reason

    def _venues(self, e: VenuesSet) -> None:
        self.occasions[e.occasion_id].venues = {v.day: v.venue for v in e.venues}

    def _requested(self, e: BookingRequested) -> None:
        self.bookings.setdefault(e.participant_id, {})[e.occasion_id] = BookingRow(
            e.occasion_id, e.municipality_id)

    def _booked(self, e: ParticipantBooked) -> None:
        occasion = self.occasions[e.occasion_id]
        occasion.waitlisted.discard(e.participant_id)
        occasion.booked.add(e.participant_id)
        self.bookings[e.participant_id][e.occasion_id].status = "booked"

    def _waitlisted(self, e: ParticipantWaitlisted) -> None:
        self.occasions[e.occasion_id].waitlisted.add(e.participant_id)
        self.bookings[e.participant_id][e.occasion_id].status = "waitlisted"

    def _left(self, e: WaitlistLeft | BookingCancelled) -> None:
        occasion = self.occasions[e.occasion_id]
        occasion.booked.discard(e.participant_id)
        occasion.waitlisted.discard(e.participant_id)
        self.bookings[e.participant_id][e.occasion_id].status = "cancelled"

    def _assigned(self, e: TrainerAssigned) -> None:
        self.assignments.setdefault(e.trainer_id, {})[e.occasion_id] = str(e.role)

    def _unassigned(self, e: TrainerUnassigned) -> None:
        self.assignments.get(e.trainer_id, {}).pop(e.occasion_id, None)
