"""Bearer tokens from an OpenID Connect identity provider, and the roles of the system.

A token is a JWT signed by the provider's private key (RS256, ES256 or EdDSA) and verified with
its public keys, read from a JWKS document (a URL such as Keycloak's `.../certs`, or a file),
cached and picked by the token's `kid`: when the provider rotates its key, the first token with
the new `kid` makes the set be fetched again (PyJWT's `PyJWKClient`, at most once per
cool-down). `iss`, `aud`, `exp` and `sub` are required. A token signed any other way (the old
shared HS256 secret, `none`, another issuer's key) is 401.

Which claims carry the role and the scope (municipality, region, participant, trainer) is
configuration (`Settings.auth_*`), so a provider's own claim names map to ours without code.

For development, `var/keys/` holds a local key pair (`make run` creates it): `yrkesresan token`
and the services' own tokens (`service_token`) are signed with it, and its public half is the
JWKS the APIs trust. In production the APIs trust the provider only
(`shared.platform.production` refuses a start without it).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt import PyJWKClient
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from pydantic import BaseModel, ValidationError

from shared.platform.keyfiles import dev_file, keys_dir
from shared.platform.keyring import KeySet, current_keyring
from shared.platform.settings import Settings, current_settings


class Role(StrEnum):
    PARTICIPANT = "participant"
    MUNICIPAL_ADMIN = "municipal_admin"
    REGIONAL_COORDINATOR = "regional_coordinator"
    TRAINER = "trainer"
    NATIONAL_ANALYST = "national_analyst"
    AUDITOR = "auditor"  # reads the audit trail of any participant (issue 10)
    SYSTEM = "system"
    # Service accounts that read one thing of enrolment's and nothing else, each read recorded
    # (`services/enrolment/adapters/access.py`): certification a participant's name for an
    # intyg or a staff list, notification a participant's name and address for a message.
    NAME_READER = "name_reader"
    ADDRESS_READER = "address_reader"
    # A region's own system (a machine, not a person: a client of the identity provider with a
    # service account, its `region_id` an attribute of that account) reading its region's
    # event feed (`services/regions/adapters/access.py`), and nothing else: not the
    # coordinator's powers (price lists, closing years), which a stolen machine secret would
    # otherwise carry.
    REGION_READER = "region_reader"


# The role each calling service's own token carries (`service_token`): the narrowest that does
# its job, never the system role.
SERVICE_ROLES: dict[str, Role] = {"certification": Role.NAME_READER,
                                  "notification": Role.ADDRESS_READER}


class Principal(BaseModel):
    subject: str
    role: Role
    municipality_id: str | None = None
    region_id: str | None = None
    participant_id: str | None = None
    trainer_id: str | None = None

    def actor(self, keys: KeySet | None = None) -> str:
        """Who did it, as recorded (and relayed) with an event: pseudonymous."""
        return actor_of(self.role.value, self.subject, keys)


def actor_of(role: str, subject: str, keys: KeySet | None = None) -> str:
    """The role, the id of the pseudonym key and a keyed hash of the token's subject (which
    may be a name or an e-mail address) under it. Auditors holding the keyring can recompute
    it; nobody on the bus learns an identity from it."""
    ks = keys or current_keyring().actor
    return f"{role}:{ks.current}:{ks.hash(subject)[:16]}"


# --- the development key pair ------------------------------------------------------------------

DEV_ISSUER = "urn:yrkesresan:dev"
DEV_SIGNING_KEY = "auth-signing.dev.pem"
DEV_JWKS = "auth-jwks.dev.json"

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def issuer(settings: Settings) -> str:
    return settings.auth_issuer or DEV_ISSUER


def ensure_dev_keys(folder: Path) -> tuple[Path, Path]:
    """The development key pair in `folder`: (private key PEM, public JWKS), created once."""
    key_path, jwks_path = folder / DEV_SIGNING_KEY, folder / DEV_JWKS
    pem = dev_file(key_path, lambda: rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    dev_file(jwks_path, lambda: json.dumps(jwks_of(_load_signing_key(pem))).encode())
    return key_path, jwks_path


def jwks_of(*keys: SigningKey) -> dict[str, Any]:
    """A JWKS document publishing the public halves of `keys` (each with its `kid`)."""
    return {"keys": [_public_jwk(key) for key in keys]}


def _public_jwk(key: SigningKey) -> dict[str, Any]:
    public = key.public_key()
    alg = algorithm_of(key)
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": key_id(key), "alg": alg, "use": "sig"}


def key_id(key: SigningKey) -> str:
    """A stable id of a key pair: a hash of its public half."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def algorithm_of(key: SigningKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES256"
    return "EdDSA"


def _load_signing_key(pem: bytes) -> SigningKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                      | ed25519.Ed25519PrivateKey):
        raise ValueError("the token signing key must be RSA, EC P-256 or Ed25519 (PEM)")
    return key


@functools.cache
def _signing_key(path: str) -> SigningKey:
    return _load_signing_key(Path(path).read_bytes())


def signing_key_path(settings: Settings) -> Path:
    if settings.auth_signing_key_file:
        return Path(settings.auth_signing_key_file)
    return ensure_dev_keys(keys_dir(settings))[0]


def jwks_source(settings: Settings) -> str:
    if settings.auth_jwks:
        return settings.auth_jwks
    return str(ensure_dev_keys(keys_dir(settings))[1])


# --- issuing (development, and service tokens without a provider) -------------------------------


def issue_token(principal: Principal, ttl_hours: float = 12,
                settings: Settings | None = None) -> str:
    """A token for `principal` signed with the local key (`YRKESRESAN_AUTH_SIGNING_KEY_FILE`,
    else the development key), carrying our claim names; for development and tests."""
    s = settings or current_settings()
    key = _signing_key(str(signing_key_path(s)))
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "iss": issuer(s), "aud": s.auth_audience, "sub": principal.subject,
        "iat": now, "exp": now + dt.timedelta(hours=ttl_hours), "jti": str(uuid.uuid4()),
        s.auth_role_claim: principal.role.value}
    for field, claim in _scope_claims(s).items():
        if (value := getattr(principal, field)) is not None:
            claims[claim] = value
    return jwt.encode(claims, key, algorithm=algorithm_of(key), headers={"kid": key_id(key)})


_service_tokens: dict[str, tuple[str, float]] = {}
_service_lock = threading.Lock()


def service_token(service: str, settings: Settings | None = None) -> str:
    """The token a service presents when it calls another (certification asks enrolment for
    names, notification for addresses): the role of `SERVICE_ROLES` (only that read, never
    the system role), subject `service:<name>`.

    With `YRKESRESAN_AUTH_TOKEN_URL` (and the process's client id and secret) it comes from
    the provider, by the OAuth 2 client-credentials grant; otherwise it is signed with the
    local key. Reused until half its lifetime has passed."""
    s = settings or current_settings()
    with _service_lock:
        token, renew_at = _service_tokens.get(service, ("", 0.0))
        if time.monotonic() < renew_at:
            return token
        if s.auth_token_url:
            token, lifetime = _client_credentials(s)
        else:
            lifetime = 600.0
            token = issue_token(Principal(subject=f"service:{service}",
                                          role=SERVICE_ROLES[service]),
                                ttl_hours=lifetime / 3600, settings=s)
        _service_tokens[service] = (token, time.monotonic() + lifetime / 2)
        return token


def _client_credentials(s: Settings) -> tuple[str, float]:
    r = httpx.post(s.auth_token_url, timeout=10, data={
        "grant_type": "client_credentials", "client_id": s.auth_client_id,
        "client_secret": s.auth_client_secret})
    r.raise_for_status()
    body = r.json()
    return str(body["access_token"]), float(body.get("expires_in", 300))


# --- verification ------------------------------------------------------------------------------


class _FileJWKClient(PyJWKClient):
    """`PyJWKClient`'s caching and `kid` look-up over a JWKS file (it fetches http(s) only):
    a key added to the file is picked up when a token names it, or when the cache expires."""

    def __init__(self, path: Path, lifespan: float) -> None:
        super().__init__("https://jwks.file.invalid/", lifespan=lifespan, cooldown_duration=1)
        self.uri = path.resolve().as_uri()
        self.path = path

    def fetch_data(self) -> Any:
        try:
            jwk_set = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as e:
            raise jwt.PyJWKClientConnectionError(f"JWKS file {self.path}: {e}") from e
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(jwk_set)
        self._last_successful_fetch = time.monotonic()
        return jwk_set


def _scope_claims(s: Settings) -> dict[str, str]:
    return {"municipality_id": s.auth_municipality_claim, "region_id": s.auth_region_claim,
            "participant_id": s.auth_participant_claim, "trainer_id": s.auth_trainer_claim}


class InvalidToken(Exception):
    """The token is not one we accept (401); the message says why."""


class KeysUnavailable(Exception):
    """The provider's keys cannot be read just now (503)."""


VERIFIED_KEPT = 4096
"""Tokens a verifier remembers having verified (`Verifier.principal`)."""


@dataclass
class Verifier:
    """Checks tokens against one issuer's keys and maps their claims to a `Principal`."""

    settings: Settings
    keys: PyJWKClient
    _verified: dict[str, tuple[str, Any, float, Principal]] = dataclass_field(
        default_factory=dict, repr=False)
    """token -> (its kid, the key that verified it, its exp, its principal)."""

    @classmethod
    def from_settings(cls, s: Settings) -> Verifier:
        source = jwks_source(s)
        if source.startswith(("http://", "https://")):
            keys: PyJWKClient = PyJWKClient(source, lifespan=s.auth_jwks_lifespan, timeout=5)
        else:
            keys = _FileJWKClient(Path(source.removeprefix("file://")), s.auth_jwks_lifespan)
        return cls(s, keys)

    def principal(self, token: str) -> Principal:
        """The token's principal. A token verified before is answered without checking its
        signature again (RS256: about 135 us of CPU, a twentieth of a registration's in the
        API, for every request a client makes with the same token) while it has not expired
        and its `kid` still gives the very key that verified it: a key retired from the JWKS
        fails that as soon as the key cache reads the JWKS again, as a full check would."""
        held = self._verified.get(token)
        if held is not None:
            kid, key, expires, principal = held
            try:
                same_key = self.keys.get_signing_key(kid) is key
            except jwt.PyJWKClientError:
                same_key = False
            if same_key and time.time() < expires + self.settings.auth_leeway_seconds:
                return principal
            self._verified.pop(token, None)
        s = self.settings
        try:
            header = _unverified_header(token)
            if header.get("alg") not in s.auth_algorithms:
                raise InvalidToken(f"algoritmen {str(header.get('alg'))[:20]!r} godtas inte")
            key = self.keys.get_signing_key(str(header.get("kid")))
            claims = jwt.decode(token, key, algorithms=s.auth_algorithms,
                                audience=s.auth_audience, issuer=issuer(s),
                                leeway=s.auth_leeway_seconds,
                                options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.PyJWKClientConnectionError as e:
            raise KeysUnavailable(str(e)) from None
        except jwt.PyJWKClientError:
            raise InvalidToken("okänd signeringsnyckel (kid)") from None
        except jwt.PyJWTError as e:
            raise InvalidToken(str(e)) from None
        principal = self.mapped(claims)
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.clear()  # bounded; the tokens in use are verified again once
        self._verified[token] = (str(header.get("kid")), key, float(claims["exp"]), principal)
        return principal

    def mapped(self, claims: Mapping[str, Any]) -> Principal:
        """Our principal from the provider's claims, as configured."""
        s = self.settings
        found = _at(claims, s.auth_role_claim)
        names = found if isinstance(found, list) else [found]
        roles = {Role(r) for r in (s.auth_role_map.get(str(n), str(n)) for n in names)
                 if r in Role.__members__.values()}
        if len(roles) != 1:
            raise InvalidToken("token anger ingen roll, eller fler än en")
        scope = {field: value for field, claim in _scope_claims(s).items()
                 if (value := _at(claims, claim)) is not None}
        try:
            return Principal(subject=str(claims["sub"]), role=roles.pop(), **scope)
        except ValidationError:
            raise InvalidToken("tokens omfång (kommun, region, deltagare, utbildare) är "
                               "ogiltigt") from None


def _unverified_header(token: str) -> dict[str, Any]:
    """The header's `alg` and `kid`, to pick the key; `jwt.decode` then parses the whole token
    strictly and checks the signature with that key (and that its algorithm is the key's).
    Not `jwt.get_unverified_header`: it validates every segment character by character in
    Python, and `decode` does it again, which doubled the cost of a check."""
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise InvalidToken("tokens huvud är inte läsbart") from None
    if not isinstance(header, dict):
        raise InvalidToken("tokens huvud är inte läsbart")
    return header


def _at(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


@functools.cache
def verifier() -> Verifier:
    """The process's verifier: its JWKS cache lives as long as the process."""
    return Verifier.from_settings(current_settings())


def decode_token(token: str) -> Principal:
    return verifier().principal(token)


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Async on purpose: a sync dependency costs a thread hop per request. The keys are read
    from their cache; only a new `kid` or an expired cache reads the JWKS again."""
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Inloggning krävs (bearer-token).",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        return decode_token(credentials.credentials)
    except InvalidToken as e:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"Ogiltig token: {e}",
                            headers={"WWW-Authenticate": "Bearer"}) from None
    except KeysUnavailable:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "Inloggningstjänstens nycklar kan inte läsas just nu; försök igen "
                            "om en stund.") from None


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
