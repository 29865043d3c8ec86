"""Scheduling's aggregates, the events they record and the rules they keep.

Two aggregates: a `Course` of the catalogue, and an `Occasion` (kurstillfälle) holding its
bookings, waitlist, trainer team and attendance, so that every rule about one occasion (capacity,
one course leader, who may be marked present on which day, what may still be re-planned) is
decided against one consistent state and saved in one transaction, with the library's optimistic
concurrency.

Events that are facts of the public contract inherit their contract model and are relayed. The
others stay inside the service: the course format, `VenuesSet` (the venues, which the
contract's course days carry too since v1.1), booking requests (with the
municipality that asked), the waitlist, and reserves called in (and undone). The contract knows
only whole bookings, so a waitlisted participant produces no `ParticipantBooked` until a seat is
theirs.

What already happened bounds what may change (`replan`, `cancel_occasion`): a day is *held*
once attendance or a trainer's delivery is registered for it; a held day is never removed nor
moved into the future, and an occasion whose every day is held is given, so it is neither
cancelled nor given more days (its completions would be lost). A cancelled occasion is final:
it takes no bookings, attendance, trainers or re-planning.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from shared.events import models as contract
from shared.events import stored_event_id_text
from shared.events.models import DayMode, DeliveryRole, TrainerRole
from shared.platform.errors import CommandRejected, Conflict, NotFound
from shared.platform.store import Aggregate, DomainEvent, aggregate_id

SWEDEN = ZoneInfo("Europe/Stockholm")
END_OF_COURSE_DAY = dt.time(16, 0)
MODE_NAMES = {DayMode.ON_SITE.value: "på plats", DayMode.DIGITAL.value: "digitalt"}


def course_key(course_id: str) -> uuid.UUID:
    return aggregate_id("course", course_id)


def occasion_key(occasion_id: str) -> uuid.UUID:
    return aggregate_id("occasion", occasion_id)


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(ids)


# --- Courses ----------------------------------------------------------------------------------


class CourseFormat(BaseModel):
    """How a course's days are given: how many, in which parts, in which modes; and what an
    occasion typically needs (trainer team, places). Scheduling's own, not in the contract."""

    model_config = ConfigDict(frozen=True, use_enum_values=True)

    days: int = Field(ge=1, le=50)
    parts: tuple[float, ...] = ()
    day_modes: tuple[tuple[DayMode, ...], ...] = ()
    team_size: int = Field(default=4, ge=1, le=50)
    capacity: int = Field(default=24, ge=1, le=1000)

    def modes_of(self, day: int) -> tuple[str, ...]:
        if len(self.day_modes) >= day:
            return tuple(str(m) for m in self.day_modes[day - 1])
        return (DayMode.ON_SITE.value, DayMode.DIGITAL.value)


class CoursePublished(DomainEvent, contract.CoursePublished):
    pass


class CourseFormatDefined(DomainEvent, CourseFormat):
    course_id: str


_COURSE_FIELDS = set(contract.CoursePublished.model_fields)
_FORMAT_FIELDS = set(CourseFormat.model_fields)


class Course(Aggregate):
    def __init__(self, id: uuid.UUID) -> None:
        super().__init__(id)
        self.data: contract.CoursePublished | None = None
        self.format: CourseFormat | None = None

    @property
    def course_id(self) -> str:
        assert self.data is not None
        return self.data.course_id

    def when_CoursePublished(self, e: CoursePublished) -> None:  # noqa: N802
        self.data = contract.CoursePublished.model_validate(e.model_dump(include=_COURSE_FIELDS))

    def when_CourseFormatDefined(self, e: CourseFormatDefined) -> None:  # noqa: N802
        self.format = CourseFormat.model_validate(e.model_dump(include=_FORMAT_FIELDS))

    def publish(self, data: contract.CoursePublished, fmt: CourseFormat, **provenance: Any) -> bool:
        """Publish the course, or a revision of it; nothing when it is already so."""
        changed = False
        if self.data != data:
            self.trigger(CoursePublished, **data.model_dump(), **provenance)
            changed = True
        if self.format != fmt:
            self.trigger(CourseFormatDefined, course_id=data.course_id, **fmt.model_dump(),
                         **provenance)
            changed = True
        return changed


# --- Occasions: events ------------------------------------------------------------------------


class CourseOccasionPlanned(DomainEvent, contract.CourseOccasionPlanned):
    pass


class DayVenue(BaseModel):
    model_config = ConfigDict(frozen=True)
    day: int
    venue: str


class VenuesSet(DomainEvent):
    """Where the on-site days are held (lokal), for the service's own view: occasions planned
    before the contract's course days carried their venue (v1.1) have it only here. Never
    relayed."""

    occasion_id: str
    venues: tuple[DayVenue, ...]


class BookingRequested(DomainEvent):
    """Someone asked for a place; records the municipality the booking was made for, which the
    contract's `ParticipantBooked` does not carry, so that its administrators may cancel it."""

    occasion_id: str
    participant_id: str
    municipality_id: str


class ParticipantBooked(DomainEvent, contract.ParticipantBooked):
    pass


class ParticipantWaitlisted(DomainEvent):
    occasion_id: str
    participant_id: str


class WaitlistLeft(DomainEvent):
    occasion_id: str
    participant_id: str


class BookingCancelled(DomainEvent, contract.BookingCancelled):
    pass


class TrainerAssigned(DomainEvent, contract.TrainerAssigned):
    pass


class ReserveCalledIn(DomainEvent):
    """A reserve takes a trainer's place for one day; the replaced trainer does not deliver it."""

    occasion_id: str
    day: int
    reserve_id: str
    replaces_trainer_id: str


class CourseDayAttended(DomainEvent, contract.CourseDayAttended):
    pass


class TrainerDayDelivered(DomainEvent, contract.TrainerDayDelivered):
    pass


class AttendanceWithdrawn(DomainEvent, contract.AttendanceWithdrawn):
    pass


class CourseOccasionRescheduled(DomainEvent, contract.CourseOccasionRescheduled):
    pass


class CourseOccasionCancelled(DomainEvent, contract.CourseOccasionCancelled):
    pass


class TrainerUnassigned(DomainEvent, contract.TrainerUnassigned):
    pass


class ReserveCallInUndone(DomainEvent):
    """A reserve called in by mistake: the replaced trainer delivers the day after all. Private,
    like the call-in itself; only possible before the reserve's day is registered, because the
    contract has no event that takes a `TrainerDayDelivered` back."""

    occasion_id: str
    day: int
    reserve_id: str


# --- Occasions: the aggregate -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamMember:
    trainer_id: str
    municipality_id: str
    role: str


@dataclass(frozen=True, slots=True)
class AttendanceRecorded:
    """How many new facts a registration recorded (0 and 0: it was registered already)."""

    attended: int
    delivered: int


class Occasion(Aggregate):
    def __init__(self, id: uuid.UUID) -> None:
        super().__init__(id)
        self.occasion_id = ""
        self.course_id = ""
        self.region_id = ""
        self.capacity = 0
        self.days: dict[int, contract.CourseDay] = {}
        self.venues: dict[int, str] = {}
        self.municipality_of: dict[str, str] = {}  # participant -> municipality booked for
        self.booked: dict[str, str] = {}  # participant -> municipality, in booking order
        self.waitlist: dict[str, str] = {}  # participant -> municipality, first come first
        self.team: dict[str, TeamMember] = {}
        self.called_in: dict[int, dict[str, str]] = {}  # day -> reserve -> replaced trainer
        self.attended: dict[int, set[str]] = {}  # day -> participants
        self.delivered: dict[int, dict[str, str]] = {}  # day -> trainer -> delivery role
        self.withdrawn: dict[int, set[str]] = {}  # day -> participants whose day was withdrawn
        self.cancelled: str | None = None  # the reason, once cancelled

    def __deepcopy__(self, memo: dict[int, Any]) -> Occasion:
        """The copy a command decides on while the store's process keeps the original
        (`ServiceApplication.load`), without `copy.deepcopy`'s walk of every value: what the
        containers hold (text, numbers, frozen models, `TeamMember`) never changes, so the
        containers are copied, two levels deep (a day's participants or trainers)."""
        twin = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, dict):
                setattr(twin, name, {k: v.copy() if isinstance(v, dict | set) else v
                                     for k, v in value.items()})
            elif isinstance(value, list | set):
                setattr(twin, name, value.copy())
        return twin

    # -- folding ---------------------------------------------------------------------------

    def when_CourseOccasionPlanned(self, e: CourseOccasionPlanned) -> None:  # noqa: N802
        self.occasion_id = e.occasion_id
        self.course_id = e.course_id
        self.region_id = e.region_id
        self.capacity = e.capacity
        self.days = {d.day: d for d in e.days}

    def when_VenuesSet(self, e: VenuesSet) -> None:  # noqa: N802
        self.venues = {v.day: v.venue for v in e.venues}

    def when_BookingRequested(self, e: BookingRequested) -> None:  # noqa: N802
        self.municipality_of[e.participant_id] = e.municipality_id

    def when_ParticipantBooked(self, e: ParticipantBooked) -> None:  # noqa: N802
        self.waitlist.pop(e.participant_id, None)
        self.booked[e.participant_id] = self.municipality_of.get(e.participant_id, "")

    def when_ParticipantWaitlisted(self, e: ParticipantWaitlisted) -> None:  # noqa: N802
        self.waitlist[e.participant_id] = self.municipality_of.get(e.participant_id, "")

    def when_WaitlistLeft(self, e: WaitlistLeft) -> None:  # noqa: N802
        self.waitlist.pop(e.participant_id, None)

    def when_BookingCancelled(self, e: BookingCancelled) -> None:  # noqa: N802
        self.booked.pop(e.participant_id, None)

    def when_TrainerAssigned(self, e: TrainerAssigned) -> None:  # noqa: N802
        self.team[e.trainer_id] = TeamMember(e.trainer_id, e.municipality_id, str(e.role))

    def when_ReserveCalledIn(self, e: ReserveCalledIn) -> None:  # noqa: N802
        self.called_in.setdefault(e.day, {})[e.reserve_id] = e.replaces_trainer_id

    def when_CourseDayAttended(self, e: CourseDayAttended) -> None:  # noqa: N802
        self.attended.setdefault(e.day, set()).add(e.participant_id)

    def when_TrainerDayDelivered(self, e: TrainerDayDelivered) -> None:  # noqa: N802
        self.delivered.setdefault(e.day, {})[e.trainer_id] = str(e.role)

    def when_AttendanceWithdrawn(self, e: AttendanceWithdrawn) -> None:  # noqa: N802
        self.attended.get(e.day, set()).discard(e.participant_id)
        self.withdrawn.setdefault(e.day, set()).add(e.participant_id)

    def when_CourseOccasionRescheduled(self, e: CourseOccasionRescheduled) -> None:  # noqa: N802
        self.days = {d.day: d for d in e.days}
        for day in set(self.called_in) - set(self.days):
            del self.called_in[day]

    def when_CourseOccasionCancelled(self, e: CourseOccasionCancelled) -> None:  # noqa: N802
        self.cancelled = e.reason

    def when_TrainerUnassigned(self, e: TrainerUnassigned) -> None:  # noqa: N802
        self.team.pop(e.trainer_id, None)

    def when_ReserveCallInUndone(self, e: ReserveCallInUndone) -> None:  # noqa: N802
        self.called_in.get(e.day, {}).pop(e.reserve_id, None)

    # -- reading ---------------------------------------------------------------------------

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - len(self.booked))

    @property
    def leader(self) -> TeamMember | None:
        return next((m for m in self.team.values() if m.role == TrainerRole.LEADER), None)

    def status_of(self, participant_id: str) -> str | None:
        if participant_id in self.booked:
            return "booked"
        if participant_id in self.waitlist:
            return "waitlisted"
        return None

    def held(self, day: int) -> bool:
        """Attendance or a trainer's delivery is registered for the day: it took place."""
        return bool(self.attended.get(day) or self.delivered.get(day))

    @property
    def given(self) -> bool:
        """Every day of the plan took place (completions may rest on it)."""
        return all(self.held(day) for day in self.days)

    def open(self) -> None:
        """Refuse what a cancelled occasion no longer takes."""
        if self.cancelled is not None:
            raise Conflict(f"Kurstillfället {self.occasion_id} är inställt ({self.cancelled}) "
                           "och tar inte emot bokningar, närvaro, utbildare eller ändringar.",
                           field="occasion_id")

    def day(self, day: int) -> contract.CourseDay:
        course_day = self.days.get(day)
        if course_day is None:
            raise CommandRejected(
                f"Dag {day} finns inte i kurstillfället {self.occasion_id} "
                f"(dagar {_ids(str(d) for d in sorted(self.days))}).", field="day")
        return course_day

    # -- planning --------------------------------------------------------------------------

    @classmethod
    def plan(
        cls, occasion_id: str, course: Course, region_id: str, capacity: int,
        days: Sequence[tuple[contract.CourseDay, str | None]], **provenance: Any,
    ) -> Occasion:
        """A new occasion of a published course, its days checked against the course format."""
        assert course.data is not None
        check_days(course, [d for d, _ in days])
        occasion = cls(occasion_key(occasion_id))
        occasion.trigger(CourseOccasionPlanned, occasion_id=occasion_id,
                         course_id=course.course_id, region_id=region_id, capacity=capacity,
                         days=tuple(with_venue(d, v) for d, v in days), **provenance)
        venues = tuple(DayVenue(day=d.day, venue=v) for d, v in days if v)
        if venues:
            occasion.trigger(VenuesSet, occasion_id=occasion_id, venues=venues, **provenance)
        return occasion

    # -- bookings --------------------------------------------------------------------------

    def book(
        self, participant_id: str, municipality_id: str, *, waitlist: bool = True,
        **provenance: Any,
    ) -> tuple[str, bool]:
        """A place if one is free, else a place in the queue. Returns (status, changed)."""
        self.open()
        status = self.status_of(participant_id)
        if status is not None:
            return status, False
        if not self.seats_left and not waitlist:
            raise Conflict(f"Kurstillfället {self.occasion_id} är fullt ({self.capacity} "
                           "platser) och väntelista önskades inte.", field="waitlist")
        ids = {"occasion_id": self.occasion_id, "participant_id": participant_id}
        self.trigger(BookingRequested, **ids, municipality_id=municipality_id, **provenance)
        if self.seats_left:
            self.trigger(ParticipantBooked, **ids, **provenance)
            return "booked", True
        self.trigger(ParticipantWaitlisted, **ids, **provenance)
        return "waitlisted", True

    def cancel(self, participant_id: str, **provenance: Any) -> str | None:
        """Cancel a booking (the first in the queue gets the place) or leave the queue.
        Returns the participant who got the place, if anyone did."""
        self.open()
        ids = {"occasion_id": self.occasion_id, "participant_id": participant_id}
        if participant_id in self.waitlist:
            self.trigger(WaitlistLeft, **ids, **provenance)
            return None
        if participant_id not in self.booked:
            raise NotFound(f"Deltagaren {participant_id} har ingen bokning på kurstillfället "
                           f"{self.occasion_id}.", field="participant_id")
        self.trigger(BookingCancelled, **ids, **provenance)
        if self.waitlist and self.seats_left:
            first = next(iter(self.waitlist))
            self.trigger(ParticipantBooked, occasion_id=self.occasion_id, participant_id=first,
                         **provenance)
            return first
        return None

    # -- trainer team ----------------------------------------------------------------------

    def assign(
        self, trainer_id: str, municipality_id: str, role: str, **provenance: Any
    ) -> bool:
        """Put a trainer on the team; exactly one course leader per occasion."""
        self.open()
        member = self.team.get(trainer_id)
        if member is not None:
            if (member.role, member.municipality_id) == (role, municipality_id):
                return False
            raise Conflict(f"{trainer_id} finns redan i teamet som {member.role} "
                           f"({member.municipality_id}).", field="trainer_id")
        leader = self.leader
        if role == TrainerRole.LEADER and leader is not None:
            raise Conflict(f"Kurstillfället har redan en kursledare ({leader.trainer_id}); "
                           "det finns en kursledare per kurstillfälle.", field="role")
        self.trigger(TrainerAssigned, occasion_id=self.occasion_id, trainer_id=trainer_id,
                     municipality_id=municipality_id, role=role, **provenance)
        return True

    def call_in(self, day: int, reserve_id: str, replaces: str, **provenance: Any) -> bool:
        """A reserve replaces a trainer for one day."""
        self.open()
        self.day(day)
        reserve = self.team.get(reserve_id)
        if reserve is None or reserve.role != TrainerRole.RESERVE:
            raise CommandRejected(f"{reserve_id} är inte reserv i kurstillfällets team.",
                                  field="reserve_id")
        replaced = self.team.get(replaces)
        if replaced is None or replaced.role != TrainerRole.TRAINER:
            raise CommandRejected(f"{replaces} är inte utbildare i kurstillfällets team.",
                                  field="replaces_trainer_id")
        calls = self.called_in.get(day, {})
        if calls.get(reserve_id) == replaces:
            return False
        if reserve_id in calls:
            raise Conflict(f"Reserven {reserve_id} är redan inkallad dag {day} i stället för "
                           f"{calls[reserve_id]}.", field="reserve_id")
        if replaces in calls.values() or replaces in self.delivered.get(day, {}):
            raise Conflict(f"{replaces} är redan ersatt eller registrerad som utbildare dag "
                           f"{day}.", field="replaces_trainer_id")
        self.trigger(ReserveCalledIn, occasion_id=self.occasion_id, day=day,
                     reserve_id=reserve_id, replaces_trainer_id=replaces, **provenance)
        return True

    def unassign(self, trainer_id: str, new_leader: TeamMember | None = None,
                 **provenance: Any) -> None:
        """Take a trainer off the team (the days they delivered still count). The course
        leader leaves only with a new one named (`new_leader`: a member of the team, who is
        then assigned as leader, or a trainer from outside it); a reserve still called in for
        a day not yet delivered is refused until the call-in is undone."""
        self.open()
        member = self.team.get(trainer_id)
        if member is None:
            raise NotFound(f"{trainer_id} finns inte i kurstillfällets utbildarteam.",
                           field="trainer_id")
        self._check_new_leader(member, new_leader)
        self._check_no_call_in_pending(trainer_id, "trainer_id")
        self.trigger(TrainerUnassigned, occasion_id=self.occasion_id, trainer_id=trainer_id,
                     **provenance)
        if new_leader is not None:
            self.trigger(TrainerAssigned, occasion_id=self.occasion_id,
                         trainer_id=new_leader.trainer_id,
                         municipality_id=new_leader.municipality_id, role=TrainerRole.LEADER,
                         **provenance)

    def _check_new_leader(self, leaving: TeamMember, new_leader: TeamMember | None) -> None:
        if leaving.role != TrainerRole.LEADER:
            if new_leader is not None:
                raise CommandRejected(f"{leaving.trainer_id} är inte kursledare; en ny "
                                      "kursledare anges bara när kursledaren tas bort.",
                                      field="new_leader_id")
            return
        if new_leader is None:
            raise Conflict(f"{leaving.trainer_id} är kurstillfällets kursledare; ange en ny "
                           "kursledare (new_leader_id) när kursledaren tas bort, det finns en "
                           "kursledare per kurstillfälle.", field="new_leader_id")
        if new_leader.trainer_id == leaving.trainer_id:
            raise CommandRejected(f"{leaving.trainer_id} kan inte efterträda sig själv som "
                                  "kursledare.", field="new_leader_id")
        self._check_no_call_in_pending(new_leader.trainer_id, "new_leader_id")

    def _check_no_call_in_pending(self, trainer_id: str, field: str) -> None:
        pending = sorted(day for day, calls in self.called_in.items()
                         if trainer_id in calls and trainer_id not in self.delivered.get(day, {}))
        if pending:
            raise Conflict(f"Reserven {trainer_id} är inkallad dag {_ids(map(str, pending))}; "
                           "ångra inkallningen först.", field=field)

    def undo_call_in(self, day: int, reserve_id: str, **provenance: Any) -> None:
        """A reserve called in by mistake: the replaced trainer may deliver the day again.

        Refused once the reserve's day is registered: the contract (v1.1) has no event that
        takes a `TrainerDayDelivered` back, so the day stands in the trainer pot."""
        self.open()
        self.day(day)
        calls = self.called_in.get(day, {})
        if reserve_id not in calls:
            raise NotFound(f"Reserven {reserve_id} är inte inkallad dag {day}.",
                           field="reserve_id")
        if reserve_id in self.delivered.get(day, {}):
            raise Conflict(f"Reserven {reserve_id} är redan registrerad som utbildare dag {day}"
                           "; en registrerad utbildardag kan inte tas tillbaka (händelse"
                           "kontraktet har ingen sådan händelse), så inkallningen står kvar.",
                           field="reserve_id")
        self.trigger(ReserveCallInUndone, occasion_id=self.occasion_id, day=day,
                     reserve_id=reserve_id, **provenance)

    # -- re-planning and cancelling --------------------------------------------------------

    def replan(
        self, course: Course, days: Sequence[tuple[contract.CourseDay, str | None]], *,
        today: dt.date, **provenance: Any,
    ) -> bool:
        """The occasion's days as now planned (moved, added, removed, or held elsewhere), in
        one `CourseOccasionRescheduled`, venues and all. False when nothing changed.

        Day numbers stay what they were (attendance names them), so a removed day leaves a gap
        and an added day takes a new number; dates follow the day numbers. A held day is
        neither removed nor moved into the future; an occasion given in full gets no more days.
        """
        self.open()
        planned = [with_venue(d, v) for d, v in days]
        if not planned:
            raise CommandRejected("Ett kurstillfälle har minst en dag; ställ in kurstillfället "
                                  "i stället för att ta bort dess sista dag.", field="days")
        self._check_held_days_stay(planned, today)
        check_order(planned)
        check_modes(course, planned)
        new_days = tuple(sorted(planned, key=lambda d: d.day))
        venues = {d.day: v for d, v in days if v}
        changed = False
        if new_days != tuple(self.days[d] for d in sorted(self.days)):
            self.trigger(CourseOccasionRescheduled, occasion_id=self.occasion_id,
                         days=new_days, **provenance)
            changed = True
        if venues != self.venues:
            self.trigger(VenuesSet, occasion_id=self.occasion_id, venues=tuple(
                DayVenue(day=d, venue=v) for d, v in sorted(venues.items())), **provenance)
            changed = True
        return changed

    def _check_held_days_stay(self, planned: Sequence[contract.CourseDay],
                              today: dt.date) -> None:
        new = {d.day: d for d in planned}
        removed = sorted(d for d in self.days if d not in new and self.held(d))
        if removed:
            raise Conflict(f"Dag {_ids(map(str, removed))} har registrerad närvaro och kan "
                           "inte tas bort.", field="days")
        for i, d in enumerate(planned):
            if d.day in self.days and self.held(d.day) and d.date > today:
                raise Conflict(f"Dag {d.day} har registrerad närvaro och kan inte flyttas "
                               f"till {d.date}, ett datum i framtiden.", field=f"days.{i}.date")
        added = sorted(set(new) - set(self.days))
        if added and self.given:
            raise Conflict(f"Kurstillfället {self.occasion_id} är genomfört (alla dagar har "
                           f"registrerad närvaro); dag {_ids(map(str, added))} kan inte "
                           "läggas till, då vore deltagarnas genomförda kurs inte längre "
                           "genomförd.", field="days")

    def cancel_occasion(self, reason: str, **provenance: Any) -> list[str] | None:
        """Cancel the occasion: `CourseOccasionCancelled`, then every booking released
        (`BookingCancelled` each, so that a reader of v1.0 sees the seats free too, with the
        cancellation's envelope id as its `causation_id`) and the waitlist cleared. The
        causation tells a booking released by the cancellation from one cancelled on its own
        (which has a message of its own), whichever partition arrives first: the two travel
        under different keys. The cancellation names those it takes off the waitlist.
        Returns the participants released, None when the occasion was cancelled already.
        Refused for an occasion given in full: it took place."""
        if self.cancelled is not None:
            return None
        if self.given:
            raise Conflict(f"Kurstillfället {self.occasion_id} är genomfört (alla dagar har "
                           "registrerad närvaro) och kan inte ställas in; närvaro som "
                           "rapporterats av misstag återkallas per deltagare och dag.",
                           field="occasion_id")
        released, waiting = list(self.booked), list(self.waitlist)
        cancelled = self.trigger(CourseOccasionCancelled, occasion_id=self.occasion_id,
                                 reason=reason, waitlisted=tuple(waiting), **provenance)
        cause = stored_event_id_text(self.id, cancelled.originator_version)
        for participant_id in released:
            self.trigger(BookingCancelled, occasion_id=self.occasion_id,
                         participant_id=participant_id, causation_id=cause, **provenance)
        for participant_id in waiting:
            self.trigger(WaitlistLeft, occasion_id=self.occasion_id,
                         participant_id=participant_id, causation_id=cause, **provenance)
        return released

    # -- attendance ------------------------------------------------------------------------

    def register_attendance(
        self, day: int, present: Sequence[str], delivered_by: Sequence[tuple[str, str]], *,
        occurred_at: dt.datetime | None, now: dt.datetime, **provenance: Any,
    ) -> AttendanceRecorded:
        """One day's attendance for the whole list, and who delivered the day.

        Registering a day again records only what is new; what was registered stands and cannot
        be taken back, so a list that leaves out someone registered before is a conflict."""
        self.open()
        course_day = self.day(day)
        if course_day.date > now.astimezone(SWEDEN).date():
            raise CommandRejected(f"Dag {day} är {course_day.date}, ett datum i framtiden; "
                                  "närvaro registreras när dagen är genomförd.", field="day")
        at = attendance_time(course_day.date, occurred_at, now)
        present = list(dict.fromkeys(present))
        self._check_present(day, present)
        roles = self._check_delivered(day, delivered_by)
        new_present, new_roles = self._additions(day, present, roles)
        for participant_id in new_present:
            self.trigger(CourseDayAttended, participant_id=participant_id,
                         occasion_id=self.occasion_id, day=day, occurred_at=at, **provenance)
        for trainer_id, role in new_roles.items():
            home = self.team[trainer_id].municipality_id
            self.trigger(TrainerDayDelivered, occasion_id=self.occasion_id, day=day,
                         trainer_id=trainer_id, municipality_id=home, role=role, occurred_at=at,
                         **provenance)
        return AttendanceRecorded(len(new_present), len(new_roles))

    def withdraw(self, day: int, participant_id: str, reason: str, **provenance: Any) -> bool:
        """Take back a participant-day reported by mistake (`AttendanceWithdrawn`): it no longer
        counts anywhere, and cannot be reported again. False when withdrawn already."""
        self.day(day)
        if participant_id in self.withdrawn.get(day, set()):
            return False
        if participant_id not in self.attended.get(day, set()):
            raise NotFound(f"{participant_id} är inte registrerad som närvarande dag {day} på "
                           f"kurstillfället {self.occasion_id}.", field="participant_id")
        self.trigger(AttendanceWithdrawn, participant_id=participant_id,
                     occasion_id=self.occasion_id, day=day, reason=reason, **provenance)
        return True

    def _check_present(self, day: int, present: Sequence[str]) -> None:
        gone = sorted(self.withdrawn.get(day, set()).intersection(present))
        if gone:
            raise Conflict(f"Närvaron dag {day} har återkallats för {_ids(gone)} och kan inte "
                           "registreras igen.", field="present")
        registered = self.attended.get(day, set())
        not_booked = [p for p in present if p not in self.booked and p not in registered]
        if not_booked:
            queued = [p for p in not_booked if p in self.waitlist]
            extra = f" ({_ids(queued)} står på väntelistan)" if queued else ""
            raise CommandRejected(f"Inte bokade på kurstillfället {self.occasion_id}: "
                                  f"{_ids(not_booked)}{extra}.", field="present")

    def _check_delivered(
        self, day: int, delivered_by: Sequence[tuple[str, str]]
    ) -> dict[str, str]:
        roles: dict[str, str] = {}
        for trainer_id, role in delivered_by:
            if trainer_id in roles:
                raise CommandRejected(f"{trainer_id} anges mer än en gång.", field="delivered_by")
            roles[trainer_id] = str(role)
        leaders = [t for t, r in roles.items() if r == DeliveryRole.LEADER]
        if len(leaders) > 1:
            raise CommandRejected(f"En dag har en kursledare, inte {len(leaders)} "
                                  f"({_ids(leaders)}).", field="delivered_by")
        registered = self.delivered.get(day, {})
        for trainer_id, role in roles.items():
            if registered.get(trainer_id) != role:
                self._check_deliverer(day, trainer_id, role)
        return roles

    def _check_deliverer(self, day: int, trainer_id: str, role: str) -> None:
        member = self.team.get(trainer_id)
        calls = self.called_in.get(day, {})
        reason = None
        if member is None:
            reason = f"{trainer_id} finns inte i kurstillfällets utbildarteam."
        elif role == DeliveryRole.LEADER and member.role != TrainerRole.LEADER:
            reason = f"{trainer_id} är inte kurstillfällets kursledare."
        elif member.role == TrainerRole.LEADER and role != DeliveryRole.LEADER:
            reason = f"{trainer_id} är kursledare och levererar dagen som leader."
        elif member.role == TrainerRole.RESERVE and trainer_id not in calls:
            reason = f"Reserven {trainer_id} är inte inkallad dag {day}."
        elif trainer_id in calls.values():
            reserve = next(r for r, t in calls.items() if t == trainer_id)
            reason = f"{trainer_id} är ersatt av reserven {reserve} dag {day}."
        if reason:
            raise CommandRejected(reason, field="delivered_by")

    def _additions(
        self, day: int, present: Sequence[str], roles: dict[str, str]
    ) -> tuple[list[str], dict[str, str]]:
        registered = self.attended.get(day, set())
        delivered = self.delivered.get(day, {})
        left_out = sorted(registered.difference(present)) + sorted(set(delivered) - set(roles))
        if left_out:
            raise Conflict(f"Närvaron för dag {day} är redan registrerad och kan bara "
                           f"kompletteras, inte ändras; saknas nu: {_ids(left_out)}.",
                           field="present" if registered.difference(present) else "delivered_by")
        new_present = [p for p in present if p not in registered]
        return new_present, {t: r for t, r in roles.items() if t not in delivered}


def with_venue(day: contract.CourseDay, venue: str | None) -> contract.CourseDay:
    """A course day as the contract carries it (v1.1): with its venue, so that the booked
    learn where it is held, and learn it again when it moves."""
    return contract.CourseDay(day=day.day, date=day.date, mode=day.mode, venue=venue)


def check_days(course: Course, days: Sequence[contract.CourseDay]) -> None:
    """An occasion gives the course's days, each in a mode the course allows."""
    assert course.data is not None
    fmt = course.format
    if fmt is not None and len(days) != fmt.days:
        raise CommandRejected(f"{course.data.title} har {fmt.days} kursdagar, inte {len(days)}.",
                              field="days")
    check_modes(course, days)


def check_modes(course: Course, days: Sequence[contract.CourseDay]) -> None:
    """Each day in a mode the course allows for its number (any mode for a day beyond the
    course's format: a day added when re-planning)."""
    assert course.data is not None
    fmt = course.format
    if fmt is None:
        return
    for i, d in enumerate(days):
        allowed = fmt.modes_of(d.day)
        if str(d.mode) not in allowed:
            names = " eller ".join(MODE_NAMES[m] for m in allowed)
            raise CommandRejected(f"Dag {d.day} av {course.data.title} ges {names}.",
                                  field=f"days.{i}.mode")


def dates_out_of_order(days: Sequence[contract.CourseDay]) -> str | None:
    """Why the days are not a plan (a number twice, a date not after the day before's), or
    None: each day has its own number and a later date than the day numbered before it."""
    numbers = [d.day for d in days]
    twice = sorted({n for n in numbers if numbers.count(n) > 1})
    if twice:
        return f"dag {_ids(map(str, twice))} förekommer mer än en gång"
    ordered = sorted(days, key=lambda d: d.day)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.date <= a.date:
            return f"dag {b.day} ({b.date}) ska ha ett senare datum än dag {a.day} ({a.date})"
    return None


def check_order(days: Sequence[contract.CourseDay]) -> None:
    reason = dates_out_of_order(days)
    if reason is not None:
        raise CommandRejected(reason[0].upper() + reason[1:] + ".", field="days")


def attendance_time(
    date: dt.date, occurred_at: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """When the attendance happened: as given (on the day, not in the future), else now when
    registered on the day itself, else the end of that course day (16:00 Swedish time), so that
    a day registered late is still charged where the participant belonged on the day."""
    if occurred_at is None:
        if now.astimezone(SWEDEN).date() == date:
            return now
        return dt.datetime.combine(date, END_OF_COURSE_DAY, SWEDEN)
    if occurred_at > now:
        raise CommandRejected("occurred_at ligger i framtiden.", field="occurred_at")
    if occurred_at.astimezone(SWEDEN).date() != date:
        raise CommandRejected(f"occurred_at ska ligga på kursdagens datum {date} "
                              "(svensk tid).", field="occurred_at")
    return occurred_at
