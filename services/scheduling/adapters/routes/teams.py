"""Trainer teams: assigning and taking off trainers, calling in reserves (and undoing it), a
trainer's assignments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from services.scheduling.adapters import access
from services.scheduling.adapters.routes import Service
from services.scheduling.application import AssignTrainer, CallInReserve, Day, UnassignTrainer
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset, page
from shared.platform.http import CREATED

router = APIRouter(tags=["utbildarteam"])


@router.post("/occasions/{occasion_id}/trainers", responses=CREATED)
def assign_trainer(occasion_id: Code, cmd: AssignTrainer, scheduling: Service,
                   who: CurrentPrincipal, response: Response) -> dict[str, str]:
    """One course leader per occasion; trainers and reserves besides. Only a trainer
    scheduling knows (from enrolment's events); their home municipality comes from there."""
    changed = scheduling.assign_trainer(occasion_id, cmd, actor=who.actor(),
                                        authorize=access.coordinate(who))
    response.status_code = status.HTTP_201_CREATED if changed else status.HTTP_200_OK
    return {"occasion_id": occasion_id, "trainer_id": cmd.trainer_id, "role": cmd.role.value}


@router.post("/occasions/{occasion_id}/days/{day}/reserves", responses=CREATED)
def call_in_reserve(occasion_id: Code, day: Day, cmd: CallInReserve, scheduling: Service,
                    who: CurrentPrincipal, response: Response) -> dict[str, Any]:
    """A reserve replaces a trainer for the day (and delivers it as `trainer`)."""
    changed = scheduling.call_in_reserve(occasion_id, day, cmd, actor=who.actor(),
                                         authorize=access.lead(who))
    response.status_code = status.HTTP_201_CREATED if changed else status.HTTP_200_OK
    return {"occasion_id": occasion_id, "day": day, **cmd.model_dump()}


@router.delete("/occasions/{occasion_id}/trainers/{trainer_id}")
def unassign_trainer(occasion_id: Code, trainer_id: Code, scheduling: Service,
                     who: CurrentPrincipal,
                     new_leader_id: Annotated[Code | None, Query()] = None,
                     ) -> dict[str, Any]:
    """Take a trainer off the team (`TrainerUnassigned`; the days they delivered still count).
    The course leader leaves only with `new_leader_id` naming the next one (409 without)."""
    cmd = UnassignTrainer.model_validate({"new_leader_id": new_leader_id})
    scheduling.unassign_trainer(occasion_id, trainer_id, cmd, actor=who.actor(),
                                authorize=access.coordinate(who))
    return {"occasion_id": occasion_id, "unassigned": trainer_id,
            "new_leader_id": cmd.new_leader_id}


@router.delete("/occasions/{occasion_id}/days/{day}/reserves/{reserve_id}")
def undo_call_in(occasion_id: Code, day: Day, reserve_id: Code, scheduling: Service,
                 who: CurrentPrincipal) -> dict[str, Any]:
    """Undo a reserve called in by mistake: the replaced trainer delivers the day after all.
    409 once the reserve's day is registered (a delivered trainer day cannot be taken back)."""
    scheduling.undo_call_in(occasion_id, day, reserve_id, actor=who.actor(),
                            authorize=access.lead(who))
    return {"occasion_id": occasion_id, "day": day, "undone": reserve_id}


@router.get("/trainers/{trainer_id}/assignments")
def assignments_of(trainer_id: Code, scheduling: Service, who: CurrentPrincipal,
                   limit: Limit = 1000, offset: Offset = 0) -> list[dict[str, Any]]:
    check = access.assignments_of(who, trainer_id)
    check(scheduling.known.trainer(trainer_id))
    return page(scheduling.assignments_of(trainer_id), limit, offset)
