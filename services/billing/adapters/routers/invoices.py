"""The invoice basis (fakturaunderlag): a region's summary, and one municipality's as JSON, as
CSV for Excel and as PDF."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.billing.adapters import access, documents
from services.billing.adapters.routers import Service
from shared.events.models import Year
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code

router = APIRouter(tags=["fakturaunderlag"])
PATH = "/regions/{region_id}/years/{year}/invoices"


@router.get(PATH)
def region_invoices(region_id: Code, year: Year, billing: Service,
                    who: CurrentPrincipal) -> dict[str, Any]:
    """Every municipality's figures in the region and year (the contract's `invoices`
    document: participant-days, gross, pot credit, adjustment from the closed year before,
    net)."""
    access.coordinate(who, billing.known, region_id)
    return billing.invoices(region_id, year)


@router.get(PATH + "/{municipality_id}")
def municipality_invoice(region_id: Code, year: Year, municipality_id: Code, billing: Service,
                         who: CurrentPrincipal) -> dict[str, Any]:
    """One municipality's invoice basis with the participant-days behind it."""
    access.invoice_of(who, billing.known, region_id, municipality_id)
    return billing.invoice_basis(region_id, year, municipality_id)


def _file(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get(PATH + "/{municipality_id}/fakturaunderlag.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def municipality_invoice_csv(region_id: Code, year: Year, municipality_id: Code,
                             billing: Service, who: CurrentPrincipal) -> Response:
    """The same as CSV for Excel set to Swedish: UTF-8 with BOM, semicolons, decimal comma."""
    access.invoice_of(who, billing.known, region_id, municipality_id)
    doc = billing.invoice_basis(region_id, year, municipality_id)
    return _file(documents.invoice_csv(doc), "text/csv; charset=utf-8",
                 f"fakturaunderlag-{municipality_id}-{region_id}-{year}.csv")


@router.get(PATH + "/{municipality_id}/fakturaunderlag.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def municipality_invoice_pdf(region_id: Code, year: Year, municipality_id: Code,
                             billing: Service, who: CurrentPrincipal) -> Response:
    """The same as a PDF to file with the invoice (A4, Swedish)."""
    access.invoice_of(who, billing.known, region_id, municipality_id)
    doc = billing.invoice_basis(region_id, year, municipality_id)
    return _file(documents.invoice_pdf(doc), "application/pdf",
                 f"fakturaunderlag-{municipality_id}-{region_id}-{year}.pdf")
