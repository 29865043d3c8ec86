"""Public verification: anyone holding an intyg (its code, its QR code or its credential) can
check it without signing in. The answers name the course, region and dates, never the person.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from services.certification import views
from services.certification.adapters.access import not_found
from services.certification.adapters.routers.context import Context
from services.certification.credential import CredentialInvalid, public_jwk, verify
from services.certification.wording import course_dates, occasion_text, swedish_date
from shared.platform.commands import Code

VALID, REVOKED, UNKNOWN, INVALID = "valid", "revoked", "unknown", "invalid"


class VerifyCredential(BaseModel):
    credential: Annotated[str, Field(min_length=1, max_length=200_000,
                                     description="the VC-JWT of `/certificates/{id}/credential`")]


def _status(ctx: Context, certificate: dict[str, Any] | None) -> dict[str, Any]:
    if certificate is None:
        return {"status": UNKNOWN, "message": "Det finns inget intyg med den koden."}
    course = ctx.course(certificate["course_id"])
    found = {
        "status": certificate["status"],
        "certificate_id": certificate["certificate_id"],
        "course_id": certificate["course_id"], "course_title": course.get("title"),
        "level": course.get("level"), "occasion_id": certificate["occasion_id"],
        "region_id": certificate["region_id"],
        "region_name": ctx.region_name(certificate["region_id"]),
        "course_dates": course_dates(certificate), "issued_at": certificate["issued_at"],
    }
    if certificate["status"] == REVOKED:
        return found | {"revoked_at": certificate["revoked_at"], "reason": certificate["reason"],
                        "message": "Intyget är återkallat."}
    return found | {"message": "Intyget är giltigt."}


def router(ctx: Context) -> APIRouter:
    api = APIRouter(tags=["verifiering"])

    @api.get("/verify/{code}")
    def verify_code(code: Code) -> dict[str, Any]:
        """Valid, revoked (with the reason) or unknown; for the code printed on the intyg."""
        return _status(ctx, views.certificate_by_code(ctx.cert.db, code[:40]))

    @api.post("/verify")
    def verify_credential(body: Annotated[VerifyCredential, Body()]) -> dict[str, Any]:
        """Check an Open Badges credential (VC-JWT): its signature, then its status. A
        credential changed in any byte fails."""
        try:
            claims = verify(body.credential.strip(), ctx.public_keys)
        except CredentialInvalid as e:
            return {"verified": False, "status": INVALID, "message": str(e)}
        certificate_id = str(claims["jti"]).removeprefix("urn:uuid:")
        answer = _status(ctx, views.certificate(ctx.cert.db, certificate_id))
        return {"verified": answer["status"] == VALID, **answer}

    @api.get("/intyg/{code}", response_class=HTMLResponse, responses={404: {
        "description": "Okänd kod: sidan säger det.", "content": {"text/html": {}}}})
    def verification_page(code: Code) -> HTMLResponse:
        """The page the QR code on the intyg leads to (Swedish)."""
        answer = _status(ctx, views.certificate_by_code(ctx.cert.db, code[:40]))
        return HTMLResponse(page(code[:40], answer),
                            status_code=200 if answer["status"] != UNKNOWN else 404)

    @api.get("/.well-known/jwks.json")
    def jwks() -> dict[str, Any]:
        return {"keys": [public_jwk(k) | {"kid": kid, "alg": "EdDSA", "use": "sig"}
                         for kid, k in ctx.public_keys.items()]}

    @api.get("/keys/{kid}")
    def key(kid: Code) -> dict[str, Any]:
        """The public key a credential's `kid` names, as a JWK."""
        public = ctx.public_keys.get(kid)
        if public is None:
            raise not_found(f"Nyckeln {kid}")
        return public_jwk(public) | {"kid": kid, "alg": "EdDSA", "use": "sig"}

    @api.get("/issuers/{region_id}")
    def issuer(region_id: Code) -> dict[str, Any]:
        """The issuer profile (Open Badges `Profile`) a credential's `issuer.id` names."""
        if views.view(ctx.cert.db, "region", region_id) is None:
            raise not_found(f"Utfärdaren {region_id}")
        return {"@context": ["https://www.w3.org/ns/credentials/v2",
                             "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
                "id": f"{ctx.base}/issuers/{region_id}", "type": ["Profile"],
                "name": f"Yrkesresan – {ctx.region_name(region_id)}"}

    return api


STYLE = ("body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;"
         "color:#222}h1{font-size:1.6rem}.box{border-radius:.5rem;padding:1rem 1.5rem;"
         "margin:1.5rem 0}.valid{background:#e3f4ea;border:2px solid #1f5f4a}"
         ".revoked{background:#fbe6e6;border:2px solid #9b1c1c}"
         ".unknown{background:#f2f2f2;border:2px solid #777}dt{font-weight:bold}"
         "dd{margin:0 0 .6rem 0}")
HEADINGS = {VALID: "Intyget är giltigt", REVOKED: "Intyget är återkallat",
            UNKNOWN: "Okänt intyg"}


def page(code: str, answer: dict[str, Any]) -> str:
    e = html.escape
    status = answer["status"]
    rows = ""
    if status != UNKNOWN:
        facts = [("Kurs", answer.get("course_title") or answer["course_id"]),
                 ("Kurstillfälle", occasion_text(answer["region_name"],
                                                 answer["course_dates"])),
                 ("Utfärdat av", answer["region_name"]),
                 ("Utfärdat", swedish_date(answer["issued_at"]))]
        if status == REVOKED:
            facts += [("Återkallat", swedish_date(answer["revoked_at"])),
                      ("Skäl", answer.get("reason") or "")]
        rows = "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in facts) + "</dl>"
    else:
        rows = "<p>Det finns inget intyg med den här verifieringskoden. Kontrollera koden.</p>"
    return (f"<!doctype html><html lang=\"sv\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\">"
            f"<title>Verifiera intyg – Yrkesresan</title><style>{STYLE}</style></head><body>"
            "<h1>Verifiera intyg från Yrkesresan</h1>"
            f"<p>Verifieringskod: <code>{e(code)}</code></p>"
            f"<div class=\"box {e(status)}\"><h2>{e(HEADINGS[status])}</h2>{rows}</div>"
            "<p><small>Sidan visar vad intyget gäller, inte vem det tillhör: jämför med namnet på "
            "intyget.</small></p></body></html>")
