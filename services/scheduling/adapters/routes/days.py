"""Re-planning an occasion's days: the whole plan, one day moved, a day added or removed.

Each records one `CourseOccasionRescheduled` with the occasion's days as now planned (venues
privately); the notification process sends the booked participants updated calendar entries.
A day keeps its number, so attendance registered for it stays with it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.scheduling.adapters import access
from services.scheduling.adapters.routes import Service
from services.scheduling.adapters.routes.occasions import public
from services.scheduling.application import Day, DayPlan, MoveDay, ReplanDays
from services.scheduling.domain import Occasion
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code

router = APIRouter(tags=["kurstillfällen"])


def _answer(outcome: tuple[bool, Occasion]) -> dict[str, Any]:
    changed, occasion = outcome
    return {**public(occasion), "unchanged": not changed}


@router.put("/occasions/{occasion_id}/days")
def replan(occasion_id: Code, cmd: ReplanDays, scheduling: Service,
           who: CurrentPrincipal) -> dict[str, Any]:
    """The occasion's days as now planned: a day left out is removed, a new number is added.
    A day with registered attendance is neither removed nor moved into the future (409)."""
    return _answer(scheduling.replan(occasion_id, cmd, actor=who.actor(),
                                     authorize=access.coordinate(who)))


@router.patch("/occasions/{occasion_id}/days/{day}")
def move_day(occasion_id: Code, day: Day, cmd: MoveDay, scheduling: Service,
             who: CurrentPrincipal) -> dict[str, Any]:
    """One day to a new date, mode or venue."""
    return _answer(scheduling.move_day(occasion_id, day, cmd, actor=who.actor(),
                                       authorize=access.coordinate(who)))


@router.post("/occasions/{occasion_id}/days")
def add_day(occasion_id: Code, cmd: DayPlan, scheduling: Service,
            who: CurrentPrincipal) -> dict[str, Any]:
    """A day after the last; 409 when every day has registered attendance already."""
    return _answer(scheduling.add_day(occasion_id, cmd, actor=who.actor(),
                                      authorize=access.coordinate(who)))


@router.delete("/occasions/{occasion_id}/days/{day}")
def remove_day(occasion_id: Code, day: Day, scheduling: Service,
               who: CurrentPrincipal) -> dict[str, Any]:
    """A day that has not taken place (no attendance registered)."""
    return _answer(scheduling.remove_day(occasion_id, day, actor=who.actor(),
                                         authorize=access.coordinate(who)))
