"""The audit trail (revisionsspår) of a participant: the events behind each completion and
certificate, when they occurred, when and by whom (pseudonymously) they were recorded; as JSON
and as a page in Swedish. With `as_of`, the trail and the participant's progression as they
stood then, from the events recorded by that moment (`projections/history.py`)."""

from __future__ import annotations

import datetime as dt
import html
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from services.certification import views
from services.certification.adapters import access
from services.certification.adapters.routers.context import Context
from services.certification.projections import history
from shared.events import Envelope
from shared.platform import asof
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code
from shared.platform.errors import CommandRejected

AsOf = Annotated[str | None, Query(max_length=40, description=(
    "YYYY-MM-DD (the whole day, Swedish time) or an RFC 3339 timestamp: the history as "
    "recorded by then"))]


def parse_as_of(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return asof.parse(value)
    except ValueError:
        raise CommandRejected("Ange ett datum (ÅÅÅÅ-MM-DD) eller en tidpunkt (RFC 3339).",
                              field="as_of") from None


def trail(ctx: Context, participant_id: str, until: dt.datetime | None) -> list[Envelope]:
    """The participant's kept envelopes and those of the occasions, courses and certificates
    they name, recorded by `until` where given."""
    db, key = ctx.cert.db, None if until is None else history.sort_key(until)
    own = history.parse(views.history(db, [f"participant:{participant_id}"], key))
    occasions = {o for e in own if (o := getattr(e.data, "occasion_id", None))}
    planned = history.parse(views.history(db, [f"occasion:{o}" for o in sorted(occasions)], key))
    courses = {c for e in (*own, *planned) if (c := getattr(e.data, "course_id", None))}
    certificates = {getattr(e.data, "certificate_id", "") for e in own
                    if e.type == "CertificateIssued"}
    more = history.parse(views.history(
        db, [f"course:{c}" for c in sorted(courses)]
        + [f"certificate:{c}" for c in sorted(certificates)], key))
    return [*own, *planned, *more]


def router(ctx: Context) -> APIRouter:
    api = APIRouter(tags=["revision"])

    def answer(participant_id: str, who: Any, as_of: str | None) -> dict[str, Any]:
        check = access.read_history(who, participant_id)
        check(ctx.municipality_of(participant_id))
        until = parse_as_of(as_of)
        envelopes = trail(ctx, participant_id, until)
        return {"as_of": until.isoformat() if until else None,
                **history.document(participant_id, envelopes),
                "progression": history.progression_of(participant_id, envelopes)}

    @api.get("/participants/{participant_id}/history")
    def get_history(participant_id: Code, who: CurrentPrincipal,
                    as_of: AsOf = None) -> dict[str, Any]:
        """Per completion, the events behind it and its certificates; the participant's
        whole history; their progression (as `yrkesresan replay progression` prints a row),
        all as recorded by `as_of` where given."""
        return answer(participant_id, who, as_of)

    @api.get("/participants/{participant_id}/history.html", response_class=HTMLResponse)
    def history_page(participant_id: Code, who: CurrentPrincipal,
                     as_of: AsOf = None) -> HTMLResponse:
        """The same, as a page in Swedish."""
        return HTMLResponse(page(answer(participant_id, who, as_of)))

    return api


# -- the page -----------------------------------------------------------------------------------

LABELS = {
    "ParticipantRegistered": "Deltagaren registrerades",
    "ParticipantMoved": "Deltagaren bytte kommun",
    "ParticipantLevelChanged": "Deltagaren bytte nivå",
    "ParticipantErased": "Personuppgifterna raderades",
    "ParticipantBooked": "Bokad på kurstillfället",
    "BookingCancelled": "Bokningen avbokades",
    "CourseDayAttended": "Närvaro rapporterad",
    "AttendanceWithdrawn": "Närvaro återkallad",
    "PreparationCompleted": "Förberedelse klar",
    "DeepeningSubmitted": "Fördjupningsuppgift inlämnad",
    "CourseOccasionPlanned": "Kurstillfället planerades",
    "CourseOccasionRescheduled": "Kurstillfället planerades om",
    "CourseOccasionCancelled": "Kurstillfället ställdes in",
    "CoursePublished": "Kursen publicerades",
    "CourseCompleted": "Kursen genomförd",
    "CertificateIssued": "Intyg utfärdat",
    "CertificateRevoked": "Intyg återkallat",
}
STATUS = {"valid": "giltigt", "revoked": "återkallat"}
STYLE = ("body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;"
         "color:#222}table{border-collapse:collapse;width:100%;margin:.5rem 0 2rem}"
         "th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;"
         "vertical-align:top;font-size:.9rem}code{font-size:.8rem}")


def _when(value: str) -> str:
    moment = dt.datetime.fromisoformat(value).astimezone(asof.STOCKHOLM)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _detail(event: dict[str, Any]) -> str:
    data = event["data"]
    shown = [f"{k}: {v}" for k, v in data.items() if k in (
        "occasion_id", "course_id", "day", "item_id", "reason", "certificate_id",
        "to_municipality_id", "level")]
    return ", ".join(shown)


def _table(events: list[dict[str, Any]]) -> str:
    e = html.escape
    head = ("<tr><th>Händelse</th><th>Inträffade</th><th>Registrerades</th><th>Av</th>"
            "<th>Tjänst</th><th>Uppgifter</th><th>Händelse-id</th></tr>")
    body = "".join(
        f"<tr><td>{e(LABELS.get(ev['type'], ev['type']))}</td>"
        f"<td>{e(_when(ev['occurred_at']))}</td><td>{e(_when(ev['recorded_at']))}</td>"
        f"<td>{e(ev['recorded_by'] or 'okänt')}</td><td>{e(ev['service'] or '')}</td>"
        f"<td>{e(_detail(ev))}</td><td><code>{e(ev['event_id'])}</code></td></tr>"
        for ev in events)
    return f"<table>{head}{body}</table>"


def page(doc: dict[str, Any]) -> str:
    e = html.escape
    as_of = (f"<p>Som det var registrerat {e(_when(doc['as_of']))} (svensk tid).</p>"
             if doc["as_of"] else "")
    parts = []
    for c in doc["completions"]:
        certs = "; ".join(
            f"intyg {e(x['certificate_id'])}: {e(STATUS.get(x['status'], x['status']))}"
            + (f" ({e(x['reason'] or '')})" if x["status"] == "revoked" else "")
            for x in c["certificates"]) or "inget intyg"
        parts.append(f"<h2>Kurs {e(c['course_id'])}, kurstillfälle {e(c['occasion_id'])}</h2>"
                     f"<p>{certs}</p>{_table(c['events'])}")
    if not parts:
        parts.append("<p>Inga genomförda kurser.</p>")
    return ("<!doctype html><html lang=\"sv\"><head><meta charset=\"utf-8\">"
            "<title>Revisionsspår – Yrkesresan</title>"
            f"<style>{STYLE}</style></head><body>"
            f"<h1>Revisionsspår för deltagare {e(doc['participant_id'])}</h1>{as_of}"
            "<p>Händelserna bakom varje genomförd kurs och intyg, i den ordning de "
            "registrerades. Den som registrerade en händelse visas med roll och pseudonym.</p>"
            + "".join(parts)
            + "<h2>Hela historiken</h2>" + _table(doc["events"]) + "</body></html>")
