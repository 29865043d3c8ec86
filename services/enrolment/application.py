"""Enrolment's commands and their handlers, and `bootstrap()` that wires the service.

Commands are validated at the edge (pydantic); a handler either records all its events in one
transaction or raises a `CommandRejected` and records nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from services.enrolment.adapters.vault import PersonalDataVault
from services.enrolment.domain import (
    EmailClaim,
    EmailClaimed,
    Municipality,
    MunicipalityJoined,
    Participant,
    ParticipantRegistered,
    PersonalDataRecorded,
    Region,
    RegionRegistered,
    level_for,
    municipality_key,
    participant_key,
    region_key,
)
from shared.platform.db import Database
from shared.platform.errors import Conflict, NotFound
from shared.platform.observability import EVENTS_STORED
from shared.platform.settings import Settings
from shared.platform.store import Aggregate, ServiceApplication, aggregate_id, utcnow

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                        pattern=r"^[A-Za-z0-9_.:-]+$")]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError("ogiltig e-postadress")
    return value


Email = Annotated[str, AfterValidator(_email)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterRegion(Command):
    region_id: Code
    name: Text


class JoinMunicipality(Command):
    municipality_id: Code
    name: Text
    region_id: Code


class RegisterParticipant(Command):
    municipality_id: Code
    name: Text
    email: Email
    role: Code
    years_in_profession: Annotated[float, Field(ge=0, le=70)]
    journey: Code = "barn_och_unga"
    area_of_work: Text | None = None
    participant_id: Code | None = None
    occurred_at: AwareDatetime | None = None


class EnrolmentApplication(ServiceApplication):
    service = "enrolment"
    name = "enrolment"


@dataclass
class Enrolment:
    """The service's entry point: its store, its vault and the command handlers."""

    app: EnrolmentApplication
    vault: PersonalDataVault
    email_secret: bytes

    # -- helpers ----------------------------------------------------------------------------

    def _get(self, cls: type[Any], key: uuid.UUID, what: str) -> Any:
        try:
            return self.app.load(cls, key)
        except AggregateNotFoundError:
            raise NotFound(f"{what} finns inte.") from None

    def _save(self, *aggregates: Aggregate, conflict: str) -> None:
        try:
            recordings = self.app.save(*aggregates)
        except IntegrityError:
            raise Conflict(conflict) from None
        EVENTS_STORED.labels(self.app.service).inc(len(recordings))

    def email_key(self, email: str) -> uuid.UUID:
        digest = hmac.new(self.email_secret, email.encode(), hashlib.sha256).hexdigest()
        return aggregate_id("email", digest)

    # -- reference data ---------------------------------------------------------------------

    def register_region(self, cmd: RegisterRegion, actor: str | None = None) -> None:
        region = Region(region_key(cmd.region_id))
        region.trigger(RegionRegistered, region_id=cmd.region_id, name=cmd.name, actor=actor)
        self._save(region, conflict=f"Regionen {cmd.region_id} finns redan.")

    def region(self, region_id: str) -> Region:
        return self._get(Region, region_key(region_id), f"Regionen {region_id}")  # type: ignore[no-any-return]

    def join_municipality(self, cmd: JoinMunicipality, actor: str | None = None) -> None:
        self.region(cmd.region_id)
        municipality = Municipality(municipality_key(cmd.municipality_id))
        municipality.trigger(MunicipalityJoined, municipality_id=cmd.municipality_id,
                             name=cmd.name, region_id=cmd.region_id, actor=actor)
        self._save(municipality, conflict=f"Kommunen {cmd.municipality_id} finns redan.")

    def municipality(self, municipality_id: str) -> Municipality:
        return self._get(  # type: ignore[no-any-return]
            Municipality, municipality_key(municipality_id), f"Kommunen {municipality_id}"
        )

    # -- participants -----------------------------------------------------------------------

    def register_participant(self, cmd: RegisterParticipant, actor: str | None = None) -> str:
        """Create the account; the e-mail address may hold one account nationally."""
        self.municipality(cmd.municipality_id)
        participant_id = cmd.participant_id or str(uuid.uuid4())
        if self.app.exists(participant_key(participant_id)):
            raise Conflict(f"Deltagaren {participant_id} finns redan.", field="participant_id")
        claim = EmailClaim(self.email_key(cmd.email))
        if self.app.exists(claim.id):
            existing = self.app.load(EmailClaim, claim.id)
            if existing.participant_id is not None:
                raise Conflict("E-postadressen används redan av ett annat konto.", field="email")
            claim = existing
        occurred_at = cmd.occurred_at or utcnow()
        participant = Participant(participant_key(participant_id))
        participant.trigger(
            ParticipantRegistered, participant_id=participant_id,
            municipality_id=cmd.municipality_id, journey=cmd.journey, role=cmd.role,
            level=level_for(cmd.role, cmd.years_in_profession),
            years_in_profession=cmd.years_in_profession, occurred_at=occurred_at, actor=actor,
        )
        personal = {"name": cmd.name, "email": cmd.email, "area_of_work": cmd.area_of_work}
        participant.trigger(PersonalDataRecorded, participant_id=participant_id,
                            ciphertext=self.vault.seal(participant_id, personal),
                            occurred_at=occurred_at, actor=actor)
        claim.trigger(EmailClaimed, participant_id=participant_id, actor=actor)
        self._save(participant, claim,
                   conflict="E-postadressen används redan av ett annat konto.")
        return participant_id

    def participant(self, participant_id: str) -> Participant:
        return self._get(  # type: ignore[no-any-return]
            Participant, participant_key(participant_id), f"Deltagaren {participant_id}"
        )

    def personal_data(self, participant: Participant) -> dict[str, Any] | None:
        if participant.ciphertext is None:
            return None
        return self.vault.open(participant.participant_id, participant.ciphertext)

    def close(self) -> None:
        self.app.close()
        self.vault.db.close()


def bootstrap(database_url: str | None = None, settings: Settings | None = None) -> Enrolment:
    settings = settings or Settings()
    url = database_url or settings.database_url_for("enrolment")
    return Enrolment(
        app=EnrolmentApplication(url),
        vault=PersonalDataVault(Database(url)),
        email_secret=settings.auth_secret.encode(),
    )


def migrate(database_url: str | None = None) -> None:
    """Create the service's tables (event store, vault keys, relay positions)."""
    from shared.platform.relay import RelayPositions

    url = database_url or Settings().database_url_for("enrolment")
    EnrolmentApplication(url, create_table=True).close()
    db = Database(url)
    PersonalDataVault(db).migrate()
    RelayPositions(db).migrate()
    db.close()
