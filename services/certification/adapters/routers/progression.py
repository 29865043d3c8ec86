"""Progression: one participant's completion history, and the list for a municipality or a
region. Who may read which is `adapters/access.py`'s."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.certification.adapters import access
from services.certification.adapters.routers.context import Context
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset


def router(ctx: Context) -> APIRouter:
    api = APIRouter(tags=["progression"])
    cert = ctx.cert

    @api.get("/progression/{participant_id}")
    def get_progression(participant_id: Code, who: CurrentPrincipal) -> dict[str, Any]:
        check = access.read_progression(who, participant_id, cert.places)
        return check(cert.progression.get(cert.db, participant_id))

    @api.get("/progression")
    def list_progression(
        who: CurrentPrincipal, municipality_id: Code | None = None,
        limit: Limit = 1000, offset: Offset = 0,
    ) -> dict[str, Any]:
        scope = access.list_progression(who, municipality_id, cert.places)
        return {"participants": cert.progression.list(cert.db, scope, limit, offset)}

    return api
