"""Certification's HTTP API: progression, certificates (PDF, Open Badges credential), public
verification, evaluations and their statistics, routes, and Stationen; one router per resource
(`adapters/routers/`), each reading with the rules of `adapters/access.py`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query

from services.certification import views
from services.certification.adapters.enrolment import Names
from services.certification.adapters.routers import (
    certificates,
    evaluations,
    routes,
    stationen,
    verification,
)
from services.certification.adapters.routers.context import Context
from services.certification.application import Certification
from shared.platform.auth import CurrentPrincipal, Role, forbid
from shared.platform.http import service_api


def create_api(cert: Certification, names: Names | None = None) -> FastAPI:
    api = service_api(
        "Yrkesresan – certification",
        "Genomförda kurser, intyg och utvärderingar, härledda ur händelserna.",
        health=lambda: {"ok": True, "service": "certification",
                        "participants": cert.progression.count(cert.db),
                        "certificates": views.count(cert.db)},
    )
    ctx = Context(cert) if names is None else Context(cert, names)
    for resource in (certificates, verification, evaluations, routes, stationen):
        api.include_router(resource.router(ctx))

    @api.get("/progression/{participant_id}", tags=["progression"])
    def get_progression(participant_id: str, who: CurrentPrincipal) -> dict[str, Any]:
        row = cert.progression.get(cert.db, participant_id)
        if row is None:
            raise HTTPException(
                404, f"Deltagaren {participant_id} finns inte (ännu) i progressionen.")
        _check_scope(who, row)
        return row

    @api.get("/progression", tags=["progression"])
    def list_progression(
        who: CurrentPrincipal,
        municipality_id: str | None = None,
        limit: int = Query(1000, ge=1, le=10000),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        if who.role is Role.MUNICIPAL_ADMIN:
            if municipality_id not in (None, who.municipality_id):
                raise forbid("Du kan bara se deltagare i din egen kommun.")
            municipality_id = who.municipality_id
        elif who.role not in (Role.NATIONAL_ANALYST, Role.SYSTEM):
            raise forbid(f"Rollen {who.role.value} får inte lista deltagare.")
        rows = cert.progression.list(cert.db, municipality_id, limit, offset)
        return {"participants": rows}

    return api


def _check_scope(who: Any, row: dict[str, Any]) -> None:
    if who.role is Role.PARTICIPANT and who.participant_id != row["participant_id"]:
        raise forbid("Du kan bara se din egen progression.")
    if who.role is Role.MUNICIPAL_ADMIN and who.municipality_id != row.get("municipality_id"):
        raise forbid("Du kan bara se deltagare i din egen kommun.")
    if who.role is Role.TRAINER:
        raise forbid("Utbildare ser inte deltagares progression.")
