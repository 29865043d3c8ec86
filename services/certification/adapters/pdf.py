"""The certificate (intyg) as a PDF in Swedish: reportlab draws the page, segno makes the QR
code that leads to the public verification page.

The participant's name is passed in by the caller, who fetched it from enrolment for this
rendering only: it is never stored here, and never on the bus.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from services.certification.wording import course_dates, occasion_text, swedish_date
from shared.platform.pdf_fonts import pdf_fonts
from shared.projections.levels import JOURNEY_NAMES as JOURNEYS
from shared.projections.levels import LEVEL_NAMES as LEVELS

GREEN = colors.HexColor("#1f5f4a")


def render(certificate: dict[str, Any], course: dict[str, Any], name: str, region_name: str,
           verify_url: str) -> bytes:
    out = io.BytesIO()
    pdf = Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"Intyg – {course.get('title', certificate['course_id'])}")
    pdf.setAuthor(f"Yrkesresan – {region_name}")
    pdf.setSubject("Intyg om genomförd kurs")
    width, height = A4
    _frame(pdf, width, height)
    _body(pdf, width, height, certificate, course, name, region_name)
    _verification(pdf, width, certificate, verify_url)
    if certificate["status"] != "valid":
        _revoked(pdf, width, height, certificate.get("reason") or "")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _frame(pdf: Canvas, width: float, height: float) -> None:
    pdf.setStrokeColor(GREEN)
    pdf.setLineWidth(3)
    pdf.rect(15 * mm, 15 * mm, width - 30 * mm, height - 30 * mm)
    pdf.setLineWidth(0.8)
    pdf.rect(18 * mm, 18 * mm, width - 36 * mm, height - 36 * mm)


def _centred(pdf: Canvas, text: str, y: float, font: str, size: float,
             colour: colors.Color = colors.black) -> None:
    pdf.setFont(font, size)
    pdf.setFillColor(colour)
    pdf.drawCentredString(A4[0] / 2, y, text)


def _fitted(text: str, font: str, size: float, room: float) -> float:
    """The size, at most `size`, at which `text` fits in `room` points: a long name shrinks
    rather than running off the page."""
    wide = stringWidth(text, font, size)
    return size if wide <= room else max(10.0, size * room / wide)


def _body(pdf: Canvas, width: float, height: float, certificate: dict[str, Any],
          course: dict[str, Any], name: str, region_name: str) -> None:
    fonts = pdf_fonts()
    journey = JOURNEYS.get(course.get("journey", ""), course.get("journey", ""))
    top = height - 45 * mm
    _centred(pdf, "INTYG", top, fonts.bold, 40, GREEN)
    _centred(pdf, f"Yrkesresan – {journey}", top - 14 * mm, fonts.regular, 14)
    _centred(pdf, "Härmed intygas att", top - 34 * mm, fonts.italic, 13)
    _centred(pdf, name, top - 48 * mm, fonts.bold, _fitted(name, fonts.bold, 24, width - 50 * mm))
    _centred(pdf, "har genomfört kursen", top - 60 * mm, fonts.italic, 13)
    _centred(pdf, course.get("title", certificate["course_id"]), top - 74 * mm,
             fonts.bold, 20, GREEN)
    lines = [
        ("Nivå", LEVELS.get(course.get("level", ""), course.get("level", ""))),
        ("Kurstillfälle", occasion_text(region_name, course_dates(certificate))),
        ("Utfärdat av", region_name),
        ("Utfärdat", swedish_date(certificate["issued_at"])),
    ]
    y = top - 95 * mm
    room = width / 2 - 3 * mm - 25 * mm
    for label, value in lines:
        pdf.setFont(fonts.bold, 11)
        pdf.setFillColor(colors.black)
        pdf.drawRightString(width / 2 - 3 * mm, y, f"{label}:")
        pdf.setFont(fonts.regular, 11)
        for part in simpleSplit(value, fonts.regular, 11, room):  # a long value wraps
            pdf.drawString(width / 2 + 3 * mm, y, part)
            y -= 5 * mm
        y -= 2 * mm
    pdf.setFont(fonts.regular, 9)
    pdf.setFillColor(colors.dimgrey)
    pdf.drawCentredString(width / 2, y - 4 * mm, "Intyget visar att deltagaren närvarat alla "
                          "kursdagar och gjort kursens obligatoriska förberedelser.")


def _verification(pdf: Canvas, width: float, certificate: dict[str, Any], url: str) -> None:
    fonts = pdf_fonts()
    size = 32 * mm
    x, y = width - 25 * mm - size, 25 * mm
    _qr(pdf, url, x, y, size)
    pdf.setFillColor(colors.black)
    pdf.setFont(fonts.bold, 11)
    pdf.drawString(25 * mm, y + size - 6 * mm, "Verifieringskod")
    pdf.setFont(fonts.mono, 16)
    pdf.drawString(25 * mm, y + size - 14 * mm, certificate["verification_code"])
    pdf.setFont(fonts.regular, 9)
    pdf.drawString(25 * mm, y + size - 21 * mm,
                   "Kontrollera intyget genom att skanna QR-koden eller besöka")
    pdf.setFont(fonts.regular, 8)
    pdf.drawString(25 * mm, y + size - 26 * mm, url)
    pdf.drawString(25 * mm, y + 2 * mm, f"Intygs-id: {certificate['certificate_id']}")
    pdf.drawString(25 * mm, y - 2 * mm, f"Kurstillfällets id: {certificate['occasion_id']}")


def _qr(pdf: Canvas, data: str, x: float, y: float, size: float) -> None:
    code = segno.make(data, error="m")
    rows = [list(row) for row in code.matrix_iter(scale=1, border=2)]
    cell = size / len(rows)
    pdf.setFillColor(colors.white)
    pdf.rect(x, y, size, size, stroke=0, fill=1)
    pdf.setFillColor(colors.black)
    for r, row in enumerate(rows):
        for c, dark in enumerate(row):
            if dark:
                pdf.rect(x + c * cell, y + size - (r + 1) * cell, cell, cell, stroke=0, fill=1)


def _revoked(pdf: Canvas, width: float, height: float, reason: str) -> None:
    fonts = pdf_fonts()
    pdf.saveState()
    pdf.setFillColor(colors.Color(0.75, 0.1, 0.1, alpha=0.35))
    pdf.translate(width / 2, height / 2)
    pdf.rotate(30)
    pdf.setFont(fonts.bold, 64)
    pdf.drawCentredString(0, 0, "ÅTERKALLAT")
    pdf.restoreState()
    pdf.setFont(fonts.bold, 10)
    pdf.setFillColor(colors.Color(0.6, 0.05, 0.05))
    pdf.drawCentredString(width / 2, 62 * mm, f"Intyget är återkallat: {reason}"[:110])
