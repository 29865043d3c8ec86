"""Enrolment's HTTP API (FastAPI).

Who may do what (system may do everything):
| endpoint | allowed |
| --- | --- |
| `POST /regions`, `POST /regions/import`, `POST /courses` | system |
| `POST /municipalities`, `POST /municipalities/import` | regional coordinator of the region |
| `GET /regions`, `GET /municipalities`, `GET /courses` | everyone signed in |
| `POST /participants`, `POST /participants/import` | municipal admin of the municipality |
| `GET /participants?municipality_id=` | its admin (with personal data); the coordinator of its region (without) |
| `GET /participants/{id}` | the participant, the admin of their current municipality |
| `POST /participants/{id}/move`, `/level-up`, `DELETE /participants/{id}` | the admin of their current municipality |
| `POST /participants/{id}/preparations`, `/deepening` | the participant |

Outside one's scope is 403, checked before anything is written. Every recorded event carries
a pseudonymous actor (`Enrolment.actor`), never the token's subject.
"""  # noqa: E501

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Query, Request, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.enrolment.application import (
    CatalogueCourse,
    CompletePreparation,
    Enrolment,
    JoinMunicipality,
    LevelUp,
    MoveParticipant,
    RegisterParticipant,
    RegisterRegion,
    SubmitDeepening,
)
from services.enrolment.csv_import import (
    ImportRejected,
    import_municipalities,
    import_participants,
    import_regions,
    swedish_reason,
)
from services.enrolment.domain import Participant
from shared.platform.auth import (
    CurrentPrincipal,
    Principal,
    Role,
    forbid,
    require,
    require_municipality,
)
from shared.platform.http import service_api

CsvFile = Annotated[UploadFile, File(description="CSV, UTF-8 (or Windows-1252), `,` or `;`")]


def create_api(enrolment: Enrolment) -> FastAPI:
    api = service_api(
        "Yrkesresan – enrolment",
        "Regioner, kommuner, kurskatalog och deltagarkonton. Personuppgifter finns bara här, "
        "krypterade per deltagare.",
        health=lambda: {"ok": True, "service": "enrolment",
                        "events": enrolment.app.recorder.max_notification_id() or 0},
    )

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []  # the input is not echoed: it may be someone's name or address
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "form")]
            errors.append({"loc": list(e.get("loc", ())), "msg": e.get("msg"),
                           "type": e.get("type"), "field": ".".join(loc) or None,
                           "reason": swedish_reason(e)})
        first = errors[0] if errors else {}
        return JSONResponse(
            {"detail": errors, "field": first.get("field"), "reason": first.get("reason")},
            status_code=422)

    @api.exception_handler(ImportRejected)
    async def import_rejected(_: Request, exc: ImportRejected) -> JSONResponse:
        return JSONResponse({"detail": exc.message, "errors": [e.as_dict() for e in exc.errors]},
                            status_code=exc.status)

    def actor(who: Principal) -> str:
        return enrolment.actor(who.role.value, who.subject)

    # -- reference data ---------------------------------------------------------------------

    @api.post("/regions", status_code=status.HTTP_201_CREATED, tags=["referensdata"])
    def register_region(cmd: RegisterRegion, who: CurrentPrincipal) -> dict[str, str]:
        require(who, Role.SYSTEM)
        enrolment.register_region(cmd, actor=actor(who))
        return {"region_id": cmd.region_id}

    @api.post("/regions/import", tags=["referensdata"])
    def import_region_file(file: CsvFile, who: CurrentPrincipal) -> dict[str, Any]:
        """Columns `region_id,name`. Any bad row: 422 listing every one, nothing imported."""
        require(who, Role.SYSTEM)
        return import_regions(enrolment, file.file.read(), actor(who)).as_dict()

    @api.get("/regions", tags=["referensdata"])
    def list_regions(who: CurrentPrincipal) -> dict[str, Any]:
        return {"regions": enrolment.regions()}

    def require_region(who: Principal, region_id: str | None) -> None:
        require(who, Role.REGIONAL_COORDINATOR)
        if who.role is Role.REGIONAL_COORDINATOR and (
                who.region_id is None or who.region_id != region_id):
            raise forbid("Du kan bara lägga till kommuner i din egen region.")

    @api.post("/municipalities", status_code=status.HTTP_201_CREATED, tags=["referensdata"])
    def join_municipality(cmd: JoinMunicipality, who: CurrentPrincipal) -> dict[str, str]:
        require_region(who, cmd.region_id)
        enrolment.join_municipality(cmd, actor=actor(who))
        return {"municipality_id": cmd.municipality_id}

    @api.post("/municipalities/import", tags=["referensdata"])
    def import_municipality_file(file: CsvFile, who: CurrentPrincipal) -> dict[str, Any]:
        """Columns `municipality_id,name,region_id`; a coordinator's file names only their
        own region (else 403, nothing imported)."""
        require_region(who, who.region_id)
        only = who.region_id if who.role is Role.REGIONAL_COORDINATOR else None
        return import_municipalities(enrolment, file.file.read(), actor(who),
                                     only_region=only).as_dict()

    @api.get("/municipalities", tags=["referensdata"])
    def list_municipalities(who: CurrentPrincipal,
                            region_id: str | None = None) -> dict[str, Any]:
        return {"municipalities": enrolment.municipalities(region_id)}

    @api.post("/courses", tags=["referensdata"])
    def catalogue_course(cmd: CatalogueCourse, who: CurrentPrincipal) -> dict[str, Any]:
        """Keep a published course (the data of its `CoursePublished`), so that its
        preparations and deepening tasks can be marked. Sent by the system when a course is
        published; the same course sent again records nothing."""
        require(who, Role.SYSTEM)
        recorded = enrolment.catalogue_course(cmd, actor=actor(who))
        return {"course_id": cmd.course_id, "recorded": recorded}

    @api.get("/courses", tags=["referensdata"])
    def list_courses(who: CurrentPrincipal) -> dict[str, Any]:
        return {"courses": enrolment.courses()}

    # -- participants -----------------------------------------------------------------------

    @api.post("/participants", status_code=status.HTTP_201_CREATED, tags=["konton"])
    async def register_participant(
        cmd: RegisterParticipant, who: CurrentPrincipal
    ) -> dict[str, str]:
        # The busiest command: async, with the blocking handler in the thread pool, costs one
        # thread hop per request instead of one per dependency and one for the response.
        require_municipality(who, cmd.municipality_id)
        participant_id = await run_in_threadpool(
            enrolment.register_participant, cmd, actor=actor(who))
        return {"participant_id": participant_id}

    @api.post("/participants/import", tags=["konton"])
    def import_participant_file(
        file: CsvFile, municipality_id: Annotated[str, Form()], who: CurrentPrincipal,
    ) -> dict[str, Any]:
        """Columns `name,email,role,years_in_profession` and optionally `area_of_work`,
        `journey`. A file with any bad row imports nothing: 422 lists every bad row as
        `rad N: fält: orsak`. Rows already there (same address, municipality and data) are
        skipped, so the same file imported twice creates nobody twice."""
        require_municipality(who, municipality_id)
        return import_participants(enrolment, municipality_id, file.file.read(),
                                   actor(who)).as_dict()

    @api.get("/participants", tags=["konton"])
    def list_participants(
        municipality_id: str, who: CurrentPrincipal,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Personal data only for the municipality's admins; its region's coordinator sees
        the pseudonymous facts."""
        if who.role is Role.REGIONAL_COORDINATOR:
            municipality = enrolment.municipality(municipality_id)
            if municipality.region_id != who.region_id:
                raise forbid("Du kan bara se kommuner i din egen region.")
            personal = False
        else:
            require_municipality(who, municipality_id)
            personal = True
        return {"municipality_id": municipality_id, "limit": limit, "offset": offset,
                "participants": enrolment.participants_of(municipality_id, personal, limit,
                                                          offset)}

    def administered(participant_id: str, who: Principal) -> Participant:
        """The participant, if the caller administers their current municipality."""
        require(who, Role.MUNICIPAL_ADMIN)
        participant = enrolment.participant(participant_id)
        require_municipality(who, participant.municipality_id)
        return participant

    def require_self(participant_id: str, who: Principal) -> None:
        require(who, Role.PARTICIPANT)
        if who.role is Role.PARTICIPANT and who.participant_id != participant_id:
            raise forbid("Du kan bara ändra ditt eget konto.")

    @api.get("/participants/{participant_id}", tags=["konton"])
    def get_participant(participant_id: str, who: CurrentPrincipal) -> dict[str, Any]:
        if who.role is Role.PARTICIPANT:
            if who.participant_id != participant_id:
                raise forbid("Du kan bara se ditt eget konto.")
            participant = enrolment.participant(participant_id)
        else:
            participant = administered(participant_id, who)
        return enrolment.view(participant, personal=True)

    @api.post("/participants/{participant_id}/move", tags=["konton"])
    def move_participant(participant_id: str, cmd: MoveParticipant,
                         who: CurrentPrincipal) -> dict[str, Any]:
        """To another municipality; the account and its whole history follow the person."""
        administered(participant_id, who)
        enrolment.move_participant(participant_id, cmd, actor=actor(who))
        return {"participant_id": participant_id, "municipality_id": cmd.to_municipality_id}

    @api.post("/participants/{participant_id}/level-up", tags=["konton"])
    def level_up(participant_id: str, who: CurrentPrincipal,
                 cmd: LevelUp | None = None) -> dict[str, Any]:
        """Recompute the level from the years in the profession at registration plus the time
        passed since, as of `as_of` (default today); Chef stays Chef."""
        administered(participant_id, who)
        reached = enrolment.level_up(participant_id, (cmd or LevelUp()).as_of, actor(who))
        participant = enrolment.participant(participant_id)
        return {"participant_id": participant_id, "level": participant.level.value,
                "changed_to": [lv.value for lv in reached]}

    @api.post("/participants/{participant_id}/preparations", tags=["kurser"])
    def complete_preparation(participant_id: str, cmd: CompletePreparation,
                             who: CurrentPrincipal) -> dict[str, Any]:
        require_self(participant_id, who)
        recorded = enrolment.complete_preparation(participant_id, cmd, actor(who))
        return {"participant_id": participant_id, **cmd.model_dump(), "recorded": recorded}

    @api.post("/participants/{participant_id}/deepening", tags=["kurser"])
    def submit_deepening(participant_id: str, cmd: SubmitDeepening,
                         who: CurrentPrincipal) -> dict[str, Any]:
        require_self(participant_id, who)
        recorded = enrolment.submit_deepening(participant_id, cmd, actor(who))
        return {"participant_id": participant_id, **cmd.model_dump(), "recorded": recorded}

    @api.delete("/participants/{participant_id}", tags=["konton"])
    def erase_participant(participant_id: str, who: CurrentPrincipal) -> dict[str, Any]:
        """Erase the person: their key is destroyed (name, e-mail and area of work can never
        be read again) and the address is released; the pseudonymous facts remain."""
        administered(participant_id, who)
        recorded = enrolment.erase_participant(participant_id, actor(who))
        return {"participant_id": participant_id, "erased": True, "recorded": recorded}

    return api
