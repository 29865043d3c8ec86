"""Scheduling's HTTP API (FastAPI). Role rules are in `access.py`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response, status

from services.scheduling.adapters import access
from services.scheduling.application import (
    AssignTrainer,
    BookParticipant,
    CallInReserve,
    EstimateNeeds,
    PlanOccasion,
    PublishCourse,
    RegisterAttendance,
    Scheduling,
)
from services.scheduling.domain import Occasion
from shared.platform.auth import CurrentPrincipal, Role, require
from shared.platform.errors import NotFound
from shared.platform.http import service_api

DESCRIPTION = (
    "Kurskatalog, kurstillfällen, bokningar med väntelista, utbildarteam, närvaro och "
    "planeringsstöd. Avvisade kommandon registrerar ingenting: 422 med fält och skäl, 404 för "
    "okända id, 409 vid konflikt, 403 utanför din roll eller ditt område."
)


def _public(occasion: Occasion) -> dict[str, Any]:
    return {
        "occasion_id": occasion.occasion_id, "course_id": occasion.course_id,
        "region_id": occasion.region_id, "capacity": occasion.capacity,
        "booked": len(occasion.booked), "waitlisted": len(occasion.waitlist),
        "seats_left": occasion.seats_left, "has_course_leader": occasion.leader is not None,
        "days": [{"day": d.day, "date": d.date.isoformat(), "mode": str(d.mode),
                  "venue": occasion.venues.get(d.day)} for d in occasion.days.values()],
    }


def _roster(occasion: Occasion, municipality_id: str | None) -> dict[str, Any]:
    def visible(participant_id: str) -> bool:
        return municipality_id is None or (
            occasion.municipality_of.get(participant_id) == municipality_id)

    return {
        **_public(occasion),
        "bookings": [{"participant_id": p, "municipality_id": m}
                     for p, m in occasion.booked.items() if visible(p)],
        "waitlist": [{"participant_id": p, "municipality_id": m, "position": i + 1}
                     for i, (p, m) in enumerate(occasion.waitlist.items()) if visible(p)],
        "team": [{"trainer_id": t.trainer_id, "municipality_id": t.municipality_id,
                  "role": t.role} for t in occasion.team.values()],
        "attendance": [{
            "day": day,
            "present": sorted(p for p in occasion.attended.get(day, ()) if visible(p)),
            "delivered_by": [{"trainer_id": t, "role": r}
                             for t, r in sorted(occasion.delivered.get(day, {}).items())],
            "reserves_called_in": [{"reserve_id": r, "replaces_trainer_id": t}
                                   for r, t in sorted(occasion.called_in.get(day, {}).items())],
        } for day in sorted(occasion.days)],
    }


def create_api(scheduling: Scheduling) -> FastAPI:
    api = service_api(
        "Yrkesresan – scheduling", DESCRIPTION,
        health=lambda: {"ok": True, "service": "scheduling",
                        "events": scheduling.app.recorder.max_notification_id() or 0},
    )

    # -- the catalogue ----------------------------------------------------------------------

    @api.post("/catalogue", tags=["kurskatalog"])
    def publish_catalogue(who: CurrentPrincipal) -> dict[str, str]:
        """Publish the shipped Barn och unga Ny courses; unchanged courses record nothing."""
        require(who, Role.SYSTEM)
        return scheduling.publish_catalogue(actor=who.actor())

    @api.post("/courses", tags=["kurskatalog"])
    def publish_course(cmd: PublishCourse, who: CurrentPrincipal,
                       response: Response) -> dict[str, str]:
        """201 when new, 200 when revised or unchanged (then nothing is recorded)."""
        require(who, Role.SYSTEM)
        outcome = scheduling.publish_course(cmd, actor=who.actor())
        if outcome == "published":
            response.status_code = status.HTTP_201_CREATED
        return {"course_id": cmd.course_id, "outcome": outcome}

    @api.get("/courses", tags=["kurskatalog"])
    def list_courses(who: CurrentPrincipal) -> list[dict[str, Any]]:
        return scheduling.courses()

    @api.get("/courses/{course_id}", tags=["kurskatalog"])
    def get_course(course_id: str, who: CurrentPrincipal) -> dict[str, Any]:
        for course in scheduling.courses():
            if course["course_id"] == course_id:
                return course
        raise NotFound(f"Kursen {course_id} finns inte.", field="course_id")

    # -- occasions and bookings -------------------------------------------------------------

    @api.post("/occasions", status_code=status.HTTP_201_CREATED, tags=["kurstillfällen"])
    def plan_occasion(cmd: PlanOccasion, who: CurrentPrincipal) -> dict[str, str]:
        access.coordinator_of(who, cmd.region_id)
        return {"occasion_id": scheduling.plan_occasion(cmd, actor=who.actor())}

    @api.get("/occasions", tags=["kurstillfällen"])
    def list_occasions(who: CurrentPrincipal, region_id: str | None = None,
                       course_id: str | None = None) -> list[dict[str, Any]]:
        return scheduling.occasions(region_id, course_id)

    @api.get("/occasions/{occasion_id}", tags=["kurstillfällen"])
    def get_occasion(occasion_id: str, who: CurrentPrincipal) -> dict[str, Any]:
        return _public(scheduling.occasion(occasion_id))

    @api.get("/occasions/{occasion_id}/roster", tags=["kurstillfällen"])
    def get_roster(occasion_id: str, who: CurrentPrincipal) -> dict[str, Any]:
        """Bookings, waitlist, team and attendance per day (a municipal administrator sees
        only the participants booked for their municipality)."""
        require(who, Role.NATIONAL_ANALYST, Role.REGIONAL_COORDINATOR, Role.TRAINER,
                Role.MUNICIPAL_ADMIN)
        occasion = scheduling.occasion(occasion_id)
        return _roster(occasion, access.roster_scope(who, occasion))

    @api.post("/occasions/{occasion_id}/bookings", tags=["bokningar"])
    def book(occasion_id: str, cmd: BookParticipant, who: CurrentPrincipal,
             response: Response) -> dict[str, str]:
        """A place, or a place on the waitlist when the occasion is full (409 instead when
        `waitlist` is false). 201 when recorded, 200 when the participant already had it."""
        require(who, Role.PARTICIPANT, Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR)
        booking_status, changed = scheduling.book(
            occasion_id, cmd, actor=who.actor(),
            authorize=lambda o: access.may_book(who, o, cmd))
        response.status_code = status.HTTP_201_CREATED if changed else status.HTTP_200_OK
        return {"occasion_id": occasion_id, "participant_id": cmd.participant_id,
                "status": booking_status}

    @api.delete("/occasions/{occasion_id}/bookings/{participant_id}", tags=["bokningar"])
    def cancel(occasion_id: str, participant_id: str,
               who: CurrentPrincipal) -> dict[str, str | None]:
        """Cancel a booking (the first on the waitlist gets the place) or leave the waitlist."""
        require(who, Role.PARTICIPANT, Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR)
        promoted = scheduling.cancel(
            occasion_id, participant_id, actor=who.actor(),
            authorize=lambda o: access.may_cancel(who, o, participant_id))
        return {"occasion_id": occasion_id, "cancelled": participant_id, "promoted": promoted}

    @api.get("/participants/{participant_id}/bookings", tags=["bokningar"])
    def bookings_of(participant_id: str, who: CurrentPrincipal) -> list[dict[str, Any]]:
        return access.bookings_of(who, participant_id, scheduling.bookings_of(participant_id))

    # -- trainer teams ----------------------------------------------------------------------

    @api.post("/occasions/{occasion_id}/trainers", tags=["utbildarteam"])
    def assign_trainer(occasion_id: str, cmd: AssignTrainer, who: CurrentPrincipal,
                       response: Response) -> dict[str, str]:
        """One course leader per occasion; trainers and reserves besides."""
        require(who, Role.REGIONAL_COORDINATOR)
        changed = scheduling.assign_trainer(
            occasion_id, cmd, actor=who.actor(),
            authorize=lambda o: access.coordinator_of(who, o.region_id))
        response.status_code = status.HTTP_201_CREATED if changed else status.HTTP_200_OK
        return {"occasion_id": occasion_id, "trainer_id": cmd.trainer_id,
                "role": cmd.role.value}

    @api.post("/occasions/{occasion_id}/days/{day}/reserves", tags=["utbildarteam"])
    def call_in_reserve(occasion_id: str, day: int, cmd: CallInReserve, who: CurrentPrincipal,
                        response: Response) -> dict[str, Any]:
        """A reserve replaces a trainer for the day (and delivers it as `trainer`)."""
        require(who, Role.TRAINER, Role.REGIONAL_COORDINATOR)
        changed = scheduling.call_in_reserve(
            occasion_id, day, cmd, actor=who.actor(),
            authorize=lambda o: access.leader_or_coordinator(who, o))
        response.status_code = status.HTTP_201_CREATED if changed else status.HTTP_200_OK
        return {"occasion_id": occasion_id, "day": day, **cmd.model_dump()}

    @api.get("/trainers/{trainer_id}/assignments", tags=["utbildarteam"])
    def assignments_of(trainer_id: str, who: CurrentPrincipal) -> list[dict[str, Any]]:
        return access.assignments_of(who, trainer_id, scheduling.assignments_of(trainer_id))

    # -- attendance -------------------------------------------------------------------------

    @api.post("/occasions/{occasion_id}/days/{day}/attendance", tags=["närvaro"])
    def register_attendance(occasion_id: str, day: int, cmd: RegisterAttendance,
                            who: CurrentPrincipal) -> dict[str, Any]:
        """The whole list for one day in one transaction. Registering the day again records
        only additions (none: nothing changes); leaving out someone registered is a 409."""
        require(who, Role.TRAINER, Role.REGIONAL_COORDINATOR)
        recorded = scheduling.register_attendance(
            occasion_id, day, cmd, actor=who.actor(),
            authorize=lambda o: access.leader_or_coordinator(who, o))
        return {"occasion_id": occasion_id, "day": day,
                "recorded": {"attended": recorded.attended, "delivered": recorded.delivered},
                "unchanged": recorded.attended == 0 and recorded.delivered == 0}

    # -- planning ---------------------------------------------------------------------------

    @api.post("/planning/estimate", tags=["planering"])
    def estimate(cmd: EstimateNeeds, who: CurrentPrincipal) -> dict[str, Any]:
        """Occasions and trainers the region needs for the year, from its survey."""
        access.may_estimate(who, cmd.region_id)
        return {"region_id": cmd.region_id, "year": cmd.year,
                **scheduling.estimate(cmd).to_dict()}

    return api
