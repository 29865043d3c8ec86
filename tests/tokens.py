"""Bearer tokens for the tests, minted in this one place.

They are signed with a key pair this test session creates, whose JWKS the APIs under test
trust: `configure()` (called by `tests/conftest.py` before anything reads the settings) points
`YRKESRESAN_AUTH_SIGNING_KEY_FILE` and `YRKESRESAN_AUTH_JWKS` at it, and the processes the e2e
tests start inherit the same environment.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jwt

from shared.platform.auth import (
    Principal,
    Role,
    SigningKey,
    algorithm_of,
    ensure_dev_keys,
    issue_token,
    issuer,
    key_id,
)
from shared.platform.settings import current_settings

__all__ = ["Principal", "Role", "bearer", "configure", "mint"]


def configure() -> None:
    if os.environ.get("YRKESRESAN_AUTH_JWKS"):
        return
    folder = Path(tempfile.mkdtemp(prefix="yr-test-keys-"))
    atexit.register(shutil.rmtree, folder, True)
    key, jwks = ensure_dev_keys(folder)
    os.environ["YRKESRESAN_AUTH_SIGNING_KEY_FILE"] = str(key)
    os.environ["YRKESRESAN_AUTH_JWKS"] = str(jwks)


def mint(principal: Principal, ttl_hours: float = 12) -> str:
    return issue_token(principal, ttl_hours=ttl_hours)


def bearer(principal: Principal, ttl_hours: float = 12) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(principal, ttl_hours)}"}


# --- tokens the APIs must refuse ----------------------------------------------------------------

# The shared HS256 secret that signed every token before tokens came from a provider.
OLD_DEV_SECRET = "dev-only-secret-change-me-in-production-0123456789"


def claims_of(principal: Principal, **overrides: Any) -> dict[str, Any]:
    """The claims `mint` would sign, with `overrides` (None removes a claim)."""
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {"iss": issuer(current_settings()), "aud": "yrkesresan",
                              "sub": principal.subject, "role": principal.role.value,
                              "iat": now, "exp": now + dt.timedelta(hours=1)}
    claims |= principal.model_dump(exclude_none=True, exclude={"subject", "role"})
    claims |= overrides
    return {k: v for k, v in claims.items() if v is not None}


def with_old_secret(principal: Principal) -> str:
    return jwt.encode(claims_of(principal), OLD_DEV_SECRET, algorithm="HS256")


def signed_by(key: SigningKey, principal: Principal, kid: str | None = None,
              **overrides: Any) -> str:
    """Signed by `key` (another issuer's, or a rotated one), with `kid` (default: its own)."""
    return jwt.encode(claims_of(principal, **overrides), key, algorithm=algorithm_of(key),
                      headers={"kid": kid or key_id(key)})
