"""Planning support: occasions and trainers a region's year needs, from its survey, from the
bus, and the two side by side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.scheduling.adapters import access
from services.scheduling.adapters.routes import Service
from services.scheduling.application import DemandFromBus, EstimateNeeds
from services.scheduling.planning import with_counts
from shared.platform.auth import CurrentPrincipal

router = APIRouter(tags=["planering"])


@router.post("/planning/estimate")
def estimate(cmd: EstimateNeeds, scheduling: Service, who: CurrentPrincipal) -> dict[str, Any]:
    """Occasions and trainers the region needs for the year, from its survey."""
    access.estimate(who, cmd.region_id)
    return {"region_id": cmd.region_id, "year": cmd.year, **scheduling.estimate(cmd).to_dict()}


@router.get("/planning/demand")
def demand(cmd: Annotated[DemandFromBus, Query()], scheduling: Service,
           who: CurrentPrincipal) -> dict[str, Any]:
    """The same from the bus: per course, the participants registered in the region at its
    level, less those who completed it and those booked on an occasion of it still to come
    (`from_the_bus` gives the counts)."""
    access.estimate(who, cmd.region_id)
    bus, needs = scheduling.demand(cmd)
    return {"region_id": cmd.region_id, "year": cmd.year, **with_counts(bus, needs)}


@router.post("/planning/compare")
def compare(cmd: EstimateNeeds, scheduling: Service, who: CurrentPrincipal) -> dict[str, Any]:
    """The survey's estimate and the bus's side by side, per course and in total, with the
    difference (bus − survey) of every figure."""
    access.estimate(who, cmd.region_id)
    return {"region_id": cmd.region_id, "year": cmd.year, **scheduling.compare(cmd)}
