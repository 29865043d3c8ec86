"""Trainer accounts (utbildare): registering, listing a municipality's, reading one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from services.enrolment.adapters import access
from services.enrolment.adapters.routes import ReadBy, Service, actor
from services.enrolment.application import RegisterTrainer
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset

router = APIRouter(tags=["utbildare"])


@router.post("/trainers", status_code=status.HTTP_201_CREATED)
def register_trainer(cmd: RegisterTrainer, enrolment: Service,
                     who: CurrentPrincipal) -> dict[str, str]:
    """A trainer's account in their home municipality (credited with their share of the
    trainer pot). The id is minted here; name and e-mail stay here, encrypted."""
    access.register_trainer(who, cmd.municipality_id)(enrolment.region_of)
    return {"trainer_id": enrolment.register_trainer(cmd, actor=actor(enrolment, who))}


@router.get("/trainers")
def list_trainers(
    municipality_id: Code, enrolment: Service, who: CurrentPrincipal, reader: ReadBy,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    access.list_trainers(who, municipality_id)(enrolment.region_of)
    return {"municipality_id": municipality_id, "limit": limit, "offset": offset,
            "trainers": enrolment.trainers_of(municipality_id, True, limit, offset, reader)}


@router.get("/trainers/{trainer_id}")
def get_trainer(trainer_id: Code, enrolment: Service, who: CurrentPrincipal,
                reader: ReadBy) -> dict[str, Any]:
    check = access.read_trainer(who, trainer_id, enrolment.region_of)
    return enrolment.trainer_view(check(enrolment.find_trainer(trainer_id)), personal=True,
                                  reader=reader)


@router.get("/trainers/{trainer_id}/reads", tags=["granskning"])
def trainer_reads(trainer_id: Code, enrolment: Service, who: CurrentPrincipal,
                  limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Who read this trainer's name or e-mail, when and through which endpoint: for the
    auditor."""
    access.audit_reads(who, trainer_id, "trainer_id")(enrolment.find_trainer(trainer_id))
    return {"trainer_id": trainer_id, "limit": limit, "offset": offset,
            "reads": enrolment.reads.of(trainer_id, limit, offset)}
