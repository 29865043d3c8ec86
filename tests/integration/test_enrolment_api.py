"""Enrolment's HTTP API on real PostgreSQL: every role against every endpoint, inside and
outside its scope (outside is 403 and records nothing), and the answers to bad commands:
422 naming the field, 404 for unknown ids, 409 for conflicts."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.enrolment.adapters.http import create_api
from services.enrolment.application import (
    CatalogueCourse,
    Enrolment,
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
    bootstrap,
    migrate,
)
from shared.platform.auth import Principal, Role, issue_token

pytestmark = pytest.mark.integration

COURSE = {
    "course_id": "bou-ny-samtal", "journey": "barn_och_unga", "level": "ny",
    "title": "Samtal och delaktighet",
    "preparations": [{"item_id": "sod-f1", "title": "Läs kapitlet", "mandatory": True}],
    "deepening_tasks": [{"task_id": "sod-d1", "title": "Planera ett barnsamtal"}],
}


@dataclass
class World:
    enrolment: Enrolment
    http: TestClient
    self_id: str  # the participant whose token is "participant (self)", in falun
    other_id: str  # a participant in mora
    counter: Iterator[int]

    def events(self) -> int:
        return self.enrolment.app.recorder.max_notification_id() or 0

    def fresh(self) -> str:
        """A new participant in falun, registered years ago (so that a level-up records)."""
        n = next(self.counter)
        return self.enrolment.register_participant(RegisterParticipant(
            municipality_id="falun", name=f"Ny Person {n}", email=f"ny{n}@falun.example.se",
            role="socialsekreterare", years_in_profession=0,
            occurred_at=dt.datetime(2019, 1, 1, tzinfo=dt.UTC)))


@pytest.fixture
def world(pg_url: str) -> Iterator[World]:
    migrate(pg_url)
    e = bootstrap(pg_url)
    e.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    e.register_region(RegisterRegion(region_id="region-sormland", name="Region Sörmland"))
    for mid, name, rid in (("falun", "Falun", "rss-dalarna"), ("mora", "Mora", "rss-dalarna"),
                           ("nykoping", "Nyköping", "region-sormland")):
        e.join_municipality(JoinMunicipality(municipality_id=mid, name=name, region_id=rid))
    e.catalogue_course(CatalogueCourse.model_validate(COURSE))
    self_id = e.register_participant(RegisterParticipant(
        municipality_id="falun", name="Anna Andersson", email="anna@falun.example.se",
        role="socialsekreterare", years_in_profession=1, participant_id="p-anna"))
    other_id = e.register_participant(RegisterParticipant(
        municipality_id="mora", name="Bo Berg", email="bo@mora.example.se",
        role="socialsekreterare", years_in_profession=3, participant_id="p-bo"))
    with TestClient(create_api(e)) as http:
        yield World(e, http, self_id, other_id, itertools.count(1))
    e.close()


def _token(role: Role, **scope: str) -> dict[str, str]:
    token = issue_token(Principal(subject=f"{role.value}-tester", role=role, **scope))
    return {"Authorization": f"Bearer {token}"}


CALLERS: dict[str, dict[str, str]] = {
    "system": _token(Role.SYSTEM),
    "admin falun": _token(Role.MUNICIPAL_ADMIN, municipality_id="falun"),
    "admin nykoping": _token(Role.MUNICIPAL_ADMIN, municipality_id="nykoping"),
    "coordinator dalarna": _token(Role.REGIONAL_COORDINATOR, region_id="rss-dalarna"),
    "coordinator sormland": _token(Role.REGIONAL_COORDINATOR, region_id="region-sormland"),
    "participant self": _token(Role.PARTICIPANT, participant_id="p-anna"),
    "participant other": _token(Role.PARTICIPANT, participant_id="p-bo"),
    "trainer": _token(Role.TRAINER, trainer_id="t-1", municipality_id="falun"),
    "national analyst": _token(Role.NATIONAL_ANALYST),
}
EVERYONE = frozenset(CALLERS)

# A call gets the world, the caller's headers, a number for unique ids and a fresh participant
# in falun (created before the events are counted).
Call = Callable[[World, dict[str, str], int, str], httpx.Response]


def _csv(text: str) -> dict[str, Any]:
    return {"file": ("file.csv", text.encode(), "text/csv")}


# (endpoint, the call, who may make it: every endpoint is aimed at falun / rss-dalarna)
MATRIX: list[tuple[str, Call, frozenset[str]]] = [
    ("POST /regions", lambda w, h, n, fresh: w.http.post(
        "/regions", headers=h, json={"region_id": f"r-{n}", "name": f"Region {n}"}),
     frozenset({"system"})),
    ("POST /regions/import", lambda w, h, n, fresh: w.http.post(
        "/regions/import", headers=h, files=_csv(f"region_id,name\nri-{n},Region {n}\n")),
     frozenset({"system"})),
    ("GET /regions", lambda w, h, n, fresh: w.http.get("/regions", headers=h), EVERYONE),
    ("POST /municipalities", lambda w, h, n, fresh: w.http.post(
        "/municipalities", headers=h,
        json={"municipality_id": f"k-{n}", "name": f"Kommun {n}", "region_id": "rss-dalarna"}),
     frozenset({"system", "coordinator dalarna"})),
    ("POST /municipalities/import", lambda w, h, n, fresh: w.http.post(
        "/municipalities/import", headers=h,
        files=_csv(f"municipality_id,name,region_id\nki-{n},Kommun {n},rss-dalarna\n")),
     frozenset({"system", "coordinator dalarna"})),
    ("GET /municipalities", lambda w, h, n, fresh: w.http.get("/municipalities", headers=h),
     EVERYONE),
    ("POST /courses", lambda w, h, n, fresh: w.http.post(
        "/courses", headers=h, json=COURSE | {"course_id": f"c-{n}"}), frozenset({"system"})),
    ("GET /courses", lambda w, h, n, fresh: w.http.get("/courses", headers=h), EVERYONE),
    ("POST /participants", lambda w, h, n, fresh: w.http.post(
        "/participants", headers=h,
        json={"municipality_id": "falun", "name": f"Person {n}", "role": "socialsekreterare",
              "email": f"person{n}@falun.example.se", "years_in_profession": 1}),
     frozenset({"system", "admin falun"})),
    ("POST /participants/import", lambda w, h, n, fresh: w.http.post(
        "/participants/import", headers=h, data={"municipality_id": "falun"},
        files=_csv("name,email,role,years_in_profession\n"
                   f"Person {n},import{n}@falun.example.se,socialsekreterare,1\n")),
     frozenset({"system", "admin falun"})),
    ("GET /participants", lambda w, h, n, fresh: w.http.get(
        "/participants", headers=h, params={"municipality_id": "falun"}),
     frozenset({"system", "admin falun", "coordinator dalarna"})),
    ("GET /participants/{id}", lambda w, h, n, fresh: w.http.get(
        f"/participants/{w.self_id}", headers=h),
     frozenset({"system", "admin falun", "participant self"})),
    ("POST /participants/{id}/move", lambda w, h, n, fresh: w.http.post(
        f"/participants/{fresh}/move", headers=h, json={"to_municipality_id": "mora"}),
     frozenset({"system", "admin falun"})),
    ("POST /participants/{id}/level-up", lambda w, h, n, fresh: w.http.post(
        f"/participants/{fresh}/level-up", headers=h, json={}),
     frozenset({"system", "admin falun"})),
    ("POST /participants/{id}/preparations", lambda w, h, n, fresh: w.http.post(
        f"/participants/{w.self_id}/preparations", headers=h,
        json={"course_id": "bou-ny-samtal", "item_id": "sod-f1"}),
     frozenset({"system", "participant self"})),
    ("POST /participants/{id}/deepening", lambda w, h, n, fresh: w.http.post(
        f"/participants/{w.self_id}/deepening", headers=h,
        json={"course_id": "bou-ny-samtal", "task_id": "sod-d1"}),
     frozenset({"system", "participant self"})),
    ("DELETE /participants/{id}", lambda w, h, n, fresh: w.http.delete(
        f"/participants/{fresh}", headers=h),
     frozenset({"system", "admin falun"})),
]


def test_every_role_against_every_endpoint(world: World) -> None:
    """Inside its scope a role succeeds; outside it gets 403 and nothing is recorded."""
    seen = []
    for (endpoint, call, allowed), (caller, headers) in itertools.product(MATRIX,
                                                                          CALLERS.items()):
        fresh = world.fresh()
        before = world.events()
        response = call(world, headers, next(world.counter), fresh)
        outcome = (endpoint, caller, response.status_code)
        seen.append(outcome)
        if caller in allowed:
            assert response.status_code in (200, 201), (outcome, response.json())
        else:
            assert response.status_code == 403, (outcome, response.json())
            assert world.events() == before, f"{outcome} recorded events"
    assert len(seen) == len(MATRIX) * len(CALLERS)


def test_a_coordinator_token_without_a_region_imports_nothing(world: World) -> None:
    events = world.events()
    r = world.http.post("/municipalities/import", headers=_token(Role.REGIONAL_COORDINATOR),
                        files=_csv("municipality_id,name,region_id\nx,X,rss-dalarna\n"))
    assert r.status_code == 403
    assert world.events() == events


def test_no_token_or_a_forged_one_is_401(world: World) -> None:
    assert world.http.get("/regions").status_code == 401
    forged = issue_token(Principal(subject="x", role=Role.SYSTEM), secret="not-the-secret-" * 3)
    r = world.http.get("/regions", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_validation_errors_are_422_naming_the_field(world: World) -> None:
    events = world.events()
    admin = CALLERS["admin falun"]
    r = world.http.post("/participants", headers=admin, json={
        "municipality_id": "falun", "name": "X", "email": "not-an-address",
        "role": "socialsekreterare", "years_in_profession": 1})
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["reason"]) == ("email", "ogiltig e-postadress")
    r = world.http.post("/participants", headers=admin, json={
        "municipality_id": "falun", "name": "X", "email": "x@falun.example.se",
        "role": "socialsekreterare", "years_in_profession": -2})
    assert (r.status_code, r.json()["field"]) == (422, "years_in_profession")
    r = world.http.post(f"/participants/{world.self_id}/preparations",
                        headers=CALLERS["participant self"],
                        json={"course_id": "bou-ny-samtal", "item_id": "no-such-item"})
    assert (r.status_code, r.json()["field"]) == (422, "item_id")
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    r = world.http.post(f"/participants/{world.self_id}/level-up", headers=admin,
                        json={"as_of": future})
    assert (r.status_code, r.json()["field"]) == (422, "as_of")
    assert world.events() == events


def test_unknown_ids_are_404(world: World) -> None:
    events = world.events()
    system = CALLERS["system"]
    assert world.http.get("/participants/nobody", headers=system).status_code == 404
    r = world.http.post(f"/participants/{world.self_id}/move", headers=system,
                        json={"to_municipality_id": "atlantis"})
    assert (r.status_code, r.json()["field"]) == (404, "to_municipality_id")
    r = world.http.post(f"/participants/{world.self_id}/preparations", headers=system,
                        json={"course_id": "no-such-course", "item_id": "x"})
    assert (r.status_code, r.json()["field"]) == (404, "course_id")
    r = world.http.post("/participants", headers=system, json={
        "municipality_id": "atlantis", "name": "X", "email": "x@atlantis.example.se",
        "role": "socialsekreterare", "years_in_profession": 1})
    assert r.status_code == 404
    r = world.http.get("/participants", headers=system, params={"municipality_id": "atlantis"})
    assert r.status_code == 404
    assert world.events() == events


def test_conflicts_are_409(world: World) -> None:
    events = world.events()
    r = world.http.post("/participants", headers=CALLERS["system"], json={
        "municipality_id": "mora", "name": "Anna igen", "email": "ANNA@falun.example.se",
        "role": "socialsekreterare", "years_in_profession": 1})
    assert (r.status_code, r.json()["field"]) == (409, "email")
    r = world.http.post("/regions", headers=CALLERS["system"],
                        json={"region_id": "rss-dalarna", "name": "Igen"})
    assert r.status_code == 409
    r = world.http.post(f"/participants/{world.self_id}/move", headers=CALLERS["system"],
                        json={"to_municipality_id": "falun"})
    assert r.status_code == 409
    assert world.events() == events


def test_csv_upload_all_or_nothing_then_idempotent(world: World) -> None:
    admin = CALLERS["admin falun"]
    bad = ("name,email,role,years_in_profession\nCe,ce@falun.example.se,socialsekreterare,1\n"
           ",bad,socialsekreterare,x\nDi,anna@falun.example.se,socialsekreterare,1\n")
    events = world.events()
    r = world.http.post("/participants/import", headers=admin, data={"municipality_id": "falun"},
                        files=_csv(bad))
    assert r.status_code == 422
    assert [e["message"] for e in r.json()["errors"]] == [
        "rad 3: email: ogiltig e-postadress", "rad 3: name: får inte vara tomt",
        "rad 3: years_in_profession: måste vara ett tal",
        "rad 4: email: e-postadressen används redan av ett annat konto"]
    assert world.events() == events
    good = ("name;email;role;area_of_work;years_in_profession\n"
            "Ce;ce@falun.example.se;socialsekreterare;utredning;1\n"
            "Anna Andersson;anna@falun.example.se;socialsekreterare;;1\n")
    r = world.http.post("/participants/import", headers=admin, data={"municipality_id": "falun"},
                        files=_csv(good))
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["imported"], body["skipped"]) == (1, 1)
    assert [row["status"] for row in body["rows"]] == ["imported", "already_there"]
    r = world.http.post("/participants/import", headers=admin, data={"municipality_id": "falun"},
                        files=_csv(good))
    assert (r.json()["imported"], r.json()["skipped"]) == (0, 2)


def test_move_hands_the_account_to_the_new_municipality(world: World) -> None:
    pid = world.fresh()
    system, falun = CALLERS["system"], CALLERS["admin falun"]
    mora = _token(Role.MUNICIPAL_ADMIN, municipality_id="mora")
    r = world.http.post(f"/participants/{pid}/move", headers=falun,
                        json={"to_municipality_id": "mora"})
    assert r.status_code == 200
    assert world.http.get(f"/participants/{pid}", headers=falun).status_code == 403
    account = world.http.get(f"/participants/{pid}", headers=mora).json()
    assert account["participant_id"] == pid and account["municipality_id"] == "mora"
    assert [m["municipality_id"] for m in account["municipalities"]] == ["falun", "mora"]
    listed = world.http.get("/participants", headers=system, params={"municipality_id": "mora"})
    assert pid in [p["participant_id"] for p in listed.json()["participants"]]


def test_erasure_through_the_api(world: World) -> None:
    pid = world.fresh()
    admin = CALLERS["admin falun"]
    before = world.http.get(f"/participants/{pid}", headers=admin).json()
    assert before["name"].startswith("Ny Person") and before["erased"] is False
    r = world.http.delete(f"/participants/{pid}", headers=admin)
    assert r.status_code == 200 and r.json()["recorded"] is True
    after = world.http.get(f"/participants/{pid}", headers=admin).json()
    assert after["erased"] is True
    assert (after["name"], after["email"], after["area_of_work"]) == (None, None, None)
    assert after["level"] == before["level"] and after["registered_at"] == before["registered_at"]
    # The address is free again.
    r = world.http.post("/participants", headers=admin, json={
        "municipality_id": "falun", "name": "Återkommen", "email": before["email"],
        "role": "socialsekreterare", "years_in_profession": 1})
    assert r.status_code == 201 and r.json()["participant_id"] != pid


def test_a_coordinator_lists_without_personal_data(world: World) -> None:
    coordinator = CALLERS["coordinator dalarna"]
    listed = world.http.get("/participants", headers=coordinator,
                            params={"municipality_id": "falun"}).json()["participants"]
    assert [p["participant_id"] for p in listed] == [world.self_id]
    assert "name" not in listed[0] and "email" not in listed[0]
    admin = world.http.get("/participants", headers=CALLERS["admin falun"],
                           params={"municipality_id": "falun"}).json()["participants"]
    assert admin[0]["name"] == "Anna Andersson"


def test_the_openapi_document_lists_every_endpoint(world: World) -> None:
    paths = world.http.get("/openapi.json").json()["paths"]
    for endpoint, _, _ in MATRIX:
        method, path = endpoint.split(" ")
        path = path.replace("{id}", "{participant_id}")
        assert method.lower() in paths[path], endpoint
