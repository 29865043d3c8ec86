"""Attendance: one course day's list and who delivered it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.scheduling.adapters import access
from services.scheduling.adapters.routes import Service
from services.scheduling.application import Day, RegisterAttendance, WithdrawAttendance
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code

router = APIRouter(tags=["närvaro"])


@router.post("/occasions/{occasion_id}/days/{day}/attendance")
def register_attendance(occasion_id: Code, day: Day, cmd: RegisterAttendance,
                        scheduling: Service, who: CurrentPrincipal) -> dict[str, Any]:
    """The whole list for one day in one transaction. Registering the day again records
    only additions (none: nothing changes); leaving out someone registered is a 409. A day of
    a year the region has closed is a 409 unless the region's coordinator reports it (late:
    it goes on the next year's invoice basis as an adjustment)."""
    recorded = scheduling.register_attendance(occasion_id, day, cmd, actor=who.actor(),
                                              authorize=access.lead(who),
                                              late=access.reports_late(who))
    return {"occasion_id": occasion_id, "day": day,
            "recorded": {"attended": recorded.attended, "delivered": recorded.delivered},
            "unchanged": recorded.attended == 0 and recorded.delivered == 0}


@router.post("/occasions/{occasion_id}/days/{day}/withdrawals", status_code=201)
def withdraw_attendance(occasion_id: Code, day: Day, cmd: WithdrawAttendance,
                        scheduling: Service, who: CurrentPrincipal) -> dict[str, Any]:
    """Withdraw a participant-day reported by mistake (`AttendanceWithdrawn`): it no longer
    counts for completion, the trainer pot or invoices, and cannot be reported again. Closed
    years too: the withdrawal then shows on the next year's invoice basis."""
    recorded = scheduling.withdraw_attendance(occasion_id, day, cmd, actor=who.actor(),
                                              authorize=access.withdraw(who))
    return {"occasion_id": occasion_id, "day": day, "participant_id": cmd.participant_id,
            "withdrawn": True, "unchanged": not recorded}
