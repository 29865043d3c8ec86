"""Billing's HTTP routes, one router per resource; `adapters/http.py` assembles them.

Every route checks who may do it through one function of `adapters/access.py` and calls one
handler of the application; nothing is decided here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.billing.application import Billing


async def _billing(request: Request) -> Billing:
    """The service the API was built with (async: no thread hop per request)."""
    service: Billing = request.app.state.billing
    return service


Service = Annotated[Billing, Depends(_billing)]
