"""Planning support: occasions and trainers a region's year needs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.scheduling.adapters import access
from services.scheduling.adapters.routes import Service
from services.scheduling.application import EstimateNeeds
from shared.platform.auth import CurrentPrincipal

router = APIRouter(tags=["planering"])


@router.post("/planning/estimate")
def estimate(cmd: EstimateNeeds, scheduling: Service, who: CurrentPrincipal) -> dict[str, Any]:
    """Occasions and trainers the region needs for the year, from its survey."""
    access.estimate(who, cmd.region_id)
    return {"region_id": cmd.region_id, "year": cmd.year, **scheduling.estimate(cmd).to_dict()}
