"""Enrolment's aggregates and the events they record.

Events that are facts of the public contract inherit their contract model; the others
(`PersonalDataRecorded`, `EmailClaimed`) stay inside the service and are never relayed.
"""

from __future__ import annotations

import uuid

from shared.events import models as contract
from shared.events.models import Level
from shared.platform.store import Aggregate, DomainEvent, aggregate_id

SUPERVISOR_ROLES = frozenset({"arbetsledare", "chef", "enhetschef", "sektionschef"})


def level_for(role: str, years_in_profession: float) -> Level:
    """Ny under 2 years, Van 2 to under 5, Erfaren 5 and more; supervisors and managers Chef."""
    if role in SUPERVISOR_ROLES:
        return Level.CHEF
    if years_in_profession < 2:
        return Level.NY
    if years_in_profession < 5:
        return Level.VAN
    return Level.ERFAREN


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


# --- Participants -----------------------------------------------------------------------------


class ParticipantRegistered(DomainEvent, contract.ParticipantRegistered):
    pass


class PersonalDataRecorded(DomainEvent):
    """Name and e-mail, encrypted with the participant's own key (never relayed)."""

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
    def when_ParticipantRegistered(self, e: ParticipantRegistered) -> None:  # noqa: N802
        self.participant_id = e.participant_id
        self.municipality_id = e.municipality_id
        self.journey = e.journey
        self.role = e.role
        self.level = Level(e.level)
        self.years_in_profession = e.years_in_profession
        self.registered_at = e.occurred_at
        self.preparations: set[tuple[str, str]] = set()
        self.deepening: set[tuple[str, str]] = set()
        self.erased = False
        self.ciphertext: str | None = None

    def when_PersonalDataRecorded(self, e: PersonalDataRecorded) -> None:  # noqa: N802
        self.ciphertext = e.ciphertext

    def when_ParticipantMoved(self, e: ParticipantMoved) -> None:  # noqa: N802
        self.municipality_id = e.to_municipality_id

    def when_ParticipantLevelChanged(self, e: ParticipantLevelChanged) -> None:  # noqa: N802
        self.level = Level(e.level)

    def when_PreparationCompleted(self, e: PreparationCompleted) -> None:  # noqa: N802
        self.preparations.add((e.course_id, e.item_id))

    def when_DeepeningSubmitted(self, e: DeepeningSubmitted) -> None:  # noqa: N802
        self.deepening.add((e.course_id, e.task_id))

    def when_ParticipantErased(self, e: ParticipantErased) -> None:  # noqa: N802
        self.erased = True
        self.ciphertext = None


def participant_key(participant_id: str) -> uuid.UUID:
    return aggregate_id("participant", participant_id)


class EmailClaimed(DomainEvent):
    """One account per e-mail address nationally. The aggregate id is a keyed hash of the
    address, so the address itself is not stored here."""

    participant_id: str


class EmailReleased(DomainEvent):
    """The address may be used again (the participant was erased)."""


class EmailClaim(Aggregate):
    def when_EmailClaimed(self, e: EmailClaimed) -> None:  # noqa: N802
        self.participant_id: str | None = e.participant_id

    def when_EmailReleased(self, e: EmailReleased) -> None:  # noqa: N802
        self.participant_id = None
