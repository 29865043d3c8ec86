"""Enrolment's HTTP API (FastAPI): the routers of `adapters/routes/`, assembled, and how its
rejections are answered. Who may do what is in `adapters/access.py`; every recorded event
carries a pseudonymous actor (`Enrolment.actor`), never the token's subject."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.enrolment.adapters.routes import participants, reference, trainers
from services.enrolment.application import Enrolment
from services.enrolment.csv_import import ImportRejected
from shared.platform.http import service_api

DESCRIPTION = (
    "Regioner, kommuner, kurskatalog, deltagar- och utbildarkonton. Personuppgifter finns bara "
    "här, krypterade per person. 404 för okända id och för id utanför ditt område (samma svar), "
    "403 för det din roll aldrig får göra."
)
ROUTERS = (reference, participants, trainers)


async def import_rejected(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImportRejected)
    return JSONResponse({"detail": exc.message, "errors": [e.as_dict() for e in exc.errors]},
                        status_code=exc.status)


def create_api(enrolment: Enrolment) -> FastAPI:
    api = service_api(
        "Yrkesresan – enrolment", DESCRIPTION,
        health=lambda: {"ok": True, "service": "enrolment",
                        "events": enrolment.app.recorder.max_notification_id() or 0},
    )
    api.state.enrolment = enrolment
    api.add_exception_handler(ImportRejected, import_rejected)
    for module in ROUTERS:
        api.include_router(module.router)
    return api
