"""Certification's HTTP API: progression, certificates (PDF, Open Badges credential), public
verification, evaluations and their statistics, routes, and Stationen; one router per resource
(`adapters/routers/`), each reading with the rules of `adapters/access.py`."""

from __future__ import annotations

from fastapi import FastAPI

from services.certification.adapters.enrolment import Names
from services.certification.adapters.routers import (
    audit,
    certificates,
    evaluations,
    progression,
    routes,
    stationen,
    verification,
)
from services.certification.adapters.routers.context import Context
from services.certification.application import Certification
from shared.platform.http import service_api


def create_api(cert: Certification, names: Names | None = None) -> FastAPI:
    ctx = Context(cert) if names is None else Context(cert, names)
    api = service_api(
        "Yrkesresan – certification",
        "Genomförda kurser, intyg och utvärderingar, härledda ur händelserna.",
        health=lambda: {"ok": True, "service": "certification",
                        "events": cert.app.recorder.max_notification_id() or 0},
        on_shutdown=[ctx.names.close],
    )
    for resource in (progression, certificates, verification, evaluations, routes, stationen,
                     audit):
        api.include_router(resource.router(ctx))
    return api

