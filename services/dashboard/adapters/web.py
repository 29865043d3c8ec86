"""The dashboard's web application: the national overview, Stationen and Plattformen, in
Swedish, with charts drawn by plotly.js served from the `plotly` package (no CDN) and updated
live over server-sent events when the worker stores new figures.

The overview pages read the figures the worker stored (counts and means only: no personal
data). Stationen and Plattformen call the services' APIs with the reader's own token.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import plotly
from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.dashboard.adapters import access, signin
from services.dashboard.adapters.services import Missing, fetch, fetch_bytes
from services.dashboard.adapters.signin import COOKIE, FLOW_COOKIE, SignInSettings
from services.dashboard.store import FiguresReader
from shared.platform import asof
from shared.platform.auth import Principal
from shared.platform.commands import Code
from shared.projections.levels import LEVEL_NAMES as LEVELS

HERE = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
ROLES = {"national_analyst": "Nationell analytiker", "regional_coordinator": "Regional samordnare",
         "municipal_admin": "Kommunadministratör", "trainer": "Utbildare", "system": "System",
         "participant": "Deltagare"}


class VersionWatch:
    """Watches the figures' version in the database; server-sent event streams wait on it.
    One reader per process, however many pages are open, reading one row every `interval`
    seconds: what a new figure may wait here before the open pages hear of it."""

    def __init__(self, reader: FiguresReader, interval: float = 0.1) -> None:
        self.reader = reader
        self.interval = interval
        self.version = -1
        self._changed = asyncio.Condition()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a database briefly away: try again
                version = await asyncio.to_thread(self.reader.version)
                if version != self.version:
                    self.version = version
                    async with self._changed:
                        self._changed.notify_all()
            await asyncio.sleep(self.interval)

    async def after(self, seen: int, timeout: float) -> int:
        """The version once it differs from `seen` (or `seen` again after `timeout`)."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.version != seen), timeout)
        return self.version


def create_web(reader: FiguresReader, settings: SignInSettings | None = None) -> FastAPI:
    sign_in = settings or SignInSettings.from_environment()
    watch = VersionWatch(reader)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # What the process holds once it starts (modules, routes, templates, its objects)
        # lives as long as the process: frozen, a full collection does not walk it again. A
        # full collection walking all of it made the slowest national pages in
        # bench/dashboard_queries.py (the figures a page reads are each request's own).
        gc.collect()
        gc.freeze()
        task = asyncio.create_task(watch.run())
        yield
        task.cancel()

    web = FastAPI(title="Yrkesresan – uppföljning", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["tal"] = number
    templates.env.filters["procent"] = percent
    templates.env.globals |= {"LEVELS": LEVELS, "ROLES": ROLES}
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, name: str, who: Principal | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"who": who, **context},
                                          status_code=status)

    def reader_of(request: Request) -> Principal | None:
        return signin.principal_of(request.cookies.get(COOKIE))

    def refused(request: Request, who: Principal | None, error: Exception) -> HTMLResponse:
        if isinstance(error, access.Hidden):
            return page(request, "fel.html", who, 404, title="Finns inte",
                        message="Sidan finns inte, eller ligger utanför ditt område.")
        return page(request, "fel.html", who, 403, title="Ingen åtkomst",
                    message="Din roll har inte tillgång till den här sidan.")

    def to_sign_in() -> RedirectResponse:
        return RedirectResponse("/logga-in", status_code=303)

    @web.get("/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"ok": True, "service": "dashboard", "version": reader.version()}

    @web.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @web.get("/")
    def start(request: Request) -> Response:
        who = reader_of(request)
        if who is None:
            return to_sign_in()
        try:
            return RedirectResponse(access.home(who), status_code=303)
        except access.NotForRole as e:
            return refused(request, who, e)

    # --- signing in -------------------------------------------------------------------------

    @web.get("/logga-in", response_class=HTMLResponse)
    def sign_in_page(request: Request) -> HTMLResponse:
        regions = reader.cells("region")
        municipalities = reader.cells("municipality")
        return page(request, "logga_in.html", reader_of(request), settings=sign_in,
                    roles=signin.DEV_ROLES, regions=regions, municipalities=municipalities)

    @web.post("/logga-in/utveckling")
    def dev_sign_in(request: Request, role: Annotated[str, Form(max_length=40)],
                    scope: Annotated[str, Form(max_length=200)] = "") -> Response:
        if not sign_in.dev:
            return page(request, "fel.html", None, 404, title="Finns inte",
                        message="Utvecklingsinloggningen är avstängd.")
        try:
            token = signin.dev_token(role, scope.strip())
        except ValueError:
            return page(request, "fel.html", None, 422, title="Välj roll och område",
                        message="Välj en roll, och för den rollen en region, kommun eller "
                                "utbildare.")
        who = signin.principal_of(token)
        assert who is not None
        response = RedirectResponse(access.home(who), status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="lax")
        return response

    @web.get("/logga-in/oidc")
    def oidc_start(request: Request) -> Response:
        if not sign_in.oidc:
            return page(request, "fel.html", None, 404, title="Finns inte",
                        message="Ingen identitetsleverantör är konfigurerad.")
        try:
            url, flow = signin.authorization_url(sign_in, _callback(request, sign_in))
        except Exception:
            return page(request, "fel.html", None, 502, title="Inloggningen svarar inte",
                        message="Identitetsleverantören svarar inte. Försök igen om en stund.")
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(FLOW_COOKIE, flow, httponly=True, samesite="lax", max_age=600)
        return response

    @web.get("/logga-in/klar")
    def oidc_done(request: Request, code: Annotated[str, Query(max_length=4096)] = "",
                  state: Annotated[str, Query(max_length=200)] = "") -> Response:
        flow = request.cookies.get(FLOW_COOKIE, "")
        try:
            token = signin.exchange(sign_in, flow, state, code, _callback(request, sign_in))
        except Exception:
            return page(request, "fel.html", None, 401, title="Inloggningen misslyckades",
                        message="Inloggningen kunde inte slutföras. Försök igen.")
        who = signin.principal_of(token)
        assert who is not None
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="lax")
        response.delete_cookie(FLOW_COOKIE)
        return response

    @web.post("/logga-ut")
    def sign_out() -> Response:
        response = to_sign_in()
        response.delete_cookie(COOKIE)
        return response

    # --- the overview -----------------------------------------------------------------------

    def overview(who: Principal, level: str, ident: str = "") -> dict[str, Any]:
        """The figures of one page, checked against the reader's scope."""
        if level == "nation":
            if not access.sees_nation(who):
                raise access.NotForRole
            return {"level": level, "cell": reader.cell("nation:SE") or empty("Hela landet"),
                    "children": reader.cells("region"), "months": reader.cells("month"),
                    "courses": reader.cells("course"), "levels": reader.cells("level"),
                    "journeys": reader.cells("journey"), "version": reader.version()}
        if level == "region":
            access.sees_region(who, ident)
            cell = reader.cell(f"region:{ident}")
            if cell is None and not (who.region_id == ident):
                raise access.Hidden
            return {"level": level, "cell": cell or empty(ident),
                    "children": reader.cells("municipality", ident),
                    "version": reader.version()}
        cell = reader.cell(f"municipality:{ident}")
        access.sees_municipality(who, ident, cell.get("region_id") if cell else None)
        if cell is None and who.municipality_id != ident:
            raise access.Hidden
        return {"level": level, "cell": cell or empty(ident), "children": [],
                "version": reader.version()}

    def overview_page(request: Request, level: str, ident: str = "") -> Response:
        who = reader_of(request)
        if who is None:
            return to_sign_in()
        try:
            figures = overview(who, level, ident)
        except (access.Hidden, access.NotForRole) as e:
            if level == "nation" and isinstance(e, access.NotForRole):
                with contextlib.suppress(access.NotForRole):
                    return RedirectResponse(access.home(who), status_code=303)
            return refused(request, who, e)
        api = "/api/oversikt" + (f"/{'region' if level == 'region' else 'kommun'}/{ident}"
                                 if level != "nation" else "")
        return page(request, "oversikt.html", who, figures=figures, api=api)

    def overview_json(request: Request, level: str, ident: str = "") -> Response:
        who = reader_of(request)
        if who is None:
            return JSONResponse({"detail": "Inloggning krävs."}, status_code=401)
        try:
            return JSONResponse(overview(who, level, ident))
        except access.Hidden:
            return JSONResponse({"detail": "Finns inte, eller ligger utanför ditt område."},
                                status_code=404)
        except access.NotForRole:
            return JSONResponse({"detail": "Din roll har inte tillgång till detta."},
                                status_code=403)

    @web.get("/oversikt", response_class=HTMLResponse)
    def nation_page(request: Request) -> Response:
        return overview_page(request, "nation")

    @web.get("/oversikt/region/{region_id}", response_class=HTMLResponse)
    def region_page(request: Request, region_id: Code) -> Response:
        return overview_page(request, "region", region_id)

    @web.get("/oversikt/kommun/{municipality_id}", response_class=HTMLResponse)
    def municipality_page(request: Request, municipality_id: Code) -> Response:
        return overview_page(request, "municipality", municipality_id)

    @web.get("/api/oversikt")
    def nation_json(request: Request) -> Response:
        return overview_json(request, "nation")

    @web.get("/api/oversikt/region/{region_id}")
    def region_json(request: Request, region_id: Code) -> Response:
        return overview_json(request, "region", region_id)

    @web.get("/api/oversikt/kommun/{municipality_id}")
    def municipality_json(request: Request, municipality_id: Code) -> Response:
        return overview_json(request, "municipality", municipality_id)

    @web.get("/api/handelser")
    async def events(request: Request) -> Response:
        """Server-sent events: `figures` with the new version whenever the worker stored new
        figures (a comment every 15 s keeps proxies from closing the stream)."""
        if reader_of(request) is None:
            return JSONResponse({"detail": "Inloggning krävs."}, status_code=401)

        async def stream() -> AsyncIterator[bytes]:
            seen = watch.version
            yield f"retry: 2000\nevent: figures\ndata: {{\"version\": {seen}}}\n\n".encode()
            while not await request.is_disconnected():
                version = await watch.after(seen, 15)
                if version == seen:
                    yield b": \n\n"
                    continue
                seen = version
                yield f"event: figures\ndata: {{\"version\": {version}}}\n\n".encode()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    # --- Stationen and Plattformen ----------------------------------------------------------

    @web.get("/stationen", response_class=HTMLResponse)
    def stationen_start(request: Request) -> Response:
        who = reader_of(request)
        if who is None:
            return to_sign_in()
        if who.municipality_id and who.role.value == "municipal_admin":
            return RedirectResponse(f"/stationen/{who.municipality_id}", status_code=303)
        if who.role.value == "regional_coordinator":
            return page(request, "stationen_val.html", who,
                        municipalities=reader.cells("municipality", who.region_id))
        return refused(request, who, access.NotForRole())

    def stationen_of(request: Request, municipality_id: str,
                     ) -> tuple[Principal, dict[str, Any] | None] | Response:
        """The signed-in reader, allowed the municipality's Stationen, and its cell; or the
        answer that sends them to sign in or refuses them."""
        who = reader_of(request)
        if who is None:
            return to_sign_in()
        cell = reader.cell(f"municipality:{municipality_id}")
        try:
            access.stationen(who, municipality_id, cell.get("region_id") if cell else None)
        except (access.Hidden, access.NotForRole) as e:
            return refused(request, who, e)
        return who, cell

    @web.get("/stationen/{municipality_id}", response_class=HTMLResponse)
    async def stationen(request: Request, municipality_id: Code) -> Response:
        found = stationen_of(request, municipality_id)
        if isinstance(found, Response):
            return found
        who, cell = found
        token = request.cookies[COOKIE]
        staff = await fetch("certification", f"/stationen/{municipality_id}/staff", token)
        year = asof.today().year
        region_id = (cell or {}).get("region_id") or who.region_id or ""
        invoice = await fetch("billing", f"/regions/{region_id}/years/{year}/invoices/"
                              f"{municipality_id}", token) if region_id else Missing("billing", 404)
        return page(request, "stationen.html", who, municipality=cell or empty(municipality_id),
                    staff=staff, invoice=invoice, year=year, Missing=Missing)

    @web.get("/stationen/{municipality_id}/personal.csv")
    async def stationen_csv(request: Request, municipality_id: Code) -> Response:
        found = stationen_of(request, municipality_id)
        if isinstance(found, Response):
            return found
        who, _ = found
        got = await fetch_bytes("certification", f"/stationen/{municipality_id}/staff.csv",
                                request.cookies[COOKIE])
        if isinstance(got, Missing):
            return page(request, "fel.html", who, 502, title="Listan kunde inte hämtas",
                        message=got.message)
        body, media_type = got
        name = f"stationen-{municipality_id}-{asof.today()}.csv"
        return Response(body, media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @web.get("/plattformen", response_class=HTMLResponse)
    async def plattformen(request: Request) -> Response:
        who = reader_of(request)
        if who is None:
            return to_sign_in()
        try:
            trainer_id = access.plattformen(who)
        except access.NotForRole as e:
            return refused(request, who, e)
        token = request.cookies[COOKIE]
        assignments = await fetch("scheduling", f"/trainers/{trainer_id}/assignments", token)
        year = asof.today().year
        earnings = await fetch("billing", f"/trainers/{trainer_id}/years/{year}", token)
        # scheduling and billing answer with ids: the courses' titles from scheduling's
        # catalogue, the regions' names from the figures' cells
        courses = await fetch("scheduling", "/courses", token)
        titles = {} if isinstance(courses, Missing) else {
            c["course_id"]: c["title"] for c in courses}
        regions = {c["id"]: c["name"] for c in await asyncio.to_thread(reader.cells, "region")}
        return page(request, "plattformen.html", who, assignments=assignments,
                    earnings=earnings, year=year, Missing=Missing, titles=titles,
                    regions=regions)

    return web


def _callback(request: Request, sign_in: SignInSettings) -> str:
    """Where the provider sends people back: the public address registered with it, if set."""
    if sign_in.public_url:
        return f"{sign_in.public_url}{request.app.url_path_for('oidc_done')}"
    return str(request.url_for("oidc_done"))


def empty(name: str) -> dict[str, Any]:
    """The figures of a cell nothing has been counted in yet."""
    return {"dimension": "", "id": name, "name": name, "registered": 0, "active": 0,
            "started": 0, "completions": 0, "certificates": 0, "completion_rate": 0.0,
            "participant_days": 0, "course_days": 0, "pot_sek": 0,
            "days_to_certificate": {"count": 0, "mean": None, "median": None},
            "evaluations": {}}


def number(value: Any) -> str:
    """A number as Swedish text: a space between thousands, a decimal comma."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", " ").replace(".", ",")
    try:
        return f"{int(value):,}".replace(",", " ")
    except (TypeError, ValueError):  # None, or a field a service did not send
        return "–"


def percent(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.1f} %".replace(".", ",")
