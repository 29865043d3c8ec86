"""Participant accounts: registering (one or a file), reading, moving, levelling up, erasing;
the participant's own preparations and deepening tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, status
from starlette.concurrency import run_in_threadpool

from services.enrolment.adapters import access
from services.enrolment.adapters.routes import CsvFile, ReadBy, Service, actor
from services.enrolment.application import (
    CompletePreparation,
    LevelUp,
    MoveParticipant,
    RegisterParticipant,
    SubmitDeepening,
)
from services.enrolment.csv_import import import_participants
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset

router = APIRouter(tags=["konton"])


@router.post("/participants", status_code=status.HTTP_201_CREATED)
async def register_participant(cmd: RegisterParticipant, enrolment: Service,
                               who: CurrentPrincipal) -> dict[str, str]:
    """The account's id is minted here and returned; a request that sends one is 422."""
    # The busiest command: async, with the blocking handler in the thread pool, costs one
    # thread hop per request instead of one per dependency and one for the response.
    access.register_in(who, cmd.municipality_id)
    participant_id = await run_in_threadpool(
        enrolment.register_participant, cmd, actor=actor(enrolment, who))
    return {"participant_id": participant_id}


@router.post("/participants/import")
def import_participant_file(file: CsvFile, municipality_id: Annotated[Code, Form()],
                            enrolment: Service, who: CurrentPrincipal) -> dict[str, Any]:
    """Columns `name,email,role,years_in_profession` and optionally `area_of_work`,
    `journey`. A file with any bad row imports nothing: 422 lists every bad row as
    `rad N: fält: orsak`. Rows already there (same address, municipality and data) are
    skipped, so the same file imported twice creates nobody twice."""
    access.register_in(who, municipality_id)
    return import_participants(enrolment, municipality_id, file.file.read(),
                               actor(enrolment, who)).as_dict()


@router.get("/participants")
def list_participants(
    municipality_id: Code, enrolment: Service, who: CurrentPrincipal, reader: ReadBy,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Personal data only for the municipality's administrators (each read recorded); its
    region's coordinator sees the pseudonymous facts."""
    personal = access.list_participants(who, municipality_id)(enrolment.region_of)
    return {"municipality_id": municipality_id, "limit": limit, "offset": offset,
            "participants": enrolment.participants_of(municipality_id, personal, limit,
                                                      offset, reader)}


@router.get("/participants/{participant_id}")
def get_participant(participant_id: Code, enrolment: Service, who: CurrentPrincipal,
                    reader: ReadBy) -> dict[str, Any]:
    """Name and e-mail for those allowed to see them; each such read is recorded."""
    check = access.read_participant(who, participant_id, enrolment.region_of)
    participant = enrolment.find_participant(participant_id)
    personal = check(participant)
    assert participant is not None
    return enrolment.view(participant, personal=personal, reader=reader)


@router.get("/participants/{participant_id}/reads", tags=["granskning"])
def participant_reads(participant_id: Code, enrolment: Service, who: CurrentPrincipal,
                      limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Who read this participant's name or e-mail (pseudonymous reader), when and through
    which endpoint, newest first: for the auditor."""
    access.audit_reads(who, participant_id)(enrolment.find_participant(participant_id))
    return {"participant_id": participant_id, "limit": limit, "offset": offset,
            "reads": enrolment.reads.of(participant_id, limit, offset)}


@router.post("/participants/{participant_id}/move")
def move_participant(participant_id: Code, cmd: MoveParticipant, enrolment: Service,
                     who: CurrentPrincipal) -> dict[str, Any]:
    """To another municipality; the account and its whole history follow the person."""
    access.administer_participant(who, participant_id)(
        enrolment.find_participant(participant_id))
    enrolment.move_participant(participant_id, cmd, actor=actor(enrolment, who))
    return {"participant_id": participant_id, "municipality_id": cmd.to_municipality_id}


@router.post("/participants/{participant_id}/level-up")
def level_up(participant_id: Code, enrolment: Service, who: CurrentPrincipal,
             cmd: LevelUp | None = None) -> dict[str, Any]:
    """Recompute the level from the years in the profession at registration plus the time
    passed since, as of `as_of` (default today); Chef stays Chef."""
    access.administer_participant(who, participant_id)(
        enrolment.find_participant(participant_id))
    reached = enrolment.level_up(participant_id, (cmd or LevelUp()).as_of,
                                 actor(enrolment, who))
    participant = enrolment.participant(participant_id)
    return {"participant_id": participant_id, "level": participant.level.value,
            "changed_to": [lv.value for lv in reached]}


@router.delete("/participants/{participant_id}")
def erase_participant(participant_id: Code, enrolment: Service,
                      who: CurrentPrincipal) -> dict[str, Any]:
    """Erase the person: their key is destroyed (name, e-mail and area of work can never
    be read again) and the address is released; the pseudonymous facts remain."""
    access.administer_participant(who, participant_id)(
        enrolment.find_participant(participant_id))
    recorded = enrolment.erase_participant(participant_id, actor(enrolment, who))
    return {"participant_id": participant_id, "erased": True, "recorded": recorded}


@router.post("/participants/{participant_id}/preparations", tags=["kurser"])
def complete_preparation(participant_id: Code, cmd: CompletePreparation, enrolment: Service,
                         who: CurrentPrincipal) -> dict[str, Any]:
    access.own_account(who, participant_id)(enrolment.find_participant(participant_id))
    recorded = enrolment.complete_preparation(participant_id, cmd, actor(enrolment, who))
    return {"participant_id": participant_id, **cmd.model_dump(), "recorded": recorded}


@router.post("/participants/{participant_id}/deepening", tags=["kurser"])
def submit_deepening(participant_id: Code, cmd: SubmitDeepening, enrolment: Service,
                     who: CurrentPrincipal) -> dict[str, Any]:
    access.own_account(who, participant_id)(enrolment.find_participant(participant_id))
    recorded = enrolment.submit_deepening(participant_id, cmd, actor(enrolment, who))
    return {"participant_id": participant_id, **cmd.model_dump(), "recorded": recorded}
