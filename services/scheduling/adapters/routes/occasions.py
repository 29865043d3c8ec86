"""Course occasions: planning one, the lists, one occasion's public part and its roster."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from services.scheduling.adapters import access
from services.scheduling.adapters.routes import Service
from services.scheduling.application import CancelOccasion, PlanOccasion
from services.scheduling.domain import Occasion
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset, page
from shared.platform.http import CREATED

router = APIRouter(tags=["kurstillfällen"])


def public(occasion: Occasion) -> dict[str, Any]:
    return {
        "occasion_id": occasion.occasion_id, "course_id": occasion.course_id,
        "region_id": occasion.region_id, "capacity": occasion.capacity,
        "booked": len(occasion.booked), "waitlisted": len(occasion.waitlist),
        "seats_left": 0 if occasion.cancelled else occasion.seats_left,
        "has_course_leader": occasion.leader is not None,
        "cancelled": occasion.cancelled is not None, "cancellation_reason": occasion.cancelled,
        "days": [{"day": d.day, "date": d.date.isoformat(), "mode": str(d.mode),
                  "venue": occasion.venues.get(d.day)} for d in occasion.days.values()],
    }


def roster(occasion: Occasion, visible: set[str] | None) -> dict[str, Any]:
    """Bookings, waitlist, team and attendance; participants limited to `visible` if given."""
    def shown(participant_id: str) -> bool:
        return visible is None or participant_id in visible

    return {
        **public(occasion),
        "bookings": [{"participant_id": p, "municipality_id": m}
                     for p, m in occasion.booked.items() if shown(p)],
        "waitlist": [{"participant_id": p, "municipality_id": m, "position": i + 1}
                     for i, (p, m) in enumerate(occasion.waitlist.items()) if shown(p)],
        "team": [{"trainer_id": t.trainer_id, "municipality_id": t.municipality_id,
                  "role": t.role} for t in occasion.team.values()],
        "attendance": [{
            "day": day,
            "present": sorted(p for p in occasion.attended.get(day, ()) if shown(p)),
            "delivered_by": [{"trainer_id": t, "role": r}
                             for t, r in sorted(occasion.delivered.get(day, {}).items())],
            "reserves_called_in": [{"reserve_id": r, "replaces_trainer_id": t}
                                   for r, t in sorted(occasion.called_in.get(day, {}).items())],
        } for day in sorted(occasion.days)],
    }


@router.post("/occasions", status_code=status.HTTP_201_CREATED)
def plan_occasion(cmd: PlanOccasion, scheduling: Service,
                  who: CurrentPrincipal) -> dict[str, str]:
    """In a region scheduling knows, with dates from 2017 to three years ahead."""
    access.plan_in(who, cmd.region_id)
    return {"occasion_id": scheduling.plan_occasion(cmd, actor=who.actor())}


@router.post("/occasions/{occasion_id}/cancellation", responses=CREATED)
def cancel_occasion(occasion_id: Code, cmd: CancelOccasion, scheduling: Service,
                    who: CurrentPrincipal, response: Response) -> dict[str, Any]:
    """Cancel the occasion (`CourseOccasionCancelled`): every booking is released (a
    `BookingCancelled` each), the waitlist cleared; the notification process tells those
    booked. The days already reported still count; nobody completes it. 201 when recorded,
    200 when it was cancelled already; 409 once every day has registered attendance."""
    released = scheduling.cancel_occasion(occasion_id, cmd, actor=who.actor(),
                                          authorize=access.coordinate(who))
    response.status_code = status.HTTP_200_OK if released is None else status.HTTP_201_CREATED
    return {"occasion_id": occasion_id, "cancelled": True, "released": released or []}


@router.get("/occasions")
def list_occasions(scheduling: Service, who: CurrentPrincipal, region_id: Code | None = None,
                   course_id: Code | None = None, limit: Limit = 1000,
                   offset: Offset = 0) -> list[dict[str, Any]]:
    """The occasions' public part, a page at a time; a trainer sees only the occasions they
    are on."""
    return page(scheduling.occasions(region_id, course_id,
                                     trainer_id=access.only_trainers_own(who)), limit, offset)


@router.get("/occasions/{occasion_id}")
def get_occasion(occasion_id: Code, scheduling: Service,
                 who: CurrentPrincipal) -> dict[str, Any]:
    check = access.occasion(who)
    occasion = scheduling.occasion(occasion_id)
    check(occasion)
    return public(occasion)


@router.get("/occasions/{occasion_id}/roster")
def get_roster(occasion_id: Code, scheduling: Service, who: CurrentPrincipal) -> dict[str, Any]:
    """Bookings, waitlist, team and attendance per day (a municipal administrator sees only
    the participants registered in their municipality)."""
    check = access.roster(who)
    occasion = scheduling.occasion(occasion_id)
    limited_to = check(occasion)
    known = scheduling.known.participants(access.roster_ids(occasion)) if limited_to else {}
    return roster(occasion, access.visible_in_roster(limited_to, known))
