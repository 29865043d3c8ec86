"""Enrolment's HTTP API (FastAPI)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, status

from services.enrolment.application import (
    Enrolment,
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
)
from shared.platform.auth import CurrentPrincipal, Role, forbid, require, require_municipality
from shared.platform.http import service_api


def create_api(enrolment: Enrolment) -> FastAPI:
    api = service_api(
        "Yrkesresan – enrolment",
        "Regioner, kommuner och deltagarkonton. Personuppgifter finns bara här, krypterade.",
        health=lambda: {"ok": True, "service": "enrolment",
                        "events": enrolment.app.recorder.max_notification_id() or 0},
    )

    @api.post("/regions", status_code=status.HTTP_201_CREATED, tags=["referensdata"])
    def register_region(cmd: RegisterRegion, who: CurrentPrincipal) -> dict[str, str]:
        require(who, Role.SYSTEM)
        enrolment.register_region(cmd, actor=who.subject)
        return {"region_id": cmd.region_id}

    @api.post("/municipalities", status_code=status.HTTP_201_CREATED, tags=["referensdata"])
    def join_municipality(cmd: JoinMunicipality, who: CurrentPrincipal) -> dict[str, str]:
        require(who, Role.REGIONAL_COORDINATOR)
        if who.role is Role.REGIONAL_COORDINATOR and who.region_id != cmd.region_id:
            raise forbid("Du kan bara lägga till kommuner i din egen region.")
        enrolment.join_municipality(cmd, actor=who.subject)
        return {"municipality_id": cmd.municipality_id}

    @api.post("/participants", status_code=status.HTTP_201_CREATED, tags=["konton"])
    def register_participant(cmd: RegisterParticipant, who: CurrentPrincipal) -> dict[str, str]:
        require_municipality(who, cmd.municipality_id)
        participant_id = enrolment.register_participant(cmd, actor=who.subject)
        return {"participant_id": participant_id}

    @api.get("/participants/{participant_id}", tags=["konton"])
    def get_participant(participant_id: str, who: CurrentPrincipal) -> dict[str, Any]:
        p = enrolment.participant(participant_id)
        if who.role is Role.PARTICIPANT and who.participant_id != participant_id:
            raise forbid("Du kan bara se ditt eget konto.")
        if who.role is not Role.PARTICIPANT:
            require_municipality(who, p.municipality_id)
        personal = enrolment.personal_data(p) or {}
        return {
            "participant_id": p.participant_id, "municipality_id": p.municipality_id,
            "journey": p.journey, "role": p.role, "level": p.level.value,
            "years_in_profession": p.years_in_profession, "erased": p.erased,
            "name": personal.get("name"), "email": personal.get("email"),
        }

    return api
