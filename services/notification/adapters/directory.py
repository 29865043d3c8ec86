"""Addresses from enrolment, over HTTP with a service token: they never travel on the bus.

`GET /participants/{id}` answers notification's own account (role `address_reader`: this read
and nothing else, each read recorded by enrolment) with the account, its name and address; an
erased account has none (its key is destroyed), and gets no message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from shared.platform.auth import service_token


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    name: str | None


class DirectoryUnavailable(Exception):
    """Enrolment did not answer as it should; the message is tried again later."""


def notification_token() -> str:
    return service_token("notification")


class EnrolmentDirectory:
    def __init__(self, base_url: str, client: httpx.Client | None = None,
                 token: Callable[[], str] = notification_token) -> None:
        self.http = client or httpx.Client(base_url=base_url, timeout=10)
        self._token = token  # reused until half its lifetime has passed (`service_token`)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token()}"}

    def person(self, participant_id: str) -> Person | None:
        """The participant's address and name; None when erased or unknown to enrolment."""
        try:
            r = self.http.get(f"/participants/{quote(participant_id, safe='')}",
                              headers=self._headers())
        except httpx.HTTPError as e:
            raise DirectoryUnavailable(type(e).__name__) from None
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise DirectoryUnavailable(f"enrolment answered {r.status_code}")
        body = r.json()
        if body.get("erased") or not body.get("email"):
            return None
        return Person(body["email"], body.get("name"))

    def close(self) -> None:
        self.http.close()
