"""What every service's HTTP API shares: health, metrics, body limits, and how rejections are
answered: a JSON body whose `detail` says why (in Swedish) and, where one field is at fault,
`field` names it. A 422 from validation lists its issues in `detail`, each with pydantic's
`loc` and `type` and a Swedish `msg` naming the field; `message` joins them. The input itself
is never repeated (it may be someone's name or address)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from shared.platform.errors import CommandRejected, swedish_message, swedish_reason
from shared.platform.limits import BodyLimit, Limits


class Issue(BaseModel):
    """One thing wrong with a request: where (`loc`, `field`) and why (`reason`); `msg` is
    the two as one Swedish sentence for people ("Fältet name: får ha högst 200 tecken.").
    `loc` and `type` are pydantic's, for programs."""

    loc: list[str | int]
    msg: str
    type: str
    field: str | None
    reason: str


class Problem(BaseModel):
    """Every 4xx answer: `detail` is a sentence, or the list of issues of a 422."""

    detail: str | list[Issue]
    field: str | None = None
    reason: str | None = None
    message: str | None = None
    errors: list[dict[str, Any]] | None = None


# For endpoints that answer 201 when they record something and 200 when it was already there.
CREATED: dict[int | str, dict[str, Any]] = {201: {"description": "Registrerat."}}


def service_api(title: str, description: str, health: Callable[[], dict[str, Any]],
                limits: Limits | None = None,
                on_shutdown: Sequence[Callable[[], object]] = ()) -> FastAPI:
    """`on_shutdown`: what the API holds open beyond a request (clients' connection pools),
    closed when the server stops."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for close in on_shutdown:
            close()

    api = FastAPI(title=title, description=description, version="1", lifespan=lifespan,
                  responses={"4XX": {"model": Problem,
                                     "description": "Avvisad: skälet i `detail`."}})
    api.add_middleware(BodyLimit, limits=limits or Limits.from_settings())
    api.openapi = _errors_as_json(api.openapi)  # type: ignore[method-assign]

    @api.exception_handler(CommandRejected)
    async def rejected(_: Request, exc: CommandRejected) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status)

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if broken is not None:  # not JSON at all: nothing to name a field by
            return JSONResponse({"detail": _not_json(broken), "reason": "är inte giltig JSON"},
                                status_code=400)
        issues = [_issue(e) for e in exc.errors()]
        first = issues[0] if issues else {}
        return JSONResponse(
            {"detail": issues, "field": first.get("field"), "reason": first.get("reason"),
             "message": " ".join(dict.fromkeys(i["msg"] for i in issues))},
            status_code=422)

    @api.get("/health", tags=["drift"],
             responses={503: {"description": "Tjänsten når inte sin databas eller broker."}})
    def get_health() -> JSONResponse:
        state = health()
        return JSONResponse(state, status_code=200 if state.get("ok") else 503)

    @api.get("/metrics", tags=["drift"], response_class=PlainTextResponse)
    def get_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return api


def _errors_as_json(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """FastAPI documents every response in the media type of the endpoint's own answer (an
    HTML page, a PDF); a rejection is JSON whatever the endpoint, and is documented so."""
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

    def openapi() -> dict[str, Any]:
        document = build()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                if "4XX" in operation.get("responses", {}):
                    operation["responses"]["4XX"]["content"] = problem
        return document

    return openapi


_WHERE = ("body", "query", "path", "form", "header", "cookie")


def _issue(error: Any) -> dict[str, Any]:
    """A validation error without its input. Field names can come from the request too (an
    unknown field, a dictionary key), so they are cut short and made printable."""
    loc = [p if isinstance(p, int) else _printable(str(p)) for p in error.get("loc", ())]
    named = [str(p) for p in loc if p not in _WHERE]
    field = ".".join(named) or None
    reason = _printable(swedish_reason(error))
    return {"loc": loc, "msg": swedish_message(field, reason),
            "type": str(error.get("type", "")), "field": field, "reason": reason}


def _not_json(error: Any) -> str:
    """Where the body stops being JSON (a character position), never the body itself."""
    at = [p for p in error.get("loc", ()) if isinstance(p, int)]
    where = f" (fel vid tecken {at[0]})" if at else ""
    return f"Begärans innehåll är inte giltig JSON{where}."


def _printable(text: str, limit: int = 100) -> str:
    cleaned = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in cleaned)[:limit]
