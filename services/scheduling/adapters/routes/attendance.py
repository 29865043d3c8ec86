"""Attendance: one course day's list and who delivered it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.scheduling.adapters import access
from services.scheduling.adapters.routes import Service
from services.scheduling.application import Day, RegisterAttendance
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code

router = APIRouter(tags=["närvaro"])


@router.post("/occasions/{occasion_id}/days/{day}/attendance")
def register_attendance(occasion_id: Code, day: Day, cmd: RegisterAttendance,
                        scheduling: Service, who: CurrentPrincipal) -> dict[str, Any]:
    """The whole list for one day in one transaction. Registering the day again records
    only additions (none: nothing changes); leaving out someone registered is a 409."""
    recorded = scheduling.register_attendance(occasion_id, day, cmd, actor=who.actor(),
                                              authorize=access.lead(who))
    return {"occasion_id": occasion_id, "day": day,
            "recorded": {"attended": recorded.attended, "delivered": recorded.delivered},
            "unchanged": recorded.attended == 0 and recorded.delivered == 0}
