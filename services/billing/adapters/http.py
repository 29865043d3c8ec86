"""Billing's HTTP API (FastAPI): the routers of `adapters/routers/`, assembled. Who may do
what is in `adapters/access.py`."""

from __future__ import annotations

from fastapi import FastAPI

from services.billing.adapters.routers import invoices, plattformen, prices, years
from services.billing.application import Billing
from shared.platform.http import service_api

DESCRIPTION = (
    "Prislistor per region och år, årsavslut med utbildarpottens fördelning, "
    "fakturaunderlag per kommun (JSON, CSV, PDF) och Plattformen för utbildare. Allt räknas "
    "med samma regler som `yrkesresan replay`. 404 för okända id och för id utanför ditt "
    "område (samma svar), 409 när ett år redan är stängt, 403 för det din roll aldrig får göra."
)
ROUTERS = (prices, years, invoices, plattformen)


def create_api(billing: Billing) -> FastAPI:
    api = service_api(
        "Yrkesresan – billing", DESCRIPTION,
        health=lambda: {"ok": True, "service": "billing",
                        "events": billing.app.recorder.max_notification_id() or 0},
    )
    api.state.billing = billing
    for module in ROUTERS:
        api.include_router(module.router)
    return api
