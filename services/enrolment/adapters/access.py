"""Who may do what in enrolment, per role and scope; one function per decision.

System may do everything. Otherwise:

| what | who |
| --- | --- |
| register regions (one or a file) | nobody else |
| join municipalities (one or a file) | the regional coordinator of their region |
| read regions, municipalities, the course catalogue | every role |
| register participants (one or a file) | the municipal administrator of the municipality |
| list a municipality's participants | its administrator (with personal data); the coordinator of its region (without) |
| read a participant | the participant; the administrator of their current municipality (with personal data); the coordinator of its region (without) |
| move, level up, erase a participant | the administrator of their current municipality |
| mark preparations and deepening tasks | the participant themself |
| register a trainer | the administrator of the trainer's home municipality; the coordinator of its region (regions recruit trainer teams) |
| list a municipality's trainers, read a trainer | the trainer themself; the administrator of the home municipality; the coordinator of its region (all with name and e-mail: they build the teams) |
| list who read a participant's or trainer's personal data (`.../reads`) | the auditor (everyone's) |
| read a participant's name (an intyg, a staff list): `GET /participants/{id}`, `GET /participants` | certification's service account (`name_reader`): the name only, never the address |
| read a participant's name and address (a message) `GET /participants/{id}` | notification's service account (`address_reader`) |

The two service accounts may do nothing else (403 everywhere else, in all four services); what
they read is recorded like any other read, under their pseudonym.

Every read of a person's name or e-mail through the API is recorded (`adapters/reads.py`).

The national analyst sees aggregates only (regions, municipalities, the catalogue), never a
person; trainers see their own account and nobody else's.

A role that may never do a thing gets 403, decided before any id is looked up. A role that may,
naming an id outside its scope (another municipality's participant, another region's
municipality), gets the same 404 as for an id that does not exist (`shared.platform.access`),
so ids cannot be probed. Nothing is written either way. Scope follows the participant: after a
move, the new municipality's administrator has the account and the old one has not.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable

from services.enrolment.domain import Participant, Trainer
from shared.platform.access import hidden
from shared.platform.auth import Principal, Role, forbid, require

SYSTEM, PARTICIPANT, ADMIN, COORDINATOR, TRAINER, AUDITOR = (
    Role.SYSTEM, Role.PARTICIPANT, Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR, Role.TRAINER,
    Role.AUDITOR)
NAMES, ADDRESSES = Role.NAME_READER, Role.ADDRESS_READER

# Which of a participant's personal data each role is shown when it may read the account:
# all of it (True), some fields, or none (the coordinator: the pseudonymous facts only).
Shown = bool | tuple[str, ...]
_SHOWN: dict[Role, Shown] = {COORDINATOR: False, NAMES: ("name",),
                             ADDRESSES: ("name", "email")}

RegionOf = Callable[[str], str | None]  # a municipality's region; None if it does not exist


# --- reference data ---------------------------------------------------------------------------


def register_regions(who: Principal) -> None:
    require(who, SYSTEM)


def join_municipality(who: Principal, region_id: str) -> None:
    """System, or the coordinator of the region (another region: as if it did not exist)."""
    require(who, COORDINATOR)
    if who.role is COORDINATOR and who.region_id != region_id:
        raise hidden("region_id", region_id)


def import_municipalities(who: Principal) -> str | None:
    """The region a file may name (a coordinator's own), or None (system: any)."""
    require(who, COORDINATOR)
    if who.role is COORDINATOR:
        if not who.region_id:
            raise forbid("Din inloggning anger ingen region.")
        return who.region_id
    return None


# --- participants -----------------------------------------------------------------------------


def register_in(who: Principal, municipality_id: str) -> None:
    """Registering participants: system, or the administrator of the municipality."""
    require(who, ADMIN)
    if who.role is ADMIN and who.municipality_id != municipality_id:
        raise hidden("municipality_id", municipality_id)


def list_participants(who: Principal, municipality_id: str) -> Callable[[RegionOf], Shown]:
    """The check returns which personal data is shown (`Shown`)."""
    require(who, ADMIN, COORDINATOR, NAMES)

    def check(region_of: RegionOf) -> Shown:
        region = region_of(municipality_id)
        if region is None or (
            (who.role is ADMIN and who.municipality_id != municipality_id)
            or (who.role is COORDINATOR and who.region_id != region)
        ):
            raise hidden("municipality_id", municipality_id)
        return _SHOWN.get(who.role, True)

    return check


ParticipantCheck = Callable[[Participant | None], Participant]


def _participant(who: Principal, participant_id: str, participant: Participant | None,
                 region_of: RegionOf | None = None) -> Participant:
    """The participant when in the caller's scope; else as if unknown."""
    if participant is None or (
        (who.role is PARTICIPANT and who.participant_id != participant_id)
        or (who.role is ADMIN and who.municipality_id != participant.municipality_id)
        or (who.role is COORDINATOR and (
            region_of is None or who.region_id != region_of(participant.municipality_id)))
    ):
        raise hidden("participant_id", participant_id)
    return participant


def read_participant(who: Principal, participant_id: str,
                     region_of: RegionOf) -> Callable[[Participant | None], Shown]:
    """The check returns which personal data is shown (`Shown`: none to coordinators, the
    name to certification's account, name and address to notification's)."""
    require(who, PARTICIPANT, ADMIN, COORDINATOR, NAMES, ADDRESSES)

    def check(participant: Participant | None) -> Shown:
        _participant(who, participant_id, participant, region_of)
        return _SHOWN.get(who.role, True)

    return check


def administer_participant(who: Principal, participant_id: str) -> ParticipantCheck:
    """Move, level up, erase: system, or the administrator of their current municipality."""
    require(who, ADMIN)
    return lambda participant: _participant(who, participant_id, participant)


def own_account(who: Principal, participant_id: str) -> ParticipantCheck:
    """Preparations and deepening tasks: system, or the participant themself."""
    require(who, PARTICIPANT)
    return lambda participant: _participant(who, participant_id, participant)


# --- trainers ---------------------------------------------------------------------------------


def _trainers_of(who: Principal, municipality_id: str, region_of: RegionOf) -> None:
    region = region_of(municipality_id)
    if region is None or (
        (who.role is ADMIN and who.municipality_id != municipality_id)
        or (who.role is COORDINATOR and who.region_id != region)
    ):
        raise hidden("municipality_id", municipality_id)


def register_trainer(who: Principal, municipality_id: str) -> Callable[[RegionOf], None]:
    """System, the administrator of the home municipality, the coordinator of its region."""
    require(who, ADMIN, COORDINATOR)
    return lambda region_of: _trainers_of(who, municipality_id, region_of)


def list_trainers(who: Principal, municipality_id: str) -> Callable[[RegionOf], None]:
    require(who, ADMIN, COORDINATOR)
    return lambda region_of: _trainers_of(who, municipality_id, region_of)


def read_trainer(who: Principal, trainer_id: str,
                 region_of: RegionOf) -> Callable[[Trainer | None], Trainer]:
    """The trainer themself, the administrator of the home municipality, its coordinator."""
    require(who, TRAINER, ADMIN, COORDINATOR)

    def check(trainer: Trainer | None) -> Trainer:
        if trainer is None or (
            (who.role is TRAINER and who.trainer_id != trainer_id)
            or (who.role is ADMIN and who.municipality_id != trainer.municipality_id)
            or (who.role is COORDINATOR and who.region_id != region_of(trainer.municipality_id))
        ):
            raise hidden("trainer_id", trainer_id)
        return trainer

    return check


# --- the record of reads ----------------------------------------------------------------------


def audit_reads(who: Principal, person_id: str,
                field: str = "participant_id") -> Callable[[object | None], None]:
    """The auditor (and system) list who read anyone's personal data; an unknown id is 404."""
    require(who, AUDITOR)

    def check(person: object | None) -> None:
        if person is None:
            raise hidden(field, person_id)

    return check
