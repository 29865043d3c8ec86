"""Reference data: regions, municipalities, and enrolment's copy of the course catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from services.enrolment.adapters import access
from services.enrolment.adapters.routes import CsvFile, Service, actor
from services.enrolment.application import JoinMunicipality, RegisterRegion
from services.enrolment.csv_import import import_municipalities, import_regions
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset, page

router = APIRouter(tags=["referensdata"])


@router.post("/regions", status_code=status.HTTP_201_CREATED)
def register_region(cmd: RegisterRegion, enrolment: Service,
                    who: CurrentPrincipal) -> dict[str, str]:
    access.register_regions(who)
    enrolment.register_region(cmd, actor=actor(enrolment, who))
    return {"region_id": cmd.region_id}


@router.post("/regions/import")
def import_region_file(file: CsvFile, enrolment: Service,
                       who: CurrentPrincipal) -> dict[str, Any]:
    """Columns `region_id,name`. Any bad row: 422 listing every one, nothing imported."""
    access.register_regions(who)
    return import_regions(enrolment, file.file.read(), actor(enrolment, who)).as_dict()


@router.get("/regions")
def list_regions(enrolment: Service, who: CurrentPrincipal, limit: Limit = 1000,
                 offset: Offset = 0) -> dict[str, Any]:
    return {"regions": page(enrolment.regions(), limit, offset)}


@router.post("/municipalities", status_code=status.HTTP_201_CREATED)
def join_municipality(cmd: JoinMunicipality, enrolment: Service,
                      who: CurrentPrincipal) -> dict[str, str]:
    access.join_municipality(who, cmd.region_id)
    enrolment.join_municipality(cmd, actor=actor(enrolment, who))
    return {"municipality_id": cmd.municipality_id}


@router.post("/municipalities/import")
def import_municipality_file(file: CsvFile, enrolment: Service,
                             who: CurrentPrincipal) -> dict[str, Any]:
    """Columns `municipality_id,name,region_id`; a coordinator's file names only their own
    region (else 403, nothing imported)."""
    only = access.import_municipalities(who)
    return import_municipalities(enrolment, file.file.read(), actor(enrolment, who),
                                 only_region=only).as_dict()


@router.get("/municipalities")
def list_municipalities(enrolment: Service, who: CurrentPrincipal,
                        region_id: Code | None = None, limit: Limit = 1000,
                        offset: Offset = 0) -> dict[str, Any]:
    return {"municipalities": page(enrolment.municipalities(region_id), limit, offset)}


@router.get("/courses")
def list_courses(enrolment: Service, who: CurrentPrincipal, limit: Limit = 1000,
                 offset: Offset = 0) -> dict[str, Any]:
    """The published courses as enrolment knows them from the bus (`CoursePublished`), with
    the preparations and deepening tasks participants mark."""
    return {"courses": page(enrolment.courses(), limit, offset)}
