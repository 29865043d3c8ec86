"""The v1.1 event types of the public contract (`../shared/CONTRACT.md`), one frozen model each.

Each model is the `data` object of its envelope. `SERVICE` names the service whose topic it
travels on (not `TOPIC`: the eventsourcing library reads a class attribute of that name as the
stored-event topic) and `KEY` the field whose value is its partition key, so that the relay,
the AsyncAPI document and the tests read both from one place.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Id = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=False)]
Kronor = Annotated[int, Field(ge=0)]
Year = Annotated[int, Field(ge=2000, le=2200)]


class EventData(BaseModel):
    """Base of every event's `data`. Unknown fields are ignored so that a v1 consumer keeps
    working when optional fields are added within v1."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=True)

    SERVICE: ClassVar[str]  # the service whose topic it travels on: yrkesresan.<SERVICE>.v1
    KEY: ClassVar[str]

    def key(self) -> str:
        return str(getattr(self, self.KEY))


class Level(StrEnum):
    NY = "ny"
    VAN = "van"
    ERFAREN = "erfaren"
    CHEF = "chef"


class DayMode(StrEnum):
    ON_SITE = "on_site"
    DIGITAL = "digital"


class TrainerRole(StrEnum):
    LEADER = "leader"
    TRAINER = "trainer"
    RESERVE = "reserve"


class DeliveryRole(StrEnum):
    LEADER = "leader"
    TRAINER = "trainer"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=True)


# --- Reference data -------------------------------------------------------------------------


class RegionRegistered(EventData):
    SERVICE = "reference"
    KEY = "region_id"
    region_id: Id
    name: Annotated[str, StringConstraints(min_length=1)]


class MunicipalityJoined(EventData):
    SERVICE = "reference"
    KEY = "municipality_id"
    municipality_id: Id
    name: Annotated[str, StringConstraints(min_length=1)]
    region_id: Id


class Preparation(_Part):
    item_id: Id
    title: str
    mandatory: bool


class DeepeningTask(_Part):
    task_id: Id
    title: str


class Question(_Part):
    """A statement of the course's evaluation questionnaire, answered 1 (instämmer inte alls)
    to 5 (instämmer helt)."""

    question_id: Id
    text: Annotated[str, StringConstraints(min_length=1)]


class CoursePublished(EventData):
    SERVICE = "reference"
    KEY = "course_id"  # no participant, occasion, region or municipality: the course itself
    course_id: Id
    journey: Id
    level: Level
    title: Annotated[str, StringConstraints(min_length=1)]
    preparations: tuple[Preparation, ...] = ()
    deepening_tasks: tuple[DeepeningTask, ...] = ()
    questions: tuple[Question, ...] = ()
    """The evaluation questionnaire (v1.1, optional): the `question_id`s of
    `EvaluationSubmitted.answers`."""


class PriceComponents(_Part):
    """Kronor per participant per course day."""

    venue_and_fika: Kronor = 300
    administration: Kronor = 400
    trainer_pot: Kronor = 400
    course_material: Kronor = 100
    buffer: Kronor = 50

    @property
    def price(self) -> int:
        return (
            self.venue_and_fika
            + self.administration
            + self.trainer_pot
            + self.course_material
            + self.buffer
        )


class Points(_Part):
    leader: Annotated[float, Field(ge=0)] = 1.5
    trainer: Annotated[float, Field(ge=0)] = 1.0


class PriceListSet(EventData):
    SERVICE = "reference"
    KEY = "region_id"
    region_id: Id
    year: Year
    components: PriceComponents
    points: Points


# --- Enrolment ------------------------------------------------------------------------------


class ParticipantRegistered(EventData):
    SERVICE = "enrolment"
    KEY = "participant_id"
    participant_id: Id
    municipality_id: Id
    journey: Id
    role: Id
    level: Level
    years_in_profession: Annotated[float, Field(ge=0, le=70)]


class ParticipantMoved(EventData):
    SERVICE = "enrolment"
    KEY = "participant_id"
    participant_id: Id
    to_municipality_id: Id


class ParticipantLevelChanged(EventData):
    SERVICE = "enrolment"
    KEY = "participant_id"
    participant_id: Id
    level: Level


class PreparationCompleted(EventData):
    SERVICE = "enrolment"
    KEY = "participant_id"
    participant_id: Id
    course_id: Id
    item_id: Id


class DeepeningSubmitted(EventData):
    SERVICE = "enrolment"
    KEY = "participant_id"
    participant_id: Id
    course_id: Id
    task_id: Id


class TrainerRegistered(EventData):
    """A trainer's account (v1.1): name and e-mail stay in the enrolment service, encrypted
    like a participant's. Trainers are assigned to occasions only once registered."""

    SERVICE = "enrolment"
    KEY = "municipality_id"  # no participant, occasion or region: the home municipality
    trainer_id: Id
    municipality_id: Id


class ParticipantErased(EventData):
    SERVICE = "enrolment"
    KEY = "participant_id"
    participant_id: Id


# --- Scheduling -----------------------------------------------------------------------------


class CourseDay(_Part):
    day: Annotated[int, Field(ge=1, le=50)]
    date: dt.date
    mode: DayMode
    venue: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    """Where a day on site is held, as the region names the place (v1.1, optional; none for a
    digital day): a participant's calendar entry needs it, and a day whose venue moves is
    re-planned (`CourseOccasionRescheduled`)."""


class CourseOccasionPlanned(EventData):
    SERVICE = "scheduling"
    KEY = "occasion_id"
    occasion_id: Id
    course_id: Id
    region_id: Id
    capacity: Annotated[int, Field(ge=1)]
    days: Annotated[tuple[CourseDay, ...], Field(min_length=1)]


class ParticipantBooked(EventData):
    SERVICE = "scheduling"
    KEY = "participant_id"
    occasion_id: Id
    participant_id: Id


class BookingCancelled(EventData):
    SERVICE = "scheduling"
    KEY = "participant_id"
    occasion_id: Id
    participant_id: Id


class TrainerAssigned(EventData):
    SERVICE = "scheduling"
    KEY = "occasion_id"
    occasion_id: Id
    trainer_id: Id
    municipality_id: Id
    role: TrainerRole


class CourseDayAttended(EventData):
    SERVICE = "scheduling"
    KEY = "participant_id"
    participant_id: Id
    occasion_id: Id
    day: Annotated[int, Field(ge=1, le=50)]


class TrainerDayDelivered(EventData):
    """A reserve who is called in delivers as `trainer`."""

    SERVICE = "scheduling"
    KEY = "occasion_id"
    occasion_id: Id
    day: Annotated[int, Field(ge=1, le=50)]
    trainer_id: Id
    municipality_id: Id
    role: DeliveryRole


class AttendanceWithdrawn(EventData):
    """A participant-day reported by mistake (v1.1); recorded by the occasion's regional
    coordinator. Final: a later report of the same participant-day does not bring it back."""

    SERVICE = "scheduling"
    KEY = "participant_id"
    participant_id: Id
    occasion_id: Id
    day: Annotated[int, Field(ge=1, le=50)]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class CourseOccasionRescheduled(EventData):
    """The occasion's days as now planned, replacing the days it had (v1.1)."""

    SERVICE = "scheduling"
    KEY = "occasion_id"
    occasion_id: Id
    days: Annotated[tuple[CourseDay, ...], Field(min_length=1)]


class CourseOccasionCancelled(EventData):
    """v1.1: the days reported for it still count; nobody completes it."""

    SERVICE = "scheduling"
    KEY = "occasion_id"
    occasion_id: Id
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    waitlisted: tuple[Id, ...] = ()
    """The participants whose place on the occasion's waitlist the cancellation cleared (v1.1,
    optional; ids only): the waitlist is scheduling's own, so without them nobody reading the
    bus could tell those waiting that there is nothing left to wait for."""


class TrainerUnassigned(EventData):
    """v1.1: the trainer leaves the occasion's team; days already delivered still count."""

    SERVICE = "scheduling"
    KEY = "occasion_id"
    occasion_id: Id
    trainer_id: Id


# --- Certification (derived) ----------------------------------------------------------------


class CourseCompleted(EventData):
    SERVICE = "certification"
    KEY = "participant_id"
    participant_id: Id
    course_id: Id
    occasion_id: Id


class CertificateIssued(EventData):
    SERVICE = "certification"
    KEY = "participant_id"
    certificate_id: Id
    participant_id: Id
    course_id: Id
    occasion_id: Id


class CertificateRevoked(EventData):
    """v1.1: the completion behind the certificate no longer holds (a withdrawn day).

    `participant_id` is an optional addition within v1.1: the services always fill it, so that
    the revocation travels in the same partition as the certificate it revokes."""

    SERVICE = "certification"
    KEY = "participant_id"
    certificate_id: Id
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    participant_id: Id | None = None

    def key(self) -> str:
        return self.participant_id or self.certificate_id


class EvaluationSubmitted(EventData):
    SERVICE = "certification"
    KEY = "occasion_id"
    occasion_id: Id
    course_id: Id
    respondent_id: Id
    answers: dict[Id, Annotated[int, Field(ge=1, le=5)]]


# --- Billing --------------------------------------------------------------------------------


class YearClosed(EventData):
    SERVICE = "billing"
    KEY = "region_id"
    region_id: Id
    year: Year


class PotShare(_Part):
    trainer_id: Id
    municipality_id: Id
    points: Annotated[float, Field(ge=0)]
    amount_sek: Kronor


class PotDistributed(EventData):
    SERVICE = "billing"
    KEY = "region_id"
    region_id: Id
    year: Year
    pot_sek: Kronor
    total_points: Annotated[float, Field(ge=0)]
    trainers: tuple[PotShare, ...] = ()


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.__name__: cls
    for cls in (
        RegionRegistered,
        MunicipalityJoined,
        CoursePublished,
        PriceListSet,
        ParticipantRegistered,
        ParticipantMoved,
        ParticipantLevelChanged,
        PreparationCompleted,
        DeepeningSubmitted,
        ParticipantErased,
        TrainerRegistered,
        CourseOccasionPlanned,
        ParticipantBooked,
        BookingCancelled,
        TrainerAssigned,
        CourseDayAttended,
        TrainerDayDelivered,
        AttendanceWithdrawn,
        CourseOccasionRescheduled,
        CourseOccasionCancelled,
        TrainerUnassigned,
        CourseCompleted,
        CertificateIssued,
        CertificateRevoked,
        EvaluationSubmitted,
        YearClosed,
        PotDistributed,
    )
}

# Derived events: emitted by services from the facts above; projections give the same result
# with or without them.
DERIVED_TYPES = frozenset(
    {"CourseCompleted", "CertificateIssued", "CertificateRevoked", "PotDistributed"}
)
