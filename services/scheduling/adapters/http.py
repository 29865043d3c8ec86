"""Scheduling's HTTP API (FastAPI): the routers of `adapters/routes/`, assembled. Who may do
what is in `adapters/access.py`."""

from __future__ import annotations

from fastapi import FastAPI

from services.scheduling.adapters.routes import (
    attendance,
    bookings,
    catalogue,
    days,
    occasions,
    planning,
    teams,
)
from services.scheduling.application import Scheduling
from shared.platform.http import service_api

DESCRIPTION = (
    "Kurskatalog, kurstillfällen, bokningar med väntelista, utbildarteam, närvaro och "
    "planeringsstöd. Avvisade kommandon registrerar ingenting: 422 med fält och skäl, 404 för "
    "okända id och för id utanför ditt område (samma svar), 409 vid konflikt, 403 för det din "
    "roll aldrig får göra."
)
ROUTERS = (catalogue, occasions, days, bookings, teams, attendance, planning)


def create_api(scheduling: Scheduling) -> FastAPI:
    api = service_api(
        "Yrkesresan – scheduling", DESCRIPTION,
        health=lambda: {"ok": True, "service": "scheduling",
                        "events": scheduling.app.recorder.max_notification_id() or 0},
    )
    api.state.scheduling = scheduling
    for module in ROUTERS:
        api.include_router(module.router)
    return api
