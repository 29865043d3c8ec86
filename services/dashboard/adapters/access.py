"""Who sees what on the dashboard's pages: the whole matrix, one small rule each.

| page | who |
| --- | --- |
| the national overview | national analysts (and the system); a coordinator is taken to |
| | their region, a municipal administrator to their municipality, a trainer to Plattformen |
| a region's overview | national analysts; the region's coordinator |
| a municipality's overview | national analysts; its region's coordinator; its own administrator |
| Stationen (a municipality's staff) | its own administrator; its region's coordinator |
| Plattformen (a trainer's days and pot) | the trainer |

Outside one's scope the page answers as for an id that does not exist (404), as the services do
(`shared/platform/access.py`). A participant has no page here.
"""

from __future__ import annotations

from shared.platform.auth import Principal, Role

NATIONAL = (Role.NATIONAL_ANALYST, Role.SYSTEM)


class Hidden(Exception):
    """The page is outside the reader's scope, or does not exist: the same answer."""


class NotForRole(Exception):
    """The reader's role has no such page."""


def home(who: Principal) -> str:
    """Where a reader lands after signing in."""
    if who.role in NATIONAL:
        return "/oversikt"
    if who.role is Role.REGIONAL_COORDINATOR:
        return f"/oversikt/region/{who.region_id}"
    if who.role is Role.MUNICIPAL_ADMIN:
        return f"/oversikt/kommun/{who.municipality_id}"
    if who.role is Role.TRAINER:
        return "/plattformen"
    raise NotForRole


def sees_nation(who: Principal) -> bool:
    return who.role in NATIONAL


def sees_region(who: Principal, region_id: str) -> None:
    if who.role in NATIONAL:
        return
    if who.role is Role.REGIONAL_COORDINATOR and who.region_id == region_id:
        return
    if who.role in (Role.REGIONAL_COORDINATOR, Role.MUNICIPAL_ADMIN):
        raise Hidden
    raise NotForRole


def sees_municipality(who: Principal, municipality_id: str, region_id: str | None) -> None:
    if who.role in NATIONAL:
        return
    if who.role is Role.REGIONAL_COORDINATOR and region_id and who.region_id == region_id:
        return
    if who.role is Role.MUNICIPAL_ADMIN and who.municipality_id == municipality_id:
        return
    if who.role in (Role.REGIONAL_COORDINATOR, Role.MUNICIPAL_ADMIN):
        raise Hidden
    raise NotForRole


def stationen(who: Principal, municipality_id: str, region_id: str | None) -> None:
    if who.role is Role.MUNICIPAL_ADMIN:
        if who.municipality_id != municipality_id:
            raise Hidden
        return
    if who.role is Role.REGIONAL_COORDINATOR:
        if not region_id or who.region_id != region_id:
            raise Hidden
        return
    raise NotForRole


def plattformen(who: Principal) -> str:
    """The trainer whose page it is."""
    if who.role is not Role.TRAINER or not who.trainer_id:
        raise NotForRole
    return who.trainer_id
