"""Enrolment's HTTP routes, one router per resource; `adapters/http.py` assembles them.

Every route checks who may do it through one function of `adapters/access.py` and calls one
handler of the application; nothing is decided here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, File, Request, UploadFile

from services.enrolment.adapters.reads import Reader
from services.enrolment.application import Enrolment
from shared.platform.auth import CurrentPrincipal, Principal


async def _enrolment(request: Request) -> Enrolment:
    """The service the API was built with (async: no thread hop per request)."""
    service: Enrolment = request.app.state.enrolment
    return service


Service = Annotated[Enrolment, Depends(_enrolment)]
CsvFile = Annotated[UploadFile, File(description="CSV, UTF-8 (or Windows-1252), `,` or `;`")]


def actor(enrolment: Enrolment, who: Principal) -> str:
    """Who did it, as recorded with the events: pseudonymous (`Enrolment.actor`)."""
    return enrolment.actor(who.role.value, who.subject)


async def _reader(request: Request, enrolment: Service, who: CurrentPrincipal) -> Reader:
    """Who reads personal data through this request, and the endpoint (its route's path, not
    the ids in the URL), for the record of reads (`adapters/reads.py`)."""
    path = getattr(request.scope.get("route"), "path", request.url.path)
    return Reader(actor(enrolment, who), f"{request.method} {path}")


ReadBy = Annotated[Reader, Depends(_reader)]
