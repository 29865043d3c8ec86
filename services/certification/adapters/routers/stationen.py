"""Stationen: the municipality's supervisors and managers follow their staff.

Who is booked, who lacks preparations before a course day, who has finished what, their
certificates, who is due to level up; the manager courses of their own level; and the same
staff list as a CSV for a workplace meeting (UTF-8 with BOM and `;`, as Swedish Excel opens
it). Names are fetched from enrolment for the reader, at request time, and kept nowhere.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.certification import views
from services.certification.adapters import access
from services.certification.adapters.routers.context import Context
from services.certification.adapters.routers.routes import with_certificates
from shared.platform import asof
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset, page
from shared.projections.levels import LEVEL_NAMES as LEVELS


def staff_row(ctx: Context, doc: dict[str, Any], name: str | None) -> dict[str, Any]:
    stops = doc["stops"]
    lacking = [{"course_id": s["course_id"], "course_title": s["title"],
                "occasion_id": s["missing"]["occasion_id"],
                "next_day": next(iter(s["missing"]["days"]), None),
                "preparations": s["missing"]["preparations"]}
               for s in stops if not s["done"] and s.get("missing", {}).get("occasion_id")
               and s["missing"]["preparations"]]
    return {
        "participant_id": doc["participant_id"], "name": name, "role": doc["role"],
        "level": doc["level"], "level_up_due": doc["level_up_due"],
        "stops_done": doc["stops_done"], "stops": len(stops),
        "finished": [s["course_id"] for s in stops if s["done"]],
        "booked": doc["bookings"],
        "lacking_preparations": lacking,
        "certificates": doc["certificates"],
    }


def staff(ctx: Context, municipality_id: str) -> list[dict[str, Any]]:
    docs = views.views(ctx.cert.db, "route", municipality_id)
    certificates = views.certificates_of_many(ctx.cert.db, [d["participant_id"] for d in docs])
    names = ctx.names.names_in(municipality_id) if docs else {}
    return [staff_row(ctx, with_certificates(ctx, d, certificates), names.get(d["participant_id"]))
            for d in docs]


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Namn", "Deltagar-id", "Roll", "Nivå", "Dags för nivå", "Klara kurser",
                     "Kurser på nivån", "Genomförda kurser", "Bokade kurstillfällen",
                     "Saknar förberedelser", "Giltiga intyg"])
    for r in rows:
        writer.writerow([
            r["name"] or "", r["participant_id"], r["role"], LEVELS.get(r["level"], r["level"]),
            LEVELS.get(r["level_up_due"] or "", ""), r["stops_done"], r["stops"],
            ", ".join(r["finished"]),
            ", ".join(f"{b['occasion_id']} ({b['dates'][0] if b['dates'] else '–'})"
                      for b in r["booked"]),
            ", ".join(f"{x['course_title']}: {len(x['preparations'])} st"
                      for x in r["lacking_preparations"]),
            sum(1 for c in r["certificates"] if c["status"] == "valid"),
        ])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def router(ctx: Context) -> APIRouter:
    api = APIRouter(prefix="/stationen/{municipality_id}", tags=["Stationen"])

    @api.get("/staff")
    def staff_list(municipality_id: Code, who: CurrentPrincipal, limit: Limit = 1000,
                   offset: Offset = 0) -> dict[str, Any]:
        """A page of the staff (`limit`, `offset`); the summary counts all of them."""
        access.administers(who, municipality_id)
        rows = staff(ctx, municipality_id)
        return {"municipality_id": municipality_id, "staff": page(rows, limit, offset),
                "summary": {
            "staff": len(rows),
            "booked": sum(1 for r in rows if r["booked"]),
            "lacking_preparations": sum(1 for r in rows if r["lacking_preparations"]),
            "finished_level": sum(1 for r in rows if r["stops"] and r["stops_done"] == r["stops"]),
            "level_ups_due": sum(1 for r in rows if r["level_up_due"]),
        }}

    @api.get("/staff.csv", response_class=Response,
             responses={200: {"content": {"text/csv": {}}}})
    def staff_csv(municipality_id: Code, who: CurrentPrincipal) -> Response:
        """For a workplace meeting: opens in Swedish Excel as it is (UTF-8 with BOM, `;`)."""
        access.administers(who, municipality_id)
        name = f"stationen-{municipality_id}-{asof.today()}.csv"
        return Response(csv_bytes(staff(ctx, municipality_id)),
                        media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @api.get("/level-ups")
    def level_ups(municipality_id: Code, who: CurrentPrincipal, limit: Limit = 1000,
                  offset: Offset = 0) -> dict[str, Any]:
        """Staff whose years in the profession have reached a higher level than recorded:
        level them up in enrolment (`POST /participants/{id}/level-up`)."""
        access.administers(who, municipality_id)
        due = [{"participant_id": r["participant_id"], "name": r["name"], "level": r["level"],
                "level_up_due": r["level_up_due"]}
               for r in staff(ctx, municipality_id) if r["level_up_due"]]
        return {"municipality_id": municipality_id, "level_ups_due": page(due, limit, offset)}

    @api.get("/manager-courses")
    def manager_courses(municipality_id: Code, who: CurrentPrincipal, limit: Limit = 1000,
                        offset: Offset = 0) -> dict[str, Any]:
        """The courses of the supervisors' and managers' own level (Arbetsledare och chef),
        as published."""
        access.administers(who, municipality_id)
        courses = [c for c in views.views(ctx.cert.db, "course") if c.get("level") == "chef"]
        return {"level": "chef", "courses": page(courses, limit, offset)}

    return api
