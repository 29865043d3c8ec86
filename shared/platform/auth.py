"""Signed bearer tokens (JWT, HS256 via PyJWT) and the roles of the system.

A token names one role and, for scoped roles, the one municipality or region it acts for.
Services check scope per endpoint: outside it is 403 and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from shared.platform.settings import current_settings


class Role(StrEnum):
    PARTICIPANT = "participant"
    MUNICIPAL_ADMIN = "municipal_admin"
    REGIONAL_COORDINATOR = "regional_coordinator"
    TRAINER = "trainer"
    NATIONAL_ANALYST = "national_analyst"
    SYSTEM = "system"


class Principal(BaseModel):
    subject: str
    role: Role
    municipality_id: str | None = None
    region_id: str | None = None
    participant_id: str | None = None
    trainer_id: str | None = None

    def actor(self, secret: str | None = None) -> str:
        """Who did it, as recorded (and relayed) with an event: the role and a keyed hash of
        the token's subject, which may be a name or an e-mail address. Auditors holding the
        secret can recompute it; nobody on the bus learns an identity from it."""
        return actor_of(self.role.value, self.subject, secret)


def actor_of(role: str, subject: str, secret: str | None = None) -> str:
    key = (secret or current_settings().auth_secret).encode()
    digest = hmac.new(key, f"actor:{subject}".encode(), hashlib.sha256).hexdigest()
    return f"{role}:{digest[:16]}"


ALGORITHM = "HS256"


def issue_token(principal: Principal, secret: str | None = None, ttl_hours: float = 12) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = principal.model_dump(exclude_none=True)
    claims["sub"] = claims.pop("subject")
    claims |= {"iat": now, "exp": now + dt.timedelta(hours=ttl_hours)}
    return jwt.encode(claims, secret or current_settings().auth_secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str | None = None) -> Principal:
    claims = jwt.decode(token, secret or current_settings().auth_secret, algorithms=[ALGORITHM])
    claims["subject"] = claims.pop("sub")
    return Principal.model_validate(claims)


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Async on purpose: it is pure CPU, and a sync dependency costs a thread hop per request."""
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Inloggning krävs (bearer-token).",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        return decode_token(credentials.credentials)
    except (jwt.PyJWTError, ValueError) as e:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"Ogiltig token: {e}",
                            headers={"WWW-Authenticate": "Bearer"}) from None


def forbid(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, reason)


def require(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles and principal.role is not Role.SYSTEM:
        raise forbid(f"Rollen {principal.role.value} får inte göra detta.")


def require_municipality(principal: Principal, municipality_id: str) -> None:
    """Municipal administrators act for their own municipality only."""
    require(principal, Role.MUNICIPAL_ADMIN)
    if principal.role is Role.MUNICIPAL_ADMIN and principal.municipality_id != municipality_id:
        raise forbid("Du kan bara administrera konton i din egen kommun.")


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
