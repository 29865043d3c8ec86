"""A region's year: its trainer pot (utbildarpott) and closing it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.billing.adapters import access
from services.billing.adapters.routers import Service
from shared.events.models import Year
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code

router = APIRouter(tags=["år och utbildarpott"])


@router.get("/regions/{region_id}/years/{year}/pot")
def get_pot(region_id: Code, year: Year, billing: Service,
            who: CurrentPrincipal) -> dict[str, Any]:
    """The pot and its division (the contract's `pot` document); `closed` tells whether the
    year is closed (then the figures are the closed year's, as recorded in `PotDistributed`)."""
    access.coordinate(who, billing.known, region_id)
    return billing.pot(region_id, year).to_dict() | {
        "closed": billing.closed(region_id, year) is not None}


@router.post("/regions/{region_id}/years/{year}/close", status_code=201,
             responses={409: {"description": "Året är redan stängt."}})
def close_year(region_id: Code, year: Year, billing: Service,
               who: CurrentPrincipal) -> dict[str, Any]:
    """Close the region's year (`YearClosed`) and divide its pot (`PotDistributed`). What is
    reported later about the year goes on the next year's invoice basis as an adjustment."""
    access.coordinate(who, billing.known, region_id)
    distributed = billing.close_year(region_id, year, actor=who.actor())
    return {"region_id": region_id, "year": year, "closed": True,
            "pot": distributed.model_dump(mode="json", include={
                "pot_sek", "total_points", "trainers"})}
