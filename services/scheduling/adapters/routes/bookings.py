"""Bookings: a place on an occasion (or on its waitlist), cancelling, a participant's list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from services.scheduling.adapters import access
from services.scheduling.adapters.routes import Service
from services.scheduling.application import BookParticipant
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset, page
from shared.platform.http import CREATED

router = APIRouter(tags=["bokningar"])


@router.post("/occasions/{occasion_id}/bookings", responses=CREATED)
def book(occasion_id: Code, cmd: BookParticipant, scheduling: Service, who: CurrentPrincipal,
         response: Response) -> dict[str, str]:
    """A place, or a place on the waitlist when the occasion is full (409 instead when
    `waitlist` is false). 201 when recorded, 200 when the participant already had it. Only a
    participant scheduling knows (from enrolment's events); their municipality is recorded
    from there."""
    booking_status, changed = scheduling.book(
        occasion_id, cmd, actor=who.actor(), authorize=access.book(who, cmd.participant_id))
    response.status_code = status.HTTP_201_CREATED if changed else status.HTTP_200_OK
    return {"occasion_id": occasion_id, "participant_id": cmd.participant_id,
            "status": booking_status}


@router.delete("/occasions/{occasion_id}/bookings/{participant_id}")
def cancel(occasion_id: Code, participant_id: Code, scheduling: Service,
           who: CurrentPrincipal) -> dict[str, str | None]:
    """Cancel a booking (the first on the waitlist gets the place) or leave the waitlist."""
    promoted = scheduling.cancel(occasion_id, participant_id, actor=who.actor(),
                                 authorize=access.cancel(who, participant_id))
    return {"occasion_id": occasion_id, "cancelled": participant_id, "promoted": promoted}


@router.get("/participants/{participant_id}/bookings")
def bookings_of(participant_id: Code, scheduling: Service, who: CurrentPrincipal,
                limit: Limit = 1000, offset: Offset = 0) -> list[dict[str, Any]]:
    check = access.bookings_of(who, participant_id)
    check(scheduling.known.participant(participant_id))
    return page(scheduling.bookings_of(participant_id), limit, offset)
