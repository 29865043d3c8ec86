"""Progression: one participant's completion history, and the list for a municipality or a
region. Who may read which is `adapters/access.py`'s."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from services.certification.adapters import access
from services.certification.adapters.routers.context import Context
from shared.platform.auth import CurrentPrincipal


def router(ctx: Context) -> APIRouter:
    api = APIRouter(tags=["progression"])
    cert = ctx.cert

    @api.get("/progression/{participant_id}")
    def get_progression(participant_id: str, who: CurrentPrincipal) -> dict[str, Any]:
        check = access.read_progression(who, participant_id, cert.places)
        return check(cert.progression.get(cert.db, participant_id))

    @api.get("/progression")
    def list_progression(
        who: CurrentPrincipal, municipality_id: str | None = None,
        limit: int = Query(1000, ge=1, le=10000), offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        scope = access.list_progression(who, municipality_id, cert.places)
        return {"participants": cert.progression.list(cert.db, scope, limit, offset)}

    return api
