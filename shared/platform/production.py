"""The one check every process makes before it starts: with `YRKESRESAN_ENV=production` it
refuses to run on anything meant for development (no identity provider, a development key
or keyring), and says in one line what is missing.

Each process names the extra checks of its own service (certification's signing keys); the
platform's own (issuer, keys, secrets) are the same for all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from shared.platform.auth import DEV_ISSUER
from shared.platform.keyfiles import is_development_key
from shared.platform.keyring import keyring_problems
from shared.platform.settings import Settings


def platform_problems(settings: Settings, *, calls_services: bool = False) -> list[str]:
    """What the platform lacks for production (empty: nothing). `calls_services`: the
    process calls another service and needs tokens of its own from the provider."""
    s = settings
    found = []
    if not s.auth_issuer or s.auth_issuer == DEV_ISSUER:
        found.append("YRKESRESAN_AUTH_ISSUER (the identity provider's issuer URL) is not set")
    if not s.auth_jwks:
        found.append("YRKESRESAN_AUTH_JWKS (the provider's JWKS URL or file) is not set")
    elif is_development_key(s.auth_jwks):
        found.append("YRKESRESAN_AUTH_JWKS is the development key set")
    if not s.auth_audience:
        found.append("YRKESRESAN_AUTH_AUDIENCE is empty")
    if s.auth_signing_key_file and is_development_key(s.auth_signing_key_file):
        found.append("YRKESRESAN_AUTH_SIGNING_KEY_FILE is a development key")
    if calls_services and not (s.auth_token_url and s.auth_client_id
                               and s.auth_client_secret):
        found.append("YRKESRESAN_AUTH_TOKEN_URL, YRKESRESAN_AUTH_CLIENT_ID and "
                     "YRKESRESAN_AUTH_CLIENT_SECRET (this process's own tokens) are not set")
    return found + keyring_problems(s)


def refuse_unsafe_start(process: str, *, calls_services: bool = False,
                        extra: Iterable[Callable[[], list[str]]] = ()) -> None:
    """Exit (status 2, one line on standard error) when this is a production start with
    anything missing; otherwise return at once."""
    settings = Settings()
    if not settings.production:
        return
    problems = platform_problems(settings, calls_services=calls_services)
    for check in extra:
        problems += check()
    if problems:
        print(f"yrkesresan {process}: refusing to start with YRKESRESAN_ENV=production: "
              + "; ".join(problems), file=sys.stderr, flush=True)
        raise SystemExit(2)
