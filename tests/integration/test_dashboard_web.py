"""The dashboard's pages in process, on figures the store computed from the demo log: signing
in (development and OpenID Connect), each role's scope, the charting library served locally,
and services that do not answer shown in Swedish instead of an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from services.dashboard import application as dashboard
from services.dashboard.adapters import signin
from services.dashboard.adapters.signin import SignInSettings
from services.dashboard.adapters.web import create_web
from services.dashboard.store import FiguresReader, FiguresStore
from shared.platform.auth import Principal, Role
from shared.platform.consumer import ProjectionRunner
from shared.platform.db import Database
from tests.tokens import mint
from yrkesresan.demo import demo_envelopes

pytestmark = pytest.mark.integration
DEV = SignInSettings(dev=True, issuer="", client_id="", client_secret="")


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FiguresReader]:
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'dashboard.sqlite'}"
    dashboard.migrate(url)
    db = Database(url)
    runner = ProjectionRunner(FiguresStore(db), db)
    runner.restore()
    runner.apply_batch(list(demo_envelopes(60, seed=2)))
    yield FiguresReader(db)
    db.close()


@pytest.fixture(autouse=True)
def no_services(monkeypatch: pytest.MonkeyPatch) -> None:
    """The services the pages ask are not running here: an address nothing listens on, not
    the default ports (where a `make run` on the same machine would answer)."""
    for service in ("scheduling", "certification", "billing"):
        monkeypatch.setenv(f"YRKESRESAN_{service.upper()}_URL", "http://127.0.0.1:1")


def _client(reader: FiguresReader, settings: SignInSettings = DEV) -> TestClient:
    return TestClient(create_web(reader, settings), follow_redirects=False)


def _sign_in(client: TestClient, role: str, scope: str = "") -> httpx.Response:
    return client.post("/logga-in/utveckling", data={"role": role, "scope": scope})


def test_unsigned_reader_is_sent_to_sign_in(reader: FiguresReader) -> None:
    with _client(reader) as client:
        assert client.get("/oversikt").headers["location"] == "/logga-in"
        assert client.get("/api/oversikt").status_code == 401
        page = client.get("/logga-in")
        assert page.status_code == 200 and "Utvecklingsinloggning" in page.text


def test_national_analyst_drills_down_from_nation_to_municipality(reader: FiguresReader) -> None:
    with _client(reader) as client:
        assert _sign_in(client, "national_analyst").headers["location"] == "/oversikt"
        nation = client.get("/api/oversikt").json()
        assert nation["cell"]["registered"] == 60
        region = nation["children"][0]
        page = client.get(f"/oversikt/region/{region['id']}")
        assert page.status_code == 200 and region["name"] in page.text
        municipalities = client.get(f"/api/oversikt/region/{region['id']}").json()["children"]
        assert sum(m["registered"] for m in municipalities) == 60
        first = municipalities[0]
        assert client.get(f"/oversikt/kommun/{first['id']}").status_code == 200
        assert client.get("/vendor/plotly.min.js").headers["content-type"].startswith(
            "text/javascript")


def test_a_manager_sees_only_their_municipality(reader: FiguresReader) -> None:
    municipalities = reader.cells("municipality")
    own, other = municipalities[0], municipalities[1]
    with _client(reader) as client:
        landed = _sign_in(client, "municipal_admin", own["id"]).headers["location"]
        assert landed == f"/oversikt/kommun/{own['id']}"
        assert client.get("/oversikt").headers["location"] == landed
        assert client.get(f"/api/oversikt/kommun/{own['id']}").json()["cell"]["id"] == own["id"]
        for path in (f"/oversikt/kommun/{other['id']}", f"/oversikt/region/{own['region_id']}",
                     f"/api/oversikt/kommun/{other['id']}", f"/stationen/{other['id']}",
                     f"/stationen/{other['id']}/personal.csv"):
            assert client.get(path).status_code == 404, path
        # certification is not running here: the page says so in Swedish, no error
        station = client.get(f"/stationen/{own['id']}")
        assert station.status_code == 200 and "svarar inte just nu" in station.text
        staff = client.get(f"/stationen/{own['id']}/personal.csv")
        assert staff.status_code == 502 and "Listan kunde inte hämtas" in staff.text


def test_trainer_has_plattformen_and_no_overview(reader: FiguresReader) -> None:
    with _client(reader) as client:
        assert _sign_in(client, "trainer", "t-1").headers["location"] == "/plattformen"
        page = client.get("/plattformen")
        assert page.status_code == 200 and "Schemaläggningstjänsten svarar inte" in page.text
        assert client.get("/api/oversikt").status_code == 403


def test_dev_sign_in_is_off_unless_asked_for(reader: FiguresReader) -> None:
    off = SignInSettings(dev=False, issuer="", client_id="", client_secret="")
    with _client(reader, off) as client:
        assert _sign_in(client, "national_analyst").status_code == 404
        assert "Utvecklingsinloggning" not in client.get("/logga-in").text


def test_openid_connect_code_flow(reader: FiguresReader, monkeypatch: pytest.MonkeyPatch) -> None:
    idp = SignInSettings(dev=False, issuer="https://idp.example.se/realms/yr",
                         client_id="dashboard", client_secret="s3cret")
    discovery = {"authorization_endpoint": f"{idp.issuer}/auth",
                 "token_endpoint": f"{idp.issuer}/token"}
    token = mint(Principal(subject="anna", role=Role.NATIONAL_ANALYST))
    sent: dict[str, Any] = {}

    def token_endpoint(url: str, **kwargs: Any) -> httpx.Response:
        sent.update(kwargs["data"])
        return httpx.Response(200, json={"access_token": token},
                              request=httpx.Request("POST", url))

    monkeypatch.setattr(signin, "_discovery", lambda _: discovery)
    monkeypatch.setattr(signin.httpx, "post", token_endpoint)
    with _client(reader, idp) as client:
        start = client.get("/logga-in/oidc")
        assert start.status_code == 303
        query = parse_qs(urlparse(start.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"]
        assert client.get("/logga-in/klar", params={"code": "c", "state": "forged"}
                          ).status_code == 401
        done = client.get("/logga-in/klar", params={"code": "c", "state": query["state"][0]})
        assert done.status_code == 303 and sent["code_verifier"]
        assert client.get("/api/oversikt").status_code == 200


def test_templates_and_script_are_in_the_package() -> None:
    from services.dashboard.adapters import web

    assert (Path(web.__file__).parent / "static" / "dashboard.js").exists()
    assert web.PLOTLY_JS.exists()


def test_plattformen_shows_billings_year_of_the_trainer(
    reader: FiguresReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With billing's answer (as `GET /trainers/{id}/years/{year}` gives it): points, the
    expected share and the days delivered; the trainer's own id only is asked for."""
    from services.dashboard.adapters import web

    asked: list[str] = []

    async def fake_fetch(service: str, path: str, token: str, params: Any = None) -> Any:
        asked.append(f"{service}{path}")
        if path == "/courses":
            return []
        if service == "billing":
            return {"trainer_id": "t-1", "points": 4.5, "expected_share_sek": 12345,
                    "pots": [{"region_id": "rss-dalarna", "closed": False, "pot_sek": 40000,
                              "total_points": 12.0, "points": 4.5,
                              "expected_share_sek": 12345}],
                    "days_delivered": [{"date": "2026-11-09", "occasion_id": "o-1", "day": 1,
                                        "role": "leader", "points": 1.5}]}
        return [{"occasion_id": "o-1", "course_id": "c-1", "role": "leader", "days": []}]

    monkeypatch.setattr(web, "fetch", fake_fetch)
    with _client(reader) as client:
        _sign_in(client, "trainer", "t-1")
        page = client.get("/plattformen")
    assert page.status_code == 200
    assert "12 345" in page.text and "Kursledare" in page.text and "2026-11-09" in page.text
    assert all("/trainers/t-1/" in path for path in asked if "/trainers/" in path)
    assert "scheduling/courses" in asked  # the catalogue's titles


def test_plattformen_names_courses_and_regions_and_says_an_occasion_is_cancelled(
    reader: FiguresReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trainer's assignments in the domain's words: the course's title (scheduling's
    catalogue) and the region's name (the figures' cells), not their ids, and a cancelled
    occasion said to be cancelled, with its reason (scheduling's `cancelled`)."""
    from services.dashboard.adapters import web

    course = {"id": "bou-ny-familjehem", "name": "Arbeta med familjehem"}
    region = reader.cells("region")[0]
    assert region["name"] != region["id"]

    async def fake_fetch(service: str, path: str, token: str, params: Any = None) -> Any:
        if path == "/courses":
            return [{"course_id": course["id"], "title": course["name"]}]
        if service == "billing":
            return {"trainer_id": "t-1", "points": 1.5, "expected_share_sek": 100,
                    "pots": [{"region_id": region["id"], "closed": True, "pot_sek": 400,
                              "total_points": 6.0, "points": 1.5, "expected_share_sek": 100}],
                    "days_delivered": []}
        return [{"occasion_id": "o-1", "course_id": course["id"], "role": "leader",
                 "region_id": region["id"], "cancelled": True,
                 "cancellation_reason": "För få anmälda.", "days": []},
                {"occasion_id": "o-2", "course_id": "okand-kurs", "role": "trainer",
                 "region_id": region["id"], "cancelled": False, "days": []}]

    monkeypatch.setattr(web, "fetch", fake_fetch)
    with _client(reader) as client:
        _sign_in(client, "trainer", "t-1")
        page = client.get("/plattformen")
    assert page.status_code == 200
    rows = page.text.split('id="assignments"')[1].split("</table>")[0]
    assert course["name"] in rows and f">{course['id']}<" not in rows
    assert "okand-kurs" in rows  # a course the figures do not know: its id, as before
    assert "Inställt" in rows and "För få anmälda." in rows
    pots = page.text.split('id="pots"')[1].split("</table>")[0]
    assert region["name"] in pots and f">{region['id']}<" not in pots
