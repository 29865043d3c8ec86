"""Scheduling's HTTP routes, one router per resource; `adapters/http.py` assembles them.

Every route checks who may do it through one function of `adapters/access.py` and calls one
handler of the application; nothing is decided here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.scheduling.application import Scheduling


async def _scheduling(request: Request) -> Scheduling:
    """The service the API was built with (async: no thread hop per request)."""
    service: Scheduling = request.app.state.scheduling
    return service


Service = Annotated[Scheduling, Depends(_scheduling)]
