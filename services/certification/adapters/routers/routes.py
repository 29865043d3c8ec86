"""A participant's route: the stops of their journey and level, what is done, what is missing
before the next, and their certificates with links."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.certification import views
from services.certification.adapters import access
from services.certification.adapters.routers.context import Context
from services.certification.projections.routes import level_up_due
from shared.platform.access import hidden
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code


def with_certificates(ctx: Context, doc: dict[str, Any],
                      certificates: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [{"certificate_id": c["certificate_id"], "course_id": c["course_id"],
             "occasion_id": c["occasion_id"], "status": c["status"],
             "completed_on": c["completed_on"], "links": ctx.links(c)}
            for c in certificates if c["participant_id"] == doc["participant_id"]]
    stops = [s | {"certificates": [c for c in mine if c["course_id"] == s["course_id"]]}
             for s in doc["stops"]]
    return doc | {"stops": stops, "certificates": mine, "level_up_due": level_up_due(doc)}


def router(ctx: Context) -> APIRouter:
    api = APIRouter(tags=["resväg"])

    @api.get("/participants/{participant_id}/route")
    def get_route(participant_id: Code, who: CurrentPrincipal) -> dict[str, Any]:
        check = access.read_participant(who, participant_id, ctx.cert.places)
        doc = views.view(ctx.cert.db, "route", participant_id)
        check(doc["municipality_id"] if doc else None)
        if doc is None:  # system asking for an id nobody registered
            raise hidden("participant_id", participant_id)
        return with_certificates(ctx, doc, views.certificates_of(ctx.cert.db, participant_id))

    return api
