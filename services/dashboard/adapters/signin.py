"""Signing in to the dashboard's pages: OpenID Connect in production, a role picker locally.

The session is the bearer token itself, in an HttpOnly cookie: every page verifies it with
`shared.platform.auth.decode_token` (the same check the services make) and forwards it to the
services' APIs, so the pages can show no more than the APIs would give the same person.

- **OpenID Connect** (`YRKESRESAN_OIDC_ISSUER`, by default the services' `YRKESRESAN_AUTH_ISSUER`;
  `YRKESRESAN_OIDC_CLIENT_ID`, `_OIDC_CLIENT_SECRET`: the dashboard's own client at the
  provider): the authorization code flow with PKCE against the provider's discovery document
  (`YRKESRESAN_OIDC_DISCOVERY_URL` where the dashboard reaches the provider at another address
  than people do, as inside a compose network; by default `<issuer>/.well-known/...`); the
  access token it returns is the session, checked as the services check theirs. The provider
  sends people back to `YRKESRESAN_DASHBOARD_PUBLIC_URL`/logga-in/klar where that is set (the
  address registered with it), else to the address the request came in on.
- **Development sign-in** (`YRKESRESAN_DASHBOARD_DEV_SIGNIN=1`, set by `make run` only): a page
  that picks a role and scope and issues a token with the system's own key. Never on otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from shared.platform.auth import (
    InvalidToken,
    KeysUnavailable,
    Principal,
    Role,
    decode_token,
    issue_token,
)
from shared.platform.settings import current_settings

COOKIE = "yrkesresan_session"
FLOW_COOKIE = "yrkesresan_oidc"


@dataclass(frozen=True)
class SignInSettings:
    dev: bool
    issuer: str
    client_id: str
    client_secret: str
    discovery_url: str = ""
    public_url: str = ""

    @classmethod
    def from_environment(cls) -> SignInSettings:
        env = os.environ
        return cls(dev=env.get("YRKESRESAN_DASHBOARD_DEV_SIGNIN", "") == "1",
                   issuer=(env.get("YRKESRESAN_OIDC_ISSUER") or current_settings().auth_issuer
                           ).rstrip("/"),
                   client_id=env.get("YRKESRESAN_OIDC_CLIENT_ID", ""),
                   client_secret=env.get("YRKESRESAN_OIDC_CLIENT_SECRET", ""),
                   discovery_url=env.get("YRKESRESAN_OIDC_DISCOVERY_URL", ""),
                   public_url=env.get("YRKESRESAN_DASHBOARD_PUBLIC_URL", "").rstrip("/"))

    @property
    def oidc(self) -> bool:
        return bool(self.issuer and self.client_id)


def principal_of(token: str | None) -> Principal | None:
    """The signed-in reader, or None for no session, an expired or a forged one."""
    if not token:
        return None
    try:
        return decode_token(token)
    except (InvalidToken, KeysUnavailable):
        return None


DEV_ROLES = {
    "national_analyst": "Nationell analytiker",
    "regional_coordinator": "Regional samordnare",
    "municipal_admin": "Chef eller administratör i en kommun",
    "trainer": "Utbildare",
}


def dev_token(role: str, scope: str) -> str:
    """A token for the development sign-in: the role, and its region, municipality or trainer."""
    chosen = Role(role)
    if chosen not in {Role(r) for r in DEV_ROLES}:
        raise ValueError(role)
    fields = {Role.REGIONAL_COORDINATOR: "region_id", Role.MUNICIPAL_ADMIN: "municipality_id",
              Role.TRAINER: "trainer_id"}
    claims: dict[str, Any] = {}
    if chosen in fields:
        if not scope:
            raise ValueError("scope")
        claims[fields[chosen]] = scope
    return issue_token(Principal(subject=f"dev-{role}-{scope}", role=chosen, **claims))


# --- OpenID Connect, authorization code flow with PKCE ------------------------------------


def _discovery(settings: SignInSettings) -> dict[str, Any]:
    url = settings.discovery_url or f"{settings.issuer}/.well-known/openid-configuration"
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def authorization_url(settings: SignInSettings, redirect_uri: str) -> tuple[str, str]:
    """Where to send the browser, and the flow's secrets to keep in a cookie until it returns."""
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": settings.client_id,
                       "redirect_uri": redirect_uri, "scope": "openid", "state": state,
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    endpoint = _discovery(settings)["authorization_endpoint"]
    return f"{endpoint}?{query}", f"{state}.{verifier}"


def exchange(settings: SignInSettings, flow: str, state: str, code: str,
             redirect_uri: str) -> str:
    """The access token for the code the provider sent back; ValueError when the state does not
    match the flow this browser started."""
    expected, _, verifier = flow.partition(".")
    if not expected or not secrets.compare_digest(expected, state):
        raise ValueError("state")
    response = httpx.post(_discovery(settings)["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": settings.client_id, "client_secret": settings.client_secret,
        "code_verifier": verifier})
    response.raise_for_status()
    token = str(response.json()["access_token"])
    if principal_of(token) is None:
        raise ValueError("token")
    return token
