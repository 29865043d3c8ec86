"""The services' APIs, called for the signed-in reader with their own token.

A service that does not answer, or answers with an error, gives a `Missing` that the page
shows in Swedish: the rest of the page still renders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

from shared.platform.ports import SERVICE_PORTS


@dataclass(frozen=True)
class Missing:
    service: str
    status: int | None

    @property
    def message(self) -> str:
        names = {"certification": "Certifieringstjänsten", "billing": "Faktureringstjänsten",
                 "scheduling": "Schemaläggningstjänsten", "enrolment": "Registreringstjänsten"}
        name = names.get(self.service, self.service)
        if self.status is None:
            return f"{name} svarar inte just nu. Uppgifterna visas när den är igång igen."
        if self.status == 404:
            return f"{name} har inga uppgifter här (ännu)."
        if self.status == 403:
            return f"{name} visar inte detta för din roll."
        return f"{name} kunde inte svara (HTTP {self.status})."


def base_url(service: str) -> str:
    own = os.environ.get(f"YRKESRESAN_{service.upper()}_URL")
    if own:
        return own.rstrip("/")
    port = os.environ.get(f"YRKESRESAN_{service.upper()}_PORT") or SERVICE_PORTS[service]
    return f"http://127.0.0.1:{port}"


async def fetch(service: str, path: str, token: str,
                params: dict[str, Any] | None = None) -> Any:
    """The JSON answer, or a `Missing` saying why not."""
    try:
        async with httpx.AsyncClient(base_url=base_url(service), timeout=5) as http:
            response = await http.get(path, params=params,
                                      headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        return Missing(service, None)
    if response.status_code != 200:
        return Missing(service, response.status_code)
    try:
        return response.json()
    except ValueError:
        return Missing(service, response.status_code)


async def fetch_bytes(service: str, path: str, token: str) -> tuple[bytes, str] | Missing:
    try:
        async with httpx.AsyncClient(base_url=base_url(service), timeout=10) as http:
            response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        return Missing(service, None)
    if response.status_code != 200:
        return Missing(service, response.status_code)
    return response.content, response.headers.get("content-type", "application/octet-stream")
