"""Enrolment's aggregates, the events they record and the rules they keep.

Events that are facts of the public contract inherit their contract model; the others
(`PersonalDataRecorded`, `TrainerPersonalDataRecorded`, `EmailClaimed`, `EmailReleased`,
`TrainerEmailClaimed`) stay inside the service and are never relayed.

Participant and trainer ids are minted here (UUIDs), never chosen by a caller and never derived
from a name, an address or a personal identity number.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Self

from shared.events import models as contract
from shared.events.models import Level
from shared.platform.errors import CommandRejected, Conflict
from shared.platform.store import Aggregate, DomainEvent, aggregate_id, utcnow
from shared.projections.levels import (  # noqa: F401 - the rule, used and re-exported here
    LEVEL_THRESHOLDS,
    SUPERVISOR_ROLES,
    YEAR,
    is_higher,
    level_for,
    levels_reached,
)

# --- Reference data ---------------------------------------------------------------------------


class RegionRegistered(DomainEvent, contract.RegionRegistered):
    pass


class Region(Aggregate):
    def when_RegionRegistered(self, e: RegionRegistered) -> None:  # noqa: N802
        self.region_id = e.region_id
        self.name = e.name


class MunicipalityJoined(DomainEvent, contract.MunicipalityJoined):
    pass


class Municipality(Aggregate):
    def when_MunicipalityJoined(self, e: MunicipalityJoined) -> None:  # noqa: N802
        self.municipality_id = e.municipality_id
        self.name = e.name
        self.region_id = e.region_id


def region_key(region_id: str) -> uuid.UUID:
    return aggregate_id("region", region_id)


def municipality_key(municipality_id: str) -> uuid.UUID:
    return aggregate_id("municipality", municipality_id)


class CourseCatalogued(DomainEvent):
    """Retired: enrolment once kept the catalogue in its own store. It now keeps a copy of
    `CoursePublished` from the bus (`projections/catalogue.py`); the class stays so that stores
    holding such events can still be read. Never relayed."""

    course: contract.CoursePublished


# --- Participants -----------------------------------------------------------------------------


class ParticipantRegistered(DomainEvent, contract.ParticipantRegistered):
    pass


class PersonalDataRecorded(DomainEvent):
    """Name, e-mail and area of work, encrypted with the participant's own key (never relayed)."""

    participant_id: str
    ciphertext: str


class ParticipantMoved(DomainEvent, contract.ParticipantMoved):
    pass


class ParticipantLevelChanged(DomainEvent, contract.ParticipantLevelChanged):
    pass


class PreparationCompleted(DomainEvent, contract.PreparationCompleted):
    pass


class DeepeningSubmitted(DomainEvent, contract.DeepeningSubmitted):
    pass


class ParticipantErased(DomainEvent, contract.ParticipantErased):
    pass


class Participant(Aggregate):
    """An account. It belongs to the person: a move changes its municipality, never its id,
    so the whole history (levels, preparations, everything scheduling and certification
    recorded against the id) follows the person."""

    @classmethod
    def register(
        cls, participant_id: str, *, municipality_id: str, journey: str, role: str,
        years_in_profession: float, ciphertext: str, occurred_at: dt.datetime | None = None,
        actor: str | None = None,
    ) -> Self:
        participant = cls(participant_key(participant_id))
        at = occurred_at or utcnow()
        participant.trigger(
            ParticipantRegistered, participant_id=participant_id, municipality_id=municipality_id,
            journey=journey, role=role, level=level_for(role, years_in_profession),
            years_in_profession=years_in_profession, occurred_at=at, actor=actor,
        )
        participant.trigger(PersonalDataRecorded, participant_id=participant_id,
                            ciphertext=ciphertext, occurred_at=at, actor=actor)
        return participant

    def when_ParticipantRegistered(self, e: ParticipantRegistered) -> None:  # noqa: N802
        self.participant_id = e.participant_id
        self.municipality_id = e.municipality_id
        self.journey = e.journey
        self.role = e.role
        self.level = Level(e.level)
        self.years_in_profession = e.years_in_profession
        self.registered_at = e.occurred_at
        self.municipalities: list[tuple[str, dt.datetime]] = [(e.municipality_id, e.occurred_at)]
        self.levels: list[tuple[Level, dt.datetime]] = [(Level(e.level), e.occurred_at)]
        self.preparations: list[tuple[str, str]] = []
        self.deepening: list[tuple[str, str]] = []
        self.erased = False
        self.ciphertext: str | None = None

    def when_PersonalDataRecorded(self, e: PersonalDataRecorded) -> None:  # noqa: N802
        self.ciphertext = e.ciphertext

    def _require_active(self) -> None:
        if self.erased:
            raise Conflict(f"Deltagaren {self.participant_id} är raderad.")

    def move_to(self, municipality_id: str, occurred_at: dt.datetime | None,
                actor: str | None) -> None:
        self._require_active()
        if municipality_id == self.municipality_id:
            raise Conflict(f"Deltagaren hör redan till kommunen {municipality_id}.",
                           field="to_municipality_id")
        self.trigger(ParticipantMoved, participant_id=self.participant_id,
                     to_municipality_id=municipality_id, occurred_at=occurred_at or utcnow(),
                     actor=actor)

    def when_ParticipantMoved(self, e: ParticipantMoved) -> None:  # noqa: N802
        self.municipality_id = e.to_municipality_id
        self.municipalities.append((e.to_municipality_id, e.occurred_at))

    def level_up(self, as_of: dt.date, actor: str | None) -> list[Level]:
        """Record each level the years passed since registration have reached, at the moment
        it was reached, so that "the latest `occurred_at` wins" gives the right level."""
        self._require_active()
        reached = []
        for level, at in levels_reached(self.role, self.years_in_profession,
                                        self.registered_at, as_of):
            if is_higher(level, self.level):
                self.trigger(ParticipantLevelChanged, participant_id=self.participant_id,
                             level=level, occurred_at=at, actor=actor)
                reached.append(level)
        return reached

    def when_ParticipantLevelChanged(self, e: ParticipantLevelChanged) -> None:  # noqa: N802
        self.level = Level(e.level)
        self.levels.append((Level(e.level), e.occurred_at))

    def complete_preparation(self, course: contract.CoursePublished, item_id: str,
                             actor: str | None) -> bool:
        """Mark a preparation of a published course done; False if it already was."""
        self._require_active()
        if not any(p.item_id == item_id for p in course.preparations):
            raise CommandRejected(
                f"Kursen {course.course_id} har ingen förberedelse {item_id}.", field="item_id")
        if (course.course_id, item_id) in self.preparations:
            return False
        self.trigger(PreparationCompleted, participant_id=self.participant_id,
                     course_id=course.course_id, item_id=item_id, actor=actor)
        return True

    def when_PreparationCompleted(self, e: PreparationCompleted) -> None:  # noqa: N802
        self.preparations.append((e.course_id, e.item_id))

    def submit_deepening(self, course: contract.CoursePublished, task_id: str,
                         actor: str | None) -> bool:
        """Submit a deepening task of a published course; False if it already was."""
        self._require_active()
        if not any(t.task_id == task_id for t in course.deepening_tasks):
            raise CommandRejected(
                f"Kursen {course.course_id} har ingen fördjupningsuppgift {task_id}.",
                field="task_id")
        if (course.course_id, task_id) in self.deepening:
            return False
        self.trigger(DeepeningSubmitted, participant_id=self.participant_id,
                     course_id=course.course_id, task_id=task_id, actor=actor)
        return True

    def when_DeepeningSubmitted(self, e: DeepeningSubmitted) -> None:  # noqa: N802
        self.deepening.append((e.course_id, e.task_id))

    def erase(self, actor: str | None) -> bool:
        """Record the erasure; False if it was recorded before. Destroying the key is the
        vault's part (crypto-shredding)."""
        if self.erased:
            return False
        self.trigger(ParticipantErased, participant_id=self.participant_id, actor=actor)
        return True

    def when_ParticipantErased(self, e: ParticipantErased) -> None:  # noqa: N802
        self.erased = True
        self.ciphertext = None

    def facts(self) -> dict[str, Any]:
        """The pseudonymous facts of the account (no personal data)."""
        return {
            "participant_id": self.participant_id, "municipality_id": self.municipality_id,
            "journey": self.journey, "role": self.role, "level": self.level.value,
            "years_in_profession": self.years_in_profession,
            "registered_at": self.registered_at.isoformat(), "erased": self.erased,
            "municipalities": [{"municipality_id": m, "since": at.isoformat()}
                               for m, at in self.municipalities],
            "levels": [{"level": lv.value, "since": at.isoformat()} for lv, at in self.levels],
            "preparations": [{"course_id": c, "item_id": i} for c, i in self.preparations],
            "deepening": [{"course_id": c, "task_id": t} for c, t in self.deepening],
        }


def participant_key(participant_id: str) -> uuid.UUID:
    return aggregate_id("participant", participant_id)


class EmailClaimed(DomainEvent):
    """One account per e-mail address nationally. The aggregate id is a keyed hash of the
    address, so the address itself is not stored here."""

    participant_id: str


class EmailReleased(DomainEvent):
    """The address may be used again (the participant was erased)."""


class EmailClaim(Aggregate):
    participant_id: str | None = None

    def when_EmailClaimed(self, e: EmailClaimed) -> None:  # noqa: N802
        self.participant_id = e.participant_id

    def when_EmailReleased(self, e: EmailReleased) -> None:  # noqa: N802
        self.participant_id = None

    def claim(self, participant_id: str, actor: str | None) -> None:
        if self.participant_id is not None:
            raise Conflict("E-postadressen används redan av ett annat konto.", field="email")
        self.trigger(EmailClaimed, participant_id=participant_id, actor=actor)

    def release(self, actor: str | None) -> None:
        if self.participant_id is not None:
            self.trigger(EmailReleased, actor=actor)


# --- Trainers ---------------------------------------------------------------------------------


class TrainerRegistered(DomainEvent, contract.TrainerRegistered):
    pass


class TrainerPersonalDataRecorded(DomainEvent):
    """A trainer's name and e-mail, encrypted with the trainer's own key (never relayed)."""

    trainer_id: str
    ciphertext: str


class Trainer(Aggregate):
    """A trainer's account (utbildare), in their home municipality, the one credited with
    their share of the trainer pot. Scheduling assigns only registered trainers."""

    @classmethod
    def register(cls, trainer_id: str, *, municipality_id: str, ciphertext: str,
                 occurred_at: dt.datetime | None = None, actor: str | None = None) -> Self:
        trainer = cls(trainer_key(trainer_id))
        at = occurred_at or utcnow()
        trainer.trigger(TrainerRegistered, trainer_id=trainer_id,
                        municipality_id=municipality_id, occurred_at=at, actor=actor)
        trainer.trigger(TrainerPersonalDataRecorded, trainer_id=trainer_id,
                        ciphertext=ciphertext, occurred_at=at, actor=actor)
        return trainer

    def when_TrainerRegistered(self, e: TrainerRegistered) -> None:  # noqa: N802
        self.trainer_id = e.trainer_id
        self.municipality_id = e.municipality_id
        self.registered_at = e.occurred_at
        self.ciphertext: str | None = None

    def when_TrainerPersonalDataRecorded(  # noqa: N802
            self, e: TrainerPersonalDataRecorded) -> None:
        self.ciphertext = e.ciphertext

    def facts(self) -> dict[str, Any]:
        return {"trainer_id": self.trainer_id, "municipality_id": self.municipality_id,
                "registered_at": self.registered_at.isoformat()}


def trainer_key(trainer_id: str) -> uuid.UUID:
    return aggregate_id("trainer", trainer_id)


class TrainerEmailClaimed(DomainEvent):
    """One trainer account per e-mail address nationally (a trainer may also have a
    participant account with the same address: they are different roles)."""

    trainer_id: str


class TrainerEmailClaim(Aggregate):
    trainer_id: str | None = None

    def when_TrainerEmailClaimed(self, e: TrainerEmailClaimed) -> None:  # noqa: N802
        self.trainer_id = e.trainer_id

    def claim(self, trainer_id: str, actor: str | None) -> None:
        if self.trainer_id is not None:
            raise Conflict("E-postadressen används redan av ett annat utbildarkonto.",
                           field="email")
        self.trigger(TrainerEmailClaimed, trainer_id=trainer_id, actor=actor)
