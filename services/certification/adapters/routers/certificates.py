"""A participant's certificates: the list, one certificate, its PDF and its credential."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.certification import views
from services.certification.adapters import access, pdf
from services.certification.adapters.routers.context import Context
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset, page


def _public(ctx: Context, certificate: dict[str, Any]) -> dict[str, Any]:
    """A certificate row as the API shows it (no evidence: that is in the credential)."""
    shown = {k: v for k, v in certificate.items() if k != "evidence"}
    return shown | {"course_title": ctx.course(certificate["course_id"]).get("title"),
                    "links": ctx.links(certificate)}


def router(ctx: Context) -> APIRouter:
    api = APIRouter(tags=["intyg"])

    @api.get("/participants/{participant_id}/certificates")
    def list_certificates(participant_id: Code, who: CurrentPrincipal, limit: Limit = 1000,
                          offset: Offset = 0) -> dict[str, Any]:
        check = access.read_participant(who, participant_id, ctx.cert.places)
        check(ctx.municipality_of(participant_id))
        rows = views.certificates_of(ctx.cert.db, participant_id)
        return {"participant_id": participant_id,
                "certificates": [_public(ctx, r) for r in page(rows, limit, offset)]}

    @api.get("/certificates/{certificate_id}")
    def get_certificate(certificate_id: Code, who: CurrentPrincipal) -> dict[str, Any]:
        check = access.read_certificate(who, certificate_id, ctx.cert.places)
        return _public(ctx, check(*ctx.certificate(certificate_id)))

    @api.get("/certificates/{certificate_id}/intyg.pdf", response_class=Response,
             responses={200: {"content": {"application/pdf": {}}}})
    def certificate_pdf(certificate_id: Code, who: CurrentPrincipal) -> Response:
        """The intyg as a PDF; the name is fetched from enrolment for this rendering only."""
        check = access.read_certificate(who, certificate_id, ctx.cert.places, document=True)
        certificate = check(*ctx.certificate(certificate_id))
        body = pdf.render(certificate, ctx.course(certificate["course_id"]),
                          ctx.names.name_of(certificate["participant_id"]),
                          ctx.region_name(certificate["region_id"]),
                          ctx.verify_url(certificate["verification_code"]))
        return Response(body, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="intyg-{certificate_id}.pdf"'})

    @api.get("/certificates/{certificate_id}/credential")
    def certificate_credential(certificate_id: Code, who: CurrentPrincipal) -> dict[str, Any]:
        """The Open Badges 3.0 credential: `credential` is the signed VC-JWT (what a wallet
        keeps and `POST /verify` checks), `document` the same credential readable."""
        check = access.read_certificate(who, certificate_id, ctx.cert.places, document=True)
        certificate = check(*ctx.certificate(certificate_id))
        document, token = ctx.credential(certificate)
        return {"certificate_id": certificate_id, "status": certificate["status"],
                "format": "vc+jwt (Open Badges 3.0, EdDSA)", "credential": token,
                "document": document}

    return api
