"""Names from enrolment, over HTTP, at the moment a certificate or a staff list is rendered.

Names live only in enrolment (ADR 0005). Certification asks for them with a service token when
a person is to read them (role `name_reader`: names only, never an address, each read recorded
by enrolment), and keeps nothing: not in its database, not in its logs, never on the
bus. An erased participant has no name any more; enrolment down means no name, said so.

One client per process: its pool keeps connections to enrolment open between renderings (a
staff list or an intyg no longer pays a new connection each), every phase of a request has a
timeout, and the API closes it when it stops.
"""

from __future__ import annotations

import logging
from typing import Protocol
from urllib.parse import quote

import httpx

from services.certification.keys import certification_settings
from shared.platform.auth import service_token

log = logging.getLogger(__name__)
ERASED = "(namnet är raderat)"
UNAVAILABLE = "(namnet kan inte hämtas just nu)"


class Names(Protocol):
    def name_of(self, participant_id: str) -> str: ...

    def names_in(self, municipality_id: str) -> dict[str, str]: ...

    def close(self) -> None: ...


class EnrolmentNames:
    def __init__(self, base_url: str | None = None, timeout: float = 5,
                 connect_timeout: float = 2) -> None:
        self.http = httpx.Client(
            base_url=base_url or certification_settings().enrolment_base(),
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=5))

    def _get(self, path: str, params: dict[str, str | int] | None = None) -> httpx.Response:
        return self.http.get(path, params=params, headers={
            "Authorization": f"Bearer {service_token('certification')}"})

    def close(self) -> None:
        self.http.close()

    def name_of(self, participant_id: str) -> str:
        try:
            r = self._get(f"/participants/{quote(participant_id, safe='')}")
        except httpx.HTTPError as e:
            log.warning("enrolment unreachable for a name", extra={"error": type(e).__name__})
            return UNAVAILABLE
        if r.status_code != 200:
            log.warning("enrolment did not give a name", extra={"status": r.status_code})
            return UNAVAILABLE
        return str(r.json().get("name") or ERASED)

    def names_in(self, municipality_id: str) -> dict[str, str]:
        names: dict[str, str] = {}
        offset = 0
        while True:
            try:
                r = self._get("/participants", {"municipality_id": municipality_id,
                                                "limit": 1000, "offset": offset})
            except httpx.HTTPError as e:
                log.warning("enrolment unreachable for names", extra={"error": type(e).__name__})
                return names
            if r.status_code != 200:
                return names
            rows = r.json().get("participants", [])
            names |= {row["participant_id"]: row.get("name") or ERASED for row in rows}
            if len(rows) < 1000:
                return names
            offset += 1000
