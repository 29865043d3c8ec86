"""Evaluations (utvärdering): the questionnaire of an occasion a participant completed, their
answers once per occasion, and the statistics the regions and the nation follow."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from services.certification import views
from services.certification.adapters import access
from services.certification.adapters.routers.context import Context
from services.certification.application import SubmitEvaluation
from services.certification.domain import evaluation_key
from services.certification.keys import respondent_id
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code

SCALE = {"1": "Instämmer inte alls", "2": "Instämmer i låg grad", "3": "Instämmer delvis",
         "4": "Instämmer i hög grad", "5": "Instämmer helt"}


def router(ctx: Context) -> APIRouter:
    api = APIRouter(tags=["utvärdering"])

    def answered(participant_id: str, occasion_id: str) -> bool:
        rid = respondent_id(ctx.cert.respondent_key, participant_id, occasion_id)
        return ctx.cert.app.exists(evaluation_key(rid))

    @api.get("/participants/{participant_id}/evaluations")
    def questionnaires(participant_id: Code, who: CurrentPrincipal) -> dict[str, Any]:
        """The questionnaires of the occasions the participant completed, and which of them
        they have answered."""
        access.may_evaluate(who, participant_id)
        rows = [c for c in views.certificates_of(ctx.cert.db, participant_id)
                if c["status"] == views.VALID]
        return {"participant_id": participant_id, "scale": SCALE, "evaluations": [
            {"occasion_id": c["occasion_id"], "course_id": c["course_id"],
             "course_title": ctx.course(c["course_id"]).get("title"),
             "questions": ctx.course(c["course_id"]).get("questions", []),
             "answered": answered(participant_id, c["occasion_id"])} for c in rows]}

    @api.post("/participants/{participant_id}/evaluations/{occasion_id}",
              status_code=status.HTTP_201_CREATED)
    def submit(participant_id: Code, occasion_id: Code, cmd: SubmitEvaluation,
               who: CurrentPrincipal) -> dict[str, Any]:
        """Answers 1–5 per question, and an optional comment that stays in this service.
        Once per occasion: a second submission is 409."""
        access.may_evaluate(who, participant_id)
        ctx.cert.submit_evaluation(participant_id, occasion_id, cmd, actor=who.actor())
        return {"occasion_id": occasion_id, "recorded": True}

    @api.get("/statistics/evaluations")
    def statistics(who: CurrentPrincipal, region_id: Code | None = None,
                   course_id: Code | None = None) -> dict[str, Any]:
        """Per course: completions, responses, response rate, mean score per question, and the
        same per occasion mode (`on_site`, `digital`, `mixed`): the `Evaluations` fold's
        document, as `yrkesresan replay evaluations` prints it. With `region_id`, the
        region's occasions only."""
        region = access.statistics_scope(who, region_id)
        kind = views.EVALUATION if region is None else f"{views.EVALUATION}@{region}"
        rows = views.views(ctx.cert.db, kind)
        if course_id is not None:
            rows = [r for r in rows if r["course_id"] == course_id]
        return {"region_id": region, "courses": rows}

    return api
