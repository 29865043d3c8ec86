"""Billing's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from services.billing.application import BillingApplication
from shared.platform.http import service_api


def create_api(app: BillingApplication) -> FastAPI:
    return service_api(
        "Yrkesresan – billing",
        "",
        health=lambda: {"ok": True, "service": "billing",
                        "events": app.recorder.max_notification_id() or 0},
    )
