"""The certificate as an Open Badges 3.0 credential, signed as a VC-JWT with EdDSA (Ed25519).

Open Badges 3.0 ("Proofs", JSON Web Token Proof Format): the JWT payload is the
OpenBadgeCredential itself (W3C Verifiable Credentials data model 2.0) with the claims
`iss` = issuer.id, `jti` = id, `nbf` = validFrom and `sub` = credentialSubject.id; the JOSE
header holds `alg`, `typ` "JWT" and a `kid` that dereferences to the public key as a JWK
(`GET /keys/{kid}`). Signing and checking are PyJWT's (with `cryptography`), not ours.

The subject is the participant's pseudonymous id, never a name: the name is on the PDF, which
is rendered for the person. The evidence lists the attendance and preparation events behind
the completion by event id and date.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.certification.wording import course_dates, occasion_text
from shared.projections.levels import JOURNEY_NAMES, LEVEL_NAMES

CONTEXT = ["https://www.w3.org/ns/credentials/v2",
           "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
ALGORITHM = "EdDSA"
CRITERIA = ("Deltagaren har närvarat alla kursdagar på kurstillfället och gjort kursens alla "
            "obligatoriska förberedelser.")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}


def key_id(key: Ed25519PublicKey) -> str:
    """The JWK thumbprint (RFC 7638): changes with the key, so rotated keys never collide."""
    jwk = public_jwk(key)
    canonical = orjson.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]})
    return _b64(hashlib.sha256(canonical).digest())


def subject_id(participant_id: str) -> str:
    return f"urn:yrkesresan:deltagare:{participant_id}"


def issuer_id(base: str, region_id: str) -> str:
    return f"{base}/issuers/{region_id}"


def _evidence(row: dict[str, Any]) -> dict[str, Any]:
    if row["type"] == "CourseDayAttended":
        name, narrative = f"Kursdag {row['day']}", f"Närvaro kursdag {row['day']}, {row['date']}"
    else:
        name = f"Förberedelse {row['item_id']}"
        narrative = f"Förberedelse {row['item_id']} gjord {row['date']}"
    return {"id": f"urn:uuid:{row['event_id']}", "type": ["Evidence"], "name": name,
            "narrative": narrative, "genre": row["type"]}


def credential_document(certificate: dict[str, Any], course: dict[str, Any],
                        region_name: str, base: str) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential of one certificate."""
    issued = dt.datetime.fromisoformat(certificate["issued_at"]).astimezone(dt.UTC)
    title = course.get("title", certificate["course_id"])
    journey = JOURNEY_NAMES.get(course.get("journey", ""), course.get("journey", ""))
    level = LEVEL_NAMES.get(course.get("level", ""), course.get("level", "")).lower()
    return {
        "@context": CONTEXT,
        "id": f"urn:uuid:{certificate['certificate_id']}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_id(base, certificate["region_id"]), "type": ["Profile"],
                   "name": f"Yrkesresan – {region_name}"},
        "validFrom": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "name": f"Intyg: {title}",
        "credentialSubject": {
            "id": subject_id(certificate["participant_id"]),
            "type": ["AchievementSubject"],
            "achievement": {
                "id": f"{base}/achievements/{certificate['course_id']}",
                "type": ["Achievement"],
                "achievementType": "Course",
                "name": title,
                "description": f"Kurs i Yrkesresan {journey}, nivå {level}, kurstillfälle "
                               f"{occasion_text(region_name, course_dates(certificate))}.",
                "criteria": {"narrative": CRITERIA},
                "inLanguage": "sv",
            },
        },
        "evidence": [_evidence(row) for row in certificate["evidence"]],
    }


def sign(document: dict[str, Any], key: Ed25519PrivateKey, base: str) -> str:
    """The credential as a compact JWS (VC-JWT)."""
    issued = dt.datetime.strptime(document["validFrom"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC)
    claims = {**document, "iss": document["issuer"]["id"], "jti": document["id"],
              "nbf": int(issued.timestamp()), "sub": document["credentialSubject"]["id"]}
    headers = {"kid": f"{base}/keys/{key_id(key.public_key())}", "typ": "JWT"}
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers=headers)


class CredentialInvalid(ValueError):
    """The credential's signature or claims do not hold (Swedish message for people)."""


def verify(token: str, keys: dict[str, Ed25519PublicKey]) -> dict[str, Any]:
    """The credential inside a VC-JWT signed by one of `keys` (by key id), or
    CredentialInvalid saying why not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise CredentialInvalid("Intyget går inte att läsa (ingen giltig JWT).") from None
    kid = str(header.get("kid", "")).rsplit("/", 1)[-1]
    key = keys.get(kid)
    if key is None or header.get("alg") != ALGORITHM:
        raise CredentialInvalid("Intyget är inte signerat med tjänstens nyckel.")
    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[ALGORITHM],
                                            options={"require": ["iss", "jti", "nbf", "sub"]})
    except jwt.PyJWTError:
        raise CredentialInvalid("Signaturen stämmer inte: intyget har ändrats.") from None
    _check_claims(claims)
    return claims


def _check_claims(claims: dict[str, Any]) -> None:
    """The checks OB 3.0 asks of a verifier: each claim equals its credential property."""
    try:
        valid_from = dt.datetime.strptime(claims["validFrom"], "%Y-%m-%dT%H:%M:%SZ")
        same = (claims["iss"] == claims["issuer"]["id"] and claims["jti"] == claims["id"]
                and claims["sub"] == claims["credentialSubject"]["id"]
                and claims["nbf"] == int(valid_from.replace(tzinfo=dt.UTC).timestamp()))
    except (KeyError, TypeError, ValueError):
        same = False
    if not same:
        raise CredentialInvalid("Intygets uppgifter stämmer inte med signaturens.")
