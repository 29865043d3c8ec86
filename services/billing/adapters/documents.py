"""The invoice basis (fakturaunderlag) as files a municipality's finance office uses: a CSV that
Swedish Excel opens as it stands, and a PDF (reportlab) to file with the invoice.

Both render the document `Billing.invoice_basis` answers as JSON, nothing more: the figures
are the fold's. Participants appear by their ids only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from shared.platform import asof
from shared.platform.pdf_fonts import pdf_fonts

GREEN = colors.HexColor("#1f5f4a")
COMPONENTS = (("venue_and_fika", "Lokal och fika"), ("administration", "Administration"),
              ("trainer_pot", "Utbildarpott"), ("course_material", "Kursmaterial"),
              ("buffer", "Buffert"))


def kronor(amount: int | float, decimals: int = 2) -> str:
    """An amount as Swedish Excel reads a number: decimal comma, no thousands separator."""
    return f"{amount:.{decimals}f}".replace(".", ",")


def kronor_text(amount: int) -> str:
    """An amount as people read it: thin spaces between thousands, 'kr'."""
    return f"{amount:,}".replace(",", "\u00a0") + "\u00a0kr"


def invoice_csv(doc: dict[str, Any]) -> bytes:
    """The lines behind the invoice, then the totals; UTF-8 with BOM, semicolons, decimal
    commas, CRLF line ends: what Excel set to Swedish opens without an import dialogue."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    price = kronor(doc["price_sek"])
    w.writerow(["Region", "Kommun", "År", "Kurstillfälle", "Dag", "Datum", "Deltagar-id",
                "Pris per deltagardag (kr)", "Anmärkning"])
    for line in doc["lines"]:
        w.writerow([doc["region_id"], doc["municipality_id"], doc["year"], line["occasion_id"],
                    line["day"], line["date"], line["participant_id"], price, ""])
    previous = doc["year"] - 1
    # An adjustment counts at the closed year's price (adjustment_sek = adjustment_days × that
    # price, in the fold), which may differ from this year's.
    closed_price = (kronor(doc["adjustment_sek"] / doc["adjustment_days"])
                    if doc["adjustment_days"] else "")
    for line in doc["adjustment_lines"]:
        w.writerow([doc["region_id"], doc["municipality_id"], previous, line["occasion_id"],
                    line["day"], line["date"], line["participant_id"], closed_price,
                    f"Justering från {previous}: {_days(line['days'], signed=True)}"])
    w.writerow([])
    for label, value in (
        ("Deltagardagar", str(doc["participant_days"])),
        ("Pris per deltagardag (kr)", price),
        ("Brutto (kr)", kronor(doc["gross_sek"])),
        ("Avgår: utbildarpott, kommunens utbildare (kr)", kronor(-doc["pot_credit_sek"])),
        (f"Justering från {previous}, deltagardagar", str(doc["adjustment_days"])),
        (f"Justering från {previous} (kr)", kronor(doc["adjustment_sek"])),
        ("Att fakturera (kr)", kronor(doc["net_sek"])),
    ):
        w.writerow([label, value])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _styles() -> dict[str, ParagraphStyle]:
    base, fonts = getSampleStyleSheet(), pdf_fonts()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], alignment=0, fontSize=20,
                                fontName=fonts.bold, textColor=GREEN, spaceAfter=4 * mm),
        "body": ParagraphStyle("body", parent=base["BodyText"], fontSize=10, leading=13,
                               fontName=fonts.regular),
        "small": ParagraphStyle("small", parent=base["BodyText"], fontSize=8, leading=10,
                                fontName=fonts.regular, textColor=colors.HexColor("#555555")),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=12, textColor=GREEN,
                             fontName=fonts.bold, spaceBefore=5 * mm, spaceAfter=2 * mm),
    }


def _days(n: int, signed: bool = False) -> str:
    """"1 deltagardag", "3 deltagardagar" (with a sign: "+1 deltagardag")."""
    figure = f"{n:+d}" if signed else str(n)
    return f"{figure} deltagardag" if abs(n) == 1 else f"{figure} deltagardagar"


def _grid(rows: list[list[Any]], widths: list[float], header: bool = True,
          right: tuple[int, ...] = (1, 2)) -> Table:
    """A table with a header row; the columns in `right` (figures) aligned right."""
    fonts = pdf_fonts()
    style: list[Any] = [("FONT", (0, 0), (-1, -1), fonts.regular, 9),
             ("LINEBELOW", (0, 0), (-1, 0), 0.6, GREEN),
             ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f2f6f4")]),
             ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    style += [("ALIGN", (column, 0), (column, -1), "RIGHT") for column in right]
    if header:
        style.append(("FONT", (0, 0), (-1, 0), fonts.bold, 9))
    return Table(rows, colWidths=widths, repeatRows=1 if header else 0, style=TableStyle(style))


def invoice_pdf(doc: dict[str, Any], today: dt.date | None = None) -> bytes:
    """The invoice basis on A4: who and what period, the totals with the price components,
    then every participant-day behind them."""
    today = today or asof.today()
    s = _styles()
    out = io.BytesIO()
    year, previous = doc["year"], doc["year"] - 1
    title = f"Fakturaunderlag {year}"
    pdf = SimpleDocTemplate(out, pagesize=A4, title=title, author="Yrkesresan",
                            leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm)
    status = ("Året är stängt: beloppen är slutliga." if doc["closed"] else
              "Preliminärt: året är inte stängt, och beloppen kan ändras till årsavslutet.")
    story: list[Any] = [
        Paragraph(title, s["title"]),
        # names go into paragraph markup: escaped ("Region Jämtland & Härjedalen")
        Paragraph(f"<b>Kommun:</b> {escape(doc['municipality_name'])} "
                  f"({escape(doc['municipality_id'])})", s["body"]),
        Paragraph(f"<b>Region (RSS):</b> {escape(doc['region_name'])} "
                  f"({escape(doc['region_id'])})", s["body"]),
        Paragraph(f"<b>Avser:</b> kursdagar inom Yrkesresan under {year}", s["body"]),
        Paragraph(f"<b>Upprättat:</b> {today.isoformat()}", s["body"]),
        Paragraph(f"<b>Status:</b> {status}", s["body"]),
        Paragraph("Summering", s["h2"]),
    ]
    summary = [
        ["", "Antal", "Belopp"],
        [f"Deltagardagar à {kronor_text(doc['price_sek'])}", str(doc["participant_days"]),
         kronor_text(doc["gross_sek"])],
        ["Avgår: utbildarpott till kommunens utbildare", "", kronor_text(-doc["pot_credit_sek"])],
        [f"Justering från {previous} (rapporterat efter årsavslutet)",
         str(doc["adjustment_days"]), kronor_text(doc["adjustment_sek"])],
        ["Att fakturera", "", kronor_text(doc["net_sek"])],
    ]
    table = _grid(summary, [100 * mm, 25 * mm, 45 * mm])
    table.setStyle(TableStyle([("FONT", (0, -1), (-1, -1), pdf_fonts().bold, 10),
                               ("LINEABOVE", (0, -1), (-1, -1), 0.8, GREEN)]))
    story += [table, Paragraph("Pris per deltagare och kursdag", s["h2"])]
    components = [["Del", "", "Kronor"]] + [
        [label, "", kronor_text(doc["components"][key])] for key, label in COMPONENTS
    ] + [["Summa", "", kronor_text(doc["price_sek"])]]
    story.append(_grid(components, [100 * mm, 25 * mm, 45 * mm]))
    if doc["adjustment_lines"]:
        adjusted = [["Kurstillfälle", "Dag", "Datum", "Deltagar-id", "Dagar"]] + [
            [line["occasion_id"], str(line["day"]), line["date"], line["participant_id"],
             f"{line['days']:+d}"] for line in doc["adjustment_lines"]]
        story += [Paragraph(f"Justering från {previous}: "
                            f"{_days(doc['adjustment_days'], signed=True)}", s["h2"]),
                  Paragraph(f"Rapporterat eller återkallat efter att {previous} stängdes; "
                            f"räknas med {previous} års pris.", s["small"]), Spacer(1, 2 * mm),
                  _grid(adjusted, [48 * mm, 10 * mm, 22 * mm, 76 * mm, 14 * mm], right=(1, 4))]
    story += [Paragraph(f"Underlag {year}: {_days(len(doc['lines']))}", s["h2"]),
              Paragraph("Varje deltagare och kursdag räknas en gång, på den kommun deltagaren "
                        "tillhörde när närvaron rapporterades. Deltagare anges med id, "
                        "utan namn.", s["small"]), Spacer(1, 2 * mm)]
    lines = [["Kurstillfälle", "Dag", "Datum", "Deltagar-id"]] + [
        [line["occasion_id"], str(line["day"]), line["date"], line["participant_id"]]
        for line in doc["lines"]]
    story.append(_grid(lines, [52 * mm, 12 * mm, 24 * mm, 82 * mm], right=(1,)))

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(pdf_fonts().regular, 8)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(20 * mm, 10 * mm, f"Yrkesresan · fakturaunderlag {year} · "
                          f"{doc['municipality_id']} · {doc['region_id']}")
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"Sida {document.page}")
        canvas.restoreState()

    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
