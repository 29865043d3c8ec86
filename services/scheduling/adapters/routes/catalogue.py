"""The course catalogue: published by the system, read by everyone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from services.scheduling.adapters import access
from services.scheduling.adapters.routes import Service
from services.scheduling.application import PublishCourse
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import Code, Limit, Offset, page
from shared.platform.errors import NotFound
from shared.platform.http import CREATED

router = APIRouter(tags=["kurskatalog"])


@router.post("/catalogue")
def publish_catalogue(scheduling: Service, who: CurrentPrincipal) -> dict[str, str]:
    """Publish the shipped Barn och unga Ny courses; unchanged courses record nothing."""
    access.publish(who)
    return scheduling.publish_catalogue(actor=who.actor())


@router.post("/courses", responses=CREATED)
def publish_course(cmd: PublishCourse, scheduling: Service, who: CurrentPrincipal,
                   response: Response) -> dict[str, str]:
    """201 when new, 200 when revised or unchanged (then nothing is recorded)."""
    access.publish(who)
    outcome = scheduling.publish_course(cmd, actor=who.actor())
    if outcome == "published":
        response.status_code = status.HTTP_201_CREATED
    return {"course_id": cmd.course_id, "outcome": outcome}


@router.get("/courses")
def list_courses(scheduling: Service, who: CurrentPrincipal, limit: Limit = 1000,
                 offset: Offset = 0) -> list[dict[str, Any]]:
    return page(scheduling.courses(), limit, offset)


@router.get("/courses/{course_id}")
def get_course(course_id: Code, scheduling: Service, who: CurrentPrincipal) -> dict[str, Any]:
    for course in scheduling.courses():
        if course["course_id"] == course_id:
            return course
    raise NotFound(f"Kursen {course_id} finns inte.", field="course_id")
