"""Scheduling's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from services.scheduling.application import SchedulingApplication
from shared.platform.http import service_api


def create_api(app: SchedulingApplication) -> FastAPI:
    return service_api(
        "Yrkesresan – scheduling",
        "",
        health=lambda: {"ok": True, "service": "scheduling",
                        "events": app.recorder.max_notification_id() or 0},
    )
