"""Price lists: per region and year, GR's model where none is set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.billing.adapters import access
from services.billing.adapters.routers import Service
from services.billing.application import SetPriceList
from shared.events.models import Year
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code

router = APIRouter(tags=["prislistor"])


@router.get("/regions/{region_id}/years/{year}/price-list")
def get_price_list(region_id: Code, year: Year, billing: Service,
                   who: CurrentPrincipal) -> dict[str, Any]:
    """The price list in force: the region's own for the year, else GR's model."""
    access.read_prices(billing.known, region_id)
    return billing.price_list(region_id, year)


@router.put("/regions/{region_id}/years/{year}/price-list",
            responses={409: {"description": "Året är stängt."}})
def set_price_list(region_id: Code, year: Year, cmd: SetPriceList, billing: Service,
                   who: CurrentPrincipal) -> dict[str, Any]:
    """Set the region's price list for the year (`PriceListSet`); a component or points left
    out is GR's model's. A closed year's price list stands as it was (409)."""
    access.coordinate(who, billing.known, region_id)
    return billing.set_price_list(region_id, year, cmd, actor=who.actor())
