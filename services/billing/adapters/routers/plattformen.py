"""Plattformen, the trainers' place: their assignments, days, points and expected pot share."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.billing.adapters import access
from services.billing.adapters.routers import Service
from shared.events.models import Year
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code

router = APIRouter(tags=["plattformen"])


@router.get("/trainers/{trainer_id}/years/{year}")
def plattformen(trainer_id: Code, year: Year, billing: Service,
                who: CurrentPrincipal) -> dict[str, Any]:
    """A trainer's year: the teams they are on, the days they delivered, their points so far
    and the pot share they can expect at today's figures (per region; the closed year's
    division once the region has closed it)."""
    access.plattformen(who, billing.known, trainer_id)
    return billing.plattformen(trainer_id, year)
