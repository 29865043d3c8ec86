"""What every service's HTTP API shares: health, metrics, and how rejections are answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.platform.errors import CommandRejected


def service_api(title: str, description: str, health: Callable[[], dict[str, Any]]) -> FastAPI:
    api = FastAPI(title=title, description=description, version="1")

    @api.exception_handler(CommandRejected)
    async def rejected(_: Request, exc: CommandRejected) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status)

    @api.get("/health", tags=["drift"])
    def get_health() -> JSONResponse:
        state = health()
        return JSONResponse(state, status_code=200 if state.get("ok") else 503)

    @api.get("/metrics", tags=["drift"])
    def get_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return api
